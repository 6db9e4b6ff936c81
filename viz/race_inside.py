"""Inside the optimizer: what each racer's update rule does, step by step.

:func:`inside_figure` stacks small panels that share the step axis, one line per racer in its
race colour (``viz.common.color(i)``), from ``EntryResult.state`` (``run_race(...,
record_state=True)``):

* effective step size ``‖Δθ_t‖ / ‖g_{t-1}‖`` (log): constant ``lr`` for plain SGD; shrinking
  forever for Adagrad (``lr/√Σg²``); RMSProp/Adam rescale it as the gradient changes;
* update norm ``‖Δθ_t‖`` (log);
* ``cos∠(Δθ_t, −∇f)``: 1 = straight downhill, 0 = sideways, < 0 = uphill (momentum overshoot);
* the optimizer's state: momentum buffer norm ``‖b_t‖`` / ``‖m_t‖`` and the mean
  second-moment estimate (``v_t``, or Adagrad's sum ``s_t``), log scale.

A vertical line marks ``step`` (the page's shared time cursor: the map opens on the same step).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.common import HOVER_NUM, base_layout, color, empty_figure

PANELS = (
    ("effective_lr", "effective step ‖Δθ‖/‖g‖", True),
    ("update_norm", "update norm ‖Δθ‖", True),
    ("cos_descent", "cos∠(Δθ, −∇f)", False),
    ("momentum_norm", "momentum buffer ‖b‖", True),
    ("second_moment", "second moment (mean v or Σg²)", True),
)
"""(state key, panel title, log y) in display order."""

MAX_POINTS = 1000


def inside_figure(result, step: int | None = None, height_per_panel: int = 170) -> go.Figure:
    """Panels of :data:`PANELS` that at least one racer has, sharing the step axis.

    Values that are 0 (no update yet, or a diverged racer's frozen steps) are gaps on the log
    panels; a racer without the state (e.g. SGD has no second moment) is simply absent there.
    """
    entries = [e for e in result.entries if e.state is not None]
    if not entries:
        return empty_figure("Run a race to look inside the optimizers.", "Inside the optimizer")
    panels = [p for p in PANELS if any(p[0] in e.state for e in entries)]
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=[title for _, title, _ in panels],
    )
    steps = int(result.steps)
    idx = np.unique(np.linspace(1, max(steps, 1), min(MAX_POINTS, max(steps, 1))).astype(int))
    for row, (key, title, log) in enumerate(panels, start=1):
        for i, e in enumerate(result.entries):
            if e.state is None or key not in e.state:
                continue
            y = np.asarray(e.state[key], dtype=float)[idx]
            if log:
                y = np.where(y > 0, y, np.nan)
            fig.add_trace(
                go.Scatter(
                    x=idx,
                    y=[float(v) if np.isfinite(v) else None for v in y],
                    mode="lines",
                    name=e.label,
                    legendgroup=e.label,
                    showlegend=row == 1,
                    line={"color": color(i), "width": 1.8},
                    hovertemplate=f"<b>{e.label}</b><br>step %{{x}}<br>{title} = "
                    f"%{{y:{HOVER_NUM}}}<extra></extra>",
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(
            type="log" if log else "linear",
            exponentformat="power",
            title_text="log scale" if log else "",
            range=None if log else [-1.05, 1.05],
            row=row,
            col=1,
        )
    if step is not None:
        fig.add_vline(x=int(step), line={"color": "#D55E00", "width": 2, "dash": "dot"})
    fig.update_xaxes(title_text="step", row=len(panels), col=1)
    fig.update_layout(
        **base_layout(
            "Inside the optimizer: what each update rule does per step"
            + (f" (cursor at step {int(step)})" if step is not None else ""),
            height=height_per_panel * len(panels) + 120,
            margin={"l": 70, "r": 20, "t": 110, "b": 50},
        )
    )
    return fig

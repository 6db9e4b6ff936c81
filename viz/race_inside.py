"""Inside the optimizer: what each racer's update rule does, step by step.

:func:`inside_figure` stacks small panels that share the step axis, one line per racer in its
race colour (``viz.common.color(i)``), from ``EntryResult.state`` (``run_race(...,
record_state=True)``):

* per-coordinate learning rate ``lr/(√state + ε)`` (log; x solid, y dotted) for the adaptive
  optimizers: Adagrad's only shrinks (its state is the running SUM of g²); RMSProp's and
  Adam's follow a moving average, so they rise again when recent gradients get smaller;
* effective step size ``‖Δθ_t‖ / ‖g_{t-1}‖`` (log): constant ``lr`` for plain SGD; for the
  others it mixes the per-coordinate rates with momentum and the gradient's direction, so it
  can rise even for Adagrad;
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

from viz.common import HOVER_NUM, base_layout, color, compact_floats, empty_figure, fmt

PANELS = (
    ("coordinate_lr", "per-coordinate learning rate lr/(√v+ε): x solid, y dotted", True),
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
    shown_in_legend: set[str] = set()
    for row, (key, title, log) in enumerate(panels, start=1):
        for i, e in enumerate(result.entries):
            if e.state is None or key not in e.state:
                continue
            for name, y, dash in _series(e, key, idx):
                fig.add_trace(
                    go.Scatter(
                        x=idx,
                        y=compact_floats(y),
                        mode="lines",
                        name=e.label,
                        legendgroup=e.label,
                        showlegend=e.label not in shown_in_legend,
                        line={"color": color(i), "width": 1.8, "dash": dash},
                        hovertemplate=f"<b>{e.label}</b>{name}<br>step %{{x}}<br>"
                        f"{title.split(':')[0]} = %{{y:{HOVER_NUM}}}<extra></extra>",
                    ),
                    row=row,
                    col=1,
                )
                shown_in_legend.add(e.label)
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


def _series(e, key: str, idx: np.ndarray):
    """``(hover suffix, y values, dash)`` per line of racer ``e`` on panel ``key``: two lines
    (x, y) for the per-coordinate rate, one otherwise. Values <= 0 (no step yet, or a stopped
    racer's frozen steps) become gaps on the log panels."""
    arr = np.asarray(e.state[key], dtype=float)[idx]
    if key == "coordinate_lr":
        lines = [(" (x)", arr[..., 0], "solid"), (" (y)", arr[..., 1], "dot")]
    else:
        lines = [("", arr, "solid")]
    return [(name, np.where(y > 0, y, np.nan), dash) for name, y, dash in lines]


def coordinate_lr_series(e) -> np.ndarray | None:
    """Racer ``e``'s per-coordinate rate over the steps it actually took, ``(k, 2)`` (steps
    1..T, cut at a divergence), or ``None`` without one: what the chart and the caption use."""
    if e.state is None or "coordinate_lr" not in e.state:
        return None
    arr = np.asarray(e.state["coordinate_lr"], dtype=float)[1:]
    div = int(np.asarray(e.diverged_at).reshape(-1)[0])
    return arr[: div - 1] if div >= 1 else arr


def only_shrinks(series: np.ndarray) -> bool:
    """Whether every coordinate's rate is non-increasing from step to step (rounding aside)."""
    if series is None or len(series) < 2:
        return False
    return bool(np.all(np.diff(series, axis=0) <= 1e-12 * np.abs(series[:-1])))


def rises(series: np.ndarray) -> bool:
    """Whether some coordinate's rate climbs more than 1% above its lowest value so far."""
    if series is None or len(series) < 2:
        return False
    return bool(np.any(series > 1.01 * np.minimum.accumulate(series, axis=0)))


def inside_caption(result) -> str:
    """What the "Inside the optimizer" charts show for THIS race, checked against its numbers.

    Each adaptive racer gets a sentence about its per-coordinate rate: "only shrinks" when the
    plotted series is non-increasing for both coordinates, "rises again" when it climbs more
    than 1% above its lowest value so far, otherwise only the start and end values."""
    parts = [
        "The dotted vertical line is the step shown on the map (the slider under it).",
    ]
    for e in result.entries:
        series = coordinate_lr_series(e)
        if series is None or len(series) < 2:
            continue
        lo, hi = series[-1], series[0]
        span = f"x {fmt(hi[0])} → {fmt(lo[0])}, y {fmt(hi[1])} → {fmt(lo[1])}"
        if e.optimizer == "adagrad" and only_shrinks(series):
            parts.append(
                f"{e.label}'s per-coordinate rate only shrinks ({span}): it divides by the "
                "running sum of g², which only grows."
            )
        elif only_shrinks(series):
            parts.append(f"{e.label}'s per-coordinate rate only shrank in this race ({span}).")
        elif rises(series):
            parts.append(
                f"{e.label}'s per-coordinate rate rises again when recent gradients get "
                f"smaller ({span}): it divides by a moving average of g², not a sum."
            )
        else:
            parts.append(f"{e.label}'s per-coordinate rate: {span}.")
    if any(e.state is not None and "effective_lr" in e.state for e in result.entries):
        parts.append(
            "The effective step ‖Δθ‖/‖g‖ also carries momentum and the gradient's direction, "
            "so it can rise even when every per-coordinate rate shrinks."
        )
    return " ".join(parts)

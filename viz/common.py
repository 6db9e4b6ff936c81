"""Shared look for every page's figures: palette, number formatting, layout defaults.

One colour per entry/variant everywhere on a page: ``color(i)`` indexes the Okabe-Ito palette
(colour-blind safe; black replaced by a grey that reads on light and dark backgrounds).
Numbers for people: :func:`fmt` gives 3 significant digits, ``1.2e-05`` rather than
``0.000012``; hover templates use the matching d3 format ``HOVER_NUM``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Order chosen so the first five differ most in lightness as well as hue.
PALETTE = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#999999",  # grey (instead of black: visible in the dark theme)
)

HOVER_NUM = ".3~g"  # d3-format: 3 significant digits, trailing zeros trimmed
MARKER_DIVERGED = "x-thin-open"
MARKER_START = "circle"
MARKER_MIN = "star"
CLICK_MARKER = {"size": 9, "opacity": 0, "color": "#888888", "maxdisplayed": 1}
"""Markers of an invisible grid that takes clicks and hovers (``st.plotly_chart`` selects
points only, not heatmap cells or image pixels). Plotly finds the hovered or clicked point from
the data, not from the SVG, so ``maxdisplayed: 1`` draws one node instead of one per point:
a 40x40 grid was 1,600 of the race map's 2,100 SVG nodes and about half of its redraw time
in Chromium."""


class AnimatedFigure(go.Figure):
    """A ``go.Figure`` whose animation frames stay the plain dicts they were built as.

    Plotly validates every frame trace when a figure takes its frames, even with
    ``_validate=False`` (0.14-0.24 s for the race map's 100 frames, each time a race changes);
    the race figures build their frames as plain dicts of known-good keys, so they are kept
    as given: :meth:`to_dict` (what ``st.plotly_chart`` and ``to_json`` serialize) includes
    them as they are, and :attr:`frames` builds (validated) ``go.Frame`` objects only for
    code that inspects them (tests)."""

    def __init__(self, data, layout, frames: list[dict]):
        super().__init__(data=data, layout=layout, _validate=False)
        self._plain_frames = list(frames)

    @property
    def frames(self) -> tuple[go.Frame, ...]:
        return tuple(go.Frame(f) for f in self._plain_frames)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["frames"] = copy.deepcopy(self._plain_frames)
        return out

    def __reduce__(self):  # pickle and deepcopy (e.g. a cache that copies) keep the class
        out = self.to_dict()
        return AnimatedFigure, (out["data"], out["layout"], out["frames"])


def compact_floats(values) -> np.ndarray:
    """A chart's numbers for the JSON: float32 (7 significant digits, half the bytes of
    float64 in Plotly's base64 arrays) when every finite value survives the cast; float64
    otherwise (a diverging racer's 1e150, or a value below float32's normal range). NaN stays
    NaN: a gap in the line."""
    a = np.asarray(values, dtype=np.float64)
    mag = np.abs(a[np.isfinite(a) & (a != 0)])
    fits = mag.size == 0 or (mag.min() >= 1e-37 and mag.max() <= 1e37)
    return a.astype(np.float32) if fits else a


def color(i: int) -> str:
    """The colour of entry ``i`` (cycles after ``len(PALETTE)``)."""
    return PALETTE[i % len(PALETTE)]


def fmt(x: Any, digits: int = 3) -> str:
    """A number for people: ``digits`` significant digits, scientific when tiny or huge.

    >>> fmt(0.000012345), fmt(1234.5), fmt(2), fmt(float("nan"))
    ('1.23e-05', '1.23e+03', '2', 'nan')
    """
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 10**digits:
        return str(int(value))
    return f"{value:.{digits}g}"


def base_layout(title: str, **kw: Any) -> dict[str, Any]:
    """Layout defaults every figure shares: title, compact margins, legend on top, hover.

    Colours of paper/plot background and fonts are left to Streamlit's theme so the figure
    works in light and dark mode.
    """
    layout: dict[str, Any] = {
        "title": {
            "text": title,
            "x": 0.0,
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 12},
        },
        "margin": {"l": 60, "r": 20, "t": 90, "b": 50},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "xanchor": "left",
            "x": 0.0,
        },
        "hovermode": "closest",
    }
    layout.update(kw)
    return layout


def plain_figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure from plain trace dicts (each with its ``"type"``) and a layout dict, taken as
    they are: Plotly checks no property.

    Validation is most of the cost of building a small chart (``go.Scatter(...)`` and
    ``update_layout`` check every key and value): the lab's loss figure (8 traces, 201 epochs)
    took 13.5 ms validated and 1.0 ms from dicts. Figures a page rebuilds on every live poll
    are built this way; their tests check that the result validates unchanged.
    """
    return go.Figure(data=data, layout=layout, _validate=False)


def empty_figure(message: str, title: str = "") -> go.Figure:
    """A blank figure that says what to do instead of an empty chart."""
    fig = go.Figure()
    fig.update_layout(**base_layout(title))
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig

"""Figures and tables of the Regularization lab: pure ``(engine results, options) -> figure``.

One colour per variant (``viz.common.color(i)``) in every chart of the page. Histograms use
the ONE shared binning (engine.diagnostics via engine.reg_lab); exact zeros are drawn as
their own hatched spike at w = 0 and labelled, so L1's pile of zeros cannot be mistaken for
"many small weights".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine import reg_lab as rl
from engine.history import History
from engine.reg_geometry import CoefPaths, TwoWeightProblem, l1_optimum, l2_optimum
from viz.common import (
    HOVER_NUM,
    MARKER_DIVERGED,
    AnimatedFigure,
    base_layout,
    color,
    empty_figure,
    fmt,
    plain_figure,
)

MAX_FRAMES = 40  # animation frames of the histogram (snapshots are subsampled beyond)


# ------------------------------------------------------------------------------ histograms
def _hist_values(hset: rl.HistogramSet) -> list[tuple[np.ndarray, int, int]]:
    """Per run: (counts without the exact zeros, exact zeros, total counted)."""
    out = []
    for h in hset.hists:
        if h is None:
            out.append((np.zeros(len(hset.bins.edges) - 1), 0, 0))
            continue
        counts = h.counts.astype(float)
        if h.zero_bin is not None:
            counts[h.zero_bin] -= h.zeros
        out.append((counts, h.zeros, int(h.counts.sum())))
    return out


def _spike_text(zeros: int, total: int) -> str:
    return f"{zeros / total:.0%} = 0" if zeros and total else ""


def _hist_traces(
    hset: rl.HistogramSet, labels: Sequence[str], index: Sequence[int] | None = None
) -> list[dict]:
    """Two bar traces per run, as plain dicts: counts without exact zeros, and the exact-zero
    spike. ``index``: each run's variant number (its colour), default 0, 1, ..."""
    edges = hset.bins.edges
    centers, widths = 0.5 * (edges[:-1] + edges[1:]), np.diff(edges)
    spike_w = float(widths[0]) * 0.6
    traces = []
    index = range(len(labels)) if index is None else index
    for i, (counts, zeros, total), label in zip(index, _hist_values(hset), labels, strict=True):
        traces.append(
            {
                "type": "bar",
                "x": centers,
                "y": counts,
                "width": widths,
                "name": label,
                "legendgroup": str(i),
                "marker": {"color": color(i), "line": {"width": 0}},
                "opacity": 0.55,
                "customdata": np.stack([edges[:-1], edges[1:]], axis=1),
                "hovertemplate": f"{label}<br>w in [%{{customdata[0]:{HOVER_NUM}}}, "
                f"%{{customdata[1]:{HOVER_NUM}}})<br>count %{{y}}<extra></extra>",
            }
        )
        traces.append(
            {
                "type": "bar",
                "x": [0.0],
                "y": [zeros],
                "width": [spike_w],
                "name": f"{label}: exactly 0",
                "legendgroup": str(i),
                "showlegend": False,
                "marker": {"color": color(i), "pattern": {"shape": "/", "solidity": 0.4}},
                "opacity": 0.9,
                "text": [_spike_text(zeros, total)],
                "textposition": "outside",
                "cliponaxis": False,
                "hovertemplate": f"{label}<br>exactly 0: %{{y:,}} weights (%{{text}})"
                "<extra></extra>",
            }
        )
    return traces


def _spike_labels(
    hset: rl.HistogramSet, labels: Sequence[str], index: Sequence[int] | None = None
) -> list[dict]:
    """One annotation per run with exact zeros, stacked above the spike at w = 0."""
    notes = []
    index = range(len(labels)) if index is None else index
    for i, (_, zeros, total), label in zip(index, _hist_values(hset), labels, strict=True):
        if zeros:
            notes.append(
                {
                    "x": 0.0,
                    "xref": "x",
                    "y": 0.98 - 0.07 * len(notes),
                    "yref": "paper",
                    "text": f"<b>{label}: {zeros / total:.0%} exactly 0</b>",
                    "showarrow": False,
                    "xanchor": "left",
                    "xshift": 8,
                    "font": {"color": color(i), "size": 13},
                    "bgcolor": "rgba(128,128,128,0.12)",
                }
            )
    return notes


def _frame(hset: rl.HistogramSet, epoch: int, labels: Sequence[str], index: Sequence[int]) -> dict:
    """An animation frame as a plain dict: only the bars' heights and the zero labels change
    (the rest is merged from the figure's traces), which keeps the JSON small."""
    data = []
    for counts, zeros, total in _hist_values(hset):
        data.append({"type": "bar", "y": counts.tolist()})
        data.append({"type": "bar", "y": [zeros], "customdata": [_spike_text(zeros, total)]})
    return {
        "name": str(epoch),
        "data": data,
        "layout": {"annotations": _spike_labels(hset, labels, index)},
    }


def histogram_figure(
    histories: Sequence[History],
    labels: Sequence[str],
    layer: int | None,
    epoch: int,
    log_count: bool = False,
    layer_name: str = "",
    animate: bool = True,
    shown: Sequence[int | None] | None = None,
) -> go.Figure:
    """Overlaid weight histograms of every variant at ``epoch``, on shared bins, with a play
    button and slider over the snapshot epochs (≤ :data:`MAX_FRAMES` frames).

    ``animate=False`` draws the one epoch only (no frames, no play button or slider; a note
    holds their place so the chart keeps its size): the light version a live page redraws
    on every poll while training runs (a third of the build time and a quarter of the JSON
    of the animated one: ``python -m bench.regularization``).
    ``shown``: the epoch each variant shows before Play (e.g. an early-stopped variant's
    restored epoch, :func:`engine.reg_lab.shown_epoch`); default: ``epoch`` for all.
    A variant that diverged or exploded is left out of the shared bins and of this chart
    (its weights would stretch the range until the others fall into one bin): draw it with
    :func:`blown_histogram_figure`. Colours stay each variant's own.
    """
    histories = list(histories)
    index = [i for i, h in enumerate(histories) if not rl.blown_up(h)] or list(
        range(len(histories))
    )
    histories = [histories[i] for i in index]
    labels = [labels[i] for i in index]
    shown = None if shown is None else [shown[i] for i in index]
    # every snapshot epoch of any run: a run that stopped early stays at its last snapshot
    epochs = sorted({e for h in histories for e in h.snapshots})
    if not epochs:
        return empty_figure("No weight snapshot yet.", "Weight histogram")
    if animate and len(epochs) > MAX_FRAMES:
        keep = np.unique(np.linspace(0, len(epochs) - 1, MAX_FRAMES).round().astype(int))
        epochs = [epochs[i] for i in keep]
    at = min(epochs, key=lambda e: (abs(e - epoch), -e))
    bins = rl.histogram_bins(histories, layer)
    if not animate:
        epochs = [at]
    sets = {e: rl.weight_histograms(histories, e, layer, bins) for e in epochs}
    first = sets[at] if shown is None else rl.weight_histograms(histories, at, layer, bins, shown)
    ymax = max(
        max((int(h.counts.max()) for h in s.hists if h is not None), default=1)
        for s in (*sets.values(), first)
    )
    yaxis = {"title": {"text": "count (log scale)" if log_count else "count"}}
    if log_count:
        yaxis.update(type="log", range=[-0.1, np.log10(max(ymax, 1)) + 0.35], dtick=1)
    else:
        yaxis.update(range=[0, ymax * 1.12])
    what = layer_name or ("all layers" if layer is None else f"layer {layer + 1}")
    layout = base_layout(
        f"Weights of {what}: all variants on shared bins",
        barmode="overlay",
        bargap=0,
        xaxis={"title": {"text": "weight value w"}},
        yaxis=yaxis,
        height=440,
        meta={"note": bins.note + " Hatched spike at 0: the weights that are exactly 0."},
    )
    layout["margin"].update(l=140, t=72, b=120)
    traces, notes = _hist_traces(first, labels, index), _spike_labels(first, labels, index)
    if animate:  # frames stay plain dicts: Plotly would validate every frame's bars
        layout.update(_player(epochs, at))
        if notes:
            layout["annotations"] = notes
        frames = [_frame(sets[e], e, labels, index) for e in epochs]
        return AnimatedFigure(traces, layout, frames)
    notes.append(
        {
            "text": f"epoch {at} (live) · ▶ Play and the epoch slider appear when training ends",
            "x": 0.0,
            "y": 0.0,
            "xref": "paper",
            "yref": "paper",
            "yshift": -80,
            "xanchor": "left",
            "yanchor": "top",
            "showarrow": False,
            "font": {"size": 13},
        }
    )
    layout["annotations"] = notes
    return plain_figure(traces, layout)


def blown_histogram_figure(
    history: History, label: str, index: int, layer: int | None, layer_name: str = ""
) -> go.Figure:
    """The weights of a variant that diverged or exploded, at its last snapshot, on bins of
    its own (left out of the shared chart: see :func:`histogram_figure`)."""
    epochs = sorted(history.snapshots)
    if not epochs:
        return empty_figure("No weight snapshot yet.", f"Weights of {label}")
    e = epochs[-1]
    bins = rl.histogram_bins([history], layer, epochs=[e])
    hset = rl.weight_histograms([history], e, layer, bins)
    what = layer_name or ("all layers" if layer is None else f"layer {layer + 1}")
    fig = go.Figure(_hist_traces(hset, [f"{label} (epoch {e})"], [index]))
    fig.update_layout(
        **base_layout(f"{label} blew up: its weights of {what} at epoch {e}, on their own bins"),
        barmode="overlay",
        bargap=0,
        xaxis={"title": "weight value w", "exponentformat": "e"},
        yaxis={"title": "count"},
        height=300,
        meta={"note": bins.note},
    )
    return fig


def _player(epochs: Sequence[int], shown: int) -> dict:
    """Layout for the histogram's ▶ Play / pause buttons and epoch slider (one step a frame)."""
    frame_args = {"frame": {"duration": 250, "redraw": True}, "transition": {"duration": 0}}
    return {
        "updatemenus": [
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.0,
                "y": 0.0,
                "xanchor": "right",
                "yanchor": "top",
                "pad": {"r": 10, "t": 62},
                "direction": "left",
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [None, {**frame_args, "fromcurrent": True}],
                    },
                    {
                        "label": "❚❚",
                        "method": "animate",
                        "args": [[None], {**frame_args, "mode": "immediate"}],
                    },
                ],
            }
        ],
        "sliders": [
            {
                "active": list(epochs).index(shown),
                "x": 0.0,
                "len": 1.0,
                "y": 0.0,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"t": 42, "b": 10},
                "currentvalue": {"prefix": "epoch ", "xanchor": "right"},
                "steps": [
                    {
                        "label": str(e),
                        "method": "animate",
                        "args": [[str(e)], {**frame_args, "mode": "immediate"}],
                    }
                    for e in epochs
                ],
            }
        ],
    }


# ------------------------------------------------------------------------------ loss curves
def loss_figure(
    histories: Sequence[History], labels: Sequence[str], log: bool = False
) -> go.Figure:
    """Train (dashed) and validation (solid) data loss per epoch (linear, or log with ``log``);
    ★ marks the best validation epoch of an early-stopped run, ✗ a diverged run's end.
    Rebuilt on every live poll of a training run, so built from plain dicts
    (:func:`viz.common.plain_figure`)."""
    traces = []
    for i, (h, label) in enumerate(zip(histories, labels, strict=True)):
        c = color(i)
        for y, kind, dash in ((h.train_loss, "train", "dash"), (h.val_loss, "validation", None)):
            line = (
                {"color": c, "width": 2}
                if dash is None
                else {"color": c, "dash": dash, "width": 1.5}
            )
            traces.append(
                {
                    "type": "scatter",
                    "x": h.epochs,
                    "y": np.maximum(y, 1e-12),
                    "mode": "lines",
                    "name": f"{label} ({kind})",
                    "legendgroup": str(i),
                    "line": line,
                    "hovertemplate": f"{label}<br>{kind} loss %{{y:{HOVER_NUM}}} at epoch %{{x}}"
                    "<extra></extra>",
                }
            )
        if h.best_epoch is not None and (h.stopped_early or h.restored_epoch is not None):
            traces.append(
                {
                    "type": "scatter",
                    "x": [h.best_epoch],
                    "y": [max(h.best_val_loss, 1e-12)],
                    "mode": "markers",
                    "name": f"{label}: early-stopping best epoch",
                    "legendgroup": str(i),
                    "showlegend": False,
                    "marker": {"symbol": "star", "size": 15, "color": c, "line": {"width": 1}},
                    "hovertemplate": f"{label}<br>best epoch {h.best_epoch} (weights restored)"
                    f"<br>validation loss %{{y:{HOVER_NUM}}}<extra></extra>",
                }
            )
        if h.diverged_at is not None and len(h.epochs):
            traces.append(
                {
                    "type": "scatter",
                    "x": [h.epochs[-1]],
                    "y": [max(h.val_loss[-1], 1e-12)],
                    "mode": "markers",
                    "showlegend": False,
                    "marker": {
                        "symbol": MARKER_DIVERGED,
                        "size": 16,
                        "color": c,
                        "line": {"width": 3},
                    },
                    "hovertemplate": f"{label}<br>{h.message}<extra></extra>",
                }
            )
    layout = base_layout(
        "Loss per epoch: train dashed, validation solid" + (" (log scale)" if log else ""),
        xaxis={"title": {"text": "epoch"}},
        yaxis={
            "title": {"text": "data loss" + (" (log scale)" if log else "")},
            "type": "log" if log else "linear",
            "exponentformat": "e",
        },
        height=430,
    )
    return plain_figure(traces, layout)


LOG_DECADES = 2.0  # losses spanning more than this many powers of ten: log axis by default


def loss_spans_decades(histories: Sequence[History], decades: float = LOG_DECADES) -> bool:
    """Whether the losses of all runs together span more than ``decades`` powers of ten (a
    linear axis would flatten all but the largest), so the loss chart goes log by default."""
    values = [np.asarray(v) for h in histories for v in (h.train_loss, h.val_loss) if len(v)]
    if not values:
        return False
    pos = np.concatenate(values)
    pos = pos[np.isfinite(pos) & (pos > 0)]
    return bool(pos.size) and float(np.log10(pos.max() / pos.min())) > decades


def summary_table(
    histories: Sequence[History],
    labels: Sequence[str],
    restored: bool = True,
) -> pd.DataFrame:
    """One row per variant: best validation loss and its epoch, the train/validation loss of
    the model shown, the generalization gap (validation − train), accuracy, and how the run
    ended. The model shown is the one the run ended with: an early-stopped run's restored
    (best) epoch, labelled as such; ``restored=False``: every run's last epoch."""
    rows = []
    for h, label in zip(histories, labels, strict=True):
        if len(h.epochs) == 0:
            continue
        best = int(np.argmin(h.val_loss))
        k = len(h.epochs) - 1
        shown = f"{int(h.epochs[k])}"
        if restored and h.restored_epoch is not None:
            k = int(np.flatnonzero(np.asarray(h.epochs) == h.restored_epoch)[0])
            shown = f"{h.restored_epoch} (restored)"
        row = {
            "variant": label,
            "epoch shown": shown,
            "best val loss": float(h.val_loss[best]),
            "best epoch": int(h.epochs[best]),
            "train loss": float(h.train_loss[k]),
            "val loss": float(h.val_loss[k]),
            "gap (val − train)": float(h.val_loss[k] - h.train_loss[k]),
        }
        if h.val_acc is not None:
            row["val accuracy"] = float(h.val_acc[k])
        row["status"] = h.message or f"running (epoch {h.epochs_done})"
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ sparsity
def sparsity_figure(
    curves: Sequence[rl.SparsityCurve], labels: Sequence[str], layer_name: str
) -> go.Figure:
    """Share of weights exactly 0 (solid) and with |w| < ε (dotted) over epochs, per variant.
    Rebuilt on every live poll, so built from plain dicts (:func:`viz.common.plain_figure`)."""
    eps = curves[0].eps if curves else 1e-3
    traces = []
    for i, (c, label) in enumerate(zip(curves, labels, strict=True)):
        for y, kind, dash in ((c.exact, "exactly 0", None), (c.near, f"|w| < {fmt(eps)}", "dot")):
            line = {"color": color(i)} if dash is None else {"color": color(i), "dash": dash}
            traces.append(
                {
                    "type": "scatter",
                    "x": c.epochs,
                    "y": 100.0 * y,
                    "mode": "lines",
                    "name": f"{label}: {kind}",
                    "legendgroup": str(i),
                    "line": line,
                    "hovertemplate": f"{label}<br>{kind}: %{{y:.1f}}% at epoch %{{x}}"
                    "<extra></extra>",
                }
            )
    layout = base_layout(
        f"Sparsity of {layer_name}: exactly 0 solid, |w| < ε dotted",
        xaxis={"title": {"text": "epoch"}},
        yaxis={"title": {"text": "share of weights (%)"}, "range": [-2, 102]},
        height=400,
    )
    return plain_figure(traces, layout)


# ------------------------------------------------------------------------------ boundaries
def boundary_figure(
    xs: np.ndarray,
    ys: np.ndarray,
    probs: Sequence[np.ndarray | None],
    labels: Sequence[str],
    X: np.ndarray,
    y: np.ndarray,
) -> go.Figure:
    """Side-by-side decision regions (P(last class) over the ``(len(ys), len(xs))`` grid) with
    the training points; ``None`` for a variant without a model yet."""
    n = len(labels)
    fig = make_subplots(rows=1, cols=n, subplot_titles=list(labels), horizontal_spacing=0.03)
    for i, (p, label) in enumerate(zip(probs, labels, strict=True)):
        col = i + 1
        if p is not None:
            fig.add_trace(
                go.Contour(
                    x=xs,
                    y=ys,
                    z=p.reshape(len(ys), len(xs)),
                    zmin=0,
                    zmax=1,
                    colorscale="RdBu",
                    opacity=0.75,
                    showscale=i == n - 1,
                    colorbar={"title": {"text": "P(class)"}, "len": 0.8},
                    contours={"start": 0, "end": 1, "size": 0.1},
                    line={"width": 0},
                    hovertemplate=f"{label}<br>x1 %{{x:.2f}}, x2 %{{y:.2f}}"
                    "<br>P %{z:.2f}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.add_trace(
            go.Scatter(
                x=X[:, 0],
                y=X[:, 1],
                mode="markers",
                showlegend=False,
                marker={
                    "size": 5,
                    "color": y,
                    "colorscale": [[0, "#B2182B"], [1, "#2166AC"]],
                    "line": {"width": 0.5, "color": "white"},
                },
                hovertemplate="class %{marker.color}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="x1", row=1, col=col)
        fig.update_yaxes(showticklabels=i == 0, row=1, col=col)
    fig.update_yaxes(title_text="x2", row=1, col=1)
    fig.update_layout(
        **base_layout("Decision regions with the training points"), height=360, showlegend=False
    )
    return fig


# ------------------------------------------------------------------------------ why L1 is sparse
def _ball(kind: str, size: float, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, n)
    if kind == "l2":
        return size * np.cos(t), size * np.sin(t)
    x, y = np.cos(t), np.sin(t)
    scale = size / (np.abs(x) + np.abs(y))
    return x * scale, y * scale


# the axes are where a weight is 0: drawn clearly (the L1 optimum lands on one)
_AXIS_LINE = {"zeroline": True, "zerolinewidth": 2, "zerolinecolor": "#888888"}


def _tint(hex_color: str, alpha: float) -> str:
    """``"#RRGGBB"`` as ``"rgba(r, g, b, alpha)"`` (a see-through fill of a palette colour)."""
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def geometry_figure(
    problem: TwoWeightProblem, lam: float, lam_max: float = 2.0, extent: float = 2.2
) -> go.Figure:
    """Loss contours of the 2-weight model, the L1 diamond and L2 circle through each
    regularized optimum at ``lam``, and both optima's paths as λ runs from 0 to ``lam_max``."""
    g = np.linspace(-extent, extent, 81)
    W = np.stack(np.meshgrid(g, g), axis=-1)
    Z = problem.loss(W)
    lams = np.linspace(0.0, lam_max, 201)
    p1, p2 = l1_optimum(problem, lams), l2_optimum(problem, lams)
    w1, w2 = l1_optimum(problem, [lam])[0], l2_optimum(problem, [lam])[0]
    fig = go.Figure()
    fig.add_trace(
        go.Contour(
            x=g,
            y=g,
            z=np.sqrt(Z),
            colorscale="Greys",
            reversescale=True,
            showscale=False,
            contours={"coloring": "lines", "start": 0.1, "end": 3.0, "size": 0.2},
            line={"width": 1},
            hoverinfo="skip",
            name="loss contours",
        )
    )
    for path, point, kind, name, c in (
        (p1, w1, "l1", "L1", color(1)),
        (p2, w2, "l2", "L2", color(2)),
    ):
        size = np.abs(point).sum() if kind == "l1" else float(np.hypot(*point))
        bx, by = _ball(kind, size)
        fig.add_trace(
            go.Scatter(
                x=bx,
                y=by,
                mode="lines",
                line={"color": c, "width": 2.5, "dash": "dash"},
                # shade the diamond only: its corners on the axes are the point
                fill="toself" if kind == "l1" else "none",
                fillcolor=_tint(c, 0.15),
                name=f"{name} ball through the optimum",
                hoverinfo="skip",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=path[:, 0],
                y=path[:, 1],
                mode="lines",
                line={"color": c, "width": 3},
                name=f"{name} optimum as λ grows",
                customdata=lams,
                hovertemplate=f"{name}, λ=%{{customdata:.2f}}<br>w1 %{{x:.3f}}, w2 %{{y:.3f}}"
                "<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[point[0]],
                y=[point[1]],
                mode="markers",
                marker={"color": c, "size": 13, "line": {"width": 1.5, "color": "white"}},
                name=f"{name} optimum at λ={lam:.2f}: ({point[0]:.3f}, {point[1]:.3f})",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[problem.w_star[0]],
            y=[problem.w_star[1]],
            mode="markers",
            marker={"symbol": "star", "size": 14, "color": "#999999"},
            name="unregularized optimum w*",
        )
    )
    fig.update_layout(
        **base_layout(
            f"Two weights, λ = {lam:.2f}: "
            + ("L1's optimum is on an axis" if np.any(w1 == 0) else "L1 not on an axis yet"),
            legend={"orientation": "h", "x": 0, "y": -0.15, "xanchor": "left", "yanchor": "top"},
            margin={"l": 60, "r": 20, "t": 50, "b": 40},
        ),
        xaxis={"title": "w1", "range": [-extent, extent], "constrain": "domain", **_AXIS_LINE},
        yaxis={
            "title": "w2",
            "range": [-extent, extent],
            "scaleanchor": "x",
            "constrain": "domain",
            **_AXIS_LINE,
        },
        height=620,
    )
    return fig


def paths_figure(paths: CoefPaths) -> go.Figure:
    """Coefficient paths vs λ (log scale) for L1 (lasso) and L2 (ridge); informative features
    in colour, the others grey."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("L1 (lasso): coefficients hit exactly 0", "L2 (ridge): all shrink"),
        horizontal_spacing=0.08,
    )
    informative = set() if paths.informative is None else set(int(j) for j in paths.informative)
    for col, coefs in ((1, paths.lasso), (2, paths.ridge)):
        rank = 0
        for j in range(coefs.shape[1]):
            key = j in informative
            fig.add_trace(
                go.Scatter(
                    x=paths.lams,
                    y=coefs[:, j],
                    mode="lines",
                    line={
                        "color": color(rank) if key else "rgba(150,150,150,0.45)",
                        "width": 2.5 if key else 1,
                    },
                    name=f"feature {j}" + (" (informative)" if key else ""),
                    legendgroup=f"f{j}",
                    showlegend=col == 1 and key,
                    hovertemplate=f"feature {j}<br>λ %{{x:{HOVER_NUM}}}<br>w %{{y:{HOVER_NUM}}}"
                    "<extra></extra>",
                ),
                row=1,
                col=col,
            )
            rank += key
        fig.update_xaxes(title_text="λ (log scale)", type="log", row=1, col=col)
    fig.update_yaxes(title_text="coefficient w_j", row=1, col=1)
    fig.update_layout(
        **base_layout(
            "Coefficient paths of a linear model vs λ (grey: irrelevant features)",
            legend={"orientation": "h", "x": 0, "y": -0.22, "xanchor": "left", "yanchor": "top"},
            margin={"l": 60, "r": 20, "t": 70, "b": 40},
        ),
        height=480,
    )
    return fig


# ------------------------------------------------------------------------------ export
def history_frame(histories: Sequence[History], labels: Sequence[str]) -> pd.DataFrame:
    """Long table: one row per variant and evaluated epoch (losses, penalty, accuracy)."""
    parts = []
    for h, label in zip(histories, labels, strict=True):
        part = {
            "variant": label,
            "epoch": np.asarray(h.epochs),
            "train_loss": np.asarray(h.train_loss),
            "val_loss": np.asarray(h.val_loss),
            "penalty": np.asarray(h.penalty),
        }
        if h.train_acc is not None:
            part["train_acc"] = np.asarray(h.train_acc)
            part["val_acc"] = np.asarray(h.val_acc)
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def weights_frame(
    runs: Sequence[rl.VariantRun], labels: Sequence[str], restored: bool = True
) -> pd.DataFrame:
    """Weights of every finished variant's model (:func:`engine.reg_lab.model_params`: the
    restored one of an early-stopped run, or with ``restored=False`` its last epoch's):
    variant, epoch, layer, row (input), col (unit), w."""
    parts = []
    for run, label in zip(runs, labels, strict=True):
        model = rl.model_params(run, restored)
        if model is None:
            continue
        params, epoch = model
        h = run.history
        for layer, (s, fi, fo) in enumerate(
            zip(h.weight_slices, h.sizes[:-1], h.sizes[1:], strict=True)
        ):
            rows, cols = np.divmod(np.arange(fi * fo), fo)
            parts.append(
                pd.DataFrame(
                    {
                        "variant": label,
                        "epoch": epoch,
                        "layer": layer + 1,
                        "row": rows,
                        "col": cols,
                        "w": params[s],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

"""Figures of the Gradient-flow page: pure ``(engine results, options) -> go.Figure`` builders.

Configuration ``i`` has colour ``color(i)`` in every figure. Norms are drawn on log axes;
non-finite values never reach a trace (overflowed layers are cut and marked with an ✗ and a
note instead), and an empty input gives a figure that says what to do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine import activations as acts
from engine.gradflow import Profile
from viz.common import HOVER_NUM, MARKER_DIVERGED, base_layout, color, empty_figure

MAX_HEATMAP_COLUMNS = 200  # steps shown per heatmap (JSON size); binned by mean of log10


def _hover(name: str) -> str:
    return f"{name}<br>layer %{{x}}<br>norm %{{y:{HOVER_NUM}}}<extra></extra>"


def _log_range(ys: Sequence[np.ndarray]) -> list[float] | None:
    """A log-axis range (in decades) around every finite positive value, kept below 1e308
    (plotly's own autorange pads past float64's largest value and labels it "Infinity")."""
    values = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys] + [np.empty(0)])
    if not values.size:
        return None
    lo, hi = float(np.log10(values.min())), float(np.log10(values.max()))
    pad = max(0.05 * (hi - lo), 0.3)
    return [max(lo - pad, -320.0), min(hi + pad, 308.2)]


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(y) & (y > 0)
    return x[keep], y[keep]


def profile_figure(profiles: Sequence[Profile], names: Sequence[str]) -> go.Figure:
    """Hero: ‖∂L/∂W_l‖ (left) and ‖∂L/∂a_l‖ (right) against layer l, log y, with theory."""
    if not profiles:
        return empty_figure("Add a configuration in the sidebar.", "Gradient norm per layer")
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=("‖∂L/∂W_l‖ (weight gradient)", "‖∂L/∂a_l‖ (back-propagated signal)"),
    )  # fmt: skip
    for i, (p, name) in enumerate(zip(profiles, names, strict=True)):
        c, layers = color(i), p.layers.astype(float)
        for col, values in ((1, p.weight_grad), (2, p.act_grad)):
            x, y = _finite(layers, values)
            fig.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines+markers", name=name, legendgroup=name,
                    showlegend=col == 1, line={"color": c, "width": 2}, marker={"size": 5},
                    hovertemplate=_hover(name),
                ),
                row=1, col=col,
            )  # fmt: skip
        th = p.theory
        if th is not None:
            for col, values in ((1, th.weight_grad), (2, th.act_grad)):
                if values is None:
                    continue
                x, y = _finite(layers, values)
                fig.add_trace(
                    go.Scatter(
                        x=x, y=y, mode="lines", name=f"{name}: {th.label}", legendgroup=name,
                        showlegend=col == 2, line={"color": c, "dash": "dash", "width": 1.5},
                        opacity=0.8,
                        hovertemplate=_hover(f"{name}: {th.label}"),
                    ),
                    row=1, col=col,
                )  # fmt: skip
        if p.overflow_layer is not None and p.forward_norm is not None:
            x, y = _finite(layers, p.forward_norm)
            label = f"{name}: forward ‖h_l‖ (no gradient past the overflow)"
            fig.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines", name=label, legendgroup=name,
                    line={"color": c, "dash": "dot", "width": 2}, hovertemplate=_hover(label),
                ),
                row=1, col=1,
            )  # fmt: skip
            if len(x):
                fig.add_trace(
                    go.Scatter(
                        x=[float(p.overflow_layer)], y=[y[-1]], mode="markers",
                        marker={"symbol": MARKER_DIVERGED, "size": 14, "color": c},
                        name=f"{name}: overflow", showlegend=False, legendgroup=name,
                        hovertemplate=f"{name}<br>overflow at layer %{{x}}<extra></extra>",
                    ),
                    row=1, col=1,
                )  # fmt: skip
        if p.overflow_layer is not None:
            for col in (1, 2):
                fig.add_vline(
                    x=p.overflow_layer, line={"color": c, "dash": "dot"}, row=1, col=col,
                    annotation_text=f"✗ overflow at layer {p.overflow_layer}",
                    annotation_position="top left" if i % 2 else "bottom left",
                    annotation_font_color=c,
                )  # fmt: skip
    depth = max(p.config.depth for p in profiles)
    fig.update_xaxes(title_text="layer l (1 = input side, L = output)", range=[0.5, depth + 0.5])
    log_range = _log_range([np.asarray(t.y, dtype=float) for t in fig.data])
    fig.update_yaxes(type="log", exponentformat="power", range=log_range)
    fig.update_yaxes(title_text="norm (log scale)", col=1)
    if not any(np.isfinite(p.act_grad).any() for p in profiles):
        fig.add_annotation(
            text="no back-propagated gradient:<br>the forward pass overflowed", showarrow=False,
            xref="x2 domain", yref="y2 domain", x=0.5, y=0.5,
        )  # fmt: skip
    fig.update_layout(**base_layout("Gradient norm per layer at initialization", height=520))
    fig.update_layout(
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0.0, "xanchor": "left"},
        margin={"t": 70, "b": 40},
    )
    return fig


def stats_figure(profiles: Sequence[Profile], names: Sequence[str]) -> go.Figure:
    """Per hidden layer: activation std (log), saturated % and dead-ReLU % (small multiples)."""
    if not profiles or all(p.config.depth < 2 for p in profiles):
        return empty_figure("Use depth ≥ 2: only hidden layers have activations.", "Activations")
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.07,
        subplot_titles=("std of activations (log scale)", "saturated units (%)", "dead ReLUs (%)"),
    )  # fmt: skip
    for i, (p, name) in enumerate(zip(profiles, names, strict=True)):
        layers = np.arange(1, p.config.depth, dtype=float)
        for col, values, scale in ((1, p.act_std, 1), (2, p.saturated, 100), (3, p.dead, 100)):
            y = np.asarray(values, dtype=float) * scale
            keep = np.isfinite(y) & ((y > 0) if col == 1 else True)
            if not keep.any():
                continue
            fig.add_trace(
                go.Scatter(
                    x=layers[keep], y=y[keep], mode="lines+markers", name=name, legendgroup=name,
                    showlegend=col == 1 or not np.isfinite(p.act_std).any(),
                    line={"color": color(i)}, marker={"size": 4},
                    hovertemplate=f"{name}<br>layer %{{x}}<br>%{{y:{HOVER_NUM}}}<extra></extra>",
                ),
                row=1, col=col,
            )  # fmt: skip
    fig.update_xaxes(title_text="hidden layer l")
    fig.update_yaxes(type="log", exponentformat="power", col=1)
    fig.update_yaxes(range=[-3, 103], col=2)
    fig.update_yaxes(range=[-3, 103], col=3)
    fig.update_layout(**base_layout("Activation statistics per layer (at initialization)"))
    fig.update_layout(
        height=420,
        margin={"t": 70, "b": 90},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0.0, "xanchor": "left"},
    )
    return fig


def ridgeline_figure(p: Profile, name: str, index: int) -> go.Figure:
    """Histograms of activations and of ∂L/∂a per layer, stacked (Glorot & Bengio 2010)."""
    h = p.hist
    if h is None:
        return empty_figure("Use depth ≥ 2 to see per-layer histograms.", "Histograms")
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=("activation values h_l", "back-propagated gradient ∂L/∂a_l"),
    )  # fmt: skip
    c = color(index)
    for col, hists in ((1, h.activations), (2, h.gradients)):
        for k, (layer, hist) in enumerate(zip(h.layers, hists, strict=True)):
            counts = hist.counts.astype(float)
            top = counts.max() if counts.max() > 0 else 1.0
            y = k + 0.9 * counts / top
            x = hist.centers
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([x[:1], x, x[-1:]]), y=np.concatenate([[k], y, [k]]),
                    fill="toself", mode="lines", line={"color": c, "width": 1},
                    fillcolor=c, opacity=0.55, name=f"layer {layer}", showlegend=False,
                    customdata=np.concatenate([[0], hist.counts, [0]]),
                    hovertemplate=f"layer {layer}<br>value %{{x:{HOVER_NUM}}}<br>"
                    "count %{customdata}<extra></extra>",
                ),
                row=1, col=col,
            )  # fmt: skip
    ticks = {"tickvals": list(range(len(h.layers))), "ticktext": [f"layer {k}" for k in h.layers]}
    fig.update_yaxes(**ticks, title_text="layer", col=1)
    fig.update_yaxes(**ticks, col=2)
    fig.update_xaxes(title_text="value", exponentformat="power")
    note = f"Activations: {h.act_bins.note}<br>Gradients: {h.grad_bins.note}"
    fig.add_annotation(
        text=note, showarrow=False, xref="paper", yref="paper", x=0, y=-0.3, font={"size": 10},
        align="left", xanchor="left",
    )  # fmt: skip
    fig.update_layout(**base_layout(f"Per-layer histograms (shared bins per panel): {name}"))
    fig.update_layout(height=500, margin={"b": 120})
    return fig


def heatmap_figure(histories: Sequence, names: Sequence[str], quantity: str = "grad_norms"):
    """Layer x step heatmaps of log10 ‖∂L/∂W_l‖ (one row of panels per configuration).

    Steps are averaged (in log10) into at most :data:`MAX_HEATMAP_COLUMNS` columns so the
    figure stays small. Each panel has its own colour range: configurations differ by orders
    of magnitude, and one shared range would paint a healthy network a single flat colour.
    """
    data = []
    for hist in histories:
        g = None if hist is None else getattr(hist, quantity)
        if g is None or len(g) == 0:
            data.append(None)
            continue
        with np.errstate(all="ignore"):
            z = np.log10(np.where(np.asarray(g) > 0, g, np.nan))
        z[~np.isfinite(z)] = np.nan
        steps = np.arange(1, len(z) + 1)
        if len(z) > MAX_HEATMAP_COLUMNS:
            edges = np.linspace(0, len(z), MAX_HEATMAP_COLUMNS + 1).astype(int)
            ok = np.isfinite(z)
            with np.errstate(all="ignore"):  # mean of the finite entries of each column bin
                total = np.add.reduceat(np.where(ok, z, 0.0), edges[:-1], axis=0)
                z = total / np.add.reduceat(ok, edges[:-1], axis=0)
            steps = edges[1:]
        data.append((steps, np.round(z.T, 2).astype(np.float32)))  # half the JSON of float64
    if all(d is None for d in data):
        return empty_figure("Press Start to train; the heatmap fills as steps arrive.", "Heatmap")
    n = len(histories)
    titles = []
    for name, hist in zip(names, histories, strict=True):
        end = (
            ""
            if hist is None or hist.diverged_at is None
            else f" (diverged at step {hist.diverged_at})"
        )
        titles.append(f"■ {name}{end}")
    fig = make_subplots(
        rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.08 if n > 1 else 0.0,
        subplot_titles=titles,
    )  # fmt: skip
    for i, d in enumerate(data):
        if d is None:
            continue
        steps, z = d
        finite = z[np.isfinite(z)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        domain = fig.layout[f"yaxis{i + 1 if i else ''}"].domain
        fig.add_trace(
            go.Heatmap(
                x=steps, y=np.arange(1, z.shape[0] + 1), z=z, zmin=lo, zmax=max(hi, lo + 1e-9),
                colorscale="Viridis",
                colorbar={
                    "title": {"text": "log10 ‖∂L/∂W_l‖", "side": "right"},
                    "y": (domain[0] + domain[1]) / 2, "len": domain[1] - domain[0],
                    "yanchor": "middle", "thickness": 14,
                },
                hovertemplate="step %{x}<br>layer %{y}<br>log10 norm %{z:.2f}<extra></extra>",
            ),
            row=i + 1, col=1,
        )  # fmt: skip
        fig.update_yaxes(title_text="layer", row=i + 1, col=1)
    for i, ann in enumerate(fig.layout.annotations):
        ann.font = {"color": color(i)}
    fig.update_xaxes(title_text="training step", row=n, col=1)
    fig.update_layout(
        **base_layout("Gradient norm per layer and step (log10; colour range per panel)"),
        height=160 + 230 * n,
    )
    return fig


def loss_figure(histories: Sequence, names: Sequence[str]) -> go.Figure:
    """Minibatch loss per step, one line per configuration (log y)."""
    fig = go.Figure()
    for i, (hist, name) in enumerate(zip(histories, names, strict=True)):
        if hist is None or len(hist.step_loss) == 0:
            continue
        y = np.asarray(hist.step_loss, dtype=float)
        x = np.arange(1, len(y) + 1)
        x, y = _finite(x.astype(float), y)
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines", name=name, line={"color": color(i)},
                hovertemplate=f"{name}<br>step %{{x}}<br>loss %{{y:{HOVER_NUM}}}<extra></extra>",
            )
        )  # fmt: skip
        if hist.diverged_at is not None:
            fig.add_trace(
                go.Scatter(
                    x=[hist.diverged_at], y=[y[-1] if len(y) else 1.0], mode="markers",
                    marker={"symbol": MARKER_DIVERGED, "size": 14, "color": color(i)},
                    name=f"{name}: diverged", showlegend=False,
                    hovertemplate=f"{name}<br>diverged at step %{{x}}<extra></extra>",
                )
            )  # fmt: skip
    if not fig.data:
        return empty_figure("Press Start to train.", "Training loss")
    fig.update_xaxes(title_text="training step")
    fig.update_yaxes(type="log", title_text="minibatch loss (log scale)")
    fig.update_layout(**base_layout("Training loss", height=360))
    return fig


def step_profile_figure(histories: Sequence, names: Sequence[str], step: int) -> go.Figure:
    """‖∂L/∂W_l‖ against layer at training step ``step`` (each run's last step if shorter)."""
    fig = go.Figure()
    for i, (hist, name) in enumerate(zip(histories, names, strict=True)):
        if hist is None or hist.grad_norms is None or len(hist.grad_norms) == 0:
            continue
        s = min(int(step), len(hist.grad_norms))
        y = np.asarray(hist.grad_norms[s - 1], dtype=float)
        x, y = _finite(np.arange(1, len(y) + 1, dtype=float), y)
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="lines+markers", name=f"{name} (step {s})",
                line={"color": color(i)}, marker={"size": 5},
                hovertemplate=f"{name}<br>layer %{{x}}<br>%{{y:{HOVER_NUM}}}<extra></extra>",
            )
        )  # fmt: skip
    if not fig.data:
        return empty_figure("Press Start to train.", "Depth profile during training")
    fig.update_xaxes(title_text="layer l")
    fig.update_yaxes(type="log", exponentformat="power", title_text="‖∂L/∂W_l‖ (log scale)")
    fig.update_layout(**base_layout(f"Depth profile at step {int(step)}", height=380))
    return fig


def activation_panel(names: Sequence[str] = ("sigmoid", "tanh", "relu", "leaky_relu")):
    """Each activation f and its derivative f' on [-6, 6], saturated regions shaded."""
    z = np.linspace(-6, 6, 241)
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=list(names))
    for j, name in enumerate(names, start=1):
        act = acts.get(name)
        slope = 0.1 if name == "leaky_relu" else acts.DEFAULT_LEAKY_SLOPE  # visible slope
        a = act.forward(z, slope)
        d = act.derivative(z, a, slope)
        sat = act.saturated(z, a, slope)
        for k, (y, label, dash) in enumerate(((a, "f(z)", "solid"), (d, "f′(z)", "dash"))):
            fig.add_trace(
                go.Scatter(
                    x=z, y=y, mode="lines", name=label, legendgroup=label,
                    showlegend=j == 1, line={"color": color(4 + k), "dash": dash},
                    hovertemplate=f"{name} {label}<br>z %{{x:.2f}}<br>%{{y:.3g}}<extra></extra>",
                ),
                row=1, col=j,
            )  # fmt: skip
        for lo, hi in _runs(z, sat):
            fig.add_vrect(x0=lo, x1=hi, fillcolor="#999999", opacity=0.25, line_width=0,
                          row=1, col=j)  # fmt: skip
    fig.update_xaxes(title_text="z")
    fig.update_yaxes(range=[-1.2, 1.6])
    fig.update_layout(
        **base_layout("Activations and their derivatives (grey: saturated / zero-gradient)")
    )
    fig.update_layout(
        height=370,
        margin={"t": 70, "b": 90},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0.0, "xanchor": "left"},
    )
    return fig


def _runs(z: np.ndarray, mask: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous ``[z_start, z_end]`` intervals where ``mask`` is true."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(int)
    starts = np.flatnonzero(np.diff(m) == 1)
    ends = np.flatnonzero(np.diff(m) == -1) - 1
    return [(float(z[s]), float(z[e])) for s, e in zip(starts, ends, strict=True)]


def layer_table(profiles: Sequence[Profile], names: Sequence[str]) -> pd.DataFrame:
    """Per-layer figures of every configuration, one row per (configuration, layer), for CSV."""
    frames = []
    for p, name in zip(profiles, names, strict=True):
        L = p.config.depth
        pad = np.full(1, math.nan)
        th = p.theory
        frames.append(
            pd.DataFrame(
                {
                    "configuration": name,
                    "layer": p.layers,
                    "weight_grad_norm": p.weight_grad,
                    "act_grad_norm": p.act_grad,
                    "theory_act_grad": th.act_grad if th is not None else np.full(L, math.nan),
                    "theory_kind": th.kind if th is not None else "",
                    "activation_std": np.concatenate([p.act_std, pad]),
                    "saturated_fraction": np.concatenate([p.saturated, pad]),
                    "dead_fraction": np.concatenate([p.dead, pad]),
                    "overflow": [
                        p.overflow_layer is not None and k >= p.overflow_layer for k in p.layers
                    ],
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

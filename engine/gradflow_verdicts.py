"""Gradient-flow verdicts: a plain-language diagnosis of a profile and the notes' fixes.

:func:`diagnose` compares the input end of a :class:`engine.gradflow.Profile` with its output
end (``‖∂L/∂a_1‖ / ‖∂L/∂a_L‖`` and the same for ``‖∂L/∂W_l‖``) against the thresholds below,
adds saturation / dead-unit / clipping evidence, and proposes one-click :class:`Fix` es (each a
changed :class:`engine.gradflow_presets.FlowConfig`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.gradflow_presets import FlowConfig

if TYPE_CHECKING:
    from engine.gradflow import Profile

# Verdict thresholds (data, not scattered ifs): input-end / output-end gradient ratio.
VANISH_RATIO = 1e-2
EXPLODE_RATIO = 1e2
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.3


@dataclass(frozen=True)
class Fix:
    """A suggested change: its button label, the fixed configuration and why it helps."""

    label: str
    config: FlowConfig
    why: str


@dataclass(frozen=True)
class Verdict:
    """Plain-language diagnosis: ``kind`` in healthy/vanishing/exploding/overflow/dead."""

    kind: str
    headline: str
    evidence: tuple[str, ...]
    fixes: tuple[Fix, ...]


def _ratio(v: np.ndarray) -> float:
    """First-layer over last-layer value (the input end over the output end)."""
    return float(v[0] / v[-1]) if v.size and v[-1] > 0 else math.nan


def diagnose(p: Profile) -> Verdict:
    """Verdict with the numbers behind it, and one-click fixes (see thresholds above)."""
    cfg, L = p.config, p.config.depth
    fixes = _fixes(cfg)
    if p.overflow_layer is not None:
        what = "activations" if p.overflow_where == "forward" else "gradients"
        grown = np.nanmax(p.act_std[: max(p.overflow_layer - 1, 1)]) if L > 1 else math.nan
        ev = (
            f"The {p.overflow_where} pass {what} exceed float64's largest value (1.8e308) "
            f"at layer {p.overflow_layer} of {L}; nothing past it is a number.",
        )
        if math.isfinite(grown):
            ev += (f"The activation std had already reached {grown:.3g} before that.",)
        return Verdict("overflow", f"Overflowed at layer {p.overflow_layer}", ev, fixes)
    ra = _ratio(p.act_grad)  # the back-propagated signal: what "flows"
    # weight gradients compared over layers with an activation derivative (not the output)
    rw = _ratio(p.weight_grad_raw[:-1]) if L > 2 else _ratio(p.weight_grad_raw)
    per_layer = ra ** (1 / (L - 1)) if L > 1 and ra > 0 else math.nan
    ev = [
        f"‖∂L/∂a_1‖ / ‖∂L/∂a_{L}‖ = {ra:.3g}"
        + (f" (×{per_layer:.3g} per layer on average)" if math.isfinite(per_layer) else "")
        + f"; ‖∂L/∂W_1‖ / ‖∂L/∂W_{max(L - 1, 1)}‖ = {rw:.3g}.",
    ]
    sat = float(np.nanmax(p.saturated)) if np.isfinite(p.saturated).any() else math.nan
    dead = float(np.nanmax(p.dead)) if np.isfinite(p.dead).any() else math.nan
    if math.isfinite(sat) and sat >= SATURATED_FRACTION:
        layer = int(np.nanargmax(p.saturated)) + 1
        ev.append(f"Up to {sat:.0%} of {cfg.activation} units are saturated (layer {layer}).")
    if cfg.clip > 0:
        ev.append(
            f"Clipping at {cfg.clip:g} scales every ‖∂L/∂W_l‖ by {p.clip_factor:.3g}: the "
            "update stays bounded, but the profile's shape does not change."
        )
    if ra > EXPLODE_RATIO:
        kind, head = "exploding", f"Exploding: layer 1 gets {ra:.3g}× the output's gradient"
    elif ra < VANISH_RATIO or rw < VANISH_RATIO:
        r = ra if ra < VANISH_RATIO else rw
        kind, head = "vanishing", f"Vanishing: layer 1 gets {r:.3g}× the gradient near the output"
    elif math.isfinite(dead) and dead >= DEAD_FRACTION:
        layer = int(np.nanargmax(p.dead)) + 1
        kind, head = "dead", f"Dead units: {dead:.0%} of layer {layer}'s ReLUs never fire"
    else:
        kind, head = "healthy", "Healthy: gradients stay within 100× across layers"
        fixes = ()
    if cfg.clip > 0 and kind == "exploding":
        head += " (clipped: updates capped)"
    return Verdict(kind, head, tuple(ev), fixes)


def _fixes(cfg: FlowConfig) -> tuple[Fix, ...]:
    """The notes' remedies that change something about ``cfg``."""
    out = []
    if cfg.activation in ("sigmoid", "tanh"):
        relu = replace(cfg, activation="relu", init="he_normal", scale=1.0)
        out.append(Fix("ReLU + He init", relu, "ReLU's derivative is 1 where active."))
        if cfg.activation == "tanh" and (cfg.init, cfg.scale) != ("xavier_normal", 1.0):
            out.append(
                Fix(
                    "Xavier init",
                    replace(cfg, init="xavier_normal", scale=1.0),
                    "Var(W) = 2/(fan_in+fan_out) keeps tanh near its linear range.",
                )
            )
    if cfg.activation in ("relu", "leaky_relu") and (cfg.init, cfg.scale) != ("he_normal", 1.0):
        out.append(
            Fix(
                "He init",
                replace(cfg, init="he_normal", scale=1.0),
                "Var(W) = 2/fan_in keeps the ReLU signal's scale.",
            )
        )
    if cfg.activation == "relu":
        out.append(
            Fix(
                "Leaky ReLU",
                replace(cfg, activation="leaky_relu"),
                "A small negative slope keeps units from dying.",
            )
        )
    if cfg.init == "identity" and cfg.scale != 1.0:
        out.append(Fix("W = 1·I", replace(cfg, scale=1.0), "c = 1: c^(L-l) = 1 at every layer."))
    if cfg.activation == "linear" and cfg.init != "identity":
        out.append(
            Fix(
                "Orthogonal init",
                replace(cfg, init="orthogonal", scale=1.0),
                "Orthogonal W preserves norms exactly in a linear net.",
            )
        )
    if not cfg.residual and cfg.depth > 2:
        out.append(
            Fix(
                "Residual",
                replace(cfg, residual=True),
                "Skips give the gradient an identity path around each layer.",
            )
        )
    if cfg.clip == 0:
        out.append(
            Fix("Clip at 1", replace(cfg, clip=1.0), "Caps the update size (not the shape).")
        )
    return tuple(out)

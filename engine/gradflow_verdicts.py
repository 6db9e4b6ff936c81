"""Gradient-flow verdicts: a plain-language diagnosis of a profile and the notes' fixes.

:func:`diagnose` compares the input end of a :class:`engine.gradflow.Profile` with its output
end (``‖∂L/∂a_1‖ / ‖∂L/∂a_L‖`` and the same for ``‖∂L/∂W_l‖``) against the thresholds below,
adds saturation / dead-unit / clipping evidence, and lists the notes' remedies as candidate
:class:`Fix` es (each a changed :class:`engine.gradflow_presets.FlowConfig`).

A candidate is not a promise: :func:`measured_fixes` measures each fixed network's at-init
profile (one forward/backward pass, memoized) and keeps only the fixes whose verdict is
:func:`healthier` than the broken one's, each carrying its predicted verdict for the button.
Only ReLU units can die (derivative exactly 0 for z <= 0): the dead-unit verdict never applies
to linear, sigmoid, tanh or leaky ReLU, whose negative side keeps a slope.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from engine.activations import ACTIVATIONS
from engine.gradflow_presets import FlowConfig

if TYPE_CHECKING:
    from engine.gradflow import Profile

# Verdict thresholds (data, not scattered ifs): input-end / output-end gradient ratio.
VANISH_RATIO = 1e-2
EXPLODE_RATIO = 1e2
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.3
# How bad each verdict is (lower is healthier). Exploding gradients under clipping rank below
# unclipped ones: the profile keeps its shape, but the update is capped.
SEVERITY = {"healthy": 0, "dead": 1, "vanishing": 2, "clipped": 2.5, "exploding": 3, "overflow": 4}
BETTER_DECADES = 2.0  # same kind, ratio this many decades closer to 1: also healthier


@dataclass(frozen=True)
class Fix:
    """A suggested change: its button label, the fixed configuration and why it helps.

    ``predicted``: the fixed network's own at-init :class:`Verdict` (set by
    :func:`measured_fixes`; None for an unmeasured candidate).
    """

    label: str
    config: FlowConfig
    why: str
    predicted: Verdict | None = None

    def button_label(self) -> str:
        """``"Residual → Healthy"``: the fix and what the measurement predicts."""
        if self.predicted is None:
            return self.label
        return f"{self.label} → {self.predicted.short()}"


@dataclass(frozen=True)
class Verdict:
    """Plain-language diagnosis: ``kind`` in healthy/dead/vanishing/exploding/overflow.

    ``ratio``: input-end over output-end gradient (the number the kind comes from; NaN after
    an overflow). ``clipped``: the network clips its gradient (an exploding profile whose
    updates are capped). ``fixes``: candidate remedies (unmeasured; see
    :func:`measured_fixes`).
    """

    kind: str
    headline: str
    evidence: tuple[str, ...]
    fixes: tuple[Fix, ...]
    ratio: float = math.nan
    clipped: bool = False

    @property
    def severity(self) -> float:
        """Rank in :data:`SEVERITY` (an exploding profile under clipping: "clipped")."""
        kind = "clipped" if self.kind == "exploding" and self.clipped else self.kind
        return SEVERITY[kind]

    def decades(self) -> float:
        """How many powers of ten the gradient changes from output to input (0 if unknown)."""
        r = self.ratio
        return abs(math.log10(r)) if math.isfinite(r) and r > 0 else 0.0

    def short(self) -> str:
        """A few words for a button: "Healthy", "Vanishing ×3e-05", "Overflow"."""
        if self.kind in ("vanishing", "exploding") and math.isfinite(self.ratio):
            word = "Exploding, capped" if self.severity == SEVERITY["clipped"] else self.kind
            return f"{word.capitalize()} ×{self.ratio:.2g}"
        return {"dead": "Dead units"}.get(self.kind, self.kind.capitalize())


def healthier(after: Verdict, before: Verdict) -> bool:
    """Whether ``after`` is a healthier verdict than ``before``.

    Lower :data:`SEVERITY`, or the same vanishing/exploding kind with the input-end ratio at
    least :data:`BETTER_DECADES` powers of ten closer to 1 (e.g. 1e-14 -> 1e-3).
    """
    if after.severity != before.severity:
        return after.severity < before.severity
    if after.kind in ("vanishing", "exploding"):
        return after.decades() <= before.decades() - BETTER_DECADES
    return False


def measured_fixes(
    verdict: Verdict, measure: Callable[[tuple[FlowConfig, ...]], Sequence[Profile]]
) -> tuple[Fix, ...]:
    """The candidate fixes of ``verdict`` whose own verdict is :func:`healthier`.

    ``measure(configs)`` returns the at-init profiles of the fixed configurations
    (:func:`engine.gradflow.profiles`: one pass each, measured together and memoized). Each
    kept fix carries its predicted verdict; the order is healthiest first.
    """
    if not verdict.fixes:
        return ()
    profiles = measure(tuple(f.config for f in verdict.fixes))
    kept = []
    for fix, p in zip(verdict.fixes, profiles, strict=True):
        predicted = diagnose(p)
        if healthier(predicted, verdict):
            kept.append(replace(fix, predicted=replace(predicted, fixes=())))
    kept.sort(key=lambda f: (f.predicted.severity, f.predicted.decades()))
    return tuple(kept)


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
        head = f"Overflowed at layer {p.overflow_layer}"
        return Verdict("overflow", head, ev, fixes, clipped=cfg.clip > 0)
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
    can_die = ACTIVATIONS[cfg.activation].saturation_kind == "dead"  # relu only
    dead = float(np.nanmax(p.dead)) if can_die and np.isfinite(p.dead).any() else math.nan
    if math.isfinite(sat) and sat >= SATURATED_FRACTION:
        layer = int(np.nanargmax(p.saturated)) + 1
        ev.append(f"Up to {sat:.0%} of {cfg.activation} units are saturated (layer {layer}).")
    if cfg.clip > 0:
        ev.append(
            f"Clipping at {cfg.clip:g} scales every ‖∂L/∂W_l‖ by {p.clip_factor:.3g}: the "
            "update stays bounded, but the profile's shape does not change."
        )
    r = ra
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
    return Verdict(kind, head, tuple(ev), fixes, ratio=r, clipped=cfg.clip > 0)


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
    if cfg.clip == 0:  # measured like the others: it only helps an exploding (finite) profile
        out.append(
            Fix("Clip at 1", replace(cfg, clip=1.0), "Caps the update size (not the shape).")
        )
    return tuple(out)

"""Tables the UI builds controls from: named presets and each optimizer's hyperparameter knobs.

Declared once, as data (STYLE habit 5): the Optimizer-race page turns ``HPARAMS[name]`` into
widgets and URL validation; ``PRESETS`` names the course notes' variants explicitly.
"""

from __future__ import annotations

from typing import Any

from engine.knobs import Knob

from .registry import OPTIMIZERS

# label -> (optimizer name, hparams). The course notes' variants are named, never defaults.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "SGD": ("sgd", {}),
    "Momentum": ("sgd", {"momentum": 0.9}),
    "Momentum (EMA)": ("sgd", {"momentum": 0.9, "dampening": 0.9}),
    "Momentum (notes, v0 = 0)": ("sgd", {"momentum": 0.9, "dampening": 0.9, "zero_init": True}),
    "Nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "RMSProp": ("rmsprop", {}),
    "Adagrad": ("adagrad", {}),
    "Adam": ("adam", {}),
    "Adam (no bias correction)": ("adam", {"bias_correction": False}),
    "AdamW": ("adamw", {}),
    "NAdam": ("nadam", {}),
    "Adadelta": ("adadelta", {}),
}


LR_MIN, LR_MAX = 1e-8, 100.0
"""The learning-rate knob's range; every per-surface default rate lies inside it (the race
page also clamps defaults into it, so a default can never make a knob invalid)."""


def _lr(default: float) -> Knob:
    return Knob(
        "lr",
        "learning rate",
        "float",
        default,
        lo=LR_MIN,
        hi=LR_MAX,
        log=True,
        help="Step size γ.",
    )


def _eps(default: float, help: str = "Added to the denominator for numerical stability.") -> Knob:
    return Knob("eps", "epsilon", "float", default, lo=1e-12, hi=1.0, log=True, help=help)


def _wd(default: float = 0.0, help: str = "L2 penalty λ added to the gradient: g + λθ.") -> Knob:
    return Knob(
        "weight_decay", "weight decay", "float", default, lo=0.0, hi=10.0, log=True, help=help
    )


def _betas() -> tuple[Knob, Knob]:
    return (
        Knob(
            "beta1",
            "β₁ (first-moment decay)",
            "float",
            0.9,
            lo=0.0,
            hi=0.999,
            help="Decay of the gradient's running mean (momentum).",
        ),
        Knob(
            "beta2",
            "β₂ (second-moment decay)",
            "float",
            0.999,
            lo=0.0,
            hi=0.99999,
            help="Decay of the squared gradient's running mean.",
        ),
    )


_AMSGRAD = Knob(
    "amsgrad", "AMSGrad", "bool", False, help="Divide by the running maximum of the second moment."
)

# optimizer name -> its user-settable hyperparameters (defaults = torch's).
HPARAMS: dict[str, tuple[Knob, ...]] = {
    "sgd": (
        _lr(1e-3),
        Knob(
            "momentum",
            "momentum",
            "float",
            0.0,
            lo=0.0,
            hi=0.999,
            help="μ: the buffer b = μb + (1-τ)g.",
        ),
        Knob(
            "dampening",
            "dampening",
            "float",
            0.0,
            lo=0.0,
            hi=1.0,
            help="τ: set it equal to momentum for an exponential moving average.",
        ),
        _wd(),
        Knob(
            "nesterov",
            "Nesterov",
            "bool",
            False,
            help="Look ahead: g + μb (needs momentum > 0 and dampening 0).",
        ),
        Knob(
            "zero_init",
            "buffer starts at 0 (v₀ = 0)",
            "bool",
            False,
            help="On: b₁ = (1-τ)g₁ (the notes' EMA, first step 1-τ times smaller). "
            "Off: b₁ = g₁ (torch).",
        ),
    ),
    "rmsprop": (
        _lr(1e-2),
        Knob(
            "alpha",
            "α (smoothing)",
            "float",
            0.99,
            lo=0.0,
            hi=0.9999,
            help="Decay of the squared gradient's running mean.",
        ),
        _eps(1e-8),
        _wd(),
        Knob(
            "momentum",
            "momentum",
            "float",
            0.0,
            lo=0.0,
            hi=0.999,
            help="Momentum applied to the normalized step.",
        ),
        Knob(
            "centered",
            "centered",
            "bool",
            False,
            help="Normalize by the running variance instead of the raw second moment.",
        ),
    ),
    "adagrad": (
        _lr(1e-2),
        Knob(
            "lr_decay", "lr decay", "float", 0.0, lo=0.0, hi=1.0, help="lr / (1 + (t-1)·lr_decay)."
        ),
        _wd(),
        Knob(
            "initial_accumulator_value",
            "initial accumulator",
            "float",
            0.0,
            lo=0.0,
            hi=10.0,
            help="Starting value of the sum of squared gradients.",
        ),
        _eps(1e-10),
    ),
    "adam": (
        _lr(1e-3),
        *_betas(),
        _eps(1e-8),
        _wd(),
        _AMSGRAD,
        Knob(
            "bias_correction",
            "bias correction",
            "bool",
            True,
            help="Divide by 1-βᵗ (off = the course notes' formula).",
        ),
    ),
    "adamw": (
        _lr(1e-3),
        *_betas(),
        _eps(1e-8),
        _wd(1e-2, help="Decoupled decay: θ ← θ(1 - γλ) before the Adam step."),
        _AMSGRAD,
        Knob(
            "bias_correction",
            "bias correction",
            "bool",
            True,
            help="Divide by 1-βᵗ (off = the course notes' formula).",
        ),
    ),
    "nadam": (
        _lr(2e-3),
        *_betas(),
        _eps(1e-8),
        _wd(),
        Knob(
            "momentum_decay",
            "momentum decay",
            "float",
            4e-3,
            lo=0.0,
            hi=1.0,
            help="ψ in μₜ = β₁(1 - 0.5·0.96^(tψ)).",
        ),
        Knob(
            "decoupled_weight_decay",
            "decoupled weight decay",
            "bool",
            False,
            help="Decay θ directly (AdamW-style) instead of adding λθ to g.",
        ),
    ),
    "adadelta": (
        _lr(1.0),
        Knob(
            "rho",
            "ρ (smoothing)",
            "float",
            0.9,
            lo=0.0,
            hi=1.0,
            help="Decay of the running averages.",
        ),
        _eps(1e-6, help="Inside both square roots: sets the size of the first steps."),
        _wd(),
    ),
}


def hparams_from_flat(name: str, flat: dict[str, Any]) -> dict[str, Any]:
    """Knob values ``{"beta1": .., "beta2": .., ...}`` -> optimizer keywords ``{"betas": (..)}``.

    A missing beta takes its default; other keys pass through unchanged (``make`` validates).
    """
    out = {k: v for k, v in flat.items() if k not in ("beta1", "beta2")}
    if "beta1" in flat or "beta2" in flat:
        default1, default2 = OPTIMIZERS[name].defaults["betas"]
        out["betas"] = (flat.get("beta1", default1), flat.get("beta2", default2))
    return out


def flat_from_hparams(hparams: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`hparams_from_flat`: ``betas=(a, b)`` -> ``beta1=a, beta2=b``."""
    out = {k: v for k, v in hparams.items() if k != "betas"}
    if "betas" in hparams:
        out["beta1"], out["beta2"] = hparams["betas"]
    return out

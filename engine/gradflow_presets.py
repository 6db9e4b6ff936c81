"""Gradient-flow configurations: what one network is, the page's knobs, the notes' presets.

Data only (plus the two small conversions between a :class:`FlowConfig` and knob values), so
the computation in :mod:`engine.gradflow` stays short and the page reads its limits from one
place: every user-settable value is a :class:`engine.knobs.Knob` (URL validation, widget
ranges and the README caps table all come from these declarations).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine import inits as _inits
from engine.datasets import DATASETS
from engine.knobs import Knob
from engine.trainer import MAX_DEPTH, MAX_WIDTH

MAX_CONFIGS = 4
MAX_BATCH = 1024
MAX_STEPS = 2000
MAX_SCALE = 100.0
MAX_CLIP = 1e6
HIST_LAYERS = 8  # layers shown in the ridgeline histograms
HIST_BINS = 40
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu")
OPTIMIZERS = ("sgd", "adam")


# ------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class FlowConfig:
    """One network to inspect: ``depth`` weight layers of ``width`` units (see module doc).

    ``scale`` is the init gain (σ of "normal", c of "identity", the multiplier of he/xavier);
    ``clip`` is the global gradient-norm cap (0 = off).
    """

    depth: int = 20
    width: int = 64
    activation: str = "relu"
    init: str = "he_normal"
    scale: float = 1.0
    residual: bool = False
    clip: float = 0.0

    def label(self) -> str:
        """Short legend text, e.g. ``sigmoid · normal σ=0.1 · 20×64 · residual``."""
        sym = {"normal": "σ", "uniform": "a", "identity": "c"}.get(self.init, "×")
        init = (
            self.init if self.scale == 1.0 and sym == "×" else f"{self.init} {sym}={self.scale:g}"
        )
        if self.init == "identity":
            init = f"W={self.scale:g}·I"
        parts = [self.activation, init, f"{self.depth}×{self.width}"]
        if self.residual:
            parts.append("residual")
        if self.clip > 0:
            parts.append(f"clip {self.clip:g}")
        return " · ".join(parts)


@dataclass(frozen=True)
class DataSpec:
    """The batch every configuration sees: dataset, batch size and seed (weights and data)."""

    dataset: str = "moons"
    batch: int = 256
    seed: int = 0


def slot_knobs(i: int, default: FlowConfig) -> tuple[Knob, ...]:
    """URL/widget knobs of configuration slot ``i`` (1-based): ``act1, init1, c1, ...``."""
    return (
        Knob(f"act{i}", "Activation", "choice", default.activation, choices=ACTIVATIONS),
        Knob(f"init{i}", "Initialization", "choice", default.init, choices=tuple(_inits.INITS)),
        Knob(
            f"c{i}",
            "Init scale",
            "float",
            default.scale,
            lo=0.0,
            hi=MAX_SCALE,
            step=0.1,
            help="σ for normal, c for c·I, a for uniform, a multiplier for the others.",
        ),
        Knob(
            f"depth{i}",
            "Depth L",
            "int",
            default.depth,
            lo=1,
            hi=MAX_DEPTH,
            cap=True,
            help=f"Number of weight layers (1-{MAX_DEPTH}).",
        ),
        Knob(
            f"width{i}",
            "Width",
            "int",
            default.width,
            lo=1,
            hi=MAX_WIDTH,
            cap=True,
            help=f"Units per hidden layer (1-{MAX_WIDTH}).",
        ),
        Knob(f"res{i}", "Residual connections", "bool", default.residual),
        Knob(
            f"clip{i}",
            "Gradient clipping (0 = off)",
            "float",
            default.clip,
            lo=0.0,
            hi=MAX_CLIP,
            step=0.5,
            help="Global-norm cap c: g ← g·min(1, c/‖g‖).",
        ),
    )


def config_from(values: dict, i: int) -> FlowConfig:
    """The :class:`FlowConfig` of slot ``i`` from sanitized knob ``values``."""
    return FlowConfig(
        depth=int(values[f"depth{i}"]), width=int(values[f"width{i}"]),
        activation=values[f"act{i}"], init=values[f"init{i}"], scale=float(values[f"c{i}"]),
        residual=bool(values[f"res{i}"]), clip=float(values[f"clip{i}"]),
    )  # fmt: skip


def config_values(cfg: FlowConfig, i: int) -> dict:
    """Inverse of :func:`config_from`: ``{knob key: value}`` for slot ``i``."""
    return {
        f"act{i}": cfg.activation, f"init{i}": cfg.init, f"c{i}": float(cfg.scale),
        f"depth{i}": int(cfg.depth), f"width{i}": int(cfg.width), f"res{i}": bool(cfg.residual),
        f"clip{i}": float(cfg.clip),
    }  # fmt: skip


# The comparison, "sigmoid+normal vs relu+he vs tanh+xavier", then a fourth slot.
SLOT_DEFAULTS = (
    FlowConfig(activation="sigmoid", init="normal", scale=0.1),
    FlowConfig(activation="relu", init="he_normal"),
    FlowConfig(activation="tanh", init="xavier_normal"),
    FlowConfig(activation="leaky_relu", init="he_normal"),
)

GLOBAL_KNOBS: tuple[Knob, ...] = (
    Knob("n", "Configurations", "int", 3, lo=1, hi=MAX_CONFIGS, cap=True,
         help=f"How many configurations to overlay (up to {MAX_CONFIGS})."),
    Knob("data", "Dataset", "choice", "moons", choices=tuple(DATASETS)),
    Knob("batch", "Batch at init", "int", 256, lo=1, hi=MAX_BATCH, cap=True,
         help="Samples in the batch measured at initialization."),
    Knob("seed", "Seed", "int", 0, lo=0, hi=2**31 - 1, help="Seeds the weights and the data."),
    Knob("steps", "Training steps", "int", 200, lo=1, hi=MAX_STEPS, cap=True),
    Knob("tbatch", "Training batch size", "int", 32, lo=1, hi=MAX_BATCH, cap=True,
         help="Samples per training minibatch."),
    Knob("opt", "Optimizer", "choice", "sgd", choices=OPTIMIZERS),
    Knob("lr", "Learning rate", "float", 0.05, lo=1e-6, hi=10.0, log=True),
)  # fmt: skip


def all_knobs(n: int) -> tuple[Knob, ...]:
    """Every knob of the page with ``n`` configuration slots."""
    slots = [k for i in range(1, n + 1) for k in slot_knobs(i, SLOT_DEFAULTS[i - 1])]
    return (*GLOBAL_KNOBS, *slots)


@dataclass(frozen=True)
class Preset:
    """A one-click setup from the course notes: the configurations to load and why."""

    name: str
    configs: tuple[FlowConfig, ...]
    story: str


_SIG_SMALL = FlowConfig(activation="sigmoid", init="normal", scale=0.1)
_RELU_BIG = FlowConfig(activation="relu", init="normal", scale=1.0)
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("Linear W = 1.5·I", (FlowConfig(50, 32, "linear", "identity", 1.5),),
               "Y = W[L]···W[1]X with W = 1.5·I: gradients grow as 1.5^(L-l) toward the input."),
        Preset("Linear W = 0.5·I", (FlowConfig(50, 32, "linear", "identity", 0.5),),
               "W = 0.5·I: gradients shrink as 0.5^(L-l) toward the input."),
        Preset("Deep sigmoid, small init", (_SIG_SMALL,),
               "σ' ≤ 0.25 and small weights: each layer multiplies the gradient by < 1."),
        Preset("ReLU, large init", (_RELU_BIG,),
               "N(0, 1) weights on 64 units: each layer multiplies the signal by ~√32."),
        Preset("ReLU, huge init (overflow)", (replace(_RELU_BIG, depth=200, scale=10.0),),
               "σ = 10 over 200 layers: activations pass 1.8e308 and overflow float64."),
        Preset("Fix: He init", (_RELU_BIG, replace(_RELU_BIG, init="he_normal")),
               "He init, Var(W) = 2/fan_in, keeps the ReLU signal's scale layer to layer."),
        Preset("Fix: Xavier for tanh",
               (FlowConfig(activation="tanh", init="normal"),
                FlowConfig(activation="tanh", init="xavier_normal")),
               "Xavier init, Var(W) = 2/(fan_in+fan_out), keeps tanh out of saturation."),
        Preset("Fix: residual", (_SIG_SMALL, replace(_SIG_SMALL, residual=True)),
               "Skips add an identity path: ∂L/∂h_l = ∂L/∂h_{l+1} + (branch)."),
        Preset("Fix: clipping", (_RELU_BIG, replace(_RELU_BIG, clip=1.0)),
               "Clipping caps the update's size; the profile's shape stays."),
        Preset("Compare the classics", SLOT_DEFAULTS[:3],
               "sigmoid + normal vs relu + He vs tanh + Xavier."),
    )
}  # fmt: skip

"""Gradient flow through depth: configurations, at-init profiles, theory curves, verdicts.

The Gradient-flow page compares up to :data:`MAX_CONFIGS` networks. Each :class:`FlowConfig`
is an MLP of ``depth`` = L weight layers (``L - 1`` hidden layers of ``width`` units, the
notes' ``Y = W[L] ... W[1] X``). :func:`profile` runs ONE forward/backward pass at
initialization on a batch and returns, per layer l = 1..L (1-based, as the notes count)::

    weight_grad[l] = ‖∂L/∂W_l‖_F          (after global-norm clipping when clip > 0)
    act_grad[l]    = ‖∂L/∂a_l‖_F          (signal at layer l's output; l = L is ∂L/∂Y)

and per hidden layer the activation std, saturated fraction and dead-ReLU fraction
(:func:`engine.diagnostics.activation_stats`), plus shared-bin histograms of a few layers'
activations and back-propagated gradients (as Glorot & Bengio 2010, figs. 6-7).

Theory (:class:`Theory`), drawn over the measurement where one exists:

* linear net, ``W_l = c·I`` (width >= output width): backprop multiplies by ``W_lᵀ = c·I``
  per layer, so exactly ``‖∂L/∂a_l‖ = c^(L-l) ‖∂L/∂Y‖``, and since ``h_l = c^(l-1) X`` (padded),
  ``‖∂L/∂W_l‖ = c^(L-1) ‖Xᵀ ∂L/∂Y‖`` at every layer (flat, at a level that explodes or
  vanishes with depth);
* sigmoid (no skips): ``∂L/∂a_{l-1} = (∂L/∂a_l ⊙ σ'(z_l)) W_lᵀ`` with ``σ' <= 1/4``, so
  ``‖∂L/∂a_{l-1}‖ <= (1/4)·‖W_l‖₂·‖∂L/∂a_l‖``: an upper bound that shrinks geometrically
  whenever ``‖W_l‖₂ < 4`` (spectral norms by batched SVD).

Overflow: float64 tops out at 1.8e308. A forward activation or a gradient that overflows is
reported as ``overflow_layer`` (1-based) with where it happened; the non-finite entries are
NaN in the arrays and never reach a chart as numbers. Norms of huge-but-finite arrays are
computed with rescaling, so 1e200-sized activations do not overflow in ``Σa²``.

:class:`FlowTraining` trains the configurations side by side as one background-job task
(:mod:`engine.jobs`), recording per-step per-layer gradient norms (the trainer's
``record_grad_norms``) for the layer x step heatmap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine import diagnostics as _diag
from engine import inits as _inits
from engine import losses as _losses
from engine.datasets import DATASETS, Dataset, make_dataset
from engine.knobs import Knob
from engine.nn import MLP
from engine.trainer import MAX_DEPTH, MAX_WIDTH, Config, Trainer

MAX_CONFIGS = 4
MAX_BATCH = 1024
MAX_STEPS = 2000
MAX_SCALE = 100.0
MAX_CLIP = 1e6
HIST_LAYERS = 8  # layers shown in the ridgeline histograms
HIST_BINS = 40
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu")
OPTIMIZERS = ("sgd", "adam")

# Verdict thresholds (data, not scattered ifs): input-end / output-end gradient ratio.
VANISH_RATIO = 1e-2
EXPLODE_RATIO = 1e2
DEAD_FRACTION = 0.5
SATURATED_FRACTION = 0.3


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
         help="Samples in the at-init batch and in each training minibatch."),
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


# ------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class LayerHistograms:
    """Shared-bin histograms of a few layers (1-based ``layers``) of one configuration."""

    layers: tuple[int, ...]
    activations: tuple  # engine.diagnostics.Histogram per layer (hidden output h_l)
    gradients: tuple  # Histogram per layer of ∂L/∂a_l
    act_bins: _diag.Bins
    grad_bins: _diag.Bins


@dataclass(frozen=True)
class Theory:
    """A theory curve over layers 1..L: ``kind`` "exact" or "bound", each ``(L,)`` or None."""

    kind: str
    label: str
    act_grad: np.ndarray
    weight_grad: np.ndarray | None


@dataclass(frozen=True)
class Profile:
    """At-init per-layer measurements of one :class:`FlowConfig` (see the module docstring).

    ``weight_grad``, ``act_grad``: ``(L,)``; ``act_std``, ``saturated``, ``dead``: ``(L-1,)``
    (NaN where undefined or non-finite). ``overflow_layer`` is 1-based or None and
    ``overflow_where`` is "forward" or "backward". ``clip_factor`` = the clipping multiplier.
    ``forward_norm``: ``(L,)`` ‖h_l‖ of each layer's output, kept only after an overflow (so
    the page can show the forward blow-up where no gradient exists), else None.
    """

    config: FlowConfig
    loss: float
    weight_grad: np.ndarray
    weight_grad_raw: np.ndarray
    act_grad: np.ndarray
    act_std: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    overflow_layer: int | None
    overflow_where: str | None
    clip_factor: float
    theory: Theory | None
    hist: LayerHistograms | None
    forward_norm: np.ndarray | None = None

    @property
    def layers(self) -> np.ndarray:
        return np.arange(1, self.config.depth + 1)


def safe_norm(a: np.ndarray) -> float:
    """‖a‖_F without overflow in Σa² for finite entries; NaN if any entry is non-finite."""
    flat = np.ravel(a)
    with np.errstate(all="ignore"):
        s = float(np.dot(flat, flat))
        if math.isfinite(s) and (s > 0 or not flat.size):
            return math.sqrt(s)
        m = float(np.max(np.abs(flat))) if flat.size else 0.0
        if not math.isfinite(m):
            return math.nan
        if m == 0.0:
            return 0.0
        scaled = flat / m
        return m * math.sqrt(float(np.dot(scaled, scaled)))


def _safe_std(a: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        s = float(np.std(a))
        if math.isfinite(s):
            return s
        m = float(np.max(np.abs(a)))
        return m * float(np.std(a / m)) if math.isfinite(m) and m > 0 else math.nan


def batch_of(spec: DataSpec) -> tuple[np.ndarray, np.ndarray, Dataset]:
    """``(X (B, d), y (B,), dataset)``: the first ``batch`` training rows (B <= n_train)."""
    ds_spec = DATASETS[spec.dataset]
    n = max(ds_spec.n_samples, math.ceil(spec.batch / 0.7) + 1)
    data = make_dataset(spec.dataset, n, None, spec.seed, 0.3)
    return data.X_train[: spec.batch], data.y_train[: spec.batch], data


def build_net(cfg: FlowConfig, data: Dataset, seed: int) -> tuple[MLP, str]:
    """The MLP of ``cfg`` for ``data`` and its loss name (cross-entropy or MSE)."""
    loss = "cross_entropy" if data.task == "classification" else "mse"
    sizes = (data.n_features, *([cfg.width] * (cfg.depth - 1)), data.n_outputs)
    net = MLP(sizes, cfg.activation, cfg.init, seed, cfg.scale, cfg.residual)
    return net, loss


def profile(cfg: FlowConfig, spec: DataSpec = DataSpec()) -> Profile:
    """One forward/backward pass at init; per-layer gradients, activation stats, theory."""
    X, y, data = batch_of(spec)
    net, loss_name = build_net(cfg, data, spec.seed)
    if data.task != "classification":
        y = y.reshape(-1, 1)
    L = net.n_layers
    with np.errstate(all="ignore"):
        out, cache = net.forward(X)
        loss, dout = _losses.get(loss_name)(out, y)
        g = net.backward(cache, dout)
    finite = np.array([bool(np.isfinite(h).all()) for h in (*cache.hidden, out)])
    w_raw = np.array([safe_norm(w) for w in g.weights])
    a_grad = np.array([safe_norm(a) for a in g.activations])
    over, where = None, None
    bad_fwd = np.flatnonzero(~finite)
    if bad_fwd.size:
        over, where = int(bad_fwd[0]) + 1, "forward"
    else:
        bad_bwd = np.flatnonzero(~np.isfinite(a_grad) | ~np.isfinite(w_raw))
        if bad_bwd.size:
            over, where = int(bad_bwd[-1]) + 1, "backward"
    factor = 1.0
    if cfg.clip > 0 and over is None:
        total = math.sqrt(float(np.sum(w_raw**2)) + sum(safe_norm(b) ** 2 for b in g.biases))
        factor = min(1.0, cfg.clip / (total + 1e-6)) if math.isfinite(total) else 1.0
    with np.errstate(all="ignore"):
        stats = _diag.activation_stats(cache.activations, cfg.activation, cache.pre_activations)
        std = np.array([_safe_std(h) for h in cache.hidden])  # of h_l: after the skip
    return Profile(
        config=cfg,
        loss=float(loss),
        weight_grad=w_raw * factor,
        weight_grad_raw=w_raw,
        act_grad=a_grad,
        act_std=std,
        saturated=stats.saturated,
        dead=stats.dead,
        overflow_layer=over,
        overflow_where=where,
        clip_factor=factor,
        theory=None if over else theory(cfg, net, X, g, a_grad[-1], factor),
        hist=_histograms(cache.hidden, g.activations[:-1]) if L > 1 else None,
        forward_norm=np.array([safe_norm(h) for h in (*cache.hidden, out)]) if over else None,
    )


def theory(cfg: FlowConfig, net: MLP, X: np.ndarray, g, out_norm: float, factor: float = 1.0):
    """The :class:`Theory` for ``cfg`` (see the module docstring), or None where none applies."""
    L = cfg.depth
    k = np.arange(1, L + 1)
    if cfg.activation == "linear" and cfg.init == "identity" and not cfg.residual:
        if L > 1 and cfg.width < net.sizes[-1]:
            return None  # c·I truncated to fewer units than outputs: no clean power law
        c = cfg.scale
        act = out_norm * c ** (L - k).astype(np.float64)
        weight = None
        if L == 1 or cfg.width >= X.shape[1]:  # the input is padded, not truncated
            xt_dout = safe_norm(X.T @ g.activations[-1])
            weight = np.full(L, c ** (L - 1) * xt_dout * factor)
        return Theory("exact", f"theory: c^(L-l) with c = {c:g}", act, weight)
    if cfg.activation == "sigmoid" and not cfg.residual and L > 1:
        hidden = net.weights[1:-1]  # W_2..W_{L-1}: square hidden-to-hidden maps
        spec = _spectral_norms(np.stack(hidden)) if hidden else np.empty(0)
        # ∂L/∂a_{L-1} = ∂L/∂Y W_Lᵀ (no σ'), then ¼·‖W_l‖₂ per sigmoid layer below it
        gains = np.concatenate([0.25 * spec, [np.linalg.norm(net.weights[-1], 2)]])
        bound = np.empty(L)
        bound[-1] = out_norm
        bound[:-1] = out_norm * np.cumprod(gains[::-1])[::-1]
        return Theory("bound", "bound: ¼·‖W_l‖₂ per layer", bound, None)
    return None


def _spectral_norms(W: np.ndarray) -> np.ndarray:
    """``(k,)`` largest singular values of a stack ``(k, n, n)``: sqrt(λ_max(WᵀW)).

    The Gram matrices' symmetric eigensolver is faster than an SVD of ``W`` and as accurate
    for the top singular value (relative error ~1e-15).
    """
    gram = np.matmul(W.transpose(0, 2, 1), W)
    return np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))


def _histograms(hidden: Sequence[np.ndarray], grads: Sequence[np.ndarray]):
    n = len(hidden)
    picks = np.unique(np.linspace(0, n - 1, min(HIST_LAYERS, n)).round().astype(int))
    acts = [np.asarray(hidden[i]) for i in picks]
    grs = [np.asarray(grads[i]) for i in picks]
    with np.errstate(all="ignore"):
        ab = _diag.shared_bins(acts, HIST_BINS, (0.5, 99.5))
        gb = _diag.shared_bins(grs, HIST_BINS, (0.5, 99.5), symmetric=True)
        return LayerHistograms(
            layers=tuple(int(i) + 1 for i in picks),
            activations=tuple(_diag.histogram(a, ab) for a in acts),
            gradients=tuple(_diag.histogram(a, gb) for a in grs),
            act_bins=ab,
            grad_bins=gb,
        )


# ------------------------------------------------------------------------- diagnosis
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


# ------------------------------------------------------------------------- training
def train_config(cfg: FlowConfig, spec: DataSpec, steps: int, optimizer: str, lr: float):
    """The :class:`engine.trainer.Config` that trains ``cfg`` for (at least) ``steps`` steps."""
    n = max(DATASETS[spec.dataset].n_samples, math.ceil(spec.batch / 0.7) + 1)
    per_epoch = math.ceil(round(n * 0.7) / spec.batch)
    return Config(
        dataset=spec.dataset, n_samples=n, data_seed=spec.seed,
        hidden=(cfg.width,) * (cfg.depth - 1),
        activation=cfg.activation, init=cfg.init, init_scale=cfg.scale, residual=cfg.residual,
        optimizer=optimizer, hparams={"lr": lr}, grad_clip=cfg.clip or None,
        epochs=max(1, math.ceil(steps / per_epoch)), batch_size=spec.batch, seed=spec.seed,
        record_grad_norms=True,
    )  # fmt: skip


@dataclass(frozen=True)
class TrainingView:
    """What :meth:`FlowTraining.publish` returns: labels and one History per configuration."""

    labels: tuple[str, ...]
    histories: tuple
    steps: int


class FlowTraining:
    """Train several configurations in lockstep for exactly ``steps`` steps (a job task).

    ``publish()`` returns a :class:`TrainingView`; a configuration that diverges stops alone
    (its heatmap row ends there) and the others go on.
    """

    def __init__(self, configs, spec: DataSpec, steps: int, optimizer: str = "sgd", lr=0.05):
        self.labels = tuple(c.label() for c in configs)
        first = Trainer(train_config(configs[0], spec, steps, optimizer, lr))
        self.trainers = [first] + [
            Trainer(train_config(c, spec, steps, optimizer, lr), dataset=first.data)
            for c in configs[1:]
        ]
        self.steps = int(steps)
        self.total_steps = self.steps * len(self.trainers)

    def _left(self, t: Trainer) -> bool:
        return not t.done and t.steps_done < self.steps

    @property
    def steps_done(self) -> int:
        return sum(t.steps_done if self._left(t) else self.steps for t in self.trainers)

    @property
    def epoch(self) -> int:
        return max(t.epoch for t in self.trainers)

    @property
    def done(self) -> bool:
        return not any(self._left(t) for t in self.trainers)

    @property
    def divergence(self) -> str | None:
        msgs = [t.divergence for t in self.trainers]
        return "; ".join(msgs) if all(msgs) else None

    def step(self) -> None:
        for t in self.trainers:
            if self._left(t):
                t.step()

    def publish(self) -> TrainingView:
        return TrainingView(self.labels, tuple(t.publish() for t in self.trainers), self.steps)

"""Gradient flow through depth: at-init profiles, theory curves, verdicts.

The Gradient-flow page compares up to :data:`MAX_CONFIGS` networks. Each :class:`FlowConfig`
(:mod:`engine.gradflow_presets`) is an MLP of ``depth`` = L weight layers (``L - 1`` hidden
layers of ``width`` units, the notes' ``Y = W[L] ... W[1] X``). :func:`profile` runs ONE
forward/backward pass at initialization on a batch and returns, per layer l = 1..L (1-based,
as the notes count)::

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
  whenever ``‖W_l‖₂ < 4``. The spectral norms are exact (the top eigenvalue of ``W_lᵀW_l``).

Overflow: float64 tops out at 1.8e308. A forward activation or a gradient that overflows is
reported as ``overflow_layer`` (1-based) with where it happened; the non-finite entries are
NaN in the arrays and never reach a chart as numbers. Norms of huge-but-finite arrays are
computed with rescaling, so 1e200-sized activations do not overflow in ``Σa²``.

Speed (the page waits for this): :func:`profiles` measures several configurations at once on
a thread pool (NumPy releases the GIL in matrix products and large ufuncs; one BLAS thread
each, see :func:`profiles`), runs a sigmoid net's spectral norms as a task of their own (they
need the weights only), and lets configurations with the same seed and layer shapes share
their standard-normal weight draws (normal, lecun, xavier_normal and he_normal all scale the
same ``z``). Results are bitwise
those of one configuration at a time, and are kept in a small LRU memo (:data:`MEMO_SIZE`), so
adding a configuration to a page measures only the new one.

Verdicts and fixes are in :mod:`engine.gradflow_verdicts`, training in
:mod:`engine.gradflow_training`; both are re-exported here, so a page imports one module.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from engine import blas
from engine import diagnostics as _diag
from engine import inits as _inits
from engine import losses as _losses
from engine.activations import DEFAULT_LEAKY_SLOPE
from engine.datasets import DATASETS, Dataset, make_dataset
from engine.gradflow_presets import (
    ACTIVATIONS,
    GLOBAL_KNOBS,
    MAX_BATCH,
    MAX_CLIP,
    MAX_CONFIGS,
    MAX_SCALE,
    MAX_STEPS,
    OPTIMIZERS,
    PRESETS,
    SLOT_DEFAULTS,
    DataSpec,
    FlowConfig,
    Preset,
    all_knobs,
    config_from,
    config_values,
    slot_knobs,
)
from engine.gradflow_training import FlowTraining, TrainingView, train_config
from engine.gradflow_verdicts import Fix, Verdict, diagnose, healthier, measured_fixes
from engine.nn import MLP
from engine.trainer import MAX_DEPTH, MAX_WIDTH

__all__ = [
    "ACTIVATIONS", "GLOBAL_KNOBS", "MAX_BATCH", "MAX_CLIP", "MAX_CONFIGS", "MAX_SCALE",
    "MAX_STEPS", "MAX_DEPTH", "MAX_WIDTH", "OPTIMIZERS", "PRESETS", "SLOT_DEFAULTS",
    "DataSpec", "FlowConfig", "Preset",
    "all_knobs", "config_from", "config_values", "slot_knobs",
    "FlowTraining", "TrainingView", "train_config",
    "Profile", "Theory", "LayerHistograms", "Fix", "Verdict",
    "profile", "profiles", "theory", "diagnose", "healthier", "measured_fixes", "verdicts",
    "safe_norm", "batch_of", "build_net", "Draws",
    "SCALED_NORMAL", "MEMO_SIZE",
]  # fmt: skip

HIST_LAYERS = 8  # layers shown in the ridgeline histograms
HIST_BINS = 40
MEMO_SIZE = 64  # profiles kept for reuse (each is a few KB: per-layer vectors, 8 histograms)
# Initializers whose weights are z · std(fan_in, fan_out, gain, slope), z standard normal
# drawn from engine.inits.layer_rng(seed, layer): they can share z (see build_net).
SCALED_NORMAL = ("normal", "lecun", "xavier_normal", "he_normal")

DEFAULT_SPEC = DataSpec()


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


class Draws:
    """Standard-normal draws ``z`` per ``(layer, shape)`` for one seed, drawn once, shared.

    ``get`` is thread-safe: the first caller draws (``layer_rng(seed, layer)``, the stream
    :func:`engine.inits.init_weight` uses), later callers get the same read-only array.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._z: dict[tuple, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, layer: int, shape: tuple[int, int]) -> np.ndarray:
        with self._lock:
            z = self._z.get((layer, shape))
            if z is None:
                z = _inits.layer_rng(self.seed, layer).standard_normal(shape)
                z.flags.writeable = False
                self._z[(layer, shape)] = z
            return z


def build_net(
    cfg: FlowConfig, data: Dataset, seed: int, draws: Draws | None = None
) -> tuple[MLP, str]:
    """The MLP of ``cfg`` for ``data`` and its loss name (cross-entropy or MSE).

    With ``draws``, a :data:`SCALED_NORMAL` init fills ``W_l = z_l · std`` from the shared
    draws, bitwise the weights ``MLP(..., init=cfg.init)`` draws itself (``rng.normal(0, s)``
    is ``0 + s·z`` on the same stream); other inits always draw their own.
    """
    loss = "cross_entropy" if data.task == "classification" else "mse"
    sizes = (data.n_features, *([cfg.width] * (cfg.depth - 1)), data.n_outputs)
    if draws is None or cfg.init not in SCALED_NORMAL:
        return MLP(sizes, cfg.activation, cfg.init, seed, cfg.scale, cfg.residual), loss
    net = MLP(sizes, cfg.activation, "zeros", seed, cfg.scale, cfg.residual)
    net.init = cfg.init
    slope = DEFAULT_LEAKY_SLOPE if cfg.activation == "leaky_relu" else 0.0
    std = _inits.TARGET_STD[cfg.init]
    for i, w in enumerate(net.weights):
        s = std(w.shape[0], w.shape[1], float(cfg.scale), slope)
        np.multiply(draws.get(i, w.shape), s, out=w)
    return net, loss


_MEMO: OrderedDict[tuple[FlowConfig, DataSpec], Profile] = OrderedDict()
_MEMO_LOCK = threading.Lock()


def profile(cfg: FlowConfig, spec: DataSpec = DEFAULT_SPEC) -> Profile:
    """One forward/backward pass at init; per-layer gradients, activation stats, theory."""
    return profiles((cfg,), spec)[0]


def profiles(
    configs: Sequence[FlowConfig],
    spec: DataSpec = DEFAULT_SPEC,
    *,
    parallel: bool = True,
    memo: bool = True,
) -> tuple[Profile, ...]:
    """:func:`profile` of each configuration, measured concurrently (see the module docstring).

    Work is split into tasks (one per configuration, plus one per sigmoid net for its spectral
    norms) on ``min(cores, tasks)`` threads, each with ONE OpenBLAS thread
    (:func:`engine.blas.threads`, restored afterwards). Multithreaded BLAS would speed a lone
    configuration up on an idle machine, but on a shared one its threads wait for each other:
    ``python -m bench.gradients`` measured 256^3 products 6.7x SLOWER on two BLAS threads than
    on one while another process used a core; Python threads just share the cores.
    ``parallel=False`` measures one configuration after the other on the calling thread with
    the BLAS threads as they are and no shared draws (the reference the benchmark compares
    with); ``memo=False`` neither reads nor fills the memo. Same numbers either way.
    """
    configs = tuple(configs)
    known = {}
    if memo:
        with _MEMO_LOCK:
            known = {c: _MEMO[(c, spec)] for c in configs if (c, spec) in _MEMO}
            for c in known:
                _MEMO.move_to_end((c, spec))
    todo = tuple(dict.fromkeys(c for c in configs if c not in known))
    big = tuple(c for c in todo if parallel and memo and remote_work(c, spec) > REMOTE_WORK)
    if big:  # off the server's GIL, once per process however many sessions ask (engine.jobs)
        from engine.result_cache import canonical_key, shared_compute

        def remote(c: FlowConfig) -> Profile:
            key = canonical_key("gradflow.profile", c, spec)
            return shared_compute(key, _profile_here, c, spec)

        with ThreadPoolExecutor(len(big)) as waiters:  # threads that only wait on futures
            known.update(zip(big, waiters.map(remote, big), strict=True))
        todo = tuple(c for c in todo if c not in known)
    if not todo:
        return tuple(known[c] for c in configs)
    X, y, data = batch_of(spec)
    if parallel:
        draws = Draws(spec.seed)
        cores = os.cpu_count() or 1
        tasks = len(todo) + sum(_has_sigmoid_bound(c) for c in todo)
        workers = max(1, min(cores, tasks))
        with blas.threads(1), ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(_measure, c, X, y, data, spec.seed, draws, pool) for c in todo]
            fresh = [f.result() for f in futures]
    else:
        fresh = [_measure(c, X, y, data, spec.seed, None, None) for c in todo]
    known.update(zip(todo, fresh, strict=True))
    if memo:
        with _MEMO_LOCK:
            for c, p in zip(todo, fresh, strict=True):
                _MEMO[(c, spec)] = p
            while len(_MEMO) > MEMO_SIZE:
                _MEMO.popitem(last=False)
    return tuple(known[c] for c in configs)


REMOTE_WORK = 2e9
"""At-init profiles with more multiply-adds than this (depth x width² x batch; ~1 s here)
run on the executor seam (a worker process or Dask), deduplicated across sessions."""


def remote_work(cfg: FlowConfig, spec: DataSpec) -> float:
    """Multiply-adds of one forward pass, the size measure for :data:`REMOTE_WORK`."""
    return float(cfg.depth) * cfg.width * cfg.width * spec.batch


def _profile_here(cfg: FlowConfig, spec: DataSpec) -> Profile:
    """One profile measured in this process (what a worker runs for :func:`profiles`)."""
    return profiles((cfg,), spec, parallel=False, memo=False)[0]


def verdicts(
    configs: Sequence[FlowConfig], spec: DataSpec = DEFAULT_SPEC
) -> tuple[tuple[Profile, Verdict], ...]:
    """``(profile, verdict)`` per configuration, each verdict's fixes measured first.

    Every candidate fix's network is profiled at init (all of them in one :func:`profiles`
    call, memoized) and only the fixes that :func:`engine.gradflow_verdicts.healthier` keeps
    are offered, each with its predicted verdict.
    """
    from dataclasses import replace as _replace

    profs = profiles(configs, spec)
    raw = [diagnose(p) for p in profs]
    candidates = tuple(dict.fromkeys(f.config for v in raw for f in v.fixes))
    known = dict(zip(candidates, profiles(candidates, spec), strict=True)) if candidates else {}

    def measure(cfgs):
        return [known[c] for c in cfgs]

    return tuple(
        (p, _replace(v, fixes=measured_fixes(v, measure))) for p, v in zip(profs, raw, strict=True)
    )


def _has_sigmoid_bound(cfg: FlowConfig) -> bool:
    return cfg.activation == "sigmoid" and not cfg.residual and cfg.depth > 1


def _measure(cfg, X, y, data, seed, draws, pool) -> Profile:
    """The :class:`Profile` of one configuration (runs on a worker thread of :func:`profiles`)."""
    net, loss_name = build_net(cfg, data, seed, draws)
    spectral = None
    if pool is not None and _has_sigmoid_bound(cfg) and cfg.depth > 2:
        spectral = pool.submit(_spectral_norms, net.weights[1:-1])
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
    if spectral is not None:
        # run it here if no worker has picked it up yet (never wait on a queued task: with
        # every worker waiting like this, nothing would run it)
        spectral = _spectral_norms(net.weights[1:-1]) if spectral.cancel() else spectral.result()
    th = None if over else theory(cfg, net, X, g, a_grad[-1], factor, spectral)
    return _frozen_profile(
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
        theory=th,
        hist=_histograms(cache.hidden, g.activations[:-1]) if L > 1 else None,
        forward_norm=np.array([safe_norm(h) for h in (*cache.hidden, out)]) if over else None,
    )


def _frozen_profile(**fields) -> Profile:
    """A :class:`Profile` whose arrays are read-only (the memo shares it between sessions)."""
    for v in fields.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return Profile(**fields)


def theory(
    cfg: FlowConfig,
    net: MLP,
    X: np.ndarray,
    g,
    out_norm: float,
    factor: float = 1.0,
    spectral: np.ndarray | None = None,
) -> Theory | None:
    """The :class:`Theory` for ``cfg`` (see the module docstring), or None where none applies.

    ``spectral``: ``‖W_l‖₂`` of the hidden-to-hidden weights ``W_2..W_{L-1}`` if already known.
    """
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
    if _has_sigmoid_bound(cfg):
        if spectral is None:
            spectral = _spectral_norms(net.weights[1:-1])  # W_2..W_{L-1}: square hidden maps
        # ∂L/∂a_{L-1} = ∂L/∂Y W_Lᵀ (no σ'), then ¼·‖W_l‖₂ per sigmoid layer below it
        gains = np.concatenate([0.25 * spectral, [np.linalg.norm(net.weights[-1], 2)]])
        bound = np.empty(L)
        bound[-1] = out_norm
        bound[:-1] = out_norm * np.cumprod(gains[::-1])[::-1]
        return Theory("bound", "bound: ¼·‖W_l‖₂ per layer", bound, None)
    return None


def _spectral_norms(weights: Sequence[np.ndarray]) -> np.ndarray:
    """``(k,)`` largest singular values of ``k`` square matrices: sqrt(λ_max(WᵀW)).

    The Gram matrices' symmetric eigensolver is faster than an SVD of ``W`` and as accurate
    for the top singular value (relative error ~1e-15).
    """
    if not len(weights):
        return np.empty(0)
    n = weights[0].shape[1]
    gram = np.empty((len(weights), n, n))
    for w, out in zip(weights, gram, strict=True):
        np.matmul(w.T, w, out=out)
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

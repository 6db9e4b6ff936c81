"""The optimizer race: several optimizer entries descend one 2D surface, side by side.

A race is a list of :class:`Entry` (the same optimizer may appear twice with different
settings) run from one start ``(2,)`` or, vectorized, from a batch of starts ``(*batch, 2)``.
Each entry gets ONE optimizer object that updates the whole batch at once with its in-place
``step_``; the only Python loop is over steps (each iteration is O(1) ufunc calls).

Per step ``t = 0 .. T-1`` and entry ``e``::

    g_t      = ∇f(θ_t) + σ·ξ_t,   ξ_t ~ N(0, I) from default_rng((seed, e))
    θ_{t+1}  = optimizer_e.step_(θ_t, g_t)

Divergence: a start whose position, loss or gradient becomes non-finite, or that gets more
than ``DIVERGE_WIDTHS`` domain widths away from the domain box (in x or in y), is frozen at its last
good point (path, loss and gradient norm repeat) and flagged with the step ``k`` at which it
went bad; the other starts and entries go on. No non-finite number reaches a result array.

Vectorized sweeps: hyperparameters may be NumPy arrays (e.g. ``lr`` of shape ``(k, 1)``);
positions are broadcast to ``np.broadcast_shapes(starts.shape, *array_hparam_shapes)``, so
``k`` learning rates from ``k`` starts (or from one start) run in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine import optimizers
from engine.surfaces import Surface

DIVERGE_WIDTHS = 10.0
"""A run farther than this many domain widths from the domain box has diverged."""

DEFAULT_STEPS = 500
"""Default number of steps of a race (the race page's default)."""

STALL_FRACTION = 0.1
"""A run that is not within ``tol`` of a minimum and moved less than ``tol`` over the last
``STALL_FRACTION`` of its steps is reported as "stalled"."""

MOMENTUM_KEYS = ("momentum_buffer", "exp_avg")
SECOND_MOMENT_KEYS = ("exp_avg_sq", "square_avg", "sum")


@dataclass(frozen=True)
class Entry:
    """One racer: a display label, an optimizer registry name and its hyperparameters."""

    label: str
    optimizer: str
    hparams: dict = field(default_factory=dict)


@dataclass
class EntryResult:
    """What one entry did, for every start. ``batch`` is the broadcast batch shape.

    Attributes:
        path: ``(steps+1, *batch, 2)`` positions θ_0..θ_T (frozen after divergence).
        loss: ``(steps+1, *batch)`` f(θ_t), finite everywhere.
        grad_norm: ``(steps+1, *batch)`` ‖∇f(θ_t)‖ (noise-free), finite everywhere.
        diverged_at: ``(*batch,)`` int, the first step whose point was bad; -1 = never.
        steps_to_tol: ``(*batch,)`` int, first step within ``tol`` of a global minimum; -1 = never.
        final_loss: ``(*batch,)`` f at the last recorded point.
        dist_to_min: ``(*batch,)`` distance of the last point to the nearest global minimum
            (``inf``-free: NaN never appears; ``np.inf`` only if the surface has no minima).
        nearest_min: ``(*batch,)`` int index into ``surface.minima`` (-1 if there are none).
        status: a sentence per start ("converged at step 41", "diverged at step 7", "stalled",
            "running"); a ``str`` for a single start, else nested lists shaped like ``batch``.
        state: with ``record_state=True``, ``(steps+1, *batch)`` arrays (index 0 is 0):
            ``update_norm`` ‖Δθ_t‖, ``effective_lr`` ‖Δθ_t‖/‖g_{t-1}‖ (g as the optimizer saw
            it), ``cos_descent`` cos∠(Δθ_t, -∇f(θ_{t-1})), and when the optimizer keeps them
            ``momentum_norm`` ‖b_t‖ (``momentum_buffer``/``exp_avg``) and ``second_moment``
            mean of ``exp_avg_sq``/``square_avg``/``sum``. ``None`` otherwise.
    """

    label: str
    optimizer: str
    hparams: dict
    path: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    diverged_at: np.ndarray
    steps_to_tol: np.ndarray
    final_loss: np.ndarray
    dist_to_min: np.ndarray
    nearest_min: np.ndarray
    status: Any
    state: dict[str, np.ndarray] | None = None


@dataclass
class RaceResult:
    """A finished race: the surface name, step count, starts as given, one result per entry."""

    surface: str
    steps: int
    starts: np.ndarray
    entries: list[EntryResult]
    tol: float = 1e-3
    noise_std: float = 0.0
    seed: int = 0


def _check_args(starts, steps, noise_std, tol) -> np.ndarray:
    try:
        starts = np.array(starts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"starts must be numbers of shape (2,) or (n, 2), got {starts!r}"
        ) from None
    if starts.ndim == 0 or starts.shape[-1] != 2:
        raise ValueError(f"starts must have shape (2,) or (..., 2), got {starts.shape}")
    if not np.all(np.isfinite(starts)):
        raise ValueError("starts must be finite")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"Invalid steps value: {steps!r} (expected an integer >= 0)")
    if not (np.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"Invalid noise_std value: {noise_std}")
    if not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"Invalid tol value: {tol}")
    return starts


def _array_shapes(hparams: dict) -> list[tuple[int, ...]]:
    shapes = []
    for value in hparams.values():
        for item in value if isinstance(value, tuple | list) else (value,):
            if isinstance(item, np.ndarray):
                shapes.append(item.shape)
    return shapes


def _state_get(state, keys):
    for key in keys:
        value = state.get(key) if isinstance(state, dict) else getattr(state, key, None)
        if isinstance(value, np.ndarray):
            return value
    return None


def _norm(v: np.ndarray) -> np.ndarray:
    """‖v‖ over the last axis, (..., 2) -> (...).

    √(x²+y²) rather than ``np.hypot`` (several times slower on big batches): it overflows to
    inf only for ‖v‖ > 1e154, which the race treats as divergence anyway.
    """
    x, y = v[..., 0], v[..., 1]
    return np.sqrt(x * x + y * y)


def _run_group(
    surface: Surface,
    group: list[tuple[int, Entry]],
    shape: tuple[int, ...],
    starts: np.ndarray,
    steps: int,
    noise_std: float,
    seed: int,
    tol: float,
    record_state: bool,
) -> list[EntryResult]:
    """Run entries whose positions share ``shape = (*batch, 2)``, stacked on a leading axis.

    Positions of all entries live in one ``(E, *batch, 2)`` array; each optimizer updates its
    own slice (a view) in place, and the surface, divergence and tolerance checks run once per
    step for the whole stack. Every operation is elementwise, so an entry's numbers do not
    depend on the other entries of its group.
    """
    n = len(group)
    batch = shape[:-1]
    opts = [optimizers.make(e.optimizer, **e.hparams) for _, e in group]
    pos = np.empty((n, *shape))
    pos[...] = starts
    views = [pos[i] for i in range(n)]
    states = [opt.init(v) for opt, v in zip(opts, views, strict=True)]
    rngs = [np.random.default_rng((seed, idx)) for idx, _ in group] if noise_std > 0 else None

    (x0, x1), (y0, y1) = surface.domain
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    reach = np.array([(x1 - x0) / 2, (y1 - y0) / 2]) + DIVERGE_WIDTHS * surface.width
    minima = [(float(mx), float(my)) for mx, my in surface.minima]
    tol2 = tol * tol

    path = np.empty((n, steps + 1, *shape))
    loss = np.empty((n, steps + 1, *batch))
    gnorm = np.empty((n, steps + 1, *batch))
    diverged_at = np.full((n, *batch), -1, dtype=np.int64)
    steps_to_tol = np.full((n, *batch), -1, dtype=np.int64)
    alive = np.ones((n, *batch), dtype=bool)
    recs = [_new_record(state, steps, batch) for state in states] if record_state else None

    prev_g = prev_used = None
    any_dead = False
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            g = surface.grad(pos)
            fv = surface.f(pos)
            gn = _norm(g)
            inside = np.abs(pos - center) <= reach  # False for NaN positions too
            ok = inside[..., 0] & inside[..., 1]
            ok &= np.isfinite(fv + gn)
            if not ok.all():
                np.copyto(diverged_at, t, where=alive & ~ok)
                alive &= ok
                any_dead = True
            path[:, t] = pos
            loss[:, t] = fv
            gnorm[:, t] = gn
            if any_dead:
                dead = ~alive
                if t == 0:  # a bad start: keep it (finite), clip its loss and gradient norm
                    big = np.finfo(np.float64).max
                    loss[:, 0] = np.nan_to_num(loss[:, 0], nan=big, posinf=big, neginf=-big)
                    gnorm[:, 0] = np.nan_to_num(gnorm[:, 0], nan=big, posinf=big)
                else:
                    np.copyto(path[:, t], path[:, t - 1], where=dead[..., None])
                    np.copyto(loss[:, t], loss[:, t - 1], where=dead)
                    np.copyto(gnorm[:, t], gnorm[:, t - 1], where=dead)
            if minima:
                hit = _near_any(path[:, t], minima, tol2)
                hit &= alive
                hit &= steps_to_tol < 0
                np.copyto(steps_to_tol, t, where=hit)
            if recs is not None and t > 0:
                for i in range(n):
                    _record(recs[i], t, path[i], prev_g[i], prev_used[i], states[i], alive[i])
            if t == steps:
                break
            used = g
            if rngs is not None:
                used = np.empty_like(g)
                for i, rng in enumerate(rngs):
                    rng.standard_normal(out=used[i])
                used *= noise_std
                used += g
            for opt, view, state, u in zip(opts, views, states, used, strict=True):
                opt.step_(view, u, state)
            if recs is not None:
                prev_g, prev_used = g, used

    final = path[:, -1]
    if minima:
        d2 = ((final[..., None, :] - np.array(minima)) ** 2).sum(axis=-1)
        nearest = d2.argmin(axis=-1)
        dist = np.sqrt(np.take_along_axis(d2, nearest[..., None], axis=-1)[..., 0])
    else:
        nearest = np.full((n, *batch), -1, dtype=np.int64)
        dist = np.full((n, *batch), np.inf)
    return [
        EntryResult(
            label=entry.label,
            optimizer=entry.optimizer,
            hparams=dict(entry.hparams),
            path=path[i],
            loss=loss[i],
            grad_norm=gnorm[i],
            diverged_at=diverged_at[i],
            steps_to_tol=steps_to_tol[i],
            final_loss=loss[i, -1].copy(),
            dist_to_min=dist[i],
            nearest_min=nearest[i],
            status=_status(path[i], diverged_at[i], steps_to_tol[i], tol, steps),
            state=recs[i] if recs is not None else None,
        )
        for i, (_, entry) in enumerate(group)
    ]


def _near_any(p: np.ndarray, minima: list[tuple[float, float]], tol2: float) -> np.ndarray:
    """Whether each point of ``p (..., 2)`` is within √tol2 of one of ``minima`` -> (...)."""
    x, y = p[..., 0], p[..., 1]
    hit = None
    for mx, my in minima:  # a handful of minima
        dx = x - mx
        dy = y - my
        dx *= dx
        dy *= dy
        dx += dy
        near = dx <= tol2
        hit = near if hit is None else hit | near
    return hit


def _new_record(state, steps: int, batch: tuple[int, ...]) -> dict[str, np.ndarray]:
    keys = ["update_norm", "effective_lr", "cos_descent"]
    if _state_get(state, MOMENTUM_KEYS) is not None:
        keys.append("momentum_norm")
    if _state_get(state, SECOND_MOMENT_KEYS) is not None:
        keys.append("second_moment")
    return {k: np.zeros((steps + 1, *batch)) for k in keys}


def _record(rec, t, path, g, used, state, alive) -> None:
    """Fill step ``t`` of one entry's inside-the-optimizer traces (frozen starts record 0).

    ``path`` is ``(steps+1, *batch, 2)``; ``g``/``used`` are the true and the noisy gradient
    at ``θ_{t-1}``, ``(*batch, 2)``.
    """
    delta = path[t] - path[t - 1]
    un = _norm(delta)
    gn, usedn = _norm(g), _norm(used)
    rec["update_norm"][t] = un
    rec["effective_lr"][t] = un / usedn
    rec["cos_descent"][t] = -(delta * g).sum(axis=-1) / (un * gn)
    if "momentum_norm" in rec:
        rec["momentum_norm"][t] = _norm(_state_get(state, MOMENTUM_KEYS))
    if "second_moment" in rec:
        rec["second_moment"][t] = _state_get(state, SECOND_MOMENT_KEYS).mean(axis=-1)
    for arr in rec.values():
        row = arr[t, ...]
        np.copyto(row, 0.0, where=~alive | ~np.isfinite(row))


def _status(path, diverged_at, steps_to_tol, tol, steps):
    """One sentence per start, shaped like the batch (a str for a single start)."""
    window = max(1, int(round(STALL_FRACTION * steps)))
    moved = _norm(path[-1] - path[max(0, steps - window)])
    out = np.empty(diverged_at.shape, dtype=object)
    for idx in np.ndindex(diverged_at.shape):  # bookkeeping only: one string per start
        if diverged_at[idx] >= 0:
            out[idx] = f"diverged at step {diverged_at[idx]}"
        elif steps_to_tol[idx] >= 0:
            out[idx] = f"converged at step {steps_to_tol[idx]}"
        elif steps > 0 and moved[idx] < tol:
            out[idx] = "stalled"
        else:
            out[idx] = "running"
    return out.tolist() if out.ndim else out[()]


def run_race(
    surface: Surface,
    entries: Sequence[Entry],
    starts,
    steps: int,
    *,
    noise_std: float = 0.0,
    seed: int = 0,
    tol: float = 1e-3,
    record_state: bool = False,
) -> RaceResult:
    """Race ``entries`` on ``surface`` from ``starts`` for ``steps`` steps.

    Args:
        surface: the objective (``f``, ``grad``, ``domain``, ``minima``).
        entries: the racers; entry ``e`` draws its gradient noise from
            ``default_rng((seed, e))``, so its noise does not depend on the other entries.
        starts: ``(2,)`` for one start, or ``(*batch, 2)`` (typically ``(n, 2)``).
        steps: number of optimizer steps T (paths have T+1 points).
        noise_std: σ of the Gaussian noise added to every gradient component.
        seed: noise seed; same inputs give bitwise-identical results.
        tol: Euclidean radius around a global minimum that counts as "converged".
        record_state: also record the inside-the-optimizer traces (see ``EntryResult.state``).

    Raises:
        ValueError: bad starts/steps/noise/tol, an unknown optimizer or an invalid
            hyperparameter (torch's message), or array hyperparameters that do not broadcast.
    """
    starts = _check_args(starts, steps, noise_std, tol)
    steps = int(steps)
    noise_std, seed, tol = float(noise_std), int(seed), float(tol)
    groups: dict[tuple[int, ...], list[tuple[int, Entry]]] = {}
    for i, entry in enumerate(entries):
        try:
            shape = np.broadcast_shapes(starts.shape, *_array_shapes(entry.hparams))
        except ValueError:
            raise ValueError(
                f"Entry {entry.label!r}: array hyperparameters do not broadcast with starts "
                f"of shape {starts.shape}"
            ) from None
        groups.setdefault(shape, []).append((i, entry))
    by_index: dict[int, EntryResult] = {}
    for shape, group in groups.items():
        results = _run_group(
            surface, group, shape, starts, steps, noise_std, seed, tol, record_state
        )
        by_index.update({i: r for (i, _), r in zip(group, results, strict=True)})
    results = [by_index[i] for i in range(len(entries))]
    return RaceResult(
        surface=surface.name,
        steps=steps,
        starts=starts,
        entries=results,
        tol=tol,
        noise_std=noise_std,
        seed=seed,
    )


# --- the default race ----------------------------------------------------------------------
DEFAULT_LABELS = ("SGD", "Momentum", "RMSProp", "Adagrad", "Adam")
"""The default racers, as labels of ``engine.optimizers.PRESETS`` (torch defaults but ``lr``)."""

# Learning rates per surface, in DEFAULT_LABELS order, for DEFAULT_STEPS steps from the
# surface's default start. Chosen from log-grid sweeps (the race's own lr-array mode) so that
# every entry moves visibly and they finish in a telling order, e.g. on rosenbrock:
# Momentum (f≈4e-3) < Adam (f≈1e-2) < RMSProp < SGD < Adagrad (stalls: its step shrinks as
# 1/√Σg²). SGD/Momentum rates sit below their divergence edge (rosenbrock: 3e-3).
DEFAULT_LRS: dict[str, tuple[float, float, float, float, float]] = {
    "rosenbrock": (1.5e-3, 1e-3, 1e-2, 0.5, 0.1),
    "beale": (1e-2, 6e-3, 1e-2, 0.3, 0.2),
    "himmelblau": (1e-3, 1e-3, 2e-2, 0.2, 0.1),
    "booth": (1e-2, 2e-3, 0.2, 1.0, 0.6),
    "rastrigin": (1e-3, 5e-3, 0.1, 1.0, 1e-2),
    "ackley": (0.1, 1e-2, 0.1, 1.0, 0.6),
    "goldstein_price": (5e-6, 5e-7, 0.2, 1.0, 0.3),
    "six_hump_camel": (1e-2, 1e-2, 1e-2, 0.1, 0.2),
    "saddle": (6e-3, 6e-4, 1e-2, 0.1, 1e-2),
    "ill_conditioned": (0.035, 1e-2, 0.1, 1.0, 0.1),
}


def default_entries(surface_name: str) -> list[Entry]:
    """SGD, Momentum, RMSProp, Adagrad and Adam with learning rates tuned for the surface.

    Unknown names (e.g. a user-typed formula) get the Rosenbrock rates.
    """
    lrs = DEFAULT_LRS.get(surface_name, DEFAULT_LRS["rosenbrock"])
    entries = []
    for label, lr in zip(DEFAULT_LABELS, lrs, strict=True):
        name, hparams = optimizers.PRESETS[label]
        entries.append(Entry(label, name, {**hparams, "lr": lr}))
    return entries

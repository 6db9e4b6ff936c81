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

_BIG_GRAD = 1e150
"""Gradient components below this in size cannot overflow ‖g‖ (the slow check's test)."""

DIVERGE_WIDTHS = 10.0
"""A run farther than this many domain widths from the domain box has diverged."""

DEFAULT_STEPS = 500
"""Default number of steps of a race (the race page's default)."""

TOL = 1e-3
"""The race's tolerance: a run is "within tolerance" of a global minimum θ* when
‖θ − θ*‖ ≤ TOL. One number for everything a race page reports (leaderboard status and
ranking, basin maps, the tuning criteria's floors and the 'steps' criterion)."""

RANK_RULE = (
    "Ranked by: racers that settled within tolerance first, fewest steps to settle first; "
    "then the others by final loss gap f − f* (smallest first); racers stopped by divergence "
    "last (latest stop first)."
)
"""How :func:`ranking` orders racers, in words (the page shows it under the leaderboard)."""

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
        path: ``(steps+1, *batch, 2)`` positions θ_0..θ_T (frozen after divergence);
            ``None`` in a lean run (``record=False``).
        loss: ``(steps+1, *batch)`` f(θ_t), finite everywhere; ``None`` in a lean run.
        grad_norm: ``(steps+1, *batch)`` ‖∇f(θ_t)‖ (noise-free), finite everywhere; ``None``
            in a lean run.
        diverged_at: ``(*batch,)`` int, the first step whose point was bad; -1 = never.
        steps_to_tol: ``(*batch,)`` int, first step within ``tol`` of a global minimum (the
            first *entry*: the run may leave again); -1 = never. ``settled_at`` is what the
            page reports.
        final_loss: ``(*batch,)`` f at the last recorded point.
        dist_to_min: ``(*batch,)`` distance of the last point to the nearest global minimum
            (``inf``-free: NaN never appears; ``np.inf`` only if the surface has no minima).
        nearest_min: ``(*batch,)`` int index into ``surface.minima`` (-1 if there are none).
        end: ``(*batch, 2)`` the last recorded point θ_T (the last good one after divergence).
        settled_at: ``(*batch,)`` int, the first step ``t`` from which the run stays within
            ``tol`` of one global minimum up to the end: ``‖θ_s − θ*‖ ≤ tol`` for every
            ``s ≥ t``; -1 if it does not end within ``tol`` of a minimum (or diverged).
        status: a sentence per start, true to the numbers above: "settled at step k" (within
            ``tol`` from step k to the end), "not within 0.001 after 500 steps (distance
            0.543)" (plus ", stalled" when it moved less than ``tol`` over the last
            ``STALL_FRACTION`` of the steps), "diverged at step k" (grew out of reach or
            overflowed), "stopped at step k: f is not finite there" (a non-finite region of a
            custom formula), "ran 500 steps (no known minimum)"; a ``str`` for a single start,
            else nested lists shaped like ``batch``.
        nonfinite_stop: ``(*batch,)`` bool: the run was stopped at a finite point inside the
            reach box where f or its gradient is not finite (not by growing without bound).
        state: with ``record_state=True``, ``(steps+1, *batch)`` arrays (index 0 is 0):
            ``coordinate_lr`` ``(steps+1, *batch, 2)`` each coordinate's learning rate
            ``lr/(√state+eps)`` used by step t (adaptive optimizers only, see
            ``Optimizer.coordinate_lr``);
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
    end: np.ndarray | None = None
    settled_at: np.ndarray | None = None
    state: dict[str, np.ndarray] | None = None
    nonfinite_stop: np.ndarray | None = None


@dataclass
class RaceResult:
    """A finished race: the surface name, step count, starts as given, one result per entry."""

    surface: str
    steps: int
    starts: np.ndarray
    entries: list[EntryResult]
    tol: float = TOL
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
    record: bool = True,
) -> list[EntryResult]:
    """Run entries whose positions share ``shape = (*batch, 2)``, stacked on a leading axis.

    Positions of all entries live in one ``(E, *batch, 2)`` array; each optimizer updates its
    own slice (a view) in place, and the surface, divergence and tolerance checks run once per
    step for the whole stack. Every operation is elementwise, so an entry's numbers do not
    depend on the other entries of its group.

    ``record=False`` (lean): no ``(steps+1, ...)`` histories; the loop keeps only the last good
    point, the point at the start of the stall window and the per-start settle bookkeeping, so
    memory is O(batch) and the per-step work is the gradient, the step and a few comparisons.
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
    window_at = max(0, steps - _stall_window(steps))

    if record:
        path = np.empty((n, steps + 1, *shape))
        loss = np.empty((n, steps + 1, *batch))
        gnorm = np.empty((n, steps + 1, *batch))
    good = pos.copy()  # lean: the last good point of each start
    window = None
    diverged_at = np.full((n, *batch), -1, dtype=np.int64)
    nonfinite = np.zeros((n, *batch), dtype=bool)
    steps_to_tol = np.full((n, *batch), -1, dtype=np.int64)
    settled_at = np.full((n, *batch), -1, dtype=np.int64)
    settled_min = np.full((n, *batch), -1, dtype=np.int8)
    alive = np.ones((n, *batch), dtype=bool)
    recorder = (
        _StateRecorder(opts, states, n, steps, batch, rngs is not None) if record_state else None
    )

    any_dead = False
    dead = None
    # a square inside the reach box: points within it need no per-point check
    safe_lo = float(np.max(center - reach))
    safe_hi = float(np.min(center + reach))
    near = _Near(minima, tol, (n, *batch)) if minima else None
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            if any_dead:  # park dead starts at the centre: finite, so the fast check stays fast
                np.copyto(pos, center, where=dead[..., None])
            g = surface.grad(pos)
            gn = _norm(g) if record else None
            fv = surface.f(pos) if record else None
            # Fast path (whole-array reductions): every start inside the safe square with a
            # finite gradient (and loss). NaN fails every comparison, so it takes the slow path.
            fine = pos.min() >= safe_lo and pos.max() <= safe_hi
            fine = fine and g.min() > -_BIG_GRAD and g.max() < _BIG_GRAD
            if fine and record:
                fine = bool(np.isfinite(fv.sum()))
            if not fine:
                inside = np.abs(pos - center) <= reach  # False for NaN positions too
                ok = inside[..., 0] & inside[..., 1]
                ok &= np.isfinite(fv + gn) if record else np.isfinite(_norm(g))
                bad = alive & ~ok
                if bad.any():
                    np.copyto(diverged_at, t, where=bad)
                    np.copyto(nonfinite, True, where=bad & inside[..., 0] & inside[..., 1])
                    alive &= ok
                    dead = ~alive
                    any_dead = True
            if record:
                path[:, t] = pos
                loss[:, t] = fv
                gnorm[:, t] = gn
                if any_dead:
                    if t == 0:  # a bad start: keep it (finite), clip its loss and gradient norm
                        big = np.finfo(np.float64).max
                        loss[:, 0] = np.nan_to_num(loss[:, 0], nan=big, posinf=big, neginf=-big)
                        gnorm[:, 0] = np.nan_to_num(gnorm[:, 0], nan=big, posinf=big)
                    else:
                        np.copyto(path[:, t], path[:, t - 1], where=dead[..., None])
                        np.copyto(loss[:, t], loss[:, t - 1], where=dead)
                        np.copyto(gnorm[:, t], gnorm[:, t - 1], where=dead)
                here = path[:, t]
            else:
                if t > 0:
                    if any_dead:
                        np.copyto(good, pos, where=alive[..., None])
                    else:
                        np.copyto(good, pos)
                here = good
                if t == window_at:
                    window = good.copy()
            if minima:
                which = near(here)
                moved = which != settled_min  # entered, left or switched minimum
                if any_dead:
                    moved &= alive
                if moved.any():
                    np.copyto(settled_at, t, where=moved)
                    outside = which < 0
                    np.copyto(settled_at, -1, where=moved & outside)
                    np.copyto(settled_min, which, where=moved)
                    first = moved & ~outside
                    first &= steps_to_tol < 0
                    np.copyto(steps_to_tol, t, where=first)
            if recorder is not None and t > 0:
                recorder.states_at(t, alive)
            if t == steps:
                break
            used = g
            if rngs is not None:
                used = np.empty_like(g)
                for i, rng in enumerate(rngs):
                    rng.standard_normal(out=used[i])
                used *= noise_std
                used += g
            if recorder is not None:
                recorder.gradients(t, g, used)
            for opt, view, state, u in zip(opts, views, states, used, strict=True):
                opt.step_(view, u, state)

    if record:
        final, final_loss, window = path[:, -1], loss[:, -1].copy(), path[:, window_at]
    else:
        final = good
        with np.errstate(all="ignore"):
            final_loss = np.asarray(surface.f(good), dtype=np.float64)
        big = np.finfo(np.float64).max
        final_loss = np.nan_to_num(final_loss, nan=big, posinf=big, neginf=-big)
    np.copyto(settled_at, -1, where=~alive)
    recs = recorder.finish(path) if recorder is not None else None
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
            path=path[i] if record else None,
            loss=loss[i] if record else None,
            grad_norm=gnorm[i] if record else None,
            diverged_at=diverged_at[i],
            steps_to_tol=steps_to_tol[i],
            final_loss=final_loss[i],
            dist_to_min=dist[i],
            nearest_min=nearest[i],
            status=_status(
                final[i],
                window[i],
                diverged_at[i],
                settled_at[i],
                nonfinite[i],
                dist[i] if minima else None,
                tol,
                steps,
            ),
            end=final[i].copy() if not record else final[i],
            settled_at=settled_at[i],
            state=recs[i] if recs is not None else None,
            nonfinite_stop=nonfinite[i],
        )
        for i, (_, entry) in enumerate(group)
    ]


def _stall_window(steps: int) -> int:
    return max(1, int(round(STALL_FRACTION * steps)))


class _Near:
    """Which global minimum each point is within ``tol`` of, ``-1`` for none, as int8.

    Called once per step on ``(*shape, 2)`` points, so it works in preallocated contiguous
    buffers: per minimum ``d² = (x−x*)² + (y−y*)²`` and ``d² ≤ tol²``. When the balls cannot
    overlap (``tol`` below half the smallest separation) the index is accumulated as
    ``Σ_k (k+1)·[d²_k ≤ tol²] − 1`` (no masked writes); otherwise the last ball listed wins.
    """

    def __init__(self, minima: list[tuple[float, float]], tol: float, shape: tuple[int, ...]):
        self.minima = minima
        self.tol2 = tol * tol
        m = np.asarray(minima, dtype=float).reshape(-1, 2)
        sep = np.sqrt(((m[:, None] - m[None]) ** 2).sum(-1)) + np.diag(np.full(len(m), np.inf))
        self.exclusive = len(m) < 127 and bool(np.all(2 * tol < sep))
        self.x, self.y = np.empty(shape), np.empty(shape)
        self.dx, self.dy = np.empty(shape), np.empty(shape)
        self.hit = np.empty(shape, dtype=bool)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        x, y, dx, dy, hit = self.x, self.y, self.dx, self.dy, self.hit
        np.copyto(x, p[..., 0])
        np.copyto(y, p[..., 1])
        which = (
            np.zeros(x.shape, dtype=np.int8) if self.exclusive else np.full(x.shape, -1, np.int8)
        )
        for k, (mx, my) in enumerate(self.minima):  # a handful of minima
            np.subtract(x, mx, out=dx)
            np.multiply(dx, dx, out=dx)
            np.subtract(y, my, out=dy)
            np.multiply(dy, dy, out=dy)
            np.add(dx, dy, out=dx)
            np.less_equal(dx, self.tol2, out=hit)
            if self.exclusive:
                code = hit.view(np.int8)
                if k:
                    np.multiply(code, np.int8(k + 1), out=code)
                np.add(which, code, out=which)
            else:
                np.copyto(which, k, where=hit)
        if self.exclusive:
            np.subtract(which, np.int8(1), out=which)
        return which


class _StateRecorder:
    """The inside-the-optimizer traces of a group (``record_state=True``), recorded raw.

    Per step the loop only copies what it has (the stack's gradients, the alive mask, each
    optimizer's momentum, second moment and per-coordinate rate); :meth:`finish` derives the
    traces for all steps at once, vectorized over the step axis (a per-step, per-entry
    reduction cost the default race ~0.2 s of its ~0.3 s). For step ``t >= 1``, with
    ``δ = θ_t − θ_{t−1}`` and ``g``/``u`` the true/noisy gradient at ``θ_{t−1}``:

    * ``update_norm = ‖δ‖``, ``effective_lr = ‖δ‖ / ‖u‖``, ``cos_descent = −δ·g / (‖δ‖‖g‖)``;
    * ``momentum_norm = ‖m_t‖``, ``second_moment = mean(v_t)`` over the two coordinates;
    * ``coordinate_lr``: the optimizer's per-coordinate rate, ``(steps+1, *batch, 2)``.

    Row 0 is 0, and so is every value of a start that is dead at ``t`` or not finite.
    """

    def __init__(self, opts, states, n: int, steps: int, batch: tuple[int, ...], noisy: bool):
        self.opts, self.states = opts, states
        self.g = np.zeros((n, steps + 1, *batch, 2))
        self.used = np.zeros((n, steps + 1, *batch, 2)) if noisy else self.g
        self.alive = np.ones((n, steps + 1, *batch), dtype=bool)
        self.raw = []
        for opt, state in zip(opts, states, strict=True):
            keys = []
            if _state_get(state, MOMENTUM_KEYS) is not None:
                keys.append("momentum_norm")
            if _state_get(state, SECOND_MOMENT_KEYS) is not None:
                keys.append("second_moment")
            if opt.coordinate_lr(state) is not None:
                keys.append("coordinate_lr")
            self.raw.append({k: np.zeros((steps + 1, *batch, 2)) for k in keys})

    def gradients(self, t: int, g: np.ndarray, used: np.ndarray) -> None:
        """The stack's true and noisy gradients at ``θ_t``, ``(E, *batch, 2)``."""
        self.g[:, t] = g
        if self.used is not self.g:
            self.used[:, t] = used

    def states_at(self, t: int, alive: np.ndarray) -> None:
        """Each optimizer's state after the step that produced ``θ_t``; who is alive at ``t``."""
        self.alive[:, t] = alive
        for opt, state, raw in zip(self.opts, self.states, self.raw, strict=True):
            if "momentum_norm" in raw:
                raw["momentum_norm"][t] = _state_get(state, MOMENTUM_KEYS)
            if "second_moment" in raw:
                raw["second_moment"][t] = _state_get(state, SECOND_MOMENT_KEYS)
            if "coordinate_lr" in raw:
                raw["coordinate_lr"][t] = opt.coordinate_lr(state)

    def finish(self, path: np.ndarray) -> list[dict[str, np.ndarray]]:
        """The traces of each entry from its ``path`` ``(E, steps+1, *batch, 2)``."""
        with np.errstate(all="ignore"):  # 0/0 for a start that stopped: zeroed below
            return [self._entry(i, raw, path[i]) for i, raw in enumerate(self.raw)]

    def _entry(self, i: int, raw: dict, path: np.ndarray) -> dict[str, np.ndarray]:
        """One entry's traces (see the class docstring); ``path``: ``(steps+1, *batch, 2)``."""
        delta = path[1:] - path[:-1]
        g, used = self.g[i, :-1], self.used[i, :-1]
        un = _norm(delta)
        traces = {
            "update_norm": un,
            "effective_lr": un / _norm(used),
            "cos_descent": -(delta * g).sum(axis=-1) / (un * _norm(g)),
        }
        if "momentum_norm" in raw:
            traces["momentum_norm"] = _norm(raw["momentum_norm"][1:])
        if "second_moment" in raw:
            traces["second_moment"] = raw["second_moment"][1:].mean(axis=-1)
        if "coordinate_lr" in raw:
            traces["coordinate_lr"] = raw["coordinate_lr"][1:]
        dead = ~self.alive[i, 1:]
        rec = {}
        for key, values in traces.items():
            full = np.zeros((len(values) + 1, *values.shape[1:]))
            full[1:] = values
            rows = full[1:]
            gone = dead[..., None] if key == "coordinate_lr" else dead
            np.copyto(rows, 0.0, where=gone | ~np.isfinite(rows))
            rec[key] = full
        return rec


def _status(end, window_start, diverged_at, settled_at, nonfinite, dist, tol, steps):
    """One sentence per start, shaped like the batch (a str for a single start).

    ``end``/``window_start``: ``(*batch, 2)`` the last point and the point at the start of the
    stall window (``STALL_FRACTION`` of the steps before the end). ``dist``: ``(*batch,)``
    final distance to the nearest minimum, ``None`` when the surface has none. Every sentence
    describes a finished run: none says "running"."""
    moved = _norm(end - window_start)
    stalled = (moved < tol) if steps > 0 else np.zeros(moved.shape, dtype=bool)
    shape = moved.shape
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(shape):
        if diverged_at[idx] >= 0:
            k = int(diverged_at[idx])
            if nonfinite[idx]:
                out[idx] = f"stopped at step {k}: f is not finite there"
            else:
                out[idx] = f"diverged at step {k}"
        elif dist is None:
            out[idx] = f"ran {steps:,} steps (no known minimum)"
        elif settled_at[idx] >= 0:
            out[idx] = f"settled at step {int(settled_at[idx]):,}"
        else:
            out[idx] = (
                f"not within {tol:.3g} after {steps:,} steps (distance {float(dist[idx]):.3g})"
                + (", stalled" if stalled[idx] else "")
            )
    return out.tolist() if out.ndim else str(out[()])


def ranking(result: RaceResult, min_value: float | None) -> list[int]:
    """Entry indices best first, by :data:`RANK_RULE` (single-start races).

    Key: (diverged, not settled, steps to settle, final gap ``f − f*``); diverged racers
    last, the latest stop first. ``min_value`` is the surface's f* (``None``: the final loss
    itself is the gap, and nobody can settle)."""
    floor = 0.0 if min_value is None else float(min_value)

    def key(i: int):
        e = result.entries[i]
        div = int(np.asarray(e.diverged_at).reshape(-1)[0])
        settled = -1 if e.settled_at is None else int(np.asarray(e.settled_at).reshape(-1)[0])
        gap = float(np.asarray(e.final_loss).reshape(-1)[0]) - floor
        if div >= 0:
            return (2, 0, -div, gap)
        if settled >= 0:
            return (0, settled, 0, gap)
        return (1, 0, 0, gap)

    return sorted(range(len(result.entries)), key=key)


def run_race(
    surface: Surface,
    entries: Sequence[Entry],
    starts,
    steps: int,
    *,
    noise_std: float = 0.0,
    seed: int = 0,
    tol: float = TOL,
    record_state: bool = False,
    record: bool = True,
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
        tol: Euclidean radius around a global minimum that counts as "within tolerance".
        record_state: also record the inside-the-optimizer traces (see ``EntryResult.state``).
        record: keep the full histories (``path``, ``loss``, ``grad_norm``). ``False`` is the
            lean mode for many-start views (basin maps, tuning): only end points, scores and
            ``settled_at`` are kept, ~2x faster and O(batch) memory. In lean mode divergence
            is detected from the gradient (non-finite or out of reach); ``f`` is evaluated
            once, at the end.

    Raises:
        ValueError: bad starts/steps/noise/tol, an unknown optimizer or an invalid
            hyperparameter (torch's message), or array hyperparameters that do not broadcast.
    """
    starts = _check_args(starts, steps, noise_std, tol)
    if record_state and not record:
        raise ValueError("record_state=True needs record=True (the traces use the paths)")
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
            surface, group, shape, starts, steps, noise_std, seed, tol, record_state, record
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

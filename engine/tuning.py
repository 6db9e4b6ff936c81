"""Fair races: score learning rates (and a second knob) on a grid, in one vectorized run.

An untuned race compares optimizers *and* the learning rates somebody picked for them. A fair
race gives every entry the same step budget and its own best learning rate. This module

* scores a race's runs by a criterion the user picks (:data:`CRITERIA`),
* tunes an entry's learning rate on a log grid (:func:`tune_lr`, :func:`tune_entries`),
* maps the score over learning rate x a second hyperparameter (:func:`sensitivity_map`).

Vectorization: a grid of ``k`` candidates from ``m`` starts is ONE :func:`engine.race.run_race`
call on a batch of ``k·m`` starts whose hyperparameters are arrays of shape ``(k·m, 1)``
(broadcast against the ``(k·m, 2)`` positions), so the Python loop is over steps only.

Scores are "lower is better"; a run that diverged scores ``+inf`` (worst). With several starts
a candidate's score is the mean over its starts (``+inf`` if any start diverged).

Floating-point noise never picks a winner: gaps and distances are floored at the race's
tolerance ``tol`` (``engine.race.TOL``), so every run that ends below it ties; ties go to the
candidate that settles within ``tol`` in fewer steps, then to the smaller learning rate (the
conservative choice). A winner on the first or last point of the search grid is flagged
(``at_edge``): the best rate may lie beyond the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from engine.race import TOL, Entry, EntryResult, run_race
from engine.surfaces import Surface

TIE_RULE = (
    "Loss gaps and distances below the tolerance {tol} count as equal; ties go to fewer steps "
    "to settle within {tol}, then to the smaller learning rate."
)
"""How the search picks among equal scores, in words (``{tol}``: the tolerance, formatted)."""


@dataclass(frozen=True)
class Criterion:
    """How to score one run (lower is better).

    Attributes:
        key: short URL-friendly name.
        label: what the UI shows.
        unit: axis label of the score.
        score: ``(result, surface, steps, tol) -> (*batch,)`` float scores, ``+inf`` for
            diverged; gaps and distances floored at ``tol``.
        needs_minima: the criterion is undefined on a surface without known minima.
    """

    key: str
    label: str
    unit: str
    score: Callable[[EntryResult, Surface, int, float], np.ndarray]
    needs_minima: bool = False


def _diverged(result: EntryResult) -> np.ndarray:
    return np.asarray(result.diverged_at) >= 0


def _gap(loss: np.ndarray, surface: Surface) -> np.ndarray:
    """``f - f*`` (or ``f`` itself when the surface has no known minimum value)."""
    return loss - (surface.min_value if surface.min_value is not None else 0.0)


def _final_gap(result: EntryResult, surface: Surface, steps: int, tol: float) -> np.ndarray:
    """Final loss gap ``max(f(θ_T) − f*, tol)``: below the tolerance every run ties."""
    return np.maximum(_gap(np.asarray(result.final_loss, dtype=float), surface), tol)


def _distance(result: EntryResult, surface: Surface, steps: int, tol: float) -> np.ndarray:
    """``max(min_i ‖θ_T − θ*_i‖, tol)``: distance from the end point to the nearest minimum,
    floored at the tolerance."""
    return np.maximum(np.asarray(result.dist_to_min, dtype=float), tol)


def _auc_log(result: EntryResult, surface: Surface, steps: int, tol: float) -> np.ndarray:
    """Area under the log-loss curve: ``mean_{t=0..T} log10(max(f(θ_t) − f*, tol))``.

    Rewards getting low early, not only at the end; the floor at ``tol`` keeps rounding noise
    (1e-30 vs 1e-300) out of the score."""
    gap = _gap(np.asarray(result.loss, dtype=float), surface)
    return np.log10(np.maximum(gap, tol)).mean(axis=0)


def settle_steps(result: EntryResult, steps: int) -> np.ndarray:
    """Steps until each run settled within ``tol`` for good (``settled_at``); a run that did
    not settle counts ``steps + 1``."""
    hit = np.asarray(result.settled_at)
    return np.where(hit >= 0, hit, steps + 1).astype(float)


def _steps_to_tol(result: EntryResult, surface: Surface, steps: int, tol: float) -> np.ndarray:
    """Steps to settle within ``tol`` of a global minimum (and stay there to the end), as on
    the leaderboard; a run that does not scores ``steps + 1`` (worse than any that does,
    better than a diverged one)."""
    return settle_steps(result, steps)


CRITERIA: dict[str, Criterion] = {
    c.key: c
    for c in (
        Criterion("gap", "final loss gap", "final f − f* (log scale, floored at tol)", _final_gap),
        Criterion(
            "dist",
            "distance to nearest minimum",
            "final distance to a minimum (log scale, floored at tol)",
            _distance,
            needs_minima=True,
        ),
        Criterion(
            "auc",
            "area under log-loss curve",
            "mean over steps of log10(max(f − f*, tol))",
            _auc_log,
            needs_minima=True,
        ),
        Criterion(
            "steps",
            "steps to settle",
            "steps to settle within tol (never = steps + 1)",
            _steps_to_tol,
            needs_minima=True,
        ),
    )
}
"""Registry of scoring criteria (key -> :class:`Criterion`)."""


def get_criterion(key: str) -> Criterion:
    """The criterion named ``key``; ``ValueError`` naming the choices otherwise."""
    try:
        return CRITERIA[key]
    except KeyError:
        raise ValueError(
            f"Unknown criterion {key!r}; choose one of {', '.join(CRITERIA)}"
        ) from None


def check_criterion(surface: Surface, key: str) -> Criterion:
    """Validate ``key`` for ``surface`` (a surface without minima cannot be scored by distance,
    area under log-loss or steps to tolerance); returns the criterion or raises ``ValueError``."""
    crit = get_criterion(key)
    if crit.needs_minima and (not surface.minima or surface.min_value is None):
        raise ValueError(
            f"Criterion {crit.label!r} needs a surface with known minima; "
            f"{surface.name!r} has none (use 'final loss gap')."
        )
    return crit


def score_runs(
    result: EntryResult, surface: Surface, steps: int, criterion: str, tol: float = TOL
) -> np.ndarray:
    """Score every run of ``result`` (shape ``(*batch,)``); diverged runs score ``+inf``."""
    raw = check_criterion(surface, criterion).score(result, surface, steps, tol)
    return np.where(_diverged(result) | ~np.isfinite(raw), np.inf, raw)


def lr_grid(lo: float = 1e-4, hi: float = 10.0, n: int = 25) -> np.ndarray:
    """``n`` learning rates spaced evenly on a log axis from ``lo`` to ``hi`` (shape ``(n,)``)."""
    if not (0 < lo < hi) or not np.isfinite(hi):
        raise ValueError(f"Invalid learning-rate range: {lo} .. {hi}")
    if n < 2:
        raise ValueError(f"Invalid grid size: {n}")
    return np.geomspace(lo, hi, int(n))


def set_knob(hparams: dict, knob: str, value) -> dict:
    """A copy of ``hparams`` with ``knob`` set; ``beta1``/``beta2`` write into ``betas``."""
    out = dict(hparams)
    if knob in ("beta1", "beta2"):
        betas = list(out.get("betas", (0.9, 0.999)))
        betas[0 if knob == "beta1" else 1] = value
        out["betas"] = tuple(betas)
    else:
        out[knob] = value
    return out


def get_knob(optimizer: str, hparams: dict, knob: str) -> float:
    """The current value of ``knob`` (explicit in ``hparams`` or the optimizer's default)."""
    from engine.optimizers import make

    full = make(optimizer, **hparams).hparams
    if knob in ("beta1", "beta2"):
        return float(full["betas"][0 if knob == "beta1" else 1])
    return float(full[knob])


def _starts(starts) -> np.ndarray:
    arr = np.asarray(starts, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        raise ValueError(f"starts must be finite with shape (2,) or (m, 2), got {arr.shape}")
    return arr


def _grid_run(surface, entry, starts, steps, columns: dict, *, noise_std, seed, tol, record):
    """Run ``entry`` once for each of ``k`` candidate settings from each of ``m`` starts.

    ``record=False`` uses the race's lean mode (no histories): every criterion but the area
    under the log-loss curve only needs end points and first-hit steps.

    ``columns`` maps knob name -> values of shape ``(k,)``. Returns ``(result, k, m)`` where the
    result's batch is ``(k·m,)`` in candidate-major order (row ``i·m + j`` = candidate ``i``
    from start ``j``); the knobs are passed as arrays of shape ``(k·m, 1)``.
    """
    starts = _starts(starts)
    m = len(starts)
    k = len(next(iter(columns.values())))
    hparams = dict(entry.hparams)
    for knob, values in columns.items():
        hparams = set_knob(hparams, knob, np.repeat(np.asarray(values, float), m)[:, None])
    batch = np.tile(starts, (k, 1))
    race = run_race(
        surface,
        [replace(entry, hparams=hparams)],
        batch,
        steps,
        noise_std=noise_std,
        seed=seed,
        tol=tol,
        record=record,
    )
    return race.entries[0], k, m


def _needs_history(criterion: str) -> bool:
    """Whether scoring needs the whole loss history (only the area under the curve does)."""
    return criterion == "auc"


def _candidate_scores(result, surface, steps, criterion, k, m, tol) -> np.ndarray:
    """Mean score over each candidate's ``m`` starts (``+inf`` if any diverged): ``(k,)``."""
    per_run = score_runs(result, surface, steps, criterion, tol).reshape(k, m)
    return per_run.mean(axis=1)


def _candidate_steps(result, steps, k, m) -> np.ndarray:
    """Mean steps to settle over each candidate's ``m`` starts (never = ``steps + 1``)."""
    return settle_steps(result, steps).reshape(k, m).mean(axis=1)


def _pick_best(scores: np.ndarray, tie: np.ndarray, rate: np.ndarray) -> int:
    """Index of the best finite score; ties broken by ``tie`` (steps to settle, lower wins),
    then by ``rate`` (the smaller, more conservative learning rate). ``-1`` if every score is
    ``+inf``."""
    finite = np.isfinite(scores)
    if not finite.any():
        return -1
    tie = np.where(np.isfinite(tie), tie, np.inf)
    order = np.lexsort((np.arange(len(scores)), rate, tie, scores))
    return int(order[0])


@dataclass(frozen=True)
class TuneResult:
    """The learning-rate search for one entry.

    Attributes:
        entry: the entry as given (its ``lr`` or the optimizer's default is the baseline).
        criterion: key into :data:`CRITERIA`.
        grid: ``(k,)`` candidate learning rates (ascending).
        scores: ``(k,)`` score per candidate (lower is better, ``+inf`` = diverged).
        best_index: index into ``grid`` of the grid's winner, ``-1`` if every candidate diverged.
        default_lr, default_score: the entry's own learning rate and its score, same budget.
        source: where the tuned learning rate comes from: ``"grid"`` (the grid's winner),
            ``"default"`` (the entry's own rate scored strictly better than every grid point,
            so it is kept) or ``"none"`` (everything diverged; the entry is kept unchanged).
        best_lr, best_score: the tuned entry's learning rate and score.
        tuned: the entry with ``lr = best_lr`` (same label; every other hparam kept).
        steps: ``(k,)`` steps to settle within ``tol`` per candidate (the tie-break; never =
            the budget + 1); default_steps: the same for the entry's own rate.
        tol: the floor of the gap/distance scores and the settle radius.
        budget: the step budget every candidate ran.
    """

    entry: Entry
    criterion: str
    grid: np.ndarray
    scores: np.ndarray
    best_index: int
    default_lr: float
    default_score: float
    source: str
    best_lr: float
    best_score: float
    tuned: Entry
    steps: np.ndarray | None = None
    default_steps: float = float("nan")
    tol: float = TOL
    budget: int = 0

    @property
    def label(self) -> str:
        return self.entry.label

    @property
    def at_edge(self) -> bool:
        """The grid's winner is its smallest or largest rate (the optimum may lie beyond)."""
        return self.source == "grid" and self.best_index in (0, len(self.grid) - 1)


def tune_lr(
    surface: Surface,
    entry: Entry,
    starts,
    steps: int,
    *,
    criterion: str = "gap",
    grid: np.ndarray | None = None,
    tol: float = TOL,
    noise_std: float = 0.0,
    seed: int = 0,
) -> TuneResult:
    """Search ``entry``'s learning rate on ``grid`` (default :func:`lr_grid`: 25 points,
    1e-4..10) with the same ``steps`` for every candidate, in one batched run.

    The entry's own learning rate runs in the same batch as an extra candidate, so "default vs
    tuned" compares identical budgets, and tuning never makes an entry worse: the tuned rate is
    the grid's winner unless the default scores strictly better. Every other hyperparameter is
    kept. ``starts``: ``(2,)`` or ``(m, 2)``; a candidate's score is the mean over starts.
    Scores are floored at ``tol``; ties between equal best scores go to fewer steps to settle
    within ``tol``, then to the smaller learning rate (the conservative choice).
    """
    check_criterion(surface, criterion)
    grid = lr_grid() if grid is None else np.sort(np.asarray(grid, dtype=float).ravel())
    if grid.size == 0 or not (np.isfinite(grid).all() and (grid > 0).all()):
        raise ValueError("The learning-rate grid must be positive and finite.")
    default_lr = get_knob(entry.optimizer, entry.hparams, "lr")
    lrs = np.append(grid, default_lr)
    result, k, m = _grid_run(
        surface,
        entry,
        starts,
        steps,
        {"lr": lrs},
        noise_std=noise_std,
        seed=seed,
        tol=tol,
        record=_needs_history(criterion),
    )
    scores = _candidate_scores(result, surface, steps, criterion, k, m, tol)
    settle = _candidate_steps(result, steps, k, m)
    best = _pick_best(scores[:-1], settle[:-1], grid)
    default_score = float(scores[-1])
    default_better = best >= 0 and (default_score, settle[-1]) < (scores[best], settle[best])
    if best >= 0 and not default_better:
        source, best_lr, best_score = "grid", float(grid[best]), float(scores[best])
    elif np.isfinite(default_score):
        source, best_lr, best_score = "default", default_lr, default_score
    else:
        source, best_lr, best_score = "none", default_lr, float("inf")
    tuned = replace(entry, hparams={**entry.hparams, "lr": best_lr}) if source == "grid" else entry
    return TuneResult(
        entry=entry,
        criterion=criterion,
        grid=grid,
        scores=scores[:-1],
        best_index=best,
        default_lr=default_lr,
        default_score=default_score,
        source=source,
        best_lr=best_lr,
        best_score=best_score,
        tuned=tuned,
        steps=settle[:-1],
        default_steps=float(settle[-1]),
        tol=float(tol),
        budget=int(steps),
    )


def tune_entries(
    surface: Surface, entries: Sequence[Entry], starts, steps: int, **kw
) -> list[TuneResult]:
    """:func:`tune_lr` for each entry (one batched run per entry); keyword args pass through."""
    return [tune_lr(surface, e, starts, steps, **kw) for e in entries]


# --------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class KnobRange:
    """The second axis of a sensitivity map: a hyperparameter and its sweep range."""

    name: str
    label: str
    lo: float
    hi: float
    log: bool = False

    def values(self, n: int) -> np.ndarray:
        """``n`` values from ``lo`` to ``hi`` (log- or linearly spaced), shape ``(n,)``."""
        return np.geomspace(self.lo, self.hi, n) if self.log else np.linspace(self.lo, self.hi, n)


SECOND_KNOBS: dict[str, tuple[KnobRange, ...]] = {
    "sgd": (KnobRange("momentum", "momentum μ", 0.0, 0.99),),
    "adam": (KnobRange("beta1", "β₁", 0.0, 0.99), KnobRange("beta2", "β₂", 0.5, 0.9999)),
    "adamw": (KnobRange("beta1", "β₁", 0.0, 0.99), KnobRange("beta2", "β₂", 0.5, 0.9999)),
    "nadam": (KnobRange("beta1", "β₁", 0.0, 0.99), KnobRange("beta2", "β₂", 0.5, 0.9999)),
    "rmsprop": (KnobRange("alpha", "α (smoothing)", 0.0, 0.999),),
    "adadelta": (KnobRange("rho", "ρ", 0.0, 0.99),),
    "adagrad": (
        KnobRange("initial_accumulator_value", "initial accumulator", 0.0, 1.0),
        KnobRange("lr_decay", "lr decay", 0.0, 0.1),
    ),
}
"""Per optimizer, the hyperparameters a sensitivity map can put on its second axis (first =
default). Ranges stay inside torch's admissible values."""


@dataclass(frozen=True)
class SensitivityResult:
    """Score over learning rate x a second knob.

    Attributes:
        entry, criterion: what was swept and how it was scored.
        lrs: ``(n_lr,)`` learning rates (ascending, log-spaced).
        knob: the second axis (:class:`KnobRange`); ``knob_values``: ``(n_knob,)``.
        scores: ``(n_knob, n_lr)`` (rows = knob values, columns = learning rates, as a heatmap's
            ``z``); ``+inf`` = diverged.
        best: ``(row, col)`` of the best finite score (ties: fewer steps to settle, then the
            smaller learning rate, then the smaller knob value), or ``None`` if every run
            diverged.
        tol: the floor of the gap/distance scores.
    """

    entry: Entry
    criterion: str
    lrs: np.ndarray
    knob: KnobRange
    knob_values: np.ndarray
    scores: np.ndarray
    best: tuple[int, int] | None
    tol: float = TOL

    @property
    def at_edge(self) -> bool:
        """The best cell is on the first or last learning rate of the grid."""
        return self.best is not None and self.best[1] in (0, len(self.lrs) - 1)

    @property
    def best_lr(self) -> float:
        return float(self.lrs[self.best[1]]) if self.best else float("nan")

    @property
    def best_knob(self) -> float:
        return float(self.knob_values[self.best[0]]) if self.best else float("nan")


def sensitivity_map(
    surface: Surface,
    entry: Entry,
    start,
    steps: int,
    *,
    knob: str | None = None,
    lrs: np.ndarray | None = None,
    knob_values: np.ndarray | None = None,
    n: int = 25,
    criterion: str = "gap",
    tol: float = TOL,
    noise_std: float = 0.0,
    seed: int = 0,
) -> SensitivityResult:
    """Score ``entry`` over an ``n x n`` grid of (learning rate, second knob) in ONE run.

    Both knobs are passed as arrays of shape ``(n·n, 1)`` against ``n·n`` copies of ``start``.
    ``knob`` defaults to the first of :data:`SECOND_KNOBS` for the entry's optimizer.
    """
    check_criterion(surface, criterion)
    choices = SECOND_KNOBS.get(entry.optimizer)
    if not choices:
        raise ValueError(f"No second knob is declared for optimizer {entry.optimizer!r}")
    by_name = {c.name: c for c in choices}
    if knob is None:
        knob = choices[0].name
    if knob not in by_name:
        raise ValueError(
            f"Unknown knob {knob!r} for {entry.optimizer}; choose one of {', '.join(by_name)}"
        )
    krange = by_name[knob]
    lrs = lr_grid(n=n) if lrs is None else np.sort(np.asarray(lrs, dtype=float).ravel())
    kv = krange.values(n) if knob_values is None else np.asarray(knob_values, float).ravel()
    kk, ll = np.meshgrid(kv, lrs, indexing="ij")  # (n_knob, n_lr)
    result, count, m = _grid_run(
        surface,
        entry,
        start,
        steps,
        {"lr": ll.ravel(), knob: kk.ravel()},
        noise_std=noise_std,
        seed=seed,
        tol=tol,
        record=_needs_history(criterion),
    )
    scores = _candidate_scores(result, surface, steps, criterion, count, m, tol)
    settle = _candidate_steps(result, steps, count, m)
    flat = _pick_best(scores, settle, ll.ravel())  # then index: the smaller knob value
    best = None if flat < 0 else tuple(int(i) for i in np.unravel_index(flat, kk.shape))
    return SensitivityResult(
        entry, criterion, lrs, krange, kv, scores.reshape(kk.shape), best, float(tol)
    )

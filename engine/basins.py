"""Many-run views of a race: basins of attraction and seed clouds.

* :func:`basin_maps` runs every entry from an ``n x n`` grid of starts over the domain (one
  lean batched :func:`engine.race.run_race` call per entry, starts of shape ``(n·n, 2)``) and
  labels each start by the minimum its run ends at (:func:`classify` is the same labelling
  from full paths, the reference the lean bookkeeping is tested against). Different
  optimizers carve the same surface into different basins: momentum overshoots into a
  neighbouring basin, Adam's sign-like steps move diagonally.
* :func:`combine` joins per-entry results (computed in parallel, cached per racer).
* :func:`seed_cloud` runs one entry ``N`` times under gradient noise (``N`` copies of the start
  in one batch; the race draws independent noise for each row) and summarizes the spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.race import TOL, Entry, default_entries, run_race
from engine.surfaces import Surface

NONE = -1
"""Label of a start whose run ended farther than ``tol`` from every known minimum."""
DIVERGED = -2
"""Label of a start whose run diverged."""

MAX_GRID = 100
"""Largest start grid per side (a shared server's cap; 100 x 100 = 10,000 runs per entry)."""

BASIN_STEPS = 500
BASIN_TOL = TOL
"""Default budget and radius of a basin map: the race's own tolerance (one number for the whole
race page: a start counts for a minimum exactly when the leaderboard would call its run
settled there)."""

BASIN_LRS: dict[str, dict[str, float]] = {
    # SGD settles everywhere in 500 steps (0.02 would oscillate); momentum 0.9 at the same rate
    # overshoots into neighbouring basins (~30% of starts change basin vs SGD); Adam's sign-like
    # steps bend the borders (~7%); RMSProp at 0.05 keeps hovering at the lr scale (none).
    "himmelblau": {"SGD": 0.01, "Momentum": 0.01, "RMSProp": 0.05, "Adagrad": 0.5, "Adam": 0.1},
}
"""Per surface, learning rates that override the race defaults for basin maps. The race
defaults are chosen for an instructive race from one start; a basin map needs rates that
converge within the budget from everywhere in the domain."""


def default_basin_entries(surface_name: str) -> list[Entry]:
    """The race's default entries with :data:`BASIN_LRS` overrides for ``surface_name``."""
    lrs = BASIN_LRS.get(surface_name, {})
    return [
        Entry(e.label, e.optimizer, {**e.hparams, "lr": lrs[e.label]}) if e.label in lrs else e
        for e in default_entries(surface_name)
    ]


@dataclass(frozen=True)
class BasinMap:
    """Where each start of the grid ended for one entry.

    Arrays are indexed ``[row, col]`` = ``[y index, x index]`` (a heatmap's ``z``).

    Attributes:
        entry: the race entry.
        label: ``(n, n)`` int: index into ``surface.minima`` of the minimum the run ended within
            ``tol`` of, :data:`NONE` if none, :data:`DIVERGED` if the run diverged.
        steps: ``(n, n)`` int: first step from which the run stays within ``tol`` of the
            minimum it ended at; ``-1`` where ``label < 0``.
        final_dist: ``(n, n)`` final distance to the nearest minimum (``inf`` without minima).
        diverged_at: ``(n, n)`` int step of divergence, ``-1`` = never.
    """

    entry: Entry
    label: np.ndarray
    steps: np.ndarray
    final_dist: np.ndarray
    diverged_at: np.ndarray

    def fractions(self, n_minima: int) -> dict[int, float]:
        """Share of starts per label (each minimum index, ``NONE``, ``DIVERGED``)."""
        keys = [*range(n_minima), NONE, DIVERGED]
        return {k: float(np.mean(self.label == k)) for k in keys}


@dataclass(frozen=True)
class BasinResult:
    """Basin maps of several entries over one grid of starts.

    Attributes:
        surface: the surface name. xs: ``(n,)``, ys: ``(n,)`` grid coordinates (the start of
        cell ``[j, i]`` is ``(xs[i], ys[j])``). steps, tol: the run budget and tolerance.
        minima: ``(M, 2)`` the surface's minima. maps: one :class:`BasinMap` per entry.
    """

    surface: str
    xs: np.ndarray
    ys: np.ndarray
    steps: int
    tol: float
    minima: np.ndarray
    maps: list[BasinMap]


def start_grid(domain, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n x n`` starts spanning ``domain`` at cell centres (so none sits exactly on an edge).

    Returns ``(xs (n,), ys (n,), starts (n·n, 2))`` with row-major order: start ``j·n + i`` is
    ``(xs[i], ys[j])``.
    """
    n = int(n)
    if not 2 <= n <= MAX_GRID:
        raise ValueError(f"Invalid start grid size: {n} (allowed 2..{MAX_GRID})")
    (x0, x1), (y0, y1) = domain
    xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
    ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=-1)


def classify(path: np.ndarray, diverged_at: np.ndarray, minima: np.ndarray, tol: float):
    """Label runs by the minimum they end at and when they settled there.

    Args:
        path: ``(T+1, B, 2)`` positions. diverged_at: ``(B,)`` (``-1`` = never).
        minima: ``(M, 2)``. tol: Euclidean radius that counts as "at" a minimum.

    Returns:
        ``(label (B,), steps (B,), final_dist (B,))``. ``steps`` is the first step ``t`` such
        that ``‖θ_s − θ*‖ ≤ tol`` for every ``s ≥ t`` (a run that passes through a basin and
        leaves does not count as converged there), ``-1`` where there is no label.
    """
    B = path.shape[1]
    if len(minima) == 0:
        label = np.where(diverged_at >= 0, DIVERGED, NONE)
        return label, np.full(B, -1), np.full(B, np.inf)
    end = path[-1]
    diff = end[:, None, :] - minima[None, :, :]
    d2_end = (diff * diff).sum(axis=-1)  # (B, M)
    nearest = d2_end.argmin(axis=1)
    final_d2 = d2_end[np.arange(B), nearest]
    final_dist = np.sqrt(final_d2)
    inside = final_d2 <= tol * tol
    label = np.where(diverged_at >= 0, DIVERGED, np.where(inside, nearest, NONE))
    # squared distance to the end's nearest minimum along the path: (T+1, B)
    target = minima[nearest]
    dx = path[..., 0] - target[:, 0]
    dy = path[..., 1] - target[:, 1]
    dx *= dx
    dy *= dy
    dx += dy
    outside = dx > tol * tol
    # last step still outside, +1; runs never outside settle at 0
    rev_first = outside[::-1].argmax(axis=0)
    last_out = np.where(outside.any(axis=0), path.shape[0] - 1 - rev_first, -1)
    steps = np.where(label >= 0, last_out + 1, -1)
    return label.astype(int), steps.astype(int), final_dist


def basin_maps(
    surface: Surface,
    entries: Sequence[Entry],
    *,
    n: int = 60,
    steps: int = BASIN_STEPS,
    tol: float = BASIN_TOL,
    domain=None,
) -> BasinResult:
    """Run each entry from an ``n x n`` grid of starts (``domain`` defaults to the surface's)
    for ``steps`` steps without noise and label every start (as :func:`classify` would).

    One lean :func:`run_race` call (``record=False``) per entry on a batch of ``n·n`` starts:
    no paths are kept; the race tracks each start's ``settled_at`` step in its loop, so memory
    is O(n²). Entries run one at a time rather than stacked: a 10,000-start batch stays in the
    CPU cache, five stacked ones do not (measured ~2x slower).
    """
    xs, ys, starts = start_grid(domain or surface.domain, n)
    shape = (len(ys), len(xs))
    maps = []
    for entry in entries:
        res = run_race(surface, [entry], starts, steps, tol=tol, record=False).entries[0]
        diverged = np.asarray(res.diverged_at) >= 0
        settled = np.asarray(res.settled_at)
        label = np.where(diverged, DIVERGED, np.where(settled >= 0, res.nearest_min, NONE))
        maps.append(
            BasinMap(
                entry=entry,
                label=label.reshape(shape).astype(int),
                steps=np.where(label >= 0, settled, -1).reshape(shape).astype(int),
                final_dist=np.asarray(res.dist_to_min, dtype=float).reshape(shape),
                diverged_at=np.asarray(res.diverged_at).reshape(shape),
            )
        )
    minima = np.asarray(surface.minima, dtype=float).reshape(-1, 2)
    return BasinResult(surface.name, xs, ys, int(steps), float(tol), minima, maps)


def combine(parts: Sequence[BasinResult]) -> BasinResult:
    """One result from results over the same grid, surface, steps and tol: their maps in order.

    :func:`basin_maps` runs its entries one at a time, so ``combine([basin_maps(s, [e]) for e
    in entries])`` equals ``basin_maps(s, entries)`` bit for bit; the parts can be computed in
    parallel and cached per entry (a changed racer recomputes only its own map)."""
    if not parts:
        raise ValueError("combine needs at least one BasinResult")
    first = parts[0]
    for part in parts[1:]:
        same = (part.surface, part.steps, part.tol) == (first.surface, first.steps, first.tol)
        if not same or not all(
            np.array_equal(getattr(part, f), getattr(first, f)) for f in ("xs", "ys", "minima")
        ):
            raise ValueError("combine: the parts are not maps of the same grid and run")
    return BasinResult(
        first.surface,
        first.xs,
        first.ys,
        first.steps,
        first.tol,
        first.minima,
        [m for part in parts for m in part.maps],
    )


def disagreement(a: BasinMap, b: BasinMap) -> float:
    """Fraction of starts whose labels differ between two maps of the same grid."""
    return float(np.mean(a.label != b.label))


# --------------------------------------------------------------------------- seed clouds


@dataclass(frozen=True)
class SeedCloud:
    """``N`` noisy runs of one entry from one start.

    Attributes:
        entry: the race entry. noise_std, seed: the noise settings.
        mean_path: ``(T+1, 2)`` mean position over the runs that did not diverge.
        loss_mean, loss_median, loss_lo, loss_hi: ``(T+1,)`` mean, median and the
            ``band`` percentiles of the loss over the runs that did not diverge.
        ends: ``(N, 2)`` end points of all runs (diverged runs: their last finite point).
        end_loss: ``(N,)``. diverged: ``(N,)`` bool. band: the percentiles, e.g. ``(10, 90)``.
    """

    entry: Entry
    noise_std: float
    seed: int
    band: tuple[float, float]
    mean_path: np.ndarray
    loss_mean: np.ndarray
    loss_median: np.ndarray
    loss_lo: np.ndarray
    loss_hi: np.ndarray
    ends: np.ndarray
    end_loss: np.ndarray
    diverged: np.ndarray

    @property
    def n_seeds(self) -> int:
        return len(self.ends)


def seed_cloud(
    surface: Surface,
    entry: Entry,
    start,
    steps: int,
    *,
    noise_std: float,
    n_seeds: int = 50,
    seed: int = 0,
    band: tuple[float, float] = (10.0, 90.0),
    tol: float = TOL,
) -> SeedCloud:
    """Run ``entry`` from ``start`` ``n_seeds`` times with gradient noise ``σ = noise_std``.

    The ``n_seeds`` copies form one batch of shape ``(n_seeds, 2)``; the race draws its noise
    as an ``(n_seeds, 2)`` array per step from one generator, so every copy sees independent
    noise ``g + σ·ξ``, ``ξ ~ N(0, I)``. Summaries ignore diverged runs (all of them diverged:
    the summaries cover every run, so the chart still shows where they went).
    """
    start = np.asarray(start, dtype=float).reshape(2)
    n_seeds = int(n_seeds)
    if n_seeds < 1:
        raise ValueError(f"Invalid number of seeds: {n_seeds}")
    starts = np.broadcast_to(start, (n_seeds, 2)).copy()
    res = run_race(
        surface, [entry], starts, steps, noise_std=noise_std, seed=seed, tol=tol
    ).entries[0]
    diverged = np.asarray(res.diverged_at) >= 0
    keep = ~diverged if (~diverged).any() else np.ones_like(diverged)
    path, loss = res.path[:, keep], res.loss[:, keep]
    lo, hi = np.percentile(loss, band, axis=1)
    return SeedCloud(
        entry=entry,
        noise_std=float(noise_std),
        seed=int(seed),
        band=(float(band[0]), float(band[1])),
        mean_path=path.mean(axis=1),
        loss_mean=loss.mean(axis=1),
        loss_median=np.median(loss, axis=1),
        loss_lo=lo,
        loss_hi=hi,
        ends=res.path[-1].copy(),
        end_loss=res.loss[-1].copy(),
        diverged=diverged,
    )

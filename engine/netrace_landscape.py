"""The loss landscape of a finished network race, built in short steps (a job can run it).

:class:`LandscapeBuild` does the cheap setup at once (the PCA plane, the grid axes, the
projected coordinates) and the expensive part, the full-data losses, as a list of small work
items (chunks of grid points, then each racer's projected and true path losses and its 1D
slice), so a background job can run it between its other steps and stop between any two.
:func:`landscape` runs a build to the end. All losses on the plane are computed in float32
(~1e-6 relative, 3-5x faster for tanh nets, see :func:`engine.landscape.losses_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine import landscape as ls
from engine.landscape import DEFAULT_MEMORY_BUDGET

LANDSCAPE_MODES = ("pca", "random")
SLICE_POINTS = 41
SLICE_RADIUS = 1.0  # t ∈ [-1, 1]: ±1 filter-norm of each neuron
DTYPE = np.float32  # the arithmetic of every loss on the plane (see the module docstring)


@dataclass(frozen=True)
class Landscape:
    """The loss landscape of a finished race (all arrays read-only in spirit).

    ``mode``: "pca" (the trajectories' plane, origin = the reference racer's final point) or
    "random" (two filter-normalized random directions around the reference racer's final
    point). ``alphas`` ``(n,)``, ``betas`` ``(n,)``, ``loss`` ``(n, n)`` (rows = β): the full
    training-set loss on the grid. Per racer: ``coords`` ``(T, 2)`` projected path (PCA mode;
    in random mode only the reference racer's end point, at the origin), ``projected_loss``
    ``(T,)`` the loss AT the projected plane points (what the contour shows there) and
    ``true_loss`` ``(T,)`` the loss at the real θ_t. ``slices``: per racer the 1D loss along
    its own filter-normalized direction (same raw draw for all) at ``slice_ts``;
    ``sharpness``: per racer, the rise within |t| ≤ 0.25.
    """

    mode: str
    reference: int
    plane: Any
    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    coords: tuple[np.ndarray, ...]
    path_steps: tuple[np.ndarray, ...]
    projected_loss: tuple[np.ndarray, ...]
    true_loss: tuple[np.ndarray, ...]
    slice_ts: np.ndarray
    slices: tuple[np.ndarray, ...]
    sharpness: tuple[float, ...]
    excluded: tuple[int, ...]

    @property
    def explained(self) -> tuple[float, float] | None:
        return self.plane.explained


GRID_CHUNK = 256  # grid points per work item, at most
CHUNK_FLOPS = 5e7  # ~0.05 s of forward passes per work item (256 points of the default net)


def grid_chunk(shape: ls.NetShape, n_samples: int) -> int:
    """Grid points per work item: :data:`CHUNK_FLOPS` worth of forward passes over
    ``n_samples``, between 1 and :data:`GRID_CHUNK` (so one job step stays short whatever
    the network's size, and a stop lands within it)."""
    per_point = max(1, n_samples * shape.flops_per_sample())
    return int(min(GRID_CHUNK, max(1, CHUNK_FLOPS // per_point)))


@dataclass(frozen=True)
class LandscapeSpec:
    """What to build: plane ``mode``, ``reference`` racer (None: lowest final loss), ``grid``
    points per side, ``seed`` of the random directions, ``memory_budget`` per forward pass."""

    mode: str = "pca"
    reference: int | None = None
    grid: int = 41
    seed: int = 0
    memory_budget: int = DEFAULT_MEMORY_BUDGET

    def n_items(self, path_lengths: Sequence[int], chunk: int = GRID_CHUNK) -> int:
        """How many work items a PCA build has with ``chunk`` points per item, for racers
        whose recorded paths hold ``path_lengths`` points (a random-plane build has fewer: it
        projects one point); an upper bound from upper bounds."""
        per_racer = (2 * _ceil(n, chunk) + _ceil(SLICE_POINTS, chunk) for n in path_lengths if n)
        return _ceil(self.grid * self.grid, chunk) + sum(per_racer)


def _ceil(n: int, chunk: int) -> int:
    return -(-n // chunk)


@dataclass(frozen=True)
class LandscapeInput:
    """What a landscape needs of a race, as plain arrays (pickles, unlike a History): the
    net's shape, the training data, each racer's recorded path and steps, whether it diverged
    and its final training loss."""

    shape: ls.NetShape
    X: np.ndarray
    y: np.ndarray
    paths: tuple[np.ndarray, ...]
    path_steps: tuple[np.ndarray, ...]
    diverged: tuple[bool, ...]
    final_loss: tuple[float, ...]

    @classmethod
    def of(cls, result) -> LandscapeInput:
        """From an :class:`engine.netrace.NetRaceResult` (or an input already)."""
        if isinstance(result, cls):
            return result
        runs = result.runs
        return cls(
            result.shape,
            result.data.X_train,
            result.data.y_train,
            tuple(r.path for r in runs),
            tuple(r.path_steps for r in runs),
            tuple(r.history.diverged_at is not None for r in runs),
            tuple(
                float(r.history.train_loss[-1]) if len(r.history.train_loss) else float("inf")
                for r in runs
            ),
        )


class LandscapeBuild:
    """A landscape under construction: :meth:`step` computes one work item; :attr:`done`;
    :meth:`result` the :class:`Landscape` once done (see :func:`landscape` for the rules)."""

    def __init__(self, result, spec: LandscapeSpec):
        mode, reference, grid = spec.mode, spec.reference, spec.grid
        if mode not in LANDSCAPE_MODES:
            raise ValueError(f"Unknown landscape mode {mode!r}; expected one of {LANDSCAPE_MODES}")
        self.spec = spec
        inp = LandscapeInput.of(result)  # plain arrays only: the build travels with job chunks
        self.shape, self.X, self.y = inp.shape, inp.X, inp.y
        self._paths, self._path_steps = list(inp.paths), list(inp.path_steps)
        n = len(self._paths)
        ok = [i for i in range(n) if not inp.diverged[i] and len(self._paths[i])]
        if not ok:
            ok = [i for i in range(n) if len(self._paths[i])]
        if reference is None:
            reference = ok[int(np.argmin([inp.final_loss[i] for i in ok]))]
        if reference not in ok:
            reference = ok[0]
        self.reference, self.ok = reference, ok
        paths = self._paths
        origin = paths[reference][-1]
        if mode == "pca":
            self.plane = ls.pca_plane([paths[i] for i in ok], origin)
            self.coords = tuple(self.plane.project(p) for p in paths)
            self.alphas, self.betas = ls.grid_axes(np.vstack([self.coords[i] for i in ok]), grid)
        else:
            self.plane = ls.random_plane(self.shape, origin, spec.seed)
            self.coords = tuple(
                np.zeros((1, 2)) if i == reference else np.empty((0, 2)) for i in range(n)
            )
            self.alphas = self.betas = np.linspace(-SLICE_RADIUS, SLICE_RADIUS, grid)
        ga, gb = np.meshgrid(self.alphas, self.betas)
        self._grid_coords = np.stack([ga.ravel(), gb.ravel()], axis=1)
        self._z = np.empty(len(self._grid_coords))
        self.ts = np.linspace(-SLICE_RADIUS, SLICE_RADIUS, SLICE_POINTS)
        self._raw = ls.random_directions(self.shape, spec.seed + 7919, 1)[0]
        self._projected = [np.empty(len(xy)) for xy in self.coords]
        self._true = [np.empty(len(p)) for p in paths]
        self._slices = [np.empty(SLICE_POINTS) if len(p) else self.ts * np.nan for p in paths]
        self.chunk = c = grid_chunk(self.shape, len(self.y))
        self._items = [("grid", 0, k) for k in range(0, len(self._grid_coords), c)]
        for i, p in enumerate(paths):
            spans = (
                ("projected", len(self.coords[i])),
                ("true", len(p)),
                ("slice", SLICE_POINTS if len(p) else 0),
            )
            self._items += [(kind, i, k) for kind, m in spans for k in range(0, m, c)]
        self.total = len(self._items)
        self.n_done = 0

    @property
    def done(self) -> bool:
        return self.n_done >= self.total

    def step(self) -> None:
        """Compute the next work item: at most :attr:`chunk` points of the grid, of one racer's
        projected or true path, or of its 1D slice (so one item's time and memory are bounded
        whatever the path length)."""
        if self.done:
            return
        kind, i, k = self._items[self.n_done]
        part = slice(k, k + self.chunk)
        shape, X, y, budget = self.shape, self.X, self.y, self.spec.memory_budget
        if kind == "grid":
            self._z[part] = ls.plane_loss(
                shape, self.plane, self._grid_coords[part], X, y, budget, DTYPE
            )
        elif kind == "projected":
            coords = self.coords[i][part]
            self._projected[i][part] = ls.plane_loss(shape, self.plane, coords, X, y, budget, DTYPE)
        elif kind == "true":
            self._true[i][part] = ls.losses_at(shape, self._paths[i][part], X, y, budget, DTYPE)
        else:
            end, ts = self._paths[i][-1], self.ts[part]
            self._slices[i][part] = ls.slice_1d(shape, end, self._raw, ts, X, y, budget, DTYPE)
        self.n_done += 1

    def result_(self) -> Landscape:
        """The finished :class:`Landscape` (ValueError before :attr:`done`)."""
        if not self.done:
            raise ValueError("the landscape is not finished")
        mode, ref = self.spec.mode, self.reference
        steps = tuple(s if mode == "pca" else s[-1:] for s in self._path_steps)
        if mode == "random":
            steps = tuple(s if i == ref else s[:0] for i, s in enumerate(steps))
        return Landscape(
            mode=mode,
            reference=ref,
            plane=self.plane,
            alphas=self.alphas,
            betas=self.betas,
            loss=self._z.reshape(len(self.betas), len(self.alphas)),
            coords=self.coords,
            path_steps=steps,
            projected_loss=tuple(self._projected),
            true_loss=tuple(self._true),
            slice_ts=self.ts,
            slices=tuple(self._slices),
            sharpness=tuple(ls.sharpness(self.ts, v) for v in self._slices),
            excluded=tuple(i for i in range(len(self._paths)) if i not in self.ok),
        )


def landscape(
    result,
    *,
    mode: str = "pca",
    reference: int | None = None,
    grid: int = 41,
    seed: int = 0,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> Landscape:
    """The landscape around a race's trajectories (see :class:`Landscape`), built at once.

    PCA mode fits the plane to every racer's recorded points except those of racers that
    diverged (their last finite points can be astronomically far and would become the plane
    by themselves; they are still projected and listed in ``excluded``). ``reference``: the
    racer whose final point is the origin; ``None`` = the one with the lowest final training
    loss. It must not have diverged; if it has, the first one that did not is used.
    """
    build = LandscapeBuild(result, LandscapeSpec(mode, reference, grid, seed, memory_budget))
    while not build.done:
        build.step()
    return build.result_()

"""Seeded toy datasets for the network pages, with a train/validation split.

Two families:

* 2D classification (what a decision boundary can be drawn for): ``moons``, ``circles``,
  ``spirals`` (k arms), ``xor``, ``blobs`` (k Gaussian classes).
* "Few informative features" (``sparse_classification``, ``sparse_regression``): ``d``
  standard-normal features of which only ``k`` drive the target, with few samples
  (default d=50, k=5, n=100). A plain network overfits them; L1 finds the ``k`` columns,
  which :attr:`Dataset.informative` names so a page can mark them.

Every generator is vectorized over samples and draws only from ``np.random.default_rng(seed)``,
so the same arguments give bitwise-identical arrays. Classes are balanced by construction
(``n // n_classes`` each, the remainder to the first classes) and the split is stratified.

Labels: ``y`` is ``(n,)`` int64 class indices for classification and ``(n,)`` float64 targets
for regression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.knobs import Knob

MAX_SAMPLES = 20_000
MAX_FEATURES = 512


@dataclass(frozen=True)
class Dataset:
    """A generated dataset, already split.

    Attributes:
        name: registry key it was made from.
        X_train: ``(n_train, d)`` float64 features.
        y_train: ``(n_train,)`` int64 labels (classification) or float64 targets (regression).
        X_val: ``(n_val, d)``; y_val: ``(n_val,)``.
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes (``1`` for regression: one output unit).
        informative: sorted int indices of the columns that drive the target, or ``None``
            when every column matters (the 2D sets).
        params: the generator arguments actually used (for captions and reproducibility).
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: str
    n_classes: int
    informative: np.ndarray | None = None
    params: dict = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Output units a network needs: ``n_classes`` (softmax) or 1 (regression)."""
        return self.n_classes if self.task == "classification" else 1


# --------------------------------------------------------------------------------------------
# generators: (rng, n, noise, **kw) -> (X (n, d), y (n,), informative | None)


def _class_sizes(n: int, k: int) -> np.ndarray:
    """Balanced class labels ``(n,)``: ``n // k`` per class, the remainder to the first."""
    return np.repeat(np.arange(k), np.diff(np.linspace(0, n, k + 1).round().astype(int)))


def _moons(rng, n, noise):
    """Two interleaving half circles (as sklearn's make_moons).

    Class 0: (cos t, sin t), class 1: (1 - cos t, 0.5 - sin t), t ∈ [0, π]; plus N(0, noise²).
    """
    y = _class_sizes(n, 2)
    t = rng.uniform(0.0, np.pi, n)
    x0 = np.where(y == 0, np.cos(t), 1.0 - np.cos(t))
    x1 = np.where(y == 0, np.sin(t), 0.5 - np.sin(t))
    X = np.stack([x0, x1], axis=1) + rng.normal(0.0, noise, (n, 2))
    return X, y, None


def _circles(rng, n, noise, factor=0.5):
    """A small circle (radius ``factor``, class 1) inside a unit circle (class 0)."""
    if not 0.0 < factor < 1.0:
        raise ValueError(f"Invalid factor value: {factor} (must be in (0, 1))")
    y = _class_sizes(n, 2)
    t = rng.uniform(0.0, 2.0 * np.pi, n)
    r = np.where(y == 0, 1.0, factor)
    X = np.stack([r * np.cos(t), r * np.sin(t)], axis=1) + rng.normal(0.0, noise, (n, 2))
    return X, y, None


def _spirals(rng, n, noise, n_arms=3, turns=1.0):
    """``n_arms`` interleaved Archimedean spirals, one class per arm.

    Arm c at radius r ∈ [0.1, 1]: angle θ = 2π·turns·r + 2πc/k; point r(cos θ, sin θ) + noise.
    """
    n_arms = int(n_arms)
    if not 2 <= n_arms <= 10:
        raise ValueError(f"Invalid n_arms value: {n_arms} (must be 2..10)")
    y = _class_sizes(n, n_arms)
    r = rng.uniform(0.1, 1.0, n)
    theta = 2.0 * np.pi * turns * r + 2.0 * np.pi * y / n_arms
    X = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    return X + rng.normal(0.0, noise, (n, 2)), y, None


def _xor(rng, n, noise):
    """Uniform points in [-1, 1]²; class 1 where x·y > 0 (the first and third quadrants).

    Noise is added to the inputs after labelling, so a large noise blurs the quadrants.
    """
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    return X + rng.normal(0.0, noise, (n, 2)), y, None


def _blobs(rng, n, noise, n_classes=3, spread=2.0):
    """``n_classes`` Gaussians (std ``noise``) centred on a circle of radius ``spread``."""
    n_classes = int(n_classes)
    if not 2 <= n_classes <= 10:
        raise ValueError(f"Invalid n_classes value: {n_classes} (must be 2..10)")
    y = _class_sizes(n, n_classes)
    angle = 2.0 * np.pi * np.arange(n_classes) / n_classes
    centers = spread * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centers[y] + rng.normal(0.0, noise, (n, 2)), y, None


def _sparse_features(rng, n, n_features, n_informative):
    if not 1 <= n_informative <= n_features <= MAX_FEATURES:
        raise ValueError(
            f"Invalid feature counts: n_informative={n_informative}, n_features={n_features} "
            f"(need 1 <= n_informative <= n_features <= {MAX_FEATURES})"
        )
    X = rng.standard_normal((n, n_features))
    informative = np.sort(rng.choice(n_features, size=n_informative, replace=False))
    # weights of magnitude in [1, 2] with random signs: every informative column clearly matters
    w = rng.uniform(1.0, 2.0, n_informative) * rng.choice([-1.0, 1.0], n_informative)
    return X, informative, w


def _sparse_classification(rng, n, noise, n_features=50, n_informative=5):
    """Binary labels from a linear score on ``k`` of ``d`` standard-normal features.

    score = X[:, S]·w / √k + N(0, noise²), S = ``informative``; y = 1[score > median(score)]
    (the median threshold keeps the classes balanced).
    """
    n_features, n_informative = int(n_features), int(n_informative)
    X, informative, w = _sparse_features(rng, n, n_features, n_informative)
    score = X[:, informative] @ w / np.sqrt(n_informative) + rng.normal(0.0, noise, n)
    y = (score > np.median(score)).astype(np.int64)
    return X, y, informative


def _sparse_regression(rng, n, noise, n_features=50, n_informative=5):
    """y = X[:, S]·w / √k + N(0, noise²) with ``k`` informative columns S of ``d``."""
    n_features, n_informative = int(n_features), int(n_informative)
    X, informative, w = _sparse_features(rng, n, n_features, n_informative)
    y = X[:, informative] @ w / np.sqrt(n_informative) + rng.normal(0.0, noise, n)
    return X, y, informative


@dataclass(frozen=True)
class DatasetSpec:
    """Registry entry: generator, task, defaults and a one-line description."""

    make: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray | None]]
    task: str
    n_samples: int
    noise: float
    options: dict[str, Any]
    description: str

    def n_classes(self, options: dict[str, Any]) -> int:
        if self.task == "regression":
            return 1
        return int(options.get("n_classes", options.get("n_arms", 2)))


DATASETS: dict[str, DatasetSpec] = {
    "moons": DatasetSpec(_moons, "classification", 400, 0.2, {}, "two interleaving half moons"),
    "circles": DatasetSpec(
        _circles, "classification", 400, 0.1, {"factor": 0.5}, "a circle inside a circle"
    ),
    "spirals": DatasetSpec(
        _spirals,
        "classification",
        600,
        0.05,
        {"n_arms": 3, "turns": 1.0},
        "k interleaved spiral arms",
    ),
    "xor": DatasetSpec(_xor, "classification", 400, 0.05, {}, "the XOR quadrants"),
    "blobs": DatasetSpec(
        _blobs,
        "classification",
        400,
        0.7,
        {"n_classes": 3, "spread": 2.0},
        "k Gaussian blobs",
    ),
    "sparse_classification": DatasetSpec(
        _sparse_classification,
        "classification",
        100,
        0.1,
        {"n_features": 50, "n_informative": 5},
        "d features of which k matter (binary labels)",
    ),
    "sparse_regression": DatasetSpec(
        _sparse_regression,
        "regression",
        100,
        0.1,
        {"n_features": 50, "n_informative": 5},
        "d features of which k matter (real target)",
    ),
}

# Limits as data: pages feed these to their widgets and URL sanitizing.
DATASET_KNOBS: tuple[Knob, ...] = (
    Knob("data", "Dataset", "choice", "moons", choices=tuple(DATASETS)),
    Knob("n", "Samples", "int", 400, lo=20, hi=MAX_SAMPLES, cap=True, help="Total before split."),
    Knob("noise", "Noise", "float", 0.2, lo=0.0, hi=5.0, help="Std of the added Gaussian noise."),
    Knob("val", "Validation fraction", "float", 0.3, lo=0.05, hi=0.9),
    Knob("dseed", "Data seed", "int", 0, lo=0, hi=2**31 - 1),
)


def split(
    X: np.ndarray, y: np.ndarray, val_fraction: float, rng: np.random.Generator, stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split into ``(X_train, y_train, X_val, y_val)``.

    With ``stratify`` each class sends ``round(val_fraction · n_c)`` of its samples to
    validation (so both sides keep the class balance); otherwise ``round(val_fraction · n)``.
    Vectorized: one permutation, a stable sort by class, and a rank-within-class comparison.
    """
    n = len(y)
    perm = rng.permutation(n)
    if stratify:
        labels = y[perm]
        order = perm[np.argsort(labels, kind="stable")]
        sorted_labels = y[order]
        _, starts, counts = np.unique(sorted_labels, return_index=True, return_counts=True)
        rank = np.arange(n) - np.repeat(starts, counts)
        n_val_c = np.rint(val_fraction * counts).astype(int)
        is_val = rank < np.repeat(n_val_c, counts)
        mask = np.zeros(n, dtype=bool)
        mask[order[is_val]] = True
        # keep the shuffled order rather than grouped by class
        val_idx, train_idx = perm[mask[perm]], perm[~mask[perm]]
    else:
        n_val = int(np.rint(val_fraction * n))
        val_idx, train_idx = perm[:n_val], perm[n_val:]
    return X[train_idx], y[train_idx], X[val_idx], y[val_idx]


def make_dataset(
    name: str = "moons",
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    val_fraction: float = 0.3,
    **kw: Any,
) -> Dataset:
    """Generate dataset ``name`` and split it (see the module docstring).

    Args:
        name: a key of :data:`DATASETS`.
        n_samples: total samples before the split (default: the registry's), 4..20,000.
        noise: std of the Gaussian noise (default: the registry's), >= 0.
        seed: seeds both the generator and the split.
        val_fraction: share of samples held out for validation, in (0, 1).
        **kw: generator options, e.g. ``n_arms`` (spirals), ``n_classes`` (blobs),
            ``factor`` (circles), ``n_features`` / ``n_informative`` (sparse sets).

    Raises:
        ValueError: with a sentence naming the bad argument.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    n = spec.n_samples if n_samples is None else int(n_samples)
    noise = spec.noise if noise is None else float(noise)
    unknown = set(kw) - set(spec.options)
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ValueError(
            f"Unexpected option(s) {', '.join(sorted(unknown))} for dataset {name!r} "
            f"(allowed: {allowed})"
        )
    options = {**spec.options, **kw}
    if not 4 <= n <= MAX_SAMPLES:
        raise ValueError(f"Invalid n_samples value: {n} (must be 4..{MAX_SAMPLES})")
    if not (np.isfinite(noise) and noise >= 0.0):
        raise ValueError(f"Invalid noise value: {noise} (must be finite and >= 0)")
    if not (np.isfinite(val_fraction) and 0.0 < val_fraction < 1.0):
        raise ValueError(f"Invalid val_fraction value: {val_fraction} (must be in (0, 1))")

    rng = np.random.default_rng(seed)
    X, y, informative = spec.make(rng, n, noise, **options)
    n_classes = spec.n_classes(options)
    X_tr, y_tr, X_va, y_va = split(
        X.astype(np.float64),
        y,
        val_fraction,
        rng,
        stratify=spec.task == "classification",
    )
    if len(y_tr) == 0 or len(y_va) == 0:
        raise ValueError(
            f"val_fraction={val_fraction} with n_samples={n} leaves an empty train or "
            "validation set"
        )
    for a in (X_tr, y_tr, X_va, y_va):
        a.setflags(write=False)
    return Dataset(
        name=name,
        X_train=X_tr,
        y_train=y_tr,
        X_val=X_va,
        y_val=y_va,
        task=spec.task,
        n_classes=n_classes,
        informative=informative,
        params={"n_samples": n, "noise": noise, "seed": seed, "val_fraction": val_fraction}
        | options,
    )

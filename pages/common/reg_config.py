"""The Regularization lab's knobs, declared once as data, and the config they produce.

No Streamlit here: knob tables and the pure ``values -> LabConfig`` translation, so tests and
the README caps table use exactly what the page uses. URL keys: data ``data, n, noise, feat,
inf``; network and optimizer ``depth, width, act, opt, lr``; schedule ``epochs, batch, seed``;
``nv`` variants, and per variant ``i = 1..4``: ``v<i>`` (kind), ``l1_<i>``, ``l2_<i>`` (λ's),
``m<i>`` (L1 method), ``p<i>`` (keep-prob), ``es<i>`` (early stopping on), ``pat<i>``
(patience); views ``layer, hlog, ep, eps, glam, model, lossy``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine import activations
from engine.datasets import DATASETS, MAX_FEATURES
from engine.knobs import Knob
from engine.optimizers import PRESETS
from engine.reg_lab import (
    DEFAULT_BASE,
    DEFAULT_VARIANTS,
    MAX_VARIANTS,
    VARIANT_KINDS,
    LabConfig,
    Variant,
)
from engine.regularizers import L1_METHODS
from engine.trainer import MAX_EPOCHS

MAX_SAMPLES = 5000  # per-page cap: 4 variants train in one background job
MAX_DEPTH = 4
MAX_WIDTH = 256
MAX_LAMBDA = 100.0
MAX_LAYER_CHOICES = ("all", *(str(i) for i in range(1, MAX_DEPTH + 2)))

_B = DEFAULT_BASE
KIND_CHOICES = tuple(VARIANT_KINDS)
DATA = Knob(
    "data",
    "Dataset",
    "choice",
    _B.dataset,
    choices=tuple(DATASETS),
    help="The default has few samples and many irrelevant features: easy to overfit.",
)
N = Knob("n", "Samples", "int", _B.n_samples, lo=20, hi=MAX_SAMPLES, cap=True, step=10)
NOISE = Knob("noise", "Noise", "float", _B.noise, lo=0.0, hi=5.0, step=0.05)
FEATURES = Knob(
    "feat",
    "Features d",
    "int",
    _B.data_options["n_features"],
    lo=2,
    hi=MAX_FEATURES,
    cap=True,
    help="Input features (sparse datasets only).",
)
INFORMATIVE = Knob(
    "inf",
    "Informative features k",
    "int",
    _B.data_options["n_informative"],
    lo=1,
    hi=MAX_FEATURES,
    help="How many of the d features drive the target (sparse datasets only).",
)
DEPTH = Knob("depth", "Hidden layers", "int", len(_B.hidden), lo=1, hi=MAX_DEPTH, cap=True)
WIDTH = Knob("width", "Units per hidden layer", "int", _B.hidden[0], lo=1, hi=MAX_WIDTH, cap=True)
ACTIVATION = Knob(
    "act", "Activation", "choice", _B.activation, choices=tuple(activations.ACTIVATIONS)
)
OPTIMIZER = Knob(
    "opt",
    "Optimizer",
    "choice",
    "Momentum",
    choices=tuple(PRESETS),
    help="The shared optimizer classes (torch.optim formulas). Proximal L1 is exact ISTA "
    "with plain SGD; adaptive optimizers scale the data step but not the threshold.",
)
LR = Knob("lr", "Learning rate", "float", _B.hparams["lr"], lo=1e-5, hi=10.0, log=True)
EPOCHS = Knob("epochs", "Epochs", "int", _B.epochs, lo=1, hi=MAX_EPOCHS, cap=True, step=10)
BATCH = Knob("batch", "Batch size", "int", _B.batch_size, lo=1, hi=MAX_SAMPLES)
SEED = Knob(
    "seed",
    "Seed",
    "int",
    _B.seed,
    lo=0,
    hi=2**31 - 1,
    help="Initial weights, batch order and dropout masks; the same for every variant.",
)
N_VARIANTS = Knob("nv", "Variants", "int", len(DEFAULT_VARIANTS), lo=1, hi=MAX_VARIANTS, cap=True)
STATIC_KNOBS = (
    DATA,
    N,
    NOISE,
    FEATURES,
    INFORMATIVE,
    DEPTH,
    WIDTH,
    ACTIVATION,
    OPTIMIZER,
    LR,
    EPOCHS,
    BATCH,
    SEED,
    N_VARIANTS,
)

# views (not part of the training config: changing them never offers a restart)
LAYER = Knob(
    "layer",
    "Layer",
    "choice",
    "1",
    choices=MAX_LAYER_CHOICES,
    help="Which weight matrix the histogram and sparsity show (1 = input layer).",
)
LOG_COUNT = Knob("hlog", "Log count", "bool", False, help="Log-scale the histogram's count axis.")
EPOCH = Knob("ep", "Epoch shown", "int", _B.epochs, lo=0, hi=MAX_EPOCHS)
EPS = Knob(
    "eps",
    "ε for |w| < ε",
    "float",
    1e-3,
    lo=1e-12,
    hi=1.0,
    log=True,
    help="Weights smaller than ε in magnitude count as 'near zero'.",
)
GEO_LAMBDA = Knob(
    "glam",
    "λ",
    "float",
    0.8,
    lo=0.0,
    hi=2.0,
    step=0.02,
    extra={"slider": True},
    help="Penalty strength in the 2-weight picture.",
)
MODEL = Knob(
    "model",
    "Model shown",
    "choice",
    "restored",
    choices=("restored", "last"),
    help="Early-stopped variants: the model the run ended with (its best epoch's weights, "
    "restored) or the last epoch it trained.",
)
LOSS_AXIS = Knob(
    "lossy",
    "Loss axis",
    "choice",
    "auto",
    choices=("auto", "linear", "log"),
    help="auto: log scale when the losses span more than two powers of ten.",
)
VIEW_KNOBS = (LAYER, LOG_COUNT, EPOCH, EPS, GEO_LAMBDA, MODEL, LOSS_AXIS)


def variant_knobs(i: int) -> tuple[Knob, ...]:
    """Knobs of variant ``i`` (1-based), defaulting to the default preset's i-th variant."""
    d = DEFAULT_VARIANTS[i - 1] if i <= len(DEFAULT_VARIANTS) else Variant("none")
    lam = 0.02
    return (
        Knob(f"v{i}", "Regularizer", "choice", d.kind, choices=KIND_CHOICES),
        Knob(
            f"l1_{i}",
            "λ1 (L1)",
            "float",
            d.l1 or lam,
            lo=0.0,
            hi=MAX_LAMBDA,
            log=True,
            help="Strength of λ Σ|w|.",
        ),
        Knob(
            f"l2_{i}",
            "λ2 (L2)",
            "float",
            d.l2 or lam,
            lo=0.0,
            hi=MAX_LAMBDA,
            log=True,
            help="Strength of λ Σw² (torch's weight_decay = 2λ).",
        ),
        Knob(
            f"m{i}",
            "L1 method",
            "choice",
            d.method,
            choices=tuple(L1_METHODS),
            help="; ".join(f"{k}: {v}" for k, v in L1_METHODS.items()),
        ),
        Knob(
            f"p{i}",
            "Keep-prob p",
            "float",
            d.keep_prob if d.kind == "dropout" else 0.5,
            lo=0.05,
            hi=1.0,
            step=0.05,
            help="Dropout keeps each hidden unit with probability p (1 = off).",
        ),
        Knob(f"es{i}", "Early stopping", "bool", False),
        Knob(
            f"pat{i}",
            "Patience (epochs)",
            "int",
            20,
            lo=1,
            hi=MAX_EPOCHS,
            help="Stop after this many epochs without a better validation loss; the best "
            "epoch's weights are restored.",
        ),
    )


def data_defaults(dataset: str) -> dict[str, Any]:
    """The sample count and noise a dataset comes with: the ONE source of those defaults.

    ``?data=moons`` (no ``n``, ``noise``) and choosing moons in the box give the same values.
    """
    spec = DATASETS[dataset]
    return {"n": min(spec.n_samples, MAX_SAMPLES), "noise": float(spec.noise)}


def data_knobs(dataset: str) -> tuple[Knob, Knob]:
    """``(N, NOISE)`` with ``dataset``'s own defaults (:func:`data_defaults`)."""
    d = data_defaults(dataset)
    return replace(N, default=d["n"]), replace(NOISE, default=d["noise"])


def all_knobs(n_variants: int, dataset: str = DATA.default) -> tuple[Knob, ...]:
    """Every knob of the page for ``n_variants`` variants on ``dataset`` (sidebar order)."""
    per = [k for i in range(1, n_variants + 1) for k in variant_knobs(i)]
    n, noise = data_knobs(dataset)
    static = tuple({N.key: n, NOISE.key: noise}.get(k.key, k) for k in STATIC_KNOBS)
    return (*static, *per, *VIEW_KNOBS)


def variant_from_values(i: int, values: dict[str, Any]) -> Variant:
    """The :class:`Variant` of slot ``i`` from validated knob values."""
    return Variant(
        kind=values[f"v{i}"],
        l1=float(values[f"l1_{i}"]),
        l2=float(values[f"l2_{i}"]),
        method=values[f"m{i}"],
        keep_prob=float(values[f"p{i}"]),
        patience=int(values[f"pat{i}"]) if values[f"es{i}"] else None,
    ).canonical()


def lab_from_values(values: dict[str, Any]) -> tuple[LabConfig, list[str]]:
    """``(LabConfig, problems)`` from validated knob values.

    Cross-knob rules (each fixed with a sentence in ``problems``): k informative features
    cannot exceed d; the batch cannot exceed the training set (it is then full-batch).
    """
    problems = []
    name = values["data"]
    spec = DATASETS[name]
    options: dict[str, Any] = {}
    if "n_features" in spec.options:
        d, k = int(values["feat"]), int(values["inf"])
        if k > d:
            problems.append(
                f"Informative features (inf={k}) cannot exceed the features d={d}; using {d}."
            )
            k = d
        options = {"n_features": d, "n_informative": k}
    prefix = PRESETS[values["opt"]]
    base = DEFAULT_BASE.replace(
        dataset=name,
        n_samples=int(values["n"]),
        noise=float(values["noise"]),
        data_options=options,
        hidden=(int(values["width"]),) * int(values["depth"]),
        activation=values["act"],
        optimizer=prefix[0],
        hparams={**prefix[1], "lr": float(values["lr"])},
        epochs=int(values["epochs"]),
        batch_size=int(values["batch"]),
        seed=int(values["seed"]),
    )
    variants = tuple(variant_from_values(i, values) for i in range(1, int(values["nv"]) + 1))
    return LabConfig(base, variants), problems

"""The race page's network view (``view=network``): its knobs, declared once as data, and the
:class:`engine.netrace.NetRaceConfig` they produce from the sidebar's racers.

No Streamlit here. URL keys all start with ``n`` followed by a word (``ndata``, ``nwidth``,
``ndepth``, ``nact``, ``nepochs``, ``nbatch``, ``nseed``, ``nplane``, ``nref``, ``ngrid``,
``ntarget``, ``nshow``) or are ``nlr<i>``: racer i's learning rate ON THE NETWORK. The racers'
presets and their other hyperparameters are the sidebar's (``e<i>``, ``m<i>``, ``b1_<i>``...);
only the rate has its own key, because the race page's rates are tuned per 2D surface and are
off by orders of magnitude on a network (see :data:`engine.netrace.NETWORK_LRS`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine import netrace as nr
from engine.knobs import Knob

DATASETS = ("moons", "circles", "spirals", "xor", "sparse_classification")
ACTIVATIONS = ("tanh", "relu", "leaky_relu", "sigmoid")
MAX_WIDTH = 64
MAX_DEPTH = 4
MAX_EPOCHS = 300
MAX_GRID = 101
SHOW = ("Loss curves", "True vs projected loss", "Sharpness", "Leaderboard", "What carried over")
"""The secondary charts under the landscape (one at a time; the URL stores the label as shown,
because a bound segmented control with a ``format_func`` writes the formatted text)."""

MEMORY_BUDGET = 64 * 2**20  # bytes per chunk of the batched landscape evaluation

DATA = Knob(
    "ndata",
    "Dataset",
    "choice",
    "moons",
    choices=DATASETS,
    help="sparse_classification: 50 features of which 5 carry the label (few informative).",
)
WIDTH = Knob(
    "nwidth", "Hidden width", "int", 16, lo=2, hi=MAX_WIDTH, cap=True, help="Units per layer."
)
DEPTH = Knob(
    "ndepth", "Hidden layers", "int", 2, lo=1, hi=MAX_DEPTH, cap=True, help="Hidden layers."
)
ACT = Knob("nact", "Activation", "choice", "tanh", choices=ACTIVATIONS)
EPOCHS = Knob(
    "nepochs",
    "Epochs",
    "int",
    60,
    lo=5,
    hi=MAX_EPOCHS,
    step=5,
    cap=True,
    help="Passes over the training set (every racer sees the same minibatches).",
)
BATCH = Knob("nbatch", "Batch size", "int", 32, lo=4, hi=256, cap=True, help="Minibatch size.")
SEED = Knob(
    "nseed",
    "Seed (weights and batches)",
    "int",
    0,
    lo=0,
    hi=2**31 - 1,
    help="One seed for the shared initial weights and the shared minibatch order.",
)
PLANE = Knob(
    "nplane",
    "Landscape plane",
    "choice",
    "pca",
    choices=nr.LANDSCAPE_MODES,
    help="pca: the plane of the trajectories' top two principal directions (Li et al. §7); "
    "random: two filter-normalized random directions around one racer's end (§4).",
)
GRID = Knob(
    "ngrid",
    "Landscape grid (points per side)",
    "int",
    41,
    lo=11,
    hi=MAX_GRID,
    step=10,
    cap=True,
    help=f"The loss is evaluated on grid × grid points (at most {MAX_GRID}).",
)
TARGET = Knob(
    "ntarget",
    "Target loss",
    "float",
    0.15,
    lo=1e-4,
    hi=5.0,
    log=True,
    help="The leaderboard's 'settled' line: the step from which the training loss stays below.",
)
SHOW_KNOB = Knob("nshow", "Show", "choice", SHOW[0], choices=SHOW)

SIDEBAR_KNOBS = (DATA, WIDTH, DEPTH, ACT, EPOCHS, BATCH, SEED)
VIEW_KNOBS = (PLANE, GRID, TARGET, SHOW_KNOB)
STATIC_KNOBS = (*SIDEBAR_KNOBS, *VIEW_KNOBS)


def ref_knob(n: int) -> Knob:
    """``nref``: whose final weights are the origin (0 = the racer with the lowest loss)."""
    return Knob(
        "nref",
        "Origin: racer",
        "int",
        0,
        lo=0,
        hi=n,
        help="The landscape is centred on this racer's final weights (0: the lowest final loss).",
    )


def lr_knob(i: int, preset: str) -> Knob:
    """``nlr<i>``: racer i's learning rate on the network (default per preset)."""
    return Knob(
        f"nlr{i}",
        f"Racer {i} ({preset}) lr on the network",
        "float",
        nr.network_lr(preset),
        lo=1e-5,
        hi=10.0,
        log=True,
        help="The sidebar's rate is tuned for the 2D surface; this one for the network.",
    )


def all_knobs(presets: list[str]) -> tuple[Knob, ...]:
    """Every knob of the view for racers with these presets (to sanitize the URL)."""
    lrs = tuple(lr_knob(i, p) for i, p in enumerate(presets, start=1))
    return (*STATIC_KNOBS, ref_knob(len(presets)), *lrs)


def net_config(values: dict[str, Any], specs, defaults) -> nr.NetRaceConfig:
    """The network race of the sidebar's racers with the view's own rates ``nlr<i>`` and
    network/data/schedule knobs (already validated).

    ``specs``/``defaults``: the race page's ``race_config.RacerSpec`` list and per-racer knob
    defaults; legends come from ``race_config.label_racers`` on the NETWORK rates, so a label
    names the rate the racer trains with (``Adam lr=0.005``), never the surface's.
    """
    from pages.common import race_config as rc

    swapped = [
        replace(
            s, hparams=tuple(sorted({**dict(s.hparams), "lr": float(values[f"nlr{i}"])}.items()))
        )
        for i, s in enumerate(specs, start=1)
    ]
    labelled = rc.label_racers(swapped, [dict(d, lr=None) for d in defaults])
    racers = tuple(nr.Racer(s.label, s.optimizer, s.hparams) for s in labelled)
    width, depth = int(values["nwidth"]), int(values["ndepth"])
    return nr.NetRaceConfig(
        racers=racers,
        dataset=values["ndata"],
        hidden=(width,) * depth,
        activation=values["nact"],
        epochs=int(values["nepochs"]),
        batch_size=int(values["nbatch"]),
        seed=int(values["nseed"]),
    )

"""torch.optim-compatible optimizers in NumPy, plus the tables the UI builds controls from.

>>> opt = make("adam", lr=0.1)
>>> state = opt.init(theta)                    # {"step": 0, "exp_avg": ..., "exp_avg_sq": ...}
>>> theta, state = opt.step(theta, grad, state)  # pure
>>> opt.step_(theta, grad, state)                # in place (hot loops)

The update rules follow torch 2.13's ``_single_tensor_*`` functions operation for operation;
``tests/test_optimizers.py`` replays torch trajectories (``tests/gen_optim_golden.py``).
Hyperparameters may be arrays broadcasting to ``params`` to vectorize a sweep.

Layout: ``base`` (Optimizer, validation), one module per algorithm (``sgd``, ``rmsprop``,
``adagrad``, ``adam`` (Adam, AdamW), ``nadam``, ``adadelta``), ``registry`` (OPTIMIZERS,
make) and ``catalog`` (PRESETS, HPARAMS knobs, hparams_from_flat).
"""

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .catalog import HPARAMS, PRESETS, flat_from_hparams, hparams_from_flat
from .nadam import NAdam
from .registry import OPTIMIZERS, make
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "HPARAMS",
    "OPTIMIZERS",
    "PRESETS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "flat_from_hparams",
    "hparams_from_flat",
    "make",
]

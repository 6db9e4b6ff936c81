"""The registry of optimizers by name (a plain dict) and the ``make`` factory."""

from __future__ import annotations

from typing import Any

from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .nadam import NAdam
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, RMSprop, Adagrad, Adam, AdamW, NAdam, Adadelta)
}


def make(name: str, **hparams: Any) -> Optimizer:
    """The optimizer registered as ``name`` with validated ``hparams`` (torch's defaults fill
    the rest). ValueError on an unknown name, an unknown keyword or a bad value."""
    try:
        cls = OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(**hparams)

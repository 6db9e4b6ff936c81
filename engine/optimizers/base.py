"""The optimizer base class: hyperparameter validation, state, pure and in-place steps.

Every optimizer is a small class whose ``step_`` implements one update rule of torch.optim
(the ``_single_tensor_*`` functions of torch 2.13, in the same order of floating-point
operations). The class only arranges calls; there is no hidden state on the instance:

* ``opt.init(params) -> state``: ``{"step": 0, <buffers named as in torch>}``
* ``opt.step(params, grad, state) -> (params, state)``: PURE (inputs are never mutated)
* ``opt.step_(params, grad, state) -> None``: in place (params and state buffers are updated),
  the fast path for hot loops. ``grad`` is never written to.

Hyperparameters are Python numbers or NumPy arrays that broadcast *to* the shape of
``params``. Arrays vectorize a sweep: params of shape ``(k, 2)`` with ``lr`` of shape ``(k, 1)``
run ``k`` independent optimizers in one call (same for ``momentum``, ``betas`` items, ``eps``...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

Number = float | np.ndarray


@dataclass(frozen=True)
class Rule:
    """One validation rule: ``ok(value)`` must hold (elementwise for arrays).

    ``key`` names the hyperparameter; ``index`` picks an item of a tuple hyperparameter
    (``betas``). ``message`` is torch's, with ``{}`` standing for the offending value.
    Non-finite values always fail (torch lets ``inf`` through; a dashboard must not).
    """

    key: str
    message: str
    ok: Callable[[np.ndarray], np.ndarray]
    index: int | None = None


def nonneg(x: np.ndarray) -> np.ndarray:
    """``0 <= x`` (torch's ``not 0.0 <= x`` check, NaN fails)."""
    return x >= 0.0


def unit_open(x: np.ndarray) -> np.ndarray:
    """``0 <= x < 1`` (torch's beta check)."""
    return (x >= 0.0) & (x < 1.0)


def unit_closed(x: np.ndarray) -> np.ndarray:
    """``0 <= x <= 1`` (torch's rho check)."""
    return (x >= 0.0) & (x <= 1.0)


def anything(x: np.ndarray) -> np.ndarray:
    """No range constraint beyond finiteness (torch does not check SGD's dampening)."""
    return np.ones(np.shape(x), dtype=bool)


LR_RULE = Rule("lr", "Invalid learning rate: {}", nonneg)
EPS_RULE = Rule("eps", "Invalid epsilon value: {}", nonneg)
WD_RULE = Rule("weight_decay", "Invalid weight_decay value: {}", nonneg)
BETA_RULES = (
    Rule("betas", "Invalid beta parameter at index 0: {}", unit_open, index=0),
    Rule("betas", "Invalid beta parameter at index 1: {}", unit_open, index=1),
)


def is_nonzero(x: Number) -> bool:
    """Whether an optional term is switched on (for arrays: on for any element)."""
    return bool(np.any(x != 0))


def _as_number(raw: Any) -> Number:
    """A Python float for a scalar, else a read-only float64 array (TypeError/ValueError)."""
    if isinstance(raw, (str, bytes, bool, np.bool_)) or raw is None:
        raise TypeError
    arr = np.asarray(raw, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


class Optimizer(ABC):
    """Base class. Subclasses set ``name``, ``defaults``, ``rules``, ``flags``, ``buffers``
    and implement ``step_``.

    Attributes:
        name: the registry name (``"adam"``).
        defaults: torch's defaults for every hyperparameter (plus our documented extras).
        hparams: the validated hyperparameters, defaults filled in (tuples for ``betas``).
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    rules: ClassVar[tuple[Rule, ...]] = ()
    flags: ClassVar[tuple[str, ...]] = ()  # boolean hyperparameters

    def __init__(self, **hparams: Any) -> None:
        unknown = sorted(set(hparams) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"Unknown hyperparameter {unknown[0]!r} for {self.name}; "
                f"expected one of: {', '.join(self.defaults)}"
            )
        hp = {**self.defaults, **hparams}
        for key in self.flags:
            if not isinstance(hp[key], (bool, np.bool_)):
                raise ValueError(f"Invalid {key} value: {hp[key]!r} (expected True or False)")
            hp[key] = bool(hp[key])
        messages = {(r.key, r.index): r.message for r in self.rules}
        for key, raw in hp.items():
            if key in self.flags:
                continue
            if key == "betas":
                if not isinstance(raw, (tuple, list)) or len(raw) != 2:
                    raise ValueError(f"Invalid betas value: {raw!r} (expected a pair)")
                hp[key] = tuple(
                    self._number(key, item, messages.get((key, i))) for i, item in enumerate(raw)
                )
            else:
                hp[key] = self._number(key, raw, messages.get((key, None)))
        for rule in self.rules:
            value = hp[rule.key] if rule.index is None else hp[rule.key][rule.index]
            _check(rule, value)
        self.hparams = hp
        self._prepare()

    @staticmethod
    def _number(key: str, raw: Any, message: str | None) -> Number:
        message = message or f"Invalid {key} value: {{}}"
        try:
            return _as_number(raw)
        except (TypeError, ValueError):
            raise ValueError(message.format(repr(raw) if isinstance(raw, str) else raw)) from None

    def _prepare(self) -> None:
        """Derive whatever ``step_`` needs from ``self.hparams`` (once, not per step).

        Subclasses that derive more call ``super()._prepare()`` first.
        """
        self._use_wd = is_nonzero(self.hparams.get("weight_decay", 0.0))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())
        return f"{type(self).__name__}({args})"

    # -- state ---------------------------------------------------------------------------
    buffers: ClassVar[tuple[str, ...]] = ()

    def buffer_names(self) -> tuple[str, ...]:
        """The state buffers this configuration keeps (depends on switches like amsgrad)."""
        return self.buffers

    def init(self, params: np.ndarray) -> dict:
        """Fresh state for ``params`` (any shape): ``{"step": 0, <zero buffers like params>}``.

        Raises ValueError when an array hyperparameter does not broadcast to ``params``.
        """
        params = np.asarray(params)
        for key, value in self.hparams.items():
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, np.ndarray):
                    try:
                        shape = np.broadcast_shapes(item.shape, params.shape)
                    except ValueError:
                        shape = None
                    if shape != params.shape:
                        raise ValueError(
                            f"Hyperparameter {key} of shape {item.shape} does not broadcast "
                            f"to params of shape {params.shape}"
                        )
        dtype = params.dtype if np.issubdtype(params.dtype, np.floating) else np.float64
        state: dict[str, Any] = {"step": 0}
        for buf in self.buffer_names():
            state[buf] = np.zeros(params.shape, dtype=dtype)
        return state

    def step(self, params: np.ndarray, grad: np.ndarray, state: dict) -> tuple[np.ndarray, dict]:
        """One update, PURE: returns new ``(params, state)``; the inputs are left untouched.

        ``params`` keeps its floating dtype (float32 in, float32 out); integer input is
        promoted to float64.
        """
        params = np.asarray(params)
        dtype = params.dtype if np.issubdtype(params.dtype, np.floating) else np.float64
        new_params = np.array(params, dtype=dtype, copy=True)
        new_state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}
        self.step_(new_params, np.asarray(grad), new_state)
        return new_params, new_state

    def coordinate_lr(self, state: dict) -> np.ndarray | None:
        """The per-coordinate learning rate the last step used, shaped like the params.

        For the adaptive optimizers this is ``lr / (√state + eps)``: the factor that multiplies
        each coordinate's gradient (or first moment) in the update. ``None`` for optimizers
        that scale every coordinate alike (SGD, momentum). Read it after :meth:`step_`.
        """
        return None

    @abstractmethod
    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        """One update IN PLACE: mutates ``params`` and the buffers of ``state``."""

    def _weight_decay_(self, params: np.ndarray, grad: np.ndarray, decoupled: bool = False):
        """torch's ``weight_decay``, shared by every optimizer; returns the gradient to use.

        Coupled (L2 in the gradient): :math:`g \\leftarrow g + \\lambda\\theta` (a new array;
        ``grad`` is never written). Decoupled (AdamW, NAdam's switch):
        :math:`\\theta \\leftarrow \\theta(1 - \\gamma\\lambda)` in place, ``grad`` unchanged.
        """
        if not self._use_wd:
            return grad
        wd = self.hparams["weight_decay"]
        if decoupled:
            params *= 1 - self.hparams["lr"] * wd
            return grad
        return grad + wd * params


def _check(rule: Rule, value: Number) -> None:
    """Raise torch's message for the first value violating ``rule`` (or not finite)."""
    arr = np.asarray(value, dtype=np.float64)
    good = np.isfinite(arr) & rule.ok(arr)
    if np.all(good):
        return
    if arr.ndim == 0:
        raise ValueError(rule.message.format(float(arr)))
    idx = np.unravel_index(int(np.argmin(good)), arr.shape)
    where = rule.key if rule.index is None else f"{rule.key}[{rule.index}]"
    raise ValueError(
        rule.message.format(float(arr[idx]))
        + f" (element {tuple(int(i) for i in idx)} of {where} with shape {arr.shape})"
    )


def lerp_(a: np.ndarray, b: np.ndarray, w: Number) -> None:
    """``a <- a + w (b - a)`` in place, with torch's two-branch formula for accuracy.

    torch computes ``a + w (b - a)`` when ``|w| < 0.5`` and ``b - (b - a)(1 - w)`` otherwise;
    both branches agree mathematically, the choice only matters in the last bits.
    """
    diff = b - a
    if np.ndim(w) == 0:
        if abs(w) < 0.5:
            diff *= w
            a += diff
        else:
            diff *= 1.0 - w
            np.subtract(b, diff, out=a)
    else:
        small = a + w * diff
        large = b - diff * (1.0 - w)
        np.copyto(a, np.where(np.abs(w) < 0.5, small, large))

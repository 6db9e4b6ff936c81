"""Weight penalties (L1, L2, elastic net), ways to apply L1, and gradient clipping.

All functions act on the network's flat parameter buffer ``w`` (1-D, see :mod:`engine.nn`) and
a boolean ``mask`` of the same shape selecting the entries that are penalized: the weights
(``mlp.weight_mask``), not the biases, unless asked (``include_biases=True`` → every entry).
The penalties follow the course notes (no 1/2 factor)::

    L1(w)      = λ1 Σ |w|            ∂/∂w = λ1 sign(w)         (sign(0) = 0)
    L2(w)      = λ2 Σ w²             ∂/∂w = 2 λ2 w
    elastic(w) = λ1 Σ |w| + λ2 Σ w²

torch's ``weight_decay=wd`` adds ``wd·w`` to the gradient, i.e. it is the gradient of
``(wd/2) Σ w²``: our ``λ2`` equals ``wd / 2`` (and ``wd = 2 λ2``). Decoupled weight decay
(AdamW) is an optimizer, not a penalty; see :mod:`engine.optimizers`.

How the L1 term is applied (:data:`L1_METHODS`), with ``η`` the learning rate:

* ``"subgradient"``: add ``λ1 sign(w)`` to the gradient before the optimizer step. Weights
  oscillate around 0 but (almost) never land exactly on it.
* ``"proximal"``: leave L1 out of the gradient; after the optimizer step soft-threshold
  ``w ← S(w) = sign(w) · max(|w| - η λ1, 0)`` (proximal gradient / ISTA). Exact zeros.
* ``"truncation"``: add ``λ1 sign(w)`` to the gradient (like subgradient, so it goes
  through the optimizer's scaling), take the step, then set to exactly 0 every penalized weight
  whose sign flipped during the step: ``w_before ≠ 0`` and ``sign(w_after) ≠ sign(w_before)``.
  This is the "clip at zero" rule of Tsuruoka, Tsujii & Ananiadou (2009, ACL, §3, after
  Carpenter 2008) and the θ = ∞ case of Langford, Li & Zhang's truncated gradient (2009, JMLR):
  the L1 pull may bring a weight to 0 but never push it across. Because an adaptive optimizer
  mixes the data and L1 terms, a crossing is not attributed to either: every crossing is
  truncated. Exact zeros. With momentum or Adam the optimizer's buffers push a truncated
  weight off 0 again on the next step, so fewer weights sit at 0 at any one time; proximal
  (applied after the optimizer's step) is the robust way to get sparse weights there.

Per step, the trainer calls::

    before = reg.before_step(w)                    # a copy of w only for "truncation"
    reg.add_grad_(grad, w, mask)                   # L2 (+ L1 unless "proximal")
    opt.step_(w, grad, state)
    reg.after_step_(w, lr, mask, before)           # proximal / truncation

and reports ``data_loss + reg.penalty(w, mask)``.

Gradient clipping by global norm (:func:`clip_grad_norm_`, as torch.nn.utils.clip_grad_norm_)::

    g ← g · min(1, c / (‖g‖₂ + 1e-6))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

L1_METHODS: dict[str, str] = {
    "subgradient": "add λ·sign(w) to the gradient (no exact zeros)",
    "proximal": "soft-threshold after the step: sign(w)·max(|w| − lr·λ, 0) (exact zeros)",
    "truncation": "subgradient step, then zero the weights whose sign flipped (exact zeros)",
}


def _where(mask):
    return True if mask is None else mask


def l1_penalty(w: np.ndarray, lam: float, mask: np.ndarray | None = None) -> float:
    """``λ Σ_{mask} |w|`` (``mask=None``: every entry)."""
    return float(lam) * float(np.sum(np.abs(w), where=_where(mask)))


def l1_grad(w: np.ndarray, lam: float, mask: np.ndarray | None = None) -> np.ndarray:
    """``λ sign(w)`` on the masked entries, 0 elsewhere; shape of ``w``."""
    g = np.sign(w)
    g *= lam
    if mask is not None:
        g *= mask
    return g


def l2_penalty(w: np.ndarray, lam: float, mask: np.ndarray | None = None) -> float:
    """``λ Σ_{mask} w²``."""
    return float(lam) * float(np.sum(np.square(w), where=_where(mask)))


def l2_grad(w: np.ndarray, lam: float, mask: np.ndarray | None = None) -> np.ndarray:
    """``2 λ w`` on the masked entries, 0 elsewhere."""
    g = w * (2.0 * lam)
    if mask is not None:
        g *= mask
    return g


def elastic_penalty(w: np.ndarray, l1: float, l2: float, mask: np.ndarray | None = None) -> float:
    """``λ1 Σ |w| + λ2 Σ w²`` on the masked entries."""
    return l1_penalty(w, l1, mask) + l2_penalty(w, l2, mask)


def elastic_grad(w: np.ndarray, l1: float, l2: float, mask: np.ndarray | None = None):
    """``λ1 sign(w) + 2 λ2 w`` on the masked entries."""
    return l1_grad(w, l1, mask) + l2_grad(w, l2, mask)


def soft_threshold_(w: np.ndarray, threshold: float, mask: np.ndarray | None = None) -> None:
    """In place ``w ← sign(w) · max(|w| - t, 0)`` on the masked entries (the L1 prox)."""
    shrunk = np.abs(w)
    shrunk -= threshold
    np.maximum(shrunk, 0.0, out=shrunk)
    shrunk *= np.sign(w)
    np.copyto(w, shrunk, where=_where(mask))


def truncate_sign_flips_(w: np.ndarray, before: np.ndarray, mask: np.ndarray | None = None):
    """In place: 0 where ``before ≠ 0`` and ``sign(w) ≠ sign(before)`` (masked entries).

    Returns the number of weights truncated.
    """
    flipped = (w * before) <= 0
    flipped &= before != 0
    if mask is not None:
        flipped &= mask
    w[flipped] = 0.0
    return int(np.count_nonzero(flipped))


def clip_grad_norm_(grad: np.ndarray, max_norm: float) -> float:
    """Scale ``grad`` in place by ``min(1, c / (‖grad‖₂ + 1e-6))``; return ``‖grad‖₂`` before.

    Same as ``torch.nn.utils.clip_grad_norm_`` over all parameters (the flat gradient buffer
    holds them all, so its 2-norm is the global norm). A non-finite norm leaves ``grad``
    untouched (the trainer reports the divergence).
    """
    c = float(max_norm)
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    norm = float(np.sqrt(np.vdot(grad, grad)))
    if math.isfinite(norm):
        coef = c / (norm + 1e-6)
        if coef < 1.0:
            grad *= coef
    return norm


@dataclass(frozen=True)
class Regularizer:
    """Elastic-net penalty ``λ1 Σ|w| + λ2 Σw²`` with a choice of L1 method.

    ``l1 = 0`` gives pure L2, ``l2 = 0`` pure L1, both 0 nothing. See the module docstring for
    the methods and the per-step protocol. ``include_biases`` penalizes every parameter.
    """

    l1: float = 0.0
    l2: float = 0.0
    l1_method: str = "subgradient"
    include_biases: bool = False

    def __post_init__(self):
        for key in ("l1", "l2"):
            value = getattr(self, key)
            if not (_finite(value) and value >= 0):
                raise ValueError(f"Invalid {key} value: {value!r} (need a number >= 0)")
        if self.l1_method not in L1_METHODS:
            raise ValueError(
                f"Unknown l1_method {self.l1_method!r}; expected one of {', '.join(L1_METHODS)}"
            )

    @property
    def active(self) -> bool:
        return self.l1 > 0 or self.l2 > 0

    def _mask(self, mask):
        return None if self.include_biases else mask

    def penalty(self, w: np.ndarray, mask: np.ndarray | None) -> float:
        """Penalty value, for the reported loss (``data_loss + penalty``)."""
        if not self.active:
            return 0.0
        return elastic_penalty(w, self.l1, self.l2, self._mask(mask))

    def add_grad_(self, grad: np.ndarray, w: np.ndarray, mask: np.ndarray | None) -> None:
        """``grad += 2 λ2 w`` and, unless the method is ``"proximal"``, ``+= λ1 sign(w)``."""
        m = self._mask(mask)
        if self.l2 > 0:
            grad += l2_grad(w, self.l2, m)
        if self.l1 > 0 and self.l1_method != "proximal":
            grad += l1_grad(w, self.l1, m)

    def before_step(self, w: np.ndarray) -> np.ndarray | None:
        """What :meth:`after_step_` needs: a copy of ``w`` for ``"truncation"``, else None."""
        if self.l1 > 0 and self.l1_method == "truncation":
            return w.copy()
        return None

    def after_step_(
        self, w: np.ndarray, lr: float, mask: np.ndarray | None, before: np.ndarray | None = None
    ) -> None:
        """Post-step L1 for ``"proximal"`` (soft-threshold by ``lr·λ1``) and ``"truncation"``."""
        if self.l1 <= 0:
            return
        m = self._mask(mask)
        if self.l1_method == "proximal":
            soft_threshold_(w, float(lr) * self.l1, m)
        elif self.l1_method == "truncation":
            if before is None:
                raise ValueError("truncation needs the weights from before_step()")
            truncate_sign_flips_(w, before, m)


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False

"""RMSprop (Hinton, Coursera lecture 6e), as torch.optim.RMSprop."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import EPS_RULE, LR_RULE, WD_RULE, Optimizer, Rule, is_nonzero, lerp_, nonneg


class RMSprop(Optimizer):
    r"""Divide the gradient by a running root-mean-square of recent gradients.

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \alpha \text{ (alpha)}, \epsilon \text{ (eps)},
            \lambda \text{ (weight_decay)}, \mu \text{ (momentum)}, \textit{centered} \\
        \textbf{state}: v_0 = 0 \text{ (square_avg)}, \; g^{ave}_0 = 0 \text{ (grad_avg)},
            \; b_0 = 0 \text{ (momentum_buffer)} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0) \\
        \quad v_t \leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2; \quad \tilde v_t = v_t \\
        \quad \textbf{if } \textit{centered}: g^{ave}_t \leftarrow \alpha g^{ave}_{t-1}
            + (1 - \alpha) g_t; \; \tilde v_t \leftarrow v_t - (g^{ave}_t)^2 \\
        \quad \textbf{if } \mu > 0: b_t \leftarrow \mu b_{t-1} + g_t / (\sqrt{\tilde v_t}
            + \epsilon); \; \theta_t \leftarrow \theta_{t-1} - \gamma b_t \\
        \quad \textbf{else}: \theta_t \leftarrow \theta_{t-1} - \gamma g_t / (\sqrt{\tilde v_t}
            + \epsilon)

    Differences from common conventions (as in torch): :math:`\epsilon` is added *outside*
    the square root (TensorFlow adds it inside), :math:`v_0 = 0` with no bias correction,
    so the very first steps are large (:math:`|\Delta\theta_1| \approx \gamma / \sqrt{1-\alpha}`).
    The course notes' RMSProp is this rule with ``momentum = 0, centered = False``.
    """

    name: ClassVar[str] = "rmsprop"
    defaults: ClassVar[dict] = {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    }
    flags: ClassVar[tuple[str, ...]] = ("centered",)
    rules: ClassVar[tuple[Rule, ...]] = (
        LR_RULE,
        EPS_RULE,
        Rule("momentum", "Invalid momentum value: {}", nonneg),
        WD_RULE,
        Rule("alpha", "Invalid alpha value: {}", nonneg),
    )

    def _prepare(self) -> None:
        super()._prepare()
        hp = self.hparams
        self._use_momentum = is_nonzero(hp["momentum"])
        self._one_minus_alpha = 1 - hp["alpha"]

    def buffer_names(self) -> tuple[str, ...]:
        names = ("square_avg",)
        if self._use_momentum:
            names += ("momentum_buffer",)
        if self.hparams["centered"]:
            names += ("grad_avg",)
        return names

    def coordinate_lr(self, state: dict) -> np.ndarray:
        """``lr / (√v_t + eps)`` per coordinate (``v − ḡ²`` under the root when centered)."""
        hp = self.hparams
        v = state["square_avg"]
        if hp["centered"]:
            v = np.maximum(v - state["grad_avg"] ** 2, 0.0)
        return hp["lr"] / (np.sqrt(v) + hp["eps"])

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        state["step"] += 1
        g = self._weight_decay_(params, grad)
        square_avg = state["square_avg"]
        square_avg *= hp["alpha"]
        square_avg += (self._one_minus_alpha * g) * g
        if hp["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, g, self._one_minus_alpha)
            avg = square_avg - grad_avg * grad_avg
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg)
        avg += hp["eps"]
        if self._use_momentum:
            buf = state["momentum_buffer"]
            buf *= hp["momentum"]
            buf += g / avg
            params -= hp["lr"] * buf
        else:
            params += (-hp["lr"] * g) / avg

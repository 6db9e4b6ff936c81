"""Adadelta (Zeiler, 2012), as torch.optim.Adadelta."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import EPS_RULE, LR_RULE, WD_RULE, Optimizer, Rule, unit_closed


class Adadelta(Optimizer):
    r"""Scale the step by the ratio of running RMS of past updates to RMS of gradients.

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \rho \text{ (rho)}, \epsilon \text{ (eps)},
            \lambda \text{ (weight_decay)} \\
        \textbf{state}: v_0 = 0 \text{ (square_avg)}, \; u_0 = 0 \text{ (acc_delta)} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0) \\
        \quad v_t \leftarrow \rho v_{t-1} + (1 - \rho) g_t^2 \\
        \quad \Delta x_t \leftarrow \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}} g_t \\
        \quad u_t \leftarrow \rho u_{t-1} + (1 - \rho) \Delta x_t^2 \\
        \quad \theta_t \leftarrow \theta_{t-1} - \gamma \Delta x_t

    The paper has no learning rate (:math:`\gamma = 1`, torch's default); :math:`\epsilon`
    sits *inside* both square roots and sets the size of the very first steps
    (:math:`\approx \sqrt{\epsilon / (1 - \rho)}`), which is why Adadelta starts slowly.
    """

    name: ClassVar[str] = "adadelta"
    defaults: ClassVar[dict] = {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0}
    rules: ClassVar[tuple[Rule, ...]] = (
        LR_RULE,
        Rule("rho", "Invalid rho value: {}", unit_closed),
        EPS_RULE,
        WD_RULE,
    )
    buffers: ClassVar[tuple[str, ...]] = ("square_avg", "acc_delta")

    def _prepare(self) -> None:
        super()._prepare()
        self._one_minus_rho = 1 - self.hparams["rho"]

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        rho, eps = hp["rho"], hp["eps"]
        state["step"] += 1
        g = self._weight_decay_(params, grad)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (self._one_minus_rho * g) * g
        std = square_avg + eps
        np.sqrt(std, out=std)
        delta = acc_delta + eps
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= g
        acc_delta *= rho
        acc_delta += (self._one_minus_rho * delta) * delta
        params -= hp["lr"] * delta

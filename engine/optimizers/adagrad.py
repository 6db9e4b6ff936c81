"""Adagrad (Duchi, Hazan & Singer, 2011), as torch.optim.Adagrad."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import EPS_RULE, LR_RULE, WD_RULE, Optimizer, Rule, nonneg


class Adagrad(Optimizer):
    r"""Divide by the root of the *cumulative* sum of squared gradients.

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \eta \text{ (lr_decay)},
            \lambda \text{ (weight_decay)}, \tau \text{ (initial_accumulator_value)},
            \epsilon \text{ (eps)} \\
        \textbf{state}: s_0 = \tau \text{ (sum)} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0) \\
        \quad \tilde\gamma \leftarrow \gamma / (1 + (t - 1) \eta) \\
        \quad s_t \leftarrow s_{t-1} + g_t^2 \\
        \quad \theta_t \leftarrow \theta_{t-1} - \tilde\gamma g_t / (\sqrt{s_t} + \epsilon)

    Because :math:`s_t` only grows, the effective step :math:`\tilde\gamma / \sqrt{s_t}` shrinks
    forever: good for sparse features, but training can stall prematurely (course notes).
    As in torch, :math:`\epsilon` is added outside the square root.
    """

    name: ClassVar[str] = "adagrad"
    defaults: ClassVar[dict] = {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    }
    rules: ClassVar[tuple[Rule, ...]] = (
        LR_RULE,
        Rule("lr_decay", "Invalid lr_decay value: {}", nonneg),
        WD_RULE,
        Rule(
            "initial_accumulator_value",
            "Invalid initial_accumulator_value value: {}",
            nonneg,
        ),
        EPS_RULE,
    )
    buffers: ClassVar[tuple[str, ...]] = ("sum",)

    def init(self, params: np.ndarray) -> dict:
        state = super().init(params)
        state["sum"] += self.hparams["initial_accumulator_value"]
        return state

    def coordinate_lr(self, state: dict) -> np.ndarray:
        """``clr_t / (√s_t + eps)`` per coordinate: ``s`` only grows, so (with ``lr_decay >= 0``)
        this only shrinks."""
        hp = self.hparams
        clr = hp["lr"] / (1 + (max(state["step"], 1) - 1) * hp["lr_decay"])
        return clr / (np.sqrt(state["sum"]) + hp["eps"])

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        state["step"] += 1
        g = self._weight_decay_(params, grad)
        clr = hp["lr"] / (1 + (state["step"] - 1) * hp["lr_decay"])
        state_sum = state["sum"]
        state_sum += g * g
        std = np.sqrt(state_sum)
        std += hp["eps"]
        params += (-clr * g) / std

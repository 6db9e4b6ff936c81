"""NAdam (Dozat, 2016): Adam with Nesterov momentum, as torch.optim.NAdam."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import BETA_RULES, EPS_RULE, LR_RULE, WD_RULE, Optimizer, Rule, lerp_, nonneg


class NAdam(Optimizer):
    r"""Adam whose first moment looks one step ahead, with a warming-up momentum schedule.

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2 \text{ (betas)},
            \epsilon \text{ (eps)}, \lambda \text{ (weight_decay)},
            \psi \text{ (momentum_decay)} \\
        \textbf{state}: m_0 = 0 \text{ (exp_avg)}, \; v_0 = 0 \text{ (exp_avg_sq)},
            \; \Pi_0 = 1 \text{ (mu_product)} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0 \text{; decoupled: }
            \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda)) \\
        \quad \mu_t \leftarrow \beta_1 (1 - \tfrac12 \, 0.96^{t \psi}), \;
            \mu_{t+1} \leftarrow \beta_1 (1 - \tfrac12 \, 0.96^{(t+1) \psi}), \;
            \Pi_t \leftarrow \Pi_{t-1} \mu_t \\
        \quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
            v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \quad d_t \leftarrow \sqrt{v_t / (1 - \beta_2^t)} + \epsilon \\
        \quad \theta_t \leftarrow \theta_{t-1}
            - \frac{\gamma (1 - \mu_t)}{1 - \Pi_t} \frac{g_t}{d_t}
            - \frac{\gamma \mu_{t+1}}{1 - \Pi_t \mu_{t+1}} \frac{m_t}{d_t}

    The momentum schedule :math:`\mu_t` (``momentum_decay`` :math:`\psi = 0.004`) is Dozat's
    and torch's; many write-ups use a constant :math:`\mu = \beta_1`. Weight decay is an L2
    term by default (torch's ``decoupled_weight_decay=False``).
    """

    name: ClassVar[str] = "nadam"
    defaults: ClassVar[dict] = {
        "lr": 2e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
    }
    flags: ClassVar[tuple[str, ...]] = ("decoupled_weight_decay",)
    rules: ClassVar[tuple[Rule, ...]] = (
        LR_RULE,
        EPS_RULE,
        *BETA_RULES,
        WD_RULE,
        Rule("momentum_decay", "Invalid momentum_decay value: {}", nonneg),
    )
    buffers: ClassVar[tuple[str, ...]] = ("exp_avg", "exp_avg_sq")

    def _prepare(self) -> None:
        super()._prepare()
        beta1, beta2 = self.hparams["betas"]
        self._one_minus_beta1 = 1 - beta1
        self._one_minus_beta2 = 1 - beta2

    def init(self, params: np.ndarray) -> dict:
        state = super().init(params)
        state["mu_product"] = 1.0  # a float, or an array when beta1/momentum_decay are arrays
        return state

    def coordinate_lr(self, state: dict) -> np.ndarray:
        """``lr / (√v̂_t + eps)`` per coordinate (``v̂ = v/(1−β₂ᵗ)``)."""
        hp = self.hparams
        v = state["exp_avg_sq"] / (1 - hp["betas"][1] ** max(state["step"], 1))
        return hp["lr"] / (np.sqrt(v) + hp["eps"])

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        beta1, beta2 = hp["betas"]
        lr, psi = hp["lr"], hp["momentum_decay"]
        state["step"] += 1
        step = state["step"]
        bias_correction2 = 1 - beta2**step
        g = self._weight_decay_(params, grad, decoupled=hp["decoupled_weight_decay"])
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        mu_product = state["mu_product"] * mu
        state["mu_product"] = mu_product
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, self._one_minus_beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (self._one_minus_beta2 * g) * g
        denom = exp_avg_sq / bias_correction2
        np.sqrt(denom, out=denom)
        denom += hp["eps"]
        mu_product_next = mu_product * mu_next
        params += ((-lr * (1.0 - mu) / (1.0 - mu_product)) * g) / denom
        params += (((-lr * mu_next) / (1.0 - mu_product_next)) * exp_avg) / denom

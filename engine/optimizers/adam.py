"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), as torch.optim."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import BETA_RULES, EPS_RULE, LR_RULE, WD_RULE, Optimizer, Rule, lerp_


class Adam(Optimizer):
    r"""Momentum (first moment) divided by a running RMS (second moment), bias-corrected.

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \beta_1, \beta_2 \text{ (betas)},
            \epsilon \text{ (eps)}, \lambda \text{ (weight_decay)}, \textit{amsgrad} \\
        \textbf{state}: m_0 = 0 \text{ (exp_avg)}, \; v_0 = 0 \text{ (exp_avg_sq)},
            \; v^{max}_0 = 0 \text{ (max_exp_avg_sq)} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0; \text{ AdamW decays } \theta \text{ instead}) \\
        \quad m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        \quad v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \quad \textbf{if } \textit{amsgrad}: v^{max}_t \leftarrow \max(v^{max}_{t-1}, v_t);
            \; \hat v_t = v^{max}_t \; \textbf{else } \hat v_t = v_t \\
        \quad \theta_t \leftarrow \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}
            \cdot \frac{m_t}{\sqrt{\hat v_t} / \sqrt{1 - \beta_2^t} + \epsilon}

    As in torch (and unlike the paper's :math:`\hat m / (\sqrt{\hat v} + \epsilon)` written
    literally), :math:`\epsilon` is added *after* dividing by :math:`\sqrt{1 - \beta_2^t}`,
    and the AMSGrad maximum is taken over the *uncorrected* :math:`v_t`.

    Extra switch (not in torch): ``bias_correction=False`` drops both
    :math:`1 - \beta^t` divisions, giving the course notes' formula
    :math:`\theta_t = \theta_{t-1} - \gamma m_t / (\sqrt{\hat v_t} + \epsilon)`; its first
    steps are tiny because :math:`m_t` starts at 0 (a named preset, never a silent default).
    """

    name: ClassVar[str] = "adam"
    defaults: ClassVar[dict] = {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
        "amsgrad": False,
        "bias_correction": True,
    }
    flags: ClassVar[tuple[str, ...]] = ("amsgrad", "bias_correction")
    rules: ClassVar[tuple[Rule, ...]] = (LR_RULE, EPS_RULE, *BETA_RULES, WD_RULE)
    decoupled_weight_decay: ClassVar[bool] = False

    def _prepare(self) -> None:
        super()._prepare()
        beta1, beta2 = self.hparams["betas"]
        self._one_minus_beta1 = 1 - beta1
        self._one_minus_beta2 = 1 - beta2

    def buffer_names(self) -> tuple[str, ...]:
        names = ("exp_avg", "exp_avg_sq")
        return names + ("max_exp_avg_sq",) if self.hparams["amsgrad"] else names

    def coordinate_lr(self, state: dict) -> np.ndarray:
        """``lr / (√v̂_t + eps)`` per coordinate, the factor on ``m̂_t`` (``v̂ = v/(1−β₂ᵗ)``,
        the running maximum with amsgrad, ``v`` itself without bias correction)."""
        hp = self.hparams
        beta2 = hp["betas"][1]
        v = state["max_exp_avg_sq"] if hp["amsgrad"] else state["exp_avg_sq"]
        if hp["bias_correction"]:
            v = v / (1 - beta2 ** max(state["step"], 1))
        return hp["lr"] / (np.sqrt(v) + hp["eps"])

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        beta1, beta2 = hp["betas"]
        lr = hp["lr"]
        state["step"] += 1
        step = state["step"]
        g = self._weight_decay_(params, grad, decoupled=self.decoupled_weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, g, self._one_minus_beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (self._one_minus_beta2 * g) * g
        second = exp_avg_sq
        if hp["amsgrad"]:
            second = state["max_exp_avg_sq"]
            np.maximum(second, exp_avg_sq, out=second)
        denom = np.sqrt(second)
        if hp["bias_correction"]:
            step_size = lr / (1 - beta1**step)
            denom /= (1 - beta2**step) ** 0.5
        else:
            step_size = lr
        denom += hp["eps"]
        params += (-step_size * exp_avg) / denom


class AdamW(Adam):
    r"""Adam with *decoupled* weight decay (torch.optim.AdamW).

    .. math::
        \theta_{t-1} \leftarrow \theta_{t-1} (1 - \gamma \lambda), \text{ then the Adam step on }
        g_t = \nabla f(\theta_{t-1}) \text{ (the decay never enters } m_t, v_t)

    With Adam's L2 penalty the decay is divided by :math:`\sqrt{\hat v}` like any gradient,
    so weights with large gradients are barely regularized; AdamW shrinks every weight by the
    same factor. Default ``weight_decay = 1e-2`` (torch's).
    """

    name: ClassVar[str] = "adamw"
    defaults: ClassVar[dict] = {**Adam.defaults, "weight_decay": 1e-2}
    decoupled_weight_decay: ClassVar[bool] = True

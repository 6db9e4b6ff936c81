"""Stochastic gradient descent with optional (Nesterov) momentum, as torch.optim.SGD."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import LR_RULE, WD_RULE, Optimizer, Rule, anything, is_nonzero, nonneg


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (torch.optim.SGD).

    .. math::
        \textbf{input}: \gamma \text{ (lr)}, \theta_0, \lambda \text{ (weight_decay)},
            \mu \text{ (momentum)}, \tau \text{ (dampening)}, \textit{nesterov} \\
        \textbf{for } t = 1, 2, \ldots: \\
        \quad g_t \leftarrow \nabla f(\theta_{t-1}) + \lambda \theta_{t-1}
            \quad (\text{if } \lambda \ne 0) \\
        \quad \textbf{if } \mu \ne 0: \; b_t \leftarrow g_t \text{ if } t = 1 \text{ else }
            \mu b_{t-1} + (1 - \tau) g_t; \;
            g_t \leftarrow g_t + \mu b_t \text{ (nesterov) else } b_t \\
        \quad \theta_t \leftarrow \theta_{t-1} - \gamma g_t

    State: ``step``, ``momentum_buffer`` (:math:`b`; zeros until the first step).

    Differences from common conventions (as in torch): momentum is applied to the gradient
    *before* the learning rate (Sutskever et al., 2013 apply ``lr`` inside the buffer), and
    the first buffer is the raw gradient :math:`b_1 = g_1`, not :math:`(1 - \tau) g_1`.
    Hence the course notes' EMA momentum :math:`v_t = \beta v_{t-1} + (1 - \beta) g_t`
    is ``momentum = dampening = β`` from step 2 on, with :math:`v_1 = g_1` (no warm-up bias).

    ``zero_init=True`` (not in torch) starts the buffer at :math:`b_0 = 0` and applies the
    recursion from the first step, :math:`b_1 = (1 - \tau) g_1`: with ``momentum = dampening
    = β`` that is exactly the notes' EMA :math:`v_t = \beta v_{t-1} + (1 - \beta) g_t`,
    :math:`v_0 = 0`, whose first step is :math:`1 - \beta` times torch's.

    Default ``lr = 1e-3`` as in torch >= 2.6.
    """

    name: ClassVar[str] = "sgd"
    defaults: ClassVar[dict] = {
        "lr": 1e-3,
        "momentum": 0.0,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "zero_init": False,
    }
    flags: ClassVar[tuple[str, ...]] = ("nesterov", "zero_init")
    rules: ClassVar[tuple[Rule, ...]] = (
        LR_RULE,
        Rule("momentum", "Invalid momentum value: {}", nonneg),
        WD_RULE,
        Rule("dampening", "Invalid dampening value: {}", anything),
    )

    def _prepare(self) -> None:
        super()._prepare()
        hp = self.hparams
        momentum, dampening = hp["momentum"], hp["dampening"]
        if hp["nesterov"] and (np.any(np.asarray(momentum) <= 0) or is_nonzero(dampening)):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._use_momentum = is_nonzero(momentum)
        if isinstance(momentum, np.ndarray):
            # torch ignores dampening where momentum == 0; so must the vectorized sweep.
            dampening = np.where(momentum == 0, 0.0, dampening)
        self._keep = 1 - dampening  # torch: add_(grad, alpha=1 - dampening)

    def buffer_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self._use_momentum else ()

    def step_(self, params: np.ndarray, grad: np.ndarray, state: dict) -> None:
        hp = self.hparams
        state["step"] += 1
        g = self._weight_decay_(params, grad)
        if self._use_momentum:
            momentum = hp["momentum"]
            buf = state["momentum_buffer"]
            if state["step"] == 1 and not hp["zero_init"]:
                np.copyto(buf, g)
            else:
                buf *= momentum
                buf += self._keep * g
            g = g + momentum * buf if hp["nesterov"] else buf
        params -= hp["lr"] * g

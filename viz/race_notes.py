"""What each optimizer does, as data: its update rule (LaTeX) and a two-line intuition.

Keyed by the preset label the race page shows (``engine.optimizers.PRESETS``). Symbols:
g = gradient, θ = parameters, γ = learning rate (``lr``), t = step count from 1. The formulas
are torch.optim's (BLUEPRINT §3) unless the label names the course notes' variant.
"""

from __future__ import annotations

NOTES: dict[str, tuple[str, str]] = {
    "SGD": (
        r"\theta_{t} = \theta_{t-1} - \gamma\, g_t",
        "Step straight downhill, proportionally to the slope. In a narrow valley the slope "
        "points across the valley, so plain SGD zig-zags and crawls along its floor.",
    ),
    "Momentum": (
        r"b_t = \mu\, b_{t-1} + g_t,\qquad \theta_t = \theta_{t-1} - \gamma\, b_t",
        "A heavy ball: the buffer b accumulates past gradients, so steps that agree add up "
        "(faster along the valley) and steps that flip sign cancel (less zig-zag).",
    ),
    "Momentum (EMA)": (
        r"v_t = \beta\, v_{t-1} + (1-\beta)\, g_t,\qquad \theta_t = \theta_{t-1} - \gamma\, v_t",
        "The course notes' form: momentum as an exponential moving average of gradients "
        "(torch: dampening = momentum). Same direction as Momentum, steps 1/(1-β) times smaller. "
        "Like torch, it starts at v₁ = g₁, so its first step is a full γ·g₁.",
    ),
    "Momentum (notes, v0 = 0)": (
        r"v_0 = 0,\quad v_t = \beta\, v_{t-1} + (1-\beta)\, g_t,\qquad "
        r"\theta_t = \theta_{t-1} - \gamma\, v_t",
        "Exactly the notes' formula: v starts at 0, so the first step is γ(1-β)g₁, "
        "10x smaller than Momentum (EMA)'s γg₁ at β = 0.9, and the early steps warm up gently.",
    ),
    "Nesterov": (
        r"b_t = \mu\, b_{t-1} + g_t,\qquad \theta_t = \theta_{t-1} - \gamma\,(g_t + \mu\, b_t)",
        "Momentum that looks ahead: it applies the gradient as if the buffer's step had "
        "already been taken, which brakes earlier when the valley curves.",
    ),
    "RMSProp": (
        r"v_t = \alpha\, v_{t-1} + (1-\alpha)\, g_t^2,\qquad "
        r"\theta_t = \theta_{t-1} - \gamma\, \frac{g_t}{\sqrt{v_t} + \epsilon}",
        "Divide each coordinate's step by a moving RMS of its recent gradients: steep "
        "directions get small steps, flat ones large, so every direction moves at a similar pace.",
    ),
    "Adagrad": (
        r"s_t = s_{t-1} + g_t^2,\qquad \theta_t = \theta_{t-1} - \gamma\, "
        r"\frac{g_t}{\sqrt{s_t} + \epsilon}",
        "Divide by the square root of the CUMULATIVE sum of squared gradients: good for rare, "
        "sparse features, but the sum only grows, so the step shrinks forever and can stall early.",
    ),
    "Adam": (
        r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,"
        r"\quad \theta_t = \theta_{t-1} - \gamma\,\frac{m_t/(1-\beta_1^t)}"
        r"{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}",
        "Momentum (m) plus RMSProp's scaling (v), with bias correction so the first steps are "
        "not too small. Steps are roughly γ in size whatever the gradient's scale.",
    ),
    "Adam (no bias correction)": (
        r"m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,"
        r"\quad \theta_t = \theta_{t-1} - \gamma\,\frac{m_t}{\sqrt{v_t} + \epsilon}",
        "The course notes' formula: m and v start at 0 and are not corrected, so early on "
        "m/√v is off by (1-β₁)/√(1-β₂) ≈ 3.2: the first steps are about 3x too big.",
    ),
    "AdamW": (
        r"\theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda),\quad \text{then the Adam step}",
        "Adam with decoupled weight decay: parameters shrink directly instead of through the "
        "gradient, so the decay is not rescaled by Adam's per-coordinate step size.",
    ),
    "NAdam": (
        r"\theta_t = \theta_{t-1} - \gamma\,\frac{\mu_{t+1} \hat m_t + (1-\mu_t)\, g_t / "
        r"(1-\prod_{i\le t}\mu_i)}{\sqrt{\hat v_t} + \epsilon}",
        "Adam with Nesterov's look-ahead on the first moment, and a momentum μₜ that warms up "
        "over the first few hundred steps.",
    ),
    "Adadelta": (
        r"v_t = \rho v_{t-1} + (1-\rho) g_t^2,\quad \Delta_t = \frac{\sqrt{u_{t-1}+\epsilon}}"
        r"{\sqrt{v_t+\epsilon}}\, g_t,\quad u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2,\quad "
        r"\theta_t = \theta_{t-1} - \gamma \Delta_t",
        "RMSProp whose step size is itself a moving RMS of past updates: the units match and "
        "no learning rate is really needed (γ = 1), but it starts very slowly.",
    ),
}

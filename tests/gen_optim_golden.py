"""Generate tests/fixtures/optim_golden.npz: torch.optim trajectories to replay without torch.

Run once (needs torch; not collected by pytest):  python -m tests.gen_optim_golden

For every optimizer and every hyperparameter switch, torch.optim (float64, single-tensor
path ``foreach=False``) minimizes a small deterministic non-quadratic problem on a (2, 3)
tensor for ``STEPS`` steps, gradients by autograd:

    f(θ) = ½ Σ_ij θ_ij (θ A)_ij + b·θ + 0.1 Σ θ⁴,   A symmetric positive definite (3, 3)

Saved per case ``<key>``: ``<key>/name`` (registry name), ``<key>/hparams`` (JSON),
``<key>/params`` (STEPS+1, 2, 3) = θ_0..θ_STEPS, ``<key>/grads`` (STEPS, 2, 3) = the gradient
fed at each step. The test replays ``grads`` through engine.optimizers and compares.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

STEPS = 50
SHAPE = (2, 3)
OUT = Path(__file__).parent / "fixtures" / "optim_golden.npz"

TORCH = {
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "nadam": torch.optim.NAdam,
    "adadelta": torch.optim.Adadelta,
}

# key -> (registry name, hparams): every switch at least once, lrs large enough to move.
CASES: dict[str, tuple[str, dict]] = {
    "sgd_plain": ("sgd", {"lr": 0.05}),
    "sgd_default": ("sgd", {}),
    "sgd_momentum": ("sgd", {"lr": 0.02, "momentum": 0.9}),
    "sgd_dampening": ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.9}),
    "sgd_dampening_half": ("sgd", {"lr": 0.05, "momentum": 0.5, "dampening": 0.5}),
    "sgd_nesterov": ("sgd", {"lr": 0.02, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("sgd", {"lr": 0.05, "weight_decay": 0.3}),
    "sgd_momentum_weight_decay": ("sgd", {"lr": 0.02, "momentum": 0.8, "weight_decay": 0.3}),
    "rmsprop_plain": ("rmsprop", {}),
    "rmsprop_centered": ("rmsprop", {"lr": 0.01, "centered": True}),
    "rmsprop_momentum": ("rmsprop", {"lr": 0.005, "momentum": 0.9}),
    "rmsprop_weight_decay": ("rmsprop", {"lr": 0.01, "weight_decay": 0.3, "alpha": 0.9}),
    "rmsprop_centered_momentum": (
        "rmsprop",
        {"lr": 0.005, "centered": True, "momentum": 0.5, "eps": 1e-3},
    ),
    "adagrad_plain": ("adagrad", {"lr": 0.3}),
    "adagrad_lr_decay": ("adagrad", {"lr": 0.3, "lr_decay": 0.05}),
    "adagrad_initial_accumulator_value": (
        "adagrad",
        {"lr": 0.3, "initial_accumulator_value": 0.5},
    ),
    "adagrad_weight_decay": ("adagrad", {"lr": 0.3, "weight_decay": 0.3, "eps": 1e-3}),
    "adam_plain": ("adam", {"lr": 0.05}),
    "adam_default": ("adam", {}),
    "adam_amsgrad": ("adam", {"lr": 0.05, "amsgrad": True, "betas": (0.8, 0.99)}),
    "adam_weight_decay": ("adam", {"lr": 0.05, "weight_decay": 0.3, "eps": 1e-3}),
    "adam_amsgrad_weight_decay": ("adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.3}),
    "adamw_plain": ("adamw", {"lr": 0.05}),
    "adamw_betas": ("adamw", {"lr": 0.05, "betas": (0.5, 0.9)}),
    "adamw_amsgrad": ("adamw", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    "adamw_weight_decay": ("adamw", {"lr": 0.05, "weight_decay": 0.5, "eps": 1e-4}),
    "nadam_plain": ("nadam", {"lr": 0.05}),
    "nadam_betas_eps": ("nadam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3}),
    "nadam_weight_decay": ("nadam", {"lr": 0.05, "weight_decay": 0.3}),
    "nadam_momentum_decay": ("nadam", {"lr": 0.05, "momentum_decay": 0.04}),
    "nadam_decoupled_weight_decay": (
        "nadam",
        {"lr": 0.05, "weight_decay": 0.3, "decoupled_weight_decay": True},
    ),
    "adadelta_plain": ("adadelta", {}),
    "adadelta_weight_decay": ("adadelta", {"weight_decay": 0.3, "rho": 0.5}),
    "adadelta_lr": ("adadelta", {"lr": 4.0, "eps": 1e-5}),
}


def problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """θ_0 (2, 3), A (3, 3) symmetric positive definite, b (2, 3); deterministic by seed."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((3, 3))
    a = m @ m.T / 3 + 0.5 * np.eye(3)
    return rng.standard_normal(SHAPE), a, rng.standard_normal(SHAPE)


def run(name: str, hparams: dict) -> tuple[np.ndarray, np.ndarray]:
    """torch's trajectory (STEPS+1, *SHAPE) and the gradients it was fed (STEPS, *SHAPE)."""
    theta0, a, b = (torch.from_numpy(x) for x in problem())
    theta = theta0.clone().requires_grad_(True)
    opt = TORCH[name]([theta], foreach=False, **hparams)
    params, grads = [theta0.numpy().copy()], []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = 0.5 * (theta * (theta @ a)).sum() + (b * theta).sum() + 0.1 * (theta**4).sum()
        loss.backward()
        grads.append(theta.grad.numpy().copy())
        opt.step()
        params.append(theta.detach().numpy().copy())
    return np.stack(params), np.stack(grads)


def main() -> None:
    torch.set_default_dtype(torch.float64)  # float64 step counters and NAdam's mu_product
    arrays: dict[str, np.ndarray] = {"torch_version": np.array(torch.__version__)}
    for key, (name, hparams) in CASES.items():
        params, grads = run(name, hparams)
        if not np.all(np.isfinite(params)):
            raise RuntimeError(f"{key}: torch trajectory is not finite; pick gentler hparams")
        arrays[f"{key}/name"] = np.array(name)
        arrays[f"{key}/hparams"] = np.array(json.dumps(hparams))
        arrays[f"{key}/params"] = params
        arrays[f"{key}/grads"] = grads
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    size = OUT.stat().st_size / 1024
    print(f"wrote {OUT} ({size:.0f} KB, {len(CASES)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()

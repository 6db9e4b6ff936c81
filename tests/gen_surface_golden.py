"""Generate tests/fixtures/surface_golden.npz: f and ∇f of every surface by torch autograd.

Run once (needs torch): ``python -m tests.gen_surface_golden``. The formulas below are typed
independently of engine/surfaces.py, straight from BLUEPRINT §4, so the fixture checks the
engine's hand-derived gradients against reverse-mode autograd of the textbook formulas.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from engine.surfaces import SURFACES

OUT = Path(__file__).parent / "fixtures" / "surface_golden.npz"
PI = math.pi


def formula(name: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "rosenbrock":
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2
    if name == "beale":
        return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2
    if name == "himmelblau":
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2
    if name == "booth":
        return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2
    if name == "rastrigin":
        return 20 + (x**2 - 10 * torch.cos(2 * PI * x)) + (y**2 - 10 * torch.cos(2 * PI * y))
    if name == "ackley":
        r = torch.sqrt(0.5 * (x**2 + y**2))
        c = 0.5 * (torch.cos(2 * PI * x) + torch.cos(2 * PI * y))
        return -20 * torch.exp(-0.2 * r) - torch.exp(c) + math.e + 20
    if name == "goldstein_price":
        a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x**2 - 14 * y + 6 * x * y + 3 * y**2)
        b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x**2 + 48 * y - 36 * x * y + 27 * y**2)
        return a * b
    if name == "six_hump_camel":
        return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2
    if name == "saddle":
        return x**2 - y**2
    if name == "ill_conditioned":
        return 0.5 * (x**2 + 50 * y**2)
    raise KeyError(name)


def main() -> None:
    rng = np.random.default_rng(20240601)
    arrays = {}
    for name, surface in SURFACES.items():
        (x0, x1), (y0, y1) = surface.domain
        pts = np.stack([rng.uniform(x0, x1, 64), rng.uniform(y0, y1, 64)], axis=-1)
        x = torch.tensor(pts[:, 0], dtype=torch.float64, requires_grad=True)
        y = torch.tensor(pts[:, 1], dtype=torch.float64, requires_grad=True)
        f = formula(name, x, y)
        f.sum().backward()
        arrays[f"{name}/xy"] = pts
        arrays[f"{name}/f"] = f.detach().numpy()
        arrays[f"{name}/grad"] = np.stack([x.grad.numpy(), y.grad.numpy()], axis=-1)
    OUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({len(SURFACES)} surfaces x 64 points)")


if __name__ == "__main__":
    main()

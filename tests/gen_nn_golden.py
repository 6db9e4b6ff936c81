"""Generate the torch golden data for tests/test_nn.py (needs torch; run once, commit output).

    python -m tests.gen_nn_golden        # writes tests/fixtures/nn_golden.npz

Everything random (data, parameters, dropout masks) is drawn with NumPy here and stored, so the
test loads the exact same parameters into ``engine.nn.MLP`` (``mlp.params = ...``) and never
depends on our initializers. torch computes, in float64 (one case in float32):

* ``case*``: data loss and the gradient of every weight and bias (autograd), flattened in the
  engine's layout ``W_0, b_0, W_1, b_1, ...`` with ``W_l`` of shape ``(fan_in, fan_out)``;
* ``traj*``: 10 full-batch training steps with torch.optim (SGD with momentum, Adam), one with
  an L2 penalty ``λ Σ w²`` on the weights and ``clip_grad_norm_``; the loss before each step and
  the parameters after each step.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).parent / "fixtures" / "nn_golden.npz"

ACTS = {
    "linear": lambda z, s: z,
    "sigmoid": lambda z, s: torch.sigmoid(z),
    "tanh": lambda z, s: torch.tanh(z),
    "relu": lambda z, s: torch.relu(z),
    "leaky_relu": lambda z, s: F.leaky_relu(z, s),
}
LOSSES = {
    "cross_entropy": lambda out, y: F.cross_entropy(out, y),
    "mse": lambda out, y: F.mse_loss(out, y),
    "bce": lambda out, y: F.binary_cross_entropy_with_logits(out, y),
}

CASES = [
    dict(sizes=[4, 8, 8, 8, 8, 3], act="tanh", loss="cross_entropy", residual=False),
    dict(sizes=[4, 8, 8, 8, 8, 2], act="sigmoid", loss="mse", residual=False),
    dict(sizes=[4, 8, 8, 8, 8, 2], act="relu", loss="bce", residual=False),
    dict(
        sizes=[4, 8, 8, 8, 8, 3], act="leaky_relu", loss="cross_entropy", residual=True, slope=0.1
    ),
    dict(sizes=[3, 6, 6, 6, 6, 1], act="linear", loss="mse", residual=True),
    dict(sizes=[4, 8, 8, 8, 8, 3], act="tanh", loss="cross_entropy", residual=True, keep=0.8),
    dict(sizes=[4, 8, 8, 3], act="relu", loss="cross_entropy", residual=False, soft=True),
    dict(sizes=[4, 8, 8, 8, 1], act="sigmoid", loss="bce", residual=False, scale=6.0),
    dict(
        sizes=[4, 8, 8, 8, 8, 3], act="tanh", loss="cross_entropy", residual=True, dtype="float32"
    ),
]

TRAJS = [
    dict(
        sizes=[2, 16, 16, 3],
        act="tanh",
        loss="cross_entropy",
        residual=True,
        opt="sgd",
        hp=dict(lr=0.1, momentum=0.9),
    ),
    dict(
        sizes=[3, 8, 8, 8, 2], act="relu", loss="mse", residual=False, opt="adam", hp=dict(lr=0.01)
    ),
    dict(
        sizes=[3, 8, 8, 1],
        act="sigmoid",
        loss="bce",
        residual=False,
        opt="adam",
        hp=dict(lr=0.05),
        l2=1e-3,
        clip=0.5,
    ),
]
STEPS = 10
N = 12


def _data(rng, case):
    sizes = case["sizes"]
    X = rng.normal(size=(N, sizes[0]))
    c = sizes[-1]
    if case["loss"] == "cross_entropy":
        if case.get("soft"):
            y = rng.random((N, c))
            y /= y.sum(axis=1, keepdims=True)
        else:
            y = rng.integers(0, c, size=N)
    elif case["loss"] == "bce":
        y = (rng.random((N, c)) < 0.5).astype(float)
    else:
        y = rng.normal(size=(N, c))
    return X, y


def _params(rng, sizes, scale):
    """Flat params in the engine layout; weights N(0, scale²/fan_in), biases N(0, 0.1²)."""
    parts = []
    for fi, fo in zip(sizes[:-1], sizes[1:], strict=True):
        parts.append(rng.normal(0, scale / np.sqrt(fi), size=fi * fo))
        parts.append(rng.normal(0, 0.1, size=fo))
    return np.concatenate(parts)


def _torch_tensors(flat, sizes, dtype):
    ws, bs, off = [], [], 0
    for fi, fo in zip(sizes[:-1], sizes[1:], strict=True):
        ws.append(
            torch.tensor(flat[off : off + fi * fo].reshape(fi, fo), dtype=dtype, requires_grad=True)
        )
        off += fi * fo
        bs.append(torch.tensor(flat[off : off + fo], dtype=dtype, requires_grad=True))
        off += fo
    return ws, bs


def _forward(ws, bs, X, case, masks=None):
    act, slope = ACTS[case["act"]], case.get("slope", 0.01)
    sizes, L = case["sizes"], len(ws)
    h = X
    for i in range(L):
        z = h @ ws[i] + bs[i]
        if i == L - 1:
            return z
        a = act(z, slope)
        if masks is not None:
            a = a * masks[i] / case["keep"]
        if case["residual"] and 1 <= i <= L - 2 and sizes[i] == sizes[i + 1]:
            a = h + a
        h = a


def _flat_grad(ws, bs):
    parts = []
    for w, b in zip(ws, bs, strict=True):
        parts += [w.grad.numpy().ravel(), b.grad.numpy().ravel()]
    return np.concatenate(parts).astype(np.float64)


def _target(y, case, dtype):
    if case["loss"] == "cross_entropy" and not case.get("soft"):
        return torch.tensor(y, dtype=torch.long)
    return torch.tensor(y, dtype=dtype)


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240611)
    store: dict[str, np.ndarray] = {}
    for k, case in enumerate(CASES):
        dtype = torch.float32 if case.get("dtype") == "float32" else torch.float64
        X, y = _data(rng, case)
        flat = _params(rng, case["sizes"], case.get("scale", 1.0))
        masks = None
        if "keep" in case:
            masks = [(rng.random((N, w)) < case["keep"]).astype(float) for w in case["sizes"][1:-1]]
            for i, m in enumerate(masks):
                store[f"case{k}_mask{i}"] = m
        ws, bs = _torch_tensors(flat, case["sizes"], dtype)
        tm = None if masks is None else [torch.tensor(m, dtype=dtype) for m in masks]
        out = _forward(ws, bs, torch.tensor(X, dtype=dtype), case, tm)
        loss = LOSSES[case["loss"]](out, _target(y, case, dtype))
        loss.backward()
        store[f"case{k}_X"], store[f"case{k}_y"], store[f"case{k}_params"] = X, y, flat
        store[f"case{k}_loss"] = np.array(loss.item())
        store[f"case{k}_grad"] = _flat_grad(ws, bs)
    for k, tr in enumerate(TRAJS):
        X, y = _data(rng, tr)
        flat = _params(rng, tr["sizes"], 1.0)
        ws, bs = _torch_tensors(flat, tr["sizes"], torch.float64)
        plist = [p for pair in zip(ws, bs, strict=True) for p in pair]
        opt = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[tr["opt"]](plist, **tr["hp"])
        Xt, yt = torch.tensor(X), _target(y, tr, torch.float64)
        losses, params = [], []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = LOSSES[tr["loss"]](_forward(ws, bs, Xt, tr), yt)
            if tr.get("l2"):
                loss = loss + tr["l2"] * sum((w * w).sum() for w in ws)
            loss.backward()
            if tr.get("clip"):
                torch.nn.utils.clip_grad_norm_(plist, tr["clip"])
            opt.step()
            losses.append(loss.item())
            params.append(np.concatenate([p.detach().numpy().ravel() for p in plist]))
        store[f"traj{k}_X"], store[f"traj{k}_y"], store[f"traj{k}_params0"] = X, y, flat
        store[f"traj{k}_losses"] = np.array(losses)
        store[f"traj{k}_params"] = np.array(params)
    store["cases"] = np.array(json.dumps(CASES))
    store["trajs"] = np.array(json.dumps(TRAJS))
    store["torch_version"] = np.array(torch.__version__)
    np.savez_compressed(OUT, **store)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.1f} KB)")


if __name__ == "__main__":
    main()

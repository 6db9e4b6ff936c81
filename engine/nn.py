"""A multilayer perceptron in NumPy whose parameters live in ONE flat buffer.

Network (``L = len(sizes) - 1`` layers, ``W_l`` of shape ``(sizes[l], sizes[l+1])``)::

    h_0 = X                                                        (N, sizes[0])
    z_l = h_l W_l + b_l                                            (N, sizes[l+1])
    hidden layer l < L-1:
        a_l     = f(z_l)                                           activation
        d_l     = a_l ⊙ m_l / p        (training with keep-prob p < 1; else d_l = a_l)
        h_{l+1} = h_l + d_l            if residual and 1 <= l <= L-2 and sizes[l] == sizes[l+1]
        h_{l+1} = d_l                  otherwise (the first layer is always plain)
    output layer:  out = z_{L-1}                                   linear logits (N, sizes[L])

``m_l`` is a Bernoulli(p) mask (inverted dropout: divided by ``p`` in training, nothing at test
time). Residual blocks apply dropout to the branch only, before the skip is added.

Backward (``g_l = ∂L/∂h_{l+1}``, the signal arriving at layer l's output; ``g_{L-1} = ∂L/∂out``)::

    δ_{L-1} = g_{L-1};   δ_l = g_l ⊙ m_l / p ⊙ f'(z_l)     (hidden layers)
    ∂L/∂W_l = h_lᵀ δ_l,  ∂L/∂b_l = Σ_n δ_l
    g_{l-1} = δ_l W_lᵀ (+ g_l when layer l is residual)

Flat parameter buffer: ``mlp.params`` is 1-D, laid out ``W_0, b_0, W_1, b_1, ...`` (each ``W_l``
row-major); ``mlp.weights[l]`` / ``mlp.biases[l]`` are VIEWS into it, so one vectorized optimizer
call ``opt.step_(mlp.params, grads.flat, state)`` updates the whole network in place. Gradients
use the same layout (:class:`Gradients`). ``mlp.weight_mask`` (bool, True on weight entries)
lets regularizers act on weights only. Never rebind the views; assigning ``mlp.params = x``
copies ``x`` into the buffer.

Typical use (what the trainer does)::

    out, cache = mlp.forward(X, train=True, rng=rng)        # rng drives the dropout masks
    loss, dout = losses.LOSSES["cross_entropy"](out, y)
    grads = mlp.backward(cache, dout)                       # grads.flat ~ mlp.params
    opt.step_(mlp.params, grads.flat, state)

Weights are drawn by :mod:`engine.inits` with one generator per layer derived from
``(seed, layer)``; biases start at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine import activations as _acts
from engine import inits as _inits
from engine import losses as _losses

DTYPES = (np.float64, np.float32)


@dataclass
class Cache:
    """What :meth:`MLP.forward` keeps for :meth:`MLP.backward` and for diagnostics.

    Attributes:
        inputs: ``h_l`` for l = 0..L-1, the input of each layer, ``(N, sizes[l])``;
            ``inputs[0]`` is X and ``inputs[l+1]`` is hidden layer l's output (after dropout
            and skip), i.e. the network's activations.
        pre_activations: ``z_l`` for every layer, ``(N, sizes[l+1])``; the last is the logits.
        activations: ``a_l = f(z_l)`` for hidden layers (before dropout and skip), L-1 entries.
        masks: per hidden layer the scaled dropout mask ``m_l / p`` ``(N, sizes[l+1])`` or None.
        out: the logits ``(N, sizes[L])``.
        train: whether the pass was in training mode.
    """

    inputs: list
    pre_activations: list
    activations: list
    masks: list
    out: np.ndarray
    train: bool

    @property
    def hidden(self) -> list:
        """Each hidden layer's output ``h_{l+1}`` (after dropout and skip), L-1 entries."""
        return self.inputs[1:]


@dataclass
class Gradients:
    """Gradients from :meth:`MLP.backward`, in the layout of ``mlp.params``.

    Attributes:
        flat: 1-D, same length and layout as ``mlp.params``.
        weights: ``∂L/∂W_l`` views into ``flat``, ``(sizes[l], sizes[l+1])``.
        biases: ``∂L/∂b_l`` views into ``flat``, ``(sizes[l+1],)``.
        activations: ``∂L/∂h_{l+1}``, the signal at layer l's output, ``(N, sizes[l+1])``;
            the last entry is ``∂L/∂out``. This is the per-layer ‖∂L/∂a_l‖ of the diagnostics.
        pre_activations: ``∂L/∂z_l = δ_l`` per layer, ``(N, sizes[l+1])``.
        input: ``∂L/∂X`` ``(N, sizes[0])`` when requested, else None.
    """

    flat: np.ndarray
    weights: list
    biases: list
    activations: list
    pre_activations: list
    input: np.ndarray | None = None


def _check_sizes(sizes) -> tuple[int, ...]:
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise ValueError(f"sizes must be a sequence of layer widths, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(
            f"sizes must list at least an input and an output width, got {list(sizes)}"
        )
    out = []
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"Invalid layer width at index {i}: {s!r} (need an integer >= 1)")
        out.append(int(s))
    return tuple(out)


class MLP:
    """Multilayer perceptron with flat parameter storage (see the module docstring).

    Args:
        sizes: layer widths ``(d_in, h_1, ..., d_out)``; ``len(sizes) - 1`` layers.
        activation: hidden activation, a key of :data:`engine.activations.ACTIVATIONS`.
        init: weight initializer, a key of :data:`engine.inits.INITS`.
        seed: seeds the weights (layer i uses a generator derived from ``(seed, i)``).
        init_scale: gain of the initializer (σ for "normal", c for "identity", ...).
        residual: add skip connections between equal-width hidden layers.
        dtype: ``numpy.float64`` (default) or ``numpy.float32``.
        leaky_slope: negative slope α of ``leaky_relu`` (torch's default 0.01); also the ``a``
            of He init when the activation is ``leaky_relu``.
        keep_prob: dropout keep-probability p in (0, 1] for hidden activations (1 = no dropout).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "tanh",
        init: str = "xavier_normal",
        seed: int = 0,
        init_scale: float = 1.0,
        residual: bool = False,
        dtype=np.float64,
        *,
        leaky_slope: float = _acts.DEFAULT_LEAKY_SLOPE,
        keep_prob: float = 1.0,
    ):
        self.sizes = _check_sizes(sizes)
        self.activation = activation
        self._act = _acts.get(activation)
        if init not in _inits.INITS:
            raise ValueError(f"Unknown init {init!r}; expected one of {', '.join(_inits.INITS)}")
        self.init = init
        if not _finite(init_scale):
            raise ValueError(f"Invalid init_scale: {init_scale!r}")
        if not _finite(leaky_slope):
            raise ValueError(f"Invalid leaky_slope: {leaky_slope!r}")
        if not (_finite(keep_prob) and 0.0 < keep_prob <= 1.0):
            raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob!r}")
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt not in DTYPES:
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        self.dtype = dt
        self.seed = int(seed)
        self.init_scale = float(init_scale)
        self.leaky_slope = float(leaky_slope)
        self.keep_prob = float(keep_prob)
        self.residual = bool(residual)
        L = len(self.sizes) - 1
        self.residual_layers = tuple(
            self.residual and 1 <= i <= L - 2 and self.sizes[i] == self.sizes[i + 1]
            for i in range(L)
        )
        # Layout: W_0, b_0, W_1, b_1, ... (slices into the flat buffer).
        self._w_slices, self._b_slices = [], []
        offset = 0
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            self._w_slices.append(slice(offset, offset + fan_in * fan_out))
            offset += fan_in * fan_out
            self._b_slices.append(slice(offset, offset + fan_out))
            offset += fan_out
        self._params = np.zeros(offset, dtype=dt)
        self.weights, self.biases = self._views(self._params)
        self.weight_mask = np.zeros(offset, dtype=bool)
        for s in self._w_slices:
            self.weight_mask[s] = True
        he_slope = self.leaky_slope if activation == "leaky_relu" else 0.0
        for i, w in enumerate(self.weights):
            w[...] = _inits.init_weight(
                init, w.shape[0], w.shape[1], self.seed, i, self.init_scale, he_slope
            )

    # ---- parameters -------------------------------------------------------------------
    @property
    def params(self) -> np.ndarray:
        """The flat parameter buffer (1-D); ``weights``/``biases`` are views into it."""
        return self._params

    @params.setter
    def params(self, value) -> None:
        value = np.asarray(value)
        if value.shape != self._params.shape:
            raise ValueError(f"params must have shape {self._params.shape}, got {value.shape}")
        self._params[...] = value

    @property
    def n_layers(self) -> int:
        """Number of linear layers ``L`` (hidden layers + output layer)."""
        return len(self.sizes) - 1

    @property
    def n_params(self) -> int:
        return self._params.size

    @property
    def weight_slices(self) -> list[slice]:
        """Slice of each ``W_l`` in the flat buffer."""
        return list(self._w_slices)

    @property
    def bias_slices(self) -> list[slice]:
        """Slice of each ``b_l`` in the flat buffer."""
        return list(self._b_slices)

    def _views(self, flat: np.ndarray) -> tuple[list, list]:
        ws = [
            flat[s].reshape(fi, fo)
            for s, fi, fo in zip(self._w_slices, self.sizes[:-1], self.sizes[1:], strict=True)
        ]
        bs = [flat[s] for s in self._b_slices]
        return ws, bs

    def __getstate__(self) -> dict:
        """Pickle without the ``weights``/``biases`` views (pickle would copy them apart from
        the flat buffer); :meth:`__setstate__` rebuilds them, so a network that travels to a
        worker process and back trains on exactly as before."""
        state = self.__dict__.copy()
        del state["weights"], state["biases"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.weights, self.biases = self._views(self._params)

    def new_gradients(self) -> Gradients:
        """A zeroed :class:`Gradients` to pass as ``out=`` to :meth:`backward` (reuse)."""
        flat = np.zeros_like(self._params)
        ws, bs = self._views(flat)
        return Gradients(flat, ws, bs, [None] * self.n_layers, [None] * self.n_layers)

    def copy(self) -> MLP:
        """An independent network with the same configuration and a copy of the parameters."""
        new = object.__new__(MLP)
        new.__dict__.update(self.__dict__)
        new._params = self._params.copy()
        new.weights, new.biases = new._views(new._params)
        return new

    # ---- forward / backward ------------------------------------------------------------
    def forward(
        self,
        X: np.ndarray,
        train: bool = False,
        rng: np.random.Generator | None = None,
        masks: Sequence | None = None,
    ) -> tuple[np.ndarray, Cache]:
        """Logits ``(N, sizes[-1])`` for ``X`` ``(N, sizes[0])`` and the :class:`Cache`.

        Dropout acts only when ``train`` is true and ``keep_prob < 1``. Masks come from ``rng``
        (``rng.random((N, width)) < keep_prob`` per hidden layer, in layer order) or, for
        gradient checks, from ``masks``: one 0/1 (or bool) array ``(N, width)`` or None per
        hidden layer, used as given (then divided by ``keep_prob``).
        """
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"Expected input of shape (N, {self.sizes[0]}), got shape {X.shape}")
        L = self.n_layers
        drop = train and (self.keep_prob < 1.0 or masks is not None)
        if drop and masks is None and rng is None:
            raise ValueError("forward(train=True) with keep_prob < 1 needs rng= or masks=")
        if masks is not None and len(masks) != L - 1:
            raise ValueError(f"masks must have one entry per hidden layer ({L - 1})")
        act, slope = self._act.forward, self.leaky_slope
        inputs, pres, posts, mlist = [X], [], [], []
        h = X
        n = X.shape[0]
        for i in range(L):
            W, b = self.weights[i], self.biases[i]
            z = np.matmul(h, W)
            z += b
            pres.append(z)
            if i == L - 1:
                break
            a = act(z, slope)
            posts.append(a)
            m = None
            if drop:
                if masks is not None:
                    if masks[i] is not None:
                        m = np.asarray(masks[i], dtype=self.dtype) * (1.0 / self.keep_prob)
                        if m.shape != a.shape:
                            raise ValueError(f"masks[{i}] must have shape {a.shape}")
                else:
                    m = rng.random((n, a.shape[1]), dtype=self.dtype) < self.keep_prob
                    m = m.astype(self.dtype) * (1.0 / self.keep_prob)
            mlist.append(m)
            hn = a if m is None else a * m
            if self.residual_layers[i]:
                hn = np.add(hn, h, out=hn if m is not None else None)
            inputs.append(hn)
            h = hn
        out = pres[-1]
        return out, Cache(inputs, pres, posts, mlist, out, bool(train))

    def backward(
        self, cache: Cache, dout: np.ndarray, out: Gradients | None = None, input_grad=False
    ) -> Gradients:
        """Backpropagate ``dout = ∂L/∂logits`` ``(N, sizes[-1])`` through the cached pass.

        Returns :class:`Gradients` (fills and returns ``out`` when given, reusing its flat
        buffer). ``input_grad=True`` also computes ``∂L/∂X``.
        """
        g = out if out is not None else self.new_gradients()
        L = self.n_layers
        deriv, slope = self._act.derivative, self.leaky_slope
        linear = self.activation == "linear"
        g_out = np.asarray(dout, dtype=self.dtype)
        if g_out.shape != cache.out.shape:
            raise ValueError(f"dout must have shape {cache.out.shape}, got {g_out.shape}")
        g.input = None
        for i in range(L - 1, -1, -1):
            if i == L - 1:
                dz = g_out
            else:
                m = cache.masks[i]
                if linear:
                    dz = g_out if m is None else g_out * m
                else:
                    dz = deriv(cache.pre_activations[i], cache.activations[i], slope)
                    dz *= g_out
                    if m is not None:
                        dz *= m
            g.activations[i] = g_out
            g.pre_activations[i] = dz
            np.matmul(cache.inputs[i].T, dz, out=g.weights[i])
            np.add.reduce(dz, axis=0, out=g.biases[i])
            if i == 0 and not input_grad:
                break
            g_in = np.matmul(dz, self.weights[i].T)
            if self.residual_layers[i]:
                g_in += g_out
            g_out = g_in
        if input_grad:
            g.input = g_out
        return g

    # ---- conveniences ------------------------------------------------------------------
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Logits ``(N, sizes[-1])`` in evaluation mode (no dropout)."""
        return self.forward(X)[0]

    def value_and_grad(
        self,
        X: np.ndarray,
        y: np.ndarray,
        loss: str = "cross_entropy",
        train: bool = False,
        rng: np.random.Generator | None = None,
        masks: Sequence | None = None,
        out: Gradients | None = None,
    ) -> tuple[float, Gradients]:
        """Data loss and its :class:`Gradients` (forward, loss, backward in one call)."""
        fn = _losses.get(loss)
        logits, cache = self.forward(X, train=train, rng=rng, masks=masks)
        value, dout = fn(logits, y)
        return value, self.backward(cache, dout, out=out)

    def loss_and_grads(
        self, X: np.ndarray, y: np.ndarray, loss: str = "cross_entropy"
    ) -> tuple[float, list, list]:
        """Data loss alone (no dropout, no penalty) and its gradients per layer.

        Returns ``(loss, weight_grads, bias_grads)`` with ``weight_grads[l]`` shaped like
        ``weights[l]`` and ``bias_grads[l]`` like ``biases[l]``.
        """
        value, g = self.value_and_grad(X, y, loss)
        return value, g.weights, g.biases

    def __repr__(self) -> str:
        return (
            f"MLP(sizes={list(self.sizes)}, activation={self.activation!r}, init={self.init!r}, "
            f"seed={self.seed}, init_scale={self.init_scale}, residual={self.residual}, "
            f"dtype={self.dtype.name}, keep_prob={self.keep_prob})"
        )


def _finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False

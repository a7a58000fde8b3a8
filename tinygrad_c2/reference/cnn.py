"""Hand-derived convolution and pooling in numpy the course's way (Course 4 week 1); a fast CNN.

Two halves:

1. The course's loops ("Convolutional Neural Networks: Step by Step"), written to be read:
   ``zero_pad``, ``conv_single_step``, ``conv_forward``/``conv_backward``, ``pool_forward``/
   ``pool_backward`` with ``create_mask_from_window`` and ``distribute_value``. The course's
   layout: activations (m, n_H, n_W, n_C) (channels last), weights W (f, f, n_C_prev, n_C),
   biases b (1, 1, 1, n_C), ``hparameters`` dicts with "stride" and "pad" (conv) or "f" and
   "stride" (pool). With the course's np.random.seed(1) inputs they print the notebook's
   published figures (examples/conv_step_by_step.py, tests/test_reference_cnn.py).
2. The same maths vectorized (``conv_forward_fast`` ... ``pool_backward_fast``: im2col through a
   strided view and one GEMM, no loop over pixels) and ``ConvNet``, a LeNet-style network with a
   hand-derived training step: the baseline of the ``cnn`` benchmark (tinygrad_c2/bench/cnn.py).

PyTorch's layout is NCHW with weights (n_C, n_C_prev, f, f): ``to_torch_layout`` and
``from_torch_layout`` convert. NOTE: the course's max-pool mask (``x == max(x)``) gives every
tied maximum of a window the whole gradient; PyTorch (and ``F.max_pool2d``) gives it to the
first maximum in row-major order only. The fast max pool here follows PyTorch; the loops follow
the course. They agree whenever a window's maximum is unique.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

POOL_MODES = ("max", "average")


# ------------------------------------------------------------------------------ the course

def zero_pad(X: np.ndarray, pad: int) -> np.ndarray:
    """Pad the height and width of every image of X (m, n_H, n_W, n_C) with ``pad`` zeros.

    >>> zero_pad(np.ones((1, 2, 2, 1)), 1)[0, :, :, 0].astype(int).tolist()
    [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant")


def conv_single_step(a_slice_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> float:
    """One output value, sum(a_slice_prev * W) + b, for a slice and a filter (f, f, n_C_prev).

    >>> conv_single_step(np.ones((2, 2, 1)), np.full((2, 2, 1), 0.5), np.ones((1, 1, 1)))
    3.0
    """
    return float(np.sum(a_slice_prev * W) + np.sum(b))


def _output_size(n_prev: int, f: int, pad: int, stride: int, where: str) -> int:
    """n = floor((n_prev + 2 pad - f) / stride) + 1, or a ValueError naming what does not fit."""
    if stride < 1 or pad < 0 or f < 1:
        raise ValueError(f"{where}: need f >= 1, stride >= 1 and pad >= 0, got f={f}, "
                         f"stride={stride}, pad={pad}")
    if f > n_prev + 2 * pad:
        raise ValueError(f"{where}: the {f}x{f} window is larger than the padded input "
                         f"({n_prev} + 2*{pad})")
    return (n_prev + 2 * pad - f) // stride + 1


def _conv_shapes(A_prev: np.ndarray, W: np.ndarray, hparameters: dict, where: str):
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, f2, n_C_prev_w, n_C = W.shape
    if f != f2 or n_C_prev_w != n_C_prev:
        raise ValueError(f"{where}: W {W.shape} must be (f, f, n_C_prev={n_C_prev}, n_C) for "
                         f"A_prev {A_prev.shape} (m, n_H_prev, n_W_prev, n_C_prev)")
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = _output_size(n_H_prev, f, pad, stride, where)
    n_W = _output_size(n_W_prev, f, pad, stride, where)
    return m, n_H, n_W, n_C, f, stride, pad


def conv_forward(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray,
                 hparameters: dict) -> tuple[np.ndarray, tuple]:
    """The course's convolution: Z[i, h, w, c] = conv_single_step(window, W[..., c], b[..., c]).

    A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C),
    hparameters {"stride", "pad"}; returns Z (m, n_H, n_W, n_C) and cache (A_prev, W, b,
    hparameters). Four loops, one output value at a time: slow, and meant to be read.

    >>> Z, _ = conv_forward(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)), np.zeros((1, 1, 1, 1)),
    ...                     {"stride": 1, "pad": 0})
    >>> Z[0, :, :, 0].tolist()
    [[4.0, 4.0], [4.0, 4.0]]
    """
    m, n_H, n_W, n_C, f, stride, pad = _conv_shapes(A_prev, W, hparameters, "conv_forward")
    Z = np.zeros((m, n_H, n_W, n_C), dtype=np.result_type(A_prev, W))
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                for c in range(n_C):
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The course's convolution backward: returns (dA_prev, dW, db).

    For every output position (h, w) and filter c, with the window a_slice it saw:
    ``da_prev_pad[window] += W[..., c] * dZ[i, h, w, c]`` (each window passes its gradient back
    through the same filter), ``dW[..., c] += a_slice * dZ[i, h, w, c]``,
    ``db[..., c] += dZ[i, h, w, c]``.
    NOTE: the course strips the padding with ``[pad:-pad]``, which is empty for pad = 0;
    slicing ``[pad:pad + n_H_prev]`` is right for every pad.
    """
    A_prev, W, b, hparameters = cache
    m, n_H, n_W, n_C, f, stride, pad = _conv_shapes(A_prev, W, hparameters, "conv_backward")
    if dZ.shape != (m, n_H, n_W, n_C):
        raise ValueError(f"conv_backward: dZ {dZ.shape} must have Z's shape {(m, n_H, n_W, n_C)}")
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    dA_prev = np.zeros_like(A_prev, dtype=np.result_type(A_prev, dZ))
    dW = np.zeros_like(W, dtype=np.result_type(W, dZ))
    db = np.zeros((1, 1, 1, n_C), dtype=dW.dtype)
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = zero_pad(dA_prev, pad)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                a_slice = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                for c in range(n_C):
                    da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += (
                        W[:, :, :, c] * dZ[i, h, w, c])
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        dA_prev[i] = da_prev_pad[pad:pad + n_H_prev, pad:pad + n_W_prev, :]
    return dA_prev, dW, db


def _pool_shapes(A_prev: np.ndarray, hparameters: dict, mode: str, where: str):
    if mode not in POOL_MODES:
        raise ValueError(f"{where}: mode must be one of {POOL_MODES}, got {mode!r}")
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H = _output_size(n_H_prev, f, 0, stride, where)
    n_W = _output_size(n_W_prev, f, 0, stride, where)
    return m, n_H, n_W, n_C, f, stride


def pool_forward(A_prev: np.ndarray, hparameters: dict,
                 mode: str = "max") -> tuple[np.ndarray, tuple]:
    """The course's pooling: A[i, h, w, c] = max (or mean) of the f x f window at (h, w), channel c.

    hparameters {"f", "stride"}; no padding. Returns A (m, n_H, n_W, n_C) and cache
    (A_prev, hparameters).

    >>> A, _ = pool_forward(np.arange(16.0).reshape(1, 4, 4, 1), {"f": 2, "stride": 2})
    >>> A[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    m, n_H, n_W, n_C, f, stride = _pool_shapes(A_prev, hparameters, mode, "pool_forward")
    A = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    reduce = np.max if mode == "max" else np.mean
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            for w in range(n_W):
                horiz_start = w * stride
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_start + f,
                                          horiz_start:horiz_start + f, c]
                    A[i, h, w, c] = reduce(a_prev_slice)
    return A, (A_prev, hparameters)


def create_mask_from_window(x: np.ndarray) -> np.ndarray:
    """True where x equals its maximum: the entries a max-pool window's gradient goes to.

    NOTE: every tied maximum is True (the course's rule); PyTorch picks the first one only.

    >>> create_mask_from_window(np.array([[1, 3], [4, 2]])).tolist()
    [[False, False], [True, False]]
    """
    return x == np.max(x)


def distribute_value(dz: float, shape: tuple[int, int]) -> np.ndarray:
    """dz spread evenly over a window of ``shape`` (dz / (n_H n_W) each): average pool backward.

    >>> distribute_value(2.0, (2, 2)).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    n_H, n_W = shape
    return np.full(shape, dz / (n_H * n_W))


def pool_backward(dA: np.ndarray, cache: tuple, mode: str = "max") -> np.ndarray:
    """The course's pooling backward: dA_prev, with each dA[i, h, w, c] sent back into its window.

    Max: through the window's mask (``create_mask_from_window``); average: spread evenly
    (``distribute_value``). Overlapping windows add up.
    """
    A_prev, hparameters = cache
    m, n_H, n_W, n_C, f, stride = _pool_shapes(A_prev, hparameters, mode, "pool_backward")
    if dA.shape != (m, n_H, n_W, n_C):
        raise ValueError(f"pool_backward: dA {dA.shape} must have A's shape {(m, n_H, n_W, n_C)}")
    dA_prev = np.zeros_like(A_prev, dtype=np.result_type(A_prev, dA))
    for i in range(m):
        a_prev = A_prev[i]
        for h in range(n_H):
            vert_start = h * stride
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = w * stride
                horiz_end = horiz_start + f
                for c in range(n_C):
                    if mode == "max":
                        mask = create_mask_from_window(
                            a_prev[vert_start:vert_end, horiz_start:horiz_end, c])
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += (
                            mask * dA[i, h, w, c])
                    else:
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += (
                            distribute_value(dA[i, h, w, c], (f, f)))
    return dA_prev


# ------------------------------------------------------------------------------ vectorized

def _window_offsets(A: np.ndarray, f: int, stride: int, n_H: int, n_W: int):
    """(p, q, view) for every offset (p, q) of an f x f window, row-major: view[:, h, w, :] is
    A[:, h*stride + p, w*stride + q, :], a strided view (m, n_H, n_W, C) without a copy."""
    h_end, w_end = stride * (n_H - 1) + 1, stride * (n_W - 1) + 1
    for p in range(f):
        for q in range(f):
            yield p, q, A[:, p:p + h_end:stride, q:q + w_end:stride, :]


def im2col(A_pad: np.ndarray, f: int, stride: int) -> np.ndarray:
    """Every f x f window of A_pad (m, H, W, C) as one row: (m*n_H*n_W, f*f*C), in W's (f, f, C)
    order, so ``im2col(A) @ W.reshape(f*f*C, n_C)`` is the convolution (channels last).

    Built from ``sliding_window_view`` (a strided view of all windows) with one copy. NOTE: the
    copy's speed depends on its memory order: with several channels the windows are copied
    row by row (runs of C contiguous values); a single-channel image is copied offset-major
    (runs of n_W values) and returned as a transposed (Fortran-order) view, which the GEMMs
    read as fast.

    >>> im2col(np.arange(9.0).reshape(1, 3, 3, 1), 2, 1).tolist()[0]
    [0.0, 1.0, 3.0, 4.0]
    """
    m, H, W, C = A_pad.shape
    windows = sliding_window_view(A_pad, (f, f), axis=(1, 2))[:, ::stride, ::stride]
    n_H, n_W = windows.shape[1:3]
    if C == 1:
        offset_major = np.ascontiguousarray(windows.transpose(4, 5, 3, 0, 1, 2))
        return offset_major.reshape(f * f * C, m * n_H * n_W).T
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(m * n_H * n_W, f * f * C)


def conv_forward_fast(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray,
                      hparameters: dict) -> tuple[np.ndarray, tuple]:
    """``conv_forward`` as im2col + one GEMM: Z = im2col(A_pad) @ W.reshape(f*f*n_C_prev, n_C) + b.

    The product lands in channels-last order, with no transpose of the output.

    >>> rng = np.random.default_rng(0)
    >>> A, W = rng.normal(size=(2, 5, 5, 3)), rng.normal(size=(3, 3, 3, 4))
    >>> b = rng.normal(size=(1, 1, 1, 4))
    >>> hp = {"stride": 2, "pad": 1}
    >>> bool(np.allclose(conv_forward_fast(A, W, b, hp)[0], conv_forward(A, W, b, hp)[0]))
    True
    """
    m, n_H, n_W, n_C, f, stride, pad = _conv_shapes(A_prev, W, hparameters, "conv_forward_fast")
    cols = im2col(zero_pad(A_prev, pad) if pad else A_prev, f, stride)
    Z = cols @ W.reshape(-1, n_C)
    Z += b.reshape(1, n_C)
    return Z.reshape(m, n_H, n_W, n_C), (cols, A_prev.shape, W, hparameters)


def conv_backward_fast(
    dZ: np.ndarray, cache: tuple, need_dA_prev: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``conv_backward`` as GEMMs: dW = cols^T dZ, db = sum(dZ), dcols = dZ W^T, then col2im.

    col2im adds each window's gradient back where the window was: one strided add per kernel
    offset (f*f of them), none per pixel. ``need_dA_prev=False`` skips dA_prev (the first
    layer's input needs no gradient).
    """
    cols, prev_shape, W, hparameters = cache
    stride, pad = hparameters["stride"], hparameters["pad"]
    f, n_C = W.shape[0], W.shape[3]
    m, n_H, n_W = dZ.shape[:3]
    dZ2 = dZ.reshape(-1, n_C)
    dW = (cols.T @ dZ2).reshape(W.shape)
    db = dZ2.sum(axis=0).reshape(1, 1, 1, n_C)
    if not need_dA_prev:
        return None, dW, db
    _, n_H_prev, n_W_prev, n_C_prev = prev_shape
    # NOTE: dcols is computed transposed, (f, f, C, m, n_H, n_W), and added into a channels-first
    # buffer: both sides of every add are then runs of n_W contiguous values (the channels-last
    # order would add runs of C values, several times slower); the result is a transposed view.
    d_cols = (W.reshape(-1, n_C) @ dZ2.T).reshape(f, f, n_C_prev, m, n_H, n_W)
    dA_pad = np.zeros((n_C_prev, m, n_H_prev + 2 * pad, n_W_prev + 2 * pad), dZ2.dtype)
    for p, q, view in _window_offsets(dA_pad.transpose(1, 2, 3, 0), f, stride, n_H, n_W):
        view += d_cols[p, q].transpose(1, 2, 3, 0)
    return dA_pad.transpose(1, 2, 3, 0)[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :], dW, db


def pool_forward_fast(A_prev: np.ndarray, hparameters: dict,
                      mode: str = "max") -> tuple[np.ndarray, tuple]:
    """``pool_forward`` as f*f elementwise maxima (or sums) of strided views, one per window
    offset: no loop over pixels and no copy of the windows.

    >>> A, _ = pool_forward_fast(np.arange(16.0).reshape(1, 4, 4, 1), {"f": 2, "stride": 2})
    >>> A[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    """
    m, n_H, n_W, n_C, f, stride = _pool_shapes(A_prev, hparameters, mode, "pool_forward_fast")
    offsets = _window_offsets(A_prev, f, stride, n_H, n_W)
    A = next(offsets)[2].copy()
    combine = np.maximum if mode == "max" else np.add
    for _, _, view in offsets:
        combine(A, view, out=A)
    if mode == "average":
        A /= f * f
    return A, (A_prev, A, hparameters, mode)


def pool_backward_fast(dA: np.ndarray, cache: tuple) -> np.ndarray:
    """``pool_backward`` vectorized: each window's gradient goes to its FIRST maximum in
    row-major order (PyTorch's rule, not the course's mask), or is spread evenly (average).

    The offsets are visited in row-major order, and an offset takes the gradient where its
    value equals the window's maximum and no earlier offset took it.
    """
    A_prev, A, hparameters, mode = cache
    f, stride = hparameters["f"], hparameters["stride"]
    n_H, n_W = A.shape[1:3]
    dA_prev = np.zeros(A_prev.shape, np.result_type(A_prev, dA))
    d_views = _window_offsets(dA_prev, f, stride, n_H, n_W)
    if mode == "average":
        share = dA / (f * f)
        for _, _, d_view in d_views:
            d_view += share
        return dA_prev
    taken = np.zeros(A.shape, dtype=bool)
    for (_, _, view), (_, _, d_view) in zip(_window_offsets(A_prev, f, stride, n_H, n_W),
                                            d_views, strict=True):
        hit = view == A
        hit &= ~taken
        taken |= hit
        d_view += hit * dA
    return dA_prev


# ---------------------------------------------------------------------- a LeNet-style network

def to_torch_layout(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A course conv layer's (W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C)) as PyTorch's Conv2d
    (weight (n_C, n_C_prev, f, f), bias (n_C,)).

    >>> [a.shape for a in to_torch_layout(np.zeros((5, 5, 1, 6)), np.zeros((1, 1, 1, 6)))]
    [(6, 1, 5, 5), (6,)]
    """
    return np.ascontiguousarray(W.transpose(3, 2, 0, 1)), b.reshape(-1).copy()


def from_torch_layout(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's Conv2d (weight (n_C, n_C_prev, f, f), bias (n_C,)) in the course's layout."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0)), bias.reshape(1, 1, 1, -1).copy()


class ConvNet:
    """[conv f x f -> ReLU -> max pool] blocks, then [Linear -> ReLU] layers, then Linear + softmax
    cross-entropy, with a hand-derived vectorized training step (no autograd): LeNet's shape.

    ``parameters``: ``W{l}`` (f, f, n_C_prev, n_C) and ``b{l}`` (1, 1, 1, n_C) for the conv
    layers l = 1..n_conv (the course's layout), then ``W{l}`` (n_l, n_{l-1}) and ``b{l}`` (n_l,)
    for the fully connected ones (PyTorch's Linear). Inputs are channels-last (m, n_H, n_W, n_C);
    the flatten between the blocks and the Linear layers is channels-last too, so the first
    Linear's columns are in (h, w, c) order (``torch_state`` reorders them to PyTorch's (c, h, w)).
    ``conv`` holds one hparameters dict per conv layer ({"stride", "pad"}) and ``pool`` one per
    block ({"f", "stride"}); ``feature_shape`` is (n_H, n_W, n_C) after the last block.

    >>> net = ConvNet.initialize((8, 8, 1), [(4, 3)], [16], 10, rng=np.random.default_rng(0))
    >>> J, grads = net.loss_and_grads(np.ones((2, 8, 8, 1)), np.array([3, 7]))
    >>> list(grads)
    ['dW1', 'db1', 'dW2', 'db2', 'dW3', 'db3']
    """

    def __init__(self, parameters: dict[str, np.ndarray], conv: Sequence[dict],
                 pool: Sequence[dict], feature_shape: tuple[int, int, int]) -> None:
        if len(conv) != len(pool):
            raise ValueError(f"ConvNet: one pool per conv layer, got {len(conv)} conv and "
                             f"{len(pool)} pool settings")
        self.parameters = parameters
        self.conv, self.pool = list(conv), list(pool)
        self.n_conv = len(conv)
        self.L = len(parameters) // 2
        self.feature_shape = tuple(feature_shape)

    @classmethod
    def initialize(cls, input_shape: tuple[int, int, int], convs: Sequence[tuple[int, int]],
                   hidden: Sequence[int], n_classes: int, pool: int = 2, dtype=np.float64,
                   rng: np.random.Generator | None = None) -> ConvNet:
        """He-initialized (N(0,1) * sqrt(2 / fan_in)) weights, zero biases; ``convs`` lists
        (n_C, f) per block (stride 1, no padding), each followed by a ``pool`` x ``pool`` max pool.

        >>> net = ConvNet.initialize((28, 28, 1), [(6, 5), (16, 5)], [120, 84], 10)
        >>> [net.parameters[f"W{l}"].shape for l in range(1, 6)]
        [(5, 5, 1, 6), (5, 5, 6, 16), (120, 256), (84, 120), (10, 84)]
        """
        rng = rng if rng is not None else np.random.default_rng()
        dtype = np.dtype(dtype)
        n_H, n_W, n_C_prev = input_shape
        parameters: dict[str, np.ndarray] = {}
        conv_h, pool_h = [], []
        layer = 0
        for n_C, f in convs:
            layer += 1
            fan_in = f * f * n_C_prev
            parameters[f"W{layer}"] = (rng.standard_normal((f, f, n_C_prev, n_C))
                                       * np.sqrt(2.0 / fan_in)).astype(dtype)
            parameters[f"b{layer}"] = np.zeros((1, 1, 1, n_C), dtype)
            conv_h.append({"stride": 1, "pad": 0})
            pool_h.append({"f": pool, "stride": pool})
            n_H = _output_size(_output_size(n_H, f, 0, 1, "ConvNet"), pool, 0, pool, "ConvNet")
            n_W = _output_size(_output_size(n_W, f, 0, 1, "ConvNet"), pool, 0, pool, "ConvNet")
            n_C_prev = n_C
        feature_shape = (n_H, n_W, n_C_prev)
        width = n_H * n_W * n_C_prev
        for size in (*hidden, n_classes):
            layer += 1
            parameters[f"W{layer}"] = (rng.standard_normal((size, width))
                                       * np.sqrt(2.0 / width)).astype(dtype)
            parameters[f"b{layer}"] = np.zeros(size, dtype)
            width = size
        return cls(parameters, conv_h, pool_h, feature_shape)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, list]:
        """Logits (m, n_classes) and the caches the backward pass needs."""
        caches: list = []
        A = X
        for layer in range(1, self.n_conv + 1):
            Z, conv_cache = conv_forward_fast(A, self.parameters[f"W{layer}"],
                                              self.parameters[f"b{layer}"], self.conv[layer - 1])
            np.maximum(Z, 0, out=Z)  # ReLU in place: Z is not needed again, A = relu(Z) is
            A, pool_cache = pool_forward_fast(Z, self.pool[layer - 1])
            caches.append((conv_cache, Z, pool_cache))
        pooled_shape = A.shape
        A = A.reshape(len(X), -1)
        for layer in range(self.n_conv + 1, self.L + 1):
            caches.append(A)
            Z = A @ self.parameters[f"W{layer}"].T
            Z += self.parameters[f"b{layer}"]
            A = np.maximum(Z, 0) if layer < self.L else Z
        caches.append(pooled_shape)
        return A, caches

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """J = mean cross-entropy of softmax(logits) against integer labels y, and dW/db per layer
        (in the order W1, b1, W2, ...: PyTorch's parameter order)."""
        logits, caches = self.forward(X)
        m = len(y)
        # Stable softmax: shifting each row by its max changes nothing and keeps exp() finite.
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        J = float(np.mean(log_norm[:, 0] - shifted[np.arange(m), y]))
        dZ = np.exp(shifted - log_norm)
        dZ[np.arange(m), y] -= 1.0
        dZ /= m
        grads: dict[str, np.ndarray] = {}
        pooled_shape = caches[-1]
        for layer in range(self.L, self.n_conv, -1):
            A_prev = caches[layer - 1]
            grads[f"dW{layer}"] = dZ.T @ A_prev
            grads[f"db{layer}"] = dZ.sum(axis=0)
            dA = dZ @ self.parameters[f"W{layer}"]
            if layer > self.n_conv + 1:
                dZ = dA * (A_prev > 0)  # ReLU: A_prev = relu(Z_prev) > 0 exactly where Z_prev > 0
        dA = dA.reshape(pooled_shape)
        for layer in range(self.n_conv, 0, -1):
            conv_cache, A_relu, pool_cache = caches[layer - 1]
            dA_relu = pool_backward_fast(dA, pool_cache)
            dA_relu *= A_relu > 0
            dA, grads[f"dW{layer}"], grads[f"db{layer}"] = conv_backward_fast(
                dA_relu, conv_cache, need_dA_prev=layer > 1)
        return J, {f"d{k}{layer}": grads[f"d{k}{layer}"]
                   for layer in range(1, self.L + 1) for k in ("W", "b")}

    def train_step(self, X: np.ndarray, y: np.ndarray, optimizer) -> float:
        """One step: forward, cost, backward, ``optimizer.step`` (tg.reference.GD / Adam ...)."""
        J, grads = self.loss_and_grads(X, y)
        optimizer.step(self.parameters, grads)
        return J

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most likely class of each example."""
        return self.forward(X)[0].argmax(axis=1)

    def torch_state(self) -> list[np.ndarray]:
        """The parameters in PyTorch's layout and order (Conv2d, ..., Linear, ...), for
        ``nn.Sequential(Conv2d, ReLU, MaxPool2d, ..., Flatten, Linear, ...)`` in NCHW."""
        return [self._to_torch(name, p) for name, p in self.parameters.items()]

    def torch_grads(self, grads: dict[str, np.ndarray]) -> list[np.ndarray]:
        """``loss_and_grads``' gradients in PyTorch's layout and order (as ``p.grad`` is)."""
        return [self._to_torch(name, grads["d" + name]) for name in self.parameters]

    def _to_torch(self, name: str, p: np.ndarray) -> np.ndarray:
        layer = int(name[1:])
        if layer <= self.n_conv:
            return to_torch_layout(p, p)[0] if name[0] == "W" else p.reshape(-1).copy()
        if name == f"W{self.n_conv + 1}" and self.n_conv:
            # columns in (h, w, c) order -> PyTorch's flatten of NCHW: (c, h, w)
            n_out, width = p.shape
            return np.ascontiguousarray(
                p.reshape(n_out, *self.feature_shape).transpose(0, 3, 1, 2).reshape(n_out, width))
        return p.copy()

    def load_torch_state(self, arrays: Sequence[np.ndarray]) -> None:
        """Copy parameters given in PyTorch's layout and order (``torch_state``'s inverse) in."""
        for (name, p), value in zip(self.parameters.items(), arrays, strict=True):
            np.copyto(p, self._from_torch(name, np.asarray(value), p.shape))

    def _from_torch(self, name: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        layer = int(name[1:])
        if layer <= self.n_conv:
            return value.transpose(2, 3, 1, 0) if name[0] == "W" else value.reshape(shape)
        if name == f"W{self.n_conv + 1}" and self.n_conv:
            n_H, n_W, n_C = self.feature_shape
            n_out, width = value.shape
            return value.reshape(n_out, n_C, n_H, n_W).transpose(0, 2, 3, 1).reshape(n_out, width)
        return value

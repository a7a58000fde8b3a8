"""The fused linear layer: y = x W^T + b as one primitive (one GEMM forward, two backward), and
LinearRun: a run of linear layers with activations between them (an MLP) as one primitive."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import Function, OpError
from ...ops import Relu, Sigmoid, Tanh, Where
from ...ops.constants import scalar
from ...ops.elementwise import relu_backward, relu_forward, stable_sigmoid
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


def _dtype_error(op: str, x_dtype: np.dtype, w_dtype: np.dtype) -> OpError:
    """A layer given input of another dtype than its weights (PyTorch refuses it too)."""
    fixes = {np.dtype(np.float32): "X.float(), or tg.tensor(X, dtype=tg.float32) (numpy arrays "
                                   "are float64 by default)",
             np.dtype(np.float64): "X.double()"}
    msg = (f"{op}: the input is {x_dtype} but the weight is {w_dtype}; convert the input: "
           f"{fixes.get(w_dtype, f'X.to({w_dtype})')}")
    models = {np.dtype(np.float32): "model.float()", np.dtype(np.float64): "model.double()"}
    if x_dtype.kind == "f":
        msg += f"; or the model: {models.get(x_dtype, f'model.to({x_dtype})')}"
    return OpError(msg)


_DOT_MACS = 16384  # the largest product (batch x out x in) that np.dot multiplies; see Linear


def _shape_error(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> OpError:
    """What does not fit in a linear layer: the input's width, or the bias's length."""
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        return OpError(f"linear: input of shape {x.shape} does not fit weight of shape "
                       f"{w.shape}: expected (..., {w.shape[-1]}) input and (out, in) weight")
    return OpError(f"linear: bias of shape {b.shape} does not fit weight {w.shape}: "
                   f"expected ({w.shape[0]},)")


def _affine(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x W^T + b, a fresh array, with the layer's shape and dtype errors (Linear, LinearRun)."""
    # NOTE: the ordinary call pays for three cheap tests; numpy's own shape error (or a
    # wrong shape that numpy would broadcast: a 1-D weight, a bias of one element) is
    # translated into ours by _shape_error. The bias test is b.shape != (w.shape[0],) written
    # with ndim and len: .shape builds a tuple at every look (callgrind: ~700 instructions of
    # the ~2.5k these tests cost a call)
    if w.ndim != 2 or (b is not None and (b.ndim != 1 or len(b) != len(w))):
        raise _shape_error(x, w, b)
    # NOTE: np.dot, not @, for small contiguous 2-D products (up to _DOT_MACS multiply-adds):
    # both run the same BLAS GEMM (bit-identical results), but dot skips the gufunc machinery,
    # ~0.5 us a call, a third of a tiny layer's product. From 64 x 64 x 10 up dot's BLAS call
    # costs more than it saves (callgrind: +12% instructions on the small workload's
    # products). Strided operands go to matmul too: it may take another loop than dot (other
    # roundings), and dot of N-d input would not use BLAS at all.
    try:
        y = (np.dot(x, w.T) if x.ndim == 2 and x.shape[0] * w.size <= _DOT_MACS
             and x.flags.c_contiguous and w.flags.c_contiguous else np.matmul(x, w.T))
    except ValueError:
        raise _shape_error(x, w, b) from None
    if x.dtype is not w.dtype and x.dtype != w.dtype:  # PyTorch refuses: a float64 batch
        raise _dtype_error("linear", x.dtype, w.dtype)
    if b is not None:
        y += b
    return y


def _affine_grads(g: np.ndarray, x: np.ndarray, w: np.ndarray, nx: bool, nw: bool,
                  nb: bool) -> tuple:
    """(dx, dW, db) of y = x W^T + b, each only if asked (None otherwise)."""
    two_d, g_contiguous = x.ndim == 2, g.flags.c_contiguous  # (a flags object per look)
    blas = (two_d and g_contiguous and x.shape[0] * w.size <= _DOT_MACS
            and x.flags.c_contiguous)
    gx = None  # NOTE: skipped for the input layer: nobody needs dX
    if nx:
        gx = np.dot(g, w) if blas and w.flags.c_contiguous else np.matmul(g, w)
    if not two_d:
        x, g = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
        g_contiguous = g.flags.c_contiguous
    gw = (np.dot(g.T, x) if blas else g.T @ x) if nw else None
    gb = None
    if nb:
        # NOTE: the bias gradient as ones @ g, BLAS's matrix-vector product, for a C-contiguous
        # float32 / float64 g: 2-3x faster than np.add.reduce(g, axis=0) (0.7 us against 2.1 on
        # 64 x 20 float32, 2.0 against 5.7 on 128 x 256). Another summation order than numpy's
        # row by row (and PyTorch's): the sums differ in their last bits, well within the torch
        # parity tests' tolerances. Linear and LinearRun both come here: they stay identical.
        ones = None
        if g_contiguous:
            ones = _ONES.get((g.shape[0], g.dtype))
            if ones is None and g.dtype in _BLAS_DTYPES:
                ones = _ones(g.shape[0], g.dtype)
        gb = np.add.reduce(g, axis=0) if ones is None else np.dot(ones, g)
    return gx, gw, gb


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: read-only vectors of ones by (length, dtype), the bias gradient's left operand; a few batch
#: sizes a model sees (the last batch of an epoch is often smaller), capped in number
_ONES: dict[tuple, np.ndarray] = {}


def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of n ones in dtype, made once (the oldest goes past 16 of them)."""
    if len(_ONES) >= 16:
        del _ONES[next(iter(_ONES))]
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    _ONES[n, dtype] = ones
    return ones


class Linear(Function):
    """y = x W^T + b   |   dx = g W, dW = g^T x, db = sum(g)   (one node instead of three)"""

    fresh_grads = True  # three new products: the next backward may work in dx

    @staticmethod
    def forward(ctx, x, w, b):
        y = _affine(x, w, b)
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return _affine_grads(g, x, w, *ctx.needs_input_grad)

    @staticmethod
    def backward_graph(ctx, g):
        x, w = ctx.saved_tensors
        return _affine_graph_grads(g, ctx.graph_input(0, x), ctx.graph_input(1, w),
                                   *ctx.needs_input_grad)


def _affine_graph_grads(g: Tensor, x: Any, w: Tensor, nx: bool, nw: bool, nb: bool) -> tuple:
    """_affine_grads written with Tensor ops (they record a graph: create_graph=True)."""
    gx = g @ w if nx else None
    g2 = g.reshape(-1, g.shape[-1])
    gw = g2.transpose(0, 1) @ x.reshape(-1, x.shape[-1]) if nw else None
    gb = g2.sum(0) if nb else None
    return gx, gw, gb


#: the activations LinearRun applies, by the names its `acts` argument uses (the unfused ops)
ACTIVATIONS = {"relu": Relu, "tanh": Tanh, "sigmoid": Sigmoid}


class LinearRun(Function):
    """h[i+1] = act[i](h[i] W[i]^T + b[i]) for the layers i of an MLP, one node for all of them
    |   from the top layer down: dz = g * act'(h[i+1]), then Linear's dx, dW, db of dz

    nn.Sequential applies it to a run of Linear layers each directly followed by ReLU, Tanh,
    Sigmoid or nothing (see Sequential.forward); values and gradients are bit for bit those of
    the Linear, Relu, Tanh and Sigmoid nodes it replaces: the same numpy calls on the same
    arrays. Arguments: the input, the activations (a tuple of "relu", "tanh", "sigmoid" or
    None, one a layer), then each layer's weight and bias (None: no bias). What it saves: every
    layer's input, the last output if an activation made it, and the parameters' arrays.
    """

    # the new arrays of backward: dx, dW and db are products and sums, never g or saved arrays
    fresh_grads = True
    overwrites_grad = True  # the top activation's g * act' is written into g when it is owned
    #: the seq each layer is drawn at (tg.viz), one within each module call it stands for; set
    #: by nn.Sequential (None: all at the node's own seq)
    stage_seqs: list[int] | None = None

    @staticmethod
    def forward(ctx, x, acts, *params):
        ctx.acts = acts
        h, saved = x, [x]
        for i, act in enumerate(acts):
            h = _affine(h, params[2 * i], params[2 * i + 1])
            # NOTE: in place on the fresh product, which nothing else holds (the unfused
            # activation allocates its output here): the same kernels, the same values
            if act == "relu":
                relu_forward(h, out=h)
            elif act == "tanh":
                np.tanh(h, out=h)
            elif act == "sigmoid":
                stable_sigmoid(h, out=h)
            saved.append(h)
        if acts[-1] is None:
            saved[-1] = None  # the last layer's gradient does not need its output
        ctx.save_for_backward(*saved, *params)
        return h

    @staticmethod
    def backward(ctx, g):
        acts, saved, needs = ctx.acts, ctx.saved_tensors, ctx.needs_input_grad
        layers = len(acts)
        # the lowest layer whose input gradient is needed: dx stops there
        first = 0
        if not needs[0]:
            while not (needs[2 + 2 * first] or needs[3 + 2 * first]):
                first += 1
        grads = [None] * len(needs)
        owned = ctx.grad_owned
        for i in range(layers - 1, first - 1, -1):
            act = acts[i]
            if act is not None:
                # NOTE: in place only into a C-contiguous g we own: the unfused node's new
                # array is C-contiguous there, so the products below take the same BLAS path
                y, inplace = saved[i + 1], owned and g.flags.c_contiguous
                if act == "relu":  # Relu's subgradient: 0 where y == 0, g where y is NaN
                    g = relu_backward(g, y, inplace)
                elif act == "tanh":
                    d = y * y
                    d = np.subtract(scalar(1, d.dtype), d, out=d)
                    g = np.multiply(g, d, out=g) if inplace else g * d
                else:  # sigmoid: (g * y) * (1 - y), Sigmoid's order
                    g = np.multiply(g, y, out=g) if inplace else g * y
                    g = np.multiply(g, np.subtract(scalar(1, y.dtype), y), out=g)
            w = saved[layers + 1 + 2 * i]
            g, grads[2 + 2 * i], grads[3 + 2 * i] = _affine_grads(
                g, saved[i], w, i > first or needs[0], needs[2 + 2 * i], needs[3 + 2 * i])
            owned = True  # every g below the top is a product made here
        grads[0] = g if needs[0] else None
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, g):
        # the forward again, with recording ops on the inputs as graph Tensors, so that the
        # gradients below (written as the unfused nodes' backward_graph) can be differentiated
        acts, saved, needs = ctx.acts, ctx.saved_tensors, ctx.needs_input_grad
        layers = len(acts)
        h = ctx.graph_input(0, saved[0])
        hs, ws = [h], []
        for i, act in enumerate(acts):
            w = ctx.graph_input(2 + 2 * i, saved[layers + 1 + 2 * i])
            b = ctx.graph_input(3 + 2 * i, saved[layers + 2 + 2 * i])
            h = Linear.apply(h, w, b)
            h = ACTIVATIONS[act].apply(h) if act is not None else h
            hs.append(h)
            ws.append(w)
        grads = [None] * len(needs)
        for i in range(layers - 1, -1, -1):
            act, y = acts[i], hs[i + 1]
            if act == "relu":
                g = Where.apply(y._data != 0, g, 0.0)  # a constant select: relu'' = 0
            elif act == "tanh":
                g = g * (1.0 - y * y)
            elif act == "sigmoid":
                g = g * y * (1.0 - y)
            g, grads[2 + 2 * i], grads[3 + 2 * i] = _affine_graph_grads(
                g, hs[i], ws[i], i > 0 or needs[0], needs[2 + 2 * i], needs[3 + 2 * i])
        grads[0] = g
        return tuple(grads)

    def name(self) -> str:
        """The ops it stands for, e.g. 'Linear+Relu+Linear' (tg.viz draws them one by one)."""
        parts = []
        for act in self.acts:
            parts.append("Linear")
            if act is not None:
                parts.append(ACTIVATIONS[act].__name__)
        return "+".join(parts)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """x @ W.T + b as one node.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.linear(tg.ones(2, 3), tg.ones(4, 3), tg.zeros(4)).shape
    (2, 4)
    """
    return Linear.apply(input, weight, bias)

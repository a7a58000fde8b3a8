"""The fused linear layer: y = x W^T + b as one primitive (one GEMM forward, two backward)."""

from __future__ import annotations

import numpy as np

from ...function import Function, OpError
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


class Linear(Function):
    """y = x W^T + b   |   dx = g W, dW = g^T x, db = sum(g)   (one node instead of three)"""

    fresh_grads = True  # three new products: the next backward may work in dx

    # NOTE: np.dot, not @, for small contiguous 2-D products (up to _DOT_MACS multiply-adds):
    # both run the same BLAS GEMM (bit-identical results), but dot skips the gufunc machinery,
    # ~0.5 us a call, a third of a tiny layer's product. From 64 x 64 x 10 up dot's BLAS call
    # costs more than it saves (callgrind: +12% instructions on the small workload's
    # products). Strided operands go to matmul too: it may take another loop than dot (other
    # roundings), and dot of N-d input would not use BLAS at all.

    @staticmethod
    def forward(ctx, x, w, b):
        # NOTE: the ordinary call pays for three cheap tests; numpy's own shape error (or a
        # wrong shape that numpy would broadcast: a 1-D weight, a bias of one element) is
        # translated into ours by _shape_error.
        if w.ndim != 2 or (b is not None and b.shape != w.shape[:1]):
            raise _shape_error(x, w, b)
        try:
            y = (np.dot(x, w.T) if x.ndim == 2 and x.shape[0] * w.size <= _DOT_MACS
                 and x.flags.c_contiguous and w.flags.c_contiguous else np.matmul(x, w.T))
        except ValueError:
            raise _shape_error(x, w, b) from None
        if x.dtype is not w.dtype and x.dtype != w.dtype:  # PyTorch refuses: a float64 batch
            raise _dtype_error("linear", x.dtype, w.dtype)
        ctx.save_for_backward(x, w)
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        blas = (x.ndim == 2 and x.shape[0] * w.size <= _DOT_MACS and g.flags.c_contiguous
                and x.flags.c_contiguous)
        gx = None  # NOTE: skipped for the input layer: nobody needs dX
        if nx:
            gx = np.dot(g, w) if blas and w.flags.c_contiguous else np.matmul(g, w)
        if x.ndim != 2:
            x, g = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
        gw = (np.dot(g.T, x) if blas else g.T @ x) if nw else None
        # NOTE: np.add.reduce is what ndarray.sum runs, without its Python wrapper (a frame)
        gb = np.add.reduce(g, axis=0) if nb else None
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        gx = g @ ctx.graph_input(1, w) if nx else None
        g2 = g.reshape(-1, g.shape[-1])
        gw = g2.transpose(0, 1) @ ctx.graph_input(0, x).reshape(-1, x.shape[-1]) if nw else None
        gb = g2.sum(0) if nb else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """x @ W.T + b as one node.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.linear(tg.ones(2, 3), tg.ones(4, 3), tg.zeros(4)).shape
    (2, 4)
    """
    return Linear.apply(input, weight, bias)

"""Reductions and the stable softmax family (softmax, log-softmax, logsumexp)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, OpError, _NonDifferentiable
from ..tensor import Tensor
from .elementwise import Where, sign
from .index import ScatterAdd


def max_keepdims(x: np.ndarray, dim: int) -> np.ndarray:
    """x.max(axis=dim, keepdims=True), fast for rows of a 2-D array.

    NOTE: numpy reduces a short last axis several times slower (6 us for 64 x 10 float32) than
    the first axis of a contiguous transposed copy (under 2 us, copy included).
    """
    if x.ndim == 2 and dim in (1, -1):
        return np.maximum.reduce(np.ascontiguousarray(x.T), axis=0)[:, None]  # no wrapper
    return x.max(axis=dim, keepdims=True)


class Softmax(Function):
    """y = e^(x - max) / sum e^(x - max)   |   dx = y * (g - sum(g * y))"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        # NOTE: shifting by the max makes every exponent <= 0, so nothing overflows; a logit
        # far below the max underflows to probability 0, the correct value (never reported).
        with np.errstate(under="ignore"):
            e = np.exp(x - max_keepdims(x, dim))
            y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.dim, keepdims=True)), None

    @staticmethod
    def backward_graph(ctx, g):
        y = ctx.graph_output(ctx.saved_tensors[0])
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


def log_softmax_array(x: np.ndarray, dim: int) -> np.ndarray:
    """x - logsumexp(x) along dim, shifted by the max so it is exact for any magnitude."""
    shifted = x - max_keepdims(x, dim)
    with np.errstate(under="ignore"):  # e^shifted of a far-below-max logit is 0: correct
        return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x)   |   dx = g - softmax(x) * sum(g)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = log_softmax_array(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - np.exp(y) * g.sum(axis=ctx.dim, keepdims=True), None

    @staticmethod
    def backward_graph(ctx, g):
        y = ctx.graph_output(ctx.saved_tensors[0])
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None


class LogSumExp(Function):
    """y = m + log(sum e^(x - m)), m = max(x)   |   dx = g * e^(x - y)   (the softmax)"""

    promote = (0,)
    float_op = True  # an integer or bool input gives the default float dtype, as torch

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.dim, ctx.keepdim = dim, keepdim
        # NOTE: the shift m is computed here, from this call's data: a captured step replays it
        # (a shift computed outside a primitive would be frozen at trace time). An empty
        # reduction gives -inf, the log of an empty sum, as PyTorch.
        m = max_keepdims(x, dim) if x.size else x.max(dim, keepdims=True, initial=-np.inf)
        finite = np.isfinite(m).all()
        if not finite:
            # Rows of all -inf, or holding +inf or NaN, are shifted by 0: their sum is then 0,
            # inf or NaN, so y is -inf, +inf or NaN and e / s is e^(x - y), NaN at x = y = +-inf:
            # exactly PyTorch's values and gradients. Their divide/invalid flags are expected.
            m = np.where(np.isfinite(m), m, 0)
        # NOTE: e^(x - m) of a logit far below the max underflows to 0, the correct value.
        with np.errstate(under="ignore") if finite else np.errstate(all="ignore"):
            e = np.exp(x - m)
            s = e.sum(axis=dim, keepdims=True)
            y = np.log(s) + m
            e /= s
        ctx.save_for_backward(e, x)  # the softmax (backward needs nothing else), x for
        return y if keepdim else _squeeze(y, dim)  # backward_graph

    @staticmethod
    def backward(ctx, g):
        p = ctx.saved_tensors[0]
        if not ctx.keepdim and ctx.dim is not None:
            g = np.expand_dims(g, ctx.dim)
        return g * p, None, None

    @staticmethod
    def backward_graph(ctx, g):
        # the softmax again, from x and with Tensor ops: exp(x - logsumexp(x)) records how it
        # depends on x (the saved one is an array); any order works, since logsumexp's is this
        x = ctx.graph_input(0, ctx.saved_tensors[1])
        p = (x - LogSumExp.apply(x, ctx.dim, True)).exp()
        return _unreduced_graph(g, ctx.dim, ctx.keepdim) * p, None, None


def _squeeze(y: np.ndarray, dim: Any) -> np.ndarray:
    """y (reduced with keepdims) without the reduced dims: every dim when dim is None."""
    return y.reshape(()) if dim is None else y.squeeze(dim)


def _unreduced_graph(g: Tensor, dim: Any, keepdim: bool) -> Tensor:
    """_unreduced for a Tensor gradient (a Reshape, so it stays differentiable)."""
    if keepdim or dim is None:
        return g
    return g.reshape(np.expand_dims(np.broadcast_to(0, g.shape), dim).shape)


def _output_graph(ctx: Function, y: np.ndarray) -> Tensor:
    """A reduction's output as a graph Tensor (ctx.graph_output) from `y`, the output it saved
    with keepdims, in the keepdims shape (ready to broadcast against the input)."""
    out = y if ctx.keepdim else _squeeze(y, ctx.dim)
    return _unreduced_graph(ctx.graph_output(out), ctx.dim, ctx.keepdim)


# ---------------------------------------------------------------- reductions


class Sum(Function):
    """y = sum of x over axes   |   dx = g broadcast back to x's shape"""

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdims and ctx.axis is not None:
            g = np.expand_dims(g, ctx.axis)
        if np.prod(ctx.shape) > 4096:
            return np.broadcast_to(g, ctx.shape), None, None  # a view: no copy of a big array
        # NOTE: np.broadcast_to costs microseconds of Python; a small filled array is cheaper.
        out = np.empty(ctx.shape, dtype=g.dtype)
        out[...] = g
        return out, None, None

    @staticmethod
    def backward_graph(ctx, g):
        if not ctx.keepdims and ctx.axis is not None:
            axes = (ctx.axis,) if isinstance(ctx.axis, int) else ctx.axis
            kept = list(ctx.shape)
            for ax in axes:
                kept[ax] = 1
            g = g.reshape(tuple(kept))
        return g.expand(ctx.shape), None, None


class Std(Function):
    """y = sqrt(sum((x - mean)^2) / dof)   |   dx = g * (x - mean) / (dof * y), and 0 where
    y = 0: a constant's std has gradient 0 in PyTorch, where sqrt's chain rule gives 0/0"""

    @staticmethod
    def forward(ctx, x, dim, keepdim, dof):
        xc = x - x.mean(axis=dim, keepdims=True)
        y = np.sqrt(np.square(xc).sum(axis=dim, keepdims=True) / dof)
        ctx.dim, ctx.keepdim, ctx.dof = dim, keepdim, dof
        ctx.save_for_backward(xc, y)
        return y if keepdim else y.squeeze(axis=dim)

    @staticmethod
    def backward(ctx, g):
        xc, y = ctx.saved_tensors
        if not ctx.keepdim and ctx.dim is not None:
            g = np.expand_dims(g, ctx.dim)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked just below
            scale = g / (ctx.dof * y)
        return xc * np.where(y == 0, 0, scale), None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        xc, y = ctx.saved_tensors
        # NOTE: std is the same for x and x - mean(x), so the centred xc stands in for x here:
        # only its graph (x's producer) and xc = x - mean(x) recomputed from it are used
        x = ctx.graph_input(0, xc)
        xc = x - x.mean(ctx.dim, keepdim=True)
        std = _output_graph(ctx, y)
        zero = y == 0
        if zero.any():  # 0 there, as first order; no 0 * inf of the masked branch leaks through
            scale = Where.apply(zero, 0.0, _unreduced_graph(g, ctx.dim, ctx.keepdim)
                                / (ctx.dof * Where.apply(zero, 1.0, std)))
        else:
            scale = _unreduced_graph(g, ctx.dim, ctx.keepdim) / (ctx.dof * std)
        return xc * scale, None, None, None


class Max(Function):
    """y = max of x (over a dim)   |   dx = g at the arg-max (the first, and a NaN is the max);
    over all elements ties share g evenly, and if x has NaN the NaNs share it (PyTorch's rule)"""

    reduce = staticmethod(np.max)
    arg = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0:  # PyTorch's rules: over a dim of size 0 there is nothing to pick
            name = type(ctx).__name__
            if dim is None:
                raise OpError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
            if -x.ndim <= dim < x.ndim and x.shape[dim] == 0:  # apply prefixes the op's name
                raise IndexError(f"cannot reduce dim {dim} of size 0: there is no element to pick")
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        if dim is None:
            y = type(ctx).reduce(x)
            mask = np.isnan(x) if np.isnan(y) else x == y
            ctx.count = int(np.count_nonzero(mask))
            ctx.save_for_backward(mask)
            return y
        idx = type(ctx).arg(x, axis=dim, keepdims=True)
        ctx.save_for_backward(idx)
        y = np.take_along_axis(x, idx, axis=dim)
        return y if keepdim else y.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        if ctx.dim is None:
            return saved * (g / ctx.count), None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, saved, g if ctx.keepdim else np.expand_dims(g, ctx.dim), ctx.dim)
        return out, None, None

    @staticmethod
    def backward_graph(ctx, g):
        (saved,) = ctx.saved_tensors  # the mask or the arg-max indices: constants
        if ctx.dim is None:
            return (g / ctx.count) * saved, None, None
        zeros = Tensor._wrap(np.zeros(ctx.shape, dtype=g._data.dtype))
        picked = g if ctx.keepdim else g.unsqueeze(ctx.dim)
        return ScatterAdd.apply(zeros, ctx.dim, saved, picked), None, None  # put_along_axis


class Min(Max):
    """y = min of x (over a dim)   |   dx = g at the arg-min; ties and NaNs as in Max"""

    reduce = staticmethod(np.min)
    arg = staticmethod(np.argmin)


class ArgMax(_NonDifferentiable):
    """y = index of the largest x (over a dim)   |   none"""

    arg = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0 and (dim is None or x.shape[dim] == 0):  # max(dim) of (0, 3) over 1: empty
            raise OpError(f"{type(ctx).__name__}: cannot reduce an empty tensor of shape {x.shape}")
        return type(ctx).arg(x, axis=dim, keepdims=keepdim)


class ArgMin(ArgMax):
    """y = index of the smallest x (over a dim)   |   none"""

    arg = staticmethod(np.argmin)


def _unreduced(g: np.ndarray, dim: Any, keepdim: bool) -> np.ndarray:
    """g with the reduced dims put back as size 1 (every dim when dim is None), for broadcasting
    against the input."""
    if keepdim or dim is None:  # over every dim g is 0-d, which broadcasts already
        return g
    return np.expand_dims(g, dim)


class AMax(Function):
    """y = max of x over dims   |   dx = g shared evenly by the elements equal to the max (torch's
    amax rule; max(dim) gives it all to one index instead); NaN where the max is NaN, as torch"""

    reduce = staticmethod(np.max)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0:
            raise OpError(f"{type(ctx).__name__}: cannot reduce an empty tensor of shape "
                          f"{x.shape}: there is no element to pick")
        y = type(ctx).reduce(x, axis=dim, keepdims=True)
        ctx.dim, ctx.keepdim = dim, keepdim
        ctx.save_for_backward(x == y)
        return y if keepdim else _squeeze(y, dim)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        g = _unreduced(g, ctx.dim, ctx.keepdim)
        count = mask.sum(axis=ctx.dim, keepdims=True)
        # NOTE: a NaN max equals no element, so its count is 0 and its gradient 0/0 = NaN: torch's
        with np.errstate(divide="ignore", invalid="ignore"):
            return mask * (g / count), None, None

    @staticmethod
    def backward_graph(ctx, g):
        (mask,) = ctx.saved_tensors
        count = mask.sum(axis=ctx.dim, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # a NaN max: NaN, as first order
            share = (mask / count).astype(g._data.dtype)
        return _unreduced_graph(g, ctx.dim, ctx.keepdim) * share, None, None


class AMin(AMax):
    """y = min of x over dims   |   dx = g shared evenly by the elements equal to the min"""

    reduce = staticmethod(np.min)


class Prod(Function):
    """y = product of x over dim   |   dx = g * y / x without zeros; with exactly one zero in a
    product, only the zero gets g times the product of the others; with two or more, 0
    (torch's rule: y / x would give 0/0 there)"""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        y = np.prod(x, axis=dim, keepdims=True)
        ctx.dim, ctx.keepdim = dim, keepdim
        ctx.save_for_backward(x, y)
        return y if keepdim else _squeeze(y, dim)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        g = _unreduced(g, ctx.dim, ctx.keepdim)
        zero = x == 0
        if not zero.any():
            return g * y / x, None, None
        zeros = zero.sum(axis=ctx.dim, keepdims=True)
        others = np.prod(np.where(zero, 1, x), axis=ctx.dim, keepdims=True)  # of the nonzeros
        with np.errstate(divide="ignore", invalid="ignore"):  # the zeros are masked just below
            plain = g * y / x
        dx = np.where(zeros == 0, plain, np.where(zero & (zeros == 1), g * others, 0))
        return dx.astype(g.dtype, copy=False), None, None

    @staticmethod
    def backward_graph(ctx, g):
        x, y = ctx.saved_tensors
        g = _unreduced_graph(g, ctx.dim, ctx.keepdim)
        xg = ctx.graph_input(0, x)
        if not (x == 0).any():
            return g * _output_graph(ctx, y) / xg, None, None
        # NOTE: with zeros, y / x is 0/0; the product of the others is exact, and its own
        # derivative is not 0 where a product holds two zeros (y / x masked would say 0)
        return g * _products_of_others(xg, ctx.dim), None, None


def _products_of_others(x: Tensor, dim: int | None) -> Tensor:
    """out_i = the product of x_j over dim for j != i, with Tensor ops (so differentiable
    again): row i of an n x n stack is x with x_i replaced by 1, and Prod reduces each row."""
    if dim is None:
        return _products_of_others(x.reshape(-1), 0).reshape(x.shape)
    last = x.transpose(dim, -1)
    n = last.shape[-1]
    rows = Where.apply(np.eye(n, dtype=bool), 1.0, last.unsqueeze(-2).expand(
        *last.shape[:-1], n, n))
    return Prod.apply(rows, -1, False).transpose(dim, -1)


class CumSum(Function):
    """y_i = x_0 + ... + x_i along dim   |   dx_i = g_i + ... + g_last (the reversed cumsum)"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim) if x.ndim else np.array(x, dtype=np.sum(x).dtype)

    @staticmethod
    def backward(ctx, g):
        if not g.ndim:
            return g, None
        return np.flip(np.cumsum(np.flip(g, ctx.dim), axis=ctx.dim), ctx.dim), None

    @staticmethod
    def backward_graph(ctx, g):
        if not g.ndim:
            return g, None
        return g.flip(ctx.dim).cumsum(ctx.dim).flip(ctx.dim), None


class Norm(Function):
    """y = (sum |x|^p)^(1/p) over dims, p finite and nonzero   |   dx = g * sign(x) *
    |x|^(p-1) / y^(p-1) (p = 2: g * x / y), and 0 where y = 0, as torch (not 0/0)"""

    @staticmethod
    def forward(ctx, x, p, dim, keepdim):
        a = np.abs(x)
        with np.errstate(divide="ignore"):  # p < 0: |0|^p = inf, and the norm is then 0
            y = (np.sqrt(np.square(a).sum(axis=dim, keepdims=True)) if p == 2
                 else np.power(np.power(a, p).sum(axis=dim, keepdims=True), 1.0 / p))
        ctx.p, ctx.dim, ctx.keepdim = p, dim, keepdim
        ctx.save_for_backward(x, y)
        return y if keepdim else _squeeze(y, dim)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        g, p = _unreduced(g, ctx.dim, ctx.keepdim), ctx.p
        with np.errstate(divide="ignore", invalid="ignore"):  # y = 0 is masked just below
            if p == 2:
                dx = x * (g / y)
            else:
                dx = sign(x, x.dtype) * np.power(np.abs(x), p - 1) * (g / np.power(y, p - 1))
        return np.where(y == 0, 0, dx).astype(x.dtype, copy=False), None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        x, y = ctx.saved_tensors
        g, p = _unreduced_graph(g, ctx.dim, ctx.keepdim), ctx.p
        xg, norm = ctx.graph_input(0, x), _output_graph(ctx, y)
        zero = y == 0
        if zero.any():  # 0 there, as first order; no 0 * inf of the masked branch leaks through
            norm = Where.apply(zero, 1.0, norm)
        if p == 2:
            dx = xg * (g / norm)
        else:
            dx = xg.abs() ** (p - 1) * sign(x, x.dtype) * (g / norm ** (p - 1))
        return (Where.apply(zero, 0.0, dx) if zero.any() else dx), None, None, None

"""Batch normalization as one primitive with the closed-form backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import Function, OpError
from ...ops.constants import number_operand, scalar
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


class BatchNorm(Function):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta over every axis but the channels (axis 1):
    (N, C), (N, C, L), (N, C, H, W), ...

    Backward, closed form over the m values of a channel: dbeta = sum(g),
    dgamma = sum(g * x_hat), dx = gamma / (m * std) * (m * g - dbeta - x_hat * dgamma).
    In eval mode mu and var are the running averages, constants, so dx = gamma * g / std.
    An owned g (gradient ownership) becomes dx in place, after dbeta and dgamma are read.
    """

    overwrites_grad = True

    @staticmethod
    def forward(ctx, x, running_mean, running_var, weight, bias, training, momentum, eps):
        ndim = x.ndim
        if ndim < 2:
            raise OpError(f"batch_norm: expected input of shape (N, C, ...) such as (N, C), "
                          f"(N, C, L) or (N, C, H, W), got {x.shape}")
        c = x.shape[1]
        channels = (c,)
        # NOTE: one expression, not a loop over (name, array) pairs: the usual call pays for
        # four shape tests only (_shape_error names the array at fault)
        if ((running_mean is not None and running_mean.shape != channels)
                or (running_var is not None and running_var.shape != channels)
                or (weight is not None and weight.shape != channels)
                or (bias is not None and bias.shape != channels)):
            raise _shape_error(x, running_mean, running_var, weight, bias)
        # NOTE: the statistics are per channel. Of (N, C) input they are (C,) arrays, which
        # broadcast against it as they are (the per-channel tensors need no reshape); of
        # (N, C, ...) input (1, C, 1, ...) arrays (`shape`, reductions with keepdims). The
        # same sums and products either way: only the result's shape differs.
        if ndim == 2:
            axes, shape, keep = 0, None, False
        else:
            axes, shape, keep = _layout(ndim, c)
        ctx.axes, ctx.shape, ctx.training = axes, shape, training
        ctx.eps, ctx.momentum = eps, momentum
        if training:
            n = x.size // c
            if n <= 1:
                raise OpError(f"batch_norm: expected more than 1 value per channel when training, "
                              f"got input of shape {x.shape}")
            # NOTE: the two-pass variance of the data shifted by one sample per channel. Both
            # passes see values the size of the spread, not of the mean: with features of mean
            # 1e5 in float32 an unshifted sum loses the spread's digits (x - shift is exact
            # for values within a factor 2 of the shift). sum / n, not .mean(): the same
            # arithmetic without numpy's Python wrapper. The shift is a view of x's first
            # sample (x is not written to); the constants are 0-d arrays of the data's dtype,
            # the very values a Python number converts to (ops.constants).
            shift = x[0] if shape is None else x[(slice(0, 1), slice(None))
                                                 + (slice(0, 1),) * (ndim - 2)]
            xc = np.subtract(x, shift)
            mean = np.add.reduce(xc, axis=axes, keepdims=keep)  # xc.sum, without its wrapper
            dtype = mean.dtype
            count = scalar(n, dtype)
            np.divide(mean, count, out=mean)  # the mean of the shifted data
            xc -= mean
            squares = np.square(xc)
            var = np.add.reduce(squares, axis=axes, keepdims=keep)
            np.divide(var, count, out=var)  # biased, as the normalization uses
            inv_std = _inv_std(var, eps)
            # NOTE: the running estimates are the course's EWA with beta = 1 - momentum; the
            # variance estimate is unbiased (n / (n - 1)), PyTorch's rule. The numbers as
            # number_operand's 0-d arrays: the same operands numpy makes of them, without
            # its conversion at every call
            if running_mean is not None:
                running_mean *= number_operand(1.0 - momentum, running_mean.dtype)
                # (a new product, as `momentum * a`: a numpy float64 momentum makes it float64)
                stat = np.multiply(np.add(shift, mean), number_operand(momentum, dtype))
                running_mean += stat if shape is None else stat.reshape(c)
            if running_var is not None:
                running_var *= number_operand(1.0 - momentum, running_var.dtype)
                stat = np.multiply(var, number_operand(momentum * n / (n - 1), dtype))
                running_var += stat if shape is None else stat.reshape(c)
        else:
            if running_mean is None or running_var is None:
                raise OpError("batch_norm: eval mode (training=False) needs running_mean and "
                              "running_var")
            if shape is None:
                xc = np.subtract(x, running_mean)
                inv_std = _inv_std(running_var, eps)
            else:
                xc = np.subtract(x, running_mean.reshape(shape))
                inv_std = _inv_std(running_var.reshape(shape), eps)
            squares = None
        x_hat = xc  # xc is ours: normalize it in place
        x_hat *= inv_std
        # Without a graph (eval under no_grad, the usual inference) nothing keeps x_hat, so y
        # may take its memory; otherwise the squares', which nothing needs any more.
        free = squares if True in ctx.needs_input_grad else x_hat
        if weight is None:
            y = x_hat if free is x_hat else x_hat.copy()
        else:
            w = weight if shape is None else weight.reshape(shape)
            if free is not None and weight.dtype == x_hat.dtype:
                y = np.multiply(x_hat, w, out=free)  # one allocation less
            else:
                y = x_hat * w
        if bias is not None:
            y += bias if shape is None else bias.reshape(shape)
        # NOTE: x_hat, not x: backward needs x_hat, and recomputing it from x costs three passes
        # over the data. x is then held by nobody (a node keeps what its backward needs, not
        # its inputs' values), so the graph holds one activation-sized array here either way.
        ctx.saved_tensors = (x_hat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        axes, shape, training = ctx.axes, ctx.shape, ctx.training
        nx = needs[0]
        # NOTE: np.add.reduce: what ndarray.sum runs, without its Python wrapper
        gb = np.add.reduce(g, axis=axes) if needs[4] or (nx and training) else None
        gw = product = None
        if needs[3] or (nx and training):
            product = g * x_hat
            gw = np.add.reduce(product, axis=axes)
        gx = None
        if nx:
            if weight is None:
                k = inv_std
            else:  # per channel
                k = (weight if shape is None else weight.reshape(shape)) * inv_std
            if training:
                count = scalar(g.size // g.shape[1], g.dtype)
                # NOTE: the count as a 0-d array of g's dtype: what the Python int converts to
                gx = np.multiply(g, count, out=g if ctx.grad_owned else None)  # g: read no more
                gx -= gb if shape is None else gb.reshape(shape)
                # x_hat * dgamma into the product's memory, which nothing needs any more
                gx -= np.multiply(x_hat, gw if shape is None else gw.reshape(shape),
                                  out=product if product.dtype == gx.dtype else None)
                if k.dtype is not count.dtype:
                    count = scalar(g.size // g.shape[1], k.dtype)
                gx *= np.divide(k, count, out=k if k is not inv_std else None)
            elif ctx.grad_owned and k.dtype == g.dtype:
                g *= k
                gx = g
            else:
                gx = g * k
        return (gx, None, None, gw if needs[3] else None, gb if needs[4] else None,
                None, None, None)

    @staticmethod
    def backward_graph(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        axes, shape = ctx.axes, ctx.shape
        if ctx.training:
            # NOTE: the node keeps x_hat, not x. Batch normalization ignores a per-channel
            # shift of its input, so x - mu = x_hat / inv_std stands for x: its batch
            # statistics as graph Tensors give x_hat and their derivatives exactly (a leaf x
            # comes back as itself, with the same result). The running statistics are not
            # touched again.
            xt = ctx.graph_input(0, x_hat / inv_std)
            xc = xt - xt.mean(dim=axes, keepdim=True)
            inv = ((xc * xc).mean(dim=axes, keepdim=True) + ctx.eps) ** -0.5
            x_hat = xc * inv
        else:  # the running statistics are constants: x_hat is affine in x, slope inv_std
            inv = inv_std.astype(x_hat.dtype, copy=False)
            xt = ctx.graph_input(0, np.zeros_like(x_hat))
            x_hat = Tensor._wrap(x_hat) + (xt - xt.detach()) * inv
        w = ctx.graph_input(3, weight) if weight is not None else None
        if w is not None and shape is not None:  # (None: (C,) broadcasts against (N, C))
            w = w.reshape(shape)
        gh = g * w if w is not None else g
        gx = None
        if needs[0]:
            if ctx.training:
                gx = inv * (gh - gh.mean(dim=axes, keepdim=True)
                            - x_hat * (gh * x_hat).mean(dim=axes, keepdim=True))
            else:
                gx = gh * inv
        gw = (g * x_hat).sum(dim=axes) if needs[3] else None
        gb = g.sum(dim=axes) if needs[4] else None
        return gx, None, None, gw, gb, None, None, None


def _shape_error(x: np.ndarray, *arrays: np.ndarray | None) -> OpError:
    """The first per-channel array whose shape is not (C,) for input x, named."""
    c = x.shape[1]
    for name, a in zip(("running_mean", "running_var", "weight", "bias"), arrays, strict=True):
        if a is not None and a.shape != (c,):
            return OpError(f"batch_norm: {name} has shape {a.shape}, expected ({c},) for "
                           f"input of shape {x.shape}")
    raise AssertionError("every per-channel array fits")  # (the caller tested one does not)


#: (axes, shape, keepdims) of the per-channel statistics by (ndim, channels), for N-d input
_LAYOUTS: dict[tuple[int, int], tuple] = {}


def _layout(ndim: int, c: int) -> tuple:
    """The axes the statistics of (N, C, ...) input reduce over, their (1, C, 1, ...) shape,
    and keepdims, made once per (ndim, c) (a few layers' worth, bounded)."""
    layout = _LAYOUTS.get((ndim, c))
    if layout is None:
        if len(_LAYOUTS) >= 64:
            _LAYOUTS.clear()
        layout = _LAYOUTS[ndim, c] = ((0, *range(2, ndim)), (1, c) + (1,) * (ndim - 2), True)
    return layout


def _inv_std(var: np.ndarray, eps: float) -> np.ndarray:
    """1 / sqrt(var + eps) in a new array, the constants in var's dtype (as Python's convert)."""
    if type(eps) is not float:  # e.g. a numpy float64, a strong operand: numpy's promotion
        return 1.0 / np.sqrt(var + eps)
    dtype = var.dtype
    s = np.add(var, scalar(eps, dtype))
    np.sqrt(s, out=s)
    return np.divide(scalar(1.0, dtype), s, out=s)


def batch_norm(input: Tensor, running_mean: Any, running_var: Any,  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over (N, C), (N, C, L) or (N, C, H, W) input (statistics per
    channel, over every other axis), PyTorch's semantics.

    Training: normalize with the batch mean and biased variance, x_hat = (x - mu) /
    sqrt(var + eps) (the course notes drop the square root: a slip), and update the running
    statistics in place: r = (1 - momentum) r + momentum * stat, with the unbiased variance.
    Eval: normalize with the running statistics.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    >>> x = tg.tensor([[1.0, 2.0], [3.0, 6.0]])
    >>> tg.nn.functional.batch_norm(x, rm, rv, training=True).numpy().round(4)
    array([[-1., -1.],
           [ 1.,  1.]], dtype=float32)
    >>> rm  # 0.9 * 0 + 0.1 * batch mean
    array([0.2, 0.4], dtype=float32)
    """
    return BatchNorm.apply(input, running_mean, running_var, weight, bias, training, momentum,
                           eps)

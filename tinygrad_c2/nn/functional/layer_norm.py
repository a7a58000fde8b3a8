"""Layer normalization as one primitive with the closed-form backward (the norm family's layer
half; batch norm is in norm.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...function import Function, OpError
from ...tensor import Tensor


class LayerNorm(Function):
    """y = (x - mu) / sqrt(var + eps) * weight + bias, mu and var (biased) over the last k dims

    Backward over the n values of a normalized group, with gh = g * weight:
    dx = inv_std * (gh - mean(gh) - x_hat * mean(gh * x_hat)), dweight = sum(g * x_hat),
    dbias = sum(g), both summed over the leading dims.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        k = len(normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != normalized_shape:
            want = ", ".join(str(s) for s in normalized_shape)
            raise OpError(f"layer_norm: Given normalized_shape={list(normalized_shape)}, expected "
                          f"input with shape [*, {want}], but got input of size {list(x.shape)}")
        for name, a in (("weight", weight), ("bias", bias)):
            if a is not None and a.shape != normalized_shape:
                raise OpError(f"layer_norm: {name} has shape {a.shape}, expected the "
                              f"normalized_shape {normalized_shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        n = int(np.prod(normalized_shape))
        # NOTE: two passes (mean, then the mean square of x - mu): a one-pass E[x^2] - mu^2
        # loses the spread's digits when |mu| >> std.
        x_hat = x - x.sum(axis=axes, keepdims=True) / n
        var = np.square(x_hat).sum(axis=axes, keepdims=True)
        var /= n
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
        y = x_hat * weight if weight is not None else x_hat.copy()
        if bias is not None:
            y += bias
        ctx.axes, ctx.lead = axes, tuple(range(x.ndim - k))
        ctx.save_for_backward(x_hat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        axes, lead = ctx.axes, ctx.lead
        gx = None
        if needs[0]:
            gh = g * weight if weight is not None else g
            n = x_hat.size // max(inv_std.size, 1)
            gx = gh - gh.sum(axis=axes, keepdims=True) / n
            gx -= x_hat * ((gh * x_hat).sum(axis=axes, keepdims=True) / n)
            gx *= inv_std
        gw = (g * x_hat).sum(axis=lead) if needs[1] else None
        gb = g.sum(axis=lead) if needs[2] else None
        return gx, gw, gb, None, None

    @staticmethod
    def backward_graph(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        axes, lead = ctx.axes, ctx.lead
        # NOTE: x is not saved. x - mu = x_hat / inv_std is x shifted by a constant per group,
        # and the normalization is blind to that shift: the statistics recomputed from it as
        # graph Tensors of x have x's derivatives (values within an ulp of the forward's).
        xc = ctx.graph_input(0, x_hat / inv_std)
        xc = xc - xc.mean(dim=axes, keepdim=True)
        inv = ((xc * xc).mean(dim=axes, keepdim=True) + ctx.graph_input(4)) ** -0.5
        xh = xc * inv
        w = ctx.graph_input(1, weight) if weight is not None else None
        gx = None
        if needs[0]:
            gh = g * w if w is not None else g
            gx = inv * (gh - gh.mean(dim=axes, keepdim=True)
                        - xh * (gh * xh).mean(dim=axes, keepdim=True))
        gw = _sum_lead(g * xh, lead) if needs[1] else None
        gb = _sum_lead(g, lead) if needs[2] else None
        return gx, gw, gb, None, None


def _sum_lead(t: Tensor, lead: tuple) -> Tensor:
    """t summed over the leading (batch) dims; t itself when there are none."""
    return t.sum(dim=lead) if lead else t


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int],  # noqa: A002
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalize over the last len(normalized_shape) dims of each sample (PyTorch's
    F.layer_norm): the same statistics in training and eval, no running averages.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.layer_norm(tg.tensor([[1.0, 3.0], [2.0, 2.0]]), 2).numpy().round(3)
    array([[-1.,  1.],
           [ 0.,  0.]], dtype=float32)
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    return LayerNorm.apply(input, weight, bias, tuple(int(s) for s in shape), eps)

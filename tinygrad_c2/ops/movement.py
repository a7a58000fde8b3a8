"""Movement primitives: reshape, permute, expand and concatenation (no arithmetic)."""

from __future__ import annotations

import numpy as np

from ..function import Function, OpError


class Reshape(Function):
    """y = x viewed with a new shape   |   dx = g reshaped back"""

    returns_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise OpError(f"Reshape: cannot view a tensor of shape {x.shape} ({x.size} elements)"
                          f" as shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None

    @staticmethod
    def backward_graph(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    """y = x with axes reordered   |   dx = g with the inverse order"""

    returns_view = True

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.axes)), None

    @staticmethod
    def backward_graph(ctx, g):
        return Permute.apply(g, tuple(int(i) for i in np.argsort(ctx.axes))), None


class Expand(Function):
    """y = x broadcast to shape   |   dx = g summed over the broadcast axes (by the engine)"""

    returns_view = True

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise OpError(f"Expand: cannot expand shape {x.shape} to {tuple(shape)}: each "
                          "dimension must match or be 1") from None

    @staticmethod
    def backward(ctx, g):
        return g, None

    @staticmethod
    def backward_graph(ctx, g):
        return g, None


class Cat(Function):
    """y = concatenate(xs, dim)   |   each dx is its slice of g"""

    @staticmethod
    def forward(ctx, dim, *xs):
        if not xs:
            raise OpError("cat: expected a non-empty sequence of tensors")
        nd = xs[0].ndim
        if not -nd <= dim < nd:
            raise OpError(f"cat: dim {dim} is out of range for tensors of shapes "
                          f"{[x.shape for x in xs]} (expected {-nd} <= dim < {nd})")
        ctx.dim = dim
        ctx.splits = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, ctx.splits, axis=ctx.dim))

    @staticmethod
    def backward_graph(ctx, g):
        dim = ctx.dim % g.ndim
        bounds = [0, *ctx.splits, g.shape[dim]]
        return (None, *[g[(slice(None),) * dim + (slice(start, stop),)] if need else None
                        for start, stop, need in zip(bounds[:-1], bounds[1:],  # noqa: B905
                                                     ctx.needs_input_grad[1:])])


class Flip(Function):
    """y = x reversed along dims (a copy, as torch's flip)   |   dx = g reversed back"""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.dims), None

    @staticmethod
    def backward_graph(ctx, g):
        return Flip.apply(g, ctx.dims), None

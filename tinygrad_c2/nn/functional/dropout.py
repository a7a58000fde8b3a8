"""Inverted dropout as one primitive: the mask is drawn once and reused by backward."""

from __future__ import annotations

import warnings

import numpy as np

from ... import rng
from ...function import Function, OpError
from ...ops.constants import scalar
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


class Dropout(Function):
    """Inverted dropout: y = x * mask, mask = (u < keep) / keep   |   dx = g * mask

    The mask is saved as a float array of x's dtype (0 or 1 / keep), not as booleans: a
    float-by-bool multiply casts the booleans first and costs about twice a float-by-float
    one, and backward is then one multiply instead of a masking and a scaling (mnist_bn: 4
    bytes an element instead of 1 held by the graph, which stays below PyTorch's). The bits
    are those of x * kept * (1 / keep): x * 1 * s = x * s and x * 0 = x * 0 (NaN for inf and
    NaN inputs, a signed zero otherwise), whichever way round. `mask_shape` (default x's
    shape) draws a mask that broadcasts: (N, C, 1, 1) drops whole channels (dropout2d).
    """

    overwrites_grad = True  # an owned g is masked in place

    @staticmethod
    def forward(ctx, x, p, mask_shape=None):
        dtype = x.dtype
        if dtype.kind != "f":
            raise TypeError(f"dropout: expected a floating-point input, got {dtype} (its "
                            f"scaled result would not fit the input's dtype)")
        ctx.p = p
        keep = 1.0 - p
        shape = x.shape if mask_shape is None else mask_shape
        if keep == 0.0:
            mask = np.zeros(shape, dtype=dtype)
        else:
            u = rng.generator().random(shape, dtype=dtype)
            kept = np.less(u, scalar(keep, dtype))
            # NOTE: 1 / keep rounded once into x's dtype, then kept * s: exactly s or 0
            mask = np.multiply(kept, scalar(1.0 / keep, dtype), out=u)  # in the draws' memory
        ctx.saved_tensors = (mask,)  # (save_for_backward's assignment, without its call)
        return np.multiply(x, mask)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        if ctx.grad_owned:  # g has x's shape; a dropout2d mask broadcasts into it
            g *= mask
            return g, None, None
        return g * mask, None, None

    @staticmethod
    def backward_graph(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None  # the same mask: a constant


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Inverted dropout: zero each element with probability p, scale survivors by 1/(1-p).

    p is the DROP probability (PyTorch's); the course's keep_prob is 1 - p. Only in training:
    at test time the input passes through untouched (the course notes' "dropout only at test
    time" has it backwards). Backward reuses the forward's mask.

    >>> import tinygrad_c2 as tg
    >>> x = tg.ones(1000)
    >>> y = tg.nn.functional.dropout(x, p=0.2)
    >>> sorted(set(y.tolist()))
    [0.0, 1.25]
    >>> tg.nn.functional.dropout(x, p=0.2, training=False) is x
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p is a drop probability in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p, None)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:  # noqa: A002
    """Channel dropout: zero each whole channel of (N, C, H, W) (or unbatched (C, H, W)) input
    with probability p and scale the kept ones by 1/(1-p) (PyTorch's dropout2d). A 3-D input
    is taken as (N, C, L), as PyTorch 2.x does (it warns about this; so do we).

    >>> import tinygrad_c2 as tg
    >>> y = tg.nn.functional.dropout2d(tg.ones(2, 3, 4, 4), p=0.5)
    >>> sorted(set(y.numpy()[0, 0].ravel().tolist())) in ([0.0], [2.0])  # a channel at once
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p is a drop probability in [0, 1], got {p}")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise OpError(f"dropout2d: expected a 3-D or 4-D input Tensor, got shape "
                      f"{getattr(input, 'shape', type(input).__name__)}")
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim (PyTorch's behaviour)",
                      UserWarning, stacklevel=2)
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p, (*input.shape[:2], *([1] * (input.ndim - 2))))

"""Inverted dropout as one primitive: the mask is drawn once and reused by backward."""

from __future__ import annotations

import numpy as np

from ... import rng
from ...function import Function
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


class Dropout(Function):
    """Inverted dropout: y = x * kept / keep, kept = u < keep   |   dx = g * kept / keep

    Saves the boolean mask (1 byte an element, as PyTorch does) and the scale 1 / keep, not a
    float mask the size of x.
    """

    @staticmethod
    def forward(ctx, x, p):
        ctx.p = p
        keep = 1.0 - p
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        if keep == 0.0:
            kept, scale = np.zeros(x.shape, dtype=bool), dtype.type(0.0)
        else:
            kept = rng.generator().random(x.shape, dtype=dtype) < keep
            scale = dtype.type(1.0 / keep)
        ctx.save_for_backward(kept, scale)
        y = x * kept  # NOTE: then *= scale: the same rounding as x * (kept * scale)
        y *= scale
        return y

    @staticmethod
    def backward(ctx, g):
        kept, scale = ctx.saved_tensors
        dx = g * kept
        dx *= scale
        return dx, None


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
    return Dropout.apply(input, p)

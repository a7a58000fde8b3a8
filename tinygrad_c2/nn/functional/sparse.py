"""Integer-indexed functions: one_hot."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import OpError, _NonDifferentiable
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


class OneHot(_NonDifferentiable):
    """y[..., j] = 1 if labels == j else 0 (int64)   |   none"""

    @staticmethod
    def forward(ctx, y, num_classes):
        if num_classes == -1:
            k = int(y.max()) + 1
            ctx.data_dependent_shape = (0,)  # the largest label sets the width
        else:
            k = num_classes
        if y.size and (y.min() < 0 or y.max() >= k):
            raise OpError(f"one_hot: labels must be in [0, {k}), got values from {y.min()} to "
                          f"{y.max()}")
        return (y[..., None] == np.arange(k)).astype(np.int64)


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """Integer labels (N,) to a 0/1 int64 matrix (N, num_classes), as PyTorch's F.one_hot.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.one_hot(tg.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    y = labels._data if isinstance(labels, Tensor) else np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    return OneHot.apply(labels if isinstance(labels, Tensor) else y, num_classes)

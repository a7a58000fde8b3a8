"""Flatten: collapse a range of dimensions (PyTorch's start_dim=1 default)."""

from __future__ import annotations

import math

from ...tensor import Tensor
from .module import Module
from .utils import _check_dim


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch dimension).

    >>> import numpy as np
    >>> Flatten()(Tensor(np.zeros((2, 3, 4)))).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        _check_dim(start_dim, "Flatten", "start_dim")
        _check_dim(end_dim, "Flatten", "end_dim")
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        ndim = max(len(shape), 1)
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not (0 <= start < ndim and 0 <= end < ndim) or start > end:
            raise IndexError(
                f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): invalid for "
                f"input of shape {shape}"
            )
        if not shape:
            return x.reshape((1,))
        merged = math.prod(shape[start : end + 1])
        return x.reshape(shape[:start] + (merged,) + shape[end + 1 :])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

"""Flatten: collapse a range of dimensions (PyTorch's start_dim=1 default); Unflatten: split one."""

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


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (Flatten's inverse; one entry may be -1).

    A CNN fed flat feature rows, e.g. 8x8 digits as 64 columns, starts with
    ``Unflatten(1, (1, 8, 8))``.

    >>> import numpy as np
    >>> Unflatten(1, (1, 2, 3))(Tensor(np.zeros((4, 6)))).shape
    (4, 1, 2, 3)
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        _check_dim(dim, "Unflatten", "dim")
        sizes = tuple(int(s) for s in unflattened_size)
        if not sizes or sum(s == -1 for s in sizes) > 1 or any(s < 1 and s != -1 for s in sizes):
            raise ValueError(f"Unflatten: unflattened_size must be positive sizes with at most "
                             f"one -1, got {unflattened_size}")
        self.dim = dim
        self.unflattened_size = sizes

    def forward(self, x: Tensor) -> Tensor:
        shape = tuple(x.shape)
        dim = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 0 <= dim < len(shape):
            raise IndexError(f"Unflatten(dim={self.dim}): invalid for input of shape {shape}")
        known = math.prod(s for s in self.unflattened_size if s != -1)
        sizes = self.unflattened_size
        if -1 in sizes and shape[dim] % known == 0:
            sizes = tuple(shape[dim] // known if s == -1 else s for s in sizes)
        if math.prod(sizes) != shape[dim]:
            raise RuntimeError(f"Unflatten(dim={self.dim}, unflattened_size="
                               f"{self.unflattened_size}): cannot split size {shape[dim]} of "
                               f"input shape {shape}")
        return x.reshape(shape[:dim] + sizes + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

"""Parameter: a Tensor that a Module registers as learnable (it requires grad by default)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, get_default_dtype


class Parameter(Tensor):
    """A learnable tensor; assigning one to a Module attribute registers it.

    `data` is a numpy array (shared, not copied, as in PyTorch), a Tensor (its array is
    shared), a Python list/float (becomes the default float dtype) or None (an empty array).
    Parameters hold floating-point values only: gradients of integer arrays mean nothing.

    >>> Parameter(np.zeros((2, 3))).shape, Parameter(np.zeros(1)).requires_grad
    ((2, 3), True)
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            data = data._data
        array = data if isinstance(data, np.ndarray) else Tensor(data)._data
        if array.dtype.kind != "f":
            raise TypeError(
                f"Parameter: expected floating-point data, got dtype {array.dtype}; "
                "convert first, e.g. Parameter(x.astype(np.float32))"
            )
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

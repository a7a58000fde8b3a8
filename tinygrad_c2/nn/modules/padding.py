"""ZeroPad2d, ConstantPad2d, ReflectionPad2d, ReplicationPad2d, CircularPad2d: F.pad as layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import OpError
from ...tensor import Tensor
from .. import functional as F
from .conv import relabeled
from .module import Module
from .utils import _check_input


def _padding4(padding: Any, layer: str) -> tuple[int, int, int, int]:
    """An int or (left, right, top, bottom), PyTorch's _quadruple."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return (int(padding),) * 4
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return tuple(int(p) for p in padding)
    raise ValueError(f"{layer}: padding must be an int or (left, right, top, bottom), got "
                     f"{padding!r}")


class _Pad2d(Module):
    _mode = "constant"

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _padding4(padding, type(self).__name__)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, type(self).__name__)
        try:
            if self._mode == "constant":
                return F.pad(x, self.padding, "constant", self.value)
            return F.pad(x, self.padding, self._mode)
        except OpError as e:
            raise relabeled(self, e, "pad") from None

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad2d(_Pad2d):
    """Pad the last two dimensions with `value`: padding an int or (left, right, top, bottom).

    >>> ConstantPad2d(1, 2.0)(Tensor([[1.0]])).tolist()
    [[2.0, 2.0, 2.0], [2.0, 1.0, 2.0], [2.0, 2.0, 2.0]]
    """

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros.

    >>> ZeroPad2d((1, 0, 0, 0))(Tensor([[1.0]])).tolist()
    [[0.0, 1.0]]
    """

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad2d(_Pad2d):
    """Pad the last two dimensions with their mirror image (the edge not repeated).

    >>> ReflectionPad2d((2, 0, 0, 0))(Tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0]]]
    """

    _mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad the last two dimensions by repeating the edge.

    >>> ReplicationPad2d((2, 0, 0, 0))(Tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[1.0, 1.0, 1.0, 2.0, 3.0]]]
    """

    _mode = "replicate"


class CircularPad2d(_Pad2d):
    """Pad the last two dimensions by wrapping around.

    >>> CircularPad2d((2, 0, 0, 0))(Tensor([[[1.0, 2.0, 3.0]]])).tolist()
    [[[2.0, 3.0, 1.0, 2.0, 3.0]]]
    """

    _mode = "circular"

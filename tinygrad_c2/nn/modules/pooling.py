"""MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d: PyTorch's pooling layers (no parameters)."""

from __future__ import annotations

from typing import Any

from ...function import OpError
from ...tensor import Tensor
from .. import functional as F
from .conv import relabeled
from .module import Module
from .utils import _check_input


class _MaxPoolNd(Module):
    """The max pools' arguments, kept as given (PyTorch's attributes and repr)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """The maximum of each window of (N, C, H, W) or (C, H, W) input (stride defaults to the
    kernel). Backward gives the whole gradient to the first maximum of a window in row-major
    order, PyTorch's convention; the course's pool_backward mask (x == max) would give every
    tied element all of it.

    >>> MaxPool2d(2)(Tensor([[[[1.0, 2.0], [4.0, 3.0]]]])).tolist()
    [[[[4.0]]]]
    """

    def forward(self, x: Tensor) -> Any:
        _check_input(x, "MaxPool2d")
        try:
            return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode, self.return_indices)
        except OpError as e:
            raise relabeled(self, e, "max_pool2d") from None


class MaxPool1d(_MaxPoolNd):
    """The maximum of each window of (N, C, L) or (C, L) input.

    >>> MaxPool1d(2)(Tensor([[1.0, 2.0, 4.0, 3.0]])).tolist()
    [[2.0, 4.0]]
    """

    def forward(self, x: Tensor) -> Any:
        _check_input(x, "MaxPool1d")
        try:
            return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode, self.return_indices)
        except OpError as e:
            raise relabeled(self, e, "max_pool1d") from None


class _AvgPoolNd(Module):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean of each window of (N, C, H, W) or (C, H, W) input; the zero padding counts in
    the divisor unless count_include_pad=False (PyTorch's default is True).

    >>> AvgPool2d(2)(Tensor([[[[1.0, 2.0], [4.0, 3.0]]]])).tolist()
    [[[[2.5]]]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, "AvgPool2d")
        try:
            return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad, self.divisor_override)
        except OpError as e:
            raise relabeled(self, e, "avg_pool2d") from None


class AvgPool1d(_AvgPoolNd):
    """The mean of each window of (N, C, L) or (C, L) input.

    >>> AvgPool1d(2)(Tensor([[1.0, 2.0, 4.0, 3.0]])).tolist()
    [[1.5, 3.5]]
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        # NOTE: PyTorch keeps AvgPool1d's sizes as 1-tuples (its repr shows kernel_size=(3,))
        def one(v: Any) -> Any:
            return v if isinstance(v, tuple) or v is None else (v,)

        super().__init__(one(kernel_size), one(stride), one(padding), ceil_mode,
                         count_include_pad)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, "AvgPool1d")
        try:
            return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                self.count_include_pad)
        except OpError as e:
            raise relabeled(self, e, "avg_pool1d") from None


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size (H_out, W_out) whatever the input size, PyTorch's
    bins; AdaptiveAvgPool2d(1) is global average pooling.

    >>> AdaptiveAvgPool2d(1)(Tensor([[[[1.0, 2.0], [4.0, 3.0]]]])).tolist()
    [[[[2.5]]]]
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, "AdaptiveAvgPool2d")
        try:
            return F.adaptive_avg_pool2d(x, self.output_size)
        except OpError as e:
            raise relabeled(self, e, "adaptive_avg_pool2d") from None

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

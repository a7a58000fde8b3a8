"""Conv1d, Conv2d, ConvTranspose2d: PyTorch's layers, parameter names, shapes and init."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...function import OpError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..functional.conv import ntuple
from ..parameter import Parameter
from .module import Module
from .utils import _check_device, _check_input, _float_dtype

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value: Any, layer: str, name: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
            value < 0 if allow_zero else value <= 0):
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{layer}: {name} must be {kind} int, got {value!r}")
    return int(value)


def _tuple_arg(value: Any, n: int, layer: str, name: str, low: int) -> tuple[int, ...]:
    """A constructor argument as n ints >= low, else ValueError (or TypeError) naming it."""
    try:
        values = ntuple(value, n, name, layer)
    except OpError as e:
        raise ValueError(str(e)) from None
    if any(v < low for v in values):
        bound = "non-negative" if low == 0 else "positive"
        raise ValueError(f"{layer}: {name} must be {bound}, got {name}={value!r}")
    return values


def relabeled(module: Module, error: OpError, op: str) -> OpError:
    """An F-level error as the layer's: prefixed by the layer's repr (its configuration)."""
    return OpError(f"{module!r}: {str(error).removeprefix(op + ': ')}")


class _ConvNd(Module):
    """The shared constructor of the convolutions: argument checks, parameters, init, repr.

    weight is (out_channels, in_channels / groups, *kernel_size), or (in_channels,
    out_channels / groups, *kernel_size) for the transposed convolutions, as in PyTorch.
    """

    _nd = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None, *,
                 output_padding: Any = 0) -> None:
        super().__init__()
        layer, nd = type(self).__name__, self._nd
        _check_device(device, layer)
        in_channels = _positive_int(in_channels, layer, "in_channels", allow_zero=True)
        out_channels = _positive_int(out_channels, layer, "out_channels", allow_zero=True)
        groups = _positive_int(groups, layer, "groups")
        if in_channels % groups:
            raise ValueError(f"{layer}: in_channels must be divisible by groups, got "
                             f"in_channels={in_channels}, groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{layer}: out_channels must be divisible by groups, got "
                             f"out_channels={out_channels}, groups={groups}")
        self.kernel_size = _tuple_arg(kernel_size, nd, layer, "kernel_size", 1)
        self.stride = _tuple_arg(stride, nd, layer, "stride", 1)
        self.dilation = _tuple_arg(dilation, nd, layer, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{layer}: invalid padding string {padding!r}, should be one "
                                 "of ('same', 'valid')")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{layer}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding: tuple[int, ...] | str = padding
        else:
            self.padding = _tuple_arg(padding, nd, layer, "padding", 0)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{layer}: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{layer}: only "zeros" padding mode is supported, got '
                             f"{padding_mode!r}")
        self.output_padding = _tuple_arg(output_padding, nd, layer, "output_padding", 0)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups, self.padding_mode, self.transposed = groups, padding_mode, self._transposed
        # F.pad's widths (last dimension first) for the non-zeros padding modes, as PyTorch's
        # _reversed_padding_repeated_twice; "same" puts the odd one after
        pads: list[int] = []
        for k, d, p in zip(reversed(self.kernel_size), reversed(self.dilation),
                           reversed(self.padding if not isinstance(padding, str)
                                    else (None,) * nd), strict=True):
            total = d * (k - 1) if padding == "same" else 0 if padding == "valid" else 2 * p
            pads += [total // 2, total - total // 2]
        self._reversed_padding_repeated_twice = tuple(pads)
        dtype = _float_dtype(dtype, layer)
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups))
        self.weight = Parameter(np.empty((*shape, *self.kernel_size), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: weight kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = weight.shape[1] * prod(kernel_size); bias the same."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _conv(self, x: Tensor, conv: Any) -> Tensor:
        """conv (F.conv1d or F.conv2d) with this layer's arguments; F.pad first for the
        non-zeros padding modes; an error names this layer's configuration."""
        _check_input(x, type(self).__name__)
        try:
            padding = self.padding
            if self.padding_mode != "zeros":
                x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
                padding = 0
            return conv(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)
        except OpError as e:
            raise relabeled(self, e, conv.__name__) from None

    def extra_repr(self) -> str:
        nd = self._nd
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) of (N, C_in, H, W) or (C_in, H, W) input, PyTorch's
    layer: weight (out_channels, in_channels / groups, k_h, k_w), bias (out_channels,);
    padding an int, a pair, "valid" or "same"; padding_mode zeros, reflect, replicate or
    circular. Output H_out = (H + 2 p - d (k - 1) - 1) // s + 1.

    The course's conv_forward takes (m, n_H, n_W, n_C) input and (f, f, n_C_prev, n_C)
    weights: `x.permute(0, 3, 1, 2)` and `W.permute(3, 2, 0, 1)` give this layer's layout.

    >>> Conv2d(3, 8, 3)
    Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
    >>> Conv2d(3, 8, 3, padding=1)(Tensor(np.zeros((2, 3, 5, 5), np.float32))).shape
    (2, 8, 5, 5)
    """

    def forward(self, x: Tensor) -> Tensor:
        return self._conv(x, F.conv2d)


class Conv1d(_ConvNd):
    """1-D convolution of (N, C_in, L) or (C_in, L) input, PyTorch's layer: weight
    (out_channels, in_channels / groups, k), bias (out_channels,).

    >>> Conv1d(2, 4, 3, padding="same")(Tensor(np.zeros((1, 2, 7), np.float32))).shape
    (1, 4, 7)
    """

    _nd = 1

    def forward(self, x: Tensor) -> Tensor:
        return self._conv(x, F.conv1d)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (conv2d's input gradient as a layer; decoders upsample with
    it), PyTorch's layer: weight (in_channels, out_channels / groups, k_h, k_w). Output
    H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1; forward(x, output_size) picks
    output_padding to reach output_size, as PyTorch does.

    >>> ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
    ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    """

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair of ints, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, output_padding=output_padding)

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        _check_input(x, "ConvTranspose2d")
        try:
            output_padding = self._output_padding(x, output_size)
            return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                      output_padding, self.groups, self.dilation)
        except OpError as e:
            raise relabeled(self, e, "conv_transpose2d") from None

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        size = tuple(output_size)[-2:]
        pads = []
        for a in range(2):
            smallest = ((x.shape[-2 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                        + self.dilation[a] * (self.kernel_size[a] - 1) + 1)
            extra = size[a] - smallest
            if not 0 <= extra < max(self.stride[a], self.dilation[a]):
                raise OpError(f"conv_transpose2d: requested output_size {tuple(output_size)} is "
                              f"not reachable from input of shape {tuple(x.shape)}: each size "
                              f"must lie in [{smallest}, {smallest + self.stride[a] - 1}]")
            pads.append(extra)
        return tuple(pads)

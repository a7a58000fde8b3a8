"""Linear and Identity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...tensor import Tensor
from .. import init
from ..functional.linear import Linear as _LinearFunction
from ..parameter import Parameter
from .module import Module
from .utils import _check_device, _check_input, _float_dtype


class Linear(Module):
    """y = x @ weight.T + bias, weight shaped (out_features, in_features) as in PyTorch.

    The course writes Z = W X + b with examples as columns; here examples are rows, so
    the same W (shape (n[l], n[l-1])) appears transposed. Default init is PyTorch's:
    weight kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and bias
    U(-1/sqrt(in), 1/sqrt(in)). Use `nn.init.apply_(model, 'he')` for the course's schemes.

    >>> Linear(2, 3)
    Linear(in_features=2, out_features=3, bias=True)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        _check_device(device, "Linear")
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        dtype = _float_dtype(dtype, "Linear")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default init (see the class docstring)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        if type(x) is not Tensor:  # the exact-type test first: the full check only if it fails
            _check_input(x, "Linear")
        # F.linear's primitive, called directly (one Python frame less a call); it checks shapes
        return _LinearFunction.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off).

    Constructor arguments are accepted and ignored, as in PyTorch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x

"""Activation layers: ReLU, Tanh, Sigmoid, LeakyReLU, GELU, SiLU, Softplus, ELU, Hardtanh,
Softmax and LogSoftmax, each a thin Module over its F.* form."""

from __future__ import annotations

import numbers
import warnings

from ...ops import Relu
from ...ops import Sigmoid as _Sigmoid  # NOTE: the layers below take the ops' names
from ...ops import Tanh as _Tanh
from ...tensor import Tensor
from .. import functional as F
from .module import Module
from .utils import _check_dim, _check_number


class ReLU(Module):
    """max(0, x). `inplace` is accepted for ported code; the result is always a new tensor.

    >>> ReLU()(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        # NOTE: out of place even with inplace=True (same values). F.relu's primitive, called
        # directly (one Python frame less a call), as the other hot layers do
        return Relu.apply(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return _Tanh.apply(x)  # F.tanh's primitive, called directly (see ReLU)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return _Sigmoid.apply(x)  # F.sigmoid's primitive, called directly (see ReLU)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    >>> LeakyReLU(0.1)
    LeakyReLU(negative_slope=0.1)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x * Phi(x), Phi the standard normal CDF; approximate='tanh' is PyTorch's tanh form.

    >>> GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) (swish). `inplace` is accepted; the result is always a new tensor.

    >>> SiLU()(Tensor([0.0])).tolist()
    [0.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear (x) where beta x > threshold.

    >>> Softplus()
    Softplus(beta=1.0, threshold=20.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _check_number(beta, "Softplus", "beta")
        self.threshold = _check_number(threshold, "Softplus", "threshold")
        if beta == 0:
            raise ValueError("Softplus: beta must be nonzero (it divides), got 0")

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1). `inplace` is accepted, never in place.

    >>> ELU(alpha=0.5)
    ELU(alpha=0.5)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _check_number(alpha, "ELU", "alpha")
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (gradient 0 at and beyond the ends, as PyTorch).

    >>> Hardtanh(-2, 3)
    Hardtanh(min_val=-2, max_val=3)
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = _check_number(min_val, "Hardtanh", "min_val")
        self.max_val = _check_number(max_val, "Hardtanh", "max_val")
        if max_val < min_val:
            raise ValueError(f"Hardtanh: max_val must be >= min_val, got min_val={min_val}, "
                             f"max_val={max_val}")
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


def _softmax_dim(module: Module, ndim: int) -> int:
    """PyTorch's legacy choice when `dim` is omitted (with its warning): 0 for 0/1/3-D input,
    else 1. Pass `dim` explicitly instead."""
    warnings.warn(
        f"Implicit dimension choice for {type(module).__name__} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim` (each slice along dim sums to 1).

    >>> Softmax(dim=1)(Tensor([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        _check_dim(dim, "Softmax", optional=True)
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        dim = _softmax_dim(self, x.ndim) if self.dim is None else self.dim
        return F.softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along `dim`, computed stably (pair it with NLLLoss)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        _check_dim(dim, "LogSoftmax", optional=True)
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        dim = _softmax_dim(self, x.ndim) if self.dim is None else self.dim
        return F.log_softmax(x, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

"""Layers: Linear, activations (ReLU ... GELU, SiLU, Softplus, ELU, Hardtanh), Identity,
Flatten, Dropout and BatchNorm1d, each a thin Module over a fused primitive of `nn.functional`."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ...capture import CaptureError, capturing, on_replay
from ...function import OpError
from ...tensor import Tensor, get_default_dtype
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module


def _check_input(x: Any, layer: str) -> None:
    """A layer's input must be a Tensor (or a numpy array); a list would fail deep in numpy."""
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__} "
                        "(wrap the data with tg.tensor(...))")


def _check_dim(dim: Any, layer: str, name: str = "dim", optional: bool = False) -> None:
    if (dim is None and optional) or (isinstance(dim, (int, np.integer))
                                      and not isinstance(dim, bool)):
        return
    raise TypeError(f"{layer}: {name} must be an int{' or None' if optional else ''}, "
                    f"got {dim!r}")


def _float_dtype(dtype: Any, layer: str) -> np.dtype:
    """The parameters' dtype: the default float dtype, or a floating-point one given."""
    dt = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point dtype (parameters need "
                        f"gradients), got {dt}")
    return dt


def _check_device(device: Any, layer: str) -> None:
    """Accept PyTorch's `device=` for ported code; everything here runs on the CPU."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"{layer}: only device='cpu' exists in tinygrad_c2, got {device!r}")


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
        _check_input(x, "Linear")
        return F.linear(x, self.weight, self.bias)  # F.linear checks the shapes

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class ReLU(Module):
    """max(0, x). `inplace` is accepted for ported code; the result is always a new tensor.

    >>> ReLU()(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)  # NOTE: out of place even with inplace=True (same values)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


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


def _check_number(value: Any, layer: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r}")
    return value


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


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off).

    Constructor arguments are accepted and ignored, as in PyTorch.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one (default: all but the batch dimension).

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


class Dropout(Module):
    """Inverted dropout: zero each element with probability `p`, scale the rest by 1/(1-p).

    `p` is the DROP probability (PyTorch's meaning). The course's `keep_prob` is `1 - p`:
    the course's keep_prob = 0.8 is `Dropout(p=0.2)`. Dividing by keep_prob during training
    keeps each activation's expected value, so at evaluation time (`model.eval()`) the layer
    is the identity and needs no rescaling. NOTE: the course notes' "dropout is only used
    for the test set" is a slip: dropout runs during training only. The same mask zeroes
    the gradient in backward (the course's "apply the mask to dA").

    >>> layer = Dropout(p=0.2).eval(); layer(Tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p (drop probability) must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class BatchNorm1d(Module):
    """Batch normalization over the batch (and length) dimension of (N, C) or (N, C, L) input.

    Training: per channel, mu and sigma^2 (biased) over the mini-batch, then
    x_hat = (x - mu) / sqrt(sigma^2 + eps), y = gamma * x_hat + beta (`weight`, `bias`).
    NOTE: the course notes divide by (sigma^2 + eps); the correct formula (Ioffe & Szegedy,
    PyTorch), used here, divides by sqrt(sigma^2 + eps).

    Running statistics are the course's exponentially weighted average of mu and sigma^2
    across mini-batches, r = (1 - momentum) * r + momentum * batch_stat, so PyTorch's
    momentum 0.1 is the course's beta = 0.9 (the running variance uses the unbiased batch
    variance, as PyTorch does). With `momentum=None` the average is cumulative (momentum =
    1 / num_batches_tracked). Evaluation (`eval()`) normalizes with the running statistics;
    with `track_running_stats=False` batch statistics are used in both modes. The
    keyword-only `bias=False` keeps gamma but drops beta (PyTorch 2.x's option).

    >>> BatchNorm1d(4)
    BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_device(device, "BatchNorm1d")
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(
                f"BatchNorm1d: num_features must be a positive int, got {num_features!r}"
            )
        for name, value in (("eps", eps), ("momentum", momentum)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, numbers.Real)):
                raise TypeError(f"BatchNorm1d: {name} must be a number, got {value!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum}")
        dtype = _float_dtype(dtype, "BatchNorm1d")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, counter 0 (in place)."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; gamma 1, beta 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, "BatchNorm1d")
        shape = tuple(x.shape)
        if len(shape) not in (2, 3):
            raise OpError(
                f"BatchNorm1d: expected 2-D (N, C) or 3-D (N, C, L) input, got shape {shape}"
            )
        if shape[1] != self.num_features:
            raise OpError(
                f"BatchNorm1d({self.num_features}): input has {shape[1]} channels in "
                f"dimension 1 (shape {shape}), expected {self.num_features}"
            )
        use_batch_stats = self.training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self._count_batch()
            # A captured step replays the primitives, not this Python: count there too.
            on_replay(self._count_batch)
            if self.momentum is None:  # cumulative moving average
                if capturing():
                    raise CaptureError("BatchNorm1d(momentum=None) computes its momentum in "
                                       "Python at every step, which a captured step would "
                                       "freeze; give it a float momentum or run eagerly")
                momentum = 1.0 / float(self.num_batches_tracked.data)
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=momentum,
            eps=self.eps,
        )

    def _count_batch(self) -> None:
        self.num_batches_tracked.data[...] += 1

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )

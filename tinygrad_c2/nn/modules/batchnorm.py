"""BatchNorm1d, BatchNorm2d: batch statistics in training, running statistics (PyTorch's rule)
in eval; one _BatchNorm base (as PyTorch's), one primitive (F.batch_norm) for every rank."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ...capture import CaptureError, capturing, on_replay
from ...function import OpError
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module
from .utils import _check_device, _check_input, _float_dtype

_INT64 = np.dtype(np.int64)
_ONE = np.array(1, _INT64)  # the batch count's increment, read-only (shared)
_ONE.flags.writeable = False


class _BatchNorm(Module):
    """Batch normalization per channel (dimension 1) over every other dimension.

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
    Subclasses say which input ranks they take (`_ranks`).
    """

    _ranks: tuple[int, ...] = ()
    _layout = ""

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
        layer = type(self).__name__
        _check_device(device, layer)
        if not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(
                f"{layer}: num_features must be a positive int, got {num_features!r}"
            )
        for name, value in (("eps", eps), ("momentum", momentum)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, numbers.Real)):
                raise TypeError(f"{layer}: {name} must be a number, got {value!r}")
        if not eps > 0:
            raise ValueError(f"{layer}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{layer}: momentum must be in [0, 1] or None, got {momentum}")
        dtype = _float_dtype(dtype, layer)
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
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; gamma 1, beta 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, type(self).__name__)
        training, momentum, eps = self._batch_norm_args(tuple(x.shape))
        return F.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=training,
            momentum=momentum,
            eps=eps,
        )

    def _batch_norm_args(self, shape: tuple[int, ...]) -> tuple[bool, float, float]:
        """F.batch_norm's training, momentum and eps for a call on input of `shape`, after the
        layer's input checks and the batch count: the module's side of a call, which
        nn.Sequential's fused runs call too (between the layers before and after it)."""
        if len(shape) not in self._ranks:
            raise OpError(f"{type(self).__name__}: expected {self._layout} input, got shape "
                          f"{shape}")
        if shape[1] != self.num_features:
            raise OpError(
                f"{type(self).__name__}({self.num_features}): input has {shape[1]} channels in "
                f"dimension 1 (shape {shape}), expected {self.num_features}"
            )
        training = self.training
        use_batch_stats = training or not self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        if training and self.track_running_stats:
            self._count_batch()
            # A captured step replays the primitives, not this Python: count there too.
            on_replay(self._count_batch)
            if self.momentum is None:  # cumulative moving average
                if capturing():
                    raise CaptureError(f"{type(self).__name__}(momentum=None) computes its "
                                       "momentum in Python at every step, which a captured "
                                       "step would freeze; give it a float momentum or run "
                                       "eagerly")
                momentum = 1.0 / float(self.num_batches_tracked._data)
        return use_batch_stats, momentum, self.eps

    def _count_batch(self) -> None:
        # NOTE: `count += ONE` on the 0-d int64 array itself: `count[...] += 1` makes a view,
        # converts the 1 and copies the sum back (callgrind: ~2.5x the instructions). The
        # same int64 sum in the same array; any other dtype (a loaded buffer) as before.
        count = self.num_batches_tracked._data
        if count.dtype is _INT64:
            count += _ONE
        else:
            count[...] += 1

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input: statistics per feature over the
    batch (and length) dimension.

    >>> BatchNorm1d(4)
    BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _ranks = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input: statistics per channel over the batch and
    both spatial dimensions (the m of the closed-form backward is N * H * W).

    >>> BatchNorm2d(3)(Tensor(np.ones((2, 3, 4, 4), np.float32))).shape
    (2, 3, 4, 4)
    """

    _ranks = (4,)
    _layout = "4-D (N, C, H, W)"

"""Loss modules: thin wrappers that hold `reduction` (and options) and call `nn.functional`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tensor import Tensor
from .. import functional as F
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """Base of the loss modules: validates and stores `reduction` ('mean', 'sum', 'none')."""

    def __init__(self, reduction: str = "mean", size_average: Any = None,
                 reduce: Any = None, reductions: tuple[str, ...] = _REDUCTIONS) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError(f"{type(self).__name__}: size_average and reduce are deprecated in "
                             "PyTorch and not supported here: use reduction='mean', 'sum' or "
                             "'none'")
        if not isinstance(reduction, str) or reduction not in reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {reductions}, got "
                f"{reduction!r}"
            )
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with PyTorch's optional `weight`, kept as a buffer (so it is in state_dict)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:
        super().__init__(reduction, size_average, reduce)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(np.asarray(weight))
        if weight is not None and weight.dtype.kind not in "iuf":
            raise TypeError(f"{type(self).__name__}: weight must be a float tensor, got dtype "
                            f"{weight.dtype}")
        self.register_buffer("weight", weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of raw logits (N, C) or (N, C, d1, ...) against integer labels
    (N,) / (N, d1, ...) or class probabilities such as the course's one-hot Y (as rows).

    Fuses log-softmax and negative log-likelihood: the course's softmax output layer plus
    J = -1/m sum y log y_hat, without forming y_hat. `label_smoothing` mixes the target
    with the uniform distribution, (1 - s) * y + s / C. `weight` (one per class) and
    `ignore_index` follow PyTorch: the weighted mean divides by the summed weights of the
    counted targets; an ignored target costs 0 and gets no gradient.

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()(Tensor([[0.0, 0.0]]), Tensor(np.array([1])))
    >>> round(loss.item(), 4)
    0.6931
    """

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) (e.g.
    LogSoftmax output) at integer labels: -weight[y] * input[i, y], reduced; `weight` and
    `ignore_index` as in CrossEntropyLoss."""

    def __init__(self, weight: Any = None, size_average: Any = None, ignore_index: int = -100,
                 reduce: Any = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities p in (0, 1) (a sigmoid output) against 0/1
    targets: -(y log p + (1 - y) log(1 - p)), the course's logistic cost; `weight` rescales
    each element's loss (broadcast)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw logits: sigmoid and BCELoss fused, stable for any logit.

    `pos_weight` (per class, broadcast over the last dimension) weighs the positive term, as
    in PyTorch: loss = -(pos_weight * y log s(z) + (1 - y) log(1 - s(z))); `weight` rescales
    each element's loss.
    """

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction, size_average, reduce)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(np.asarray(weight))
        self.register_buffer("weight", weight)
        if pos_weight is not None:
            values = pos_weight._data if isinstance(pos_weight, Tensor) else np.asarray(pos_weight)
            if values.dtype.kind not in "iuf" or values.ndim > 1:
                raise TypeError(f"BCEWithLogitsLoss: pos_weight must be a number or a 1-D tensor "
                                f"of per-class weights, got {pos_weight!r}")
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction,
            pos_weight=self.pos_weight
        )


class MSELoss(_Loss):
    """Mean squared error (input - target)^2, reduced.

    >>> MSELoss()(Tensor([1.0, 3.0]), Tensor([0.0, 0.0])).item()
    5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |input - target|, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, with d = input - target.

    >>> SmoothL1Loss(beta=0.5)(Tensor([0.25, 2.0]), Tensor([0.0, 0.0])).item()
    0.90625
    """

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(reduction, size_average, reduce)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): delta * SmoothL1Loss(delta)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence; input holds log-probabilities, target probabilities (or log-probabilities
    with log_target=True). Use reduction='batchmean' for the true per-example divergence."""

    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(reduction, size_average, reduce, (*_REDUCTIONS, "batchmean"))
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

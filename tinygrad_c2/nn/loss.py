"""Loss modules: thin wrappers that hold `reduction` (and options) and call `nn.functional`."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    """Base of the loss modules: validates and stores `reduction` ('mean', 'sum', 'none')."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got "
                f"{reduction!r} (options such as class weights are not supported)"
            )
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of raw logits (N, C) against integer labels (N,) or class
    probabilities (N, C) such as the course's one-hot Y (as rows).

    Fuses log-softmax and negative log-likelihood: the course's softmax output layer plus
    J = -1/m sum y log y_hat, without forming y_hat. `label_smoothing` mixes the target
    with the uniform distribution, (1 - s) * y + s / C.

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()(Tensor([[0.0, 0.0]]), Tensor(np.array([1])))
    >>> round(loss.item(), 4)
    0.6931
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002 (PyTorch's name)
        return F.cross_entropy(
            input, target, reduction=self.reduction, label_smoothing=self.label_smoothing
        )


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) (e.g. LogSoftmax output) at
    integer labels (N,): -input[i, target[i]], reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities p in (0, 1) (a sigmoid output) against 0/1
    targets: -(y log p + (1 - y) log(1 - p)), the course's logistic cost."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw logits: sigmoid and BCELoss fused, stable for any logit.

    `pos_weight` (per class, broadcast over the last dimension) weighs the positive term, as
    in PyTorch: loss = -(pos_weight * y log s(z) + (1 - y) log(1 - s(z))).
    """

    def __init__(self, reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        if pos_weight is not None:
            values = pos_weight.data if isinstance(pos_weight, Tensor) else np.asarray(pos_weight)
            if values.dtype.kind not in "iuf" or values.ndim > 1:
                raise TypeError(f"BCEWithLogitsLoss: pos_weight must be a number or a 1-D tensor "
                                f"of per-class weights, got {pos_weight!r}")
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(
            input, target, reduction=self.reduction, pos_weight=self.pos_weight
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

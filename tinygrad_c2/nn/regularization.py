"""Regularization helpers: the course's L2 (and L1) cost terms over weight matrices, and
optimizer param groups that exempt biases and batch-norm parameters from weight decay."""

from __future__ import annotations

import numbers
from typing import Any

from ..tensor import Tensor
from .modules.conv import _ConvNd
from .modules.linear import Linear
from .modules.module import Module
from .parameter import Parameter


def penalized_weights(model: Module) -> list[tuple[str, Parameter]]:
    """(name, weight) for the weight of every Linear and convolution layer (a conv net's W are
    its filters): what the course regularizes.

    Biases, batch norm's gamma/beta and any other parameter are left out.

    >>> from tinygrad_c2 import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    >>> [name for name, _ in penalized_weights(model)]
    ['0.weight', '2.weight']
    """
    if not isinstance(model, Module):
        raise TypeError(f"penalized_weights: expected an nn.Module, got {type(model).__name__}")
    weights = []
    seen: set[int] = set()  # a weight shared by two layers is penalized once
    for prefix, module in model.named_modules():
        if isinstance(module, (Linear, _ConvNd)) and id(module.weight) not in seen:
            seen.add(id(module.weight))
            weights.append((f"{prefix}.weight" if prefix else "weight", module.weight))
    return weights


def _check_lambd_m(caller: str, lambd: float, m: float) -> None:
    if not isinstance(lambd, numbers.Real) or lambd < 0:
        raise ValueError(f"{caller}: lambd must be a non-negative number, got {lambd!r}")
    if not isinstance(m, numbers.Real) or m <= 0:
        raise ValueError(f"{caller}: m (number of training examples) must be positive, got {m!r}")


def l2_penalty(model: Module, lambd: float, m: float) -> Tensor:
    """The course's L2 cost term: lambd / (2 m) * sum over layers of ||W[l]||_F^2.

    A Tensor in the graph: add it to the loss and backward adds lambd / m * W to each weight
    gradient (the course's "weight decay"). m is the number of training examples the
    cross-entropy averages over (the mini-batch size when the loss is a mini-batch mean).
    Sums only Linear and convolution weights, never biases or batch-norm parameters.

    >>> import numpy as np
    >>> from tinygrad_c2 import nn
    >>> layer = nn.Linear(2, 1); layer.weight.data[...] = np.array([[3.0, 4.0]])
    >>> l2_penalty(layer, lambd=0.1, m=5).item()  # 0.1 / 10 * 25
    0.25
    """
    _check_lambd_m("l2_penalty", lambd, m)
    total: Tensor | None = None
    for _, weight in penalized_weights(model):
        term = (weight * weight).sum()
        total = term if total is None else total + term
    if total is None:
        return Tensor(0.0)
    return total * (lambd / (2 * m))


def l1_penalty(model: Module, lambd: float, m: float) -> Tensor:
    """L1 cost term: lambd / m * sum over layers of sum |W[l]|; gradient lambd / m * sign(W).

    Formula choice: the course notes give L1 as "add lambd * |w| for every w" next to
    "lambd / 2 * w^2" for L2; scaled by 1/m like the course's cost, that is lambd / m * |W|
    beside l2_penalty's lambd / (2 m) * W^2. (Ng's lecture slide writes lambd / (2 m) *
    ||w||_1; pass lambd / 2 to get it.) The subgradient at w = 0 is 0. It drives weights
    to exactly zero (sparse W), unlike L2.

    >>> import numpy as np
    >>> from tinygrad_c2 import nn
    >>> layer = nn.Linear(2, 1); layer.weight.data[...] = np.array([[3.0, -4.0]])
    >>> round(l1_penalty(layer, lambd=0.1, m=5).item(), 6)  # 0.1 / 5 * 7
    0.14
    """
    _check_lambd_m("l1_penalty", lambd, m)
    total: Tensor | None = None
    for _, weight in penalized_weights(model):
        term = weight.abs().sum()
        total = term if total is None else total + term
    if total is None:
        return Tensor(0.0)
    return total * (lambd / m)


def param_groups_for_weight_decay(model: Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two optimizer param groups: Linear and conv weights decay, everything else does not.

    Biases and BatchNorm1d's gamma/beta get weight_decay 0, as the course regularizes only W.
    With plain SGD, `weight_decay = lambd / m` on these groups equals adding
    `l2_penalty(model, lambd, m)` to the loss (both add lambd / m * W to the gradient).
    Empty groups are left out.

    >>> from tinygrad_c2 import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    >>> [(len(g["params"]), g["weight_decay"]) for g in param_groups_for_weight_decay(model, 1e-4)]
    [(1, 0.0001), (3, 0.0)]
    """
    if not isinstance(weight_decay, numbers.Real) or weight_decay < 0:
        raise ValueError(
            f"param_groups_for_weight_decay: weight_decay must be a non-negative number, "
            f"got {weight_decay!r}"
        )
    decayed = [weight for _, weight in penalized_weights(model)]
    decayed_ids = {id(weight) for weight in decayed}
    others = [param for param in model.parameters() if id(param) not in decayed_ids]
    groups = []
    if decayed:
        groups.append({"params": decayed, "weight_decay": weight_decay})
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    return groups

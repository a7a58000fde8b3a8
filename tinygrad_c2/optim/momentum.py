"""Momentum: the course's gradient descent with momentum, an exponentially weighted average of g."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class Momentum(Optimizer):
    """Momentum (course): v = beta*v + (1-beta)*g, v0 = 0; w -= lr * v.

    v is the exponentially weighted average of the gradients (no bias correction, as in the
    course: the first steps are small while v "builds up"); beta = 0 is plain gradient descent.
    `weight_decay` (default 0) adds wd*w to g first, like SGD's L2 term.

    Equivalence with PyTorch: PyTorch's buffer is b1 = g1, b_t = beta*b_{t-1} + g_t, so
    b_t = sum_k beta^(t-k) g_k and the course's v_t = (1-beta) * b_t exactly. Hence
    `Momentum(params, lr, beta)` takes the same steps as
    `SGD(params, lr=lr*(1-beta), momentum=beta, dampening=0)` (equal up to rounding).
    It is NOT `SGD(lr, momentum=beta, dampening=beta)`: that buffer starts at b1 = g1 rather
    than (1-beta)*g1, so the first gradient keeps weight beta^(t-1) instead of
    (1-beta)*beta^(t-1); the two only agree once beta^t is negligible.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = tg.optim.Momentum([w], lr=1.0, beta=0.9)
    >>> w.grad = tg.Tensor(np.array([1.0])); opt.step(); w.numpy()   # v = 0.1
    array([0.9])
    """

    _numeric = ("lr", "beta", "weight_decay")

    def __init__(
        self, params: Iterable[Any], lr: float, beta: float = 0.9, weight_decay: float = 0
    ) -> None:
        super().__init__(params, dict(lr=lr, beta=beta, weight_decay=weight_decay))

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        if not group["lr"] >= 0.0:
            raise self._invalid(where, "lr", group["lr"], "lr >= 0")
        if not 0.0 <= group["beta"] < 1.0:
            raise self._invalid(where, "beta", group["beta"], "0 <= beta < 1")
        if not group["weight_decay"] >= 0.0:
            raise self._invalid(where, "weight_decay", group["weight_decay"], "weight_decay >= 0")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, beta, wd = group["lr"], group["beta"], group["weight_decay"]
        one_minus_beta = 1 - beta
        for p, g in self._grads(group):
            w = p._data
            if wd != 0:
                g = g + wd * w
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"velocity": np.zeros_like(w)}
            v = state["velocity"]
            v *= beta
            v += one_minus_beta * g
            w -= lr * v

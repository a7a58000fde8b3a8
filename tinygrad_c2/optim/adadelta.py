"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta: g += wd*w; v = rho*v + (1-rho)*g^2; d = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho*u + (1-rho)*d^2; w -= lr * d.

    Identical to PyTorch's `torch.optim.Adadelta` (single-tensor path): v is "square_avg",
    u is "acc_delta", both start at 0, and eps sits inside both square roots (so the very
    first steps have size about lr*sqrt(eps)/|g|*g, small). `lr` (default 1.0) scales d;
    the paper has no lr. `foreach` is accepted and ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = tg.optim.Adadelta([w], rho=0.0, eps=1.0)
    >>> w.grad = tg.Tensor(np.array([np.sqrt(3.0)])); opt.step(); w.numpy()   # d = 1/2 * sqrt(3)
    array([0.1339746])
    """

    _numeric = ("lr", "rho", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        for name in ("lr", "eps", "weight_decay"):
            if not group[name] >= 0.0:
                raise self._invalid(where, name, group[name], f"{name} >= 0")
        if not 0.0 <= group["rho"] <= 1.0:
            raise self._invalid(where, "rho", group["rho"], "0 <= rho <= 1")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        one_minus_rho = 1 - rho
        for p, g in self._grads(group):
            w = p._data
            state = self.state[p]
            if not state:
                state.update(step=0, square_avg=np.zeros_like(w), acc_delta=np.zeros_like(w))
            state["step"] += 1
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * w
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg *= rho
            square_avg += (one_minus_rho * g) * g
            std = np.sqrt(square_avg + eps)
            delta = np.sqrt(acc_delta + eps)
            delta /= std
            delta *= g
            acc_delta *= rho
            acc_delta += (one_minus_rho * delta) * delta
            w -= lr * delta

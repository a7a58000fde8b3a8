"""SGD: PyTorch's stochastic gradient descent with momentum, dampening, Nesterov, weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..ops.constants import number_operand
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD: g += wd*w; b = g (first step) else mu*b + (1-dampening)*g; w -= lr * (g + mu*b if
    nesterov else b).

    Identical to PyTorch's `torch.optim.SGD` (single-tensor path). The first momentum step
    stores the raw gradient, undamped, as PyTorch does. The course's exponentially weighted
    momentum is `optim.Momentum`. `foreach` is accepted for PyTorch compatibility and ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = tg.Tensor(np.array([1.0, -1.0])); opt.step(); w.numpy()
    array([0.9, 2.1])
    """

    _numeric = ("lr", "momentum", "dampening", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        if not group["lr"] >= 0.0:
            raise self._invalid(where, "lr", group["lr"], "lr >= 0")
        if not group["momentum"] >= 0.0:
            raise self._invalid(where, "momentum", group["momentum"], "momentum >= 0")
        if not group["weight_decay"] >= 0.0:
            raise self._invalid(where, "weight_decay", group["weight_decay"], "weight_decay >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise self._invalid(where, "nesterov", True, "momentum > 0 and dampening == 0")

    def _quiet_update(self, group: dict[str, Any]) -> bool:
        return not (group["maximize"] or group["weight_decay"] or group["momentum"])

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        one_minus_dampening = 1 - group["dampening"]
        nesterov, maximize = group["nesterov"], group["maximize"]
        if not (maximize or wd or mu):  # plain SGD, the common case: one loop, no generator
            multiply = np.multiply
            lr_dtype = lr_operand = None  # lr as the operand for gradients of lr_dtype
            for p in group["params"]:
                grad = p.grad
                if grad is not None:
                    w, g = p._data, grad._data
                    if g.shape != w.shape:
                        raise self._shape_error(w, g)
                    try:
                        if g.dtype is not lr_dtype:
                            lr_operand, lr_dtype = number_operand(lr, g.dtype), g.dtype
                        update = multiply(lr_operand, g)  # = lr * g, bit for bit
                    except FloatingPointError:
                        # NOTE: only under a raising np.errstate: lr * g underflowed to 0, the
                        # correct value (w is untouched yet), so compute it again quietly. The
                        # subtraction cannot underflow (a subnormal difference is exact).
                        with np.errstate(under="ignore"):
                            update = lr * g
                    w -= update
            return
        for p, g in self._grads(group):
            w = p._data
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * w  # a new array: the gradient itself is never modified
            if mu != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.copy()
                else:
                    buf *= mu
                    buf += one_minus_dampening * g
                g = g + mu * buf if nesterov else buf
            w -= lr * g

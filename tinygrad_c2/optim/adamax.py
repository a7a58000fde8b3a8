"""Adamax: Adam with the second moment replaced by a running maximum of |g| (PyTorch's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .adam import Adam
from .optimizer import Optimizer
from .rmsprop import _lerp_


class Adamax(Optimizer):
    """Adamax: g += wd*w; m = b1*m + (1-b1)*g; u = max(b2*u, |g| + eps);
    w -= lr / (1 - b1^t) * m / u.

    Identical to PyTorch's `torch.optim.Adamax` (single-tensor path): u ("exp_inf") is the
    infinity-norm analogue of Adam's v, with eps added to |g| inside the maximum (not to the
    denominator), and only m is bias-corrected. `foreach` is accepted and ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    >>> opt = tg.optim.Adamax([w], lr=0.1, eps=0.0)
    >>> w.grad = tg.Tensor(np.array([4.0, -0.5])); opt.step(); w.numpy()   # first step: lr*sign(g)
    array([0.9, 1.1])
    """

    _numeric = ("lr", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        Adam._check_group(self, group, where)  # the same hyperparameters and ranges as Adam

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        maximize = group["maximize"]
        one_minus_beta1 = 1 - beta1
        for p, g in self._grads(group):
            w = p._data
            state = self.state[p]
            if not state:
                state.update(step=0, exp_avg=np.zeros_like(w), exp_inf=np.zeros_like(w))
            step = state["step"] = state["step"] + 1
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * w
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            _lerp_(exp_avg, g, one_minus_beta1)
            exp_inf *= beta2
            norm = np.abs(g)
            norm += eps
            np.maximum(exp_inf, norm, out=exp_inf)  # NaN in either propagates, as torch.maximum
            clr = lr / (1 - beta1**step)
            w -= (clr * exp_avg) / exp_inf

"""RMSprop: divide the gradient by a running root-mean-square of recent gradients (PyTorch's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop: s = alpha*s + (1-alpha)*g^2; w -= lr * g / (sqrt(s) + eps)
    (centered: sqrt(s - gbar^2) with gbar = EWA of g; momentum: b = mu*b + g/(...); w -= lr*b).

    Identical to PyTorch's `torch.optim.RMSprop` (single-tensor path): weight decay adds wd*w
    to g first, eps is added after the square root, and s starts at 0 without bias correction.
    The course writes the update as g / sqrt(s) (sometimes without the root); the root is right:
    it makes the step scale-free. alpha is the course's beta2. `foreach` is ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = tg.optim.RMSprop([w], lr=0.01, alpha=0.75, eps=0.0)
    >>> w.grad = tg.Tensor(np.array([3.0])); opt.step(); w.numpy()   # sqrt(s) = 0.5 * 3
    array([0.98])
    """

    _numeric = ("lr", "alpha", "eps", "weight_decay", "momentum")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            if not group[name] >= 0.0:
                raise self._invalid(where, name, group[name], f"{name} >= 0")
        if group["alpha"] > 1.0:  # alpha > 1 weighs the new g^2 negatively: s can go below 0
            raise self._invalid(where, "alpha", group["alpha"], "0 <= alpha <= 1")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, mu, centered, maximize = (group["weight_decay"], group["momentum"], group["centered"],
                                      group["maximize"])
        one_minus_alpha = 1 - alpha
        for p, g in self._grads(group):
            w = p._data
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(w)}
                if mu > 0:
                    state["momentum_buffer"] = np.zeros_like(w)
                if centered:
                    state["grad_avg"] = np.zeros_like(w)
            state["step"] += 1
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * w
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (one_minus_alpha * g) * g
            if centered:
                grad_avg = state["grad_avg"]
                _lerp_(grad_avg, g, one_minus_alpha)
                avg = square_avg - grad_avg * grad_avg
                np.sqrt(avg, out=avg)
            else:
                avg = np.sqrt(square_avg)
            avg += eps
            if mu > 0:
                buf = state["momentum_buffer"]
                buf *= mu
                buf += g / avg
                w -= lr * buf
            else:
                w -= (lr * g) / avg


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, factor: Any = None) -> None:
    """start += weight * (end - start) in place, with torch.lerp's two-sided formula.

    NOTE: for weight >= 0.5 PyTorch computes end - (end - start) * (1 - weight), which is more
    accurate there; copying the branch keeps results equal to PyTorch's to the last bits.
    `factor` is what the branch multiplies by (`lerp_factor(weight)`), given by a caller that
    made it a 0-d operand once a step (ops.constants.number_operand).
    """
    diff = end - start
    diff *= lerp_factor(weight) if factor is None else factor
    if abs(weight) < 0.5:
        start += diff
    else:
        np.subtract(end, diff, out=start)


def lerp_factor(weight: float) -> float:
    """The number _lerp_ multiplies (end - start) by: weight below 0.5, else 1 - weight.

    >>> lerp_factor(0.1), lerp_factor(0.75)
    (0.1, 0.25)
    """
    return weight if abs(weight) < 0.5 else 1 - weight

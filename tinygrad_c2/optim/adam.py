"""Adam and AdamW: momentum plus RMSprop with bias-corrected moment estimates (PyTorch's form)."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..ops.constants import number_operand
from .optimizer import Optimizer
from .rmsprop import _lerp_, lerp_factor


class Adam(Optimizer):
    """Adam: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    Identical to PyTorch's `torch.optim.Adam` (single-tensor path), including its order of
    operations: eps is added to sqrt(v_hat), after the bias correction. weight_decay adds wd*w
    to g (L2, coupled); `decoupled_weight_decay=True` (= AdamW) instead shrinks
    w *= 1 - lr*wd before the update. amsgrad uses the running maximum of v in the
    denominator. The course's notes print the bias corrections without the power t and divide
    by v_hat without the root; the formulas here are the paper's. `foreach` is ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0, -1.0]), requires_grad=True)
    >>> opt = tg.optim.Adam([w], lr=0.1)
    >>> w.grad = tg.Tensor(np.array([5.0, -0.01])); opt.step(); np.round(w.numpy(), 6)  # lr*sign(g)
    array([ 0.9, -0.9])
    """

    _numeric = ("lr", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        if not group["lr"] >= 0.0:
            raise self._invalid(where, "lr", group["lr"], "lr >= 0")
        if not group["eps"] >= 0.0:
            raise self._invalid(where, "eps", group["eps"], "eps >= 0")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise self._invalid(where, "betas", betas, "a pair (beta1, beta2)")
        for i, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
                raise TypeError(f"{type(self).__name__}: betas[{i}] must be a number in {where}, "
                                f"got {beta!r} ({type(beta).__name__})")
            if not 0.0 <= beta < 1.0:
                raise self._invalid(where, f"betas[{i}]", beta, "0 <= beta < 1")
        if not group["weight_decay"] >= 0.0:
            raise self._invalid(where, "weight_decay", group["weight_decay"], "weight_decay >= 0")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
        shrink = 1 - lr * wd
        last_step = dtype = None  # the step count and dtype `numbers` were made for
        for p, g in self._grads(group):
            w = p._data
            state = self.state.get(p)
            if not state:
                state = self.state[p] = {
                    "step": 0, "exp_avg": np.zeros_like(w), "exp_avg_sq": np.zeros_like(w)
                }
                if amsgrad:
                    state["max_exp_avg_sq"] = np.zeros_like(w)
            step = state["step"] = state["step"] + 1
            if maximize:
                g = -g
            if wd != 0:
                if decoupled:
                    w *= shrink
                else:
                    g = g + wd * w
            if step != last_step or w.dtype is not dtype:  # usually once a step
                step_size = lr / (1 - beta1**step)
                bias_correction2_sqrt = (1 - beta2**step) ** 0.5
                last_step, dtype = step, w.dtype
                numbers = (lerp_factor(one_minus_beta1), beta2, one_minus_beta2,
                           bias_correction2_sqrt, eps, step_size)
                # the same numbers as 0-d operands of w's dtype (the values numpy casts them
                # to on every call otherwise), for a gradient and state of w's dtype (always,
                # unless a user swapped arrays): the same results bit for bit
                operands = (number_operand(numbers[0], dtype), number_operand(beta2, dtype),
                            number_operand(one_minus_beta2, dtype),
                            number_operand(bias_correction2_sqrt, dtype, keep=False),
                            number_operand(eps, dtype),
                            number_operand(step_size, dtype, keep=False))
            m, v = state["exp_avg"], state["exp_avg_sq"]
            factor, b2, one_minus_b2, correction2, epsilon, size = (
                operands if g.dtype is dtype and m.dtype is dtype and v.dtype is dtype
                else numbers)
            _lerp_(m, g, one_minus_beta1, factor)
            v *= b2
            g2 = one_minus_b2 * g
            g2 *= g  # (1 - b2) * g * g, in one temporary
            v += g2
            if amsgrad:
                v = state["max_exp_avg_sq"]
                np.maximum(v, state["exp_avg_sq"], out=v)
            denom = np.sqrt(v)
            denom /= correction2
            denom += epsilon
            update = size * m
            update /= denom  # in place: one temporary less
            w -= update


class AdamW(Adam):
    """AdamW: w *= 1 - lr*wd; then the Adam step (weight decay decoupled from the gradient).

    Identical to PyTorch's `torch.optim.AdamW` (default weight_decay=1e-2): the decay no longer
    passes through m and v, so it is not rescaled by the adaptive denominator.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = tg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = tg.Tensor(np.array([0.0])); opt.step(); w.numpy()   # zero gradient: only decay
    array([0.95])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, decoupled_weight_decay=True)

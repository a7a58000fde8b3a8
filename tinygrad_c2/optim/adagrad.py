"""Adagrad: per-coordinate steps that shrink with the sum of all past squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad: g += wd*w; s += g^2; w -= lr / (1 + (t-1)*lr_decay) * g / (sqrt(s) + eps).

    Identical to PyTorch's `torch.optim.Adagrad` (single-tensor path): s starts at
    `initial_accumulator_value`, eps is added after the square root. As in PyTorch the state
    (step 0, s) of every parameter is created by the constructor, so `state_dict()` lists all
    of them even before the first step. `foreach` is accepted and ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0, 1.0]), requires_grad=True)
    >>> opt = tg.optim.Adagrad([w], lr=0.1, eps=0.0)
    >>> w.grad = tg.Tensor(np.array([4.0, -0.5])); opt.step(); w.numpy()   # first step: lr*sign(g)
    array([0.9, 1.1])
    """

    _numeric = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._new_state(p._data)

    def _new_state(self, w: np.ndarray) -> dict[str, Any]:
        # NOTE: PyTorch fills s from the constructor's value (self.defaults), not the group's:
        # an "initial_accumulator_value" given in a param group is kept but has no effect.
        return {"step": 0, "sum": np.full_like(w, self.defaults["initial_accumulator_value"])}

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        for name in self._numeric:
            if not group[name] >= 0.0:
                raise self._invalid(where, name, group[name], f"{name} >= 0")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        wd, maximize = group["weight_decay"], group["maximize"]
        for p, g in self._grads(group):
            w = p._data
            state = self.state[p]
            if not state:  # a parameter of a group added after construction
                state.update(self._new_state(w))
            step = state["step"] = state["step"] + 1
            if maximize:
                g = -g
            if wd != 0:
                g = g + wd * w
            clr = lr / (1 + (step - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum += g * g
            std = np.sqrt(state_sum)
            std += eps
            w -= (clr * g) / std

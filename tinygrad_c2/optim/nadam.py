"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule (PyTorch's)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor, get_default_dtype
from .adam import Adam
from .optimizer import Optimizer
from .rmsprop import _lerp_


class NAdam(Optimizer):
    """NAdam: mu_t = b1*(1 - 0.5*0.96^(t*psi)); P_t = mu_1*...*mu_t; m = b1*m + (1-b1)*g;
    v = b2*v + (1-b2)*g^2; w -= lr*(1-mu_t)/(1-P_t) * g/d + lr*mu_{t+1}/(1-P_t*mu_{t+1}) * m/d
    with d = sqrt(v/(1-b2^t)) + eps and psi = momentum_decay.

    Identical to PyTorch's `torch.optim.NAdam` (single-tensor path). weight_decay adds wd*w
    to g (L2); `decoupled_weight_decay=True` instead shrinks w *= 1 - lr*wd first (NAdamW).
    NOTE: the running product P_t ("mu_product") is a float32 scalar, as PyTorch keeps it
    (float64 when the default dtype is float64): matching PyTorch's numbers needs the same
    rounding. Unlike PyTorch, loading a state_dict keeps its dtype instead of casting it to
    the parameter's, so a resumed run equals the uninterrupted one bit for bit.
    `foreach` is accepted and ignored.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w = tg.Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = tg.optim.NAdam([w], lr=0.1)
    >>> w.grad = tg.Tensor(np.array([2.0])); opt.step(); np.round(w.numpy(), 6)  # ~1.06*lr
    array([0.894355])
    """

    _numeric = ("lr", "eps", "weight_decay", "momentum_decay")

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        Adam._check_group(self, group, where)  # lr, eps, betas and weight_decay as in Adam
        if not group["momentum_decay"] >= 0.0:
            raise self._invalid(where, "momentum_decay", group["momentum_decay"],
                                "momentum_decay >= 0")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        momentum_decay, maximize = group["momentum_decay"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
        for p, g in self._grads(group):
            w = p._data
            state = self.state[p]
            if not state:
                state.update(step=0, mu_product=_product_type()(1.0), exp_avg=np.zeros_like(w),
                             exp_avg_sq=np.zeros_like(w))
            step = state["step"] = state["step"] + 1
            if maximize:
                g = -g
            bias_correction2 = 1 - beta2**step
            if wd != 0:
                if decoupled:
                    w *= 1 - lr * wd
                else:
                    g = g + wd * w
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            product = state["mu_product"]
            product = state["mu_product"] = product * product.dtype.type(mu)  # in its dtype
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            _lerp_(exp_avg, g, one_minus_beta1)
            exp_avg_sq *= beta2
            exp_avg_sq += (one_minus_beta2 * g) * g
            denom = exp_avg_sq / bias_correction2
            np.sqrt(denom, out=denom)
            denom += eps
            product_next = float(product) * mu_next
            w += ((-lr * (1.0 - mu) / (1.0 - float(product))) * g) / denom
            w += (((-lr * mu_next) / (1.0 - product_next)) * exp_avg) / denom

    def _load_value(self, p: Tensor, pid: Any, key: str, value: Any) -> Any:
        if key != "mu_product":
            return super()._load_value(p, pid, key, value)
        if isinstance(value, Tensor):
            value = value._data
        scalar = np.asarray(value)
        if scalar.shape != () or scalar.dtype.kind != "f":
            raise ValueError(
                f"NAdam.load_state_dict: state[{pid!r}]['mu_product'] must be a float scalar, "
                f"got {value!r}"
            )
        if isinstance(value, (np.ndarray, np.generic)):
            return scalar[()]  # a numpy scalar of the saved dtype
        return _product_type()(value)


def _product_type() -> type[np.floating]:
    """PyTorch's dtype for scalar optimizer state: float64 if that is the default, else float32."""
    return np.float64 if get_default_dtype() == np.float64 else np.float32

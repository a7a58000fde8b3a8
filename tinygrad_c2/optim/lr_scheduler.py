"""Learning-rate schedules: PyTorch's schedulers (same lr sequences) and the course's decays."""

from __future__ import annotations

import copy
import math
import numbers
import types
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from .optimizer import Optimizer

__all__ = [
    "LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
    "ExponentialLR", "PolynomialLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts",
    "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau", "InverseTimeDecay",
    "InverseSqrtDecay", "ExponentialDecay", "LinearDecay",
]


class LRScheduler:
    """Base class: sets `group["lr"]` of every param group each time `step()` is called.

    Call `scheduler.step()` once per epoch, after `optimizer.step()`. `last_epoch` counts those
    calls (the constructor makes call 0, which sets the starting lr). Each group's starting
    lr is kept in `group["initial_lr"]` and in `base_lrs`. To resume, either restore
    `state_dict()` or pass `last_epoch` after loading an optimizer state that has "initial_lr".
    Subclasses implement `get_lr()`, PyTorch's "chainable" form computed from the current lrs
    (so two schedulers can act on one optimizer), and `_closed_form_lr()` when one exists
    (used by the deprecated `step(epoch)`).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr', needed to "
                        f"resume at last_epoch={last_epoch}; load the optimizer's state_dict from "
                        "the checkpoint first (or restore this scheduler's state_dict instead)"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and make the constructor's step (it sets the starting lrs)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The next lr of every group (called by step() after last_epoch has advanced)."""
        raise NotImplementedError

    def _closed_form_lr(self) -> list[float] | None:
        """The lr at `last_epoch` straight from `base_lrs`, or None if there is no formula."""
        return None

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set the new lrs (`epoch=` jumps there: deprecated in PyTorch)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None) -> None:
        """Set the lrs of the next epoch, or of `epoch` (closed form where there is one)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._closed_form_lr()
            if values is None:
                values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The lrs set by the last step(), one per param group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (PyTorch's layout); save it with tg.save."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


def _check_positive_int(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


def _check_real(
    owner: str, name: str, value: Any, low: float, strict: bool = False,
    high: float | None = None,
) -> None:
    """Raise unless `value` is a finite real number >= low (> low when strict), <= high."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if (not math.isfinite(value) or value < low or (strict and value == low)
            or (high is not None and value > high)):
        expected = (f"{'>' if strict else '>='} {low}" if high is None
                    else f"in {'(' if strict else '['}{low}, {high}]")
        raise ValueError(f"{owner}: {name} must be a finite number {expected}, got {value!r}")


# --------------------------------------------------------------------------- PyTorch's schedulers
class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), one function for all groups or one per group.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1 / (epoch + 1))
    >>> sched.step(); sched.get_last_lr()
    [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | list[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(
                    f"LambdaLR: expected {n} lr_lambdas (one per group), got {len(lr_lambda)}"
                )
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for i, f in enumerate(self.lr_lambdas):
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda{f'[{i}]' if n > 1 else ''} must be a "
                                f"function of the epoch, got {type(f).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch = self.last_epoch
        return [base * f(epoch) for f, base in zip(self.lr_lambdas, self.base_lrs, strict=True)]

    def state_dict(self) -> dict[str, Any]:
        """As PyTorch: plain functions are not saved; a callable object's attributes are."""
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(f, types.FunctionType) else dict(vars(f)) for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas")
        super().load_state_dict(state)
        for f, saved in zip(self.lr_lambdas, lambdas, strict=True):
            if saved is not None:
                vars(f).update(saved)


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size): decay by gamma every step_size epochs.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_positive_int("StepLR", "step_size", step_size)
        _check_real("StepLR", "gamma", gamma, 0.0, strict=True)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = initial_lr * gamma ** (number of milestones <= epoch).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise ValueError(f"MultiStepLR: milestones must be integers, got {m!r}")
        _check_real("MultiStepLR", "gamma", gamma, 0.0, strict=True)
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return [group["lr"] for group in self.optimizer.param_groups]
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _closed_form_lr(self) -> list[float]:
        n = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma**n for base in self.base_lrs]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)  # a plain dict after a tg.save round trip


class ExponentialLR(LRScheduler):
    """lr = lr * gamma every epoch (initial_lr * gamma ** epoch).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched.step(); sched.step(); sched.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_real("ExponentialLR", "gamma", gamma, 0.0, strict=True)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # resuming with last_epoch >= 0 must not decay once more
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    Like PyTorch it is computed recursively from the current lr (so it composes with other
    schedulers) and keeps following the cosine past T_max (it rises again, no restart).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> lrs = []
    >>> for epoch in range(2):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.5, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1  # noqa: N803
    ) -> None:
        _check_positive_int("CosineAnnealingLR", "T_max", T_max)
        _check_real("CosineAnnealingLR", "eta_min", eta_min, 0.0)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and epoch > 0:  # first step after resuming: use the formula
            return [eta_min + (base - eta_min) * (1 + math.cos(epoch * math.pi / t_max)) / 2
                    for base in self.base_lrs]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:  # the trough: the ratio below would be 0/0
            return [group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base, group in zip(self.base_lrs, groups, strict=True)]
        ratio_num = 1 + math.cos(math.pi * epoch / t_max)
        ratio_den = 1 + math.cos(math.pi * (epoch - 1) / t_max)
        return [ratio_num / ratio_den * (group["lr"] - eta_min) + eta_min for group in groups]

    def _closed_form_lr(self) -> list[float]:
        cos = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cos / 2 for base in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """lr = max(lr * factor, min_lr) once a metric has not improved for `patience` epochs.

    Call `step(metric)` once per epoch with the validation loss (mode='min') or accuracy
    (mode='max'). "Improved" means better than the best so far by `threshold` (relative or
    absolute); after a reduction, `cooldown` epochs pass before bad epochs count again.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    >>> for loss in [1.0, 1.0, 1.0, 0.5]: sched.step(loss)
    >>> sched.get_last_lr()
    [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        _check_real("ReduceLROnPlateau", "factor", factor, 0.0)
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau: {name} must be an int >= 0, got {value!r}")
        _check_real("ReduceLROnPlateau", "threshold", threshold, 0.0)
        _check_real("ReduceLROnPlateau", "eps", eps, 0.0)
        for value in min_lr if isinstance(min_lr, (list, tuple)) else [min_lr]:
            _check_real("ReduceLROnPlateau", "min_lr", value, 0.0)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer")
        self.factor = factor
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"ReduceLROnPlateau: expected {n} min_lrs (one per group), got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]
        self._set_mode(mode, threshold, threshold_mode)
        self._reset()

    def _set_mode(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric value `a` improves on `best` by more than the threshold."""
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric and reduce the lrs if it has plateaued."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: metrics must be a number (the epoch's "
                            f"monitored value), got {metrics!r}") from None
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} param groups but "
                    f"min_lrs has {len(self.min_lrs)}; set scheduler.min_lrs to match"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)


class ConstantLR(LRScheduler):
    """lr = initial_lr * factor for the first total_iters epochs, then initial_lr.

    Chainable like PyTorch's: epoch 0 multiplies the current lr by factor, epoch total_iters
    divides it back out. Often the warm-up in a SequentialLR.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for epoch in range(3):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.5, 0.5, 1.0, 1.0]
    """

    def __init__(
        self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        _check_real("ConstantLR", "factor", factor, 0.0, high=1.0)
        _check_positive_int("ConstantLR", "total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _closed_form_lr(self) -> list[float]:
        done = self.last_epoch >= self.total_iters
        return [base * (self.factor + done * (1 - self.factor)) for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = initial_lr * (start_factor + (end_factor - start_factor) * min(epoch, total_iters)
    / total_iters): a linear ramp (warm-up, or a decay) over total_iters epochs, then flat.

    Chainable like PyTorch's: each step multiplies the current lr by the ratio of successive
    factors, so the sequence equals the formula up to rounding.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
        total_iters: int = 5, last_epoch: int = -1,
    ) -> None:
        _check_real("LinearLR", "start_factor", start_factor, 0.0, strict=True, high=1.0)
        _check_real("LinearLR", "end_factor", end_factor, 0.0, high=1.0)
        _check_positive_int("LinearLR", "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor
                                + (self.last_epoch - 1) * change)
        return [group["lr"] * ratio for group in groups]

    def _closed_form_lr(self) -> list[float]:
        change = self.end_factor - self.start_factor
        done = min(self.total_iters, self.last_epoch)
        return [base * (self.start_factor + change * done / self.total_iters)
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power: down to 0.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.PolynomialLR(opt, total_iters=4, power=2.0)
    >>> lrs = []
    >>> for epoch in range(5):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        _check_positive_int("PolynomialLR", "total_iters", total_iters)
        _check_real("PolynomialLR", "power", power, 0.0)  # a negative power divides by 0
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in groups]
        epoch, total = self.last_epoch, self.total_iters
        factor = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [group["lr"] * factor for group in groups]

    def _closed_form_lr(self) -> list[float]:
        left = 1.0 - min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * left**self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2, restarting:
    T_cur counts epochs since the last restart, T_i = T_0 * T_mult**(restarts so far).

    SGDR's schedule as PyTorch's: `step()` advances T_cur by 1; `step(epoch)` accepts a
    float (e.g. `epoch + i / batches_per_epoch` after each batch) and finds the cycle in
    closed form. Not chainable (computed from `base_lrs`).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for epoch in range(6):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs      # cycles of 2, then 4 epochs
    [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,  # noqa: N803
        last_epoch: int = -1,
    ) -> None:
        _check_positive_int("CosineAnnealingWarmRestarts", "T_0", T_0)
        _check_positive_int("CosineAnnealingWarmRestarts", "T_mult", T_mult)
        _check_real("CosineAnnealingWarmRestarts", "eta_min", eta_min, 0.0)
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cos = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cos / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance one epoch, or go to `epoch` (a float is a point within an epoch)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            _check_real("CosineAnnealingWarmRestarts.step", "epoch", epoch, 0.0)
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:  # the cycle n with T_0 * (T_mult**n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


class OneCycleLR(LRScheduler):
    """The 1cycle policy: lr rises from max_lr/div_factor to max_lr over the first pct_start
    of total_steps, then anneals to max_lr/div_factor/final_div_factor; momentum (or Adam's
    beta1) moves the opposite way between max_momentum and base_momentum.

    PyTorch's: call `step()` after every batch, total_steps times at most (one more raises).
    `anneal_strategy` is 'cos' (end + (start - end) * (1 + cos(pi * pct)) / 2) or 'linear';
    `three_phase=True` warms up, comes back down to the initial lr symmetrically, then
    annihilates to the minimum. The constructor overwrites each group's "initial_lr" and adds
    "max_lr" and "min_lr" (and "max_momentum", "base_momentum"). Not chainable.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched = tg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=5,
    ...                                          anneal_strategy="linear", div_factor=10.0,
    ...                                          final_div_factor=1.0, pct_start=0.4)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for step in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs      # up to max_lr in 0.4 * 5 - 1 = 1 step, then down to 0.1 at step 4
    [0.1, 1.0, 0.7, 0.4, 0.1]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        name = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")
        if total_steps is not None:
            _check_positive_int(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(name, "epochs", epochs)
            _check_positive_int(name, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: give total_steps, or both epochs and steps_per_epoch")
        self.total_steps: int = total_steps
        _check_real(name, "pct_start", pct_start, 0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        _check_real(name, "div_factor", div_factor, 0.0, strict=True)
        _check_real(name, "final_div_factor", final_div_factor, 0.0, strict=True)
        self._anneal_func_type = anneal_strategy
        # each phase runs from the previous end_step to its own, between two group entries
        warmup_end = float(pct_start * total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    f"{name}: {type(optimizer).__name__} has neither 'momentum' nor 'betas' to "
                    "cycle; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group(name, "max_momentum", optimizer, max_momentum)
            base_momentums = _per_group(name, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, max_momentums,
                                              base_momentums, strict=True):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = bottom
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {step} times, but total_steps is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start_step = end_step
        return lrs


def _phase(end_step: float, start_lr: str, end_lr: str, start_momentum: str,
           end_momentum: str) -> dict[str, Any]:
    """One OneCycleLR phase: its last step and the group keys it interpolates between."""
    return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": start_momentum, "end_momentum": end_momentum}


def _per_group(owner: str, name: str, optimizer: Optimizer, value: Any) -> list[float]:
    """`value` for every param group: one number for all, or a list with one per group."""
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{owner}: expected {n} values of {name} (one per param group), "
                         f"got {len(values)}")
    for v in values:
        _check_real(owner, name, v, 0.0)
    return values


class _SchedulerList(LRScheduler):
    """A scheduler made of other schedulers of one optimizer; their states nest in its own."""

    _schedulers: list[LRScheduler]

    def _set_schedulers(self, schedulers: Iterable[LRScheduler], optimizer: Any) -> Optimizer:
        name = type(self).__name__
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError(f"{name}: expected at least one scheduler, got none")
        if optimizer is None:
            optimizer = getattr(schedulers[0], "optimizer", None)
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"{name}: schedulers[{i}] is a {type(scheduler).__name__}, not "
                                "an lr scheduler")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"{name}: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs the "
                    "metric; step it on its own"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"{name}: schedulers[{i}] ({type(scheduler).__name__}) belongs to another "
                    "optimizer; all must schedule the same one"
                )
        self._schedulers = schedulers
        self.optimizer = optimizer
        return optimizer

    def state_dict(self) -> dict[str, Any]:
        """Own attributes plus the list of the schedulers' state_dicts (PyTorch's layout)."""
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the state has "
                             f"{len(saved)} schedulers, this one {len(self._schedulers)}")
        super().load_state_dict(state)
        for scheduler, scheduler_state in zip(self._schedulers, saved, strict=True):
            scheduler.load_state_dict(scheduler_state)

    def __repr__(self) -> str:
        inner = ", ".join(repr(s) for s in self._schedulers)
        return f"{type(self).__name__}([{inner}], last_lr={self._last_lr})"


class SequentialLR(_SchedulerList):
    """schedulers[i] runs from milestones[i-1] to milestones[i]: e.g. a warm-up, then a decay.

    PyTorch's: at each milestone the next scheduler restarts at its epoch 0 (from its closed
    form where it has one), so it starts from the groups' initial lrs. The schedulers must be
    built on `optimizer` first; this constructor undoes their initial steps.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> from tinygrad_c2.optim import lr_scheduler
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> warmup = lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=2)
    >>> decay = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    >>> sched = lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[2])
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.1, 0.1, 1.0, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: list[LRScheduler], milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        self._set_schedulers(schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(
                f"SequentialLR: expected {len(self._schedulers) - 1} milestones (one fewer than "
                f"the {len(self._schedulers)} schedulers), got {len(milestones)}"
            )
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise ValueError(f"SequentialLR: milestones must be integers, got {m!r}")
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must be increasing, got {milestones}")
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @staticmethod
    def _undo_initial_steps(scheduler: LRScheduler) -> None:
        """Step every scheduler inside (nested lists too) back by one epoch."""
        if isinstance(scheduler, _SchedulerList):
            for inner in scheduler._schedulers:
                SequentialLR._undo_initial_steps(inner)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch with the scheduler whose stretch this epoch is in."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # its epoch 0: restart from the initial lrs
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerList):
    """Steps every scheduler in the list at each step(): their (chainable) changes multiply.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> from tinygrad_c2.optim import lr_scheduler
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = lr_scheduler.ChainedScheduler([
    ...     lr_scheduler.ConstantLR(opt, factor=0.5, total_iters=2),
    ...     lr_scheduler.ExponentialLR(opt, gamma=0.9)])
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for epoch in range(3):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 6))
    >>> lrs
    [0.5, 0.45, 0.81, 0.729]
    """

    def __init__(
        self, schedulers: Iterable[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        self._set_schedulers(schedulers, optimizer)
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """Step each scheduler in turn."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]


# ------------------------------------------------------------------------- the course's decays
class _FormulaScheduler(LRScheduler):
    """A schedule given by a closed formula of (initial_lr, epoch): not chainable."""

    def get_lr(self) -> list[float]:
        return self._closed_form_lr()

    def _closed_form_lr(self) -> list[float]:
        return [self.formula(base, self.last_epoch) for base in self.base_lrs]

    def formula(self, lr0: float, epoch: int) -> float:
        raise NotImplementedError


class InverseTimeDecay(_FormulaScheduler):
    """Course: lr = lr0 / (1 + decay_rate * floor(epoch / time_interval)), epoch = step() calls.

    The course's example (lr0 = 0.2, decay_rate = 1) gives 0.1, 0.0667, 0.05, 0.04 after
    epochs 1 to 4. time_interval > 1 holds the lr for that many epochs between decays.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=0.2)
    >>> sched = tg.optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
    >>> lrs = []
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.1, 0.0667, 0.05, 0.04]
    """

    def __init__(
        self, optimizer: Optimizer, decay_rate: float, time_interval: int = 1,
        last_epoch: int = -1,
    ) -> None:
        _check_real("InverseTimeDecay", "decay_rate", decay_rate, 0.0)
        _check_positive_int("InverseTimeDecay", "time_interval", time_interval)
        self.decay_rate = decay_rate
        self.time_interval = time_interval
        super().__init__(optimizer, last_epoch)

    def formula(self, lr0: float, epoch: int) -> float:
        return lr0 / (1 + self.decay_rate * (epoch // self.time_interval))


class InverseSqrtDecay(_FormulaScheduler):
    """Course: lr = k / sqrt(epoch) * lr0, with epoch 0 treated as epoch 1 (lr = k * lr0).

    k/sqrt(0) would be infinite, so the formula uses max(epoch, 1): the constructor sets
    k * lr0, the first step() keeps it, and the decay starts at the second step().

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.InverseSqrtDecay(opt, k=0.5)
    >>> lrs = [sched.get_last_lr()[0]]   # set by the constructor
    >>> for epoch in range(4):
    ...     sched.step()
    ...     lrs.append(round(sched.get_last_lr()[0], 4))
    >>> lrs
    [0.5, 0.5, 0.3536, 0.2887, 0.25]
    """

    def __init__(self, optimizer: Optimizer, k: float = 1.0, last_epoch: int = -1) -> None:
        _check_real("InverseSqrtDecay", "k", k, 0.0, strict=True)
        self.k = k
        super().__init__(optimizer, last_epoch)

    def formula(self, lr0: float, epoch: int) -> float:
        return self.k / math.sqrt(max(epoch, 1)) * lr0


class ExponentialDecay(_FormulaScheduler):
    """Course: lr = lr0 * base ** epoch (the course's 0.95^epoch_num * alpha0).

    The same sequence as ExponentialLR(gamma=base), computed with a power instead of repeated
    multiplication.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.ExponentialDecay(opt, base=0.5)
    >>> sched.step(); sched.step(); sched.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, base: float = 0.95, last_epoch: int = -1) -> None:
        _check_real("ExponentialDecay", "base", base, 0.0, strict=True)
        if not base <= 1:
            raise ValueError(f"ExponentialDecay: base must be in (0, 1], got {base!r}")
        self.base = base
        super().__init__(optimizer, last_epoch)

    def formula(self, lr0: float, epoch: int) -> float:
        return lr0 * self.base**epoch


class LinearDecay(_FormulaScheduler):
    """Course: lr = (1 - a) * lr0 + a * final_fraction * lr0 with a = epoch / tau, then constant.

    Linear from lr0 down to final_fraction * lr0 (the course suggests 1%) over tau epochs,
    and final_fraction * lr0 after that.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> opt = tg.optim.SGD([tg.Tensor(np.ones(1), requires_grad=True)], lr=1.0)
    >>> sched = tg.optim.lr_scheduler.LinearDecay(opt, tau=2, final_fraction=0.5)
    >>> lrs = []
    >>> for epoch in range(3):
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> lrs
    [0.75, 0.5, 0.5]
    """

    def __init__(
        self, optimizer: Optimizer, tau: int, final_fraction: float = 0.01, last_epoch: int = -1
    ) -> None:
        _check_positive_int("LinearDecay", "tau", tau)
        _check_real("LinearDecay", "final_fraction", final_fraction, 0.0)
        self.tau = tau
        self.final_fraction = final_fraction
        super().__init__(optimizer, last_epoch)

    def formula(self, lr0: float, epoch: int) -> float:
        a = min(epoch, self.tau) / self.tau
        return (1 - a) * lr0 + a * (self.final_fraction * lr0)


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

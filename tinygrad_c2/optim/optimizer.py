"""Optimizer base: param groups, per-parameter state, zero_grad and state_dict (PyTorch's way)."""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import default_errstate, enable_grad
from ..tensor import Tensor


class Optimizer:
    """Base class of every optimizer: holds `param_groups` and per-parameter `state`.

    `params` is an iterable of Tensors, or of dicts (parameter groups) each with a "params"
    entry and any hyperparameters that should differ from `defaults` in that group, e.g. no
    weight decay on biases. `state[p]` is a dict of the buffers the algorithm keeps for `p`.
    Subclasses implement `_check_group` (raise ValueError on bad hyperparameters) and
    `_update_group` (one update of one group, in place on the parameters' numpy arrays).

    >>> import numpy as np, tinygrad_c2 as tg
    >>> w, b = tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.zeros(1), requires_grad=True)
    >>> opt = tg.optim.SGD([{"params": [w], "weight_decay": 1e-4}, {"params": [b]}], lr=0.1)
    >>> [g["weight_decay"] for g in opt.param_groups]
    [0.0001, 0]
    """

    #: hyperparameters that must be finite real numbers (subclasses list theirs)
    _numeric: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self._validate(self.defaults, "defaults")
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)  # PyTorch's type
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or dicts, got a "
                "single Tensor; wrap it in a list: [tensor]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{type(self).__name__}: params must be an ordered collection (the order keys the "
                "state_dict), got a set; use a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups and validation
    def _validate(self, group: dict[str, Any], where: str) -> None:
        """Type-check the numeric hyperparameters of `group`, then range-check them."""
        for key in self._numeric:
            value = group.get(key)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__}: {key} must be a number in {where}, got "
                                f"{value!r} ({type(value).__name__})")
            if not math.isfinite(value):
                raise self._invalid(where, key, value, "a finite number")
        self._check_group(group, where)

    def _check_group(self, group: dict[str, Any], where: str) -> None:
        """Raise ValueError if a hyperparameter of `group` is out of range (subclasses)."""

    def _invalid(self, where: str, name: str, value: Any, expected: str) -> ValueError:
        """A ValueError naming the optimizer, the group, the hyperparameter and its range."""
        return ValueError(
            f"{type(self).__name__}: invalid {name} {value!r} in {where} (expected {expected})"
        )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with optional hyperparameter overrides) to optimize.

        >>> import numpy as np, tinygrad_c2 as tg
        >>> opt = tg.optim.SGD([tg.Tensor(np.ones(2), requires_grad=True)], lr=0.1)
        >>> opt.add_param_group({"params": [tg.Tensor(np.ones(3), requires_grad=True)], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: a group's params must be ordered (a list), got a set")
        else:
            params = list(params)
        where = f"param_groups[{len(self.param_groups)}]"
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: {where} params[{i}] is a {type(p).__name__}, not Tensor")
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: {where} params[{i}] is not a leaf tensor (it was computed from "
                    "others); optimize the leaves, e.g. detach() it and set requires_grad=True"
                )
            if p._data.dtype.kind != "f":
                raise TypeError(
                    f"{name}: {where} params[{i}] has dtype {p._data.dtype}; only floating-point "
                    "tensors can be optimized"
                )
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(
                f"{name}: a parameter appears twice ({where} repeats one, or shares one with an "
                "earlier group); each parameter may be optimized by one group only"
            )
        group = {key: value for key, value in param_group.items() if key != "params"}
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group, where)
        group["params"] = params
        self.param_groups.append(group)

    # ------------------------------------------------------------------------------ stepping
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return closure() if a closure is given.

        The closure (re-evaluate the model and return the loss) runs with grad enabled, as in
        PyTorch. Parameters whose `.grad` is None are skipped.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            # numpy's default state ignores underflow already
            if self._quiet_update(group) or default_errstate():
                self._update_group(group)
            else:
                # NOTE: g*g of a tiny gradient (1e-30 in float32) underflows to 0, the correct
                # value; PyTorch never reports it, so neither does a step under
                # np.errstate(all="raise"). (numpy's default state ignores it already: there
                # the step spares the errstate, 1% of the tiny step's instructions with Adam.)
                with np.errstate(under="ignore"):
                    self._update_group(group)
        return loss

    def _quiet_update(self, group: dict[str, Any]) -> bool:
        """True when `_update_group(group)` keeps an underflow quiet itself, so the step can
        spare the np.errstate (about a microsecond a step): subclasses with such a path."""
        return False

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _grads(self, group: dict[str, Any]) -> Iterable[tuple[Tensor, np.ndarray]]:
        """(param, grad array) for the params of `group` that have a gradient, shapes checked."""
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            g = grad._data
            if g.shape != p._data.shape:
                raise self._shape_error(p._data, g)
            yield p, g

    def _shape_error(self, w: np.ndarray, g: np.ndarray) -> ValueError:
        return ValueError(f"{type(self).__name__}.step: a parameter of shape {w.shape} has a "
                          f"gradient of shape {g.shape}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default, as PyTorch) or to fresh zero arrays.

        With set_to_none=False the old gradient array is replaced, not zeroed in place, because
        gradient arrays may be shared with other tensors.
        """
        if set_to_none:  # the usual call, once a step: no test, .grad is a plain slot
            for group in self.param_groups:
                for p in group["params"]:
                    p.grad = None
            return
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = Tensor(np.zeros_like(p.grad._data))

    # ---------------------------------------------------------------------------- state_dict
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, with integer parameter ids.

        {"state": {id: {"exp_avg": array, ...}}, "param_groups": [{"lr": ..., "params": [ids]}]}.
        Ids count the parameters in group order. Unlike PyTorch, the arrays are copies, so a
        state_dict taken mid-run stays a snapshot while training goes on.
        """
        ids: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = [ids.setdefault(id(p), len(ids)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[ids[id(p)]] = {
                        key: value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)
                        for key, value in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict()`: hyperparameters per group and the per-parameter buffers.

        The optimizer must have been built with the same number of groups and parameters per
        group; arrays (or Tensors) are copied and cast to their parameter's dtype.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' (from "
                "state_dict()), got " + (
                    f"keys {sorted(map(str, state_dict))}"
                    if isinstance(state_dict, dict) else type(state_dict).__name__
                )
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        id_to_param: dict[Any, Tensor] = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: param_groups[{i}] has {len(saved['params'])} "
                    f"parameters in the state dict but {len(group['params'])} in this optimizer"
                )
            id_to_param.update(zip(saved["params"], group["params"], strict=True))
        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, buffers in state_dict["state"].items():
            if key not in id_to_param:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter id {key!r}, which no group lists"
                )
            p = id_to_param[key]
            new_state[p] = {k: self._load_value(p, key, k, v) for k, v in buffers.items()}
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            new_group = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            for key, value in self.defaults.items():  # e.g. a state dict from an older version
                new_group.setdefault(key, value)
            self._validate(new_group, f"the loaded param_groups[{i}]")
            new_group["params"] = group["params"]
            new_groups.append(new_group)
        self.state = new_state
        self.param_groups = new_groups

    def _load_value(self, p: Tensor, pid: Any, key: str, value: Any) -> Any:
        """Copy one loaded state entry: arrays cast to p's dtype and checked against p's shape."""
        if isinstance(value, Tensor):
            value = value._data
        if not isinstance(value, np.ndarray):
            return copy.deepcopy(value)
        if key == "step":  # PyTorch keeps the step count in a 0-d float tensor
            return int(value)
        if value.shape != p._data.shape:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: state[{pid!r}][{key!r}] has shape "
                f"{value.shape}, but its parameter has shape {p._data.shape}"
            )
        return np.array(value, dtype=p._data.dtype, copy=True)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

"""fit's non-finite guard: copy what a step can change, check it after the step, put it back.

A training step changes three things in place: the parameters (optimizer.step), the buffers
(a batch-norm forward updates its running statistics and counter before any loss exists) and
the optimizer's per-parameter state. `StepGuard.save` copies all three into arrays reused
from step to step; `bad` names what the step made non-finite; `restore` puts the copies
back, so a run stopped by NaN/inf ends with the model of its last finite step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nn.modules.module import Module
from ..optim.optimizer import Optimizer

# A slot is one place a step writes: (container, key, name). The array lives at
# container.data (a Tensor: key None) or container[key] (an optimizer state dict). Reading it
# through the container each time sees an array that was replaced, not a stale one.
Slot = tuple[Any, Any, str]


class StepGuard:
    """The state of `model` and `optimizer` before the current step, and the finiteness check.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> model = tg.nn.Linear(2, 1); opt = tg.optim.SGD(model.parameters(), lr=1e308)
    >>> guard = StepGuard(model, opt); guard.save()
    >>> model.weight.grad, model.bias.grad = tg.ones(1, 2), tg.ones(1)
    >>> with np.errstate(over="ignore"):
    ...     opt.step()
    >>> guard.bad()
    ['weight', 'bias']
    >>> guard.restore(); guard.bad()
    []
    """

    def __init__(self, model: Module, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        tensors = dict(model.named_parameters())
        own = {id(t) for t in tensors.values()}
        for i, group in enumerate(optimizer.param_groups):  # parameters outside the model
            for j, p in enumerate(group["params"]):
                if id(p) not in own:
                    tensors[f"param_groups[{i}].params[{j}]"] = p
        tensors.update(model.named_buffers())
        self._names = {id(t): name for name, t in tensors.items()}
        self._tensor_slots: list[Slot] = [(t, None, name) for name, t in tensors.items()]
        self._planned: tuple[int, int] | None = None  # (id, size) of the optimizer state seen

    def _slots(self) -> tuple[list[Slot], list[tuple[dict[str, Any], str, Any]]]:
        """Every slot, and the optimizer state's numbers (a step count) as (entries, key, value)."""
        slots, numbers = list(self._tensor_slots), []
        for p, entries in self.optimizer.state.items():
            owner = self._names.get(id(p), "a parameter")
            for key, value in entries.items():
                if isinstance(value, np.ndarray):
                    slots.append((entries, key, f"optimizer state {key!r} of {owner}"))
                else:
                    numbers.append((entries, key, value))
        return slots, numbers

    def save(self) -> None:
        """Copy every slot (into the arrays of the last save) and the optimizer's numbers."""
        state = self.optimizer.state
        # NOTE: the state comes into being at the first step, and load_state_dict replaces it
        if self._planned != (id(state), len(state)):
            self._planned = (id(state), len(state))
            slots, self._numbers = self._slots()
            self._owners = {id(p) for p in state}
            self._copies = [(slot, _read(slot).copy()) for slot in slots]
            self._pairs = _pairs(slots)
            return
        for slot, copy in self._copies:
            np.copyto(copy, _read(slot))
        # numbers are immutable: keeping the object is a copy
        self._numbers = [(entries, key, entries[key]) for entries, key, _ in self._numbers]

    def bad(self) -> list[str]:
        """The names of the parameters, buffers and optimizer state arrays that are not finite.

        One dot product per pair of arrays is the cheap test; only a pair whose product is not
        finite is scanned element by element (large finite values can overflow the product).
        """
        state = self.optimizer.state
        pairs = self._pairs
        if self._planned != (id(state), len(state)):  # this step created optimizer state
            pairs = _pairs(self._slots()[0])
        bad = []
        for a, b in pairs:
            if not math.isfinite(np.vdot(_read(a), _read(b))):
                bad += [slot for slot in ((a,) if a is b else (a, b))
                        if not np.isfinite(_read(slot)).all()]
        if not bad:
            return []
        order = [slot[2] for slot in self._slots()[0]]  # the model's order, then the optimizer's
        return sorted((slot[2] for slot in bad), key=order.index)

    def restore(self) -> None:
        """Put back what `save` copied, in place; optimizer state created since is dropped."""
        state = self.optimizer.state
        for p in [p for p in state if id(p) not in self._owners]:
            del state[p]  # its state came into being in the undone step
        for slot, copy in self._copies:
            container, key, _ = slot
            if key is not None and key not in container:
                continue  # a dropped entry
            live = _read(slot)
            if live.shape == copy.shape and live.flags.writeable:
                np.copyto(live, copy)
            elif key is None:
                container._data = copy.copy()
            else:
                container[key] = copy.copy()
        for entries, key, value in self._numbers:
            entries[key] = value


def _pairs(slots: list[Slot]) -> list[tuple[Slot, Slot]]:
    """The float slots in pairs of one shape, for one dot product each (a lone one: with itself).

    NOTE: a . b is NaN or inf when a or b holds a NaN or inf (inf * 0 is NaN; inf plus anything
    finite is inf), so one product checks both arrays.
    """
    floats = sorted((slot for slot in slots if _read(slot).dtype.kind in "fc"),
                    key=lambda slot: _read(slot).shape)
    pairs, i = [], 0
    while i < len(floats):
        a = floats[i]
        if i + 1 < len(floats) and _read(floats[i + 1]).shape == _read(a).shape:
            pairs.append((a, floats[i + 1]))
            i += 2
        else:
            pairs.append((a, a))
            i += 1
    return pairs


def _read(slot: Slot) -> np.ndarray:
    container, key, _ = slot
    return container._data if key is None else container[key]

"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ...engine import mode
from ...function import _seq
from ...tensor import Tensor
from ..functional.dropout import Dropout as DropoutFn
from ..functional.linear import Linear as LinearFn
from ..functional.linear import LinearRun
from ..functional.norm import BatchNorm as BatchNormFn
from ..parameter import Parameter
from .activation import ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm1d
from .dropout import Dropout
from .linear import Linear
from .module import MAX_CALLS, Module, _forward, edit_count, run_seq

#: the activation layers a run applies after a layer, by the names LinearRun knows them by
_ACTIVATIONS = {ReLU: "relu", Tanh: "tanh", Sigmoid: "sigmoid"}


class Sequential(Module):
    """Chain modules: the output of each is the input of the next.

    Children are named '0', '1', ... (or by the keys of an OrderedDict), so parameter
    names match PyTorch's ('0.weight'). Consecutive Linear, BatchNorm1d and Dropout layers with
    ReLU, Tanh or Sigmoid after them run as one LinearRun node, with the values and gradients
    of the layers one by one (the README's "Eager MLPs" says when, and what tg.viz and a
    profile show).

    >>> from tinygrad_c2 import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> len(model), type(model[1]).__name__
    (3, 'ReLU')
    """

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                if not isinstance(module, Module):
                    raise TypeError(
                        f"Sequential: argument {index} is {type(module).__name__}, "
                        "expected an nn.Module"
                    )
                self.add_module(str(index), module)

    def forward(self, x: Any) -> Any:
        """Each module on the output of the previous one; a run of Linear, BatchNorm1d, ReLU,
        Tanh, Sigmoid and Dropout layers runs as one LinearRun node (see _make_plan)."""
        plan = self.__dict__.get("_plan")
        if plan is None or plan[0] != edit_count[0] or plan[1] != _library_forwards():
            plan = self._make_plan()
        instrumented = mode.instrumented  # (read once: a thread-local costs ~600 instructions)
        if instrumented and (mode.anomaly or mode.profiling):
            # NOTE: unfused: anomaly mode names the failing op (Relu, Linear) as it always
            # did, and a profile times every layer's op on its own
            steps = [m for m in self._modules.values() if m is not None]
        else:
            steps = plan[2]
        tracer = mode.tracer if instrumented else None
        for step in steps:
            x = step(x) if type(step) is not tuple else _run_fused(step, x, tracer)
        return x

    def _make_plan(self) -> tuple:
        """The steps of forward, cached until a module changes (edit_count: train() and eval()
        are changes too): each a module to call, or a run to apply as one LinearRun (see
        _plan_steps). Only the library's exact classes fuse, with their own forward: a
        subclass, or an instance whose forward was replaced, runs as written."""
        forwards = _library_forwards()
        modules = [m for m in self._modules.values() if m is not None]
        old = self.__dict__.get("_plan")
        if old is not None:
            _forget_runs(old[2])  # its runs' call records go with it (no growth over epochs)
        plan = (edit_count[0], forwards, _plan_steps(modules, forwards == _LIBRARY_FORWARDS))
        self.__dict__["_plan"] = plan  # NOTE: not through __setattr__: no edit of the model
        return plan

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_normalize_index(index, len(items), "Sequential")][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end (named by its position)."""
        self.add_module(str(len(self)), module)
        return self


def _library_forwards() -> tuple:
    """The functions a fused run stands for: a patched class (a test's mock) unfuses."""
    return (Module.__call__, Linear.forward, ReLU.forward, Tanh.forward, Sigmoid.forward,
            BatchNorm1d.forward, Dropout.forward)


def _plan_steps(modules: list[Module], intact: bool, wide: bool = True) -> list[Any]:
    """Sequential's steps for `modules`: a module, or a run of two or more ops as one step
    (see _run_step). A run starts at a Linear layer (or, `wide`, a BatchNorm1d), takes in
    the Linear, BatchNorm1d and Dropout layers that follow (`wide`), each optionally followed
    by an activation of _ACTIVATIONS, and ends at any other module. An eval-mode Dropout (or
    p=0) is the identity: it stays in the run as a call with no op. Not `wide`: runs of
    Linear layers and activations only, the steps a captured step records."""
    steps: list[Any] = []
    run: list[Module] = []
    stages: list[list] = []  # [kernel, activation, module] for each op-making layer of the run
    identities: list[Module] = []

    def close() -> None:
        ops = len(stages) + sum(stage[1] is not None for stage in stages)
        if ops > 1:
            steps.append(_run_step(run, stages, identities, intact))
        else:
            steps.extend(run)
        run.clear()
        stages.clear()
        identities.clear()

    for m in modules:
        kind = type(m)
        if not intact or "forward" in m.__dict__:
            kind = None  # its own forward: it runs as written
        if kind is Linear and isinstance(m.weight, Tensor):
            stages.append([LinearFn, None, m])
        elif kind is BatchNorm1d and wide:
            stages.append([BatchNormFn, None, m])
        elif kind in _ACTIVATIONS and stages and stages[-1][1] is None:
            stages[-1][1] = _ACTIVATIONS[kind]
        elif (kind is Dropout and wide and run and type(m.p) is float and 0.0 <= m.p <= 1.0):
            if m.training and m.p != 0.0:  # F.dropout's rule: else the input passes
                stages.append([DropoutFn, None, m])
            else:
                identities.append(m)
        else:
            close()
            steps.append(m)
            continue
        run.append(m)
    close()
    return steps


def _run_step(run: list[Module], stages: list[list], identities: list[Module],
              intact: bool) -> tuple:
    """A run as a step of the plan: (its modules, the positions of those that make an op or
    None for all, the LinearRun stages, the tensors it takes, the unwide steps for the same
    modules or None when they are the run itself, its call record [forward, [start, ...]] for
    tg.viz, (the module count, the drawn positions)). Each module of the run gets
    (record, its index, the count) in its `_runs` (module.module_calls reads them). NOTE: the
    parameters and buffers themselves, read once: rebinding one (`fc.weight = ...`,
    `del fc.bias`) is an edit, which makes a new plan."""
    out: list[Any] = []
    params: list[Any] = []
    for kernel, act, m in stages:
        if kernel is LinearFn:
            out.append(act)
            params += (m.weight, m.bias)
        elif kernel is BatchNormFn:
            # the module's side of the call (checks, batch count, momentum) runs in the run
            out.append((BatchNormFn, act, 4, m._batch_norm_args))
            params += (m.running_mean, m.running_var, m.weight, m.bias)
        else:
            out.append((DropoutFn, act, 0, (m.p, None)))
    wide = identities or any(type(stage) is tuple for stage in out)
    unwide = _plan_steps(list(run), intact, wide=False) if wide else None
    drawn = tuple(i for i, m in enumerate(run) if m not in identities) if identities else None
    record: list[Any] = [None, []]
    for i, m in enumerate(run):
        # NOTE: in the instance dict directly: no edit of the model (as record_call's _calls)
        m.__dict__.setdefault("_runs", []).append((record, i, len(run)))
    return tuple(run), drawn, tuple(out), tuple(params), unwide, record, (len(run), drawn)


def _forget_runs(steps: list[Any]) -> None:
    """Take the call records of a plan's runs (and their unwide steps') off their modules."""
    for step in steps:
        if type(step) is tuple:
            record = step[5]
            for m in step[0]:
                runs = m.__dict__.get("_runs", [])
                runs[:] = [run for run in runs if run[0] is not record]
            _forget_runs(step[4] or [])


def stage_seqs(node: Any) -> list[float] | None:
    """The seqs a LinearRun's layers are drawn at (tg.viz), each inside the call range of
    its module (module.module_calls), when nn.Sequential applied it; else None."""
    call = node.run_call
    if call is None:
        return None
    start, (count, drawn) = call
    return [run_seq(start, 2 * i + 1, count) for i in (range(count) if drawn is None else drawn)]


def _run_fused(step: tuple, x: Any, tracer: Any) -> Any:
    """One LinearRun for the run's modules, doing what Module.__call__ does for each of them:
    the captured step's guard and the call record tg.viz groups the nodes by (each module's
    call range holds one seq, the one its layer is drawn at: stage_seqs). `tracer`
    is mode.tracer (None unless instrumented), which Sequential.forward has read already."""
    modules, drawn, stages, params, unwide, record, layout = step
    if type(x) is not Tensor or unwide is not None and (
            tracer is not None or x._data.dtype.kind != "f"):
        # NOTE: unfused: anything but a (float) Tensor gets the layers' own errors (a Linear
        # layer's are the run's); a captured step records BatchNorm and Dropout as their own
        # ops (the batch count at each replay, the masks drawn there), and the Linear layers'
        # runs as before
        for s in modules if unwide is None else unwide:
            x = s(x) if type(s) is not tuple else _run_fused(s, x, tracer)
        return x
    if tracer is not None:
        for m in modules:
            tracer.module_called(m)
    # NOTE: one record for the run, not one per module (record_call's rule: only the latest
    # forward's calls, at most MAX_CALLS): the modules' ranges are fractions of the one seq
    # the run takes (module.run_seq), worked out when tg.viz asks (module.module_calls).
    # A record per module was ~4k instructions each, 28k of a tiny MLP's step (callgrind).
    start = next(_seq)
    begun = _forward[1]
    if record[0] != begun:
        record[0] = begun
        starts = record[1]
        starts.clear()
        starts.append(start)
    elif len(record[1]) < MAX_CALLS:
        record[1].append(start)
    out = LinearRun.apply(x, stages, *params)
    node = out.grad_fn
    if node is not None:  # (an identity Dropout makes no op)
        node.run_call = (start, layout)
    return out


_LIBRARY_FORWARDS = _library_forwards()


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain list would hide them).

    >>> from tinygrad_c2 import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(list(layers.parameters()))
    6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index: int | slice) -> Module | ModuleList:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[_normalize_index(index, len(items), "ModuleList")]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(_normalize_index(index, len(self), "ModuleList")), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> ModuleList:
        """Add `module` at the end."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: {type(module).__name__} is not an nn.Module")
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of `modules`."""
        for module in modules:
            self.append(module)
        return self


def _pairs(items: Any, owner: str) -> Iterator[tuple[Any, Any]]:
    """The (key, value) pairs of a mapping (in its order) or of an iterable of pairs, with
    PyTorch's errors for anything else."""
    if isinstance(items, (Mapping, ModuleDict, ParameterDict)):
        yield from items.items()
        return
    if not isinstance(items, Iterable):
        raise TypeError(f"{owner}.update should be called with an iterable of key/value pairs, "
                        f"but got {type(items).__name__}")
    for i, pair in enumerate(items):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{owner} update sequence element #{i} should be Iterable; is "
                            f"{type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{owner} update sequence element #{i} has length {len(pair)}; 2 "
                             "is required")
        yield pair


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order (PyTorch's).

    >>> from tinygrad_c2 import nn
    >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
    >>> list(heads), [name for name, _ in heads.named_parameters()][:2]
    (['cls', 'box'], ['cls.weight', 'cls.bias'])
    """

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: {key!r} must be an nn.Module, got "
                            f"{type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        self._remove_from_registries(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            del self[key]

    def pop(self, key: str) -> Module:
        """Remove the module under `key` and return it."""
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """(key, module) pairs, in insertion order."""
        return self._modules.items()

    def values(self) -> Iterable[Module]:
        """The modules, in insertion order."""
        return self._modules.values()

    def update(self, modules: Any) -> None:
        """Add or replace modules from a mapping or an iterable of (key, module) pairs; a
        replaced key keeps its position."""
        for key, module in _pairs(modules, "ModuleDict"):
            self[key] = module


def _as_parameter(value: Any, owner: str) -> Parameter:
    """PyTorch's rule: a Parameter is kept, a plain tensor (or array) becomes one."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, (Tensor, np.ndarray)):
        return Parameter(value)
    raise TypeError(f"{owner}: expected an nn.Parameter or a tensor, got {type(value).__name__}")


def _parameter_line(param: Parameter) -> str:
    size = "x".join(str(d) for d in param.shape)
    return f"Parameter containing: [{param.dtype} of size {size}]"


def _parameters_repr(owner: Module) -> str:
    """PyTorch's extra_repr of a parameter container: one indented line per parameter."""
    return "\n".join(f"  ({name}): {_parameter_line(p)}" for name, p in owner._parameters.items())


class ParameterList(Module):
    """A list of parameters registered as '0', '1', ... (state_dict keys 'name.0', ...).

    Plain tensors are wrapped in a Parameter, as in PyTorch.

    >>> import numpy as np
    >>> from tinygrad_c2 import nn
    >>> ps = nn.ParameterList([nn.Parameter(np.zeros(2)), np.ones((2, 3))])
    >>> [name for name, _ in ps.named_parameters()], ps[1].shape
    (['0', '1'], (2, 3))
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: int | slice) -> Parameter | ParameterList:
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(len(self))[index]])
        return self._parameters[str(_normalize_index(index, len(self), "ParameterList"))]

    def __setitem__(self, index: int, param: Any) -> None:
        i = _normalize_index(index, len(self), "ParameterList")
        self.register_parameter(str(i), _as_parameter(param, "ParameterList"))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return (self._parameters[str(i)] for i in range(len(self)))

    def __iadd__(self, parameters: Iterable[Any]) -> ParameterList:
        return self.extend(parameters)

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end."""
        self.register_parameter(str(len(self)), _as_parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append every parameter of `values`."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return _parameters_repr(self)


class ParameterDict(Module):
    """A dict of parameters registered under their keys, in insertion order (PyTorch's).

    >>> import numpy as np
    >>> from tinygrad_c2 import nn
    >>> pd = nn.ParameterDict({"scale": np.ones(3), "shift": np.zeros(3)})
    >>> list(pd.state_dict())
    ['scale', 'shift']
    """

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value, "ParameterDict"))

    def __delitem__(self, key: str) -> None:
        if key not in self._parameters:
            raise KeyError(key)
        self._remove_from_registries(key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def get(self, key: str, default: Any = None) -> Any:
        """The parameter under `key`, or `default`."""
        return self._parameters.get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Parameter:
        """The parameter under `key`, after setting it to `default` if it is absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        """Remove every parameter."""
        for key in list(self._parameters):
            del self[key]

    def pop(self, key: str) -> Parameter:
        """Remove the parameter under `key` and return it."""
        param = self[key]
        del self[key]
        return param

    def keys(self) -> Iterable[str]:
        """The keys, in insertion order."""
        return self._parameters.keys()

    def items(self) -> Iterable[tuple[str, Parameter]]:
        """(key, parameter) pairs, in insertion order."""
        return self._parameters.items()

    def values(self) -> Iterable[Parameter]:
        """The parameters, in insertion order."""
        return self._parameters.values()

    def update(self, parameters: Any) -> None:
        """Add or replace parameters from a mapping or an iterable of (key, value) pairs."""
        for key, value in _pairs(parameters, "ParameterDict"):
            self[key] = value

    def extra_repr(self) -> str:
        return _parameters_repr(self)


def _normalize_index(index: int, length: int, owner: str) -> int:
    if not isinstance(index, (int, np.integer)):
        raise TypeError(f"{owner} indices must be integers or slices, got {type(index).__name__}")
    if not -length <= index < length:
        raise IndexError(f"{owner} index {index} is out of range for length {length}")
    return int(index) % length

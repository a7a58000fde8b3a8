"""Module: parameters, buffers and sub-modules registered through attributes; Sequential and
ModuleList containers; state_dict save and load."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ...device import CPU_ONLY
from ...engine import mode
from ...function import _seq  # the node counter (see Function.apply)
from ...tensor import Tensor, _to_args
from ..parameter import Parameter

_REGISTRIES = ("_parameters", "_buffers", "_modules")

#: [count] of attribute and registry changes on any module. NOTE: a captured step compares it
#: at each replay and re-checks the modules its trace called only when it moved (cheap guard).
edit_count = [0]


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` could not match: (missing_keys, unexpected_keys), as PyTorch."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class Module:
    """Base class of every layer and model, registered PyTorch's way.

    Assigning a `Parameter`, a `Module` or (via `register_buffer`) a buffer to an attribute
    records it by name, so `parameters()`, `state_dict()`, `train()`/`eval()` and friends
    find everything without the model listing it. Subclasses call `super().__init__()` first
    and define `forward`; calling the module calls `forward`.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.w = Parameter(np.ones(2))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> [name for name, _ in Affine().named_parameters()]
    ['w']
    """

    training: bool

    def __init__(self) -> None:
        # NOTE: object.__setattr__ bypasses our __setattr__, which needs these dicts to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---- forward -------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if mode.instrumented and mode.tracer is not None:
            mode.tracer.module_called(self)  # a captured step guards what this module holds
        start = next(_seq)
        out = self.forward(*args, **kwargs)
        # NOTE: graph nodes made by this call have start < node.seq < end; tg.viz uses the range
        # of the last call to draw each module's nodes in its own cluster.
        self.__dict__["_call_seq"] = (start, next(_seq))
        return out

    # ---- registration --------------------------------------------------------------------

    def _registry(self, kind: str) -> dict:
        registry = self.__dict__.get(kind)
        if registry is None:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call: "
                "call super().__init__() first in your __init__"
            )
        return registry

    def _put(self, kind: str, name: str, value: Any) -> None:
        """Record `value` in a registry and mirror it in the instance dict.

        NOTE: the mirror lets `self.weight` resolve by normal attribute lookup; going through
        __getattr__ on every forward costs about a microsecond per access.
        """
        edit_count[0] += 1
        self._registry(kind)[name] = value
        self.__dict__[name] = value

    def __setattr__(self, name: str, value: Any) -> None:
        edit_count[0] += 1
        if isinstance(value, Parameter):
            self._replace("_parameters", name, value)
        elif isinstance(value, Module):
            self._replace("_modules", name, value)
        elif name in self.__dict__.get("_parameters", ()):
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of "
                    f"{type(self).__name__} (nn.Parameter or None expected)"
                )
            self._put("_parameters", name, None)
        elif name in self.__dict__.get("_modules", ()):
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module '{name}' of "
                    f"{type(self).__name__} (nn.Module or None expected)"
                )
            self._put("_modules", name, None)
        elif name in self.__dict__.get("_buffers", ()):
            self._put("_buffers", name, _as_buffer(value, name, type(self).__name__))
        else:
            object.__setattr__(self, name, value)

    def _replace(self, kind: str, name: str, value: Any) -> None:
        """Register `value` under `name`, in place if `name` is already in that registry.

        NOTE: re-assigning `model.fc` (or `layers[0] = ...`) keeps its position, as PyTorch's
        OrderedDict assignment does, so parameter order and state_dict keys do not change.
        """
        if name not in self._registry(kind):
            self._remove_from_registries(name)
        self._put(kind, name, value)

    def _remove_from_registries(self, name: str) -> None:
        edit_count[0] += 1
        self.__dict__.pop(name, None)
        for kind in _REGISTRIES:
            self._registry(kind).pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: look in the registries.
        for kind in _REGISTRIES:
            registry = self.__dict__.get(kind)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        edit_count[0] += 1
        for kind in _REGISTRIES:
            registry = self.__dict__.get(kind)
            if registry is not None and name in registry:
                del registry[name]
                self.__dict__.pop(name, None)
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` (or None, a declared-but-absent parameter) under `name`."""
        _check_name(name, self, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be an nn.Parameter or None, "
                f"got {type(param).__name__}"
            )
        self._replace("_parameters", name, param)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register a non-learnable tensor (e.g. running statistics) saved with the model.

        An array is wrapped in a Tensor without copying; None declares an absent buffer.
        Non-persistent buffers are left out of `state_dict()`.

        >>> m = Module(); m.register_buffer("count", np.zeros(3)); m.count.shape
        (3,)
        """
        _check_name(name, self, "buffer")
        buffer = _as_buffer(tensor, name, type(self).__name__)
        self._remove_from_registries(name)
        self._put("_buffers", name, buffer)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module under `name` (what attribute assignment does)."""
        _check_name(name, self, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self._replace("_modules", name, module)

    # ---- traversal -----------------------------------------------------------------------

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Yield (dotted name, module) for this module and every descendant, depth first.

        >>> from tinygrad_c2 import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).named_modules()]
        ['', '0', '1']
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is None:
                continue
            child_prefix = f"{prefix}.{name}" if prefix else name
            yield from child.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Yield this module and every descendant (each once)."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield (name, module) for the direct sub-modules."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def _named_members(
        self, kind: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        """Walk the modules and yield their registered `kind` members with dotted names."""
        seen: set[int] = set()
        if recurse:
            modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        else:
            modules = iter([(prefix, self)])
        for module_prefix, module in modules:
            for name, member in module.__dict__[kind].items():
                if member is None:
                    continue
                if remove_duplicate:
                    if id(member) in seen:
                        continue
                    seen.add(id(member))
                yield (f"{module_prefix}.{name}" if module_prefix else name), member

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield (dotted name, parameter), e.g. ('0.weight', ...), each shared one once.

        >>> from tinygrad_c2 import nn
        >>> [n for n, _ in nn.Sequential(nn.Linear(2, 3)).named_parameters()]
        ['0.weight', '0.bias']
        """
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Yield every parameter (what an optimizer is given)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Yield (dotted name, buffer) for every registered buffer that is not None."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Yield every buffer."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module, then on this module; return self (for chaining)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients -------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode here and in every sub-module (Dropout, BatchNorm1d care)."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode recursively: same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient recording for every parameter (False freezes the module)."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: None (the default, like PyTorch) or zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = Tensor(np.zeros_like(param.data))

    # ---- dtype ---------------------------------------------------------------------------

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast parameters, their gradients and floating-point buffers to a dtype, in place.

        PyTorch's forms: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` (its
        dtype), `non_blocking=` (ignored); the device can only be the CPU, so `to("cpu")` does
        nothing. The Parameter objects stay the same (an optimizer holding them keeps working);
        their arrays are replaced. Integer buffers (BatchNorm's counter) keep their dtype.

        >>> from tinygrad_c2 import nn
        >>> nn.Linear(2, 2).to("cpu", "float64").weight.dtype
        dtype('float64')
        """
        if "copy" in kwargs:  # as torch: only Tensor.to copies
            raise TypeError("Module.to: unexpected keyword 'copy' (only Tensor.to takes it)")
        dtype, _ = _to_args(args, kwargs, "Module.to")
        if dtype is None:
            return self
        target = np.dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"Module.to: expected a floating-point dtype, got {target}")
        for param in self.parameters():
            param.data = param.data.astype(target)
            if param.grad is not None:
                param.grad = Tensor(param.grad.data.astype(target))
        for buffer in self.buffers():
            if buffer.data.dtype.kind == "f":
                buffer.data = buffer.data.astype(target)
        return self

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 (for gradient checking)."""
        return self.to(np.float64)

    def cpu(self) -> Module:
        """Self: everything is on the CPU already."""
        return self

    def cuda(self, device: Any = None) -> Module:
        raise RuntimeError(f"Module.cuda: {CPU_ONLY}")

    # ---- state dict ----------------------------------------------------------------------

    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, keyed by dotted name.

        Order and names follow PyTorch: per module its parameters, then its buffers, then
        its children. The arrays are copies, so training on does not change a saved state.

        >>> from tinygrad_c2 import nn
        >>> list(nn.BatchNorm1d(3).state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, tensor in self._state_tensors(prefix).items():
            state[name] = tensor.data.copy()
        return state

    def _state_tensors(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """The live tensors behind `state_dict()` (shared ones under their first name)."""
        tensors: OrderedDict[str, Tensor] = OrderedDict()
        # NOTE: like PyTorch, a module reused under two names is saved under both.
        for module_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            dot = f"{module_prefix}." if module_prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    tensors[dot + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    tensors[dot + name] = buffer
        return tensors

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values from `state_dict` into this module's parameters and buffers in place.

        Values may be arrays, Tensors or numbers; they are cast to each target's dtype. With
        `strict=True` any missing or unexpected key is an error; a shape mismatch is always
        an error (as in PyTorch). All problems are reported together in one RuntimeError
        (PyTorch's exception type, so ported `except` clauses still work), and nothing is
        copied unless the whole load succeeds.

        >>> from tinygrad_c2 import nn
        >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(
                "load_state_dict: expected a dict of name -> array, got "
                f"{type(state_dict).__name__}"
            )
        targets = self._state_tensors()
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        mismatched = []
        values = {}
        for name, target in targets.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != target.data.shape:
                mismatched.append(
                    f"{name}: checkpoint shape {array.shape}, model shape {target.data.shape}"
                )
            values[name] = array
        problems = []
        if strict and missing:
            problems.append("missing key(s): " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected key(s): " + ", ".join(repr(k) for k in unexpected))
        if mismatched:
            problems.append("mis-shaped key(s): " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(problems)
            )
        for name, array in values.items():
            # In place: optimizers and other holders of these arrays see the new values.
            targets[name].data[...] = array
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_text}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        body = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {body}\n)"


def _check_name(name: str, module: Module, what: str) -> None:
    """Registration names: non-empty strings without dots, not shadowing a plain attribute."""
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a str, got {type(name).__name__}")
    if name == "" or "." in name:
        raise KeyError(f'{what} name can\'t be empty or contain ".", got {name!r}')
    registered = any(name in module._registry(kind) for kind in _REGISTRIES)
    if hasattr(module, name) and not registered:
        raise KeyError(f"attribute {name!r} already exists on {type(module).__name__}")


def _as_buffer(value: Any, name: str, owner: str) -> Tensor | None:
    """A buffer is a Tensor (not requiring grad) or None; arrays are wrapped without a copy."""
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(
        f"cannot assign {type(value).__name__} as buffer '{name}' of {owner} "
        "(Tensor, numpy array or None expected)"
    )


class Sequential(Module):
    """Chain modules: the output of each is the input of the next.

    Children are named '0', '1', ... (or by the keys of an OrderedDict), so parameter
    names match PyTorch's ('0.weight').

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
        for module in self._modules.values():
            if module is not None:
                x = module(x)
        return x

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

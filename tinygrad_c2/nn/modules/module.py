"""Module: parameters, buffers and sub-modules registered through attributes; Sequential and
ModuleList containers; state_dict save and load."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
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


#: [depth of module calls now, seq where the outermost call began]: the calls of one forward.
#: NOTE: shared by threads; a race only mislabels which calls tg.viz groups, and MAX_CALLS keeps
#: a module's record bounded whatever happens.
_forward = [0, -1]
MAX_CALLS = 1024


def record_call(module: Module, start: int, end: int) -> None:
    """Remember that `module` was called, for tg.viz: the graph nodes the call made have
    start < node.seq < end. tg.viz draws each module's nodes in its own cluster, and the calls
    of one forward (a cell called once per time step) as sub-clusters; only the latest
    forward's calls are kept. Module.__call__ records every call; nn.Sequential records the
    calls that a fused LinearRun stands for."""
    # NOTE: one attribute read (Module._calls is None until the first call) and no len() for
    # the ordinary call (once a step per module), and the record [forward, [(start, end), ...]]
    # reused from one forward to the next: each new container object is work for Python's
    # cyclic garbage collector, whose collections are a measurable part of a small model's
    # step (callgrind: a tiny MLP's forward runs ~15% fewer instructions with the collector off).
    calls, begun = module._calls, _forward[1]
    if calls is None:
        module.__dict__["_calls"] = [begun, [(start, end)]]  # (no edit: not an attribute change)
    elif calls[0] != begun:
        calls[0] = begun
        spans = calls[1]
        spans.clear()
        spans.append((start, end))
    elif len(calls[1]) < MAX_CALLS:
        calls[1].append((start, end))


def run_seq(start: int, slot: int, count: int) -> float:
    """A seq inside the range (start, start + 1) that a fused run of `count` modules claims
    (nn.Sequential's _run_fused): module i's call is (run_seq(start, 2i, count),
    run_seq(start, 2i + 2, count)) and its layer is drawn at run_seq(start, 2i + 1, count).
    NOTE: fractions of one seq, so the run takes a single seq from the counter however many
    modules it stands for; no node has a seq strictly between two integers."""
    return start + slot / (2 * count + 1)


def module_calls(module: Module) -> list[tuple[float, float]]:
    """The (start, end) ranges of `module`'s calls in its latest forward (tg.viz reads them):
    those Module.__call__ recorded (record_call) and those of the fused runs nn.Sequential
    applied it in, which keep one record per run, not one per module (`_runs`: (record, i,
    count) for the i-th of a run's `count` modules, record = [forward, [start, ...]])."""
    own = module.__dict__.get("_calls")
    runs = module.__dict__.get("_runs", ())
    forwards = [record[0] for record, _, _ in runs if record[0] is not None]
    if own is not None:
        forwards.append(own[0])
    if not forwards:
        return []
    latest = max(forwards)  # (a forward is named by its first seq: the later, the larger)
    spans = list(own[1]) if own is not None and own[0] == latest else []
    for record, i, count in runs:
        if record[0] == latest:
            spans += [(run_seq(s, 2 * i, count), run_seq(s, 2 * i + 2, count))
                      for s in record[1]]
    spans.sort()
    return spans[:MAX_CALLS]


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
    #: [the forward's start, [(start, end), ...]]: this module's calls in the latest forward
    #: (record_call); a class default, so the hot path reads a plain attribute
    _calls: list | None = None

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
        forward = _forward
        start = next(_seq)
        depth = forward[0]
        if not depth:
            forward[1] = start  # an outermost call: a new forward begins
        forward[0] = depth + 1
        try:
            out = self.forward(*args, **kwargs)
        finally:
            forward[0] -= 1
        record_call(self, start, next(_seq))
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
                param.grad = Tensor(np.zeros_like(param._data))

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
            param._data = param._data.astype(target)
            if param.grad is not None:
                param.grad = Tensor(param.grad._data.astype(target))
        for buffer in self.buffers():
            if buffer._data.dtype.kind == "f":
                buffer._data = buffer._data.astype(target)
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
            state[name] = tensor._data.copy()
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
            array = value._data if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != target._data.shape:
                mismatched.append(
                    f"{name}: checkpoint shape {array.shape}, model shape {target._data.shape}"
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
            targets[name]._data[...] = array
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

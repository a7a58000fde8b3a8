"""Captured steps: trace one training step's graph once, then replay its primitives on arrays.

The course describes TensorFlow's model: build the graph once, run it many times. Eager
tinygrad_c2 rebuilds the graph every step (Tensors, nodes, module calls, a heap-ordered backward);
a captured step records every primitive of one step, with where each argument comes from, and
then calls their forward and backward directly, in a fixed order, with no graph machinery.

A replay equals the eager step bit for bit, or tracing (or the replay) raises CaptureError
naming the op and the reason. The rule that makes this hold:

- Every primitive applied while tracing is recorded, whether or not it needs a gradient, and
  every replay recomputes all of them (a primitive may have effects: dropout draws from the
  generator, batch norm updates its running statistics), then runs backward through the ones
  that need it. Only a pure primitive (of tinygrad_c2.ops) whose output nothing else the
  replay runs reads is dropped (an LSTM's h_n that the loss ignores, a metric beside it).
  Comparisons, argmax/argmin, the indices of max/min(dim), F.one_hot and the
  Tensor or array components of an index are primitives (or op arguments) too, so masks and
  labels are recomputed, never frozen.
- While tracing, the step's inputs and op outputs are *traced* arrays, and so is the array
  of every parameter and buffer of a module the step calls (and of the optimizer's
  parameters, and of any leaf once an op has read it). numpy work on a traced array gives a
  traced array (`X.numpy() > 0`, `w.numpy().max()`). A traced array may only reach an op as the
  input, op output or leaf it is: one computed outside a primitive would be frozen, so the op
  that receives it refuses. So do `.item() .tolist() float() int() bool()`, an `if` on a
  traced tensor, `in`, item assignment of the step's values and in-place numpy writes into
  them. Random draws of `tg.randn`/`tg.rand` inside the step are traced the same way. A
  boolean mask from the step's data makes the output shape depend on the data
  (`x[x > 0]`, `F.one_hot(y)` without num_classes): refused.
- Guards, checked at each replay: the input shapes and dtypes (a new key traces a new program);
  the `requires_grad`, shape and dtype of every leaf (parameter, buffer, constant) the trace
  read; the attributes of every module called during the trace (`training`, its parameters,
  buffers and sub-modules by identity, its plain attributes such as `p` or `momentum`),
  re-checked only when some module changed (nn.modules.module.edit_count); the number and sizes of
  the optimizer's parameter groups (replays clear the gradients it holds; a parameter swapped
  for another inside a group's list is not seen); and grad mode
  (under no_grad or anomaly mode the step runs eagerly, untraced). A change
  traces a new program (up to 8 are kept per input shape, so switching `train()`/`eval()` back
  and forth does not re-trace).

Supported, replayed bit for bit (the table in tests/test_capture_soundness.py): any model of
the library's layers; dropout in train mode; batch norm in train or eval mode, switched after
the trace; label and argmax indexing (`out[tg.arange(n), y]`, `out.max(1).indices`);
`tg.where` with masks from comparisons; `F.one_hot(y, k)`; MSE, BCE-with-logits, NLL and
cross-entropy losses; `nn.l2_penalty`; a module used twice; frozen layers; `no_grad` blocks;
detached values; integer inputs; metrics computed beside the loss; user Functions. Traced
again: a new batch size, `requires_grad_`, `train()`/`eval()`, a parameter replaced by
assignment or given a `.data` of a new shape or dtype, a module attribute changed (`Dropout.p`,
`BatchNorm1d.momentum`), a module that sets its own attributes in forward (at every call).
Refused (CaptureError): `.item()`, `float()`, `int()`, `bool()`/an `if` on a tensor,
`.tolist()`, `in`; numpy on `.numpy()` feeding an op (`X / X.numpy().max()`,
`tg.where(X.numpy() > 0, ...)`, `w.numpy().std()`); in-place ops (`add_`, `X.data *= 2`);
`tg.randn`/`tg.rand` in the step; today's `logsumexp` (its shift is a
numpy max); boolean-mask indexing by the step's data and `F.one_hot(y)` without `num_classes`;
in-place writes into the step's values; item assignment of them; a loss that is not a scalar
requiring grad; BatchNorm1d(momentum=None); a captured step inside another's trace.

Memory and gradient ownership. A replay holds no more than the eager step: it drops the last
step's gradients before its forward (as `optimizer.zero_grad()` does), frees each op output at
its last use, and a context (with what it saved) right after its backward. Every array it hands
out (the loss, each `.grad`) is new at every replay, so one kept from an earlier step keeps its
values. The program knows statically which gradients no one else holds (function.py,
Function.fresh_grads / overwrites_grad): the seed, a fresh_grads backward's result, a sum the
program made, or an owned gradient an overwrites_grad backward handed on; it adds later
contributions into those in place and sets `ctx.grad_owned` for an overwrites_grad backward,
the same rule as the eager engine's. Nothing is preallocated between replays: a buffer kept
for the next step would count in the step's peak (a layer's output that eager frees after the
next op would stay alive), and on the larger models a replay runs within 0.1% of the
hand-derived step's instructions already (callgrind, mnist): what remains is memory traffic.

What a replay does not see (the holes, which capture cannot detect): Python values the step
reads that are neither tensors nor module attributes (closure variables, globals); a leaf
that is not traced yet (not held by the optimizer, not of a module called so far, not yet
given to an op): numpy on its `.numpy()`, or its `.detach()` once `.data` is reassigned; numpy
that drops the marker (`np.asarray`, `np.array`, `.view(np.ndarray)`, raw memory); traced
values copied into an existing plain array (`buf[...] = X.numpy()`); numpy's own random
generator; numpy writes into parameters or buffers inside the step; Python effects other
than those registered with `on_replay` (printing, appending to a list).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import errstate_var, mode, reduce_to_shape
from .function import forward_as
from .ops.constants import number_operand
from .tensor import Tensor

_CONST, _LEAF, _NODE, _INPUT = range(4)
_new = object.__new__
_RETRACE = object()  # what a program's run returns when a guard fails
_MISSING = object()
_PROGRAMS_PER_SHAPE = 8
# NOTE: the primitives of these modules compute their outputs from their arguments and nothing
# else (no generator, no buffer writes): a replay may drop one whose output nothing reads
_PURE_MODULES = "tinygrad_c2.ops."
_LIBRARY = "tinygrad_c2."
_SCALARS = (bool, int, float, complex, str, type(None))
# numpy functions whose results say nothing about the values (they stay untraced), and the
# ones that write into their first argument
_METADATA = (np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.may_share_memory,
             np.shares_memory, np.result_type)
_WRITES_FIRST = (np.copyto, np.put, np.place, np.putmask, np.fill_diagonal, np.put_along_axis)
# NOTE: numpy's private home of the floating-point error state (numpy >= 2), found once in
# engine.py: a context variable holding one immutable object per state; None where numpy keeps
# it elsewhere (then a replay always enters np.errstate)
_ERRSTATE = errstate_var


def _quiet_errstate() -> Any:
    """The current error-state object if it already ignores underflow (np.errstate(
    under='ignore') would change nothing under it), else a marker nothing equals."""
    if _ERRSTATE is not None and np.geterr()["under"] == "ignore":
        return _ERRSTATE.get()
    return _MISSING


class CaptureError(RuntimeError):
    """The step cannot be captured (or replayed) faithfully; run it eagerly instead.

    NOTE: tracing runs the step eagerly, so a refusal comes after the ops before it ran: batch
    norm may have updated its running statistics, and dropout drawn from the generator.
    """


def capturing() -> bool:
    """True while a captured step is being traced (in this thread)."""
    return mode.tracer is not None


def on_replay(effect: Callable[[], None]) -> None:
    """Register a Python side effect of a forward (e.g. BatchNorm1d counting batches) that a
    captured step must repeat on every replay, since replays do not run the model's Python."""
    if mode.tracer is not None:
        mode.tracer.effects.append(effect)


# ---------------------------------------------------------------- traced arrays


def _frozen(what: str) -> CaptureError:
    return CaptureError(
        f"capture: {what} on a value computed from the step's inputs or parameters: a replay "
        "would reuse its trace-time value. Keep the computation in Tensor operations, or run "
        "this step eagerly")


def _active(a: np.ndarray) -> _Tracer | None:
    """The tracer `a` belongs to, while that trace runs (arrays of an earlier trace are inert)."""
    tracer = mode.tracer
    if tracer is not None and (type(a) is tracer.cls or type(a) is tracer.leaf_cls):
        return tracer
    return None


def _plain(x: Any) -> Any:
    """x with every traced array (also inside tuples, lists and dicts) as a plain ndarray view."""
    if isinstance(x, _Traced):
        return x.view(np.ndarray)
    if type(x) in (tuple, list):
        return type(x)(_plain(i) for i in x)
    if type(x) is dict:
        return {k: _plain(v) for k, v in x.items()}
    return x


def _value_method(name: str) -> Callable:
    """An ndarray method whose result (often a numpy scalar) stays traced."""
    method = getattr(np.ndarray, name)

    def traced(self: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        result = method(self.view(np.ndarray), *_plain(args), **_plain(kwargs))
        tracer = _active(self)
        return result if tracer is None else tracer.mark(result)

    traced.__name__ = name
    return traced


def _write_method(name: str) -> Callable:
    """An in-place ndarray method, refused on the step's own values."""
    method = getattr(np.ndarray, name)

    def guarded(self: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        tracer = _active(self)
        if tracer is not None:
            tracer.check_write(self, f"in-place .{name}()")
        return method(self, *_plain(args), **_plain(kwargs))

    guarded.__name__ = name
    return guarded


def _escape(name: str, what: str) -> Callable:
    """A conversion to Python (or raw bytes) that a traced array refuses while tracing."""
    method = getattr(np.ndarray, name)

    def refuse(self: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        if _active(self) is not None:
            raise _frozen(what)
        return method(self, *args, **kwargs)

    refuse.__name__ = name
    return refuse


class _Traced(np.ndarray):
    """An array computed from a traced step's inputs (each trace makes its own subclass).

    numpy work on it gives traced results (ufuncs, numpy functions, reductions, indexing);
    conversions to Python values raise CaptureError while its trace runs; afterwards it
    behaves as a plain array.
    """

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for x in inputs:
            if getattr(type(x), "__array_ufunc__", False) is None:
                return NotImplemented  # a Tensor: let its reflected operator run the op
        tracer = _active(self)
        if tracer is not None and method == "at":  # np.add.at(a, idx, b) writes into a
            tracer.check_write(inputs[0], f"numpy {ufunc.__name__}.at")
        out = kwargs.get("out")
        if out is not None:
            if tracer is not None:
                for o in out:
                    tracer.check_write(o, f"numpy {ufunc.__name__}(..., out=...)")
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return result if tracer is None else tracer.mark(result)

    def __array_function__(self, func: Callable, types: Any, args: Any, kwargs: Any) -> Any:
        tracer = _active(self)
        if tracer is not None and kwargs.get("out") is not None:
            tracer.check_write(kwargs["out"], f"numpy {func.__name__}(..., out=...)")
        if tracer is not None and func in _WRITES_FIRST:
            tracer.check_write(args[0], f"numpy {func.__name__}")
        result = func(*_plain(args), **_plain(kwargs))
        if tracer is None or func in _METADATA:
            return result
        return tracer.mark(result)

    def __getitem__(self, key: Any) -> Any:
        result = np.ndarray.__getitem__(self.view(np.ndarray), _plain(key))
        tracer = _active(self)
        return result if tracer is None else tracer.mark(result)

    def __setitem__(self, key: Any, value: Any) -> None:
        tracer = _active(self)
        if tracer is not None:
            tracer.check_write(self, "item assignment")
        np.ndarray.__setitem__(self, _plain(key), _plain(value))

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))

    argmax = _value_method("argmax")
    argmin = _value_method("argmin")
    searchsorted = _value_method("searchsorted")
    trace = _value_method("trace")
    nonzero = _value_method("nonzero")
    sort = _write_method("sort")
    partition = _write_method("partition")
    fill = _write_method("fill")
    put = _write_method("put")
    resize = _write_method("resize")
    item = _escape("item", ".item() (or float(), int(), bool(), an `if` on a tensor)")
    tolist = _escape("tolist", ".tolist()")
    tobytes = _escape("tobytes", ".tobytes()")
    __float__ = _escape("__float__", "float()")
    __int__ = _escape("__int__", "int()")
    __bool__ = _escape("__bool__", "bool() (an `if`, `and`, `or` or `not`)")
    __index__ = _escape("__index__", "use as a Python index or size (__index__)")
    __complex__ = _escape("__complex__", "complex()")
    __contains__ = _escape("__contains__", "`in`")
    __format__ = _escape("__format__", "formatting into a string")


# ---------------------------------------------------------------- the trace


class _Op:
    """One recorded primitive: its class, where each argument comes from, where grads go."""

    # routes[k]: (kind, index) or None; dtype: PyTorch's promoted dtype when numpy's differed
    # fixed: a library kernel whose results' types, shapes and dtypes follow from its input
    # shapes, dtypes and constants (see _Program._compile)
    __slots__ = ("cls", "args", "needs", "routes", "shape", "dtype", "fixed")

    def __init__(self, cls: type, args: list, needs: tuple, routes: list, shape: tuple,
                 dtype: Any = None, fixed: bool = False) -> None:
        self.cls, self.args, self.needs, self.routes = cls, args, needs, routes
        self.shape, self.dtype, self.fixed = shape, dtype, fixed


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory (the end of its chain of views)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _module_state(module: Any) -> tuple:
    """What a module's forward may read: its public attributes (with the parameters, buffers
    and sub-modules mirrored there) and the names in its registries, in order."""
    d = module.__dict__
    public = tuple((k, v) for k, v in d.items() if not k.startswith("_"))
    registries = tuple(tuple(d.get(kind, ())) for kind in ("_parameters", "_buffers", "_modules"))
    return public, registries


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if type(a) is tuple:
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) in _SCALARS and a == b


def _same_module_state(module: Any, state: tuple) -> bool:
    public, registries = _module_state(module)
    if registries != state[1] or len(public) != len(state[0]):
        return False
    return all(k == k0 and _same_value(v, v0)
               for (k, v), (k0, v0) in zip(public, state[0], strict=True))


class _Tracer:
    """Records one step as it runs eagerly: every op, its argument sources, the modules called,
    the effects to repeat. Lives in `mode.tracer` for the duration of the trace."""

    def __init__(self) -> None:
        # Each trace has its own classes, so arrays of an earlier trace are inert. `cls`: the
        # step's inputs, op outputs and anything numpy derives from traced arrays; `leaf_cls`:
        # the .data of parameters and buffers while the trace runs (numpy on them gives `cls`).
        self.cls = type("TracedArray", (_Traced,), {})
        self.leaf_cls = type("TracedLeafArray", (_Traced,), {})
        self.leaf_views: dict[int, tuple[Tensor, np.ndarray]] = {}  # id(view) -> (leaf, .data)
        self.values: dict[int, tuple] = {}  # id(traced array) -> (_INPUT, k) or (_NODE, i, ctx)
        self.ops: list[_Op] = []
        self.keep: list[np.ndarray] = []  # the traced arrays, alive so that ids stay unique
        self.effects: list[Callable[[], None]] = []
        self.modules: dict[int, tuple] = {}  # id -> (module, state at its first call)
        self.owners: set[int] = set()  # the arrays owning the memory of the step's values
        self.n_inputs = 0
        self.key: tuple = ()  # the inputs' (shape, dtype), set by CapturedStep._trace
        self.depth = 0  # > 0 while a primitive's forward runs
        from .nn.modules.module import edit_count  # NOTE: lazy: nn imports this module

        self.edits_at_start = edit_count[0]  # a module changed during the trace: re-check

    def mark(self, result: Any) -> Any:
        """result (of numpy work on traced arrays) as traced arrays, scalars as 0-d ones."""
        if isinstance(result, np.ndarray):
            return result if type(result) is self.cls else result.view(self.cls)
        if isinstance(result, (np.generic, bool, int, float, complex)):
            return np.asarray(result).view(self.cls)
        if type(result) in (tuple, list):
            return type(result)(self.mark(r) for r in result)
        return result

    def input(self, array: np.ndarray) -> np.ndarray:
        view = array.view(self.cls)
        self.values[id(view)] = (_INPUT, self.n_inputs)
        self.n_inputs += 1
        self._keep(view)
        return view

    def adopt_leaf(self, t: Tensor) -> None:
        """Hand out a leaf's .data as a traced view for the rest of the trace, so that numpy on
        it (`w.data.max()`) is traced too: it changes between steps as the inputs do."""
        if type(t._data) is np.ndarray:
            view = t._data.view(self.leaf_cls)
            self.leaf_views[id(view)] = (t, t._data)
            t._data = view

    def release_leaves(self) -> None:
        """Give every adopted leaf its own array back (unless the step assigned a new one)."""
        for t, original in self.leaf_views.values():
            if type(t._data) is self.leaf_cls:
                t._data = original

    def _keep(self, view: np.ndarray) -> None:
        self.keep.append(view)
        self.owners.add(id(_owner(view)))

    def check_write(self, target: Any, what: str) -> None:
        """Refuse writing into the step's inputs or op outputs (or a view of them), and
        writing traced values into an untraced array: a replay would not repeat it."""
        arrays = target if type(target) in (tuple, list) else (target,)
        for a in arrays:
            if not isinstance(a, np.ndarray):
                continue
            if type(a) is self.leaf_cls:
                continue  # NOTE: a hole: writes into parameters and buffers are not replayed
            if type(a) is not self.cls:
                raise _frozen(f"{what} into an untraced array")
            if id(_owner(a)) in self.owners:
                raise _frozen(f"{what} into the step's own values")

    def check_assignment(self, idx: Any, value: Any) -> None:
        """`tensor[idx] = value`: refused when idx or value holds the step's values (the tensor
        would keep what this batch wrote)."""
        for part in (*(idx if type(idx) is tuple else (idx,)), value):
            array = part._data if isinstance(part, Tensor) else part
            if type(array) is self.cls or type(array) is self.leaf_cls:
                raise _frozen("item assignment (tensor[idx] = value) of an index or value")

    def module_called(self, module: Any) -> None:
        if id(module) not in self.modules:
            self.modules[id(module)] = (module, _module_state(module))
            for kind in ("_parameters", "_buffers"):
                for t in module.__dict__[kind].values():
                    if t is not None:
                        self.adopt_leaf(t)

    def forward(self, op: type, ctx: Any, arrays: list) -> Any:
        """Run a primitive's forward on plain views of its arguments. Ops a forward applies
        itself belong to it: they are not recorded (a replay runs them inside it)."""
        arrays = [a.view(np.ndarray) if isinstance(a, _Traced) else a for a in arrays]
        self.depth += 1
        try:
            if mode.anomaly:  # the anomaly check after forward names the op
                with np.errstate(all="ignore"):
                    return op.forward(ctx, *arrays)
            return op.forward(ctx, *arrays)
        finally:
            self.depth -= 1

    def drawn(self, array: np.ndarray) -> np.ndarray:
        """tg.randn/tg.rand output: traced (a replay would reuse it), unless a primitive's
        forward draws it (the replay runs that forward again)."""
        return array if self.depth else self.mark(array)

    def _source(self, array: np.ndarray, op: type, pos: int) -> tuple | None:
        source = self.values.get(id(array))
        # NOTE: ndarray methods (.copy(), .T, .astype) keep the class: a leaf-class array that
        # is not a leaf's own .data was derived from one
        if source is None and (type(array) is self.cls or (
                type(array) is self.leaf_cls and id(array) not in self.leaf_views)):
            raise CaptureError(
                f"capture: argument {pos} of {op.__name__} was computed from the step's inputs "
                "or parameters outside a primitive (numpy on .data, a Tensor made from such an "
                "array, or tg.randn/tg.rand inside the step), so a replay would reuse its "
                "trace-time value. Compute it with Tensor operations, or run this step eagerly")
        return source

    def record(self, op: type, ctx: Any, args: tuple, out: np.ndarray) -> np.ndarray:
        """Record one applied primitive; return its output as a traced array."""
        if self.depth:  # applied inside another primitive's forward: part of that one
            return out
        needs = ctx.needs_input_grad
        sources, routes = [], []
        for pos, a in enumerate(args):
            route = None
            if isinstance(a, Tensor):
                source = self._source(a._data, op, pos)
                if source is None:
                    if a.grad_fn is not None:
                        raise CaptureError(
                            f"capture: argument {pos} of {op.__name__} has a graph built "
                            "outside the step; detach it, or compute it inside the step")
                    # NOTE: `w.detach()` shares w's traced .data: read w's at each replay
                    leaf = self.leaf_views.get(id(a._data))
                    source = (_LEAF, a if leaf is None else leaf[0])
                    self.adopt_leaf(a)
                if needs[pos]:  # to its node, or to a leaf (`h.detach().requires_grad_()`)
                    route = (_NODE, source[1]) if a.grad_fn is not None else (_LEAF, a)
            elif isinstance(a, np.ndarray):
                source = self._source(a, op, pos)
                if source is None:  # a leaf's .data passed as an array: still read it each time
                    leaf = self.leaf_views.get(id(a))
                    source = (_CONST, a) if leaf is None else (_LEAF, leaf[0])
            else:
                if type(a) in (tuple, list) and any(isinstance(i, _Traced) for i in a):
                    raise _frozen(f"an array inside a {type(a).__name__} passed to {op.__name__}")
                source = (_CONST, a)
            sources.append(source[:2])
            routes.append(route)
        for pos in ctx.__dict__.get("data_dependent_shape", ()):
            if sources[pos][0] in (_INPUT, _NODE):
                raise CaptureError(
                    f"capture: {op.__name__}'s output shape depends on the values of argument "
                    f"{pos} (a boolean mask computed in the step), so it changes from batch to "
                    "batch and a trace cannot fix it; use tg.where, or run this step eagerly")
        view = out.view(self.cls)
        self.values[id(view)] = (_NODE, len(self.ops), ctx)
        self._keep(view)
        # NOTE: a user's subclass of a library op lives in the user's module: not fixed
        fixed = op.__module__.startswith(_LIBRARY) and "data_dependent_shape" not in ctx.__dict__
        self.ops.append(_Op(op, sources, needs, routes, out.shape,
                            ctx.__dict__.get("promoted_to"), fixed))
        return view


# ---------------------------------------------------------------- the replayable program


class _Program:
    """The replayable form of one traced step (for one set of input shapes and guard values)."""

    def __init__(self, tracer: _Tracer, loss: Tensor, optimizer: Any) -> None:
        from .nn.modules.module import edit_count

        self.edit_count = edit_count
        self.seen = [tracer.edits_at_start]
        self.modules = list(tracer.modules.values())
        self.ops = tracer.ops
        self.loss = tracer.values[id(loss._data)][1]
        self.loss_dtype = loss._data.dtype
        self.effects = tracer.effects
        self.leaves: list[Tensor] = []
        leaf_pos: dict[int, int] = {}

        def leaf(t: Tensor) -> int:
            if id(t) not in leaf_pos:
                leaf_pos[id(t)] = len(self.leaves)
                self.leaves.append(t)
            return leaf_pos[id(t)]

        for op in self.ops:
            op.args = [(_LEAF, leaf(ref)) if kind == _LEAF else (kind, ref)
                       for kind, ref in op.args]
            op.routes = [None if r is None else (_LEAF, leaf(r[1])) if r[0] == _LEAF else r
                         for r in op.routes]
        # backward runs through the ops the loss depends on by a gradient route, as the
        # engine's walk from the loss does; their leaves get fresh gradients
        reached, stack = {self.loss}, [self.loss]
        while stack:
            for r in self.ops[stack.pop()].routes:
                if r is not None and r[0] == _NODE and r[1] not in reached:
                    reached.add(r[1])
                    stack.append(r[1])
        self.reached, self.grad_ops = reached, sorted(reached)
        self.trained = sorted({r[1] for i in self.grad_ops for r in self.ops[i].routes
                               if r is not None and r[0] == _LEAF})
        routed = {id(self.leaves[j]) for j in self.trained}
        self.untouched = [] if optimizer is None else [
            p for group in optimizer.param_groups for p in group["params"] if id(p) not in routed]
        self.optimizer = optimizer
        self.n_inputs, self.key = tracer.n_inputs, tracer.key
        self.source, self.run = self._compile(self.n_inputs)

    def modules_unchanged(self) -> bool:
        """The slow guard, run only when some module changed since the last replay."""
        if all(_same_module_state(m, state) for m, state in self.modules):
            self.seen[0] = self.edit_count[0]
            return True
        return False

    def _live_ops(self) -> set[int]:
        """The ops a replay runs: the loss, the ops backward reaches, every op that is not one
        of the library's pure primitives (dropout draws, batch norm updates its statistics, a
        user Function may do anything), and every op whose output one of those reads.

        A pure primitive of `tinygrad_c2.ops` whose output nothing live reads (h_n of an LSTM
        the loss ignores, a metric computed beside the loss) is dropped.
        NOTE: so are its checks: an index out of range in a dropped op raises in the eager step
        but not in a replay (no value a replay returns or writes depends on it).
        """
        live = {self.loss, *self.reached}
        for i in range(len(self.ops) - 1, -1, -1):
            op = self.ops[i]
            if i in live or not op.cls.__module__.startswith(_PURE_MODULES):
                live.add(i)
                live.update(ref for kind, ref in op.args if kind == _NODE)
        return live

    def _arg_shape(self, kind: int, ref: Any) -> tuple | None:
        """An op argument's shape, the same at every replay: an input's (the key), a leaf's
        (guarded), a library kernel's output (fixed, see _compile); None for any other."""
        if kind == _INPUT:
            return self.key[ref][0]
        if kind == _LEAF:
            return self.leaves[ref]._data.shape
        if kind == _NODE:
            return self.ops[ref].shape if self.ops[ref].fixed else None
        return None

    def _unchecked_linear(self, i: int, checked: bool) -> bool:
        """Whether later replays may run Linear op i through affine_replay, its forward without
        _affine's checks.

        NOTE: why that is sound. _affine's checks (the weight's and bias's shapes, the input's
        width, its dtype against the weight's) read only shapes and dtypes, and they passed at
        the trace. At a later replay the input's shape and dtype are the trace's (the key, a
        leaf's guarded ones, or a library kernel's output, fixed as _compile's NOTE says), the
        weight's and bias's too (guarded leaves, or constants), so each check passes again.
        Its one choice, np.dot or np.matmul, reads the operands' memory layout (not guarded)
        only for small 2-D products: matmul_bound shapes take matmul whatever the layout, the
        call affine_replay makes. The first replay's program keeps Linear.forward itself."""
        from .nn.functional.linear import Linear, matmul_bound  # NOTE: lazy, as in _compile

        op = self.ops[i]
        if checked or not op.fixed or op.cls is not Linear or len(op.args) != 3:
            return False
        x_shape, w_shape = (self._arg_shape(kind, ref) for kind, ref in op.args[:2])
        kind, ref = op.args[2]
        return (x_shape is not None and w_shape is not None and len(w_shape) == 2
                and (kind == _LEAF or (kind == _CONST and ref is None))
                and matmul_bound(x_shape, w_shape))

    def _optimizer_step(self, env: dict[str, Any], arrives: dict[int, str]) -> list[str]:
        """The lines of the optimizer's step: plain SGD's update written out (w -= lr * g per
        trained parameter, SGD.step's own expression, so the bits are the same), else a call
        of optimizer.step() (any other optimizer, or a group with momentum, weight decay or
        maximize at this replay: the hyperparameters are read at every replay, as step does).

        NOTE: a Python float lr is converted by numpy at every `lr * g` (NEP 50: to g's dtype,
        rounded to nearest, then g's own loop); the program converts it once per new lr into a
        0-d array of the parameter's dtype (g has it: every contribution is cast to it), which
        gives the same bits without the per-call conversion. An lr of any other type (a numpy
        float64 scalar is a strong operand: float64 product, then cast) is used as it is.
        """
        from .optim.sgd import SGD

        opt = self.optimizer
        if opt is None:
            return []
        env["OPT"] = opt
        if type(opt) is not SGD or "step" in vars(opt):
            return ["    OPT.step()"]
        env["lr_operand"] = number_operand
        trained = {id(self.leaves[j]): j for j in self.trained}
        plain, lines = [], []
        for k, group in enumerate(opt.param_groups):
            env[f"G{k}"] = group
            plain.append(f'not (G{k}["maximize"] or G{k}["weight_decay"] or G{k}["momentum"])')
            rows = [j for p in group["params"] if (j := trained.get(id(p))) is not None
                    and arrives.get(j)]
            if rows:
                lines.append(f'        lr = G{k}["lr"]')
            operands: dict[np.dtype, str] = {}  # per dtype: the variable holding lr's operand
            for j in rows:
                dtype = self.leaves[j]._data.dtype  # guarded
                if dtype not in operands:
                    name = operands[dtype] = f"lr{k}_{len(operands)}"
                    # [the lr converted last, its operand], and the dtype to convert it to
                    env[f"R{name}"], env[f"D{name}"] = [_MISSING, None], dtype
                    lines += [f"        if lr is not R{name}[0]: "
                              f"R{name}[:] = lr, lr_operand(lr, D{name})",
                              f"        {name} = R{name}[1]"]
                update = f"w = L{j}._data; w -= {operands[dtype]} * lg{j}"
                lines.append(f"        {update}" if arrives[j] == "sure" else
                             f"        if lg{j} is not None: {update}")
        return ["    # the optimizer's step (SGD: w -= lr * g)",
                f"    if {' and '.join(plain)}:", *(lines or ["        pass"]),
                "    else:", "        OPT.step()"]

    def _settle(self, seen: set[str]) -> None:
        """After the first replay: the program for all later ones, knowing what acted in it."""
        self.source, self.run = self._compile(self.n_inputs, frozenset(seen))

    def _compile(self, n_inputs: int, seen: frozenset[str] | None = None
                 ) -> tuple[str, Callable[..., Any]]:
        """Write the step as straight-line Python (guards, forward calls, then backward calls in
        reverse, each gradient routed to a local variable) and compile it once.

        With `seen` None: the first replay's program, which checks every kernel result (its
        type, a gradient's presence, shape and dtype) and notes which checks acted (in OBS),
        then compiles the one for later replays with `seen` = those notes.

        NOTE: what the later program leaves out, and why that is sound. A library kernel
        (`_Op.fixed`: a class of tinygrad_c2 whose output shape does not depend on values)
        computes the type of its forward's result, whether backward returns a tuple, which of
        its gradients are None, their shapes and their dtypes from its input shapes, dtypes and
        constant arguments alone: numpy 2's result dtypes do not depend on values (NEP 50), and
        where a kernel branches on values (Pow's zero masks, Prod's zeros, ignored labels) both
        branches give the same type, shape and dtype (tests/test_capture_checks.py replays each
        one on values that take the other branch). Those inputs are fixed for a program: input
        shapes and dtypes key it, the guards fix the leaves' shapes and dtypes and the modules'
        attributes, and constants are the trace's. So what a check found at the first replay it
        finds at every later one: a check that did nothing is left out, one that acted stays.
        A gradient present for sure also drops its `is not None` tests down the line (and a
        node's backward its `if g is not None`). A user's Function promises nothing of the
        kind: all its checks stay.

        NOTE: replaying a list of ops through a generic loop costs about 2.5 us per op in
        dispatch alone; the generated function has none, and `step.source` shows a student the
        whole training step the way a static graph framework sees it.
        """
        from .nn.functional.linear import affine_replay  # NOTE: lazy: nn imports this module

        checked = seen is None
        env: dict[str, Any] = {"new": _new, "ndarray": np.ndarray, "asarray": np.asarray,
                               "add": np.add, "Tensor": Tensor,
                               "ones": np.ones, "fix": _fix_grad, "wrap": Tensor._wrap,
                               "errstate": np.errstate, "forward_as": forward_as,
                               "RETRACE": _RETRACE, "EDITS": self.edit_count, "SEEN": self.seen,
                               "modules_unchanged": self.modules_unchanged}
        obs: set[str] = set()
        if checked:
            env["OBS"], env["SETTLE"] = obs, lambda: self._settle(obs)

        def note(key: str) -> str:  # the first replay's record that a check acted
            return f"; OBS.add({key!r})" if checked else ""

        def known(i: int) -> bool:  # op i's results are what the first replay saw
            return not checked and self.ops[i].fixed

        consts: dict[int, str] = {}

        def const(value: Any) -> str:
            if value is None or type(value) in (bool, int, float, str):
                return repr(value)
            if id(value) not in consts:
                consts[id(value)] = f"C{len(consts)}"
                env[consts[id(value)]] = value
            return consts[id(value)]

        ops, n, loss = self.ops, len(self.ops), self.loss
        grad_ops = self.grad_ops
        inputs = ", ".join(f"X{k}" for k in range(n_inputs))
        code = ["def run(*inputs):", "    # guards: a change means a new trace",
                f"    if len(inputs) != {n_inputs}: return RETRACE"]
        if n_inputs:
            code.append(f"    {inputs}, = inputs")
        for k, (shape, dtype) in enumerate(self.key):  # the inputs, as CapturedStep takes them
            env[f"XS{k}"], env[f"XD{k}"] = shape, dtype
            code += [f"    if isinstance(X{k}, Tensor): X{k} = X{k}._data",
                     f"    elif type(X{k}) is not ndarray: X{k} = asarray(X{k})",
                     f"    if X{k}.shape != XS{k} or (X{k}.dtype is not XD{k} and "
                     f"X{k}.dtype != XD{k}): return RETRACE"]
        code.append("    if EDITS[0] != SEEN[0] and not modules_unchanged(): return RETRACE")
        if self.optimizer is not None:  # replays clear the grads of the params it held
            env["OPT"] = self.optimizer
            sizes = ", ".join(f'len(OPT.param_groups[{k}]["params"])'
                              for k in range(len(self.optimizer.param_groups)))
            env["SIZES"] = (len(self.optimizer.param_groups),
                            *(len(g["params"]) for g in self.optimizer.param_groups))
            code.append(f"    if (len(OPT.param_groups), {sizes}) != SIZES: return RETRACE")
        env["LEAVES"] = tuple(v for t in self.leaves
                              for v in (t.requires_grad, t._data.shape, t._data.dtype))
        if self.leaves:
            checks = ",\n            ".join(
                f"L{j}.requires_grad, L{j}._data.shape, L{j}._data.dtype"
                for j in range(len(self.leaves)))
            code.append(f"    if ({checks}) != LEAVES: return RETRACE")
        code += [f"    E{e}()" for e in range(len(self.effects))]
        env.update({f"E{e}": fn for e, fn in enumerate(self.effects)})
        env.update({f"L{j}": t for j, t in enumerate(self.leaves)})
        env.update({f"Z{j}": p for j, p in enumerate(self.untouched)})
        # NOTE: the last step's gradients go first, as optimizer.zero_grad() before the forward
        # would drop them: kept until the new ones are assigned, they would sit beside the new
        # ones through the whole step (the peak was one set of gradients above eager's)
        cleared = [f"L{j}.grad" for j in self.trained] + [
            f"Z{j}.grad" for j in range(len(self.untouched))]
        if cleared:
            code.append(f"    {' = '.join(cleared)} = None")
        live = self._live_ops()
        last_use = {loss: n}
        for i, op in enumerate(ops):
            for kind, ref in op.args:
                if kind == _NODE and i in live:
                    last_use[ref] = max(last_use.get(ref, i), i)
        code.append("    # forward")
        for i, op in enumerate(ops):
            if i not in live:
                code.append(f"    # {op.cls.__name__}: dropped, nothing reads its output")
                continue
            # NOTE: F{i}/B{i} are the class's forward/backward looked up once, as apply would
            # find them: one attribute lookup less per call
            env[f"K{i}"], env[f"N{i}"] = op.cls, op.needs
            env[f"F{i}"], env[f"B{i}"] = op.cls.forward, op.cls.backward
            args = [const(ref) if kind == _CONST else f"L{ref}._data" if kind == _LEAF
                    else f"o{ref}" if kind == _NODE else f"X{ref}" for kind, ref in op.args]
            c = f"c{i}" if i in self.reached else "c"  # a context backward needs, or scratch
            code.append(f"    {c} = new(K{i}); {c}.saved_tensors = (); "
                        f"{c}.needs_input_grad = N{i}")
            if op.cls.reuses_saved:  # its one backward call is its saved arrays' last use
                code.append(f"    {c}.saved_last_use = True")
            if op.dtype is None and self._unchecked_linear(i, checked):
                env["affine_replay"] = affine_replay
                code.append(f"    o{i} = affine_replay({c}, {', '.join(args)})  # Linear, "
                            "its checks done")
            elif op.dtype is None:
                code.append(f"    o{i} = F{i}({c}, {', '.join(args)})  # {op.cls.__name__}")
            else:  # numpy's dtype is not PyTorch's here: cast the operands, as apply did
                env[f"P{i}"] = op.dtype
                code.append(f"    o{i} = forward_as(K{i}, {c}, [{', '.join(args)}], P{i})  "
                            f"# {op.cls.__name__}")
            if not known(i) or f"o{i}" in seen:
                code.append(f"    if type(o{i}) is not ndarray: o{i} = asarray(o{i})"
                            + note(f"o{i}"))
            dead = [f"o{k}" for k, last in last_use.items() if last == i] + (
                [f"o{i}"] if i not in last_use else [])
            if dead:  # outputs nobody else reads: free them (backward uses the ctxs only)
                code.append(f"    del {', '.join(dead)}")
        # underflow to 0 is the right answer in backward, as in engine.backward
        code.append("    # backward")
        backward_start = len(code)
        code.append("    " + " = ".join([f"g{i}" for i in grad_ops if i != loss] +
                                        [f"lg{j}" for j in self.trained] + ["None"]))
        flags_at = len(code)
        # the seed: a copy of ones made once (np.ones is a Python function: slower than .copy())
        env["SEED"] = np.ones(ops[loss].shape, self.loss_dtype)
        code.append(f"    g{loss} = SEED.copy()" if known(loss) else
                    f"    g{loss} = SEED.copy() if o{loss}.dtype == SEED.dtype else "
                    f"ones(o{loss}.shape, o{loss}.dtype)")
        # A gradient's first contribution (in this fixed order) finds it None for sure: it is
        # assigned, not tested; later ones add. The loss's own gradient is never None.
        routed: set[tuple] = set()
        owned: dict[int, bool | str] = {loss: True}  # see _contribution
        flags: list[str] = []  # the h{j} variables ownership needs at run time
        # whether a gradient arrives: "sure" (at every replay), "maybe", absent (never)
        arrives: dict[int, str] = {loss: "sure"}  # node gradients g{i}
        leaf_arrives: dict[int, str] = {}  # leaf gradients lg{j}
        for i in reversed(grad_ops):
            op = ops[i]
            runs = arrives.get(i)
            if runs is None:  # every contribution was None at the first replay: never runs
                code.append(f"    c{i} = None  # {op.cls.__name__}: no gradient reaches it")
                continue
            ran = known(i) and f"b{i}" in seen  # its results are the first replay's
            # NOTE: the expression of backward's k-th result: r[k] of a tuple r, or the call
            # itself where backward returns one array (at every replay) that has one route
            n_routes = sum(route is not None for route in op.routes)
            call = f"B{i}(c{i}, g{i})"
            single = ran and f"r{i}" in seen
            if not ran:
                body = [f"r = {call}{note(f'b{i}')}",
                        f"if type(r) is not tuple: r = (r,){note(f'r{i}')}"]
            elif single and n_routes == 1:
                body = []
            else:  # a tuple at every replay, or one array at every replay
                body = [f"r = ({call},)" if single else f"r = {call}"]
            mine = owned.get(i, False) if op.cls.overwrites_grad else False
            if mine is not False:  # ctx.grad_owned: backward may write into g{i}
                body.insert(0, f"c{i}.grad_owned = {mine}")
            # what a contribution of this backward is: its own array (fresh_grads), maybe the
            # owned g{i} handed on (an overwrites_grad backward's only routed result), or neither
            cur: bool | str = (True if op.cls.fresh_grads else
                               f"x is g{i}" if mine is True and n_routes == 1 else
                               f"{mine} and x is g{i}" if mine and n_routes == 1 else False)
            for k, route in enumerate(op.routes):
                if route is None:
                    continue
                kind, j = route
                result = call if single and n_routes == 1 else f"r[{k}]"
                if ran and f"a{i}_{k}" not in seen:
                    body.append(f"{result}  # returns None" if result == call
                                else f"# r[{k}] is None")
                    continue
                env[f"S{i}_{k}"] = self.leaves[j]._data.shape if kind == _LEAF else ops[j].shape
                checks, pad = [], ""
                if not ran:
                    checks.append("if x is not None:")
                    pad = "    "
                if not ran or f"x{i}_{k}" in seen:
                    checks.append(f"{pad}if type(x) is not ndarray or x.shape != S{i}_{k}: "
                                  f"x = fix(x, S{i}_{k}, c{i}){note(f'x{i}_{k}')}")
                if checked:
                    checks.append(f"{pad}OBS.add({f'a{i}_{k}'!r})")
                arrival = "sure" if ran and runs == "sure" else "maybe"
                first = route not in routed
                routed.add(route)
                if kind == _NODE:
                    arrives[j] = "sure" if "sure" in (arrival, arrives.get(j)) else "maybe"
                    lines, owned[j] = _contribution(j, first, owned.get(j, False), cur)
                    if owned[j] == f"h{j}" and owned[j] not in flags:
                        flags.append(owned[j])
                else:
                    leaf_arrives[j] = ("sure" if "sure" in (arrival, leaf_arrives.get(j))
                                       else "maybe")
                    # a leaf: in its dtype, each contribution cast before it is added (as the
                    # engine does); never keep a view of (or the very) gradient another node
                    # holds
                    if not ran or f"d{i}_{k}" in seen:
                        env[f"D{j}"] = self.leaves[j]._data.dtype  # guarded
                        checks.append(f"{pad}if x.dtype is not D{j} and x.dtype != D{j}: "
                                      f"x = x.astype(D{j}){note(f'd{i}_{k}')}")
                    own = f"(x.copy() if x is g{i} or x.base is not None else x)"
                    own = "x" if cur is True else f"(x if {cur} else {own})" if cur else own
                    lines = [f"lg{j} = {own}" if first else
                             f"lg{j} = {own} if lg{j} is None else lg{j} + x"]
                if not checks and len(lines) == 1 and lines[0].endswith(" = x"):
                    body.append(lines[0][:-1] + result)  # x's only use: assign the result
                else:
                    body += [f"x = {result}", *checks, *(pad + line for line in lines)]
            body.append(f"c{i} = g{i} = None")
            if runs == "sure":
                code += [f"    # {op.cls.__name__}", *("    " + line for line in body)]
            else:
                code += [f"    if g{i} is not None:  # {op.cls.__name__}",
                         *("        " + line for line in body)]
        for j in self.trained:
            if leaf_arrives.get(j) == "sure":  # Tensor._wrap, inlined
                # NOTE: four single stores: a four-target assignment builds and unpacks a tuple
                # (callgrind: ~400 instructions more per gradient)
                code += [f"    t = new(Tensor); t._data = lg{j}; t.grad = None; "
                         f"t.requires_grad = False; t.grad_fn = None; L{j}.grad = t"]
            elif leaf_arrives.get(j):
                code += [f"    L{j}.grad = None if lg{j} is None else wrap(lg{j})"]
        if flags:
            code.insert(flags_at, f"    {' = '.join(flags)} = False")
        code += self._optimizer_step(env, leaf_arrives)
        # NOTE: np.errstate costs about as much as two ufunc calls; under numpy's default error
        # state (underflow already ignored) the program skips it, else it enters one
        env["ERRSTATE"], env["QUIET"] = _ERRSTATE, _quiet_errstate()
        code[backward_start:] = [
            "    quiet = ERRSTATE.get() is QUIET" if _ERRSTATE is not None else "    quiet = False",
            "    if not quiet: es = errstate(under='ignore'); es.__enter__()",
            "    try:",
            *("    " + line for line in code[backward_start:]),
            "    finally:",
            "        if not quiet: es.__exit__(None, None, None)"]
        if checked:
            code.append("    SETTLE()")
        code.append(f"    return o{loss}")
        source = "\n".join(code) + "\n"
        exec(compile(source, "<captured step>", "exec"), env)  # noqa: S102 (our own source)
        return source, env["run"]


def _contribution(j: int, first: bool, before: bool | str, cur: bool | str) -> tuple:
    """The lines that add a backward's result x (inside `if x is not None:`) to node j's
    gradient g{j}, and whether g{j} is then the program's alone: True, False, or "h{j}", a
    variable the lines set at run time.

    `before` says whether g{j} is owned before this contribution, `cur` whether x is (True,
    False or an expression). Owned arrays take the sum in place (np.add(..., out=): the same
    bits as g + x, a + b == b + a), where the sum keeps their dtype; any other sum is a new
    array, owned too. NOTE: x that finds g{j} None becomes g{j} itself, owned only if x is.
    """
    if first:
        if cur is True or cur is False:
            return [f"g{j} = x"], cur
        return [f"g{j} = x", f"h{j} = {cur}"], f"h{j}"
    dynamic = cur is not True  # then x alone (g{j} was None) may be an array others hold
    mark = [f"    h{j} = True"] if dynamic else []
    lines = [f"if g{j} is None:", f"    g{j} = x", *([f"    h{j} = {cur}"] if dynamic else [])]
    if before is not False:
        lines += [f"elif {before} and g{j}.dtype == x.dtype:", f"    add(g{j}, x, out=g{j})",
                  *mark]
    if cur is not False:
        lines += [f"elif {cur} and g{j}.dtype == x.dtype:", f"    g{j} = add(x, g{j}, out=x)",
                  *mark]
    lines += ["else:", f"    g{j} = g{j} + x", *mark]
    return lines, f"h{j}" if dynamic else True


def _fix_grad(x: Any, shape: tuple, ctx: Any) -> np.ndarray:
    """A gradient that is a numpy scalar or still has broadcast axes, made to fit its input."""
    x = np.asarray(x)
    return x if x.shape == shape else reduce_to_shape(x, shape, ctx)


class CapturedStep:
    """A training step traced once per input shape and replayed without graph machinery.

    `fn(*inputs) -> loss` builds the loss from Tensors (e.g. `lambda X, y: F.cross_entropy(
    model(X), y)`). Each call computes fresh gradients (as `optimizer.zero_grad()` then
    `backward()` would), runs `optimizer.step()` if given (a replay writes plain
    SGD's update into its program), and returns the loss. A replay
    equals the eager step bit for bit, or tracing raises CaptureError. Dropout draws new masks
    and batch norm updates its running statistics on every replay. A new input shape (say a
    smaller last batch), a changed `requires_grad`, `train()`/`eval()` or a replaced parameter
    traces a new program. The module docstring lists what is supported, what is refused
    (`.item()` on the step's values, numpy on `.numpy()` feeding an op, ...) and the holes
    capture cannot see (closure variables, `np.asarray` on `.numpy()`, ...).

    >>> import tinygrad_c2 as tg
    >>> from tinygrad_c2 import nn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> opt = tg.optim.SGD(model.parameters(), lr=0.1)
    >>> step = tg.capture(lambda X, y: nn.functional.cross_entropy(model(X), y), optimizer=opt)
    >>> X, y = tg.randn(8, 3), tg.tensor([0, 1] * 4)
    >>> first, second = step(X, y).item(), step(X, y).item()   # traced, then replayed
    >>> second < first
    True
    """

    def __init__(self, fn: Callable[..., Tensor], optimizer: Any = None) -> None:
        self.fn = fn
        self.optimizer = optimizer
        self._programs: dict[tuple, list[_Program]] = {}
        self._last: _Program | None = None
        self._fast: _Program | None = None  # the program that ran last

    def __call__(self, *inputs: Any) -> Tensor:
        # NOTE: the last program first, on the inputs as given: it checks their shapes and
        # dtypes itself. Building and hashing the key costs more than those checks (about 3k
        # instructions a step on the tiny MLP's two inputs, callgrind). Under a
        # trace `instrumented` is set too, so a nested step takes the path below and refuses.
        fast = self._fast
        if fast is not None and not mode.instrumented and mode.grad_enabled:
            out = fast.run(*inputs)
            if out is not _RETRACE:
                return Tensor._wrap(out)
        if mode.tracer is not None:
            raise CaptureError("capture: a captured step cannot run inside another step's trace")
        # NOTE: one plain loop, not two comprehensions: each comprehension is a frame in 3.11
        arrays, shapes = [], []
        for x in inputs:
            a = x._data if isinstance(x, Tensor) else np.asarray(x)
            arrays.append(a)
            shapes.append((a.shape, a.dtype))  # NOTE: a dtype hashes faster than its .str
        key = tuple(shapes)
        if not mode.instrumented and mode.grad_enabled:
            for program in self._programs.get(key, ()):
                out = program.run(*arrays)  # the optimizer's step included
                if out is not _RETRACE:
                    self._fast = program
                    return Tensor._wrap(out)
            loss = self._trace(arrays, key)
        else:  # anomaly mode, profiling or no_grad: the ordinary engine, nothing recorded
            loss = self._eager(arrays, None)
        if self.optimizer is not None:
            self.optimizer.step()
        return loss

    @property
    def source(self) -> str:
        """The straight-line Python of the most recently traced step: the whole training step
        as a static graph framework would run it (read it to see what backprop does). Until
        its first replay it is the program that checks every kernel result; after it, the one
        later replays run (see _Program._compile)."""
        if self._last is None:
            raise CaptureError("capture: nothing traced yet; call the step once first")
        return self._last.source

    def _trace(self, arrays: list[np.ndarray], key: tuple) -> Tensor:
        tracer = _Tracer()
        tracer.key = key
        programs = self._programs.setdefault(key, [])
        loss = self._eager(arrays, tracer)
        programs.insert(0, self._last)
        del programs[_PROGRAMS_PER_SHAPE:]
        self._fast = self._last
        return loss

    def _eager(self, arrays: list[np.ndarray], tracer: _Tracer | None) -> Tensor:
        """Run the step with the ordinary engine; when tracing, record it for replays."""
        if tracer is None:
            tensors = [Tensor(a) for a in arrays]
            loss = self.fn(*tensors)
        else:
            tensors = [Tensor(tracer.input(a)) for a in arrays]
            if self.optimizer is not None:
                for group in self.optimizer.param_groups:
                    for p in group["params"]:
                        tracer.adopt_leaf(p)
            mode.tracer, mode.instrumented = tracer, True
            try:
                loss = self.fn(*tensors)
            finally:
                mode.tracer = None
                mode.instrumented = mode.anomaly or mode.profiling
                tracer.release_leaves()
        if not isinstance(loss, Tensor) or loss.grad_fn is None or loss._data.size != 1:
            raise CaptureError("capture: the step function must return a scalar loss Tensor "
                               "that depends on parameters requiring grad")
        if self.optimizer is not None:
            self.optimizer.zero_grad()
        params = _leaves(loss)
        for p in params:
            p.grad = None
        if tracer is not None:
            self._last = _Program(tracer, loss, self.optimizer)
        loss.backward()
        for p in params:  # NOTE: nothing traced may outlive the trace
            if p.grad is not None and type(p.grad._data) is not np.ndarray:
                p.grad._data = p.grad._data.view(np.ndarray)
        return Tensor._wrap(loss._data.view(np.ndarray))


def _leaves(root: Tensor) -> list[Tensor]:
    """The leaves that require grad under root (the parameters the step trains)."""
    found, stack, seen = {}, [root.grad_fn], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for p in node.parents:
            if isinstance(p, Tensor):
                if p.grad_fn is not None:
                    stack.append(p.grad_fn)
                elif p.requires_grad:
                    found[id(p)] = p
    return list(found.values())


def capture(fn: Callable[..., Tensor], optimizer: Any = None) -> CapturedStep:
    """Trace `fn` (inputs -> scalar loss) once per input shape and replay it on later calls;
    see CapturedStep. With `optimizer`, each call is a whole training step."""
    return CapturedStep(fn, optimizer)

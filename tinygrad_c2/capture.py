"""Captured steps: trace one training step's graph once, then replay its primitives on arrays.

The course describes TensorFlow's model: build the graph once, run it many times. Eager
tinygrad_c2 rebuilds the graph every step (Tensors, nodes, module calls, a heap-ordered backward);
a captured step records the primitives of one step, with where each argument comes from, and
then calls their forward and backward directly, in a fixed order, with no graph machinery.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import mode, reduce_to_shape
from .tensor import Tensor

_CONST, _LEAF, _NODE, _INPUT = range(4)
_new = object.__new__


class _TraceState(threading.local):
    effects: list[Callable[[], None]] | None = None


_trace = _TraceState()


def capturing() -> bool:
    """True while a captured step is being traced (in this thread)."""
    return _trace.effects is not None


def on_replay(effect: Callable[[], None]) -> None:
    """Register a Python side effect of a forward (e.g. BatchNorm1d counting batches) that a
    captured step must repeat on every replay, since replays do not run the model's Python."""
    if _trace.effects is not None:
        _trace.effects.append(effect)


class CaptureError(RuntimeError):
    """The step cannot be captured (or replayed) faithfully; run it eagerly instead."""


class _Op:
    """One recorded primitive: its class, where each argument comes from, where grads go."""

    __slots__ = ("cls", "args", "needs", "routes")  # routes[k]: (kind, index, shape) or None

    def __init__(self, cls: type, args: list, needs: tuple, routes: list) -> None:
        self.cls, self.args, self.needs, self.routes = cls, args, needs, routes


class _Program:
    """The replayable form of one traced step (for one set of input shapes)."""

    def __init__(self, root: Tensor, inputs: list[Tensor], effects: list) -> None:
        nodes, stack, seen = [], [root.grad_fn], {id(root.grad_fn)}
        while stack:  # every node reachable from the loss, iteratively
            node = stack.pop()
            nodes.append(node)
            for p in node.parents:
                if isinstance(p, Tensor) and p.grad_fn is not None and id(p.grad_fn) not in seen:
                    seen.add(id(p.grad_fn))
                    stack.append(p.grad_fn)
        nodes.sort(key=lambda n: n.seq)  # creation order is a valid forward order
        index = {id(n): i for i, n in enumerate(nodes)}
        input_pos = {id(t): k for k, t in enumerate(inputs)}
        self.leaves: list[Tensor] = []
        leaf_pos: dict[int, int] = {}
        self.ops: list[_Op] = []
        for node in nodes:
            args, routes = [], []
            for a, need in zip(node.parents, node.needs_input_grad, strict=True):
                if not isinstance(a, Tensor):
                    args.append((_CONST, a))
                    routes.append(None)
                    continue
                if a.grad_fn is not None:
                    args.append((_NODE, index[id(a.grad_fn)]))
                    routes.append((_NODE, index[id(a.grad_fn)], a.shape) if need else None)
                elif id(a) in input_pos:
                    args.append((_INPUT, input_pos[id(a)]))
                    routes.append(None)
                else:  # a parameter or a constant tensor (buffer): read .data at each replay
                    args.append((_LEAF, a))
                    if need:
                        if id(a) not in leaf_pos:
                            leaf_pos[id(a)] = len(self.leaves)
                            self.leaves.append(a)
                        routes.append((_LEAF, leaf_pos[id(a)], a.shape))
                    else:
                        routes.append(None)
            self.ops.append(_Op(type(node), args, node.needs_input_grad, routes))
        self.effects = effects

        self.source, self.run = self._compile(len(inputs))

    def _compile(self, n_inputs: int) -> tuple[str, Callable[..., np.ndarray]]:
        """Write the step as straight-line Python (forward calls, then backward calls in reverse,
        each gradient routed to a local variable) and compile it once.

        NOTE: replaying a list of ops through a generic loop costs about 2.5 us per op in
        dispatch alone; the generated function has none, and `step.source` shows a student the
        whole training step the way a static graph framework sees it.
        """
        env: dict[str, Any] = {"new": _new, "ndarray": np.ndarray, "asarray": np.asarray,
                               "ones": np.ones, "fix": _fix_grad, "wrap": Tensor._wrap}
        consts: dict[int, str] = {}

        def const(value: Any) -> str:
            if value is None or isinstance(value, (bool, int, float, str)):
                return repr(value)
            if id(value) not in consts:
                consts[id(value)] = f"C{len(consts)}"
                env[consts[id(value)]] = value
            return consts[id(value)]

        trained = {id(t): j for j, t in enumerate(self.leaves)}

        def leaf(t: Tensor) -> str:  # parameters by name; buffers and constants as constants
            return f"L{trained[id(t)]}.data" if id(t) in trained else f"{const(t)}.data"

        inputs = ", ".join(f"X{k}" for k in range(n_inputs))
        code = [f"def run({inputs}):"]
        code += [f"    E{e}()" for e in range(len(self.effects))]
        env.update({f"E{e}": fn for e, fn in enumerate(self.effects)})
        env.update({f"L{j}": leaf for j, leaf in enumerate(self.leaves)})
        last_use = {}
        for i, op in enumerate(self.ops):
            for kind, ref in op.args:
                if kind == _NODE:
                    last_use[ref] = i
        n = len(self.ops)
        code.append("    # forward")
        for i, op in enumerate(self.ops):
            env[f"K{i}"], env[f"N{i}"] = op.cls, op.needs
            args = [const(ref) if kind == _CONST else leaf(ref) if kind == _LEAF
                    else f"o{ref}" if kind == _NODE else f"X{ref}" for kind, ref in op.args]
            code.append(f"    c{i} = new(K{i}); c{i}.saved_tensors = (); "
                        f"c{i}.needs_input_grad = N{i}")
            code.append(f"    o{i} = K{i}.forward(c{i}, {', '.join(args)})  # {op.cls.__name__}")
            code.append(f"    if type(o{i}) is not ndarray: o{i} = asarray(o{i})")
            dead = [k for k, last in last_use.items() if last == i]
            if dead:  # outputs nobody else reads: free them (backward uses the ctxs only)
                code.append(f"    del {', '.join(f'o{k}' for k in dead)}")
        code.append("    # backward")
        code.append("    " + " = ".join([f"g{i}" for i in range(n - 1)] +
                                        [f"lg{j}" for j in range(len(self.leaves))] + ["None"]))
        code.append(f"    g{n - 1} = ones(o{n - 1}.shape, o{n - 1}.dtype)")
        for i in range(n - 1, -1, -1):
            op = self.ops[i]
            code.append(f"    if g{i} is not None:  # {op.cls.__name__}")
            code.append(f"        r = K{i}.backward(c{i}, g{i})")
            code.append("        if type(r) is not tuple: r = (r,)")
            for k, route in enumerate(op.routes):
                if route is None:
                    continue
                kind, j, shape = route
                env[f"S{i}_{k}"] = shape
                code.append(f"        x = r[{k}]")
                code.append("        if x is not None:")
                code.append(f"            if type(x) is not ndarray or x.shape != S{i}_{k}: "
                            f"x = fix(x, S{i}_{k}, c{i})")
                if kind == _NODE:
                    code.append(f"            g{j} = x if g{j} is None else g{j} + x")
                else:  # a leaf: never keep a view of (or the very) gradient another node holds
                    code.append(f"            lg{j} = (x.copy() if x is g{i} or x.base is not None "
                                f"else x) if lg{j} is None else lg{j} + x")
            code.append(f"        c{i} = g{i} = None")
        for j in range(len(self.leaves)):
            cast = f"lg{j} if lg{j}.dtype == L{j}.data.dtype else lg{j}.astype(L{j}.data.dtype)"
            code.append(f"    L{j}.grad = None if lg{j} is None else wrap({cast})")
        code.append(f"    return o{n - 1}")
        source = "\n".join(code) + "\n"
        exec(compile(source, "<captured step>", "exec"), env)  # noqa: S102 (our own source)
        return source, env["run"]


def _fix_grad(x: Any, shape: tuple, ctx: Any) -> np.ndarray:
    """A gradient that is a numpy scalar or still has broadcast axes, made to fit its input."""
    x = np.asarray(x)
    return x if x.shape == shape else reduce_to_shape(x, shape, ctx)


class CapturedStep:
    """A training step traced once per input shape and replayed without graph machinery.

    `fn(*inputs) -> loss` builds the loss from Tensors (e.g. `lambda X, y: F.cross_entropy(
    model(X), y)`). Each call computes fresh gradients of every parameter (as `zero_grad()`
    then `backward()` would), runs `optimizer.step()` if given, and returns the loss. A new
    input shape (say a smaller last batch) is traced once and cached. What a replay does not
    repeat is the Python around the primitives: branches taken at trace time stay taken, and
    constants stay constant (switching `model.eval()` needs a new capture). Dropout draws new
    masks and batch norm updates its running statistics on every replay, as eagerly.

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
        self._programs: dict[tuple, _Program] = {}

    def __call__(self, *inputs: Any) -> Tensor:
        arrays = [x.data if isinstance(x, Tensor) else np.asarray(x) for x in inputs]
        key = tuple((a.shape, a.dtype.str) for a in arrays)
        program = self._programs.get(key)
        if program is None or mode.instrumented or not mode.grad_enabled:
            loss = self._eager(arrays, key, trace=program is None and not mode.instrumented)
        else:
            loss = Tensor._wrap(program.run(*arrays))
        if self.optimizer is not None:
            self.optimizer.step()
        return loss

    @property
    def source(self) -> str:
        """The straight-line Python of the most recently traced step: the whole training step
        as a static graph framework would run it (read it to see what backprop does)."""
        if not self._programs:
            raise CaptureError("capture: nothing traced yet; call the step once first")
        return list(self._programs.values())[-1].source

    def _eager(self, arrays: list[np.ndarray], key: tuple, trace: bool) -> Tensor:
        """Run the step with the ordinary engine; when tracing, record it for replays."""
        tensors = [Tensor(a) for a in arrays]
        _trace.effects = [] if trace else None
        try:
            loss = self.fn(*tensors)
            effects = _trace.effects
        finally:
            _trace.effects = None
        if not isinstance(loss, Tensor) or loss.grad_fn is None or loss.data.size != 1:
            raise CaptureError("capture: the step function must return a scalar loss Tensor "
                               "that depends on parameters requiring grad")
        params = _leaves(loss)
        for p in params:
            p.grad = None
        if trace:
            self._programs[key] = _Program(loss, tensors, effects)
        loss.backward()
        return loss.detach()


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

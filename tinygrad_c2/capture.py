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

    __slots__ = ("cls", "args", "needs", "routes")

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
        self.root_shape, self.root_dtype = root.shape, root.dtype

    def run(self, inputs: list[np.ndarray]) -> np.ndarray:
        """Forward and backward of the recorded step; leaves get fresh .grad; returns the loss."""
        for effect in self.effects:
            effect()
        ops, n = self.ops, len(self.ops)
        outs: list[Any] = [None] * n
        ctxs: list[Any] = [None] * n
        for i, op in enumerate(ops):
            arrays = [ref if kind == _CONST else ref.data if kind == _LEAF
                      else outs[ref] if kind == _NODE else inputs[ref] for kind, ref in op.args]
            ctx = _new(op.cls)
            ctx.saved_tensors, ctx.needs_input_grad = (), op.needs
            out = op.cls.forward(ctx, *arrays)
            outs[i] = out if type(out) is np.ndarray else np.asarray(out)
            ctxs[i] = ctx
        loss = outs[-1]
        outs = None  # the activations live on only in the ctxs that saved them
        grads: list[Any] = [None] * n
        grads[-1] = np.ones(self.root_shape, self.root_dtype)
        leaf_grads: list[Any] = [None] * len(self.leaves)
        for i in range(n - 1, -1, -1):
            g = grads[i]
            if g is None:
                continue
            grads[i] = None
            op, ctx = ops[i], ctxs[i]
            ctxs[i] = None  # release this step's saved arrays as soon as they are used
            in_grads = op.cls.backward(ctx, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for route, ig in zip(op.routes, in_grads):  # noqa: B905 (checked at trace time)
                if route is None or ig is None:
                    continue
                kind, j, shape = route
                if type(ig) is not np.ndarray:
                    ig = np.asarray(ig)
                if ig.shape != shape:
                    ig = reduce_to_shape(ig, shape, ctx)
                if kind == _NODE:
                    grads[j] = ig if grads[j] is None else grads[j] + ig
                elif leaf_grads[j] is None:
                    leaf_grads[j] = ig.copy() if ig is g or ig.base is not None else ig
                else:
                    leaf_grads[j] = leaf_grads[j] + ig
        for leaf, g in zip(self.leaves, leaf_grads, strict=True):
            if g is not None and g.dtype != leaf.data.dtype:
                g = g.astype(leaf.data.dtype)
            leaf.grad = None if g is None else Tensor._wrap(g)
        return loss


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
            loss = Tensor._wrap(program.run(arrays))
        if self.optimizer is not None:
            self.optimizer.step()
        return loss

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

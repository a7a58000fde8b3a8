"""The backward sweep: traversal order, gradient accumulation, undoing broadcasting, grad and
anomaly modes. No op repeats this work."""

from __future__ import annotations

import contextvars
import functools
import threading
import time
import weakref
from collections.abc import Callable
from heapq import heapify, heappop, heappush, heapreplace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .function import Function
    from .tensor import Tensor


class _Mode(threading.local):
    """Per-thread switches, so a tuning trial in one thread cannot flip another's grad mode.

    `instrumented` is anomaly, profiling or a captured step's trace (`tracer`): the one flag
    the hot path reads.
    """

    grad_enabled: bool = True
    inference: bool = False  # inside tg.inference_mode()
    anomaly: bool = False
    profiling: bool = False
    instrumented: bool = False
    tracer: Any = None  # the capture._Tracer recording this thread's ops, while tracing


mode = _Mode()


def is_grad_enabled() -> bool:
    """True when new operations record the graph for backward.

    >>> import tinygrad_c2 as tg
    >>> with tg.no_grad():
    ...     tg.is_grad_enabled()
    False
    """
    return mode.grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it on exit."""

    enabled = True

    def __enter__(self) -> None:
        self._prev = mode.grad_enabled
        mode.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        mode.grad_enabled = self._prev

    def _fresh(self) -> _GradMode:
        """A new manager of the same mode, one per call of a decorated function."""
        return type(self)()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 (PyTorch's spelling)
    """Record no graph inside: for evaluation and optimizer updates.

    >>> import tinygrad_c2 as tg
    >>> w = tg.ones(2, requires_grad=True)
    >>> with tg.no_grad():
    ...     (w * 2).requires_grad
    False
    """

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record the graph again inside a no_grad region."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Turn graph recording on or off: at once as a call (`tg.set_grad_enabled(False)`), or
    for a block as a context manager or decorator, restoring the previous mode after.

    >>> import tinygrad_c2 as tg
    >>> with tg.set_grad_enabled(False):
    ...     tg.is_grad_enabled()
    False
    >>> tg.is_grad_enabled()
    True
    """

    def __init__(self, enabled: bool) -> None:
        if not isinstance(enabled, bool):
            raise TypeError(f"set_grad_enabled: enabled must be a bool, got "
                            f"{type(enabled).__name__}")
        self._prev, self.enabled = mode.grad_enabled, enabled
        mode.grad_enabled = enabled

    def __enter__(self) -> None:
        pass  # the mode was set when the object was made

    def __exit__(self, *exc: object) -> None:
        mode.grad_enabled = self._prev

    def _fresh(self) -> _GradMode:
        return set_grad_enabled(self.enabled)

    def __call__(self, fn: Callable) -> Callable:
        mode.grad_enabled = self._prev  # as a decorator it changes nothing until fn runs
        return super().__call__(fn)


class inference_mode(_GradMode):  # noqa: N801
    """no_grad for inference, with PyTorch's spelling: context manager and decorator (with or
    without parentheses). `inference_mode(False)` records the graph again inside.
    NOTE: tensors made inside are ordinary constants; PyTorch's "inference tensors" and their
    extra restrictions do not exist here.

    >>> import tinygrad_c2 as tg
    >>> with tg.inference_mode():
    ...     tg.is_inference_mode_enabled(), tg.is_grad_enabled()
    (True, False)
    """

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # bare @tg.inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.inference = bool(mode)
        self.enabled = not self.inference

    def __enter__(self) -> None:
        super().__enter__()
        self._prev_inference = mode.inference
        mode.inference = self.inference

    def __exit__(self, *exc: object) -> None:
        super().__exit__()
        mode.inference = self._prev_inference

    def _fresh(self) -> _GradMode:
        return inference_mode(self.inference)


def is_inference_mode_enabled() -> bool:
    """True inside tg.inference_mode()."""
    return mode.inference


class _InstrumentedMode:
    """A `with` block that turns one instrumented mode (named by `flag`) on, then restores it."""

    flag = ""

    def __enter__(self) -> None:
        self._prev = getattr(mode, self.flag)
        setattr(mode, self.flag, True)
        mode.instrumented = True

    def __exit__(self, *exc: object) -> None:
        setattr(mode, self.flag, self._prev)
        mode.instrumented = mode.anomaly or mode.profiling or mode.tracer is not None


class detect_anomaly(_InstrumentedMode):  # noqa: N801
    """Raise at the first op whose forward or backward produces NaN or inf, naming the op and
    the line of user code that created it. Slower: use it to debug, not to train.

    >>> import tinygrad_c2 as tg
    >>> with tg.detect_anomaly():
    ...     tg.tensor([-1.0]).log()
    Traceback (most recent call last):
    ...
    tinygrad_c2.engine.AnomalyError: Log forward produced nan; the op was created at ...
    """

    flag = "anomaly"


class profiling(_InstrumentedMode):  # noqa: N801
    """Record each node's forward and backward wall time (seconds) as `node.forward_time` and
    `node.backward_time`; tg.viz.profile builds on it.

    >>> import tinygrad_c2 as tg
    >>> w = tg.ones(3, requires_grad=True)
    >>> with tg.engine.profiling():
    ...     y = (w * 2).sum()
    ...     y.backward()
    >>> y.grad_fn.forward_time > 0 and y.grad_fn.backward_time > 0
    True
    """

    flag = "profiling"


class AnomalyError(FloatingPointError, RuntimeError):
    """Raised in anomaly mode when an op produces NaN/inf: a RuntimeError, as PyTorch's anomaly
    error is (a PyTorch user's `except RuntimeError` catches it), and a FloatingPointError for
    numpy-style code."""


def check_finite(node: Function, arrays: tuple, phase: str) -> None:
    """Anomaly mode: raise naming the op and its creation site if any array is not finite."""
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all():
            bad = "nan" if np.isnan(a).any() else "inf"
            where = f" (output {i})" if phase == "backward" else ""
            raise AnomalyError(
                f"{type(node).__name__} {phase} produced {bad}{where}; "
                f"the op was created at {node.created_at or 'an unknown place'}"
            )


def _broadcast_axes(gshape: tuple, shape: tuple, node: Function, method: str) -> tuple:
    """The axes of a gradient of shape `gshape` that broadcasting expanded from `shape` (to sum
    away), or a RuntimeError naming the node's `method` that returned it."""
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gshape[lead + i] for i, s in enumerate(shape)):
        raise RuntimeError(
            f"{type(node).__name__} {method} returned a gradient of shape {tuple(gshape)} that "
            f"does not broadcast to its input's shape {shape}"
        )
    return (*range(lead), *(lead + i for i, s in enumerate(shape)
                            if s == 1 and gshape[lead + i] != 1))


def reduce_to_shape(g: np.ndarray, shape: tuple, node: Function) -> np.ndarray:
    """Sum a gradient over the axes that broadcasting expanded, back to the input's shape."""
    axes = _broadcast_axes(g.shape, shape, node, "backward")
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _second_walk(node: Function) -> RuntimeError:
    """The error for a backward through a node whose saved arrays an earlier one freed."""
    return RuntimeError(
        f"backward through {type(node).__name__} a second time: its saved arrays were freed by "
        "the first backward. Pass retain_graph=True (or create_graph=True) to the first "
        ".backward() if you need to walk the graph twice."
    )


_FREED = object()  # sentinel for saved_tensors after a backward without retain_graph


# ---------------------------------------------------------------- version checks (in-place ops)
# NOTE: PyTorch keeps a version counter on every tensor and checks each saved tensor at every
# backward. Here the ordinary op pays nothing: an in-place op stamps the array it modified (by
# the array that owns the memory, so every view and `.data`/`detach()` of it counts) with a
# fresh sequence number, and a backward checks only the nodes created before the latest stamp.

_modified: dict[int, tuple[weakref.ref, int, str]] = {}  # id(owner) -> (owner, stamp, op name)
last_inplace = -1  # the stamp of the latest in-place op (-1: none yet)


def _owner(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory (a itself if it is no view)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _forget(key: int) -> Callable[[weakref.ref], None]:
    def forget(_: weakref.ref) -> None:
        _modified.pop(key, None)

    return forget


def mark_modified(array: np.ndarray, op: str, stamp: int) -> None:
    """Record that `op` (e.g. "add_") wrote into `array` at sequence number `stamp`: every node
    created before it that saved this memory (or a view of it) refuses to run backward."""
    global last_inplace
    owner = _owner(array)
    key = id(owner)
    entry = _modified.get(key)
    ref = entry[0] if entry is not None and entry[0]() is owner else weakref.ref(owner,
                                                                                 _forget(key))
    _modified[key] = (ref, stamp, op)
    last_inplace = stamp


def _modified_after(a: Any, seq: int) -> str | None:
    """The in-place op that wrote into a's memory after node `seq` was made, else None."""
    if not isinstance(a, np.ndarray):
        a = getattr(a, "_data", None)  # a Tensor-style user Function saves Tensors
        if not isinstance(a, np.ndarray):
            return None
    owner = _owner(a)
    entry = _modified.get(id(owner))
    if entry is not None and entry[1] > seq and entry[0]() is owner:
        return entry[2]
    return None


def _check_versions(node: Function) -> None:
    """The slow path of the sweep, for a node older than the latest in-place op: refuse if an
    array it saved was modified since, or if it is a view of an input that an in-place op
    rebased since (gave a new grad_fn).

    NOTE: no gradient needs rerouting after a rebase: a node holds each input another op made
    as a stand-in carrying the producer of the moment it was recorded (Function.apply), and
    a leaf that wants a gradient cannot be modified in place while recording.
    """
    seq = node.seq
    for s in node.saved_tensors:
        for a in s if type(s) in (tuple, list) else (s,):
            op = _modified_after(a, seq)
            if op is not None:
                shape = "x".join(map(str, a.shape)) or "0-d"
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: {type(node).__name__} saved an array ({shape}, "
                    f"{a.dtype}) for its backward, and {op} modified it afterwards. Compute on a "
                    "copy (.clone()), or modify it only after backward"
                )
    if not node.returns_view:
        return
    for p, need in zip(node.parents, node.needs_input_grad):  # noqa: B905
        history = getattr(p, "_rebases", None)
        if need and history and history[-1][0] > seq:
            op = next(h for h in history if h[0] > seq)[3]
            raise RuntimeError(
                f"{type(node).__name__} made a view of a tensor that {op} modified in place "
                "afterwards, so the view's values changed with no record of it in the graph "
                "(PyTorch rewrites the view's history; tinygrad_c2 does not). Take the view "
                "after the in-place op, or .clone() it"
            )


def _default_errstate() -> tuple[Any, Any]:
    """numpy's error-state context variable and its default value if that default ignores
    underflow, else (None, None). NOTE: numpy 2 keeps the state in the private
    `numpy._core.umath._extobj_contextvar`; a fresh Context sees its default. Without it
    (another numpy), backward simply always enters np.errstate."""
    try:
        from numpy._core.umath import _extobj_contextvar
    except ImportError:
        return None, None
    fresh = contextvars.Context()
    if fresh.run(np.geterr)["under"] != "ignore":
        return None, None
    return _extobj_contextvar, fresh.run(_extobj_contextvar.get)


#: numpy's error-state context variable (None: another numpy layout, or a default that does
#: not ignore underflow); capture.py reads it too
errstate_var, _DEFAULT_ERRSTATE = _default_errstate()


def default_errstate() -> bool:
    """True when numpy's error state is its default, which ignores underflow: then backward
    and the optimizers need no np.errstate(under="ignore") (about 10,000 instructions)."""
    return errstate_var is not None and errstate_var.get() is _DEFAULT_ERRSTATE


_released_inputs: Callable | None = None  # function.released_inputs, once backward first runs
_wrap: Callable = None  # type: ignore[assignment]  # Tensor._wrap, bound with it
_Tensor: Any = None  # the Tensor class, bound with it


def _bind_released_inputs() -> Callable:
    """function.released_inputs (and Tensor._wrap). NOTE: bound at the first backward, not
    imported at the top (function.py imports this module), and not imported per call (about a
    microsecond)."""
    global _released_inputs, _wrap, _Tensor
    from .function import released_inputs
    from .tensor import Tensor

    _released_inputs, _wrap, _Tensor = released_inputs, Tensor._wrap, Tensor
    return released_inputs


def backward(root: Tensor, seed: np.ndarray, retain_graph: bool,
             seed_owned: bool = False) -> None:
    """Propagate `seed` from `root` to every leaf that requires grad.

    Nodes are processed in decreasing creation order (a max-heap on their sequence number):
    every consumer of a tensor was created after it, so when a node is popped all gradient
    contributions to its output have arrived. One pass, no recursion, any depth.
    `seed_owned`: the seed is an array the caller made for this call and nobody else holds
    (Tensor.backward's ones), so the root's backward may overwrite it (gradient ownership).
    """
    # NOTE: a gradient that underflows to 0 is the correct result (PyTorch never reports it),
    # so backward ignores underflow even under np.errstate(all="raise"): one errstate per
    # backward call, not one per node, and none in numpy's default state, which ignores
    # underflow already (an errstate costs about 10,000 instructions, 1% of a tiny step).
    # Overflow and invalid still raise.
    owned = {root.grad_fn: seed} if seed_owned and seed.size >= OWNED_MIN_SIZE else None
    if errstate_var is not None and errstate_var.get() is _DEFAULT_ERRSTATE:  # default_errstate()
        _sweep({root.grad_fn: seed}, retain_graph, None, owned)
    else:
        with np.errstate(under="ignore"):
            _sweep({root.grad_fn: seed}, retain_graph, None, owned)


def gradients(outputs: list[tuple[Tensor, np.ndarray]], targets: list[Tensor] | None,
              retain_graph: bool) -> list[Tensor | None]:
    """One sweep from several (output, seed) pairs (tg.autograd.backward and .grad).

    With `targets` None, gradients accumulate into the leaves' .grad as in backward. Otherwise
    no .grad is set and the gradient w.r.t. each target is returned (None for a target the
    outputs do not depend on): a target with a producer collects its node's output gradient
    where the sweep already serves retain_grad (the node's `retained` slot, swapped for a
    collector during the sweep), a leaf target where leaves accumulate. So the ordinary
    backward pays nothing for this.
    """
    collector = _wrap if _released_inputs else (_bind_released_inputs() and _wrap)
    leaves: dict[int, Tensor] | None = None if targets is None else {}
    nodes: dict[Function, Tensor] = {}
    swapped: dict[Function, Any] = {}  # node -> the retain_grad tensor it had
    for t in targets or ():
        node = t.grad_fn
        if node is None:
            leaves.setdefault(id(t), collector(t._data))  # type: ignore[union-attr]
        elif node not in nodes:
            nodes[node] = collector(t._data)
            swapped[node], node.retained = node.retained, nodes[node]
    seeds: dict[Function, np.ndarray] = {}
    for t, seed in outputs:
        node = t.grad_fn
        if node is not None:
            seeds[node] = seeds[node] + seed if node in seeds else seed
        elif leaves is None:
            _accumulate(t, seed, copy=True)
        elif id(t) in leaves:  # an output that is itself a target: its gradient is its seed
            _accumulate(leaves[id(t)], seed, copy=True)
    try:
        if seeds:
            with np.errstate(under="ignore"):
                _sweep(seeds, retain_graph, leaves)
    finally:
        for node, kept in swapped.items():
            node.retained = kept
    if targets is None:
        return []
    for node, kept in swapped.items():  # retain_grad still fills .grad, as in PyTorch
        if kept is not None and nodes[node].grad is not None:
            _accumulate(kept, nodes[node].grad._data, copy=True)
    return [(leaves[id(t)] if t.grad_fn is None else nodes[t.grad_fn]).grad  # type: ignore
            for t in targets]


#: the smallest gradient (in elements) whose ownership the sweep tracks: below it a new array
#: costs less than the bookkeeping (callgrind: tracking every array made the tiny MLP step
#: 1.4% slower, the small one's 64 x 128 arrays 0.6%); a module global so tests can lower it
OWNED_MIN_SIZE = 16384


def _sweep(grads: dict[Function, np.ndarray], retain_graph: bool,
           leaves: dict[int, Tensor] | None, owned: dict[Any, np.ndarray] | None = None) -> None:
    """The backward sweep proper (see backward).

    Gradient ownership: `owned` maps a node (or a leaf's id) to its pending gradient when that
    array is one nobody else holds: the seed the caller made (`owned` given), a sum this sweep
    made, a `fresh_grads` backward's result handed to this node alone, or an owned gradient an
    `overwrites_grad` backward returned once. Such a gradient takes further contributions in
    place (np.add(..., out=), bit for bit the same sum), and an `overwrites_grad` node gets
    `grad_owned = True` for its backward, which may then write into it. Everything else (a
    pass-through such as Add's, a view such as Reshape's, the user's `gradient=`, a saved
    array) is never written into. NOTE: a retained gradient (retain_grad, autograd.grad's
    targets) is copied before backward runs, so it never sees an overwrite.
    """
    released_inputs = _released_inputs or _bind_released_inputs()
    released: dict[int, Tensor] | None = None  # tensor id -> its stand-in, once it is freed
    if owned is None:
        owned = {}
    min_size = OWNED_MIN_SIZE
    if len(grads) > 1:
        heap = [(-node.seq, node) for node in grads]
        heapify(heap)
    else:  # one root, the usual backward: no heap until a node has two inputs with producers
        heap = []
    instrumented = mode.instrumented and (mode.anomaly or mode.profiling)
    anomaly = instrumented and mode.anomaly
    new, tensor, ndarray = object.__new__, _Tensor, np.ndarray
    stamp = last_inplace  # nodes created before it may have seen an in-place op
    # NOTE: `pending` holds the latest node found, outside the heap: in a chain (an MLP's
    # backward) it is the next node, so most nodes skip a heap push and pop. The node processed
    # is still the newest of the heap and pending together.
    pending = None if heap else next(iter(grads), None)
    while heap or pending is not None:
        if pending is None:
            node = heappop(heap)[1]
        elif heap and heap[0][0] < -pending.seq:  # the heap holds a newer node: that one first
            node = heapreplace(heap, (-pending.seq, pending))[1]
            pending = None
        else:
            node, pending = pending, None
        g = grads.pop(node)
        # NOTE: popped, not looked up: the dict must not keep a gradient alive after its node
        mine = owned.pop(node, None) is g if owned else False
        saved = node.saved_tensors
        if saved is _FREED:
            raise _second_walk(node)
        if node.seq < stamp:
            _check_versions(node)
        if node.retained is not None:
            _accumulate(node.retained, g, copy=True)
        if not retain_graph and node.reuses_saved:  # the graph is freed after this backward
            node.saved_last_use = True
        if mine and node.overwrites_grad:  # NOTE: the flag is read for owned gradients only
            node.grad_owned = True
        else:
            mine = False
        try:
            if not instrumented:
                in_grads = node.backward(node, g)
            elif anomaly:
                with np.errstate(all="ignore"):
                    in_grads = node.backward(node, g)
            else:
                t0 = time.perf_counter()
                in_grads = node.backward(node, g)
                node.backward_time = time.perf_counter() - t0
        except FloatingPointError as e:  # only under a raising np.errstate: name the op
            raise FloatingPointError(f"{type(node).__name__} backward: {e}") from None
        finally:
            if mine:
                node.grad_owned = False  # True only while its backward runs
        # which of the input gradients nobody else holds: all of a fresh_grads backward's, or
        # the owned g an overwrites_grad backward returned for exactly one input
        if type(in_grads) is not tuple:
            in_grads, handoff = (in_grads,), mine
        else:
            handoff = mine and _returned_once(g, in_grads)
        fresh = node.fresh_grads
        if anomaly:
            check_finite(node, in_grads, "backward")
        parents = node.parents
        if not retain_graph:
            if saved:
                node.saved_tensors = _FREED  # release the arrays; a second walk is then an error
            constants = node.holds_constants
            if constants:  # and the batch's values (activations are stand-ins)
                if released is None:
                    released = {}
                node.parents = released_inputs(parents, constants, released)
        if len(in_grads) != len(parents):
            raise RuntimeError(
                f"{type(node).__name__}.backward returned {len(in_grads)} gradients for "
                f"{len(parents)} forward inputs"
            )
        for parent, need, ig in zip(parents, node.needs_input_grad, in_grads):  # noqa: B905
            if not need or ig is None:
                continue
            if type(ig) is not ndarray:
                ig = np.asarray(ig)
            data = parent._data
            if ig.shape != data.shape:  # (a reshape of g is not g: not handed on as owned)
                ig = reduce_to_shape(ig, data.shape, node)
            pnode = parent.grad_fn
            if pnode is not None:
                if pnode in grads:  # fan-in: a second (third, ...) gradient for this node
                    acc = grads[pnode]
                    if owned.get(pnode) is acc and acc.dtype is ig.dtype:
                        np.add(acc, ig, out=acc)
                    elif (fresh or (handoff and ig is g)) and acc.dtype is ig.dtype:
                        owned[pnode] = grads[pnode] = np.add(ig, acc, out=ig)  # a + b == b + a
                    else:
                        # NOTE: never in place into an array the sweep does not own: acc may be
                        # a backward's pass-through of its own grad (Add), a view, a saved array
                        # or the user's seed. The sum is the sweep's own: later ones go into it.
                        acc = grads[pnode] = acc + ig
                        if acc.ndim:  # (a sum of 0-d arrays is a numpy scalar: no out=)
                            owned[pnode] = acc
                else:
                    grads[pnode] = ig
                    if (fresh or (handoff and ig is g)) and ig.size >= min_size:
                        owned[pnode] = ig  # nobody else holds it: see the docstring
                    if pending is None:
                        pending = pnode
                    else:
                        heappush(heap, (-pnode.seq, pnode))
                continue
            if leaves is not None:  # gradients(): collect for the chosen leaves only
                if id(parent) in leaves:
                    _accumulate(leaves[id(parent)], ig, copy=True)
                continue
            # A leaf: accumulate into .grad, in the leaf's dtype.
            if ig.dtype is not data.dtype and ig.dtype != data.dtype:
                ig = ig.astype(data.dtype)
            elif (ig is g or ig.base is not None) and not (handoff and ig is g):
                # NOTE: a backward may pass its incoming gradient straight through (Add) or as a
                # view (Reshape); copy so that two leaves never share one .grad buffer (an
                # owned g handed on once is this leaf's alone).
                ig = ig.copy()
            if parent.grad is None:
                t = new(tensor)  # Tensor._wrap(ig), inlined: once per parameter and step
                t._data = ig
                t.grad = None
                t.requires_grad = False
                t.grad_fn = None
                parent.grad = t
                continue
            acc = parent.grad._data
            if owned.get(id(parent)) is acc and acc.dtype is ig.dtype:  # see fan-in above
                np.add(acc, ig, out=acc)
            else:  # the .grad of an earlier backward, which the user may hold, stays as it was
                acc = parent.grad._data = acc + ig
                if acc.ndim:
                    owned[id(parent)] = acc


def _returned_once(g: np.ndarray, in_grads: tuple) -> bool:
    """True if g is among a backward's results exactly once (twice: two inputs share it)."""
    count = 0
    for ig in in_grads:
        if ig is g:
            count += 1
    return count == 1


def _accumulate(t: Tensor, g: np.ndarray, copy: bool) -> None:
    """Add g into t.grad (PyTorch's accumulation), keeping t's dtype."""
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
        copy = False
    if t.grad is None:
        t.grad = t._wrap(g.copy() if copy else g)
    else:
        t.grad._data = t.grad._data + g


# ---------------------------------------------------------------- create_graph (higher order)
# NOTE: the first-order sweep above stays numpy-only. With create_graph=True this second sweep
# runs instead: the same order and the same accumulation rules, but every gradient is a Tensor
# and every node's `backward_graph` computes its input gradients with Tensor ops, which record
# a graph of their own (grad mode is on inside), so the gradients can be differentiated again.


def graph_gradients(outputs: list[tuple[Tensor, Tensor]], targets: list[Tensor] | None,
                    retain_graph: bool) -> list[Tensor | None]:
    """gradients() with create_graph=True: `outputs` pairs each output with its seed Tensor
    (which may itself require grad). With `targets` None the gradients accumulate into the
    leaves' .grad (as Tensors with a graph); otherwise they are returned, one per target."""
    from .tensor import Tensor  # NOTE: higher order is no hot path: a local import is fine

    if mode.tracer is not None:
        from .capture import CaptureError

        raise CaptureError("create_graph=True inside a captured step: a captured program "
                           "replays first-order backward only; run this step eagerly")
    leaves: dict[int, list] | None = None
    nodes: dict[Function, list] = {}
    if targets is not None:
        leaves = {}
        for t in targets:
            if t.grad_fn is None:
                leaves.setdefault(id(t), [None])
            else:
                nodes.setdefault(t.grad_fn, [None])
    seeds: dict[Function, Tensor] = {}
    for t, seed in outputs:
        node = t.grad_fn
        if node is not None:
            seeds[node] = seeds[node] + seed if node in seeds else seed
        elif leaves is None:
            _accumulate_graph(t, seed)
        elif id(t) in leaves:
            cell = leaves[id(t)]
            cell[0] = seed if cell[0] is None else cell[0] + seed
    if seeds:
        with enable_grad(), np.errstate(under="ignore"):
            _sweep_graph(seeds, retain_graph, leaves, nodes, Tensor)
    if targets is None:
        return []
    return [(leaves[id(t)] if t.grad_fn is None else nodes[t.grad_fn])[0]  # type: ignore
            for t in targets]


def _sweep_graph(grads: dict[Function, Tensor], retain_graph: bool,
                 leaves: dict[int, list] | None, nodes: dict[Function, list],
                 tensor_cls: type[Tensor]) -> None:
    """The create_graph sweep (see graph_gradients): nodes in decreasing creation order, as in
    _sweep, each calling its differentiable backward."""
    heap = [(-node.seq, node) for node in grads]
    heapify(heap)
    stamp = last_inplace
    while heap:
        node = heappop(heap)[1]
        g = grads.pop(node)
        if node.saved_tensors is _FREED:
            raise _second_walk(node)
        if node.seq < stamp:
            _check_versions(node)
        if node in nodes:  # an intermediate target of autograd.grad: its gradient is g
            nodes[node][0] = g
        if node.retained is not None:
            _accumulate_graph(node.retained, g)
        backward_graph = type(node).backward_graph
        if backward_graph is None:
            raise RuntimeError(_no_graph_backward(node))
        in_grads = backward_graph(node, g)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        parents = node.parents
        if len(in_grads) != len(parents):
            raise RuntimeError(
                f"{type(node).__name__}.backward_graph returned {len(in_grads)} gradients for "
                f"{len(parents)} forward inputs"
            )
        if mode.anomaly:
            check_finite(node, tuple(getattr(ig, "_data", ig) for ig in in_grads), "backward")
        if not retain_graph and node.saved_tensors:
            node.saved_tensors = _FREED
        for parent, need, ig in zip(parents, node.needs_input_grad, in_grads):  # noqa: B905
            if not need or ig is None:
                continue
            if not isinstance(ig, tensor_cls):  # a user backward_graph may return an array
                ig = tensor_cls._wrap(np.asarray(ig))
            data = parent._data
            if ig._data.shape != data.shape:
                ig = _sum_to_shape(ig, data.shape, node)
            pnode = parent.grad_fn
            if pnode is not None:
                if pnode in grads:
                    grads[pnode] = grads[pnode] + ig
                else:
                    grads[pnode] = ig
                    heappush(heap, (-pnode.seq, pnode))
            elif leaves is not None:
                cell = leaves.get(id(parent))
                if cell is not None:
                    cell[0] = ig if cell[0] is None else cell[0] + ig
            else:
                if ig._data.dtype != data.dtype:
                    ig = ig.to(data.dtype)
                _accumulate_graph(parent, ig)


def _sum_to_shape(g: Tensor, shape: tuple, node: Function) -> Tensor:
    """reduce_to_shape for a Tensor gradient, with Tensor ops (so it stays differentiable)."""
    axes = _broadcast_axes(tuple(g.shape), shape, node, "backward_graph")
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(shape)


def _accumulate_graph(t: Tensor, g: Tensor) -> None:
    """Add g into t.grad keeping g's graph (PyTorch's accumulation under create_graph)."""
    if g._data.dtype != t._data.dtype:
        g = g.to(t._data.dtype)
    if t.grad is None:
        # NOTE: always a differentiable copy, as PyTorch's: g may be the seed, another leaf's
        # gradient (Add passes it through) or a read-only broadcast view (Sum's)
        t.grad = g.clone()
    else:
        t.grad = t.grad + g


def _no_graph_backward(node: Function) -> str:
    """The message for a node with no differentiable backward under create_graph=True."""
    cls = type(node)
    if cls.tensor_style is False:
        return (f"{cls.__name__}: its backward works on numpy arrays, so its gradient cannot be "
                "differentiated again (create_graph=True). Write it in Tensor style "
                "(`tensor_style = True`, Tensor ops only), or give the class a "
                "`backward_graph(ctx, grad)` made of Tensor ops")
    return (f"{cls.__name__} has no differentiable backward yet, so create_graph=True cannot go "
            "through it (higher-order gradients)")

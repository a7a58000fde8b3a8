"""What the benchmark measures besides time: graph memory, peak step memory, page faults, RSS.

``tinygrad_graph_bytes`` and ``torch_graph_bytes`` count the arrays one step's kept loss holds
before backward (leaves not counted); ``peak_step_memory`` the bytes a steady-state step
allocates at its peak (tracemalloc); ``minor_faults`` and ``rss`` read the process's counters.
"""

from __future__ import annotations

import gc
import resource
import sys
import tracemalloc
import types
from collections.abc import Callable, Iterable

import numpy as np


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns a view's memory (what keeping the view keeps alive)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _arrays_in(value, depth: int = 3):
    """The numpy arrays in a node's attribute: itself, or inside tuples, lists and dicts."""
    if isinstance(value, np.ndarray):
        yield value
    elif depth and isinstance(value, (tuple, list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _arrays_in(item, depth - 1)


def tinygrad_graph_bytes(loss) -> int:
    """Bytes of the distinct arrays a tinygrad_c2 ``loss`` keeps alive through its graph
    before backward: the nodes' saved arrays and attributes, and the non-leaf inputs the nodes
    hold (a node keeps its parent Tensors, so their values too). Leaves (parameters, inputs)
    and the loss's own value are not counted: they live without the graph. Neither is the one
    zero per dtype that every value-free stand-in views (function._NO_VALUES): made once for
    the process, it is alive with or without any graph.

    >>> import tinygrad_c2 as tg
    >>> x = tg.ones(3, 4, dtype=tg.float64, requires_grad=True)
    >>> tinygrad_graph_bytes((x.exp() * 2.0).sum())  # Exp's output; Sum's stand-in holds none
    96
    """
    from tinygrad_c2.function import _NO_VALUES
    from tinygrad_c2.tensor import Tensor

    leaves, held = {id(zero) for zero in _NO_VALUES.values()}, {}
    stack, seen = [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        arrays = list(_arrays_in(node.saved_tensors)) + list(_arrays_in(vars(node)))
        for parent in node.parents:
            if isinstance(parent, Tensor):
                if parent.grad_fn is None:
                    leaves.add(id(_root(parent._data)))
                else:
                    arrays.append(parent._data)
                    stack.append(parent.grad_fn)
            else:
                arrays += _arrays_in(parent)
        for a in arrays:
            root = _root(a)
            held[id(root)] = root.nbytes
    return sum(nbytes for key, nbytes in held.items() if key not in leaves)


def torch_graph_bytes(forward: Callable[[], object], leaves) -> int:
    """Bytes of the distinct storages PyTorch's autograd graph saves while ``forward()``
    builds one loss (torch.autograd.graph.saved_tensors_hooks sees every saved tensor), not
    counting the storages of ``leaves`` (parameters, inputs)."""
    import torch

    leaf_storages = {t.untyped_storage().data_ptr() for t in leaves}
    held: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in leaf_storages:
            held[storage.data_ptr()] = storage.nbytes()
        return t  # NOTE: kept, so no saved storage is freed (and its address reused) meanwhile

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward()
    del loss
    return sum(held.values())


def peak_step_memory(step: Callable[[], None]) -> int:
    """Bytes a steady-state ``step()`` allocates at its peak, above what was allocated before
    it (tracemalloc: every numpy array, not PyTorch's own allocator)."""
    tracemalloc.start()
    try:
        step()  # first traced step: lazily created state is not the steady state
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _reachable_arrays(roots: Iterable[object]) -> dict[int, np.ndarray]:
    """{id: array} of the distinct owning arrays reachable from ``roots`` through object
    references (attributes, slots, containers, closures, a compiled program's own globals),
    not through modules, classes or a module's globals (the rest of the world)."""
    world = {id(m.__dict__) for m in list(sys.modules.values()) if m is not None}
    found: dict[int, np.ndarray] = {}
    stack, seen = list(roots), set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (types.ModuleType, type)) or id(obj) in world:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            root = _root(obj)
            found[id(root)] = root
            continue
        stack.extend(gc.get_referents(obj))
    return found


def tinygrad_scratch() -> dict[str, np.ndarray]:
    """This thread's scratch buffers of tinygrad_c2's conv, pooling and LSTM kernels
    (nn/functional/workspace.py), by role: memory the library keeps between steps that no
    model refers to, so following an implementation's references never reaches it."""
    from tinygrad_c2.nn.functional import workspace

    # NOTE: the module's own per-thread store; clearing it (between workloads) only means the
    # next kernel call allocates its buffer again
    if getattr(workspace._local, "buffers", None) is None:
        workspace._local.buffers = {}
    return workspace._local.buffers


def held_bytes(impl, baseline: Iterable[object]) -> int:
    """Bytes of the arrays reachable from ``impl.held_roots()``: what it keeps alive between
    steps (gradients, optimizer state, running statistics, a captured program's buffers,
    workspaces, caches), not counting those
    reachable from ``baseline`` (its parameters, the batch, the starting weights kept for
    ``reset``: what every implementation holds alike, or the benchmark's own bookkeeping).

    >>> class Step:
    ...     def __init__(self):
    ...         self.weights, self.cache = np.zeros(10), [np.zeros(4)]
    ...     def held_roots(self):
    ...         return [self]
    >>> step = Step()
    >>> held_bytes(step, [step.weights])
    32
    """
    excluded = _reachable_arrays(baseline)
    return sum(a.nbytes for key, a in _reachable_arrays(impl.held_roots()).items()
               if key not in excluded)


def minor_faults() -> int:
    """Minor page faults of this process so far (getrusage ru_minflt)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def rss() -> dict[str, float]:
    """Current and peak resident set size of this process, in MiB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key = "rss_mib" if line.startswith("VmRSS") else "peak_rss_mib"
                    out[key] = int(line.split()[1]) / 1024
    except OSError:
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out

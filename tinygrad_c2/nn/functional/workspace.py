"""Scratch buffers the conv, pooling and recurrent kernels keep alive between calls.

A training step of a CNN or an LSTM makes the same large temporaries every step (im2col
columns, col2im products, gate buffers). Allocated fresh, glibc's malloc hands blocks this
large back to the OS when they are freed and the next step faults them in again, page by page
(about 1,900 minor page faults a step on LeNet, the time of the step's biggest GEMM). Kept
here, one growing buffer per role and thread, a step touches memory it already owns.

Inside a kernel marked with `@kernel` (the conv, pooling and recurrent primitives' forward
and backward), scratch arrays are carved one after another from one arena per thread, and
the arena is free again when the kernel returns: since no two kernels of a thread run at
once, the memory kept is the largest single kernel's need, not the sum over every role (on
LeNet, 5.3 MiB instead of 13.1). A kernel called inside another (a helper kernel) carves
after its caller's arrays. Outside a kernel, each role keeps its own growing buffer.

NOTE: a scratch array is only valid inside the kernel call that asked for it: the next call
overwrites it. Never return one, save it for backward, or hand it to a Tensor; results and
saved arrays are always fresh arrays.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

_local = threading.local()  # per thread: numpy releases the GIL inside its kernels
_ALIGN = 64  # bytes: each carved array starts on a cache line
ARENA = "<arena>"  # the arena's key among the buffers (the benchmark counts them all)


def kernel(fn: Callable) -> Callable:
    """Mark a primitive's forward or backward as a kernel: the scratch arrays it asks for come
    from the thread's arena, and are given back when it returns."""

    @functools.wraps(fn)
    def run(*args: Any) -> Any:
        start = getattr(_local, "top", None)
        _local.top = 0 if start is None else start
        try:
            return fn(*args)
        finally:
            if start is None:  # the outermost kernel: grow the arena to the largest need
                _grow(getattr(_local, "needed", 0))
                _local.needed = 0
            _local.top = start

    return run


def _buffers() -> dict[str, np.ndarray]:
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    return buffers


def _grow(needed: int) -> None:
    """Make the arena hold `needed` bytes (between kernels, when no array of it is in use)."""
    buffers = _buffers()
    arena = buffers.get(ARENA)
    if needed and (arena is None or arena.nbytes < needed):
        buffers[ARENA] = np.empty(needed, np.uint8)


def scratch(role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` for temporary use under `role`.

    >>> a = scratch("doctest", (2, 3), np.dtype(np.float64))
    >>> b = scratch("doctest", (3,), np.dtype(np.float64))  # the same memory, reused
    >>> bool(np.shares_memory(a, b)), a.shape, b.flags.c_contiguous
    (True, (2, 3), True)
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = _buffers()
    top = getattr(_local, "top", None)
    if top is not None:  # inside a kernel: the next free part of the arena
        end = top + nbytes
        _local.top = end + (-end) % _ALIGN
        _local.needed = max(getattr(_local, "needed", 0), _local.top)
        arena = buffers.get(ARENA)
        if arena is None or arena.nbytes < end:
            # NOTE: the arena cannot grow while arrays carved from it are in use: this call
            # gets an array of its own, and the arena grows when the outermost kernel returns
            return np.empty(shape, dtype)
        return arena[top:end].view(dtype).reshape(shape)
    buf = buffers.get(role)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[role] = np.empty(nbytes, np.uint8)  # numpy aligns it for every dtype
    return buf[:nbytes].view(dtype).reshape(shape)

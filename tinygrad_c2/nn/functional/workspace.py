"""Scratch buffers the conv, pooling and recurrent kernels keep alive between calls.

A training step of a CNN or an LSTM makes the same large temporaries every step (im2col
columns, col2im products, gate buffers). Allocated fresh, glibc's malloc hands blocks this
large back to the OS when they are freed and the next step faults them in again, page by page
(about 1,900 minor page faults a step on LeNet, the time of the step's biggest GEMM). Kept
here, one growing buffer per role and thread, a step touches memory it already owns.

NOTE: a scratch array is only valid inside the kernel call that asked for it: the next call
with the same role overwrites it. Never return one, save it for backward, or hand it to a
Tensor; results and saved arrays are always fresh arrays.
"""

from __future__ import annotations

import math
import threading

import numpy as np

_local = threading.local()  # per thread: numpy releases the GIL inside its kernels


def scratch(role: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array of `shape` for temporary use under `role`.

    >>> a = scratch("doctest", (2, 3), np.dtype(np.float64))
    >>> b = scratch("doctest", (3,), np.dtype(np.float64))  # the same memory, reused
    >>> bool(np.shares_memory(a, b)), a.shape, b.flags.c_contiguous
    (True, (2, 3), True)
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(role)
    if buf is None or buf.nbytes < nbytes:
        buf = buffers[role] = np.empty(nbytes, np.uint8)  # numpy aligns it for every dtype
    return buf[:nbytes].view(dtype).reshape(shape)

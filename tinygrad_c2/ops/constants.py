"""Read-only 0-d arrays standing for the numbers the kernels and optimizers pass to numpy.

NOTE: numpy 2 converts a Python number operand afresh on every ufunc call (NEP 50's weak
scalars: cast to the array's dtype, rounded to nearest): `np.maximum(h, 0)` costs ~0.3 us more
than `np.maximum(h, zero)` with `zero` a 0-d array of h's dtype, and under callgrind the
conversion is ~2,900 of a small multiply's ~7,300 instructions. A 0-d array holding the same
cast value gives the same bits. It is a strong operand in numpy's promotion, so it must have
the other operand's dtype exactly: both functions here are keyed on the dtype. The arrays are
read-only, so no kernel can change a shared constant, and kept per (value, dtype) in one
bounded cache (a scheduler may set a new learning rate every step).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_CACHE: dict[tuple, np.ndarray] = {}
_MAX_CACHED = 256
_LARGEST: dict[np.dtype, float] = {}  # a float dtype's largest finite value, as a Python float


def _keep(key: tuple, a: np.ndarray) -> np.ndarray:
    if len(_CACHE) >= _MAX_CACHED:
        _CACHE.clear()
    _CACHE[key] = a
    return a


def scalar(value: float, dtype: np.dtype) -> np.ndarray:
    """The read-only 0-d array of `value` in `dtype`, for a kernel's own constant (0, 1, a
    count). Pass +0, never -0.0: the two are one dict key.

    >>> z = scalar(0, np.dtype(np.float32)); z.dtype, z.shape, z.flags.writeable
    (dtype('float32'), (), False)
    >>> scalar(0, np.dtype(np.float32)) is z
    True
    """
    a = _CACHE.get((value, dtype))
    if a is None:
        a = np.array(value, dtype=dtype)
        a.flags.writeable = False
        a = _keep((value, dtype), a)
    return a


def number_operand(value: Any, dtype: np.dtype, keep: bool = True) -> Any:
    """A user's number (a learning rate, a beta) as the operand of a ufunc on arrays of
    `dtype`: a Python float or int as a read-only 0-d array of that dtype, anything else as it
    is (a numpy scalar is a strong operand: numpy promotes it, and so must we). The ufunc's
    result is the same bit for bit; the point is speed.

    Kept unless `keep` is False (a number new each step, such as Adam's bias corrections) or
    the value is a zero (0.0 and -0.0 are one dict key, not one operand). A value past the
    dtype's finite range is returned as it is, so numpy warns of the overflow at every use, as
    it did before.

    >>> number_operand(0.1, np.dtype(np.float32)).dtype, number_operand(np.float64(0.1), None)
    (dtype('float32'), np.float64(0.1))
    >>> number_operand(1e300, np.dtype(np.float32))
    1e+300
    """
    if not ((type(value) is float or type(value) is int) and dtype.kind in "fc"):
        return value
    a = _CACHE.get((value, dtype))
    if a is not None:
        return a
    largest = _LARGEST.get(dtype)
    if largest is None:
        largest = _LARGEST[dtype] = float(np.finfo(dtype).max)
    if not -largest <= value <= largest:  # (NaN too: numpy's own conversion at each use)
        return value
    a = np.array(value, dtype=dtype)
    a.flags.writeable = False
    return _keep((value, dtype), a) if keep and value else a

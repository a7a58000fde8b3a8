"""Read-only 0-d arrays standing for the constants the kernels pass to numpy (0, 1, a scale).

NOTE: numpy 2 converts a Python scalar operand afresh on every ufunc call (NEP 50's weak
scalars): `np.maximum(h, 0)` costs ~0.9 us more than `np.maximum(h, zero)` with `zero` a 0-d
array of h's dtype, a third of the call on a small layer. A 0-d array is a strong operand in
numpy's promotion, so it must have the other operand's dtype exactly: `scalar` makes one per
(value, dtype), kept for the process and read-only, so no kernel can change a shared constant.
"""

from __future__ import annotations

import numpy as np

_CACHE: dict[tuple, np.ndarray] = {}


def scalar(value: float, dtype: np.dtype) -> np.ndarray:
    """The read-only 0-d array of `value` in `dtype`, made once a process.

    >>> z = scalar(0, np.dtype(np.float32)); z.dtype, z.shape, z.flags.writeable
    (dtype('float32'), (), False)
    >>> scalar(0, np.dtype(np.float32)) is z
    True
    """
    key = (value, dtype)
    a = _CACHE.get(key)
    if a is None:
        a = np.array(value, dtype=dtype)
        a.flags.writeable = False
        _CACHE[key] = a
    return a

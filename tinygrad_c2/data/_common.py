"""Small helpers shared by the data modules: seeds to generators, Tensors to arrays, checks."""

from __future__ import annotations

import numbers

import numpy as np

from ..rng import generator
from ..tensor import Tensor, get_default_dtype

Seed = int | np.random.Generator | None


class DataFileError(ValueError):
    """A data file (CSV, IDX, a shipped .npz) that cannot be read as what it should hold.

    The message names the file and the fault (row and column for a CSV). A ValueError, so
    code that catches bad input keeps working.
    """


def resolve_rng(seed: Seed, where: str) -> np.random.Generator:
    """The generator to draw from: the library's global one for None, a fresh one for an int.

    NOTE: `generator()` is looked up on every call, never cached, because
    `tg.manual_seed` replaces the global generator.
    """
    if seed is None:
        return generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"{where}: seed must be a non-negative integer, got {seed}")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"{where}: seed must be None, an int or a numpy Generator, got {type(seed).__name__}"
    )


def to_numpy(x: object, where: str, name: str = "X") -> np.ndarray:
    """The numpy array behind a Tensor, array or nested list (a Tensor's array is not copied)."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{where}: {name} must be a numpy array, a Tensor or a list, got {type(x).__name__}"
        ) from err


def like_input(result: np.ndarray, original: object) -> np.ndarray | Tensor:
    """Give the result back as a Tensor when the input was one, else as a numpy array."""
    return Tensor(result) if isinstance(original, Tensor) else result


def check_n_samples(n_samples: int, where: str, minimum: int = 1) -> int:
    """A positive integer number of samples, or a clear error."""
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool):
        raise TypeError(f"{where}: n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < minimum:
        raise ValueError(f"{where}: n_samples must be >= {minimum}, got {n_samples}")
    return int(n_samples)


def check_non_negative(value: float, where: str, name: str) -> float:
    """A finite float >= 0 (noise levels, standard deviations), or a clear error."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {value}")
    return float(value)


def check_float_dtype(dtype: object, where: str) -> np.dtype:
    """A numpy floating dtype; None means the library's default (float32 unless changed)."""
    if dtype is None:
        return get_default_dtype()
    try:
        resolved = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{where}: dtype {dtype!r} is not a numpy dtype") from err
    if not np.issubdtype(resolved, np.floating):
        raise TypeError(f"{where}: dtype must be a floating type, got {resolved}")
    return resolved

"""Argument checks shared by the layers, so every layer names itself in its errors."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ...tensor import Tensor, get_default_dtype


def _check_input(x: Any, layer: str) -> None:
    """A layer's input must be a Tensor (or a numpy array); a list would fail deep in numpy."""
    if not isinstance(x, (Tensor, np.ndarray)):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__} "
                        "(wrap the data with tg.tensor(...))")


def _check_dim(dim: Any, layer: str, name: str = "dim", optional: bool = False) -> None:
    if (dim is None and optional) or (isinstance(dim, (int, np.integer))
                                      and not isinstance(dim, bool)):
        return
    raise TypeError(f"{layer}: {name} must be an int{' or None' if optional else ''}, "
                    f"got {dim!r}")


def _float_dtype(dtype: Any, layer: str) -> np.dtype:
    """The parameters' dtype: the default float dtype, or a floating-point one given."""
    dt = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point dtype (parameters need "
                        f"gradients), got {dt}")
    return dt


def _check_device(device: Any, layer: str) -> None:
    """Accept PyTorch's `device=` for ported code; everything here runs on the CPU."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"{layer}: only device='cpu' exists in tinygrad_c2, got {device!r}")


def _check_number(value: Any, layer: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {name} must be a number, got {value!r}")
    return value

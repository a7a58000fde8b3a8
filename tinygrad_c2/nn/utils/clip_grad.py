"""Gradient clipping against exploding gradients (PyTorch's torch/nn/utils/clip_grad.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ...tensor import Tensor

Parameters = Tensor | Iterable[Tensor]


def _grads(parameters: Parameters, op: str) -> list[np.ndarray]:
    """The raw gradient arrays of the parameters that have one."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(p).__name__} at position {i}")
    return [p.grad._data for p in params if p.grad is not None]


def _vector_norm(a: np.ndarray, p: float) -> np.ndarray:
    """The p-norm of all of a's values (torch.linalg.vector_norm): inf is max |a|, 0 counts
    the nonzero values."""
    a = np.abs(a).reshape(-1)
    if p == np.inf:
        return a.max(initial=0.0)
    if p == -np.inf:
        return a.min()
    if p == 0:
        return np.asarray(np.count_nonzero(a), dtype=a.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return np.sqrt(np.dot(a, a))
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: Parameters, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The norm of all the tensors' values taken together (the norm of their norms).

    >>> import tinygrad_c2 as tg
    >>> get_total_norm([tg.tensor([3.0]), tg.tensor([4.0])])
    tensor(5.)
    """
    arrays = [t._data for t in ([tensors] if isinstance(tensors, Tensor) else tensors)]
    return _total_norm(arrays, float(norm_type), error_if_nonfinite)


def _total_norm(arrays: list[np.ndarray], norm_type: float, error_if_nonfinite: bool) -> Tensor:
    if not arrays:
        return Tensor(np.array(0.0, dtype=np.float32))
    norms = [_vector_norm(a, norm_type) for a in arrays]
    dtype = np.result_type(*norms)
    total = _vector_norm(np.array(norms, dtype=dtype), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters: Parameters, max_norm: float, total_norm: Any,
                          foreach: bool | None = None) -> None:
    """Scale the gradients in place by min(1, max_norm / (total_norm + 1e-6)).

    >>> import tinygrad_c2 as tg
    >>> w = tg.tensor([3.0, 4.0], requires_grad=True); w.grad = tg.tensor([3.0, 4.0])
    >>> clip_grads_with_norm_([w], 1.0, tg.tensor(5.0)); w.grad.numpy().round(4)
    array([0.6, 0.8], dtype=float32)
    """
    grads = _grads(parameters, "clip_grads_with_norm_")
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(max_norm / (total + 1e-6), 1.0)
    # NOTE: always multiplied, also by 1.0 (PyTorch's way: no data-dependent branch), in each
    # gradient's own dtype
    for g in grads:
        g *= coef.astype(g.dtype)


def clip_grad_norm_(parameters: Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most max_norm; returns
    the total norm before clipping (a 0-d Tensor).

    total = ||(||g_1||, ..., ||g_k||)||_p over the parameters with a gradient (p = norm_type,
    inf for the largest |g|); every gradient is multiplied by min(1, max_norm / (total +
    1e-6)), exactly as PyTorch does. A non-finite total raises with error_if_nonfinite=True,
    else the gradients are scaled by it (and become nan). `foreach` is accepted and ignored.

    >>> import tinygrad_c2 as tg
    >>> w = tg.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()           # grad (6, 8), norm 10
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(10.)
    >>> w.grad.numpy().round(4)
    array([0.6, 0.8], dtype=float32)
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = _grads(params, "clip_grad_norm_")
    total = _total_norm(grads, float(norm_type), error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Parameters, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient value into [-clip_value, clip_value], in place.

    >>> import tinygrad_c2 as tg
    >>> w = tg.tensor([1.0, 1.0], requires_grad=True); w.grad = tg.tensor([-3.0, 0.5])
    >>> clip_grad_value_([w], 1.0); w.grad.tolist()
    [-1.0, 0.5]
    """
    clip_value = float(clip_value)
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)

"""Indexing: basic and advanced indexing with a scatter-add backward."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function, OpError, _NonDifferentiable
from ..tensor import Tensor

INDEX_PART = object()  # marks where split_index took an array component out of an index


def split_index(idx: Any) -> tuple[Any, list]:
    """An index with its Tensor and array components taken out (INDEX_PART marks each place).

    Index receives them as arguments of their own, so a captured step records where each
    comes from (labels `y` in `x[tg.arange(n), y]` are recomputed, not frozen into the op).
    """
    if isinstance(idx, (Tensor, np.ndarray)):
        return INDEX_PART, [idx]
    if isinstance(idx, tuple):
        parts = [i for i in idx if isinstance(i, (Tensor, np.ndarray))]
        if parts:
            return tuple(INDEX_PART if isinstance(i, (Tensor, np.ndarray)) else i
                         for i in idx), parts
    return idx, []


class Index(Function):
    """y = x[idx]   |   dx = zeros with g scattered back; repeated integer indices accumulate

    `parts` are the index's array components (see split_index), in the order of INDEX_PART.
    """

    returns_view = True

    @staticmethod
    def forward(ctx, x, idx, *parts):
        if parts:
            if idx is INDEX_PART:
                idx = parts[0]
            else:
                it = iter(parts)
                idx = tuple(next(it) if i is INDEX_PART else i for i in idx)
            # NOTE: a boolean mask's values decide the output's shape (a captured step refuses
            # to trace that when the mask comes from the step's data).
            ctx.data_dependent_shape = tuple(2 + k for k, p in enumerate(parts)
                                             if p.dtype == np.bool_)
        ctx.shape, ctx.nparts = x.shape, len(parts)
        ctx.save_for_backward(idx)  # not a ctx attribute: index arrays are freed after backward
        return x[idx]

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, dtype=g.dtype)
        (idx,) = ctx.saved_tensors
        parts = idx if isinstance(idx, tuple) else (idx,)
        if any(isinstance(p, (np.ndarray, list)) for p in parts):
            np.add.at(out, idx, g)  # NOTE: plain `out[idx] += g` drops repeated indices
        else:
            out[idx] = g
        return (out, None) + (None,) * ctx.nparts

    @staticmethod
    def backward_graph(ctx, g):
        (idx,) = ctx.saved_tensors
        return (added_at(g, ctx.shape, idx), None) + (None,) * ctx.nparts


def added_at(g: Tensor, shape: tuple[int, ...], idx: Any) -> Tensor:
    """zeros(shape) with g added at the places x[idx] reads (repeated places accumulate), with
    Tensor ops so that it can be differentiated again: any numpy index becomes the flat offsets
    it reads (a constant), and one scatter_add along them puts g back."""
    offsets = np.arange(math.prod(shape)).reshape(shape)[idx].reshape(-1)
    zeros = Tensor._wrap(np.zeros(math.prod(shape), dtype=g._data.dtype))
    return ScatterAdd.apply(zeros, 0, offsets, g.reshape(-1)).reshape(shape)


def along(shape: tuple[int, ...], index: np.ndarray, dim: int, name: str) -> tuple:
    """The numpy index that picks x[..., index[i, j, ...], ...] (index's values along dim, the
    positions elsewhere): torch's gather/scatter addressing, with torch's checks. Outside dim
    index may be smaller than x (it then addresses x's leading block)."""
    if index.dtype.kind not in "iu":
        raise OpError(f"{name}: index must be an integer tensor (int64), got {index.dtype}")
    if index.ndim != len(shape):
        raise OpError(f"{name}: index must have the same number of dims as the input: index has "
                      f"shape {index.shape}, the input {shape}")
    for d, (i, s) in enumerate(zip(index.shape, shape, strict=True)):
        if d != dim and i > s:
            raise OpError(f"{name}: index of shape {index.shape} is larger than the input "
                          f"{shape} at dim {d} (only dim {dim} may differ)")
    size = shape[dim] if shape else 1
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise OpError(f"{name}: index {index[bad].flat[0]} is out of bounds for dim {dim} "
                      f"with size {size}")
    grids = list(np.indices(index.shape, sparse=True))
    if grids:
        grids[dim] = index
    return tuple(grids)


class Gather(Function):
    """y[i, j] = x[index[i, j], j] (dim 0; likewise along any dim)   |   dx = zeros with g
    added back at the picked positions (a position picked twice accumulates)"""

    @staticmethod
    def forward(ctx, x, dim, index):
        idx = along(x.shape, index, dim, "gather")
        ctx.shape = x.shape
        ctx.save_for_backward(idx)
        return x[idx]

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.add.at(out, idx, g)  # NOTE: `out[idx] += g` would drop repeated positions
        return out, None, None

    @staticmethod
    def backward_graph(ctx, g):
        (idx,) = ctx.saved_tensors
        return added_at(g, ctx.shape, idx), None, None


class ScatterAdd(Function):
    """y = x, then y[index[i, j], j] += src[i, j] (dim 0; out of place)   |   dx = g,
    dsrc = g at the positions src was added to (zeros where src was not used)"""

    @staticmethod
    def forward(ctx, x, dim, index, src):
        idx = along(x.shape, index, dim, "scatter_add")
        if src.dtype != x.dtype:
            raise OpError(f"scatter_add: src has dtype {src.dtype} but the input {x.dtype}: cast "
                          "one (torch requires them equal)")
        if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape,
                                                                 strict=True)):
            raise OpError(f"scatter_add: index of shape {index.shape} must be no larger than src "
                          f"of shape {src.shape} in every dim")
        block = tuple(slice(s) for s in index.shape)
        ctx.src_shape = src.shape
        ctx.save_for_backward(idx, block)
        out = x.copy()
        np.add.at(out, idx, src[block])
        return out

    @staticmethod
    def backward(ctx, g):
        idx, block = ctx.saved_tensors
        dsrc = None
        if ctx.needs_input_grad[3]:
            dsrc = np.zeros(ctx.src_shape, dtype=g.dtype)
            dsrc[block] = g[idx]
        return g, None, None, dsrc

    @staticmethod
    def backward_graph(ctx, g):
        idx, block = ctx.saved_tensors
        dsrc = added_at(g[idx], ctx.src_shape, block) if ctx.needs_input_grad[3] else None
        return g, None, None, dsrc


class ArgSort(_NonDifferentiable):
    """y = the indices that sort x along dim (NaN counts as the largest, as torch)   |   none

    Always stable (equal elements keep their order, whatever `stable` says: torch's unstable
    order is its implementation's, so a fixed rule is as good and reproducible). Descending:
    the ascending stable sort of the reversed x, reversed."""

    @staticmethod
    def forward(ctx, x, dim, descending, stable):
        if not x.ndim:
            return np.zeros((), np.int64)
        if not descending:
            return np.argsort(x, axis=dim, kind="stable")
        n = x.shape[dim]
        order = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
        return np.flip(n - 1 - order, dim)

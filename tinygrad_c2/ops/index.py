"""Indexing: basic and advanced indexing with a scatter-add backward."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
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

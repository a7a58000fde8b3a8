"""Integer-indexed functions: one_hot, and embedding (a row lookup with a scatter-add backward)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import Function, OpError, _NonDifferentiable
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


class OneHot(_NonDifferentiable):
    """y[..., j] = 1 if labels == j else 0 (int64)   |   none"""

    @staticmethod
    def forward(ctx, y, num_classes):
        if num_classes == -1:
            k = int(y.max()) + 1
            ctx.data_dependent_shape = (0,)  # the largest label sets the width
        else:
            k = num_classes
        if y.size and (y.min() < 0 or y.max() >= k):
            raise OpError(f"one_hot: labels must be in [0, {k}), got values from {y.min()} to "
                          f"{y.max()}")
        return (y[..., None] == np.arange(k)).astype(np.int64)


def one_hot(labels: Any, num_classes: int = -1) -> Tensor:
    """Integer labels (N,) to a 0/1 int64 matrix (N, num_classes), as PyTorch's F.one_hot.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.one_hot(tg.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    y = labels._data if isinstance(labels, Tensor) else np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    return OneHot.apply(labels if isinstance(labels, Tensor) else y, num_classes)


class Embedding(Function):
    """y = weight[indices]   |   dweight = zeros with g added into the looked-up rows

    Repeated indices accumulate (a scatter-add); the padding_idx row gets no gradient; with
    scale_grad_by_freq each row's gradient is divided by how often it occurs in `indices`.
    """

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq, max_norm, norm_type):
        _check_indices(indices, weight.shape[0])
        if max_norm is not None:
            _renorm_(weight, indices, max_norm, norm_type)
        ctx.num, ctx.padding_idx, ctx.scale = weight.shape[0], padding_idx, scale_grad_by_freq
        ctx.save_for_backward(indices)
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, g.shape[-1])
        if ctx.scale:
            counts = np.bincount(flat, minlength=ctx.num)
            rows = rows / counts[flat, None].astype(g.dtype)
        gw = np.zeros((ctx.num, g.shape[-1]), dtype=g.dtype)
        np.add.at(gw, flat, rows)  # NOTE: `gw[flat] += rows` would drop repeated indices
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        (indices,) = ctx.saved_tensors
        flat = indices.reshape(-1)
        rows = g.reshape(flat.size, g.shape[-1])
        if ctx.padding_idx is not None:
            rows = rows * (flat != ctx.padding_idx).astype(g.dtype)[:, None]
        # the scatter-add with Tensor ops: linear in g, independent of the weight
        where = np.broadcast_to(flat[:, None], rows.shape)
        zeros = Tensor(np.zeros((ctx.num, g.shape[-1]), dtype=g.dtype))
        if not ctx.scale:
            return zeros.scatter_add(0, where, rows), None, None, None, None, None
        # NOTE: scale_grad_by_freq's gradient is not a true derivative (each row is divided by
        # its count), and the sweep back through the lookup divides again. PyTorch's double
        # backward therefore differentiates the unscaled scatter: the values here are the
        # scaled ones, the derivative with respect to g the unscaled one (so a Hessian-vector
        # product through the weight is the numerical derivative of this gradient, as torch's)
        counts = np.bincount(flat, minlength=ctx.num)[flat, None].astype(g.dtype)
        gw = zeros.scatter_add(0, where, rows.detach() / counts) + zeros.scatter_add(
            0, where, rows - rows.detach())
        return gw, None, None, None, None, None


def _check_indices(indices: np.ndarray, num_embeddings: int) -> None:
    """Integer indices within [0, num_embeddings), with PyTorch's message for other dtypes."""
    if indices.dtype.kind not in "iu":
        raise OpError("Expected tensor for argument #1 'indices' to have one of the following "
                      f"scalar types: Long, Int; but got {indices.dtype} instead (while checking "
                      "arguments for embedding)")
    if indices.size:
        low, high = indices.min(), indices.max()
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            # NOTE: Function.apply prefixes "Embedding: " and appends the input shapes
            raise IndexError(f"index {bad} is out of range for num_embeddings="
                             f"{num_embeddings} (indices must be in [0, {num_embeddings - 1}])")


def _renorm_(weight: np.ndarray, indices: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, each looked-up row whose norm exceeds max_norm to norm max_norm
    (PyTorch's embedding_renorm_: scale = max_norm / (norm + 1e-7)); not differentiated."""
    rows = np.unique(indices)
    norms = np.linalg.norm(weight[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    scale = (max_norm / (norms[big] + 1e-7)).astype(weight.dtype)
    weight[rows[big]] *= scale[:, None]


def embedding(input: Any, weight: Tensor, padding_idx: int | None = None,  # noqa: A002
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of `weight` (num_embeddings, embedding_dim) by integer `input` of any
    shape: the result has shape input.shape + (embedding_dim,).

    `padding_idx`'s row gets no gradient; `max_norm` rescales, in place, the looked-up rows
    whose `norm_type` norm exceeds it (as PyTorch does); `scale_grad_by_freq` divides each
    row's gradient by its count in `input`.

    >>> import tinygrad_c2 as tg
    >>> w = tg.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> tg.nn.functional.embedding(tg.tensor([[2, 0]]), w)
    tensor([[[4., 5.],
             [0., 1.]]])
    """
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise OpError(f"embedding: weight must be a 2-D Tensor (num_embeddings, embedding_dim), "
                      f"got {shape}")
    if sparse:
        raise NotImplementedError("embedding: sparse=True (a sparse gradient) is not "
                                  "implemented; sparse=False gives the same gradient, dense")
    indices = input if isinstance(input, Tensor) else np.asarray(input)
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, weight.shape[0])
    return Embedding.apply(weight, indices, padding_idx, bool(scale_grad_by_freq), max_norm,
                           float(norm_type))


def _padding_index(padding_idx: int, num_embeddings: int) -> int:
    """padding_idx in [-num_embeddings, num_embeddings) as a row number (negative counts back)."""
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Padding_idx must be within num_embeddings: got padding_idx="
                         f"{padding_idx} for num_embeddings={num_embeddings}")
    return padding_idx % num_embeddings

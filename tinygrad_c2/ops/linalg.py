"""Matrix multiplication: the one GEMM primitive every layer builds on."""

from __future__ import annotations

import numpy as np

from ..function import Function, OpError


class MatMul(Function):
    """y = a @ b   |   da = g @ b^T, db = a^T @ g (1-D operands promoted, batch dims reduced)"""

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not np.ndarray:  # `tensor @ [[1.0]]`
            a = np.asarray(a)
        if type(b) is not np.ndarray:
            b = np.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(f"MatMul: both operands need at least 1 dimension, got shapes "
                          f"{a.shape} @ {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise OpError(f"MatMul: shapes {a.shape} @ {b.shape} do not match: the inner "
                          f"dimensions {a.shape[-1]} and {b.shape[-2 if b.ndim > 1 else 0]} differ")
        if a.dtype != b.dtype:  # PyTorch refuses too: promoting would hide a float64 input
            raise OpError(f"MatMul: operands of different dtypes, {a.dtype} @ {b.dtype}: "
                          f"convert one, e.g. with .float() or .double()")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a  # promote vectors the way matmul does
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = g2 @ np.swapaxes(b2, -1, -2) if da else None
        gb = np.swapaxes(a2, -1, -2) @ g2 if db else None
        if da and a.ndim == 1:
            ga = ga[..., 0, :]
        if db and b.ndim == 1:
            gb = gb[..., 0]
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        a2, b2 = ctx.graph_input(0, a), ctx.graph_input(1, b)
        if a.ndim == 1:  # promote vectors the way matmul does (the engine sums batch dims)
            a2 = a2.unsqueeze(0)
        if b.ndim == 1:
            b2, g = b2.unsqueeze(-1), g.unsqueeze(-1)
        if a.ndim == 1:
            g = g.unsqueeze(-2)
        ga = g @ b2.transpose(-1, -2) if da else None
        gb = a2.transpose(-1, -2) @ g if db else None
        if da and a.ndim == 1:
            ga = ga.squeeze(-2)
        if db and b.ndim == 1:
            gb = gb.squeeze(-1)
        return ga, gb

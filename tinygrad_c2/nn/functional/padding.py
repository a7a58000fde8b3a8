"""F.pad as one primitive: constant padding (negative widths crop), or reflect, replicate and
circular padding as a gather along each padded axis, whose backward is the matching scatter."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import Function, OpError
from ...tensor import Tensor

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each position of a padded axis, the input position it copies (n input positions).

    reflect mirrors without repeating the edge (d c b | a b c d | c b a), replicate repeats
    the edge (a a | a b c d | d d), circular wraps around (c d | a b c d | a b).
    """
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    i = np.abs(i)  # reflect: pad < n, so one reflection at each end is enough
    return np.where(i >= n, 2 * (n - 1) - i, i)


class Pad(Function):
    """y = x padded (widths per axis, last axis first, PyTorch's order)   |   constant:
    dx = g cropped (and zero-padded where the forward cropped); otherwise the gather
    y = x[idx] along each padded axis, so dx sums g into x's positions (a one-hot GEMM)."""

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        ctx.widths, ctx.mode = widths, mode
        if mode == "constant":
            crop = tuple(slice(max(0, -b), x.shape[a] - max(0, -e))
                         for a, (b, e) in enumerate(widths))
            grow = [(max(0, b), max(0, e)) for b, e in widths]
            return np.pad(x[crop], grow, constant_values=value)
        y, ctx.index = x, []
        for axis, (b, e) in enumerate(widths):
            if b or e:
                idx = _source_index(x.shape[axis], b, e, mode)
                ctx.index.append((axis, idx, x.shape[axis]))
                y = np.take(y, idx, axis=axis)
        return x.copy() if y is x else y  # NOTE: an output never shares the input's memory

    @staticmethod
    def backward(ctx, g):
        if ctx.mode == "constant":
            keep = tuple(slice(max(0, b), g.shape[a] - max(0, e))
                         for a, (b, e) in enumerate(ctx.widths))
            regrow = [(max(0, -b), max(0, -e)) for b, e in ctx.widths]
            return np.pad(g[keep], regrow), None, None, None
        for axis, idx, n in reversed(ctx.index):
            # NOTE: a (padded, n) one-hot matrix: one GEMM sums the copies back, the adjoint of
            # np.take without np.add.at
            onehot = (idx[:, None] == np.arange(n)).astype(g.dtype)
            g = np.moveaxis(np.tensordot(g, onehot, axes=([axis], [0])), -1, axis)
        return g, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        if ctx.mode == "constant":  # crop what the forward added, zero-pad what it cropped
            return Pad.apply(g, tuple((-b, -e) for b, e in ctx.widths), "constant", 0.0), \
                None, None, None
        for axis, idx, n in reversed(ctx.index):
            onehot = (idx[:, None] == np.arange(n)).astype(g.dtype)  # a constant
            g = (g.transpose(axis, -1) @ Tensor(onehot)).transpose(axis, -1)
        return g, None, None, None


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None  # noqa: A002
        ) -> Tensor:
    """Pad the last len(pad) // 2 dimensions: pad = (left, right, top, bottom, ...), the last
    dimension first, PyTorch's order and modes ("constant" with `value`, negative widths
    crop; "reflect", "replicate", "circular" for 1 to 3 trailing dimensions).

    >>> import tinygrad_c2 as tg
    >>> x = tg.tensor([[1.0, 2.0, 3.0]])
    >>> F = tg.nn.functional
    >>> F.pad(x, (2, 1), mode="reflect").tolist(), F.pad(x, (1, 1), value=9.0).tolist()
    ([[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]], [[9.0, 1.0, 2.0, 3.0, 9.0]])
    """
    who = "pad"
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor input, got {type(input).__name__}")
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"{who}: pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise OpError(f"{who}: padding length must be divisible by 2, got pad={tuple(pad)}")
    k, nd = len(pad) // 2, input.ndim
    if k > nd:
        raise OpError(f"{who}: padding length {len(pad)} is too large for input of shape "
                      f"{tuple(input.shape)} (at most 2 * {nd})")
    if mode not in _MODES:
        raise OpError(f"{who}: mode must be one of {_MODES}, got {mode!r}")
    pairs = [(0, 0)] * (nd - k) + [(int(pad[2 * i]), int(pad[2 * i + 1]))
                                   for i in reversed(range(k))]
    if mode == "constant":
        for a, (b, e) in enumerate(pairs):
            if input.shape[a] + b + e < 0:
                raise OpError(f"{who}: pad={tuple(pad)} crops more than dimension {a} of input "
                              f"of shape {tuple(input.shape)} holds")
        return Pad.apply(input, tuple(pairs), mode, 0.0 if value is None else value)
    if value:
        raise OpError(f"{who}: padding mode {mode!r} doesn't take in value argument")
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise OpError(f"{who}: {mode} padding of {k} dimensions needs a {k + 1}-D or {k + 2}-D "
                      f"input, got input of shape {tuple(input.shape)}")
    for a, (b, e) in enumerate(pairs):
        n = input.shape[a]
        if b < 0 or e < 0:
            raise OpError(f"{who}: {mode} padding must be non-negative, got pad={tuple(pad)}")
        limit = {"reflect": n - 1, "circular": n}.get(mode, max(b, e) if n else -1)
        if (b or e) and max(b, e) > limit:
            rule = {"reflect": "less than", "circular": "at most"}.get(mode, "for a non-empty")
            raise OpError(f"{who}: {mode} padding must be {rule} the dimension it pads: got "
                          f"({b}, {e}) for dimension {a} of size {n} (input of shape "
                          f"{tuple(input.shape)})")
    return Pad.apply(input, tuple(pairs), mode, 0.0)

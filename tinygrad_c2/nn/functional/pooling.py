"""Pooling as fused primitives over the strided window view of conv.py (NCHW layout).

Max pooling keeps, per output, the position of the first maximum of its window in row-major
order, and backward sends the whole gradient there (PyTorch's convention). NOTE: the course's
pool_backward builds create_mask_from_window (x == max), which gives EVERY tied element the
whole gradient, so a window of equal values passes its gradient k*k times; they agree
whenever the maxima are unique. Average pooling divides by the window size including the
padding by default (count_include_pad=True, PyTorch's default).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...function import Function, OpError, _NonDifferentiable
from ...tensor import Tensor
from .conv import Fold, _batched, _crop4, _pad4, col2im, ntuple, strided, windows
from .workspace import kernel, scratch

# ---------------------------------------------------------------- geometry


def _pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size; in ceil mode the last window must start inside the
    input or its left padding."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
              ceil_mode: bool) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """(OH, OW) and the (top, bottom, left, right) padding every window needs (ceil mode's
    last window may reach past the padding PyTorch names)."""
    out = tuple(_pool_out(x.shape[2 + a], kernel[a], stride[a], padding[a], dilation[a],
                          ceil_mode) for a in range(2))
    pads = []
    for a in range(2):
        reach = (out[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
        pads += [padding[a], max(0, reach - x.shape[2 + a] - padding[a])]
    return out, tuple(pads)


def _max_windows(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple,
                 ceil_mode: bool) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The maximum of each window of x padded with -inf, (N, C, OH, OW), and the offset
    (i * k_w + j) of its first maximum in row-major order (of its last NaN if it holds one:
    PyTorch's kernel takes a value that is larger or NaN)."""
    out, pads = _geometry(x, kernel, stride, padding, dilation, ceil_mode)
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min  # never a maximum
    xp = np.ascontiguousarray(_pad4(x, pads, lowest))
    y, arg = _separable_max(xp, kernel, stride, dilation, out)
    if x.dtype.kind == "f":
        nan = np.isnan(y)
        if nan.any():  # rare: only the windows holding a NaN are looked at again
            win = windows(xp, kernel, stride, dilation, out)
            for k in range(kernel[0] * kernel[1]):
                arg[nan & np.isnan(win[:, :, k // kernel[1], k % kernel[1]])] = k
    return y, arg, (xp.shape, pads, out)


def _separable_max(xp: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple,
                   out: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Window maxima and first-maximum offsets of a C-contiguous xp: first along rows, then
    along columns, over the whole flattened array, then read at the window corners.

    The row pass gives, at every flat position p, the maximum of xp[p + j * d_w] over j and
    its first j; the column pass combines k_h of those, p + i * d_h * W, keeping the first row
    on ties: together the first maximum in row-major order. Positions whose window would wrap
    past a row or a plane are computed too and never read.
    NOTE: every pass is over contiguous (shifted) slices, which numpy runs vectorized: the
    per-offset strided window views took 4 times longer (LeNet's pools: 940 -> 220 µs). The
    offsets are merged with bit operations, never `np.where` or `np.copyto(where=)`: with
    data-dependent masks those ran at ~10 ns an element (1 ms for LeNet's first pool).
    """
    n, c, hp, wp = xp.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    index = np.min_scalar_type(kh * kw - 1)  # uint8 for windows up to 16x16
    flat = xp.reshape(-1)
    size = flat.size - (kw - 1) * dw
    rows, row_arg = flat[:size], scratch("max_pool2d.row_arg", (size,), index)
    if kw == 1:
        row_arg[...] = 0
    else:
        rows = scratch("max_pool2d.rows", (size,), xp.dtype)
        _take_larger(rows, row_arg, flat[:size], None, flat[dw:dw + size], 1)
        for j in range(2, kw):
            _take_larger(rows, row_arg, rows, row_arg, flat[j * dw:j * dw + size], j)
    size -= (kh - 1) * dh * wp
    best, arg = rows[:size], row_arg[:size]
    if kh > 1:
        best = scratch("max_pool2d.best", (size,), xp.dtype)
        arg = scratch("max_pool2d.arg", (size,), index)
        new = scratch("max_pool2d.new", (size,), index)
        base, base_arg = rows[:size], row_arg[:size]
        for i in range(1, kh):
            shift = i * dh * wp
            np.add(row_arg[shift:shift + size], index.type(i * kw), out=new)
            _take_larger(best, arg, base, base_arg, rows[shift:shift + size], new)
            base, base_arg = best, arg
    corners = ((c * hp * wp, hp * wp, sh * wp, sw), (n, c, *out))
    y, offsets = np.empty(corners[1], xp.dtype), np.empty(corners[1], index)
    y[...] = strided(best, corners[1], [s * best.itemsize for s in corners[0]])
    offsets[...] = strided(arg, corners[1], [s * arg.itemsize for s in corners[0]])
    return y, offsets


def _take_larger(best: np.ndarray, arg: np.ndarray, base: np.ndarray, base_arg: np.ndarray | None,
                 candidate: np.ndarray, offset: int | np.ndarray) -> None:
    """best = max(base, candidate) and arg = offset where candidate > base (strictly: the
    earlier offset keeps a tie), else base_arg (None: 0); best may be base, arg base_arg.
    arg is merged by bit operations: no data-dependent branch."""
    larger = scratch("max_pool2d.larger", best.shape, np.bool_)
    np.greater(candidate, base, out=larger)
    np.maximum(base, candidate, out=best)
    mask = larger.view(np.uint8) if arg.dtype == np.uint8 else larger.astype(arg.dtype)
    np.negative(mask, out=mask)  # 1 -> all bits set
    if base_arg is None:
        np.bitwise_and(mask, offset, out=arg)
        return
    diff = scratch("max_pool2d.diff", best.shape, arg.dtype)
    np.bitwise_xor(base_arg, offset, out=diff)
    diff &= mask
    np.bitwise_xor(base_arg, diff, out=arg)


# ---------------------------------------------------------------- the primitives


class MaxPool2d(Function):
    """y = max over each window   |   dx: all of g to the window's first maximum (row-major)"""

    @staticmethod
    @kernel
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        y, arg, geometry = _max_windows(x, kernel, stride, padding, dilation, ceil_mode)
        ctx.geometry = (*geometry, kernel, stride, dilation)
        ctx.save_for_backward(arg)
        return y

    @staticmethod
    @kernel
    def backward(ctx, g):
        (arg,) = ctx.saved_tensors
        xp_shape, pads, out, kernel, stride, dilation = ctx.geometry
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        # NOTE: g * (arg == k) is g at the maximum and 0 elsewhere, except that inf * 0 is nan
        # (PyTorch gives 0): an infinite g takes np.where, slow with data-dependent masks.
        finite = bool(np.isfinite(g).all())
        if (kh - 1) * dh < sh and (kw - 1) * dw < sw:
            # disjoint windows (LeNet's 2x2, stride 2): each input cell is in at most one, so
            # each offset writes its cells directly, no col2im additions
            tiled = kernel == stride and dilation == (1, 1) and (
                out[0] * sh, out[1] * sw) == tuple(xp_shape[2:])
            gx = (np.empty if tiled else np.zeros)(xp_shape, g.dtype)
            s0, s1, s2, s3 = gx.strides
            hit = scratch("max_pool2d.hit", arg.shape, np.bool_)
            for k in range(kh * kw):
                i, j = divmod(k, kw)
                cells = strided(gx, g.shape, (s0, s1, sh * s2, sw * s3), i * dh * s2 + j * dw * s3)
                _at_max(np.equal(arg, k, out=hit), g, cells, finite)
        else:
            n, c = g.shape[:2]
            offsets = np.arange(kh * kw).reshape(-1, 1, 1)
            cols = scratch("max_pool2d.dcols", (n, c, kh * kw, *out), g.dtype)
            _at_max(arg[:, :, None] == offsets, g[:, :, None], cols, finite)
            gx = col2im(cols.reshape(n, c, *kernel, *out), xp_shape, stride, dilation)
        return _crop4(gx, pads), None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        (arg,) = ctx.saved_tensors
        xp_shape, pads, out, kernel, stride, dilation = ctx.geometry
        n, c = g.shape[:2]
        kk = kernel[0] * kernel[1]
        # the same first-maximum positions (a constant 0/1 mask), then col2im as Fold
        first = (arg[:, :, None] == np.arange(kk).reshape(-1, 1, 1)).astype(g.dtype)
        cols = (g.reshape(n, c, 1, *out) * first).reshape(n, c * kk, out[0] * out[1])
        return _fold(cols, xp_shape, pads, kernel, stride, dilation), None, None, None, None, None


def _at_max(hit: np.ndarray, g: np.ndarray, out: np.ndarray, finite: bool) -> None:
    """out = g where hit, else 0 (the multiplication when g is finite: fast, branch-free)."""
    if finite:
        np.multiply(hit, g, out=out)
    else:
        out[...] = np.where(hit, g, 0)


class MaxPool2dIndices(_NonDifferentiable):
    """The flat index h * W + w (in the unpadded input plane) of each window's first maximum:
    max_pool2d's return_indices, recomputed as its own op so a captured step never freezes it."""

    @staticmethod
    @kernel
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        _, arg, (_, pads, out) = _max_windows(x, kernel, stride, padding, dilation, ceil_mode)
        i, j = np.divmod(arg.astype(np.intp), kernel[1])
        rows = np.arange(out[0]).reshape(-1, 1) * stride[0] + i * dilation[0] - pads[0]
        cols = np.arange(out[1]) * stride[1] + j * dilation[1] - pads[2]
        return (rows * x.shape[3] + cols).astype(np.int64)


class AvgPool2d(Function):
    """y = sum over each window / divisor   |   dx = col2im(g / divisor) (spread evenly)"""

    @staticmethod
    @kernel
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        out, pads = _geometry(x, kernel, stride, padding, (1, 1), ceil_mode)
        xp = _pad4(x, pads)
        total = windows(xp, kernel, stride, (1, 1), out).sum(axis=(2, 3))
        if divisor_override:
            divisor = np.asarray(divisor_override, dtype=x.dtype)
        else:
            sizes = [_window_sizes(x.shape[2 + a], kernel[a], stride[a], padding[a], out[a],
                                   count_include_pad) for a in range(2)]
            divisor = np.multiply.outer(*sizes).astype(x.dtype)
        ctx.geometry = (xp.shape, pads, out, kernel, stride)
        ctx.save_for_backward(divisor)
        total /= divisor
        return total

    @staticmethod
    @kernel
    def backward(ctx, g):
        (divisor,) = ctx.saved_tensors
        xp_shape, pads, out, kernel, stride = ctx.geometry
        share = (g / divisor)[:, :, None, None]
        cols = np.broadcast_to(share, (*g.shape[:2], *kernel, *out))
        return _crop4(col2im(cols, xp_shape, stride, (1, 1)), pads), *([None] * 6)

    @staticmethod
    def backward_graph(ctx, g):
        (divisor,) = ctx.saved_tensors
        xp_shape, pads, out, kernel, stride = ctx.geometry
        n, c = g.shape[:2]
        kk = kernel[0] * kernel[1]
        share = (g * (1.0 / divisor).astype(g.dtype)).reshape(n, c, 1, *out)
        cols = share.expand(n, c, kk, *out).reshape(n, c * kk, out[0] * out[1])
        return _fold(cols, xp_shape, pads, kernel, stride, (1, 1)), *([None] * 6)


def _fold(cols: Tensor, xp_shape: tuple, pads: tuple, kernel: tuple, stride: tuple,
          dilation: tuple) -> Tensor:
    """col2im of (N, C * k_h * k_w, L) window columns into the unpadded input, as the Fold
    primitive (differentiable: its derivative is Unfold), for the pools' backward_graph."""
    size = (xp_shape[2] - pads[0] - pads[1], xp_shape[3] - pads[2] - pads[3])
    return Fold.apply(cols, size, kernel, dilation, pads, stride)


def _window_sizes(size: int, k: int, s: int, p: int, out: int, include_pad: bool) -> np.ndarray:
    """Per output position, the divisor's factor along one axis (PyTorch's rule): the window
    clipped to the padded input, or, without count_include_pad, to the input itself."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


# ---------------------------------------------------------------- argument checks


def _default(stride: Any) -> bool:
    """PyTorch's stride default for pools: None or an empty sequence means the kernel size."""
    return stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)


def _pool_args(who: str, x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               nd: int = 2) -> tuple[Tensor, bool, tuple, tuple, tuple, tuple]:
    """The input as a batch and kernel, stride (default: the kernel), padding and dilation as
    pairs, checked as PyTorch checks them, the message naming the values and the shape."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2):
        raise OpError(f"{who}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                      f"got input of shape {tuple(x.shape)}")
    kernel = ntuple(kernel_size, nd, "kernel_size", who)
    stride = kernel if _default(stride) else ntuple(stride, nd, "stride", who)
    padding = ntuple(padding, nd, "padding", who)
    dilation = ntuple(dilation, nd, "dilation", who)
    if any(k <= 0 for k in kernel):
        raise OpError(f"{who}: kernel_size must be greater than zero, got {kernel}")
    if any(s <= 0 for s in stride):
        raise OpError(f"{who}: stride must be greater than zero, got {stride}")
    if any(d <= 0 for d in dilation):
        raise OpError(f"{who}: dilation must be greater than zero, got {dilation}")
    if any(p < 0 or p > (d * (k - 1) + 1) // 2
           for p, k, d in zip(padding, kernel, dilation, strict=True)):
        raise OpError(f"{who}: pad should be non-negative and at most half of the effective "
                      f"kernel size, got padding={padding}, kernel_size={kernel}, "
                      f"dilation={dilation}")
    x, unbatched = _batched(x, nd)
    return x, unbatched, kernel, stride, padding, dilation


def _check_out(who: str, x: Tensor, kernel: tuple, stride: tuple, padding: tuple,
               dilation: tuple, ceil_mode: bool) -> None:
    out = tuple(_pool_out(x.shape[2 + a], kernel[a], stride[a], padding[a], dilation[a],
                          ceil_mode) for a in range(2))
    if min(out) <= 0:
        raise OpError(f"{who}: input of shape {tuple(x.shape)} gives an output of size {out} "
                      f"(kernel_size={kernel}, stride={stride}, padding={padding}, "
                      f"dilation={dilation}): output size is too small")


def _check_float(who: str, x: Tensor) -> None:
    # NOTE: PyTorch averages integer tensors with a truncating division; refused here rather
    # than answering in a dtype torch would not give
    if x.dtype.kind != "f":
        raise OpError(f"{who}: expected a floating-point input, got {x.dtype} "
                      "(convert it with x.float())")


def _as_2d(x: Tensor) -> Tensor:
    """(N, C, L) as (N, C, 1, L): a 1-D pool is the 2-D one with a window of height 1."""
    return x.unsqueeze(-2)


# ---------------------------------------------------------------- the F.* forms


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each k_h x k_w window of (N, C, H, W) (or (C, H, W)) input, PyTorch's
    semantics (stride defaults to the kernel; padding counts as -inf). Backward sends the
    whole gradient to the first maximum of a window (row-major), as PyTorch does; the
    course's create_mask_from_window would give every tied element all of it.

    >>> import tinygrad_c2 as tg
    >>> x = tg.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
    >>> tg.nn.functional.max_pool2d(x, 2).sum().backward(); x.grad.tolist()  # tie: the first
    [[[[0.0, 1.0], [0.0, 0.0]]]]
    """
    who = "max_pool2d"
    x, unbatched, kernel, stride, padding, dilation = _pool_args(
        who, input, kernel_size, stride, padding, dilation)
    _check_out(who, x, kernel, stride, padding, dilation, ceil_mode)
    args = (kernel, stride, padding, dilation, bool(ceil_mode))
    y = MaxPool2d.apply(x, *args)
    if unbatched:
        y = y.squeeze(0)
    if not return_indices:
        return y
    indices = MaxPool2dIndices.apply(x, *args)
    return y, indices.squeeze(0) if unbatched else indices


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each k_h x k_w window of (N, C, H, W) (or (C, H, W)) input, PyTorch's
    semantics: the zero padding counts in the divisor unless count_include_pad=False;
    divisor_override replaces the divisor.

    >>> import tinygrad_c2 as tg
    >>> F = tg.nn.functional
    >>> F.avg_pool2d(tg.ones(1, 1, 2, 2), 2, padding=1).tolist()  # 1 of 4 cells is input
    [[[[0.25, 0.25], [0.25, 0.25]]]]
    >>> F.avg_pool2d(tg.ones(1, 1, 2, 2), 2, padding=1, count_include_pad=False).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    """
    who = "avg_pool2d"
    x, unbatched, kernel, stride, padding, _ = _pool_args(who, input, kernel_size, stride,
                                                          padding, 1)
    if divisor_override is not None and (isinstance(divisor_override, bool)
                                         or not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise OpError(f"{who}: divisor_override must be a non-zero int, got {divisor_override!r}")
    _check_out(who, x, kernel, stride, padding, (1, 1), ceil_mode)
    _check_float(who, x)
    y = AvgPool2d.apply(x, kernel, stride, padding, bool(ceil_mode), bool(count_include_pad),
                        None if divisor_override is None else int(divisor_override))
    return y.squeeze(0) if unbatched else y


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """max_pool2d over (N, C, L) (or (C, L)) input with windows of height 1.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.max_pool1d(tg.tensor([[1.0, 5.0, 2.0, 0.0]]), 2).tolist()
    [[5.0, 2.0]]
    """
    who = "max_pool1d"
    _pool_args(who, input, kernel_size, stride, padding, dilation, nd=1)  # 1-D messages
    one = lambda v: (1, *ntuple(v, 1, "", who))  # noqa: E731
    out = max_pool2d(_as_2d(input), one(kernel_size),
                     None if _default(stride) else one(stride),
                     (0, *ntuple(padding, 1, "padding", who)), one(dilation), ceil_mode,
                     return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None,  # noqa: A002
               padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """avg_pool2d over (N, C, L) (or (C, L)) input with windows of height 1.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.avg_pool1d(tg.tensor([[1.0, 5.0, 2.0, 0.0]]), 2).tolist()
    [[3.0, 1.0]]
    """
    who = "avg_pool1d"
    _pool_args(who, input, kernel_size, stride, padding, 1, nd=1)
    one = lambda v: (1, *ntuple(v, 1, "", who))  # noqa: E731
    return avg_pool2d(_as_2d(input), one(kernel_size),
                      None if _default(stride) else one(stride),
                      (0, *ntuple(padding, 1, "padding", who)), ceil_mode,
                      count_include_pad).squeeze(-2)


def _adaptive_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size): row i averages PyTorch's adaptive bin [floor(i*size/out),
    ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):  # NOTE: a loop over output rows of a small matrix, not over pixels
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average over PyTorch's adaptive bins so that the output is (N, C, *output_size);
    None in output_size keeps that dimension. Composed: A_h @ x @ A_w^T with averaging
    matrices (linear, so MatMul's backward is the pooling's).

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.adaptive_avg_pool2d(tg.arange(16.0).reshape(1, 4, 4), 1).tolist()
    [[[7.5]]]
    """
    who = "adaptive_avg_pool2d"
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected a Tensor input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise OpError(f"{who}: expected 3-D (unbatched) or 4-D (batched) input, got input of "
                      f"shape {tuple(input.shape)}")
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise OpError(f"{who}: output_size must be an int or a pair, got {output_size!r}")
    h, w = input.shape[-2:]
    oh, ow = (h if output_size[0] is None else output_size[0],
              w if output_size[1] is None else output_size[1])
    if oh <= 0 or ow <= 0 or h == 0 or w == 0:
        raise OpError(f"{who}: output_size {output_size} and input of shape "
                      f"{tuple(input.shape)}: both must be positive")
    _check_float(who, input)
    dtype = input.dtype
    out = input
    if ow != w:
        out = out @ Tensor(_adaptive_matrix(w, ow, dtype).T)
    if oh != h:
        out = Tensor(_adaptive_matrix(h, oh, dtype)) @ out
    return out

"""Convolution as fused primitives: im2col through a strided view, then one GEMM (NCHW layout).

The picture (stride s, dilation d, a k_h x k_w kernel, G groups of C/G input channels):

    x (N, C, H, W) --pad--> xp --strided view, no copy--> (N, C, k_h, k_w, OH, OW)
        --reshape (the one copy: im2col)--> cols (N, G, C/G*k_h*k_w, OH*OW)
    weight (O, C/G, k_h, k_w) --reshape--> (G, O/G, C/G*k_h*k_w)
    y = weight @ cols: (N, G, O/G, OH*OW) --reshape--> (N, O, OH, OW)

Backward: dW = sum over the batch of g @ cols^T (one GEMM per group), db = sum(g), and
dx = col2im(W^T @ g): the columns are added back into xp with one strided slice per kernel
offset (k_h * k_w numpy additions, never a loop over pixels or samples, no np.add.at).
conv_transpose2d is the same two kernels swapped (its forward is conv2d's dx).

Speed and memory (LeNet's step): with stride 1 the columns are "wide" (rows of the padded
width, see `_columns`), so im2col copies long contiguous runs, and dx sums over the kernel
columns inside its GEMM (`_col2im_rows`: k_h additions, not k_h * k_w); the graph keeps xp,
not the k_h*k_w times larger columns, and backward copies them again; the columns and other
large temporaries live in `workspace` scratch buffers, so a step does not fault memory in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ...function import Function, OpError
from ...tensor import Tensor
from .linear import _dtype_error
from .padding import Pad
from .workspace import kernel, scratch

# ---------------------------------------------------------------- the two kernels


def windows(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
            dilation: tuple[int, int], out: tuple[int, int]) -> np.ndarray:
    """A read-only view (N, C, k_h, k_w, OH, OW) of xp (N, C, H, W), no copy:
    [n, c, i, j, oh, ow] = xp[n, c, oh * s_h + i * d_h, ow * s_w + j * d_w].

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> windows(x, (2, 2), (1, 1), (1, 1), (2, 2))[0, 0, :, :, 1, 0]  # the window at (1, 0)
    array([[3., 4.],
           [6., 7.]])
    """
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, (n, c, *kernel, *out),
                      (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
                      writeable=False)


def strided(a: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...],
            offset: int = 0) -> np.ndarray:
    """A view (no copy) of the C-contiguous array a with these shape and byte strides, from
    `offset` bytes in; numpy checks that it stays inside a. NOTE: as_strided's job at a sixth
    of its cost (0.6 vs 4 µs: a step of LeNet makes about twenty of them).

    >>> strided(np.arange(6.0), (2, 3), (8, 8), offset=8)  # overlapping rows
    array([[1., 2., 3.],
           [2., 3., 4.]])
    """
    return np.ndarray(shape, a.dtype, a, offset, strides)


def col2im(cols: np.ndarray, shape: tuple[int, ...], stride: tuple[int, int],
           dilation: tuple[int, int]) -> np.ndarray:
    """The adjoint of `windows`: cols (N, C, k_h, k_w, OH, OW) summed into a zero array of
    `shape` (N, C, H, W), where overlapping windows add up. One strided slice per kernel
    offset: k_h * k_w vectorized additions.

    >>> ones = np.ones((1, 1, 2, 2, 2, 2))  # 2x2 windows at 2x2 positions, stride 1
    >>> col2im(ones, (1, 1, 3, 3), (1, 1), (1, 1))[0, 0]  # how many windows cover each cell
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    out = np.zeros(shape, dtype=cols.dtype)
    kh, kw, oh, ow = cols.shape[2:]
    (sh, sw), (dh, dw) = stride, dilation
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1):  # windows tile the input: no overlap
        tiles = out[:, :, :oh * kh, :ow * kw].reshape(*shape[:2], oh, kh, ow, kw)  # a view
        tiles[...] = cols.transpose(0, 1, 4, 2, 5, 3)
        return out
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kw):
            out[:, :, rows, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    return out


def _col2im_rows(gpad: np.ndarray, w: np.ndarray, xp_shape: tuple[int, ...],
                 dilation: tuple[int, int]) -> np.ndarray:
    """col2im(W^T g) for stride 1, fast: conv2d's input gradient.

    gpad (N, G, O/G, f + OH * W + f): g's rows widened to the padded input's width W with
    zeros, f = (k_w - 1) * d_w more zeros at each end (`_padded_rows`); w (O, C/G, k_h, k_w).
    In the flattened input plane, a gradient at p gathers W[o, c, i, j] * g[p - i d_h W - j d_w]
    over (o, i, j): the sum over (o, j) is one GEMM of the (k_h C/G, O/G k_w) weights with the
    k_w shifted copies of g's rows (an im2col of g along its rows only), the sum over i is k_h
    additions of whole widened rows.
    NOTE: the plain col2im (a GEMM to C k_h k_w columns, then k_h * k_w additions of OH * W
    values per plane) spent 900 µs of LeNet's second layer in its 25 additions; this is 5
    additions, and the copies cost less (1.27 -> 0.72 ms, 1 thread).
    """
    n, c, hp, wp = xp_shape
    o, cg, kh, kw = w.shape
    groups, og, padded = gpad.shape[1:]
    dh, dw = dilation
    f = (kw - 1) * dw
    span = padded - f  # positions r = p - i * d_h * W that receive a gradient
    s0, s1, s2, s3 = gpad.strides
    shifted = strided(gpad, (n, groups, og, kw, span), (s0, s1, s2, -dw * s3, s3),
                      f * s3)  # [..., j, r] = g's rows at r - j * d_w
    rows = scratch("conv2d.shifted_g", (n, groups, og * kw, span), gpad.dtype)
    rows.reshape(shifted.shape)[...] = shifted
    wm = w.reshape(groups, og, cg, kh, kw).transpose(0, 3, 2, 1, 4).reshape(groups, kh * cg,
                                                                             og * kw)
    parts = np.matmul(wm, rows, out=scratch("conv2d.dx_rows", (n, groups, kh * cg, span),
                                            gpad.dtype)).reshape(n, groups, kh, cg, span)
    flat = np.zeros((n, groups, cg, hp * wp + f), dtype=gpad.dtype)  # the last row's overhang
    for i in range(kh):
        start = i * dh * wp
        flat[..., start:start + span] += parts[:, :, i]
    return flat[..., :hp * wp].reshape(xp_shape)


def _weight_grad_rows(xp: np.ndarray, gpad: np.ndarray, kernel: tuple[int, int],
                      dilation: tuple[int, int],
                      bias: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """dW = sum over n of g @ cols^T for stride 1, fast: conv2d's weight gradient, (G, O/G,
    C/G * k_h * k_w), and with `bias` db = sum(g) (O,) from the same GEMM (a row of ones
    beside the copies: no separate pass over g), else None.

    xp (N, C, H, W), gpad as `_col2im_rows` takes it. In the flattened plane, dW[o, c, i, j]
    sums g[q] * xp[q + i d_h W + j d_w] over the widened rows' positions q: the k_w shifted
    copies of xp's plane (an im2col along the rows only) hold every j, and kernel row i is the
    same copies read i d_h W further on, a strided slice the GEMM takes without a copy.
    NOTE: k_h GEMMs over copies k_h times smaller than the columns (LeNet's second layer:
    1.13 -> 0.74 ms, medians of 80 alternating calls, 1 thread, load ~11).
    """
    n, c, hp, wp = xp.shape
    (kh, kw), (dh, dw) = kernel, dilation
    groups, og, padded = gpad.shape[1:]
    f = (kw - 1) * dw
    span = padded - 3 * f  # (f + OH * W + f) - f: the wide columns' positions
    reach = hp * wp - f  # the positions q + i d_h W of the copies
    sn, sc, _, sw = xp.strides
    cg = c // groups
    shifted = strided(xp, (n, groups, cg, kw, reach), (sn, cg * sc, sc, dw * sw, sw))
    # [..., c, j, q] = xp[c, q + j * d_w] in the flattened plane
    k = cg * kw
    rows = scratch("conv2d.shifted_x", (n, groups, k + bias, reach), xp.dtype)
    rows[:, :, :k].reshape(shifted.shape)[...] = shifted
    if bias:
        rows[:, :, k] = 1
    wide = gpad[..., f:f + span]  # g's widened rows
    gw = np.empty((groups, og, cg, kh, kw), dtype=xp.dtype)
    gb = None
    for i in range(kh):
        start = i * dh * wp
        used = rows[:, :, :k + bias] if i == 0 else rows[:, :, :k]  # the ones: kernel row 0
        part = np.matmul(wide, used[..., start:start + span].transpose(0, 1, 3, 2)).sum(axis=0)
        gw[:, :, :, i] = part[..., :k].reshape(groups, og, cg, kw)
        if i == 0 and bias:
            gb = part[..., k].reshape(-1)  # the wrapped columns' zeros add nothing
    return gw.reshape(groups, og, -1), gb


def _padded_rows(g: np.ndarray, width: int, f: int) -> np.ndarray:
    """g (N, G, O/G, OH, OW) as (N, G, O/G, f + OH * width + f) (scratch): each row widened
    to `width` with zeros, and f zeros before the first row and after the last."""
    lead, (oh, ow) = g.shape[:-2], g.shape[-2:]
    gpad = scratch("conv2d.padded_g", (*lead, f + oh * width + f), g.dtype)
    gpad[...] = 0  # NOTE: one contiguous fill: zeroing the k_w - 1 wrapped columns of each
    # row alone runs numpy's loop over rows of 4 values (LeNet's first layer: 9216 of them)
    gpad[..., f:f + oh * width].reshape(*lead, oh, width)[..., :ow] = g
    return gpad


def _columns(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             dilation: tuple[int, int], out: tuple[int, int], groups: int,
             ones: bool = False) -> np.ndarray:
    """im2col into a scratch array: (N, G, C/G*k_h*k_w, L) for the GEMM with the weight, and
    with `ones` one more row of ones (the GEMM then adds a bias appended to the weight).

    Stride 1: "wide" columns, L = OH * W - (k_w - 1) * d_w: column oh * W + ow holds the window
    at (oh, ow) for ow < OW and wraps into the next row beyond (values the caller crops or
    multiplies by zero). Each copied run is then OH * W contiguous values of xp instead of OW
    (LeNet's second layer: 140 instead of 588 µs), which is what numpy copies fast.
    Other strides: the compact OH * OW columns.
    """
    n, c, hp, wp = xp.shape
    (kh, kw), k = kernel, c // groups * kernel[0] * kernel[1]
    if stride == (1, 1):
        span = out[0] * wp - (kw - 1) * dilation[1]
        sn, sc, sh, sw = xp.strides
        view = strided(xp, (n, c, kh, kw, span), (sn, sc, sh * dilation[0], sw * dilation[1],
                                                  sw))
    else:
        span = out[0] * out[1]
        view = windows(xp, kernel, stride, dilation, out)
    cols = scratch("conv2d.columns", (n, groups, k + ones, span), xp.dtype)
    # NOTE: both sides split, never merged, so that the target stays a view of cols
    split = (n, groups, c // groups, kh, kw, *view.shape[4:])
    cols[:, :, :k].reshape(split)[...] = view.reshape(split)
    if ones:
        cols[:, :, k] = 1
    return cols


def _pad4(x: np.ndarray, padding: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) with (top, bottom, left, right) rows and columns of `value` added."""
    if not any(padding):
        return x
    top, bottom, left, right = padding
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _crop4(xp: np.ndarray, padding: tuple[int, int, int, int]) -> np.ndarray:
    """The adjoint of _pad4 (for zero padding): the interior of xp."""
    if not any(padding):
        return xp
    top, bottom, left, right = padding
    return xp[:, :, top:xp.shape[2] - bottom, left:xp.shape[3] - right]


# ---------------------------------------------------------------- the primitives


class Conv2d(Function):
    """y = W (*) x + b (cross-correlation) as im2col + GEMM   |   dx = col2im(W^T g),
    dW = sum_n g cols^T, db = sum(g)   (padding: (top, bottom, left, right), zeros)"""

    @staticmethod
    @kernel
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        # NOTE: xp is saved, not the columns (the input's size, not k_h*k_w times it: PyTorch's
        # graph memory); backward copies the columns again, which costs less than it saves.
        xp = np.ascontiguousarray(_pad4(x, padding))
        n, c, h, wd = xp.shape
        o, cg, kh, kw = w.shape
        oh, ow = _out_size((h, wd), (kh, kw), stride, dilation)
        w2 = w.reshape(groups, o // groups, cg * kh * kw)
        if stride == (1, 1):  # wide columns: the valid outputs are columns oh * W + ow, ow < OW
            # NOTE: the bias rides in the GEMM (a row of ones under the columns, the bias beside
            # the weight): one pass over y fewer (LeNet's first layer: 40-60 µs a call)
            cols = _columns(xp, (kh, kw), stride, dilation, (oh, ow), groups, b is not None)
            wb = w2 if b is None else np.concatenate([w2, b.reshape(groups, -1, 1)], axis=2)
            yw = np.matmul(wb, cols, out=scratch("conv2d.wide_y", (n, groups, o // groups,
                                                                   cols.shape[-1]), xp.dtype))
            s0, _, s2, s3 = yw.strides
            y = np.empty((n, o, oh, ow), dtype=yw.dtype)
            y[...] = strided(yw, y.shape, (s0, s2, wd * s3, s3))
        else:
            cols = _columns(xp, (kh, kw), stride, dilation, (oh, ow), groups)
            y = np.matmul(w2, cols).reshape(n, o, oh, ow)
            if b is not None:
                y += b.reshape(1, o, 1, 1)
        ctx.geometry = (xp.shape, (kh, kw, oh, ow), stride, padding, dilation)
        ctx.save_for_backward(xp, w2)
        return y

    @staticmethod
    @kernel
    def backward(ctx, g):
        xp, w2 = ctx.saved_tensors
        xp_shape, (kh, kw, oh, ow), stride, padding, dilation = ctx.geometry
        nx, nw, nb = ctx.needs_input_grad[:3]
        groups, og = w2.shape[:2]
        n = g.shape[0]
        g4 = g.reshape(n, groups, og, oh * ow)
        gx = gw = gb = None
        if stride == (1, 1) and (nx or nw):
            f = (kw - 1) * dilation[1]
            gpad = _padded_rows(g4.reshape(n, groups, og, oh, ow), xp_shape[3], f)
            if nx:
                gxp = _col2im_rows(gpad, w2.reshape(groups * og, -1, kh, kw), xp_shape, dilation)
                gx = _crop4(gxp, padding)
            if nw:
                with np.errstate(invalid="ignore"):  # inf * 0 in a wrapped column: see below
                    gw, gb = _weight_grad_rows(xp, gpad, (kh, kw), dilation, nb)
                if not np.isfinite(gw).all():
                    # NOTE: the wrapped columns were multiplied by zeros: an inf there gives
                    # nan. Redo it with the compact columns, as the maths has it (and warn or
                    # raise as the caller's np.errstate says).
                    compact = windows(xp, (kh, kw), stride, dilation, (oh, ow))
                    gw = _grouped_outer(g4, compact.reshape(n, groups, -1, oh * ow))
                gw = gw.reshape(groups * og, -1, kh, kw)
        elif nx or nw:
            cols = _columns(xp, (kh, kw), stride, dilation, (oh, ow), groups)
            if nw:
                gw = _grouped_outer(g4, cols).reshape(groups * og, -1, kh, kw)
            if nx:
                gcols = np.matmul(w2.transpose(0, 2, 1), g4)  # (N, G, C/G*kh*kw, OH*OW)
                gcols = gcols.reshape(n, xp_shape[1], kh, kw, oh, ow)
                gx = _crop4(col2im(gcols, xp_shape, stride, dilation), padding)
        if nb and gb is None:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        # y = W2 @ unfold(x) per group: dx = fold(W2^T @ g), dW = sum_n g @ unfold(x)^T
        xp, w2 = ctx.saved_tensors
        xp_shape, (kh, kw, oh, ow), stride, padding, dilation = ctx.geometry
        nx, nw, nb = ctx.needs_input_grad[:3]
        groups, og, k = w2.shape
        n = g.shape[0]
        g4 = g.reshape(n, groups, og, oh * ow)
        wt = ctx.graph_input(1, w2.reshape(groups * og, k // (kh * kw), kh, kw))
        w3 = wt.reshape(groups, og, k)
        gx = gw = gb = None
        if nx:
            gcols = (w3.transpose(1, 2) @ g4).reshape(n, xp_shape[1] * kh * kw, oh * ow)
            size = (xp_shape[2] - padding[0] - padding[1], xp_shape[3] - padding[2] - padding[3])
            gx = Fold.apply(gcols, size, (kh, kw), dilation, padding, stride)
        if nw:
            x = ctx.graph_input(0, _crop4(xp, padding))
            cols = Unfold.apply(x, (kh, kw), dilation, padding, stride).reshape(
                n, groups, k, oh * ow)
            gw = (g4 @ cols.transpose(2, 3)).sum(0).reshape(groups * og, k // (kh * kw), kh, kw)
        if nb:
            gb = g.sum(dim=(0, 2, 3))
        return gx, gw, gb, None, None, None, None


class ConvTranspose2d(Function):
    """y = col2im(W^T x) + b (conv2d's input gradient as a layer)   |   dx = W im2col(g),
    dW = sum_n x im2col(g)^T, db = sum(g)   (weight (C_in, C_out/G, k_h, k_w))"""

    @staticmethod
    @kernel
    def forward(ctx, x, w, b, stride, padding, output_padding, groups, dilation):
        n, cin, h, wd = x.shape
        _, og, kh, kw = w.shape
        full = ((h - 1) * stride[0] + dilation[0] * (kh - 1) + 1 + output_padding[0],
                (wd - 1) * stride[1] + dilation[1] * (kw - 1) + 1 + output_padding[1])
        w2 = w.reshape(groups, cin // groups, og * kh * kw)
        cols = np.matmul(w2.transpose(0, 2, 1), x.reshape(n, groups, cin // groups, h * wd))
        cols = cols.reshape(n, groups * og, kh, kw, h, wd)
        yfull = col2im(cols, (n, groups * og, *full), stride, dilation)
        y = yfull[:, :, padding[0]:full[0] - padding[0], padding[1]:full[1] - padding[1]]
        if b is not None:
            y = y + b.reshape(1, -1, 1, 1)
        ctx.geometry = (full, (kh, kw, h, wd), stride, padding, dilation)
        ctx.save_for_backward(x, w2)
        return y

    @staticmethod
    @kernel
    def backward(ctx, g):
        x, w2 = ctx.saved_tensors
        full, (kh, kw, h, wd), stride, padding, dilation = ctx.geometry
        nx, nw, nb = ctx.needs_input_grad[:3]
        n, cout = g.shape[:2]
        groups, cin_g = w2.shape[:2]
        gx = gw = gb = None
        if nx or nw:
            # g placed back where the forward cropped it, then im2col: the columns' gradient
            gfull = np.zeros((n, cout, *full), dtype=g.dtype)
            gfull[:, :, padding[0]:full[0] - padding[0], padding[1]:full[1] - padding[1]] = g
            gcols = windows(gfull, (kh, kw), stride, dilation, (h, wd)).reshape(
                n, groups, cout // groups * kh * kw, h * wd)
            x4 = x.reshape(n, groups, cin_g, h * wd)
            if nx:
                gx = np.matmul(w2, gcols).reshape(x.shape)
            if nw:
                gw = _grouped_outer(x4, gcols).reshape(groups * cin_g, -1, kh, kw)
        if nb:
            gb = g.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        # y = crop(fold(W2^T @ x)): dx = W2 @ unfold(g placed back), dW = sum_n x @ that^T
        x, w2 = ctx.saved_tensors
        full, (kh, kw, h, wd), stride, padding, dilation = ctx.geometry
        nx, nw, nb = ctx.needs_input_grad[:3]
        n, cout = g.shape[:2]
        groups, cin_g, k = w2.shape
        gx = gw = gb = None
        if nx or nw:
            # the cropped rows and columns back as zeros (some output_padding among them), then
            # the windows; Unfold may find more windows than the forward had: crop those
            grown = (padding[0], full[0] - padding[0] - g.shape[2],
                     padding[1], full[1] - padding[1] - g.shape[3])
            gfull = Pad.apply(g, ((0, 0), (0, 0), grown[:2], grown[2:]), "constant", 0.0)
            cols = Unfold.apply(gfull, (kh, kw), dilation, (0, 0, 0, 0), stride)
            oh, ow = _out_size(full, (kh, kw), stride, dilation)
            if (oh, ow) != (h, wd):
                cols = Pad.apply(cols.reshape(n, cout * kh * kw, oh, ow),
                                 ((0, 0), (0, 0), (0, h - oh), (0, wd - ow)), "constant", 0.0)
            gcols = cols.reshape(n, groups, k, h * wd)
            if nx:
                wt = ctx.graph_input(1, w2.reshape(groups * cin_g, k // (kh * kw), kh, kw))
                gx = (wt.reshape(groups, cin_g, k) @ gcols).reshape(x.shape)
            if nw:
                x4 = ctx.graph_input(0, x).reshape(n, groups, cin_g, h * wd)
                gw = (x4 @ gcols.transpose(2, 3)).sum(0).reshape(groups * cin_g, -1, kh, kw)
        if nb:
            gb = g.sum(dim=(0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


def _grouped_outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum over n and l of a[n, g, i, l] * b[n, g, j, l]: (G, I, J), for a the smaller operand
    (the output gradient against the columns).

    NOTE: a GEMM per sample and group, then a sum over the batch: np.tensordot over (n, l)
    would first copy both operands into transposed 2-D arrays, which costs five times more.
    The GEMM is b @ a^T, then transposed (a view), not a @ b^T: OpenBLAS ran the product
    against the transposed view of the large b 2.3x slower on LeNet's second conv layer
    ((64, 16, 64) against (64, 150, 64): 742 vs 320 µs, 1 thread), about even on the first.
    """
    return np.matmul(b, a.transpose(0, 1, 3, 2)).sum(axis=0).transpose(0, 2, 1)


class Unfold(Function):
    """cols = im2col(pad(x)): (N, C*k_h*k_w, L)   |   dx = crop(col2im(g))"""

    @staticmethod
    @kernel
    def forward(ctx, x, kernel, dilation, padding, stride):
        xp = _pad4(x, padding)
        out = _out_size(xp.shape[2:], kernel, stride, dilation)
        ctx.geometry = (xp.shape, (*kernel, *out), stride, padding, dilation)
        cols = np.empty((x.shape[0], x.shape[1] * kernel[0] * kernel[1], out[0] * out[1]),
                        dtype=x.dtype)  # NOTE: always a copy: a reshape may be a view of x
        cols.reshape(*x.shape[:2], *kernel, *out)[...] = windows(xp, kernel, stride, dilation, out)
        return cols

    @staticmethod
    @kernel
    def backward(ctx, g):
        xp_shape, (kh, kw, oh, ow), stride, padding, dilation = ctx.geometry
        cols = g.reshape(xp_shape[0], xp_shape[1], kh, kw, oh, ow)
        return _crop4(col2im(cols, xp_shape, stride, dilation), padding), None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):  # linear: the adjoint is Fold, whose own adjoint is Unfold
        xp_shape, (kh, kw, _, _), stride, padding, dilation = ctx.geometry
        size = (xp_shape[2] - padding[0] - padding[1], xp_shape[3] - padding[2] - padding[3])
        return Fold.apply(g, size, (kh, kw), dilation, padding, stride), None, None, None, None


class Fold(Function):
    """x = crop(col2im(cols)): (N, C, H, W) from (N, C*k_h*k_w, L), overlaps summed   |
    dcols = im2col(pad(g))"""

    @staticmethod
    @kernel
    def forward(ctx, cols, output_size, kernel, dilation, padding, stride):
        n, ckk, _ = cols.shape
        xp_shape = (n, ckk // (kernel[0] * kernel[1]), output_size[0] + padding[0] + padding[1],
                    output_size[1] + padding[2] + padding[3])
        out = _out_size(xp_shape[2:], kernel, stride, dilation)
        ctx.geometry = (kernel, out, stride, padding, dilation)
        return _crop4(col2im(cols.reshape(*xp_shape[:2], *kernel, *out), xp_shape, stride,
                             dilation), padding)

    @staticmethod
    @kernel
    def backward(ctx, g):
        kernel, out, stride, padding, dilation = ctx.geometry
        gp = _pad4(g, padding)
        gcols = windows(gp, kernel, stride, dilation, out).reshape(g.shape[0], -1, out[0] * out[1])
        return gcols, None, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        kernel, _, stride, padding, dilation = ctx.geometry
        return Unfold.apply(g, kernel, dilation, padding, stride), None, None, None, None, None


def _out_size(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
              dilation: tuple[int, ...]) -> tuple[int, ...]:
    """Output positions along each axis of an already padded input (floor rounding)."""
    return tuple((s - d * (k - 1) - 1) // st + 1
                 for s, k, st, d in zip(size, kernel, stride, dilation, strict=True))


# ---------------------------------------------------------------- argument checks


def ntuple(value: Any, n: int, name: str, who: str) -> tuple[int, ...]:
    """An int or a sequence of n ints as a tuple of n ints (PyTorch's _pair/_single)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        if len(value) == n:
            return tuple(int(v) for v in value)
        if len(value) == 1:
            return (int(value[0]),) * n
        raise OpError(f"{who}: expected {name} to be a single integer value or a list of {n} "
                      f"values to match the convolution dimensions, but got {name}={value!r}")
    raise TypeError(f"{who}: {name} must be an int or a tuple of {n} ints, got {value!r}")


def conv_padding(padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                 dilation: tuple[int, ...], who: str) -> tuple[int, ...]:
    """padding (an int, a tuple, "valid" or "same") as (before, after) pairs, axis by axis.

    "same": the total d * (k - 1) per axis, the odd one extra after (PyTorch's rule for even
    kernels); refused for strides > 1, as PyTorch does.
    """
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding != "same":
            raise OpError(f"{who}: invalid padding string {padding!r}: expected 'valid', "
                          "'same', an int or a tuple of ints")
        if any(s != 1 for s in stride):
            raise OpError(f"{who}: padding='same' is not supported for strided convolutions "
                          f"(stride={stride})")
        out: list[int] = []
        for k, d in zip(kernel, dilation, strict=True):
            total = d * (k - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)
    pads = ntuple(padding, n, "padding", who)
    if any(p < 0 for p in pads):
        raise OpError(f"{who}: negative padding is not supported, got padding={padding!r}")
    return tuple(p for p in pads for _ in range(2))


def check_geometry(who: str, stride: tuple[int, ...], dilation: tuple[int, ...]) -> None:
    """Strides and dilations must be positive (PyTorch's messages, naming the op)."""
    if any(s <= 0 for s in stride):
        raise OpError(f"{who}: non-positive stride is not supported, got stride={stride}")
    if any(d <= 0 for d in dilation):
        raise OpError(f"{who}: dilation should be greater than zero, got dilation={dilation}")


def _check_conv(who: str, x: Tensor, weight: Tensor, bias: Tensor | None, nd: int,
                groups: int, transposed: bool = False) -> None:
    """Ranks, channel counts, groups and bias of a convolution, named in the error."""
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{who}: input and weight must be Tensors, got "
                        f"{type(x).__name__} and {type(weight).__name__}")
    xs, ws = tuple(x.shape), tuple(weight.shape)
    if len(xs) != nd + 2:
        raise OpError(f"{who}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                      f"got input of shape {xs}")
    if len(ws) != nd + 2:
        raise OpError(f"{who}: expected a {nd + 2}-D weight, got weight of shape {ws}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise OpError(f"{who}: groups must be a positive integer, got {groups!r}")
    if ws[0] % groups:
        raise OpError(f"{who}: groups={groups} does not divide dimension 0 of the weight of "
                      f"shape {ws}")
    expected = ws[0] if transposed else ws[1] * groups
    if xs[1] != expected:
        raise OpError(f"{who}: expected input with {expected} channels, got {xs[1]} (input of "
                      f"shape {xs}, weight of shape {ws}, groups={groups})")
    out_channels = ws[1] * groups if transposed else ws[0]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise OpError(f"{who}: bias of shape {tuple(bias.shape)} does not fit weight of shape "
                      f"{ws}: expected ({out_channels},)")
    if x.dtype != weight.dtype:  # PyTorch refuses too: the usual cause is a float64 array
        raise _dtype_error(who, x.dtype, weight.dtype)
    if bias is not None and bias.dtype != weight.dtype:
        raise OpError(f"{who}: the bias is {bias.dtype} but the weight is {weight.dtype}")


def _check_fits(who: str, size: tuple[int, ...], padding: tuple[int, ...],
                kernel: tuple[int, ...], dilation: tuple[int, ...]) -> None:
    padded = tuple(s + padding[2 * i] + padding[2 * i + 1] for i, s in enumerate(size))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if any(p < e for p, e in zip(padded, effective, strict=True)):
        raise OpError(f"{who}: kernel size can't be greater than the padded input: padded input "
                      f"size per channel {padded}, kernel size {kernel} (dilated: {effective})")


def _batched(x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """An unbatched (C, *spatial) input as a batch of one, as PyTorch accepts it."""
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    return x, False


# ---------------------------------------------------------------- the F.* forms


def _conv(x: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any,
          dilation: Any, groups: int, nd: int, who: str) -> Tensor:
    """conv1d/conv2d: checks, then the one Conv2d primitive (1-D as height 1)."""
    if isinstance(x, Tensor) and x.ndim == nd + 1:
        x, unbatched = _batched(x, nd)
    else:
        unbatched = False
    _check_conv(who, x, weight, bias, nd, groups)
    stride = ntuple(stride, nd, "stride", who)
    dilation = ntuple(dilation, nd, "dilation", who)
    check_geometry(who, stride, dilation)
    kernel = tuple(weight.shape[2:])
    pads = conv_padding(padding, kernel, stride, dilation, who)
    _check_fits(who, tuple(x.shape[2:]), pads, kernel, dilation)
    if nd == 1:  # (N, C, L) as (N, C, 1, L)
        y = Conv2d.apply(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, *stride),
                         (0, 0, *pads), (1, *dilation), int(groups)).squeeze(2)
    else:
        y = Conv2d.apply(x, weight, bias, stride, pads, dilation, int(groups))
    return y.squeeze(0) if unbatched else y


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
           stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of (N, C, H, W) input (or unbatched (C, H, W)) with a
    (O, C/groups, k_h, k_w) weight, PyTorch's semantics; padding an int, a pair, "valid" or
    "same".

    >>> import tinygrad_c2 as tg
    >>> F = tg.nn.functional
    >>> F.conv2d(tg.ones(1, 1, 3, 3), tg.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    >>> F.conv2d(tg.ones(2, 3, 8, 8), tg.ones(4, 3, 3, 3), padding="same").shape
    (2, 4, 8, 8)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
           stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation of (N, C, L) input (or unbatched (C, L)) with a (O, C/groups, k)
    weight, PyTorch's semantics (the 2-D kernel with height 1).

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.conv1d(tg.ones(1, 2, 5), tg.ones(3, 2, 3), padding=1).shape
    (1, 3, 5)
    """
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """The transposed 2-D convolution (conv2d's input gradient as a layer): (N, C_in, H, W)
    with a (C_in, C_out/groups, k_h, k_w) weight gives H_out = (H - 1) * stride - 2 * padding
    + dilation * (k_h - 1) + output_padding + 1, PyTorch's semantics.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.conv_transpose2d(tg.ones(1, 2, 4, 4), tg.ones(2, 3, 3, 3),
    ...                                   stride=2, padding=1, output_padding=1).shape
    (1, 3, 8, 8)
    """
    who = "conv_transpose2d"
    x, unbatched = _batched(input, 2) if isinstance(input, Tensor) else (input, False)
    _check_conv(who, x, weight, bias, 2, groups, transposed=True)
    stride = ntuple(stride, 2, "stride", who)
    dilation = ntuple(dilation, 2, "dilation", who)
    check_geometry(who, stride, dilation)
    if isinstance(padding, str):
        raise OpError(f"{who}: padding must be an int or a pair of ints, got {padding!r}")
    pads = ntuple(padding, 2, "padding", who)
    if any(p < 0 for p in pads):
        raise OpError(f"{who}: negative padding is not supported, got padding={padding!r}")
    out_pad = ntuple(output_padding, 2, "output_padding", who)
    if any(not 0 <= op < max(s, d) for op, s, d in zip(out_pad, stride, dilation, strict=True)):
        raise OpError(f"{who}: output_padding must be smaller than either stride or dilation, "
                      f"got output_padding={out_pad}, stride={stride}, dilation={dilation}")
    kernel = tuple(weight.shape[2:])
    size = tuple((s - 1) * st - 2 * p + d * (k - 1) + op + 1 for s, st, p, d, k, op in
                 zip(x.shape[2:], stride, pads, dilation, kernel, out_pad, strict=True))
    if any(s <= 0 for s in size):
        raise OpError(f"{who}: the output would be {size} for input of shape {tuple(x.shape)}, "
                      f"weight {tuple(weight.shape)}, stride={stride}, padding={pads}")
    y = ConvTranspose2d.apply(x, weight, bias, stride, pads, out_pad, int(groups), dilation)
    return y.squeeze(0) if unbatched else y


def _fold_args(kernel_size: Any, dilation: Any, padding: Any, stride: Any,
               who: str) -> tuple[tuple[int, ...], ...]:
    kernel = ntuple(kernel_size, 2, "kernel_size", who)
    dilation = ntuple(dilation, 2, "dilation", who)
    stride = ntuple(stride, 2, "stride", who)
    check_geometry(who, stride, dilation)
    if any(k <= 0 for k in kernel):
        raise OpError(f"{who}: kernel_size must be positive, got {kernel}")
    pads = conv_padding(padding, kernel, stride, dilation, who)
    return kernel, dilation, pads, stride


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,  # noqa: A002
           stride: Any = 1) -> Tensor:
    """im2col: every k_h x k_w patch of (N, C, H, W) input as a column of (N, C*k_h*k_w, L),
    L the number of patches (PyTorch's F.unfold; conv2d is weight.view(O, -1) @ this).

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.unfold(tg.arange(9.0).reshape(1, 1, 3, 3), 2).tolist()
    [[[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]]
    """
    who = "unfold"
    kernel, dilation, pads, stride = _fold_args(kernel_size, dilation, padding, stride, who)
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        raise OpError(f"{who}: expected a 3-D (unbatched) or 4-D (batched) input Tensor, got "
                      f"shape {getattr(input, 'shape', type(input).__name__)}")
    x, unbatched = _batched(input, 2)
    _check_fits(who, tuple(x.shape[2:]), pads, kernel, dilation)
    y = Unfold.apply(x, kernel, dilation, pads, stride)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,  # noqa: A002
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """col2im: columns (N, C*k_h*k_w, L) summed back into (N, C, *output_size), overlapping
    patches adding up (PyTorch's F.fold, the adjoint of unfold).

    >>> import tinygrad_c2 as tg
    >>> F = tg.nn.functional
    >>> F.fold(F.unfold(tg.ones(1, 1, 3, 3), 2), (3, 3), 2).tolist()  # overlap counts
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    who = "fold"
    kernel, dilation, pads, stride = _fold_args(kernel_size, dilation, padding, stride, who)
    size = ntuple(output_size, 2, "output_size", who)
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        raise OpError(f"{who}: expected a 2-D (unbatched) or 3-D (batched) input Tensor, got "
                      f"shape {getattr(input, 'shape', type(input).__name__)}")
    x, unbatched = _batched(input, 1)
    kk = kernel[0] * kernel[1]
    out = _out_size((size[0] + pads[0] + pads[1], size[1] + pads[2] + pads[3]), kernel, stride,
                    dilation)
    if x.shape[1] % kk or x.shape[2] != out[0] * out[1] or min(out) <= 0:
        raise OpError(f"{who}: input of shape {tuple(input.shape)} does not fit output_size="
                      f"{size}, kernel_size={kernel}: expected (N, C * {kk}, {out[0] * out[1]})")
    y = Fold.apply(x, size, kernel, dilation, pads, stride)
    return y.squeeze(0) if unbatched else y

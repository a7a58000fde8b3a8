"""The losses: fused primitives with closed-form backward (cross-entropy from logits, BCE,
MSE, L1, smooth L1 / Huber, KL divergence) and their F.* forms with PyTorch's reductions."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ...function import Function, OpError
from ...ops import (
    Sigmoid,
    max_keepdims,
    sign,
)
from ...ops.constants import scalar
from ...tensor import Tensor
from ...tensor import where as tg_where
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    # NOTE: np.add.reduce is ndarray.sum's arithmetic without its Python wrapper; out=... makes
    # the total a 0-d array (not a numpy scalar), so the mean divides in place by a 0-d n of
    # its dtype (a Python int is converted afresh each call) and apply need not wrap it again
    if reduction == "mean":  # sum / n: what ndarray.mean computes
        total = np.add.reduce(losses, axis=None, out=...)
        n = scalar(max(losses.size, 1), total.dtype)
        return np.divide(total, n, out=total if total.dtype.kind == "f" else ...)  # int: float
    if reduction == "sum":
        return np.add.reduce(losses, axis=None, out=...)
    return losses


def _scale(g: np.ndarray, reduction: str, n: int, ndim: int) -> Any:
    """The upstream gradient of each element's loss: g/n for mean, g for sum, g per item."""
    if reduction == "mean":  # an empty batch: the forward's mean is 0, its gradient empty
        if type(g) is not np.ndarray:  # a Tensor: backward_graph's
            return g / max(n, 1)
        # a 0-d n of g's dtype and a 0-d result (out=...): g / n's bits, without converting a
        # Python int here or a numpy scalar in the kernel that multiplies by it
        return np.divide(g, scalar(max(n, 1), g.dtype), out=...)
    if reduction == "sum":
        return g
    return g.reshape(g.shape + (1,) * (ndim - g.ndim))


def _same_shape(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise OpError(f"{op}: input shape {a.shape} and target shape {b.shape} differ; they must "
                      "match exactly (broadcasting here is almost always a bug: (N, 1) vs (N,))")


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # by itemsize


def _check_labels(op: str, target: np.ndarray, c: int, ignore_index: int) -> np.ndarray | None:
    """Labels in [0, c) or equal to ignore_index; returns the mask of counted rows (None: all)."""
    if not target.size:
        return None
    if ignore_index < 0 and target.dtype.kind == "i":
        # NOTE: the common case (no label ignored, as none can be negative here) in one pass:
        # seen as unsigned, a negative label is larger than any class count.
        if np.maximum.reduce(target.view(_UNSIGNED[target.itemsize]), axis=None) < c:
            return None
    lo, hi = target.min(), target.max()
    if 0 <= lo and hi < c and not lo <= ignore_index <= hi:
        return None  # NOTE: the common case decided by min and max alone, as before weights
    keep = target != ignore_index
    if keep.all():
        keep = None
    labels = target if keep is None else target[keep]
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise OpError(f"{op}: class labels must be in [0, {c}), got values from {labels.min()} "
                      f"to {labels.max()} (a label equal to ignore_index={ignore_index} is "
                      "skipped)")
    return keep


def _check_weight(op: str, weight: np.ndarray | None, c: int) -> None:
    if weight is not None and weight.shape != (c,):
        raise OpError(f"{op}: weight must hold one value per class, shape ({c},), got shape "
                      f"{weight.shape}")


def _mean_over(total: np.ndarray, denominator: Any) -> np.ndarray:
    """total / denominator; 0 when nothing is counted (all targets ignored, or zero weights).

    NOTE: PyTorch gives nan there; 0 is this library's rule for a mean over nothing (an empty
    batch), so a batch whose targets are all padding cannot poison the weights.
    """
    return total / denominator if denominator else total * 0.0


def _linked(ctx, value: np.ndarray, slopes: tuple[float, ...]) -> Tensor:
    """A saved array that the forward computed as sum_i slopes[i] * input_i + a constant, as a
    graph Tensor of those inputs (for the differentiable backward of losses that keep it, not
    the inputs): d = a - b has slopes (1, -1); log softmax(z) is z shifted per row, slopes (1,).

    NOTE: value + sum_i slope_i (X_i - X_i.detach()) has value's values and the derivatives
    slope_i to every order, as the affine function itself: the inputs' own values are not
    needed (the node does not keep them).
    """
    out = Tensor(value)
    for i, slope in enumerate(slopes):
        if ctx.needs_input_grad[i]:
            t = ctx.graph_input(i, np.zeros_like(value))
            out = out + slope * (t - t.detach())
    return out


def _one_hot_rows(labels: np.ndarray, c: int, dtype: np.dtype) -> np.ndarray:
    """(n, c) with a 1 at (i, labels[i]): the label positions as a constant."""
    out = np.zeros((labels.size, c), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out


_ROW_STARTS: dict[tuple[int, int], np.ndarray] = {}  # (n, c) -> 0, c, 2c, ... (read-only)
_INTP = np.dtype(np.intp)


def _flat_index(labels: np.ndarray, c: int) -> np.ndarray:
    """i c + labels[i]: where (i, labels[i]) sits in a C-ordered (n, c) array, so picking and
    updating those entries is a 1-D take / index, several times cheaper than numpy's 2-D
    fancy indexing [rows, labels]. The labels are checked to lie in [0, c) already."""
    n = labels.shape[0]
    starts = _ROW_STARTS.get((n, c))
    if starts is None:
        if len(_ROW_STARTS) > 64:  # bounded: a few batch shapes a program
            _ROW_STARTS.clear()
        starts = _ROW_STARTS[(n, c)] = np.arange(0, n * c, c)
        starts.flags.writeable = False
    if labels.dtype is _INTP:  # the usual int64 labels: the sum is intp already
        return np.add(starts, labels)
    # NOTE: intp whatever the labels' integer type (uint64 + int64 would give float64)
    return np.add(starts, labels, dtype=np.intp, casting="unsafe")


def _softmax_lse(shifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The softmax of rows shifted by their max, and their (n, 1) logsumexp."""
    p = np.exp(shifted)
    total = np.add.reduce(p, axis=1, keepdims=True)  # p.sum, without its wrapper
    p /= total
    return p, np.log(total)


class CrossEntropy(Function):
    """Softmax + cross-entropy in one node   |   dZ = softmax(Z) - Y   (the course's closed form)

    With class weights w and label smoothing s, row i with label y costs
    (1 - s) w_y (lse - z_y) + (s / C) sum_c w_c (lse - z_c) (PyTorch's rule), and its gradient
    is p ((1 - s) w_y + (s / C) sum(w)) - (1 - s) w_y [c = y] - (s / C) w. A row whose label is
    ignore_index costs 0 and gets no gradient; the weighted mean divides by the weights of the
    counted rows' labels, sum w_y.
    """

    fresh_grads = True  # dZ (and dY) are new arrays: the next backward may work in them

    @staticmethod
    def forward(ctx, z, target, reduction, smoothing, weight=None, ignore_index=-100):
        if z.ndim != 2:
            raise OpError(f"cross_entropy: expected logits of shape (N, C), got {z.shape}")
        n, c = z.shape
        if weight is not None:
            _check_weight("cross_entropy", weight, c)
        index = target.dtype.kind in "iu"
        keep = None
        if index:
            if target.shape != (n,):
                raise OpError(f"cross_entropy: integer targets must have shape ({n},) for logits "
                              f"{z.shape}, got {target.shape}")
            keep = _check_labels("cross_entropy", target, c, ignore_index)
        elif target.dtype.kind == "f":
            if target.shape == (n,):
                raise OpError(f"cross_entropy: class-index targets must be integers, got "
                              f"{target.dtype} labels of shape {target.shape}: use "
                              f"y.astype(np.int64) (float targets are ({n}, {c}) class "
                              "probabilities)")
            _same_shape("cross_entropy", z, target)
        else:
            raise OpError(f"cross_entropy: target must be integer class labels or float class "
                          f"probabilities, got dtype {target.dtype}")
        # -log softmax(z)_j = logsumexp(z) - z_j, with z shifted by its row max for stability
        shifted = z - max_keepdims(z, 1)
        try:
            p, lse = _softmax_lse(shifted)
        except FloatingPointError:
            # NOTE: only under np.errstate(under="raise"): a far-below-max logit's probability
            # is 0, the correct result, so compute it again quietly (an errstate around every
            # call would cost a microsecond; under="warn" still warns, as Exp does).
            with np.errstate(under="ignore"):
                p, lse = _softmax_lse(shifted)
        plain = weight is None and keep is None  # the common case keeps its short path
        labels = target if keep is None else np.where(keep, target, 0)  # ignored: any class
        row_weight = None  # per row: w_y (0 for an ignored row), or None when plain
        count = n
        if index and plain:
            losses = lse[:, 0] - shifted.reshape(-1).take(_flat_index(target, c))
            if smoothing:  # mix in the uniform target: -(1/c) sum_j log p_j
                uniform = lse[:, 0] - shifted.sum(axis=1) / c
                losses = (1.0 - smoothing) * losses + smoothing * uniform
        elif index:
            row_weight = (np.ones(n, dtype=z.dtype) if weight is None
                          else weight[labels].astype(z.dtype))
            if keep is not None:
                row_weight = row_weight * keep
            losses = row_weight * (lse[:, 0] - shifted[np.arange(n), labels])
            if smoothing:
                w = 1.0 if weight is None else weight
                smooth = (w * (lse - shifted)).sum(axis=1)
                if keep is not None:
                    smooth *= keep
                losses = (1.0 - smoothing) * losses + (smoothing / c) * smooth
            count = row_weight.sum()
        else:
            y = target * (1.0 - smoothing) + smoothing / c if smoothing else target
            losses = ((y if weight is None else y * weight) * (lse - shifted)).sum(axis=1)
        ctx.reduction = reduction
        ctx.smoothing = smoothing
        ctx.index = index
        ctx.count = count
        counted = None if keep is None else keep.astype(z.dtype)
        ctx.save_for_backward(p, target, lse - shifted if ctx.needs_input_grad[1] else None,
                              weight, labels, row_weight, counted)
        if reduction == "mean" and not plain:
            return _mean_over(losses.sum(), count)
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        p, target, neg_logp, weight, labels, row_weight, counted = ctx.saved_tensors
        n, c = p.shape
        s = ctx.smoothing
        if ctx.reduction == "mean" and (row_weight is not None):
            scale = _mean_over(g, ctx.count)  # the weighted mean divides by sum w_y, not n
        else:
            scale = _scale(g, ctx.reduction, n, 2)
        if ctx.index and row_weight is not None:
            r = np.broadcast_to(scale, (n, 1)) if np.ndim(scale) == 0 else scale
            if counted is not None:
                r = r * counted[:, None]  # an ignored row gets no gradient at all
            w, w_sum = (1.0, c) if weight is None else (weight, weight.sum())
            wy = row_weight[:, None]
            gz = p * (((1.0 - s) * wy + (s / c) * w_sum) * r)
            gz[np.arange(n), labels] -= (1.0 - s) * (wy * r)[:, 0]
            if s:
                gz -= (s / c) * w * r
            return gz, None, None, None, None, None
        # a fresh array (the saved softmax stays intact for retain_graph), in C order: the
        # flat view below writes into it
        gz = np.multiply(p, scale, order="C")
        if ctx.index:
            per_row = scale[:, 0] if ctx.reduction == "none" else scale
            flat = gz.reshape(-1)
            flat[_flat_index(target, c)] -= (1.0 - s) * per_row if s else per_row  # (1-0) x: x
            if s:
                gz -= (s / c) * scale
            return gz, None, None, None, None, None
        y = target * (1.0 - s) + s / c if s else target
        if weight is not None:
            y = y * weight
        gz *= y.sum(axis=1, keepdims=True)
        gz -= y * scale
        gy = None
        if ctx.needs_input_grad[1]:
            gy = (1.0 - s) * neg_logp * scale
            if weight is not None:
                gy = gy * weight
        return gz, gy, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        p, target, neg_logp, weight, labels, row_weight, counted = ctx.saved_tensors
        n, c = p.shape
        s = ctx.smoothing
        # NOTE: the logits are not saved; log p (or -neg_logp, exact) is z shifted by a constant
        # per row, to which softmax is blind: softmax of it, linked to z, is p with z's graph
        # (a probability that underflowed to 0 stays 0: log 0 = -inf is a valid logit here)
        with np.errstate(divide="ignore"):
            zt = _linked(ctx, -neg_logp if neg_logp is not None else np.log(p), (1.0,))
        pt = zt.softmax(1)
        if ctx.reduction == "mean" and (row_weight is not None):
            scale = _mean_over(g, ctx.count)
        else:
            scale = _scale(g, ctx.reduction, n, 2)
        if ctx.index and row_weight is not None:
            r = scale.reshape(1, 1) if scale.ndim == 0 else scale
            if counted is not None:
                r = r * counted[:, None]
            w, w_sum = (1.0, c) if weight is None else (weight, weight.sum())
            wy = row_weight[:, None]
            gz = pt * (r * ((1.0 - s) * wy + (s / c) * w_sum))
            gz = gz - _one_hot_rows(labels, c, p.dtype) * (r * ((1.0 - s) * wy))
            if s:
                gz = gz - r * ((s / c) * w)
            return gz, None, None, None, None, None
        if ctx.index:
            gz = pt * scale - _one_hot_rows(target, c, p.dtype) * ((1.0 - s) * scale)
            if s:
                gz = gz - (s / c) * scale
            return gz, None, None, None, None, None
        y = ctx.graph_input(1, target) if ctx.needs_input_grad[1] else Tensor(target)
        y = y * (1.0 - s) + s / c if s else y
        if weight is not None:
            y = y * weight
        gz = pt * (y.sum(1, keepdim=True) * scale) - y * scale
        gy = None
        if ctx.needs_input_grad[1]:
            gy = -zt.log_softmax(1) * ((1.0 - s) * scale)
            if weight is not None:
                gy = gy * weight
        return gz, gy, None, None, None, None


class NLLLoss(Function):
    """loss = -w_y logp[i, y_i]   |   dlogp = -w_y at each (i, y_i), scaled by the reduction

    Weights w default to 1; a row labelled ignore_index costs 0 and gets no gradient; the mean
    divides by the weights of the counted rows' labels, sum w_y (PyTorch's rule).
    """

    @staticmethod
    def forward(ctx, logp, target, reduction, weight=None, ignore_index=-100):
        if logp.ndim != 2 or target.shape != logp.shape[:1] or target.dtype.kind not in "iu":
            raise OpError(f"nll_loss: expected (N, C) log-probabilities and (N,) integer labels, "
                          f"got {logp.shape} and {target.shape} {target.dtype}")
        n, c = logp.shape
        _check_weight("nll_loss", weight, c)
        keep = _check_labels("nll_loss", target, c, ignore_index)
        labels = target if keep is None else np.where(keep, target, 0)
        row_weight = None
        if weight is not None or keep is not None:
            row_weight = (np.ones(n, dtype=logp.dtype) if weight is None
                          else weight[labels].astype(logp.dtype))
            if keep is not None:
                row_weight = row_weight * keep
        ctx.reduction, ctx.shape = reduction, logp.shape
        ctx.count = n if row_weight is None else row_weight.sum()
        ctx.save_for_backward(labels, row_weight)
        losses = -logp[np.arange(n), labels]
        if row_weight is None:
            return _reduce(losses, reduction)
        losses = losses * row_weight
        return _mean_over(losses.sum(), ctx.count) if reduction == "mean" else _reduce(
            losses, reduction)

    @staticmethod
    def backward(ctx, g):
        labels, row_weight = ctx.saved_tensors
        n = ctx.shape[0]
        out = np.zeros(ctx.shape, dtype=g.dtype)
        if row_weight is None:
            out[np.arange(n), labels] = -_scale(g, ctx.reduction, n, 1)
        else:
            scale = _mean_over(g, ctx.count) if ctx.reduction == "mean" else g
            out[np.arange(n), labels] = -scale * row_weight
        return out, None, None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        labels, row_weight = ctx.saved_tensors
        n, c = ctx.shape
        picked = _one_hot_rows(labels, c, g.dtype)  # the gradient is linear in g alone
        if row_weight is None:
            return -picked * _scale(g, ctx.reduction, n, 2), None, None, None, None
        scale = _mean_over(g, ctx.count) if ctx.reduction == "mean" else _scale(
            g, ctx.reduction, n, 2)
        return -picked * (scale * row_weight[:, None]), None, None, None, None


class BCE(Function):
    """loss = -(y log p + (1-y) log(1-p)), logs clamped at -100 as PyTorch   |
    dp = (p - y) / max(p (1 - p), 1e-12)"""

    @staticmethod
    def forward(ctx, p, y, reduction):
        _same_shape("binary_cross_entropy", p, y)
        if p.size and (p.min() < 0 or p.max() > 1):
            raise OpError(f"binary_cross_entropy: inputs must be probabilities in [0, 1], got "
                          f"values from {p.min()} to {p.max()} (use "
                          "binary_cross_entropy_with_logits for raw scores)")
        with np.errstate(divide="ignore", under="ignore"):  # log(0) is clamped below
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        ctx.reduction = reduction
        # the logs only for the target's gradient (soft targets that require grad)
        ctx.save_for_backward(p, y, *((log_p, log_q) if ctx.needs_input_grad[1] else (None, None)))
        return _reduce(-(y * log_p + (1.0 - y) * log_q), reduction)

    @staticmethod
    def backward(ctx, g):
        p, y, log_p, log_q = ctx.saved_tensors
        scale = _scale(g, ctx.reduction, p.size, p.ndim)
        gp = (p - y) / np.maximum(p * (1.0 - p), 1e-12) * scale
        gy = (log_q - log_p) * scale if ctx.needs_input_grad[1] else None
        return gp, gy, None

    @staticmethod
    def backward_graph(ctx, g):
        p, y, _, _ = ctx.saved_tensors
        pt, yt = ctx.graph_input(0, p), ctx.graph_input(1, y)
        scale = _scale(g, ctx.reduction, p.size, p.ndim)
        gp = (pt - yt) / (pt * (1.0 - pt)).clamp(min=1e-12) * scale
        gy = None
        if ctx.needs_input_grad[1]:  # the logs clamped at -100, as the forward's
            gy = (_clamped_log(1.0 - pt, 1.0 - p) - _clamped_log(pt, p)) * scale
        return gp, gy, None


def _clamped_log(x: Tensor, values: np.ndarray) -> Tensor:
    """max(log x, -100) (BCE's clamp) with Tensor ops; where it clamps (x = 0 among them) the
    constant -100, so no log of 0 (and no 1 / 0 in its derivative) is formed."""
    with np.errstate(divide="ignore"):
        low = np.log(values) < -100.0
    if not low.any():
        return x.log()
    return tg_where(low, -100.0, tg_where(low, 1.0, x).log())


def _softplus_parts(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(max(z, 0), t, sigmoid(z)) with t = log(1 + e^-|z|), each exact in both tails:
    softplus(z) = max(z, 0) + t, and sigmoid(z) = e^(min(z, 0) - t) (= e^-softplus(-z)), whose
    exponent is <= 0, so nothing overflows (integer logits: in float64, as numpy promotes them).
    """
    if z.dtype.kind != "f":
        t = np.log1p(np.exp(-np.abs(z)))
        return np.maximum(z, 0), t, np.exp(np.minimum(z, 0) - t)
    zero = scalar(0, z.dtype)
    low = np.minimum(z, zero)
    high = np.maximum(z, zero)
    t = np.subtract(low, high)  # -|z|, exactly
    np.exp(t, out=t)
    np.log1p(t, out=t)
    low -= t  # log sigmoid(z)
    return high, t, np.exp(low, out=low)


class _SavedSigmoid(Sigmoid):
    """sigmoid(x) given as the array y its caller computed already: Sigmoid's node, whose
    gradient reads only y, for a backward_graph whose node keeps sigmoid(z) but not z."""

    promote = ()

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return Sigmoid.backward(ctx, g), None

    @staticmethod
    def backward_graph(ctx, g):
        return Sigmoid.backward_graph(ctx, g), None


class BCEWithLogits(Function):
    """loss = max(z, 0) - y z + t, t = log(1 + e^-|z|); with pos_weight, (1-y) z + l softplus(-z),
    l = 1 + (pw-1) y   |   dz = sigmoid(z) - y   (with pos_weight: (1-y) - l (1 - sigmoid(z)))"""

    fresh_grads = True

    @staticmethod
    def forward(ctx, z, y, reduction, pos_weight):
        _same_shape("binary_cross_entropy_with_logits", z, y)
        # NOTE: softplus(z) = max(z, 0) + log1p(e^-|z|): no overflow at +-1000, and for a
        # well-classified example the large terms cancel exactly, so a loss of 1e-14 keeps its
        # digits (logaddexp(0, z) - y z would lose them).
        try:
            high, t, s = _softplus_parts(z)
        except FloatingPointError:  # NOTE: as in CrossEntropy: e^-|z| of a confident logit is 0
            with np.errstate(under="ignore"):
                high, t, s = _softplus_parts(z)
        if pos_weight is None:
            lw = None
            # in max(z, 0)'s memory when y has z's dtype (else the result is of a wider one)
            losses = np.subtract(high, np.multiply(z, y), out=high if y.dtype == z.dtype else None)
            losses += t
        else:
            lw = 1.0 + (pos_weight - 1.0) * y
            losses = (1.0 - y) * z + lw * (np.maximum(-z, 0) + t)  # softplus(-z)
        ctx.reduction, ctx.pos_weight = reduction, pos_weight
        # NOTE: the node keeps sigmoid(z), which the backward needs, and not z or t (PyTorch's
        # node keeps z): the logits and t only for the target's gradient (soft targets that
        # require grad), which reads them. backward_graph makes sigmoid(z) a node of z's graph
        # from s alone (_SavedSigmoid), so the second derivative needs no z either.
        keep = ctx.needs_input_grad[1]
        ctx.save_for_backward(s, y, lw, z if keep else None, t if keep else None)
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        s, y, lw, z, t = ctx.saved_tensors
        scale = _scale(g, ctx.reduction, s.size, s.ndim)
        gy = None
        if ctx.needs_input_grad[1]:  # dloss/dy = -z + (pos_weight - 1) softplus(-z)
            gy = -z if lw is None else (ctx.pos_weight - 1.0) * (np.maximum(-z, 0) + t) - z
            gy = gy * scale
        if lw is None and s.dtype == y.dtype == scale.dtype:
            gz = np.subtract(s, y)  # (s - y) * scale, the second step in place: same roundings
            gz *= scale
            return gz, gy, None, None
        return (s - y if lw is None else (1.0 - y) - lw * (1.0 - s)) * scale, gy, None, None

    @staticmethod
    def backward_graph(ctx, g):
        s, y, lw, z, _ = ctx.saved_tensors
        zt = ctx.graph_input(0, z)  # z itself when saved, else the input's stand-in
        yt = ctx.graph_input(1, y) if ctx.needs_input_grad[1] else Tensor(y)
        scale = _scale(g, ctx.reduction, s.size, s.ndim)
        sig = _SavedSigmoid.apply(zt, s)  # sigmoid(z) with z's graph, the value backward uses
        pw = ctx.pos_weight
        if lw is None:
            gz = (sig - yt) * scale
        else:
            gz = ((1.0 - yt) - (1.0 + (pw - 1.0) * yt) * (1.0 - sig)) * scale
        gy = None
        if ctx.needs_input_grad[1]:
            # softplus(-z) in its exact form (no threshold), as the forward computes it
            gy = -zt if lw is None else (pw - 1.0) * softplus(-zt, 1.0, np.inf) - zt
            gy = gy * scale
        return gz, gy, None, None


class MSELoss(Function):
    """loss = (a - b)^2   |   da = 2 (a - b), db = -da, scaled by the reduction"""

    @staticmethod
    def forward(ctx, a, b, reduction):
        _same_shape("mse_loss", a, b)
        d = a - b
        ctx.reduction = reduction
        ctx.save_for_backward(d)
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        ga = 2.0 * d * _scale(g, ctx.reduction, d.size, d.ndim)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None

    @staticmethod
    def backward_graph(ctx, g):
        (d,) = ctx.saved_tensors
        ga = 2.0 * _linked(ctx, d, (1.0, -1.0)) * _scale(g, ctx.reduction, d.size, d.ndim)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None


class L1Loss(Function):
    """loss = |a - b|   |   da = sign(a - b) (0 at NaN), db = -da, scaled by the reduction"""

    @staticmethod
    def forward(ctx, a, b, reduction):
        _same_shape("l1_loss", a, b)
        d = a - b
        ctx.reduction = reduction
        ctx.save_for_backward(d)
        return _reduce(np.abs(d), reduction)

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        ga = sign(d, g.dtype) * _scale(g, ctx.reduction, d.size, d.ndim)  # 0 at NaN, as PyTorch
        return ga, (-ga if ctx.needs_input_grad[1] else None), None

    @staticmethod
    def backward_graph(ctx, g):
        (d,) = ctx.saved_tensors  # sign(d) is piecewise constant: its derivative is 0
        ga = sign(d, g.dtype) * _scale(g, ctx.reduction, d.size, d.ndim)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None


class SmoothL1Loss(Function):
    """d = a - b; loss = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta (beta = 0: |d|);
    Huber (huber=True, delta = beta) is beta times it   |   da = d / beta inside, sign(d)
    outside (Huber: times beta), db = -da, scaled by the reduction"""

    @staticmethod
    def forward(ctx, a, b, reduction, beta, huber):
        _same_shape("huber_loss" if huber else "smooth_l1_loss", a, b)
        d = a - b
        ad = np.abs(d)
        inside = ad < beta
        if huber:  # PyTorch's two forms: 0.5 d^2 | delta (|d| - 0.5 delta)
            losses = np.where(inside, 0.5 * d * d, beta * (ad - 0.5 * beta))
        elif beta:  # 0.5 d^2 / beta | |d| - 0.5 beta
            losses = np.where(inside, 0.5 * d * d / beta, ad - 0.5 * beta)
        else:
            losses = ad
        ctx.reduction, ctx.beta, ctx.huber = reduction, beta, huber
        ctx.save_for_backward(d, inside)
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        d, inside = ctx.saved_tensors
        beta = ctx.beta
        if ctx.huber:
            local = np.where(inside, d, beta * np.sign(d))
        else:
            local = np.where(inside, d / beta, np.sign(d)) if beta else np.sign(d)
        ga = local * _scale(g, ctx.reduction, d.size, d.ndim)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None, None, None

    @staticmethod
    def backward_graph(ctx, g):
        d, inside = ctx.saved_tensors
        beta = ctx.beta
        outside = beta * np.sign(d) if ctx.huber else np.sign(d)  # constants
        if ctx.huber or beta:
            slope = 1.0 if ctx.huber else 1.0 / beta
            local = tg_where(inside, _linked(ctx, d, (1.0, -1.0)) * slope, outside.astype(d.dtype))
        else:
            local = Tensor(outside.astype(d.dtype))
        ga = local * _scale(g, ctx.reduction, d.size, d.ndim)
        return ga, (-ga if ctx.needs_input_grad[1] else None), None, None, None


class KLDivLoss(Function):
    """loss = t (log t - x) (0 where t = 0), or e^t (t - x) with log_target   |   dx = -t (or
    -e^t), dt = log t + 1 - x (nan at t = 0, as PyTorch) (or e^t (t - x + 1)); 'batchmean'
    divides the sum by N"""

    @staticmethod
    def forward(ctx, x, t, reduction, log_target):
        _same_shape("kl_div", x, t)
        if log_target:
            et = np.exp(t)
            losses = et * (t - x)
            log_t = None
        else:
            et = None
            with np.errstate(divide="ignore", invalid="ignore"):  # t < 0: nan, as PyTorch
                log_t = np.log(np.where(t == 0, 1.0, t))  # 0 log 0 = 0
            losses = t * (log_t - x)
        if reduction == "batchmean":
            count = x.shape[0] if x.ndim else 1
            out = losses.sum() / max(count, 1)
        else:
            count = x.size
            out = _reduce(losses, reduction)
        ctx.reduction = "mean" if reduction == "batchmean" else reduction
        ctx.count, ctx.log_target = count, log_target
        ctx.save_for_backward(x, t, et, log_t)
        return out

    @staticmethod
    def backward(ctx, g):
        x, t, et, log_t = ctx.saved_tensors
        scale = _scale(g, ctx.reduction, ctx.count, x.ndim)
        gx = -(et if ctx.log_target else t) * scale
        gt = None
        if ctx.needs_input_grad[1]:
            if ctx.log_target:
                gt = et * (t - x + 1.0) * scale
            else:  # NOTE: d(t log t)/dt is -inf at t = 0: nan there, exactly as PyTorch
                gt = np.where(t == 0, np.nan, log_t + 1.0 - x) * scale
        return gx, gt, None, None

    @staticmethod
    def backward_graph(ctx, g):
        x, t, _, _ = ctx.saved_tensors
        tt = ctx.graph_input(1, t) if ctx.needs_input_grad[1] else Tensor(t)
        scale = _scale(g, ctx.reduction, ctx.count, x.ndim)
        et = tt.exp() if ctx.log_target else None
        gx = -(et if ctx.log_target else tt) * scale
        gt = None
        if ctx.needs_input_grad[1]:
            xt = ctx.graph_input(0, x)
            if ctx.log_target:
                gt = et * (tt - xt + 1.0) * scale
            else:  # nan at t = 0, as the first-order backward (and PyTorch)
                zero = t == 0
                log_t = tg_where(zero, 1.0, tt).log()
                gt = tg_where(zero, np.nan, log_t + 1.0 - xt) * scale
        return gx, gt, None, None


def _legacy(op: str, size_average: Any, reduce: Any) -> None:
    """PyTorch's long-deprecated size_average/reduce flags: refused, naming the replacement."""
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated in PyTorch and not "
                         "supported here: use reduction='mean', 'sum' or 'none'")


def _refuse_options(op: str, reduction: Any, size_average: Any, reduce: Any) -> None:
    """The error for a loss called with the legacy flags or an unknown reduction.

    NOTE: the wrappers test `size_average is not None or reduce is not None or reduction not
    in _REDUCTIONS` themselves and call this only when it holds: the ordinary call (once a
    step) then makes no frame for its argument checks (a Python call is ~450 instructions).
    """
    _legacy(op, size_average, reduce)
    _check_reduction(op, reduction)


def _class_weight(op: str, weight: Any, input: Tensor) -> np.ndarray | None:  # noqa: A002
    """Per-class weights as an array of the input's dtype (a constant: no gradient)."""
    if weight is None:
        return None
    w = weight.numpy() if isinstance(weight, Tensor) else np.asarray(weight)
    if w.dtype.kind not in "iuf":
        raise TypeError(f"{op}: weight must be a float tensor of per-class weights, got dtype "
                        f"{w.dtype}")
    return w.astype(input.dtype, copy=False)


def _classes_last(op: str, input: Tensor, target: Tensor,  # noqa: A002
                  probabilities: bool) -> tuple[Tensor, Tensor, tuple]:
    """(N, C, d1, ...) input and (N, d1, ...) labels (or (N, C, d1, ...) probabilities) as
    (N * d1 * ..., C) rows, the layout the fused primitives take; also the (N, d1, ...) shape
    that reduction='none' returns."""
    n, c, rest = input.shape[0], input.shape[1], input.shape[2:]
    expected = input.shape if probabilities else (n, *rest)
    if target.shape != expected:
        raise OpError(f"{op}: for input of shape {input.shape} the target must have shape "
                      f"{expected}, got {target.shape}")
    order = (0, *range(2, input.ndim), 1)  # the class axis last
    rows = input.permute(*order).reshape(-1, c)
    target = target.permute(*order).reshape(-1, c) if probabilities else target.reshape(-1)
    return rows, target, (n, *rest)


def cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                  size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy from raw logits (N, C) or (N, C, d1, ...) with integer labels
    (N,) / (N, d1, ...) or class probabilities of the logits' shape, e.g. one-hot. One node;
    its backward is softmax - Y.

    PyTorch's options: `weight` (one per class; the mean divides by the weights of the
    counted targets), `ignore_index` (a label that costs 0 and gets no gradient),
    `label_smoothing`. A mean over no counted target is 0 (PyTorch: nan).

    >>> import tinygrad_c2 as tg
    >>> z = tg.tensor([[2.0, 0.0, 0.0]], requires_grad=True)
    >>> loss = tg.nn.functional.cross_entropy(z, tg.tensor([0]))
    >>> round(loss.item(), 4)
    0.2395
    """
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        _refuse_options("cross_entropy", reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = target if isinstance(target, Tensor) else Tensor(target)
    w = None if weight is None else _class_weight("cross_entropy", weight, input)
    ndim = input._data.ndim if type(input) is Tensor else input.ndim  # (no property call)
    if ndim == 1:
        out = CrossEntropy.apply(input.unsqueeze(0), target.unsqueeze(0), reduction,
                                 label_smoothing, w, ignore_index)
        return out.squeeze(0) if reduction == "none" else out
    if ndim > 2:
        rows, flat, shape = _classes_last("cross_entropy", input, target,
                                          target.dtype.kind == "f")
        out = CrossEntropy.apply(rows, flat, reduction, label_smoothing, w, ignore_index)
        return out.reshape(shape) if reduction == "none" else out
    return CrossEntropy.apply(input, target, reduction, label_smoothing, w, ignore_index)


def nll_loss(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
             size_average: Any = None, ignore_index: int = -100, reduce: Any = None,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) or (N, C, d1, ...) at integer labels
    (N,) / (N, d1, ...), with PyTorch's `weight` and `ignore_index` (as in cross_entropy).

    >>> import tinygrad_c2 as tg
    >>> logp = tg.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> tg.nn.functional.nll_loss(logp, tg.tensor([1, -100])).item()
    2.0
    """
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        _refuse_options("nll_loss", reduction, size_average, reduce)
    target = target if isinstance(target, Tensor) else Tensor(target)
    w = _class_weight("nll_loss", weight, input)
    if input.ndim > 2:
        rows, flat, shape = _classes_last("nll_loss", input, target, False)
        out = NLLLoss.apply(rows, flat, reduction, w, ignore_index)
        return out.reshape(shape) if reduction == "none" else out
    return NLLLoss.apply(input, target, reduction, w, ignore_index)


def _weighted(op: str, losses: Tensor, weight: Any, reduction: str) -> Tensor:
    """PyTorch's elementwise `weight` on a loss: weight * loss (broadcast), then reduced; the
    mean stays over all elements (it is not normalized by the weights)."""
    w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=losses.dtype))
    try:
        np.broadcast_shapes(w.shape, losses.shape)
    except ValueError:
        raise OpError(f"{op}: weight of shape {w.shape} does not broadcast to the loss shape "
                      f"{losses.shape}") from None
    weighted = losses * w
    if weighted.shape != losses.shape:
        raise OpError(f"{op}: weight of shape {w.shape} would broadcast the loss shape "
                      f"{losses.shape} to {weighted.shape}")
    if reduction == "mean":
        return weighted.mean()
    return weighted.sum() if reduction == "sum" else weighted


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         size_average: Any = None, reduce: Any = None,
                         reduction: str = "mean") -> Tensor:
    """Cross-entropy of probabilities in [0, 1] against 0/1 (or soft) targets of the same
    shape; `weight` rescales each element's loss (broadcast), as in PyTorch."""
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        _refuse_options("binary_cross_entropy", reduction, size_average, reduce)
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    if weight is not None:
        return _weighted("binary_cross_entropy", BCE.apply(input, target, "none"), weight,
                         reduction)
    return BCE.apply(input, target, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Any,  # noqa: A002
                                     weight: Any = None, size_average: Any = None,
                                     reduce: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable node (finite for logits of any size);
    `weight` rescales each element's loss, `pos_weight` the positive term per class.

    >>> import tinygrad_c2 as tg
    >>> F = tg.nn.functional
    >>> F.binary_cross_entropy_with_logits(tg.tensor([1000.0, -1000.0]), tg.tensor([0.0, 1.0]))
    tensor(1000.)
    """
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        _refuse_options("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    if isinstance(pos_weight, Tensor):
        pos_weight = pos_weight._data
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    if weight is not None:
        return _weighted("binary_cross_entropy_with_logits",
                         BCEWithLogits.apply(input, target, "none", pos_weight), weight, reduction)
    return BCEWithLogits.apply(input, target, reduction, pos_weight)


def smooth_l1_loss(input: Tensor, target: Any, size_average: Any = None,  # noqa: A002
                   reduce: Any = None, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta = 0 is
    the L1 loss.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.smooth_l1_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0])).item()
    1.3125
    """
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        _refuse_options("smooth_l1_loss", reduction, size_average, reduce)
    if not beta >= 0:
        raise OpError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    return SmoothL1Loss.apply(input, target, reduction, beta, False)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean",  # noqa: A002
               delta: float = 1.0, weight: Any = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): delta * smooth_l1(beta=delta).

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.huber_loss(tg.tensor([0.5, 3.0]), tg.tensor([0.0, 0.0]), delta=2.0).item()
    2.0625
    """
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise OpError(f"huber_loss: delta must be > 0, got {delta}")
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    if weight is not None:
        return _weighted("huber_loss", SmoothL1Loss.apply(input, target, "none", delta, True),
                         weight, reduction)
    return SmoothL1Loss.apply(input, target, reduction, delta, True)


def kl_div(input: Tensor, target: Any, size_average: Any = None,  # noqa: A002
           reduce: Any = None, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence of `target` from `input`, where input holds LOG-probabilities (as
    PyTorch): target (log target - input), or e^target (target - input) with log_target.

    reduction='batchmean' (sum / N) is the true KL divergence per example; 'mean' averages
    over every element and warns, as PyTorch does.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> p = tg.tensor([[0.5, 0.5]], dtype=tg.float64)
    >>> tg.nn.functional.kl_div(p.log(), p, reduction="batchmean").item()
    0.0
    """
    _legacy("kl_div", size_average, reduce)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"kl_div: reduction must be 'batchmean', 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size "
                      "and the support size; 'batchmean' divides only by the batch size and "
                      "is the KL divergence's definition (PyTorch's warning)", UserWarning,
                      stacklevel=2)
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    return KLDivLoss.apply(input, target, reduction, log_target)


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error; input and target must have the same shape."""
    _check_reduction("mse_loss", reduction)
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    return MSELoss.apply(input, target, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error; input and target must have the same shape."""
    _check_reduction("l1_loss", reduction)
    if not isinstance(target, (Tensor, np.ndarray)):  # a list: as a constant tensor
        target = Tensor(target)
    return L1Loss.apply(input, target, reduction)

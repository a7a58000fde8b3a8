"""Every primitive x a shape matrix: forward against numpy, backward against centered
differences (random cotangent), and against PyTorch in float64 when torch is installed."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.function import PRIMITIVES
from tinygrad_c2.nn.functional.linear import LinearRun
from tinygrad_c2.nn.functional.recurrent import GRURecurrence, LSTMRecurrence, RNNRecurrence

F = tg.nn.functional

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # the parity half of each row is skipped without torch
    torch = None
    TF = None

LABELS = np.array([2, 0, 1, 2], dtype=np.int64)
LABELS_IGNORED = np.array([2, -100, 1, 2], dtype=np.int64)  # the default ignore_index
LABELS_2D = np.array([[[0, 2], [1, 1]], [[2, -100], [0, 1]]], dtype=np.int64)  # (N, d1, d2)
CLASS_WEIGHT = np.array([0.3, 1.5, 0.8])
ZEROS = np.array([[1.0, 1, 1, 1], [1, 0, 1, 1], [0, 1, 0, 1]])  # rows with no, one, two zeros
GATHER_IDX = np.array([[0, 0, 3], [2, 1, 1], [3, 3, 0]])  # repeats, and smaller than (3, 4)
SCATTER_IDX = np.array([[0, 2, 2, 1], [2, 2, 0, 1]])  # into (3, 4) along dim 0; (2, 2) repeats
COND = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _scatter_add(a: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = a.copy()
    np.add.at(out, (SCATTER_IDX, np.arange(4)[None, :]), src)
    return out


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def _weighted_ce(z: np.ndarray, labels: np.ndarray, w: np.ndarray) -> np.ndarray:
    """PyTorch's weighted mean: sum of w_y * nll over counted rows / sum of their w_y."""
    keep = labels != -100
    lp = _log_softmax(z, 1)[np.arange(len(labels))[keep], labels[keep]]
    return np.array(-(w[labels[keep]] * lp).sum() / w[labels[keep]].sum())


def _probs(x: np.ndarray) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _bn(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    axes = (0, *range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w.reshape(shape) + b.reshape(shape)


def _ln(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    axes = tuple(range(x.ndim - w.ndim, x.ndim))
    mu, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


EMBED_IDX = np.array([[1, 3, 1], [0, 1, 4]], dtype=np.int64)  # repeated rows, padding row 1


def _rnn_steps(xp: Any, cell: Callable, gx: Any, h0: Any, reverse: bool) -> list:
    """The states of a recurrence, one `cell(gx_t, state)` a step, in time order."""
    order = range(gx.shape[0] - 1, -1, -1) if reverse else range(gx.shape[0])
    state, outs = h0, {}
    for t in order:
        state = cell(gx[t], state)
        outs[t] = state
    return [outs[t] for t in range(gx.shape[0])]


def _rnn_ref(xp: Any, act: str, reverse: bool) -> Callable:
    """h_t = act(gx_t + h W^T + b), written with numpy's or torch's functions (xp)."""
    def ref(gx, h0, w, b):
        f = xp.tanh if act == "tanh" else (lambda a: a * (a > 0))
        return xp.stack(_rnn_steps(xp, lambda g, h: f(g + h @ w.T + b), gx, h0, reverse))
    return ref


def _lstm_ref(xp: Any, reverse: bool, bias: bool = True) -> Callable:
    """h_t for every step, then the last c: (T + 1, B, H), gates i, f, g, o (PyTorch's)."""
    def ref(x, w_ih, h0, c0, w, *b):
        hid = w.shape[1]
        gx = x @ w_ih.T + (b[1] if len(b) > 1 else 0.0)  # the input projection, b_ih

        def cell(g, state):
            h, c = state
            a = g + h @ w.T + (b[0] if b else 0.0)
            sig = 1 / (1 + xp.exp(-a))
            c = sig[:, hid:2 * hid] * c + sig[:, :hid] * xp.tanh(a[:, 2 * hid:3 * hid])
            return sig[:, 3 * hid:] * xp.tanh(c), c

        states = _rnn_steps(xp, cell, gx, (h0, c0), reverse)
        last = states[0 if reverse else -1][1]
        return xp.stack([h for h, _ in states] + [last])
    return ref


def _gru_ref(xp: Any, reverse: bool) -> Callable:
    """PyTorch's GRU: r, z, n with b_hn inside the reset product."""
    def ref(gx, h0, w, b):
        hid = w.shape[1]

        def cell(g, h):
            gh = h @ w.T + b
            rz = 1 / (1 + xp.exp(-(g[:, :2 * hid] + gh[:, :2 * hid])))
            r, z = rz[:, :hid], rz[:, hid:]
            n = xp.tanh(g[:, 2 * hid:] + r * gh[:, 2 * hid:])
            return (1 - z) * n + z * h

        return xp.stack(_rnn_steps(xp, cell, gx, h0, reverse))
    return ref


@dataclass
class Row:
    """One op: how to call it in tinygrad_c2, numpy and torch, and which input shapes to try."""

    name: str
    prims: tuple[str, ...]
    fn: Callable[..., Any]
    ref: Callable[..., np.ndarray] | None
    tfn: Callable[..., Any] | None
    shapes: list[tuple]
    domain: tuple[float, float] | str = "normal"
    away_from: list[float] = field(default_factory=list)  # keep inputs off kinks and ties
    # False for ops whose gradient is by definition not the derivative (embedding's padding
    # row gets none, scale_grad_by_freq divides it): checked against torch only
    true_gradient: bool = True


ROWS = [
    Row("add", ("Add",), lambda a, b: a + b, np.add, lambda a, b: a + b,
        [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((1,), ())]),
    Row("add_scalar", ("Add",), lambda a: 2.5 + a, lambda a: 2.5 + a, lambda a: 2.5 + a,
        [((3,),), ((),)]),
    Row("sub", ("Sub",), lambda a, b: a - b, np.subtract, lambda a, b: a - b,
        [((3, 4), (4,)), ((1, 4), (3, 1)), ((), ())]),
    Row("rsub", ("Sub",), lambda a: 1.0 - a, lambda a: 1.0 - a, lambda a: 1.0 - a, [((2, 3),)]),
    Row("mul", ("Mul",), lambda a, b: a * b, np.multiply, lambda a, b: a * b,
        [((3, 4), (3, 4)), ((3, 4), (3, 1)), ((), (2, 2))]),
    Row("div", ("Div",), lambda a, b: a / b, np.divide, lambda a, b: a / b,
        [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (3,))], (0.5, 2.0)),
    Row("rdiv", ("Div",), lambda a: 1.0 / a, lambda a: 1.0 / a, lambda a: 1.0 / a,
        [((3,),)], (0.5, 2.0)),
    Row("pow_tensor", ("Pow",), lambda a, b: a ** b, np.power, lambda a, b: a ** b,
        [((3, 4), (3, 4)), ((3, 4), ()), ((), (2,))], (0.5, 2.0)),
    Row("pow_scalar", ("Pow",), lambda a: a ** 3, lambda a: a ** 3, lambda a: a ** 3,
        [((2, 3),), ((),)]),
    Row("rpow", ("Pow",), lambda a: 2.0 ** a, lambda a: 2.0 ** a, lambda a: 2.0 ** a, [((4,),)]),
    Row("maximum", ("Maximum",), lambda a, b: a.maximum(b), np.maximum,
        lambda a, b: torch.maximum(a, b), [((3, 4), (3, 4)), ((3, 4), (4,))]),
    Row("minimum", ("Minimum",), lambda a, b: a.minimum(b), np.minimum,
        lambda a, b: torch.minimum(a, b), [((3, 4), (3, 4)), ((2, 1), (1, 3))]),
    Row("where", ("Where",), lambda a, b: tg.where(tg.tensor(COND), a, b),
        lambda a, b: np.where(COND, a, b),
        lambda a, b: torch.where(torch.tensor(COND), a, b), [((3, 4), (3, 4)), ((3, 4), (4,))]),
    Row("matmul", ("MatMul",), lambda a, b: a @ b, np.matmul, lambda a, b: a @ b,
        [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
         ((2, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)), ((1, 4), (4, 1))]),
    Row("neg", ("Neg",), lambda a: -a, np.negative, lambda a: -a, [((3, 4),), ((),)]),
    Row("exp", ("Exp",), lambda a: a.exp(), np.exp, torch and torch.exp, [((3, 4),), ((),)]),
    Row("log", ("Log",), lambda a: a.log(), np.log, torch and torch.log, [((3, 4),), ((),)],
        (0.5, 3.0)),
    Row("sqrt", ("Sqrt",), lambda a: a.sqrt(), np.sqrt, torch and torch.sqrt, [((3, 4),), ((),)],
        (0.5, 3.0)),
    Row("abs", ("Abs",), lambda a: a.abs(), np.abs, torch and torch.abs, [((3, 4),), ((),)],
        away_from=[0.0]),
    Row("clamp", ("Clamp",), lambda a: a.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
        lambda a: a.clamp(-0.5, 0.7), [((4, 5),), ((),)], away_from=[-0.5, 0.7]),
    Row("clamp_min", ("Clamp",), lambda a: a.clamp(min=0.1), lambda a: np.maximum(a, 0.1),
        lambda a: a.clamp(min=0.1), [((6,),)], away_from=[0.1]),
    Row("relu", ("Relu",), lambda a: a.relu(), lambda a: np.maximum(a, 0), torch and torch.relu,
        [((3, 4),), ((),), ((1, 1),)], away_from=[0.0]),
    Row("leaky_relu", ("LeakyRelu",), lambda a: a.leaky_relu(0.1),
        lambda a: np.where(a > 0, a, 0.1 * a), lambda a: TF.leaky_relu(a, 0.1), [((3, 4),)],
        away_from=[0.0]),
    Row("tanh", ("Tanh",), lambda a: a.tanh(), np.tanh, torch and torch.tanh, [((3, 4),), ((),)]),
    Row("sigmoid", ("Sigmoid",), lambda a: a.sigmoid(), _sigmoid, torch and torch.sigmoid,
        [((3, 4),), ((),)]),
    Row("softmax", ("Softmax",), lambda a: a.softmax(1), lambda a: np.exp(_log_softmax(a, 1)),
        lambda a: torch.softmax(a, 1), [((3, 4),), ((2, 3, 4),), ((3, 1),)]),
    Row("softmax_dim0", ("Softmax",), lambda a: F.softmax(a, dim=0),
        lambda a: np.exp(_log_softmax(a, 0)), lambda a: torch.softmax(a, 0), [((3, 4),)]),
    Row("log_softmax", ("LogSoftmax",), lambda a: a.log_softmax(-1),
        lambda a: _log_softmax(a, -1), lambda a: torch.log_softmax(a, -1),
        [((3, 4),), ((5,),)]),
    Row("sum_all", ("Sum",), lambda a: a.sum(), lambda a: np.array(a.sum()), lambda a: a.sum(),
        [((3, 4),), ((),)]),
    Row("sum_dim", ("Sum",), lambda a: a.sum(1), lambda a: a.sum(1), lambda a: a.sum(1),
        [((3, 4),), ((2, 3, 4),)]),
    Row("sum_dims_keepdim", ("Sum",), lambda a: a.sum((0, 2), keepdim=True),
        lambda a: a.sum((0, 2), keepdims=True), lambda a: a.sum((0, 2), keepdim=True),
        [((2, 3, 4),)]),
    Row("sum_axis_alias", ("Sum",), lambda a: a.sum(axis=0, keepdims=True),
        lambda a: a.sum(0, keepdims=True), lambda a: a.sum(0, keepdim=True), [((3, 4),)]),
    Row("mean", ("Sum", "Mul"), lambda a: a.mean(0), lambda a: a.mean(0), lambda a: a.mean(0),
        [((3, 4),)]),
    Row("var", ("Sub", "Mul", "Sum"), lambda a: a.var(1), lambda a: a.var(1, ddof=1),
        lambda a: a.var(1), [((3, 4),)]),
    Row("std_biased", ("Std",), lambda a: a.std(correction=0), lambda a: np.array(a.std()),
        lambda a: a.std(correction=0), [((3, 4),)]),
    Row("std_dim", ("Std",), lambda a: a.std(1), lambda a: a.std(1, ddof=1),
        lambda a: a.std(1), [((3, 4),), ((2, 3, 4),)]),
    Row("std_dims_keepdim", ("Std",), lambda a: a.std((0, -1), keepdim=True),
        lambda a: a.std((0, -1), ddof=1, keepdims=True),
        lambda a: a.std((0, -1), keepdim=True), [((2, 3, 4),)]),
    Row("logsumexp", ("LogSumExp",), lambda a: a.logsumexp(1),
        lambda a: np.log(np.exp(a).sum(1)), lambda a: torch.logsumexp(a, 1),
        [((3, 4),), ((2, 3, 4),), ((3, 1),)]),
    Row("logsumexp_all", ("LogSumExp",), lambda a: a.logsumexp((0, 1)),
        lambda a: np.log(np.exp(a).sum()), lambda a: torch.logsumexp(a, (0, 1)), [((3, 4),)]),
    Row("logsumexp_keepdim", ("LogSumExp",), lambda a: a.logsumexp(-1, keepdim=True),
        lambda a: np.log(np.exp(a).sum(-1, keepdims=True)),
        lambda a: torch.logsumexp(a, -1, keepdim=True), [((3, 4),), ((5,),)]),
    Row("logsumexp_dims", ("LogSumExp",), lambda a: a.logsumexp((0, 2)),
        lambda a: np.log(np.exp(a).sum((0, 2))), lambda a: torch.logsumexp(a, (0, 2)),
        [((2, 3, 4),)]),
    Row("logsumexp_0d", ("LogSumExp",), lambda a: a.logsumexp(0), lambda a: a,
        lambda a: torch.logsumexp(a, 0), [((),)]),
    Row("max_all", ("Max",), lambda a: a.max(), lambda a: np.array(a.max()), lambda a: a.max(),
        [((3, 4),), ((),)]),
    Row("max_dim", ("Max",), lambda a: a.max(1).values, lambda a: a.max(1),
        lambda a: a.max(1).values, [((3, 4),), ((2, 3, 4),)]),
    Row("max_dim_keepdim", ("Max",), lambda a: a.max(0, keepdim=True).values,
        lambda a: a.max(0, keepdims=True), lambda a: a.max(0, keepdim=True).values,
        [((3, 4),)]),
    Row("min_all", ("Min",), lambda a: a.min(), lambda a: np.array(a.min()), lambda a: a.min(),
        [((3, 4),)]),
    Row("min_dim", ("Min",), lambda a: a.min(-1).values, lambda a: a.min(-1),
        lambda a: a.min(-1).values, [((3, 4),)]),
    Row("reshape", ("Reshape",), lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1),
        lambda a: a.reshape(4, -1), [((2, 6),), ((3, 4),)]),
    Row("flatten", ("Reshape",), lambda a: a.flatten(1), lambda a: a.reshape(2, -1),
        lambda a: a.flatten(1), [((2, 3, 4),)]),
    Row("unsqueeze_squeeze", ("Reshape",), lambda a: a.unsqueeze(1).squeeze(),
        lambda a: a, lambda a: a.unsqueeze(1).squeeze(), [((3, 4),)]),
    Row("permute", ("Permute",), lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1),
        lambda a: a.permute(2, 0, 1), [((2, 3, 4),)]),
    Row("transpose", ("Permute",), lambda a: a.transpose(0, 1), lambda a: a.T,
        lambda a: a.transpose(0, 1), [((3, 4),)]),
    Row("T", ("Permute",), lambda a: a.T, lambda a: a.T, lambda a: a.T, [((3, 4),)]),
    Row("expand", ("Expand",), lambda a: a.expand(2, 3, 4), lambda a: np.broadcast_to(a, (2, 3, 4)),
        lambda a: a.expand(2, 3, 4), [((3, 1),), ((1, 3, 4),), ((4,),)]),
    Row("index_slice", ("Index",), lambda a: a[1:, ::2], lambda a: a[1:, ::2],
        lambda a: a[1:, ::2], [((3, 4),)]),
    Row("index_int_repeated", ("Index",), lambda a: a[np.array([0, 2, 0, 0])],
        lambda a: a[[0, 2, 0, 0]], lambda a: a[torch.tensor([0, 2, 0, 0])], [((3, 4),)]),
    Row("index_tensor_pairs", ("Index",), lambda a: a[tg.tensor([0, 1, 1]), tg.tensor([3, 2, 2])],
        lambda a: a[[0, 1, 1], [3, 2, 2]],
        lambda a: a[torch.tensor([0, 1, 1]), torch.tensor([3, 2, 2])], [((3, 4),)]),
    Row("index_bool", ("Index",), lambda a: a[COND], lambda a: a[COND],
        lambda a: a[torch.tensor(COND)], [((3, 4),)]),
    Row("index_scalar", ("Index",), lambda a: a[1, 2], lambda a: np.array(a[1, 2]),
        lambda a: a[1, 2], [((3, 4),)]),
    Row("cat", ("Cat",), lambda a, b: tg.cat([a, b], dim=1),
        lambda a, b: np.concatenate([a, b], 1), lambda a, b: torch.cat([a, b], 1),
        [((3, 2), (3, 4))]),
    Row("stack", ("Cat", "Reshape"), lambda a, b: tg.stack([a, b], dim=0),
        lambda a, b: np.stack([a, b]), lambda a, b: torch.stack([a, b]), [((3, 4), (3, 4))]),
    # ---- fused nn primitives
    Row("linear", ("Linear",), lambda x, w, b: F.linear(x, w, b),
        lambda x, w, b: x @ w.T + b, lambda x, w, b: TF.linear(x, w, b),
        [((5, 3), (4, 3), (4,)), ((3,), (4, 3), (4,)), ((2, 5, 3), (4, 3), (4,))]),
    Row("linear_nobias", ("Linear",), lambda x, w: F.linear(x, w), lambda x, w: x @ w.T,
        lambda x, w: TF.linear(x, w), [((5, 3), (4, 3))]),
    Row("linear_run", ("LinearRun",),
        lambda x, w1, b1, w2, b2: LinearRun.apply(x, ("tanh", "sigmoid"), w1, b1, w2, b2),
        lambda x, w1, b1, w2, b2: 1 / (1 + np.exp(-(np.tanh(x @ w1.T + b1) @ w2.T + b2))),
        lambda x, w1, b1, w2, b2: torch.sigmoid(TF.linear(torch.tanh(TF.linear(x, w1, b1)), w2,
                                                          b2)),
        [((5, 3), (4, 3), (4,), (2, 4), (2,)), ((2, 5, 3), (4, 3), (4,), (2, 4), (2,))]),
    Row("linear_run_last_linear", ("LinearRun",),
        lambda x, w1, w2: LinearRun.apply(x, ("sigmoid", None), w1, None, w2, None),
        lambda x, w1, w2: (1 / (1 + np.exp(-(x @ w1.T)))) @ w2.T,
        lambda x, w1, w2: TF.linear(torch.sigmoid(TF.linear(x, w1)), w2),
        [((5, 3), (4, 3), (2, 4))]),
    Row("batch_norm_train", ("BatchNorm",),
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        _bn, lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        [((6, 3), (3,), (3,)), ((4, 3, 5), (3,), (3,)), ((2, 3, 4, 3), (3,), (3,))]),
    Row("batch_norm_eval", ("BatchNorm",),
        lambda x, w, b: F.batch_norm(x, np.full(3, 0.2), np.full(3, 1.5), w, b),
        lambda x, w, b: (x - 0.2) / np.sqrt(1.5 + 1e-5) * w + b,
        lambda x, w, b: TF.batch_norm(x, torch.full((3,), 0.2, dtype=torch.float64),
                                      torch.full((3,), 1.5, dtype=torch.float64), w, b),
        [((6, 3), (3,), (3,))]),
    # ---- convolution (the big matrices against torch live in tests/test_conv.py)
    Row("conv2d", ("Conv2d",), lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1),
        None, lambda x, w, b: TF.conv2d(x, w, b, stride=(2, 1), padding=1),
        [((2, 3, 5, 4), (4, 3, 3, 2), (4,))]),
    Row("conv2d_groups_dilation_same", ("Conv2d",),
        lambda x, w: F.conv2d(x, w, padding="same", dilation=2, groups=2), None,
        lambda x, w: TF.conv2d(x, w, padding="same", dilation=2, groups=2),
        [((1, 4, 6, 5), (2, 2, 2, 3))]),
    Row("conv1d_unbatched", ("Conv2d", "Reshape"), lambda x, w, b: F.conv1d(x, w, b, padding=2),
        None, lambda x, w, b: TF.conv1d(x, w, b, padding=2), [((3, 7), (2, 3, 3), (2,))]),
    Row("conv_transpose2d", ("ConvTranspose2d",),
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        None, lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                  output_padding=1),
        [((2, 4, 3, 3), (4, 3, 3, 2), (3,))]),
    Row("unfold", ("Unfold",), lambda x: F.unfold(x, (2, 3), padding=1, stride=(1, 2)), None,
        lambda x: TF.unfold(x, (2, 3), padding=1, stride=(1, 2)), [((2, 2, 4, 5),)]),
    Row("fold", ("Fold",), lambda c: F.fold(c, (4, 5), (2, 3), padding=1, stride=(1, 2)), None,
        lambda c: TF.fold(c, (4, 5), (2, 3), padding=1, stride=(1, 2)), [((2, 12, 15),)]),
    # ---- pooling and padding (ties and the big matrices: tests/test_pooling.py)
    Row("max_pool2d_overlapping_ceil", ("MaxPool2d",),
        lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), None,
        lambda x: TF.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), [((2, 2, 6, 5),)]),
    Row("max_pool2d_dilation_unbatched", ("MaxPool2d", "Reshape"),
        lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)), None,
        lambda x: TF.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)), [((2, 5, 5),)]),
    Row("avg_pool2d_padding", ("AvgPool2d",), lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
        None, lambda x: TF.avg_pool2d(x, 3, 2, 1, ceil_mode=True), [((2, 2, 6, 5),)]),
    Row("avg_pool2d_exclude_pad", ("AvgPool2d",),
        lambda x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False), None,
        lambda x: TF.avg_pool2d(x, 2, 1, 1, count_include_pad=False), [((1, 2, 4, 3),)]),
    Row("pad_constant_crop", ("Pad",), lambda x: F.pad(x, (1, -1, 2, 0), value=0.5), None,
        lambda x: TF.pad(x, (1, -1, 2, 0), value=0.5), [((2, 3, 4),)]),
    Row("pad_reflect", ("Pad",), lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), None,
        lambda x: TF.pad(x, (2, 1, 1, 2), mode="reflect"), [((1, 2, 4, 3),)]),
    Row("pad_replicate", ("Pad",), lambda x: F.pad(x, (3, 1), mode="replicate"), None,
        lambda x: TF.pad(x, (3, 1), mode="replicate"), [((2, 3, 2),)]),
    Row("pad_circular", ("Pad",), lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), None,
        lambda x: TF.pad(x, (1, 2, 2, 1), mode="circular"), [((1, 2, 3, 3),)]),
    Row("adaptive_avg_pool2d", ("MatMul",), lambda x: F.adaptive_avg_pool2d(x, (2, 3)), None,
        lambda x: TF.adaptive_avg_pool2d(x, (2, 3)), [((2, 2, 5, 4),)]),
    Row("layer_norm", ("LayerNorm",), lambda x, w, b: F.layer_norm(x, w.shape, w, b), _ln,
        lambda x, w, b: TF.layer_norm(x, w.shape, w, b),
        [((3, 4), (4,), (4,)), ((2, 3, 4), (4,), (4,)), ((2, 3, 4), (3, 4), (3, 4))]),
    Row("layer_norm_no_affine", ("LayerNorm",), lambda x: F.layer_norm(x, 4),
        lambda x: _ln(x, np.ones(4), np.zeros(4)), lambda x: TF.layer_norm(x, (4,)),
        [((3, 4),)]),
    Row("embedding_repeated_padding", ("Embedding",),
        lambda w: F.embedding(EMBED_IDX, w, padding_idx=1), lambda w: w[EMBED_IDX],
        lambda w: TF.embedding(torch.tensor(EMBED_IDX), w, padding_idx=1), [((5, 3),)],
        true_gradient=False),
    Row("embedding_repeated", ("Embedding",), lambda w: F.embedding(EMBED_IDX, w),
        lambda w: w[EMBED_IDX], lambda w: TF.embedding(torch.tensor(EMBED_IDX), w), [((5, 3),)]),
    Row("embedding_scale_grad_by_freq", ("Embedding",),
        lambda w: F.embedding(EMBED_IDX, w, scale_grad_by_freq=True), lambda w: w[EMBED_IDX],
        lambda w: TF.embedding(torch.tensor(EMBED_IDX), w, scale_grad_by_freq=True),
        [((5, 3),)], true_gradient=False),
    Row("rnn_recurrence_tanh", ("RNNRecurrence",),
        lambda gx, h, w, b: RNNRecurrence.apply(gx, h, w, b, False, "tanh"),
        _rnn_ref(np, "tanh", False), _rnn_ref(torch, "tanh", False),
        [((3, 2, 4), (2, 4), (4, 4), (4,)), ((1, 1, 2), (1, 2), (2, 2), (2,))]),
    Row("rnn_recurrence_relu_reverse", ("RNNRecurrence",),
        lambda gx, h, w, b: RNNRecurrence.apply(gx, h, w, b, True, "relu"),
        _rnn_ref(np, "relu", True), _rnn_ref(torch, "relu", True),
        [((4, 2, 3), (2, 3), (3, 3), (3,))]),
    Row("lstm_recurrence", ("LSTMRecurrence",),
        lambda x, wi, h, c, w, b, bi: LSTMRecurrence.apply(x, wi, bi, h, c, w, b, False),
        _lstm_ref(np, False), _lstm_ref(torch, False),
        [((3, 2, 3), (8, 3), (2, 2), (2, 2), (8, 2), (8,), (8,)),
         ((1, 3, 2), (12, 2), (3, 3), (3, 3), (12, 3), (12,), (12,))]),
    Row("lstm_recurrence_reverse_nobias", ("LSTMRecurrence",),
        lambda x, wi, h, c, w: LSTMRecurrence.apply(x, wi, None, h, c, w, None, True),
        _lstm_ref(np, True), _lstm_ref(torch, True),
        [((4, 2, 3), (8, 3), (2, 2), (2, 2), (8, 2))]),
    Row("gru_recurrence", ("GRURecurrence",),
        lambda gx, h, w, b: GRURecurrence.apply(gx, h, w, b, False),
        _gru_ref(np, False), _gru_ref(torch, False),
        [((3, 2, 6), (2, 2), (6, 2), (6,)), ((1, 1, 9), (1, 3), (9, 3), (9,))]),
    Row("gru_recurrence_reverse", ("GRURecurrence",),
        lambda gx, h, w, b: GRURecurrence.apply(gx, h, w, b, True),
        _gru_ref(np, True), _gru_ref(torch, True), [((4, 2, 6), (2, 2), (6, 2), (6,))]),
    Row("cross_entropy_labels", ("CrossEntropy",), lambda z: F.cross_entropy(z, LABELS),
        lambda z: np.array(-_log_softmax(z, 1)[np.arange(4), LABELS].mean()),
        lambda z: TF.cross_entropy(z, torch.tensor(LABELS)), [((4, 3),)]),
    Row("cross_entropy_smoothing_sum", ("CrossEntropy",),
        lambda z: F.cross_entropy(z, LABELS, reduction="sum", label_smoothing=0.2), None,
        lambda z: TF.cross_entropy(z, torch.tensor(LABELS), reduction="sum", label_smoothing=0.2),
        [((4, 3),)]),
    Row("cross_entropy_probs", ("CrossEntropy",), lambda z, y: F.cross_entropy(z, y.softmax(1)),
        lambda z, y: np.array(-(_probs(y) * _log_softmax(z, 1)).sum(1).mean()),
        lambda z, y: TF.cross_entropy(z, torch.softmax(y, 1)), [((4, 3), (4, 3))]),
    Row("cross_entropy_none_smoothing_probs", ("CrossEntropy",),
        lambda z, y: F.cross_entropy(z, y.softmax(1), reduction="none", label_smoothing=0.1),
        None, lambda z, y: TF.cross_entropy(z, torch.softmax(y, 1), reduction="none",
                                            label_smoothing=0.1), [((4, 3), (4, 3))]),
    Row("nll_loss", ("NLLLoss",), lambda z: F.nll_loss(z, LABELS),
        lambda z: np.array(-z[np.arange(4), LABELS].mean()),
        lambda z: TF.nll_loss(z, torch.tensor(LABELS)), [((4, 3),)]),
    Row("nll_loss_none", ("NLLLoss",), lambda z: F.nll_loss(z, LABELS, reduction="none"),
        lambda z: -z[np.arange(4), LABELS], lambda z: TF.nll_loss(z, torch.tensor(LABELS),
                                                                  reduction="none"), [((4, 3),)]),
    Row("bce", ("BCE",), lambda p, y: F.binary_cross_entropy(p, y),
        lambda p, y: np.array(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()),
        lambda p, y: TF.binary_cross_entropy(p, y), [((5, 1), (5, 1)), ((3,), (3,))],
        (0.05, 0.95)),
    Row("bce_sum", ("BCE",), lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"), None,
        lambda p, y: TF.binary_cross_entropy(p, y, reduction="sum"), [((5,), (5,))],
        (0.05, 0.95)),
    Row("bce_logits", ("BCEWithLogits",), lambda z, y: F.binary_cross_entropy_with_logits(z, y),
        lambda z, y: np.array((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()),
        lambda z, y: TF.binary_cross_entropy_with_logits(z, y), [((5, 1), (5, 1))]),
    Row("bce_logits_pos_weight", ("BCEWithLogits",),
        lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="none",
                                                        pos_weight=np.array([2.0, 0.5, 1.0])),
        None, lambda z, y: TF.binary_cross_entropy_with_logits(
            z, y, reduction="none", pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)),
        [((4, 3), (4, 3))], (0.1, 0.9)),
    Row("mse", ("MSELoss",), lambda a, b: F.mse_loss(a, b),
        lambda a, b: np.array(((a - b) ** 2).mean()),
        lambda a, b: TF.mse_loss(a, b), [((3, 4), (3, 4)), ((), ())]),
    Row("mse_none", ("MSELoss",), lambda a, b: F.mse_loss(a, b, reduction="none"),
        lambda a, b: (a - b) ** 2, lambda a, b: TF.mse_loss(a, b, reduction="none"),
        [((3, 4), (3, 4))]),
    Row("l1", ("L1Loss",), lambda a, b: F.l1_loss(a, b, reduction="sum"),
        lambda a, b: np.array(np.abs(a - b).sum()), lambda a, b: TF.l1_loss(a, b, reduction="sum"),
        [((3, 4), (3, 4))]),
    Row("gelu", ("GELU",), lambda x: F.gelu(x),
        lambda x: x * 0.5 * (1 + _erf(x / np.sqrt(2))), lambda x: TF.gelu(x),
        [((3, 4),), ((),)]),
    Row("gelu_tanh", ("GELU",), lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))),
        lambda x: TF.gelu(x, approximate="tanh"), [((3, 4),)]),
    Row("silu", ("Sigmoid",), lambda x: F.silu(x), lambda x: x * _sigmoid(x),
        lambda x: TF.silu(x), [((3, 4),)]),
    Row("softplus_beta_threshold", ("Softplus",), lambda x: F.softplus(x, beta=2.0, threshold=1.0),
        lambda x: np.where(2 * x > 1, x, np.log1p(np.exp(2 * x)) / 2),
        lambda x: TF.softplus(x, beta=2.0, threshold=1.0), [((3, 4),), ((),)], away_from=[0.5]),
    Row("elu", ("ELU",), lambda x: F.elu(x, alpha=0.7),
        lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), lambda x: TF.elu(x, alpha=0.7),
        [((3, 4),)], away_from=[0.0]),
    Row("hardtanh", ("Hardtanh",), lambda x: F.hardtanh(x, -0.5, 0.8),
        lambda x: np.clip(x, -0.5, 0.8), lambda x: TF.hardtanh(x, -0.5, 0.8), [((3, 4),)],
        away_from=[-0.5, 0.8]),
    Row("smooth_l1", ("SmoothL1Loss",), lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
        lambda a, b: np.array(np.where(np.abs(a - b) < 0.5, 0.5 * (a - b) ** 2 / 0.5,
                                       np.abs(a - b) - 0.25).mean()),
        lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5), [((3, 4), (3, 4)), ((), ())]),
    Row("huber_none", ("SmoothL1Loss",), lambda a, b: F.huber_loss(a, b, "none", delta=0.7),
        lambda a, b: np.where(np.abs(a - b) < 0.7, 0.5 * (a - b) ** 2,
                              0.7 * (np.abs(a - b) - 0.35)),
        lambda a, b: TF.huber_loss(a, b, "none", delta=0.7), [((3, 4), (3, 4))]),
    Row("kl_div_batchmean", ("KLDivLoss",), lambda x, t: F.kl_div(x, t, reduction="batchmean"),
        lambda x, t: np.array((t * (np.log(t) - x)).sum() / 3),
        lambda x, t: TF.kl_div(x, t, reduction="batchmean"), [((3, 4), (3, 4))], (0.05, 0.95)),
    Row("kl_div_log_target_none", ("KLDivLoss",),
        lambda x, t: F.kl_div(x, t, reduction="none", log_target=True),
        lambda x, t: np.exp(t) * (t - x),
        lambda x, t: TF.kl_div(x, t, reduction="none", log_target=True), [((3, 4), (3, 4))]),
    Row("cross_entropy_weight_ignore_index", ("CrossEntropy",),
        lambda z: F.cross_entropy(z, LABELS_IGNORED, weight=CLASS_WEIGHT),
        lambda z: _weighted_ce(z, LABELS_IGNORED, CLASS_WEIGHT),
        lambda z: TF.cross_entropy(z, torch.tensor(LABELS_IGNORED),
                                   weight=torch.tensor(CLASS_WEIGHT)), [((4, 3),)]),
    Row("cross_entropy_weight_smoothing_ignore_none", ("CrossEntropy",),
        lambda z: F.cross_entropy(z, LABELS_IGNORED, weight=CLASS_WEIGHT, reduction="none",
                                  label_smoothing=0.3), None,
        lambda z: TF.cross_entropy(z, torch.tensor(LABELS_IGNORED),
                                   weight=torch.tensor(CLASS_WEIGHT), reduction="none",
                                   label_smoothing=0.3), [((4, 3),)]),
    Row("cross_entropy_weight_smoothing_mean", ("CrossEntropy",),
        lambda z: F.cross_entropy(z, LABELS_IGNORED, weight=CLASS_WEIGHT, label_smoothing=0.3),
        None, lambda z: TF.cross_entropy(z, torch.tensor(LABELS_IGNORED),
                                         weight=torch.tensor(CLASS_WEIGHT), label_smoothing=0.3),
        [((4, 3),)]),
    Row("cross_entropy_NCd1d2_ignore", ("CrossEntropy",),
        lambda z: F.cross_entropy(z, LABELS_2D, label_smoothing=0.1), None,
        lambda z: TF.cross_entropy(z, torch.tensor(LABELS_2D), label_smoothing=0.1),
        [((2, 3, 2, 2),)]),
    Row("cross_entropy_probs_weight_NCd", ("CrossEntropy",),
        lambda z, y: F.cross_entropy(z, y.softmax(1), weight=CLASS_WEIGHT, label_smoothing=0.2),
        None, lambda z, y: TF.cross_entropy(z, torch.softmax(y, 1),
                                            weight=torch.tensor(CLASS_WEIGHT), label_smoothing=0.2),
        [((4, 3), (4, 3)), ((2, 3, 5), (2, 3, 5))]),
    Row("nll_loss_weight_NCd_sum", ("NLLLoss",),
        lambda z: F.nll_loss(z, LABELS_2D, weight=CLASS_WEIGHT, reduction="sum"), None,
        lambda z: TF.nll_loss(z, torch.tensor(LABELS_2D), weight=torch.tensor(CLASS_WEIGHT),
                              reduction="sum"), [((2, 3, 2, 2),)]),
    Row("nll_loss_weight_ignore_mean", ("NLLLoss",),
        lambda z: F.nll_loss(z, LABELS_IGNORED, weight=CLASS_WEIGHT),
        lambda z: np.array(-(CLASS_WEIGHT[[2, 1, 2]] * z[[0, 2, 3], [2, 1, 2]]).sum()
                           / CLASS_WEIGHT[[2, 1, 2]].sum()),
        lambda z: TF.nll_loss(z, torch.tensor(LABELS_IGNORED), weight=torch.tensor(CLASS_WEIGHT)),
        [((4, 3),)]),
    Row("bce_weight", ("BCE",),
        lambda p, y: F.binary_cross_entropy(p, y, weight=np.array([0.5, 2.0, 1.0])),
        lambda p, y: np.array((-(y * np.log(p) + (1 - y) * np.log(1 - p))
                               * np.array([0.5, 2.0, 1.0])).mean()),
        lambda p, y: TF.binary_cross_entropy(p, y, weight=torch.tensor([0.5, 2.0, 1.0],
                                                                       dtype=torch.float64)),
        [((4, 3), (4, 3))], (0.05, 0.95)),
    Row("bce_logits_weight_pos_weight_sum", ("BCEWithLogits",),
        lambda z, y: F.binary_cross_entropy_with_logits(
            z, y, weight=np.array([0.5, 2.0, 1.0]), reduction="sum",
            pos_weight=np.array([2.0, 0.5, 1.0])), None,
        lambda z, y: TF.binary_cross_entropy_with_logits(
            z, y, weight=torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64), reduction="sum",
            pos_weight=torch.tensor([2.0, 0.5, 1.0], dtype=torch.float64)),
        [((4, 3), (4, 3))], (0.1, 0.9)),
    # ---- PyTorch's remaining Tensor methods (issue 14)
    Row("sin", ("Sin",), lambda a: a.sin(), np.sin, torch and torch.sin, [((3, 4),), ((),)]),
    Row("cos", ("Cos",), lambda a: a.cos(), np.cos, torch and torch.cos, [((3, 4),), ((),)]),
    Row("log1p", ("Log1p",), lambda a: a.log1p(), np.log1p, torch and torch.log1p,
        [((3, 4),), ((),)], (-0.5, 2.0)),
    Row("expm1", ("Expm1",), lambda a: a.expm1(), np.expm1, torch and torch.expm1,
        [((3, 4),), ((),)]),
    Row("floor", ("Step",), lambda a: a.floor(), np.floor, torch and torch.floor, [((3, 4),)],
        away_from=[-2.0, -1.0, 0.0, 1.0, 2.0]),
    Row("ceil", ("Step",), lambda a: a.ceil(), np.ceil, torch and torch.ceil, [((3, 4),), ((),)],
        away_from=[-2.0, -1.0, 0.0, 1.0, 2.0]),
    Row("trunc", ("Step",), lambda a: a.trunc(), np.trunc, torch and torch.trunc, [((3, 4),)],
        away_from=[-2.0, -1.0, 0.0, 1.0, 2.0]),
    Row("round", ("Step",), lambda a: a.round(), np.round, torch and torch.round, [((3, 4),)],
        away_from=[-1.5, -0.5, 0.5, 1.5]),
    Row("round_decimals", ("Step",), lambda a: a.round(decimals=2), lambda a: np.round(a, 2),
        lambda a: torch.round(a, decimals=2), [((3, 4),)]),
    Row("sign", ("Step",), lambda a: a.sign(), np.sign, torch and torch.sign, [((3, 4),), ((),)],
        away_from=[0.0]),
    Row("flip_last", ("Flip",), lambda a: a.flip(-1), lambda a: np.flip(a, -1),
        lambda a: a.flip(-1), [((2, 3, 4),), ((5,),)]),
    Row("flip_dims", ("Flip",), lambda a: a.flip((0, 2)), lambda a: np.flip(a, (0, 2)),
        lambda a: a.flip((0, 2)), [((2, 3, 4),)]),
    Row("amax_dim", ("AMax",), lambda a: a.amax(1), lambda a: a.max(1), lambda a: a.amax(1),
        [((3, 4),), ((2, 3, 4),)]),
    Row("amax_all", ("AMax",), lambda a: a.amax(), lambda a: np.array(a.max()),
        lambda a: a.amax(), [((3, 4),), ((),)]),
    Row("amin_dims_keepdim", ("AMin",), lambda a: a.amin((0, 2), keepdim=True),
        lambda a: a.min((0, 2), keepdims=True), lambda a: a.amin((0, 2), keepdim=True),
        [((2, 3, 4),)]),
    Row("prod_dim", ("Prod",), lambda a: a.prod(1), lambda a: a.prod(1), lambda a: a.prod(1),
        [((3, 4),), ((2, 3, 4),)]),
    Row("prod_all", ("Prod",), lambda a: a.prod(), lambda a: np.array(a.prod()),
        lambda a: a.prod(), [((3, 4),), ((),)]),
    Row("prod_keepdim_of_masked_zeros", ("Mul", "Prod"),
        lambda a: (a * ZEROS).prod(1, keepdim=True),
        lambda a: (a * ZEROS).prod(1, keepdims=True),
        lambda a: (a * torch.tensor(ZEROS)).prod(1, keepdim=True), [((3, 4),)]),
    Row("prod_all_of_one_masked_zero", ("Mul", "Prod"), lambda a: (a * ZEROS[1]).prod(),
        lambda a: np.array((a * ZEROS[1]).prod()), lambda a: (a * torch.tensor(ZEROS[1])).prod(),
        [((4,),)]),
    Row("cumsum", ("CumSum",), lambda a: a.cumsum(1), lambda a: a.cumsum(1),
        lambda a: a.cumsum(1), [((3, 4),), ((2, 3, 4),)]),
    Row("cumsum_0d", ("CumSum",), lambda a: a.cumsum(0), lambda a: a, lambda a: a.cumsum(0),
        [((),)]),
    Row("norm", ("Norm",), lambda a: a.norm(), lambda a: np.array(np.linalg.norm(a)),
        lambda a: a.norm(), [((3, 4),), ((),)]),
    Row("norm_p1_dim", ("Norm",), lambda a: a.norm(1, dim=1), lambda a: np.abs(a).sum(1),
        lambda a: a.norm(1, dim=1), [((3, 4),)], away_from=[0.0]),
    Row("norm_p3_dims_keepdim", ("Norm",), lambda a: a.norm(3, dim=(0, 2), keepdim=True),
        lambda a: (np.abs(a) ** 3).sum((0, 2), keepdims=True) ** (1 / 3),
        lambda a: a.norm(3, dim=(0, 2), keepdim=True), [((2, 3, 4),)], away_from=[0.0]),
    Row("norm_inf", ("Abs", "AMax"), lambda a: a.norm(math.inf, dim=0),
        lambda a: np.abs(a).max(0), lambda a: a.norm(math.inf, dim=0), [((3, 4),)],
        away_from=[0.0]),
    Row("gather", ("Gather",), lambda a: a.gather(1, tg.tensor(GATHER_IDX)),
        lambda a: np.take_along_axis(a[:, :4], GATHER_IDX, 1),
        lambda a: a.gather(1, torch.tensor(GATHER_IDX)), [((3, 4),), ((3, 5),)]),
    Row("gather_dim0", ("Gather",), lambda a: a.gather(0, tg.tensor(SCATTER_IDX)),
        lambda a: np.take_along_axis(a, SCATTER_IDX, 0),
        lambda a: a.gather(0, torch.tensor(SCATTER_IDX)), [((3, 4),)]),
    Row("scatter_add", ("ScatterAdd",), lambda a, s: a.scatter_add(0, tg.tensor(SCATTER_IDX), s),
        _scatter_add, lambda a, s: a.scatter_add(0, torch.tensor(SCATTER_IDX), s),
        [((3, 4), (2, 4))]),
    Row("sort", ("Gather",), lambda a: a.sort(1).values, lambda a: np.sort(a, 1),
        lambda a: a.sort(1).values, [((3, 4),), ((2, 3, 4),)]),
    Row("sort_descending", ("Gather",), lambda a: a.sort(0, descending=True).values,
        lambda a: -np.sort(-a, 0), lambda a: a.sort(0, descending=True).values, [((3, 4),)]),
    Row("topk", ("Gather",), lambda a: a.topk(2).values, lambda a: -np.sort(-a, -1)[..., :2],
        lambda a: a.topk(2).values, [((3, 4),), ((5,),)]),
    Row("topk_smallest", ("Gather",), lambda a: a.topk(2, dim=0, largest=False).values,
        lambda a: np.sort(a, 0)[:2], lambda a: a.topk(2, dim=0, largest=False).values,
        [((3, 4),)]),
    Row("repeat", ("Reshape", "Expand"), lambda a: a.repeat(2, 1, 3),
        lambda a: np.tile(a, (2, 1, 3)), lambda a: a.repeat(2, 1, 3), [((3, 4),), ((2, 1, 2),)]),
    Row("tril", ("Where",), lambda a: a.tril(-1), lambda a: np.tril(a, -1),
        lambda a: a.tril(-1), [((3, 4),), ((2, 3, 3),)]),
    Row("triu", ("Where",), lambda a: a.triu(1), lambda a: np.triu(a, 1),
        lambda a: a.triu(1), [((4, 3),)]),
    Row("masked_fill", ("Where",), lambda a: a.masked_fill(tg.tensor(COND), -1.5),
        lambda a: np.where(COND, -1.5, a), lambda a: a.masked_fill(torch.tensor(COND), -1.5),
        [((3, 4),)]),
    Row("rsqrt", ("Sqrt", "Div"), lambda a: a.rsqrt(), lambda a: 1 / np.sqrt(a),
        torch and torch.rsqrt, [((3, 4),)], (0.5, 2.0)),
]

CASES = [(row, shapes) for row in ROWS for shapes in row.shapes]


def _inputs(row: Row, shapes: tuple, seed: int) -> list[np.ndarray]:
    gen = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        if row.domain == "normal":
            a = gen.standard_normal(shape)
        else:
            a = gen.uniform(*row.domain, size=shape)
        for kink in row.away_from:  # push values off non-differentiable points
            a = np.where(np.abs(a - kink) < 0.05, a + 0.1, a)
        arrays.append(np.asarray(a, dtype=np.float64))
    return arrays


def test_every_registered_primitive_has_a_row():
    covered = {p for row in ROWS for p in row.prims}
    # Cast and Dropout are tested on their own below; the ops without a gradient (comparisons,
    # argmax, argmin, one_hot) against torch in test_capture_soundness.py and elsewhere,
    # max_pool2d's return_indices in test_pooling.py
    missing = set(PRIMITIVES) - covered - {"Cast", "Dropout", "Compare", "ArgMax", "ArgMin",
                                           "OneHot", "ArgSort",
                                           "MaxPool2dIndices"}
    assert not missing, f"primitives without a row in ROWS: {sorted(missing)}"


def test_a_docstring_example_class_is_not_registered_as_a_primitive():
    # the Function docstring defines Cube; run as a doctest (before this file, say) it must not
    # join PRIMITIVES, or the row check above would depend on the order tests run in
    import doctest

    from tinygrad_c2 import function

    doctest.run_docstring_examples(function.Function, {"__name__": "tinygrad_c2.function"},
                                   name="Function")
    assert "Cube" not in PRIMITIVES and "Add" in PRIMITIVES and "CrossEntropy" in PRIMITIVES


@pytest.mark.parametrize("row, shapes", CASES, ids=[f"{r.name}-{s}" for r, s in CASES])
def test_forward_matches_numpy(row, shapes):
    if row.ref is None:
        pytest.skip("no closed numpy expression; checked against torch")
    arrays = _inputs(row, shapes, 0)
    out = row.fn(*[tg.tensor(a) for a in arrays])
    expected = row.ref(*arrays)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row, shapes", CASES, ids=[f"{r.name}-{s}" for r, s in CASES])
def test_backward_matches_centered_differences(row, shapes):
    if not row.true_gradient:
        pytest.skip("the op's gradient is not its derivative by definition; checked against torch")
    arrays = _inputs(row, shapes, 1)
    out_shape = row.fn(*[tg.tensor(a) for a in arrays]).shape
    cotangent = np.random.default_rng(2).standard_normal(out_shape)
    inputs = [tg.tensor(a, requires_grad=True) for a in arrays]
    result = tg.gradcheck(lambda *xs: (row.fn(*xs) * cotangent).sum(), inputs)
    assert result.passed, str(result)


@pytest.mark.parametrize("row, shapes", CASES, ids=[f"{r.name}-{s}" for r, s in CASES])
def test_forward_and_backward_match_torch(row, shapes):
    if torch is None:
        pytest.skip("torch is not installed")
    arrays = _inputs(row, shapes, 3)
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = row.fn(*ours), row.tfn(*theirs)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-7, atol=1e-12)
    cotangent = np.random.default_rng(4).standard_normal(out.shape)
    (out * cotangent).sum().backward()
    (tout * torch.tensor(cotangent)).sum().backward()
    for mine, ref in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.grad.data, ref.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_cast_changes_dtype_and_casts_the_gradient_back():
    x = tg.tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.grad_fn.name() == "Cast"
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    assert x.double() is x


def test_dropout_backward_uses_the_forward_mask_and_matches_centered_differences():
    tg.manual_seed(0)
    x = tg.randn(50, 40, dtype=tg.float64, requires_grad=True)
    y = F.dropout(x, p=0.3)
    mask = y.data / x.data
    assert set(np.round(np.unique(mask), 12)) == {0.0, round(1 / 0.7, 12)}
    cot = np.random.default_rng(0).standard_normal(x.shape)
    (y * cot).sum().backward()
    np.testing.assert_allclose(x.grad.data, cot * mask, rtol=1e-12)
    x.grad = None
    result = tg.gradcheck(lambda x: (F.dropout(x, 0.3) * cot[:3, :4]).sum(),
                          tg.randn(3, 4, requires_grad=True))
    assert result.passed, str(result)

"""The fused linear layer: y = x W^T + b as one primitive (one GEMM forward, two backward), and
LinearRun: a run of an MLP's layers (Linear, BatchNorm, Dropout, activations) as one primitive."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ...engine import _FREED
from ...function import Function, OpError, _new, _seq, values_free
from ...ops import Relu, Sigmoid, Tanh
from ...ops.constants import scalar
from ...ops.elementwise import relu_backward, relu_forward, stable_sigmoid
from ...tensor import Tensor
from .activation import elu, gelu, hardtanh, silu, softplus  # noqa: F401 (F.* names)


def _dtype_error(op: str, x_dtype: np.dtype, w_dtype: np.dtype) -> OpError:
    """A layer given input of another dtype than its weights (PyTorch refuses it too)."""
    fixes = {np.dtype(np.float32): "X.float(), or tg.tensor(X, dtype=tg.float32) (numpy arrays "
                                   "are float64 by default)",
             np.dtype(np.float64): "X.double()"}
    msg = (f"{op}: the input is {x_dtype} but the weight is {w_dtype}; convert the input: "
           f"{fixes.get(w_dtype, f'X.to({w_dtype})')}")
    models = {np.dtype(np.float32): "model.float()", np.dtype(np.float64): "model.double()"}
    if x_dtype.kind == "f":
        msg += f"; or the model: {models.get(x_dtype, f'model.to({x_dtype})')}"
    return OpError(msg)


_DOT_MACS = 16384  # the largest product (batch x out x in) that np.dot multiplies; see Linear


def _shape_error(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> OpError:
    """What does not fit in a linear layer: the input's width, or the bias's length."""
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        return OpError(f"linear: input of shape {x.shape} does not fit weight of shape "
                       f"{w.shape}: expected (..., {w.shape[-1]}) input and (out, in) weight")
    return OpError(f"linear: bias of shape {b.shape} does not fit weight {w.shape}: "
                   f"expected ({w.shape[0]},)")


def _affine(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """x W^T + b, a fresh array, with the layer's shape and dtype errors (Linear, LinearRun)."""
    # NOTE: the ordinary call pays for three cheap tests; numpy's own shape error (or a
    # wrong shape that numpy would broadcast: a 1-D weight, a bias of one element) is
    # translated into ours by _shape_error. The bias test is b.shape != (w.shape[0],) written
    # with ndim and len: .shape builds a tuple at every look (callgrind: ~700 instructions of
    # the ~2.5k these tests cost a call)
    if w.ndim != 2 or (b is not None and (b.ndim != 1 or len(b) != len(w))):
        raise _shape_error(x, w, b)
    # NOTE: np.dot, not @, for small contiguous 2-D products (up to _DOT_MACS multiply-adds):
    # both run the same BLAS GEMM (bit-identical results), but dot skips the gufunc machinery,
    # ~0.5 us a call, a third of a tiny layer's product. From 64 x 64 x 10 up dot's BLAS call
    # costs more than it saves (callgrind: +12% instructions on the small workload's
    # products). Strided operands go to matmul too: it may take another loop than dot (other
    # roundings), and dot of N-d input would not use BLAS at all.
    try:
        # (len(x): x.shape[0] of 2-D x without building the shape tuple, ~400 instructions)
        y = (np.dot(x, w.T) if x.ndim == 2 and len(x) * w.size <= _DOT_MACS
             and x.flags.c_contiguous and w.flags.c_contiguous else np.matmul(x, w.T))
    except ValueError:
        raise _shape_error(x, w, b) from None
    if x.dtype is not w.dtype and x.dtype != w.dtype:  # PyTorch refuses: a float64 batch
        raise _dtype_error("linear", x.dtype, w.dtype)
    if b is not None:
        y += b
    return y


def matmul_bound(x_shape: tuple, w_shape: tuple) -> bool:
    """Whether _affine gives every x of this shape and weights of this shape to np.matmul
    (N-d input, or a product above _DOT_MACS), whatever their memory layout."""
    return len(x_shape) != 2 or x_shape[0] * int(np.prod(w_shape)) > _DOT_MACS


def affine_replay(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Linear.forward without _affine's checks and choice, for shapes matmul_bound says go to
    matmul: the same numpy calls on the same arrays. Only a captured step's later replays call
    it, where every shape and dtype the checks read is fixed (see capture.py, _Program)."""
    y = np.matmul(x, w.T)
    if b is not None:
        y += b
    ctx.saved_tensors = (x, w)  # Linear.forward's save_for_backward(x, w)
    return y


def _affine_grads(g: np.ndarray, x: np.ndarray, w: np.ndarray, nx: bool, nw: bool,
                  nb: bool) -> tuple:
    """(dx, dW, db) of y = x W^T + b, each only if asked (None otherwise)."""
    two_d, g_contiguous = x.ndim == 2, g.flags.c_contiguous  # (a flags object per look)
    blas = (two_d and g_contiguous and len(x) * w.size <= _DOT_MACS
            and x.flags.c_contiguous)
    gx = None  # NOTE: skipped for the input layer: nobody needs dX
    if nx:
        gx = np.dot(g, w) if blas and w.flags.c_contiguous else np.matmul(g, w)
    if not two_d:
        x, g = x.reshape(-1, x.shape[-1]), g.reshape(-1, g.shape[-1])
        g_contiguous = g.flags.c_contiguous
    gw = (np.dot(g.T, x) if blas else g.T @ x) if nw else None
    gb = None
    if nb:
        # NOTE: the bias gradient as ones @ g, BLAS's matrix-vector product, for a C-contiguous
        # float32 / float64 g: 2-3x faster than np.add.reduce(g, axis=0) (0.7 us against 2.1 on
        # 64 x 20 float32, 2.0 against 5.7 on 128 x 256). Another summation order than numpy's
        # row by row (and PyTorch's): the sums differ in their last bits, well within the torch
        # parity tests' tolerances. Linear and LinearRun both come here: they stay identical.
        ones = None
        if g_contiguous:
            ones = _ONES.get((len(g), g.dtype))  # len(g): g.shape[0], g is 2-D here
            if ones is None and g.dtype in _BLAS_DTYPES:
                ones = _ones(len(g), g.dtype)
        gb = np.add.reduce(g, axis=0) if ones is None else np.dot(ones, g)
    return gx, gw, gb


_BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: read-only vectors of ones by (length, dtype), the bias gradient's left operand; a few batch
#: sizes a model sees (the last batch of an epoch is often smaller), capped in number
_ONES: dict[tuple, np.ndarray] = {}


def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of n ones in dtype, made once (the oldest goes past 16 of them)."""
    if len(_ONES) >= 16:
        del _ONES[next(iter(_ONES))]
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    _ONES[n, dtype] = ones
    return ones


class Linear(Function):
    """y = x W^T + b   |   dx = g W, dW = g^T x, db = sum(g)   (one node instead of three)"""

    fresh_grads = True  # three new products: the next backward may work in dx

    @staticmethod
    def forward(ctx, x, w, b):
        y = _affine(x, w, b)
        ctx.save_for_backward(x, w)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return _affine_grads(g, x, w, *ctx.needs_input_grad)

    @staticmethod
    def backward_graph(ctx, g):
        x, w = ctx.saved_tensors
        return _affine_graph_grads(g, ctx.graph_input(0, x), ctx.graph_input(1, w),
                                   *ctx.needs_input_grad)


def _affine_graph_grads(g: Tensor, x: Any, w: Tensor, nx: bool, nw: bool, nb: bool) -> tuple:
    """_affine_grads written with Tensor ops (they record a graph: create_graph=True)."""
    gx = g @ w if nx else None
    g2 = g.reshape(-1, g.shape[-1])
    gw = g2.transpose(0, 1) @ x.reshape(-1, x.shape[-1]) if nw else None
    gb = g2.sum(0) if nb else None
    return gx, gw, gb


#: the activations a run applies, by the names its stages use (the unfused ops)
ACTIVATIONS = {"relu": Relu, "tanh": Tanh, "sigmoid": Sigmoid}


def _values_free(shape: tuple, dtype: np.dtype, node: Function) -> Tensor:
    """A Tensor made by `node` with a shape and dtype but no values (zeros using no memory):
    the output of an unfolded layer, for what reads only its shape (tg.viz, the sweeps)."""
    t = _new(Tensor)
    t._data = values_free(tuple(shape), np.dtype(dtype))
    t.grad, t.requires_grad, t.grad_fn = None, True, node
    return t


class LinearRun(Function):
    """h[i+1] = act[i](layer[i](h[i])) for the layers i of an MLP, one node for all of them
    |   from the top layer down: dz = g * act'(h[i+1]), then the layer's own backward of dz

    nn.Sequential applies it to a run of its layers (see Sequential.forward): Linear, BatchNorm1d
    and Dropout, each optionally followed by ReLU, Tanh or Sigmoid; values and gradients are bit
    for bit those of the nodes it replaces: the same numpy calls on the same arrays. Arguments:
    the input, the stages (one a layer), then the layers' tensors in turn. A Linear stage is
    its activation ("relu", "tanh", "sigmoid" or None) and takes the weight and bias (None: no
    bias); any other stage is (kernel, activation, width, args): the Function whose forward and
    backward it calls with a context of its own (BatchNorm, Dropout), the number of tensors it
    takes, and its other arguments, or a callable giving them from the input's shape (the
    module's side of the call: BatchNorm1d's checks, batch count and momentum). What it saves:
    the list of each Linear layer's input and each activation's output, the parameters' arrays,
    and a list of what each kernel saved; at the graph's last use backward frees each array
    once it is used (peak memory as unfused).
    """

    # the new arrays of backward: dx, dW and db are products and sums, never g or saved arrays;
    # a kernel's dx is new, or the g this node owns written over (BatchNorm's dgamma and dbeta
    # are new sums)
    fresh_grads = True
    overwrites_grad = True  # the top activation's g * act' is written into g when it is owned
    #: at the graph's last use backward frees each layer's saved arrays once it has run
    reuses_saved = True
    #: (the run's seq, (module count, drawn positions)) when nn.Sequential applied the run, from
    #: which container.stage_seqs works out where tg.viz draws each layer (None: all at the
    #: node's own seq)
    run_call: tuple | None = None
    #: the kernels' contexts and other arguments, [(context, args)], in forward order (None: only
    #: Linear layers); their saved arrays are this node's (saved after the parameters), so the
    #: engine frees them with its own
    subs: list | None = None

    @staticmethod
    def forward(ctx, x, stages, *params):
        ctx.stages = stages
        h, saved, k, act, kept = x, [x], 0, None, None
        needs = ctx.needs_input_grad
        for stage in stages:
            if type(stage) is not tuple:  # a Linear layer (the stage is its activation)
                h = _affine(h, params[k], params[k + 1])
                k += 2
                act = stage
            else:
                if act is None:
                    saved[-1] = None  # the kernel saves what its backward needs of its input
                kernel, act, width, args = stage
                if type(args) is not tuple:
                    args = args(h.shape)
                sub = _new(kernel)
                sub.saved_tensors = ()
                # its input's gradient flows if one below does; its other arguments take none
                sub.needs_input_grad = (True in needs[:k + 2], *needs[k + 2:k + 2 + width],
                                        *(False,) * len(args))
                h = kernel.forward(sub, h, *params[k:k + width], *args)
                k += width
                if kept is None:
                    kept, subs = [], []
                    ctx.subs = subs
                kept.append(list(sub.saved_tensors))  # (a list: backward frees it early)
                sub.saved_tensors = ()
                subs.append((sub, args))
            # NOTE: in place on the layer's fresh output, which nothing else holds (the unfused
            # activation allocates its output here): the same kernels, the same values
            if act == "relu":
                relu_forward(h, out=h)
            elif act == "tanh":
                np.tanh(h, out=h)
            elif act == "sigmoid":
                stable_sigmoid(h, out=h)
            saved.append(h)
        if act is None:
            saved[-1] = None  # the last layer's gradient does not need its output
        # NOTE: the layers' arrays in lists, which backward empties as it goes at the graph's
        # last use (the engine holds the tuple while backward runs)
        if kept is None:
            ctx.save_for_backward(saved, *params)
        else:
            ctx.save_for_backward(saved, *params, *kept)
        return h

    @staticmethod
    def backward(ctx, g):
        stages, saved, needs = ctx.stages, ctx.saved_tensors, ctx.needs_input_grad
        # the layers' outputs, popped from the top down: at the graph's last use the list
        # itself, so each array is freed after its last use (the engine frees an unfused
        # node's after its backward); else a copy (the graph keeps its arrays)
        last = ctx.saved_last_use
        hs = saved[0] if last else saved[0].copy()
        n, k = len(stages), len(needs) - 2  # k: where the layer's tensors end
        j = 0  # counts the kernels from the top: their contexts' and saved arrays' index is j
        # the lowest layer whose input gradient is needed: dx stops there (the first layer,
        # unless neither the input nor its first two tensors want a gradient: a Linear
        # layer's weight and bias, a BatchNorm's running statistics)
        first = 0
        if not (needs[0] or needs[2] or needs[3]):
            at = 2
            for stage in stages:
                width = 2 if type(stage) is not tuple else stage[2]
                if True in needs[at:at + width]:
                    break
                at += width
                first += 1
        grads = [None] * len(needs)
        owned = ctx.grad_owned
        for i in range(n - 1, first - 1, -1):
            act, kernel = stages[i], None
            if type(act) is tuple:
                kernel, act, width = act[0], act[1], act[2]
            y = hs.pop()  # this layer's output (the layer above, if a Linear, is done with it)
            if act is not None:
                # NOTE: in place only into a C-contiguous g we own: the unfused node's new
                # array is C-contiguous there, so the products below take the same BLAS path
                inplace = owned and g.flags.c_contiguous
                if act == "relu":  # Relu's subgradient: 0 where y == 0, g where y is NaN
                    g = relu_backward(g, y, inplace)
                elif act == "tanh":
                    d = y * y
                    d = np.subtract(scalar(1, d.dtype), d, out=d)
                    g = np.multiply(g, d, out=g) if inplace else g * d
                else:  # sigmoid: (g * y) * (1 - y), Sigmoid's order
                    g = np.multiply(g, y, out=g) if inplace else g * y
                    g = np.multiply(g, np.subtract(scalar(1, y.dtype), y), out=g)
                owned = True  # g written over, or a new array
            y = None  # its last use
            if kernel is None:  # a Linear layer
                k -= 2
                g, grads[2 + k], grads[3 + k] = _affine_grads(
                    g, hs[-1], saved[1 + k], i > first or needs[0], needs[2 + k], needs[3 + k])
                owned = True  # every g below is a product made here
                continue
            # a kernel: its backward with its context, given g as the engine would give it
            k -= width
            j -= 1  # (the kernels' saved arrays are the last of saved)
            sub = ctx.subs[j][0]
            sub.saved_tensors = saved[j]
            mine = owned and kernel.overwrites_grad
            sub.grad_owned = mine
            try:
                in_grads = kernel.backward(sub, g)
            finally:
                sub.grad_owned = False  # True only while its backward runs (the engine's rule)
                sub.saved_tensors = ()
            if last:  # as the engine frees an unfused node's arrays after its backward
                saved[j].clear()
            if width:  # (Dropout takes no tensor but its input)
                grads[2 + k:2 + k + width] = in_grads[1:1 + width]
            owned = kernel.fresh_grads or (mine and in_grads[0] is g)
            g = in_grads[0]
        grads[0] = g if needs[0] else None
        return tuple(grads)

    @staticmethod
    def backward_graph(ctx, g):
        # NOTE: through the unfused nodes, rebuilt from what the run saved (layers): each op's
        # own backward_graph, so the gradients can be differentiated again. No forward runs
        # again: the running statistics are not updated twice, the dropout masks are the same.
        needs = ctx.needs_input_grad
        grads = [None] * len(needs)
        for node, _, positions in reversed(ctx.layers(_seq)):
            in_grads = node.backward_graph(node, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            for at, grad in zip(positions, in_grads[1:]):  # noqa: B905 (the node's tensors)
                grads[at] = grad
            g = in_grads[0]
            if g is None:  # the lowest layer whose gradient is needed
                break
        grads[0] = g if needs[0] else None
        return tuple(grads)

    def layers(self, seqs: Iterator[int]) -> list[tuple[Function, Tensor, tuple[int, ...]]]:
        """The nodes of the unfused layers this run stands for, in forward order, rebuilt from
        what it saved (nothing runs again): each with its output (a Tensor with a shape and no
        values) and the positions of its tensor arguments after the first among the run's.
        Each node's seq is the next of `seqs`. tg.viz draws them; backward_graph goes through
        them."""
        stages, parents, saved = self.stages, self.parents, self.saved_tensors
        needs, freed = self.needs_input_grad, saved is _FREED
        hs, base = saved if freed else saved[0], 1 + len(parents) - 2
        h = parents[0]
        shape = np.shape(h._data if isinstance(h, Tensor) else h)
        dtype = (h._data if isinstance(h, Tensor) else np.asarray(h)).dtype
        flow, k, j = needs[0], 0, 0
        layers: list[tuple[Function, Tensor, tuple[int, ...]]] = []
        for i, stage in enumerate(stages):
            if type(stage) is not tuple:
                act, width, w = stage, 2, parents[2 + k]
                node = _new(Linear)
                node.needs_input_grad = (flow, needs[2 + k], needs[3 + k])
                node.saved_tensors = _FREED if freed else (hs[i], saved[1 + k])
                node.parents = (h, w, parents[3 + k])
                shape, dtype = shape[:-1] + (w.shape[0],), w.dtype
            else:
                kernel, act, width, _ = stage
                sub, args = self.subs[j]
                node = _new(kernel)
                node.__dict__.update(sub.__dict__)
                node.needs_input_grad = sub.needs_input_grad
                node.saved_tensors = _FREED if freed else tuple(saved[base + j])
                node.parents = (h, *parents[2 + k:2 + k + width], *args)
                dtype = np.result_type(dtype, *(p.dtype for p in parents[2 + k:2 + k + width]
                                                 if p is not None))
                j += 1
            node.seq = next(seqs)
            h = _values_free(shape, dtype, node)
            layers.append((node, h, tuple(range(2 + k, 2 + k + width))))
            flow = flow or True in needs[2 + k:2 + k + width]
            k += width
            if act is not None:
                node = _new(ACTIVATIONS[act])
                node.needs_input_grad = (flow,)
                node.saved_tensors = _FREED if freed else (hs[i + 1],)
                node.parents = (h,)
                node.seq = next(seqs)
                h = _values_free(shape, dtype, node)
                layers.append((node, h, ()))
        return layers

    def name(self) -> str:
        """The ops it stands for, e.g. 'Linear+Relu+Linear' (tg.viz draws them one by one)."""
        parts = []
        for stage in self.stages:
            act = stage if type(stage) is not tuple else stage[1]
            parts.append("Linear" if type(stage) is not tuple else stage[0].__name__)
            if act is not None:
                parts.append(ACTIVATIONS[act].__name__)
        return "+".join(parts)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """x @ W.T + b as one node.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.linear(tg.ones(2, 3), tg.ones(4, 3), tg.zeros(4)).shape
    (2, 4)
    """
    return Linear.apply(input, weight, bias)

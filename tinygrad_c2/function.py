"""The Function mechanism and every tensor primitive: forward and backward side by side, numpy
in and numpy out. Composite operations live in tensor.py and need no backward."""

from __future__ import annotations

import itertools
import os
import time
import traceback
from typing import Any

import numpy as np

from .engine import check_finite, mode
from .tensor import Tensor

_seq = itertools.count()
_new = object.__new__
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: name -> class of every built-in primitive (the op tests assert each one has a row)
PRIMITIVES: dict[str, type[Function]] = {}


class OpError(ValueError):
    """Bad input to an op, with a message that names the op, the shapes and what was expected."""


class Function:
    """Base of every op, built-in or user-defined (PyTorch's pattern).

    Subclass it with static `forward(ctx, *args)` and `backward(ctx, grad)` on numpy arrays and
    call `MyOp.apply(*args)`: Tensor arguments arrive in forward as their arrays, anything else
    (ints, axes, flags) as it is. `backward` returns one gradient per forward argument (None
    where there is none) in the shape of the output; the engine sums broadcast axes away.
    Save arrays with `ctx.save_for_backward` (freed after backward); keep only small scalars as
    ctx attributes. `ctx.needs_input_grad[i]` tells whether argument i wants a gradient.
    The instance `ctx` is also the graph node: `tensor.grad_fn`. NOTE: backward must not
    modify `grad` in place; the engine may hand the same array to several consumers.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = tg.tensor([2.0], requires_grad=True)
    >>> Cube.apply(x).sum().backward(); x.grad
    tensor([12.])
    """

    __slots__ = ("parents", "needs_input_grad", "seq", "saved_tensors", "__dict__")
    retained: Any = None  # the output Tensor, when it asked to retain_grad()
    created_at: str | None = None  # file:line of the user code that made it (anomaly mode)
    forward_time: float | None = None  # seconds, recorded under engine.profiling()
    backward_time: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("tinygrad_c2.") and not cls.__name__.startswith("_"):
            PRIMITIVES[cls.__name__] = cls

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are released after the first backward pass."""
        self.saved_tensors = arrays

    @staticmethod
    def forward(ctx: Function, *args: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run forward on the arrays and, if any Tensor input requires grad, record the node."""
        ctx = _new(cls)
        ctx.saved_tensors = ()  # save_for_backward fills it; the engine frees it
        # NOTE: one plain loop, not two comprehensions: each comprehension is a frame in 3.11.
        arrays, flags, i = list(args), [False] * len(args), 0
        for a in args:
            if isinstance(a, Tensor):
                arrays[i] = a.data
                flags[i] = a.requires_grad
            i += 1
        record = mode.grad_enabled and True in flags
        ctx.needs_input_grad = tuple(flags) if record else (False,) * i
        instrumented = mode.instrumented
        try:
            if not instrumented:
                out = cls.forward(ctx, *arrays)
            elif mode.anomaly:  # our check below names the op; numpy's warning would not
                with np.errstate(all="ignore"):
                    out = cls.forward(ctx, *arrays)
            else:
                t0 = time.perf_counter()
                out = cls.forward(ctx, *arrays)
                ctx.forward_time = time.perf_counter() - t0
        except OpError:
            raise
        except (ValueError, IndexError) as e:
            shapes = ", ".join(str(np.shape(a)) for a in arrays if isinstance(a, np.ndarray))
            kind = IndexError if isinstance(e, IndexError) else ValueError
            raise kind(f"{cls.__name__}: {e} (input shapes: {shapes})") from None
        except TypeError as e:  # numpy's UFuncTypeError too: `tensor + "a"`, `tensor + None`
            types = ", ".join(type(a).__name__ for a in args)
            raise TypeError(f"{cls.__name__}: {e} (argument types: {types})") from None
        if type(out) is not np.ndarray:
            if isinstance(out, tuple):
                raise TypeError(f"{cls.__name__}.forward must return one array, got a tuple")
            out = np.asarray(out)
        if instrumented and mode.anomaly:
            ctx.created_at = _user_frame()
            check_finite(ctx, (out,), "forward")
        if not record:
            return Tensor._wrap(out)
        ctx.parents = args
        ctx.seq = next(_seq)
        t = _new(Tensor)  # Tensor._from_op, inlined: this is the hottest line of the library
        t.data, t.grad, t.requires_grad, t.grad_fn = out, None, True, ctx
        return t

    def name(self) -> str:
        """The op's name, as PyTorch's grad_fn.name()."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


_NO_VALUES = bytes(16)  # the one element every stand-in array views (read-only zeros)
# NOTE: a stand-in costs about a microsecond; an op on an array this large costs far more, and
# smaller arrays are not worth releasing (a kept graph of 100 nodes holds at most 1.6 MB).
RELEASE_BYTES = 16 * 1024
_shape_only: dict[tuple, np.ndarray] = {}  # (shape, dtype) -> a stand-in array, reused


def _stand_in_array(a: np.ndarray) -> np.ndarray:
    """A read-only array of a's shape and dtype that holds no memory (every stride 0)."""
    if len(_shape_only) > 4096:  # bounded: about one entry per shape the program uses
        _shape_only.clear()
    if a.dtype.itemsize <= len(_NO_VALUES):
        view = np.ndarray(a.shape, a.dtype, buffer=_NO_VALUES, strides=(0,) * a.ndim)
    else:
        view = np.broadcast_to(np.zeros((), a.dtype), a.shape)
    _shape_only[a.shape, a.dtype.str] = view  # NOTE: .str: comparing dtypes is slow
    return view


def released_inputs(parents: tuple, cache: dict[int, Tensor]) -> tuple:
    """A node's inputs after a backward without retain_graph freed it: what a graph walk (viz)
    or a backward through a node that saved nothing still needs, not the values.

    Parameters (and other leaves that want a gradient) and tensors under RELEASE_BYTES stay.
    Every other tensor (an activation, the input batch) becomes a stand-in with the same
    producer (grad_fn), shape and dtype whose values are gone (read-only zeros that use no
    memory), so a kept `loss` no longer keeps the activations alive; PyTorch's graph holds
    none either.
    `cache` maps a tensor's id to its stand-in during one backward, so a tensor used twice
    (`x * x`) stays one tensor in the graph.
    """
    out, i = None, 0
    for p in parents:  # NOTE: a plain loop and no helper calls: this runs once per node
        if type(p) is Tensor and (p.grad_fn is not None or not p.requires_grad):
            data = p.data
            if data.nbytes >= RELEASE_BYTES:
                stand_in = cache.get(id(p))
                if stand_in is None:
                    view = _shape_only.get((data.shape, data.dtype.str))
                    if view is None:
                        view = _stand_in_array(data)
                    stand_in = cache[id(p)] = _new(Tensor)
                    stand_in.data, stand_in.grad, stand_in.grad_fn = view, p.grad, p.grad_fn
                    stand_in.requires_grad = p.requires_grad
                if out is None:
                    out = list(parents)
                out[i] = stand_in
        i += 1
    return parents if out is None else tuple(out)


def _user_frame() -> str:
    """file:line of the innermost caller outside this package (for anomaly messages)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "inside tinygrad_c2"


# ---------------------------------------------------------------- elementwise binary


class Add(Function):
    """y = a + b   |   da = g, db = g"""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """y = a - b   |   da = g, db = -g"""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b   |   da = g * b, db = g * a"""

    @staticmethod
    def forward(ctx, a, b):
        da, db = ctx.needs_input_grad
        ctx.save_for_backward(a if db else None, b if da else None)  # only what is needed
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


class Div(Function):
    """y = a / b   |   da = g / b, db = -g * y / b"""

    @staticmethod
    def forward(ctx, a, b):
        y = a / b
        ctx.save_for_backward(b, y if ctx.needs_input_grad[1] else None)
        return y

    @staticmethod
    def backward(ctx, g):
        b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = g / b if da else None
        return ga, (-(ga if da else g / b) * y if db else None)


class Pow(Function):
    """y = a ** b   |   da = g * b * a ** (b - 1), db = g * y * log(a)"""

    @staticmethod
    def forward(ctx, a, b):
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = g * b * np.power(a, b - 1) if da else None
        return ga, (g * y * np.log(a) if db else None)


class Maximum(Function):
    """y = max(a, b)   |   g goes to the larger input; ties split it evenly (as PyTorch)"""

    select = staticmethod(np.maximum)
    wins = staticmethod(np.greater)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return type(ctx).select(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        share = type(ctx).wins(a, b) + 0.5 * (a == b)
        return g * share, g * (1.0 - share)


class Minimum(Maximum):
    """y = min(a, b)   |   g goes to the smaller input; ties split it evenly (as PyTorch)"""

    select = staticmethod(np.minimum)
    wins = staticmethod(np.less)


class Where(Function):
    """y = cond ? a : b   |   da = g where cond, db = g elsewhere; cond has no gradient"""

    @staticmethod
    def forward(ctx, cond, a, b):
        cond = np.asarray(cond, dtype=bool)
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, da, db = ctx.needs_input_grad
        return None, (np.where(cond, g, 0) if da else None), (np.where(cond, 0, g) if db else None)


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


# ---------------------------------------------------------------- elementwise unary


class Neg(Function):
    """y = -x   |   dx = -g"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """y = e^x   |   dx = g * y"""

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Log(Function):
    """y = ln x   |   dx = g / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]


class Sqrt(Function):
    """y = sqrt(x)   |   dx = g / (2 y)"""

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * 0.5 / ctx.saved_tensors[0]


class Abs(Function):
    """y = |x|   |   dx = g * sign(x)   (subgradient 0 at 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.saved_tensors[0])


class Clamp(Function):
    """y = min(max(x, lo), hi)   |   dx = g where lo <= x <= hi (PyTorch's inclusive rule)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise OpError("Clamp: at least one of min and max must be given")
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inside = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            inside &= x >= ctx.lo
        if ctx.hi is not None:
            inside &= x <= ctx.hi
        return g * inside, None, None


class Relu(Function):
    """y = max(x, 0)   |   dx = g where y > 0 (subgradient 0 at 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] > 0)


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x   |   dx = g or slope * g"""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.slope = slope
        pos = x > 0
        ctx.save_for_backward(pos)
        return np.where(pos, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved_tensors
        return np.where(pos, g, g * ctx.slope), None


class Tanh(Function):
    """y = tanh(x)   |   dx = g * (1 - y^2)   (reuses the output, no second tanh)"""

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1.0 - y * y)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), exact in both tails: for very negative x, e^-x is huge and the quotient
    tiny but still correctly rounded; past e^-x = inf (x < -88 in float32) the result is the
    correct limit 0. Only numpy's overflow warning needs silencing."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)   |   dx = g * y * (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        y = stable_sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1.0 - y)


class Cast(Function):
    """y = x as dtype   |   dx = g as x's dtype"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None


# ---------------------------------------------------------------- softmax family (stable)


def max_keepdims(x: np.ndarray, dim: int) -> np.ndarray:
    """x.max(axis=dim, keepdims=True), fast for rows of a 2-D array.

    NOTE: numpy reduces a short last axis several times slower (6 us for 64 x 10 float32) than
    the first axis of a contiguous transposed copy (under 2 us, copy included).
    """
    if x.ndim == 2 and dim in (1, -1):
        return np.ascontiguousarray(x.T).max(axis=0)[:, None]
    return x.max(axis=dim, keepdims=True)


class Softmax(Function):
    """y = e^(x - max) / sum e^(x - max)   |   dx = y * (g - sum(g * y))"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        # NOTE: shifting by the max makes every exponent <= 0, so nothing overflows.
        e = np.exp(x - max_keepdims(x, dim))
        y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.dim, keepdims=True)), None


def log_softmax_array(x: np.ndarray, dim: int) -> np.ndarray:
    """x - logsumexp(x) along dim, shifted by the max so it is exact for any magnitude."""
    shifted = x - max_keepdims(x, dim)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x)   |   dx = g - softmax(x) * sum(g)"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = log_softmax_array(x, dim)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - np.exp(y) * g.sum(axis=ctx.dim, keepdims=True), None


# ---------------------------------------------------------------- reductions


class Sum(Function):
    """y = sum of x over axes   |   dx = g broadcast back to x's shape"""

    @staticmethod
    def forward(ctx, x, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdims and ctx.axis is not None:
            g = np.expand_dims(g, ctx.axis)
        if np.prod(ctx.shape) > 4096:
            return np.broadcast_to(g, ctx.shape), None, None  # a view: no copy of a big array
        # NOTE: np.broadcast_to costs microseconds of Python; a small filled array is cheaper.
        out = np.empty(ctx.shape, dtype=g.dtype)
        out[...] = g
        return out, None, None


class Max(Function):
    """y = max of x (over a dim)   |   dx = g at the arg-max; over all elements ties share g"""

    reduce = staticmethod(np.max)
    arg = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0:
            raise OpError(f"{type(ctx).__name__}: cannot reduce an empty tensor of shape {x.shape}")
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        if dim is None:
            y = type(ctx).reduce(x)
            ctx.save_for_backward(x == y)
            return y
        idx = type(ctx).arg(x, axis=dim, keepdims=True)
        ctx.save_for_backward(idx)
        y = np.take_along_axis(x, idx, axis=dim)
        return y if keepdim else y.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        if ctx.dim is None:
            return g * saved / saved.sum(), None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, saved, g if ctx.keepdim else np.expand_dims(g, ctx.dim), ctx.dim)
        return out, None, None


class Min(Max):
    """y = min of x (over a dim)   |   dx = g at the arg-min; over all elements ties share g"""

    reduce = staticmethod(np.min)
    arg = staticmethod(np.argmin)


# ---------------------------------------------------------------- shape and indexing


class Reshape(Function):
    """y = x viewed with a new shape   |   dx = g reshaped back"""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise OpError(f"Reshape: cannot view a tensor of shape {x.shape} ({x.size} elements)"
                          f" as shape {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Permute(Function):
    """y = x with axes reordered   |   dx = g with the inverse order"""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.axes)), None


class Expand(Function):
    """y = x broadcast to shape   |   dx = g summed over the broadcast axes (by the engine)"""

    @staticmethod
    def forward(ctx, x, shape):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise OpError(f"Expand: cannot expand shape {x.shape} to {tuple(shape)}: each "
                          "dimension must match or be 1") from None

    @staticmethod
    def backward(ctx, g):
        return g, None


class Index(Function):
    """y = x[idx]   |   dx = zeros with g scattered back; repeated integer indices accumulate"""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.shape = x.shape
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
        return out, None


class Cat(Function):
    """y = concatenate(xs, dim)   |   each dx is its slice of g"""

    @staticmethod
    def forward(ctx, dim, *xs):
        if not xs:
            raise OpError("cat: expected a non-empty sequence of tensors")
        nd = xs[0].ndim
        if not -nd <= dim < nd:
            raise OpError(f"cat: dim {dim} is out of range for tensors of shapes "
                          f"{[x.shape for x in xs]} (expected {-nd} <= dim < {nd})")
        ctx.dim = dim
        ctx.splits = np.cumsum([x.shape[dim] for x in xs])[:-1]
        return np.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, ctx.splits, axis=ctx.dim))

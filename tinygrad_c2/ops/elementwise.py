"""Elementwise primitives, binary and unary (activations included): numpy in, numpy out."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, OpError, _NonDifferentiable
from ..tensor import Tensor
from .constants import scalar


class Add(Function):
    """y = a + b   |   da = g, db = g"""

    promote = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def backward_graph(ctx, g):
        return g, g


class Sub(Function):
    """y = a - b   |   da = g, db = -g"""

    promote = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_graph(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b   |   da = g * b, db = g * a"""

    promote = (0, 1)

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

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return ((g * ctx.graph_input(1, b) if da else None),
                (g * ctx.graph_input(0, a) if db else None))


class Div(Function):
    """y = a / b   |   da = g / b, db = -g * y / b"""

    promote = (0, 1)
    float_op = True

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

    @staticmethod
    def backward_graph(ctx, g):
        b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = g / ctx.graph_input(1, b)
        return (ga if da else None), (-ga * ctx.graph_output(y) if db else None)


class Pow(Function):
    """y = a ** b   |   da = g * b * a ** (b - 1), 0 where b == 0;
    db = g * y * log(a), 0 where a == 0 and b >= 0   (PyTorch's rules at the edges)"""

    promote = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        ga = gb = None
        if da:
            ga = g * b * np.power(a, b - 1)
            # NOTE: x ** 0 is the constant 1, so its gradient is 0 even where b * a ** (b - 1)
            # is 0 * inf (a = 0) or NaN (a = NaN); PyTorch masks it the same way.
            if type(b) is np.ndarray:
                if (b == 0).any():
                    ga = np.where(b == 0, 0, ga)
            elif b == 0:
                ga = np.zeros_like(ga)
        if db:
            if type(a) is not np.ndarray:  # a Python base (`2.0 ** x`): log in y's dtype
                a = np.asarray(a, dtype=np.result_type(y))
            gb = g * y * np.log(a)
            # NOTE: at a = 0, y * log(a) is 0 * -inf; the limit of a ** b * log(a) for b > 0
            # is 0 (and y = 1 at b = 0), which is PyTorch's value too.
            base_zero = (a == 0) & (b >= 0)
            if base_zero.any():
                gb = np.where(base_zero, 0, gb)
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        base, exponent = ctx.graph_input(0, a), ctx.graph_input(1, b)
        ga = gb = None
        # NOTE: the first-order masks, as constants; under each mask the base is swapped for 1
        # first, so that no 0 * inf (NaN) of the masked branch leaks into the next derivative
        if da:
            exponent_zero = np.asarray(b == 0)
            if exponent_zero.any():
                safe = Where.apply(exponent_zero, 1.0, base)
                ga = Where.apply(exponent_zero, 0.0, g * exponent * safe ** (exponent - 1))
            else:
                ga = g * exponent * base ** (exponent - 1)
        if db:
            if type(a) is not np.ndarray:  # a Python base: its log is a constant
                return ga, g * ctx.graph_output(y) * np.log(np.asarray(a, dtype=y.dtype))
            base_zero = (a == 0) & (b >= 0)
            if base_zero.any():
                log_base = Where.apply(base_zero, 1.0, base).log()
                gb = Where.apply(base_zero, 0.0, g * ctx.graph_output(y) * log_base)
            else:
                gb = g * ctx.graph_output(y) * base.log()
        return ga, gb


class Maximum(Function):
    """y = max(a, b)   |   g goes to the larger input; ties split it evenly (as PyTorch)"""

    promote = (0, 1)

    select = staticmethod(np.maximum)
    loses = staticmethod(np.less)  # a input gets no gradient where it loses

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return type(ctx).select(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        loses, tie = type(ctx).loses, a == b
        da, db = ctx.needs_input_grad
        # NOTE: PyTorch's rule: an input gets g unless it loses (half on a tie), so where either
        # is NaN neither loses and BOTH get the full g (the output is NaN).
        ga = np.where(tie, g * 0.5, g * np.logical_not(loses(a, b))) if da else None
        gb = np.where(tie, g * 0.5, g * np.logical_not(loses(b, a))) if db else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, g):
        a, b = ctx.saved_tensors
        loses, tie = type(ctx).loses, a == b
        da, db = ctx.needs_input_grad
        dtype = g._data.dtype  # the shares are constants: who wins does not move under a nudge
        ga = g * np.where(tie, 0.5, np.logical_not(loses(a, b))).astype(dtype) if da else None
        gb = g * np.where(tie, 0.5, np.logical_not(loses(b, a))).astype(dtype) if db else None
        return ga, gb


class Minimum(Maximum):
    """y = min(a, b)   |   g goes to the smaller input; ties split it evenly (as PyTorch)"""

    select = staticmethod(np.minimum)
    loses = staticmethod(np.greater)


class Where(Function):
    """y = cond ? a : b   |   da = g where cond, db = g elsewhere; cond has no gradient"""

    promote = (1, 2)

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

    @staticmethod
    def backward_graph(ctx, g):
        (cond,) = ctx.saved_tensors
        _, da, db = ctx.needs_input_grad
        return (None, (Where.apply(cond, g, 0.0) if da else None),
                (Where.apply(cond, 0.0, g) if db else None))


class Compare(_NonDifferentiable):
    """y = a < b, a <= b, a > b, a >= b, a == b or a != b (op is the numpy ufunc)   |   none"""

    @staticmethod
    def forward(ctx, a, b, op):
        return op(a, b)


# ---------------------------------------------------------------- elementwise unary


class Neg(Function):
    """y = -x   |   dx = -g"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def backward_graph(ctx, g):
        return -g


class Exp(Function):
    """y = e^x   |   dx = g * y"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        try:
            y = np.exp(x)
        except FloatingPointError:
            # NOTE: only under np.errstate(under="raise"): e^-1000 = 0 is the correct result, so
            # compute it again quietly (an overflow raises again, named by apply). A retry costs
            # nothing in the default mode; an errstate around every call would cost this cheap
            # op a third of its time. (np.errstate(under="warn") still warns here.)
            with np.errstate(under="ignore"):
                y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]

    @staticmethod
    def backward_graph(ctx, g):
        return g * ctx.graph_output(ctx.saved_tensors[0])


class Log(Function):
    """y = ln x   |   dx = g / x"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]

    @staticmethod
    def backward_graph(ctx, g):
        return g / ctx.graph_input(0, ctx.saved_tensors[0])


class Sqrt(Function):
    """y = sqrt(x)   |   dx = g / (2 y)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * 0.5 / ctx.saved_tensors[0]

    @staticmethod
    def backward_graph(ctx, g):
        return g * 0.5 / ctx.graph_output(ctx.saved_tensors[0])


def sign(x: np.ndarray, dtype: Any) -> np.ndarray:
    """-1, 0 or 1 in `dtype`, and 0 at NaN as PyTorch's sign (np.sign gives NaN there).

    >>> sign(np.array([-2.0, 0.0, np.nan, 3.0]), np.float32)
    array([-1.,  0.,  0.,  1.], dtype=float32)
    """
    return np.subtract(x > 0, x < 0, dtype=dtype)


class Abs(Function):
    """y = |x|   |   dx = g * sign(x)   (subgradient 0 at 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * sign(ctx.saved_tensors[0], g.dtype)  # 0 at NaN, as PyTorch

    @staticmethod
    def backward_graph(ctx, g):
        return g * sign(ctx.saved_tensors[0], g._data.dtype)  # a constant: abs'' = 0


class Clamp(Function):
    """y = min(max(x, lo), hi)   |   dx = g where lo <= x <= hi (PyTorch's inclusive rule)"""

    promote = (0, 1, 2)

    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise OpError("Clamp: at least one of min and max must be given")
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g * _inside(ctx, ctx.saved_tensors[0]), None, None

    @staticmethod
    def backward_graph(ctx, g):
        return g * _inside(ctx, ctx.saved_tensors[0]), None, None  # a constant mask


def _inside(ctx: Function, x: np.ndarray) -> np.ndarray:
    """Where x is within clamp's [lo, hi] (the bounds included): where the gradient passes."""
    inside = np.ones(x.shape, dtype=bool)
    if ctx.lo is not None:
        inside &= x >= ctx.lo
    if ctx.hi is not None:
        inside &= x <= ctx.hi
    return inside


#: the smallest C-contiguous array (in elements) whose ReLU compares with a zeros array of its
#: own shape rather than a 0-d zero: see relu_forward
RELU_ZEROS_MIN = 2048
#: a float dtype's bits as integers of its width, and the mask that clears their sign bit (the
#: bit patterns relu_backward selects in)
_MAGNITUDE_BITS = {np.dtype(f): (np.dtype(i), scalar(np.iinfo(i).max, np.dtype(i)))
                   for f, i in ((np.float32, np.int32), (np.float64, np.int64),
                                (np.float16, np.int16))}


def relu_forward(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """max(x, 0) (into `out`, which may be x): NaN stays NaN, and every x <= 0 (-0.0 too) gives
    +0.0. Relu and LinearRun both call it, so their values agree bit for bit.

    >>> relu_forward(np.array([-1.0, -0.0, np.nan, 2.0], np.float32))
    array([ 0.,  0., nan,  2.], dtype=float32)
    """
    # NOTE: numpy's SIMD maximum loop needs both operands as arrays with a stride: with a 0-d
    # zero it runs an element-at-a-time loop that branches on the sign (4x slower on 128 x 256
    # float32: 12.5 us against 3.0; callgrind, 2.5 instructions an element against 0.3). A
    # fresh zeros array costs less than that from RELU_ZEROS_MIN elements up (a calloc; no
    # memory kept between calls). Both loops give the same values (NaN kept, -0.0 -> +0.0).
    dtype = x.dtype
    if dtype.kind != "f":  # (integer ReLU: numpy's promotion of a Python 0, as before)
        return np.maximum(x, 0, out=out)
    if x.size >= RELU_ZEROS_MIN and x.flags.c_contiguous:
        return np.maximum(x, np.zeros(x.shape, dtype), out=out)
    return np.maximum(x, scalar(0, dtype), out=out)


def relu_backward(g: np.ndarray, y: np.ndarray, inplace: bool) -> np.ndarray:
    """g where y = relu(x) != 0, and +0.0 where y == 0 whatever g is (an inf or NaN g too, as
    PyTorch's threshold_backward selects); g passes where y is NaN. In g when `inplace`.

    >>> relu_backward(np.array([np.inf, np.nan, 3.0]), np.array([0.0, 0.0, np.nan]), False)
    array([0., 0., 3.])
    """
    # NOTE: a select, not g * (y != 0): inf * 0 is NaN (and a numpy "invalid" warning). The
    # select works on the bit patterns, in three integer ufuncs without a branch: y's bits with
    # the sign bit cleared are 0 exactly where y == 0 (+-0.0; a NaN keeps nonzero bits), their
    # sign is 1 or 0, and g's bits times that are g's or +0.0's. About 1.3x the old
    # float-by-bool product (which was not a select). np.where and np.putmask branch on every
    # element (3-4x slower on a 50% mask of 64 x 128 or more), but below RELU_ZEROS_MIN
    # elements their one call costs less than three.
    magnitude = _MAGNITUDE_BITS.get(y.dtype)
    if magnitude is None or g.dtype != y.dtype or y.size < RELU_ZEROS_MIN:
        if inplace and g.dtype == y.dtype:
            np.putmask(g, np.equal(y, scalar(0, y.dtype)), scalar(0, g.dtype))
            return g
        return np.where(np.not_equal(y, scalar(0, y.dtype)), g, scalar(0, g.dtype))
    ints, sign_cleared = magnitude
    mask = np.bitwise_and(y.view(ints), sign_cleared)
    np.sign(mask, out=mask)
    bits = g.view(ints)
    if inplace:
        np.multiply(bits, mask, out=bits)
        return g
    return np.multiply(mask, bits, out=mask).view(g.dtype)


class Relu(Function):
    """y = max(x, 0)   |   dx = g where y != 0: 0 at 0 (the subgradient PyTorch uses, whatever
    g is there), and g at NaN (y is NaN there; PyTorch passes the gradient)"""

    overwrites_grad = True  # an owned g is masked in place (the reference's `dA *= A > 0`)

    @staticmethod
    def forward(ctx, x):
        y = relu_forward(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return relu_backward(g, ctx.saved_tensors[0], ctx.grad_owned)

    @staticmethod
    def backward_graph(ctx, g):
        return Where.apply(ctx.saved_tensors[0] != 0, g, 0.0)  # a constant select: relu'' = 0


class LeakyRelu(Function):
    """y = x if x > 0 else slope * x   |   dx = g or slope * g"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x, slope):
        ctx.slope = slope
        pos = x > 0
        ctx.save_for_backward(pos)
        return np.where(pos, x, x * slope)

    overwrites_grad = True

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved_tensors
        if ctx.grad_owned and type(ctx.slope) is float:  # (a numpy slope may widen g * slope)
            np.multiply(g, ctx.slope, out=g, where=np.logical_not(pos))
            return g, None
        return np.where(pos, g, g * ctx.slope), None

    @staticmethod
    def backward_graph(ctx, g):
        (pos,) = ctx.saved_tensors
        return Where.apply(pos, g, g * ctx.slope), None


class Tanh(Function):
    """y = tanh(x)   |   dx = g * (1 - y^2)   (reuses the output, no second tanh)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        t = y * y
        if type(t) is not np.ndarray or t.dtype != g.dtype:  # (0-d y: a numpy scalar)
            return g * (1.0 - t)
        np.subtract(scalar(1, t.dtype), t, out=t)  # 1 - y^2, then the product in this temporary
        t *= g  # t g == g t: the same roundings as g * (1 - y * y)
        return t

    @staticmethod
    def backward_graph(ctx, g):
        y = ctx.graph_output(ctx.saved_tensors[0])
        return g * (1.0 - y * y)


def stable_sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-x) (into `out`, which may be x), exact in both tails: for very negative x,
    e^-x is huge and the quotient tiny but still correctly rounded; past e^-x = inf (x < -88 in
    float32) the result is the correct limit 0. Only numpy's overflow and underflow reports need
    silencing: both are expected there, even under np.errstate(all="raise")."""
    with np.errstate(over="ignore", under="ignore"):
        if x.dtype.kind != "f" or x.ndim == 0:  # (integer input: numpy's promotion, as before)
            return 1 / (1 + np.exp(-x))
        # the same four ufuncs in one array (LinearRun's activation in place in its product)
        one = scalar(1, x.dtype)
        e = np.negative(x, out=out)
        np.exp(e, out=e)
        np.add(one, e, out=e)
        return np.divide(one, e, out=e)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)   |   dx = g * y * (1 - y)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        y = stable_sigmoid(x)
        ctx.save_for_backward(y)
        return y

    overwrites_grad = True

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        dx = g if ctx.grad_owned and g.dtype == y.dtype else None
        dx = np.multiply(g, y, out=dx)  # (g y) (1 - y): the roundings of g * y * (1 - y)
        dx *= np.subtract(scalar(1, y.dtype), y)
        return dx

    @staticmethod
    def backward_graph(ctx, g):
        y = ctx.graph_output(ctx.saved_tensors[0])
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

    @staticmethod
    def backward_graph(ctx, g):
        return g.to(ctx.dtype), None


# ---------------------------------------------------------------- more unary (PyTorch's names)


class Sin(Function):
    """y = sin(x)   |   dx = g * cos(x)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.cos(ctx.saved_tensors[0])

    @staticmethod
    def backward_graph(ctx, g):
        return g * ctx.graph_input(0, ctx.saved_tensors[0]).cos()


class Cos(Function):
    """y = cos(x)   |   dx = -g * sin(x)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        return -g * np.sin(ctx.saved_tensors[0])

    @staticmethod
    def backward_graph(ctx, g):
        return -g * ctx.graph_input(0, ctx.saved_tensors[0]).sin()


class Log1p(Function):
    """y = ln(1 + x), exact for tiny x (log(1 + x) rounds 1 + x first)   |   dx = g / (1 + x)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        return g / (1 + ctx.saved_tensors[0])

    @staticmethod
    def backward_graph(ctx, g):
        return g / (1 + ctx.graph_input(0, ctx.saved_tensors[0]))


class Expm1(Function):
    """y = e^x - 1, exact for tiny x (exp(x) - 1 cancels)   |   dx = g * (y + 1)"""

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x):
        y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] + 1)

    @staticmethod
    def backward_graph(ctx, g):
        return g * (ctx.graph_output(ctx.saved_tensors[0]) + 1)


def sign_of(x: np.ndarray) -> np.ndarray:
    """PyTorch's sign in x's dtype: 0 at NaN, and a bool tensor is its own sign."""
    return x.copy() if x.dtype == np.bool_ else sign(x, x.dtype)


class Step(Function):
    """y = floor, ceil, round, trunc or sign of x (`op` is the numpy function; round takes
    `decimals`)   |   dx = 0: the functions are piecewise constant, and PyTorch gives them a
    zero gradient (not None), so a graph through them still reaches its leaves"""

    @staticmethod
    def forward(ctx, x, op, *args):
        ctx.nargs = 2 + len(args)
        if x.dtype.kind in "biu" and op is not sign_of:  # integers are whole already: a copy
            return x.copy()
        return op(x, *args)

    @staticmethod
    def backward(ctx, g):
        return (np.zeros_like(g),) + (None,) * (ctx.nargs - 1)

    @staticmethod
    def backward_graph(ctx, g):
        return (Tensor._wrap(np.zeros_like(g._data)),) + (None,) * (ctx.nargs - 1)

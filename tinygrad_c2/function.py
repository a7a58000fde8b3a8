"""The Function mechanism and every tensor primitive: forward and backward side by side, numpy
in and numpy out. Composite operations live in tensor.py and need no backward."""

from __future__ import annotations

import itertools
import os
import sys
import time
import traceback
from typing import Any

import numpy as np

from .engine import check_finite, mode, no_grad
from .tensor import Tensor, get_default_dtype

_seq = itertools.count()
_new = object.__new__
_NO_TENSOR = np.empty(())  # stands for "the last Tensor argument" when there is none
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

#: name -> class of every built-in primitive (the op tests assert each one has a row)
PRIMITIVES: dict[str, type[Function]] = {}


class OpError(ValueError, RuntimeError):
    """Bad input to an op, with a message that names the op, the shapes and what was expected.

    PyTorch raises RuntimeError for these (bad shapes, dtypes, targets), so a PyTorch user's
    `except RuntimeError` catches it; it stays a ValueError for numpy-style code.
    """


class Function:
    """Base of every op, built-in or user-defined (PyTorch's pattern).

    Subclass it (as `tg.Function` or `tg.autograd.Function`, the same class) with static
    `forward(ctx, *args)` and `backward(ctx, grad)` and call `MyOp.apply(*args)`. Two styles:

    - Tensor style (PyTorch's custom Functions, which run unchanged): forward and backward
      take Tensors and return Tensors, written with tensor ops (`x.clamp(min=0)`); the ops
      inside record no graph, and `ctx.save_for_backward` / `ctx.saved_tensors` hold Tensors.
    - numpy style (the built-in primitives): arrays in, arrays out.

    A class whose forward or backward uses numpy (`np.exp`) is numpy style, any other Tensor
    style; set `tensor_style = True` or `False` on the class to choose. Tensor arguments
    arrive as their arrays (numpy style) or as Tensors sharing them; anything else (ints,
    axes, flags) as it is. `backward` returns one gradient per forward argument (None where
    there is none) in the shape of the output; the engine sums broadcast axes away.
    Saved values are freed after backward; keep only small scalars as ctx attributes.
    `ctx.needs_input_grad[i]` tells whether argument i wants a gradient.
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
    #: a user Function's style: True, forward and backward take and return Tensors (PyTorch's
    #: custom Functions); False, numpy arrays. Set it on the class, or it is decided when the
    #: class is made: numpy style if forward or backward uses the numpy module, else Tensors.
    tensor_style: bool | None = None
    _style_why = ""  # why a user class got its style (for the missing-method message)
    #: positions of the arguments whose dtypes combine by PyTorch's type promotion (elementwise
    #: ops); () for ops that take their inputs' dtypes as they are
    promote: tuple[int, ...] = ()
    #: True for ops whose result is floating point even for integer or bool inputs (exp, /)
    float_op: bool = False
    retained: Any = None  # the output Tensor, when it asked to retain_grad()
    created_at: str | None = None  # file:line of the user code that made it (anomaly mode)
    forward_time: float | None = None  # seconds, recorded under engine.profiling()
    backward_time: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # NOTE: the defining frame tells a class of the package's files from one a docstring
        # example defines (a doctest runs with the module's __name__ but in "<doctest ...>")
        defined_in = sys._getframe(1).f_code.co_filename
        if defined_in.startswith(_PACKAGE_DIR):
            if cls.__module__.startswith("tinygrad_c2.") and not cls.__name__.startswith("_"):
                PRIMITIVES[cls.__name__] = cls
            return  # the library's own ops are numpy style: their hot path is untouched
        style = cls.__dict__.get("tensor_style")
        cls._style_why = "its tensor_style says so" if style is not None else (
            "it uses numpy" if _uses_numpy(cls) else "it uses no numpy")
        cls.tensor_style = style = (cls._style_why != "it uses numpy") if style is None else style
        wrappers = (_tensor_forward, _tensor_backward) if style else (_numpy_op, _numpy_op)
        for name, wrapper in zip(("forward", "backward"), wrappers):  # noqa: B905
            fn = cls.__dict__.get(name)  # the class's own (an inherited one is wrapped already)
            if isinstance(fn, staticmethod):
                fn = fn.__func__
            if callable(fn) and not getattr(fn, "_tensor_wrapped", False):
                setattr(cls, name, staticmethod(wrapper(fn)))

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
        arrays, flags, i, last = list(args), [False] * len(args), 0, _NO_TENSOR
        for a in args:
            if isinstance(a, Tensor):
                arrays[i] = last = a.data
                flags[i] = a.requires_grad
            i += 1
        record = mode.grad_enabled and True in flags
        ctx.needs_input_grad = tuple(flags) if record else (False,) * i
        instrumented = mode.instrumented
        try:
            out = cls.forward(ctx, *arrays) if not instrumented else _instrumented_forward(
                cls, ctx, arrays)
            # NOTE: numpy's dtype is PyTorch's whenever the output has the dtype of the last
            # tensor input and that input is not 0-d (0-d tensors promote differently): the
            # ordinary float32-with-float32 op costs these two comparisons and nothing more.
            # Ops that do not promote (user ops, which may return lists) skip it.
            if cls.promote and (out.dtype is not last.dtype or not last.ndim):
                out = _promoted(cls, ctx, args, arrays, out)
        except OpError:
            raise
        except (ValueError, IndexError) as e:
            shapes = ", ".join(str(np.shape(a)) for a in arrays if isinstance(a, np.ndarray))
            kind = IndexError if isinstance(e, IndexError) else OpError
            raise kind(f"{cls.__name__}: {e} (input shapes: {shapes})") from None
        except TypeError as e:  # numpy's UFuncTypeError too: `tensor + "a"`, `tensor + None`
            # NOTE: numpy refuses some dtypes that PyTorch promotes first (`-x` of a bool in
            # sigmoid): one more try in PyTorch's dtype before reporting the error.
            out = _promoted(cls, ctx, args, arrays, None) if cls.promote else None
            if out is None:
                types = ", ".join(type(a).__name__ for a in args)
                raise TypeError(f"{cls.__name__}: {e} (argument types: {types})") from None
        except FloatingPointError as e:  # only under np.errstate(... "raise"): name the op
            shapes = ", ".join(str(np.shape(a)) for a in arrays if isinstance(a, np.ndarray))
            raise FloatingPointError(f"{cls.__name__}: {e} (input shapes: {shapes})") from None
        if type(out) is not np.ndarray:
            if isinstance(out, tuple):
                raise TypeError(f"{cls.__name__}.forward must return one array, got a tuple")
            out = np.asarray(out)
        if instrumented:
            if mode.anomaly:
                ctx.created_at = _user_frame()
                check_finite(ctx, (out,), "forward")
            if mode.tracer is not None:  # record every op, with where its arguments come from
                out = mode.tracer.record(cls, ctx, args, out)
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


def _uses_numpy(cls: type) -> bool:
    """True if the class's own forward or backward (or a function nested in them) names a
    global bound to numpy or to something from numpy (np, np.exp imported as exp)."""
    for name in ("forward", "backward"):
        fn = cls.__dict__.get(name)
        fn = fn.__func__ if isinstance(fn, staticmethod) else fn
        if not callable(fn) or not hasattr(fn, "__code__"):
            continue
        codes, glob = [fn.__code__], fn.__globals__
        while codes:
            code = codes.pop()
            codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
            for n in code.co_names:
                v = glob.get(n)
                if v is np or (getattr(v, "__module__", None) or "").startswith("numpy"):
                    return True
    return False


def _as_tensor(a: Any) -> Any:
    return Tensor._wrap(a) if type(a) is np.ndarray else a


def _as_array(a: Any) -> Any:
    return a.data if isinstance(a, Tensor) else a


def _explained(e: AttributeError, ctx: Function, fn: Any) -> AttributeError:
    """A method missing on what a user op's forward/backward received, with the style fix."""
    style = type(ctx).tensor_style
    got, other = ("Tensors", "False") if style else ("numpy arrays", "True")
    return AttributeError(
        f"{type(ctx).__name__}.{fn.__name__}: {e}. It receives {got} ({type(ctx)._style_why}); set "
        f"`tensor_style = {other}` on the class for the other style (see tg.Function)")


def _marked(wrapper: Any, fn: Any) -> Any:
    """wrapper, marked as the engine-facing form of the user's fn (so it is never wrapped twice)."""
    wrapper._tensor_wrapped = True
    wrapper.__wrapped__ = fn
    return wrapper


def _numpy_op(fn: Any) -> Any:
    """A numpy-style user forward or backward, whose missing-method error names the style."""

    def op(ctx: Function, *args: Any) -> Any:
        try:
            return fn(ctx, *args)
        except AttributeError as e:
            raise _explained(e, ctx, fn) from None

    return _marked(op, fn)


def _tensor_forward(fn: Any) -> Any:
    """A Tensor-style forward as the engine calls it: arrays in as Tensors (sharing memory),
    the ops inside recording no graph, the Tensor result out as its array."""

    def forward(ctx: Function, *args: Any) -> Any:
        try:
            with no_grad():
                return _as_array(fn(ctx, *[_as_tensor(a) for a in args]))
        except AttributeError as e:
            raise _explained(e, ctx, fn) from None

    return _marked(forward, fn)


def _tensor_backward(fn: Any) -> Any:
    """A Tensor-style backward as the engine calls it: the gradient in as a Tensor, each
    returned gradient out as its array (None stays None)."""

    def backward(ctx: Function, grad: np.ndarray) -> Any:
        try:
            with no_grad():
                out = fn(ctx, Tensor._wrap(grad))
        except AttributeError as e:
            raise _explained(e, ctx, fn) from None
        return tuple(_as_array(g) for g in out) if type(out) is tuple else _as_array(out)

    return _marked(backward, fn)


def _instrumented_forward(cls: type[Function], ctx: Function, arrays: list) -> Any:
    """forward under anomaly mode, profiling or a captured step's trace."""
    if mode.tracer is not None:  # a captured step's trace: forward sees plain arrays
        return mode.tracer.forward(cls, ctx, arrays)
    if mode.anomaly:  # our check after forward names the op; numpy's warning would not
        with np.errstate(all="ignore"):
            return cls.forward(ctx, *arrays)
    if mode.profiling:
        t0 = time.perf_counter()
        out = cls.forward(ctx, *arrays)
        ctx.forward_time = time.perf_counter() - t0
        return out
    return cls.forward(ctx, *arrays)


class _NonDifferentiable(Function):
    """Base of the ops without a gradient (comparisons, argmax): their outputs never require
    grad, even from inputs that do. They are primitives so that a captured step records and
    recomputes them instead of freezing their trace-time values."""

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        prev = mode.grad_enabled
        mode.grad_enabled = False  # no node, no needs_input_grad: nothing to differentiate
        try:
            return super().apply(*args)
        finally:
            mode.grad_enabled = prev

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> Any:
        raise RuntimeError(f"{type(ctx).__name__} has no gradient")


# ---------------------------------------------------------------- type promotion (PyTorch's)

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """numpy's promote_types, except that an integer or bool with a float gives the float
    (PyTorch: int64 with float32 is float32; numpy says float64).

    >>> promote_types(np.dtype(np.int64), np.dtype(np.float32))
    dtype('float32')
    """
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca != cb and max(ca, cb) == 2:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """PyTorch's rule between two priority groups: a lower group (0-d tensors, then Python
    numbers) changes the result only if it is of a higher category (bool < int < float)."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if _CATEGORY[higher.kind] >= _CATEGORY[lower.kind] and higher.kind != "b":
        return higher
    return promote_types(higher, lower)


def result_dtype(operands: Any, float_op: bool = False) -> np.dtype:
    """The dtype PyTorch gives an elementwise op of these operands.

    Dimensioned tensors (and arrays) decide; 0-d tensors only if of a higher category; Python
    and numpy scalars last, a float one counting as the default dtype. A float op (exp, /) of
    integers or bools gives the default dtype.

    >>> import tinygrad_c2 as tg
    >>> result_dtype([tg.tensor([1, 2]), 0.5]), result_dtype([tg.tensor([1.0]), np.float64(2)])
    (dtype('float32'), dtype('float32'))
    """
    groups: list[np.dtype | None] = [None, None, None]  # dimensioned, 0-d, scalars
    for x in operands:
        if isinstance(x, Tensor):
            x = x.data
        if isinstance(x, (bool, int, float, complex, np.generic)):
            dt = np.dtype(type(x)) if not isinstance(x, np.generic) else x.dtype
            if dt.kind == "f":
                dt = get_default_dtype()
            elif dt.kind in "iu":
                dt = np.dtype(np.int64)
            elif dt.kind == "c":
                dt = np.dtype(np.complex64 if get_default_dtype() == np.float32
                              else np.complex128)
            k = 2
        elif x is None:
            continue
        else:
            x = np.asarray(x)
            dt, k = x.dtype, (1 if x.ndim == 0 else 0)
            if dt.kind not in _CATEGORY:  # a string or an object: numpy reports the TypeError
                continue
        groups[k] = dt if groups[k] is None else promote_types(groups[k], dt)
    out = _combine(groups[0], _combine(groups[1], groups[2]))
    if out is None:
        out = np.dtype(np.float64)
    if float_op and out.kind not in "fc":
        out = get_default_dtype()
    return out


def _promoted(cls: type[Function], ctx: Function, args: tuple, arrays: list,
              out: Any) -> Any:
    """The slow path of apply: if numpy's dtype (out's) is not PyTorch's, run forward again on
    the operands cast to PyTorch's dtype (the promoting ops are pure, so re-running is safe).
    With out None (numpy raised TypeError), None if casting would change nothing."""
    operands = [args[i] for i in cls.promote if i < len(args)]
    if out is not None:
        # a 0-d operand among operands that all have the output's dtype: nothing to change
        same = out.dtype
        dtypes = {a.dtype for a in (x.data if isinstance(x, Tensor) else x for x in operands)
                  if isinstance(a, np.ndarray)}  # numpy scalars count as Python numbers
        if dtypes == {same} and (same.kind in "fc" or not cls.float_op):
            return out
    want = result_dtype(operands, cls.float_op)
    if out is not None and out.dtype == want:
        return out
    if out is None and not any(_needs_cast(arrays[i], want) for i in cls.promote
                               if i < len(arrays)):
        return None
    ctx.promoted_to = want  # NOTE: a captured step replays this op through forward_as too
    return forward_as(cls, ctx, arrays, want)


def _needs_cast(a: Any, want: np.dtype) -> bool:
    return isinstance(a, (np.ndarray, np.generic)) and a.dtype != want


def forward_as(cls: type[Function], ctx: Function, arrays: list, want: np.dtype) -> np.ndarray:
    """forward on the promoting operands cast to `want` (PyTorch's dtype), output in `want`."""
    cast = list(arrays)
    for i in cls.promote:
        if i < len(cast) and _needs_cast(cast[i], want):
            a = cast[i]
            # NOTE: a numpy scalar is a Python number to PyTorch; cast it too, or numpy would
            # let np.float64(2) promote a float32 array to float64 again
            cast[i] = np.asarray(a, dtype=want) if isinstance(a, np.generic) else a.astype(want)
    out = cls.forward(ctx, *cast) if not mode.instrumented else _instrumented_forward(
        cls, ctx, cast)
    # numpy may still widen (bool ** bool is int8; Python scalars alone give float64)
    return out if out.dtype == want else np.asarray(out).astype(want)


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

    promote = (0, 1)

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
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


class Compare(_NonDifferentiable):
    """y = a < b, a <= b, a > b, a >= b, a == b or a != b (op is the numpy ufunc)   |   none"""

    @staticmethod
    def forward(ctx, a, b, op):
        return op(a, b)


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
        (x,) = ctx.saved_tensors
        inside = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            inside &= x >= ctx.lo
        if ctx.hi is not None:
            inside &= x <= ctx.hi
        return g * inside, None, None


class Relu(Function):
    """y = max(x, 0)   |   dx = g where y != 0: 0 at 0 (the subgradient PyTorch uses), and g
    at NaN (y is NaN there; PyTorch passes the gradient)"""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.saved_tensors[0] != 0)


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

    @staticmethod
    def backward(ctx, g):
        (pos,) = ctx.saved_tensors
        return np.where(pos, g, g * ctx.slope), None


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
        return g * (1.0 - y * y)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), exact in both tails: for very negative x, e^-x is huge and the quotient
    tiny but still correctly rounded; past e^-x = inf (x < -88 in float32) the result is the
    correct limit 0. Only numpy's overflow and underflow reports need silencing: both are
    expected there, even under np.errstate(all="raise")."""
    with np.errstate(over="ignore", under="ignore"):
        return 1 / (1 + np.exp(-x))


class Sigmoid(Function):
    """y = 1 / (1 + e^-x)   |   dx = g * y * (1 - y)"""

    promote = (0,)
    float_op = True

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

    promote = (0,)
    float_op = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        # NOTE: shifting by the max makes every exponent <= 0, so nothing overflows; a logit
        # far below the max underflows to probability 0, the correct value (never reported).
        with np.errstate(under="ignore"):
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
    with np.errstate(under="ignore"):  # e^shifted of a far-below-max logit is 0: correct
        return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x)   |   dx = g - softmax(x) * sum(g)"""

    promote = (0,)
    float_op = True

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


class LogSumExp(Function):
    """y = m + log(sum e^(x - m)), m = max(x)   |   dx = g * e^(x - y)   (the softmax)"""

    promote = (0,)
    float_op = True  # an integer or bool input gives the default float dtype, as torch

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.dim, ctx.keepdim = dim, keepdim
        # NOTE: the shift m is computed here, from this call's data: a captured step replays it
        # (a shift computed outside a primitive would be frozen at trace time). An empty
        # reduction gives -inf, the log of an empty sum, as PyTorch.
        m = max_keepdims(x, dim) if x.size else x.max(dim, keepdims=True, initial=-np.inf)
        finite = np.isfinite(m).all()
        if not finite:
            # Rows of all -inf, or holding +inf or NaN, are shifted by 0: their sum is then 0,
            # inf or NaN, so y is -inf, +inf or NaN and e / s is e^(x - y), NaN at x = y = +-inf:
            # exactly PyTorch's values and gradients. Their divide/invalid flags are expected.
            m = np.where(np.isfinite(m), m, 0)
        # NOTE: e^(x - m) of a logit far below the max underflows to 0, the correct value.
        with np.errstate(under="ignore") if finite else np.errstate(all="ignore"):
            e = np.exp(x - m)
            s = e.sum(axis=dim, keepdims=True)
            y = np.log(s) + m
            e /= s
        ctx.save_for_backward(e)  # the softmax; backward needs nothing else
        return y if keepdim else _squeeze(y, dim)

    @staticmethod
    def backward(ctx, g):
        (p,) = ctx.saved_tensors
        if not ctx.keepdim and ctx.dim is not None:
            g = np.expand_dims(g, ctx.dim)
        return g * p, None, None


def _squeeze(y: np.ndarray, dim: Any) -> np.ndarray:
    """y (reduced with keepdims) without the reduced dims: every dim when dim is None."""
    return y.reshape(()) if dim is None else y.squeeze(dim)


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


class Std(Function):
    """y = sqrt(sum((x - mean)^2) / dof)   |   dx = g * (x - mean) / (dof * y), and 0 where
    y = 0: a constant's std has gradient 0 in PyTorch, where sqrt's chain rule gives 0/0"""

    @staticmethod
    def forward(ctx, x, dim, keepdim, dof):
        xc = x - x.mean(axis=dim, keepdims=True)
        y = np.sqrt(np.square(xc).sum(axis=dim, keepdims=True) / dof)
        ctx.dim, ctx.keepdim, ctx.dof = dim, keepdim, dof
        ctx.save_for_backward(xc, y)
        return y if keepdim else y.squeeze(axis=dim)

    @staticmethod
    def backward(ctx, g):
        xc, y = ctx.saved_tensors
        if not ctx.keepdim and ctx.dim is not None:
            g = np.expand_dims(g, ctx.dim)
        with np.errstate(divide="ignore", invalid="ignore"):  # masked just below
            scale = g / (ctx.dof * y)
        return xc * np.where(y == 0, 0, scale), None, None, None


class Max(Function):
    """y = max of x (over a dim)   |   dx = g at the arg-max (the first, and a NaN is the max);
    over all elements ties share g evenly, and if x has NaN the NaNs share it (PyTorch's rule)"""

    reduce = staticmethod(np.max)
    arg = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0:  # PyTorch's rules: over a dim of size 0 there is nothing to pick
            name = type(ctx).__name__
            if dim is None:
                raise OpError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
            if -x.ndim <= dim < x.ndim and x.shape[dim] == 0:  # apply prefixes the op's name
                raise IndexError(f"cannot reduce dim {dim} of size 0: there is no element to pick")
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        if dim is None:
            y = type(ctx).reduce(x)
            mask = np.isnan(x) if np.isnan(y) else x == y
            ctx.count = int(np.count_nonzero(mask))
            ctx.save_for_backward(mask)
            return y
        idx = type(ctx).arg(x, axis=dim, keepdims=True)
        ctx.save_for_backward(idx)
        y = np.take_along_axis(x, idx, axis=dim)
        return y if keepdim else y.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        if ctx.dim is None:
            return saved * (g / ctx.count), None, None
        out = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(out, saved, g if ctx.keepdim else np.expand_dims(g, ctx.dim), ctx.dim)
        return out, None, None


class Min(Max):
    """y = min of x (over a dim)   |   dx = g at the arg-min; ties and NaNs as in Max"""

    reduce = staticmethod(np.min)
    arg = staticmethod(np.argmin)


class ArgMax(_NonDifferentiable):
    """y = index of the largest x (over a dim)   |   none"""

    arg = staticmethod(np.argmax)

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        if x.size == 0 and (dim is None or x.shape[dim] == 0):  # max(dim) of (0, 3) over 1: empty
            raise OpError(f"{type(ctx).__name__}: cannot reduce an empty tensor of shape {x.shape}")
        return type(ctx).arg(x, axis=dim, keepdims=keepdim)


class ArgMin(ArgMax):
    """y = index of the smallest x (over a dim)   |   none"""

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


INDEX_PART = object()  # marks where split_index took an array component out of an index


def split_index(idx: Any) -> tuple[Any, list]:
    """An index with its Tensor and array components taken out (INDEX_PART marks each place).

    Index receives them as arguments of their own, so a captured step records where each
    comes from (labels `y` in `x[tg.arange(n), y]` are recomputed, not frozen into the op).
    """
    if isinstance(idx, (Tensor, np.ndarray)):
        return INDEX_PART, [idx]
    if isinstance(idx, tuple):
        parts = [i for i in idx if isinstance(i, (Tensor, np.ndarray))]
        if parts:
            return tuple(INDEX_PART if isinstance(i, (Tensor, np.ndarray)) else i
                         for i in idx), parts
    return idx, []


class Index(Function):
    """y = x[idx]   |   dx = zeros with g scattered back; repeated integer indices accumulate

    `parts` are the index's array components (see split_index), in the order of INDEX_PART.
    """

    @staticmethod
    def forward(ctx, x, idx, *parts):
        if parts:
            if idx is INDEX_PART:
                idx = parts[0]
            else:
                it = iter(parts)
                idx = tuple(next(it) if i is INDEX_PART else i for i in idx)
            # NOTE: a boolean mask's values decide the output's shape (a captured step refuses
            # to trace that when the mask comes from the step's data).
            ctx.data_dependent_shape = tuple(2 + k for k, p in enumerate(parts)
                                             if p.dtype == np.bool_)
        ctx.shape, ctx.nparts = x.shape, len(parts)
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
        return (out, None) + (None,) * ctx.nparts


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

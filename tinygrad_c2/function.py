"""The Function mechanism: graph recording, dtype promotion, saved-input release, PRIMITIVES.

The primitives themselves live in ops/, one family a file; composites live in tensor.py and
need no backward."""

from __future__ import annotations

import itertools
import os
import sys
import time
import traceback
from typing import Any

import numpy as np

from .engine import check_finite, mode, no_grad

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

    A class whose forward or backward uses numpy (`np.exp`) is numpy style, unless it also
    converts Tensors itself (`.numpy()`, `.detach()`, `from_numpy`: PyTorch's way of calling
    numpy from a Function); any other is Tensor style. Set `tensor_style = True` or `False`
    on the class to choose. Tensor arguments
    arrive as their arrays (numpy style) or as Tensors sharing them; anything else (ints,
    axes, flags) as it is. `backward` returns one gradient per forward argument (None where
    there is none) in the shape of the output; the engine sums broadcast axes away.
    Saved values are freed after backward; keep only small scalars as ctx attributes.
    `ctx.needs_input_grad[i]` tells whether argument i wants a gradient.
    The instance `ctx` is also the graph node: `tensor.grad_fn`. NOTE: backward must not
    modify `grad` in place (the engine may hand the same array to several consumers), unless
    the class sets `overwrites_grad = True` and `ctx.grad_owned` is True (see below).

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
    #: True for ops whose output may share its input's memory (reshape, permute, expand, basic
    #: indexing): the version check refuses a backward through one whose input an in-place op
    #: rebased afterwards, since the view's values changed with it
    returns_view: bool = False
    #: the positions of the constant Tensor inputs (the batch, labels, a buffer) of RELEASE_BYTES
    #: or more, whose values the engine releases after backward (released_inputs); () for none
    holds_constants: tuple[int, ...] = ()
    retained: Any = None  # the output Tensor, when it asked to retain_grad()
    #: Gradient ownership, so a chain of backwards can work in place instead of allocating:
    #: `fresh_grads = True` declares that backward returns new arrays, aliasing neither its
    #: grad, its saved arrays nor each other; `overwrites_grad = True` declares that backward
    #: writes into its incoming grad when `ctx.grad_owned` is True, which the engine (and a
    #: captured replay) sets only for an array nobody else holds: one the sweep made itself, or
    #: a fresh_grads backward's result handed to this node alone.
    fresh_grads: bool = False
    overwrites_grad: bool = False
    grad_owned: bool = False
    #: The saved arrays' last use: `reuses_saved = True` declares that backward may overwrite
    #: arrays it saved itself (never an input or output) when `ctx.saved_last_use` is True,
    #: which the engine sets just before calling it in a sweep that frees the graph afterwards
    #: (not retain_graph, not create_graph), and a captured replay for its one backward call.
    reuses_saved: bool = False
    saved_last_use: bool = False
    created_at: str | None = None  # file:line of the user code that made it (anomaly mode)
    forward_time: float | None = None  # seconds, recorded under engine.profiling()
    backward_time: float | None = None
    #: the differentiable backward, `backward_graph(ctx, grad: Tensor)`: backward written with
    #: Tensor ops (which record a graph), run instead of `backward` under create_graph=True so
    #: the gradients can be differentiated again. It builds Tensors for what it saved with
    #: ctx.graph_input / ctx.graph_output. None: the op cannot be differentiated twice.
    backward_graph: Any = None

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
        cls._style_why = "its tensor_style says so" if style is not None else _style_why(cls)
        cls.tensor_style = style = (cls._style_why != "it uses numpy") if style is None else style
        wrappers = (_tensor_forward, _tensor_backward) if style else (_numpy_op, _numpy_op)
        own_backward = cls.__dict__.get("backward")
        if style and own_backward is not None and "backward_graph" not in cls.__dict__:
            # a Tensor-style backward is made of Tensor ops: run with grad mode on, it is its
            # own differentiable form (PyTorch's custom Functions work the same way)
            fn = own_backward.__func__ if isinstance(own_backward, staticmethod) else own_backward
            cls.backward_graph = staticmethod(_tensor_backward_graph(fn))
        for name, wrapper in zip(("forward", "backward"), wrappers):  # noqa: B905
            fn = cls.__dict__.get(name)  # the class's own (an inherited one is wrapped already)
            if isinstance(fn, staticmethod):
                fn = fn.__func__
            if callable(fn) and not getattr(fn, "_tensor_wrapped", False):
                setattr(cls, name, staticmethod(wrapper(fn)))

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; they are released after the first backward pass."""
        self.saved_tensors = arrays

    def graph_input(self, i: int, saved: Any = None) -> Any:
        """Forward argument i as a Tensor that carries its graph, for backward_graph: the input
        itself, or (when the node no longer holds its values) a Tensor around `saved`, the
        array this op saved of it, with the input's producer, so gradients reach the input.
        Non-Tensor arguments (Python numbers, axes) come back as they are."""
        p = self.parents[i]
        if not isinstance(p, Tensor):
            return p
        if saved is None or p._data is saved or (p.grad_fn is None and p.requires_grad):
            return p  # NOTE: a leaf that wants a gradient must be the leaf itself
        t = _new(Tensor)
        t._data = saved
        t.grad = None
        t.grad_fn = p.grad_fn
        t.requires_grad = p.requires_grad
        return t

    def graph_output(self, saved: np.ndarray) -> Tensor:
        """This op's output as a Tensor that carries the graph (its producer is this node),
        around `saved`, the output array the op saved: for backward_graph of ops whose
        gradient is written with their output (exp, tanh, sigmoid)."""
        t = _new(Tensor)
        # NOTE: numpy gives a 0-d result as a numpy scalar (np.tanh of a 0-d array), which as
        # a Tensor's data would promote like a Python number (to float32): an array again
        t._data = np.asarray(saved)
        t.grad = None
        t.grad_fn = self
        t.requires_grad = True
        return t

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
        # (single assignments: four targets at once would build and unpack a tuple)
        arrays = list(args)
        flags = [False] * len(args)
        i = 0
        last = _NO_TENSOR
        # The node holds an input another op made as a stand-in: a Tensor with that input's
        # producer (grad_fn), shape and dtype whose values are read-only zeros using no memory
        # (function._stand_in_array). The sweep needs the producer (where the gradient goes)
        # and the shape (undoing broadcasting), a graph walk (viz, capture) the same; what
        # backward needs of the values is in saved_tensors, so holding them too would double
        # the graph's memory (a ReLU would keep its Linear's output alive). PyTorch's nodes
        # likewise hold edges to their producers, not values. NOTE: a stand-in carries the
        # grad_fn of this moment, so an in-place op on the input afterwards (which gives it a
        # new grad_fn) does not change where this node's gradient goes. A view op holds its
        # inputs as they are, for the version check (engine._check_versions).
        grad_enabled = mode.grad_enabled
        parents = args
        held = grad_enabled and not cls.returns_view
        record = False
        constants = ()
        for a in args:
            if isinstance(a, Tensor):
                arrays[i] = last = a._data
                if a.requires_grad:
                    flags[i] = record = True
                    node = a.grad_fn
                    if node is not None and held:
                        if parents is args:
                            parents = list(args)
                        if i and a is args[i - 1]:  # `x * x`: one tensor stays one in the graph
                            parents[i] = parents[i - 1]
                        else:
                            view = _by_shape.get(last.shape)
                            if view is None or view.dtype is not last.dtype:
                                view = _stand_in_array(last)
                            stand_in = parents[i] = _new(Tensor)
                            stand_in._data, stand_in.grad, stand_in.grad_fn = view, None, node
                            stand_in.requires_grad = True
                elif last.nbytes >= RELEASE_BYTES:  # a constant worth releasing after backward
                    constants = (*constants, i)
            i += 1
        record = record and grad_enabled
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
        ctx.parents = parents if parents is args else tuple(parents)
        if constants:  # the engine releases their values after backward (released_inputs)
            # NOTE: sized now, not at backward: a node whose constants are all small (a tiny
            # model's batch and labels) costs the sweep nothing. A constant whose array is
            # replaced by a larger one before backward stays held, which costs memory only.
            ctx.holds_constants = constants
        ctx.seq = next(_seq)
        t = _new(Tensor)  # Tensor._from_op, inlined: this is the hottest line of the library
        # NOTE: four stores, not `t._data, t.grad, ... = out, None, ...`: an assignment to four
        # targets builds and unpacks a tuple (~300 instructions; to two or three it does not)
        t._data = out
        t.grad = None
        t.requires_grad = True
        t.grad_fn = ctx
        return t

    def name(self) -> str:
        """The op's name, as PyTorch's grad_fn.name()."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


# Names only a Function taking Tensors uses: it converts to numpy and back itself (PyTorch's
# numpy-extension pattern), so it is Tensor style even though it calls numpy.
_CONVERTS = frozenset({"numpy", "detach", "from_numpy"})


def _style_why(cls: type) -> str:
    """Why the class is numpy style ("it uses numpy": its own forward or backward, or a
    function nested in them, names a global bound to numpy or to something from numpy) or
    Tensor style (it uses no numpy, or it converts Tensors to numpy and back itself)."""
    uses_numpy = False
    for name in ("forward", "backward"):
        fn = cls.__dict__.get(name)
        fn = fn.__func__ if isinstance(fn, staticmethod) else fn
        if not callable(fn) or not hasattr(fn, "__code__"):
            continue
        codes, glob = [fn.__code__], fn.__globals__
        while codes:
            code = codes.pop()
            codes.extend(c for c in code.co_consts if hasattr(c, "co_names"))
            if _CONVERTS.intersection(code.co_names):
                return "it converts Tensors to numpy and back itself"
            for n in code.co_names:
                v = glob.get(n)
                if v is np or (getattr(v, "__module__", None) or "").startswith("numpy"):
                    uses_numpy = True
    return "it uses numpy" if uses_numpy else "it uses no numpy"


def _as_tensor(a: Any) -> Any:
    return Tensor._wrap(a) if type(a) is np.ndarray else a


def _as_array(a: Any) -> Any:
    return a._data if isinstance(a, Tensor) else a


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
                out = _as_array(fn(ctx, *[_as_tensor(a) for a in args]))
        except AttributeError as e:
            raise _explained(e, ctx, fn) from None
        # which saved arrays are the inputs and the output, for backward_graph (the arrays are
        # alive together here, so their ids cannot collide)
        ctx._graph_ids = ([id(a) for a in args], id(out))
        return out

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


def _tensor_backward_graph(fn: Any) -> Any:
    """A Tensor-style backward as its own differentiable form (create_graph=True): the saved
    Tensors that are the op's inputs or output are swapped for Tensors carrying their graph
    while it runs, so the gradient it returns records how it depends on them. Other saved
    Tensors (computed inside forward) are constants, as in PyTorch."""

    def backward_graph(ctx: Function, grad: Tensor) -> Any:
        saved = ctx.saved_tensors
        ids = getattr(ctx, "_graph_ids", None) or ((), None)
        linked = []
        for s in saved:
            a = s._data if isinstance(s, Tensor) else None
            if a is not None and id(a) in ids[0]:
                s = ctx.graph_input(ids[0].index(id(a)), a)
            elif a is not None and id(a) == ids[1]:
                s = ctx.graph_output(a)
            linked.append(s)
        ctx.saved_tensors = tuple(linked)
        try:
            return fn(ctx, grad)
        except AttributeError as e:
            raise _explained(e, ctx, fn) from None
        finally:
            ctx.saved_tensors = saved

    return _marked(backward_graph, fn)


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
            x = x._data
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
        dtypes = {a.dtype for a in (x._data if isinstance(x, Tensor) else x for x in operands)
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


# dtype.str -> the one read-only 0-d zero that every stand-in array of that dtype views: the
# memory of all stand-ins is one element a dtype
_NO_VALUES: dict[str, np.ndarray] = {}
# NOTE: a stand-in costs about a microsecond; an op on an array this large costs far more, and
# smaller arrays are not worth releasing (a kept graph of 100 nodes holds at most 1.6 MB).
RELEASE_BYTES = 16 * 1024
_shape_only: dict[tuple, np.ndarray] = {}  # (shape, dtype.str) -> a stand-in array, reused
_by_shape: dict[tuple, np.ndarray] = {}  # shape -> the latest stand-in array of that shape


def values_free(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A read-only array of `shape` and `dtype` that holds no memory (every stride 0): what
    stands for a value of which only the shape and dtype are read (stand-ins, tg.viz)."""
    if len(_shape_only) > 4096:  # bounded: about one entry per shape the program uses
        _shape_only.clear()
        _by_shape.clear()
    key = (shape, dtype.str)  # NOTE: .str: comparing dtypes is slow
    view = _shape_only.get(key)
    if view is None:
        zero = _NO_VALUES.get(dtype.str)
        if zero is None:
            zero = _NO_VALUES[dtype.str] = np.zeros((), dtype)
            zero.flags.writeable = False
        view = np.ndarray(shape, dtype, buffer=zero, strides=(0,) * len(shape))
        _shape_only[key] = view
    return view


def _stand_in_array(a: np.ndarray) -> np.ndarray:
    """A read-only array of a's shape and dtype that holds no memory (values_free), remembered
    for Function.apply's fast lookup by shape."""
    view = _by_shape[a.shape] = values_free(a.shape, a.dtype)  # no dtype in that key
    return view


def released_inputs(parents: tuple, positions: tuple[int, ...],
                    cache: dict[int, Tensor]) -> tuple:
    """A node's constant inputs (tensors that neither want a gradient nor have a producer: the
    batch, labels, buffers) after a backward without retain_graph freed it. Until then they
    stay as they are, so that tg.viz can name them; from then on each one of RELEASE_BYTES or
    more becomes a stand-in, so a kept `loss` no longer keeps the batch alive.
    `positions` are those inputs' places (the node's holds_constants, found by
    Function.apply: the parameters among the inputs are not looked at again).
    `cache` maps a tensor's id to its stand-in during one backward, so a tensor used twice
    stays one tensor in the graph.
    """
    out = None
    for i in positions:
        p = parents[i]
        # NOTE: tested again: the input may want a gradient now, or hold another array
        if type(p) is Tensor and p.grad_fn is None and not p.requires_grad:
            data = p._data
            if data.nbytes >= RELEASE_BYTES:
                stand_in = cache.get(id(p))
                if stand_in is None:
                    stand_in = cache[id(p)] = _new(Tensor)
                    stand_in._data, stand_in.grad = _stand_in_array(data), None
                    stand_in.requires_grad, stand_in.grad_fn = False, None
                if out is None:
                    out = list(parents)
                out[i] = stand_in
    return parents if out is None else tuple(out)


def _user_frame() -> str:
    """file:line of the innermost caller outside this package (for anomaly messages)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} ({frame.line})"
    return "inside tinygrad_c2"


# NOTE: imported last: tensor.py loads ops/ at its end, and every family imports names defined
# above, so this module must be complete before tensor.py runs (whichever of the two loads first).
from .tensor import Tensor, get_default_dtype  # noqa: E402

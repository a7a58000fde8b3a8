"""Tensor: the data, its gradient, its place in the graph, the operators and the composite
methods. No derivatives here: every method is a primitive from ops/ or built from them."""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _missing, engine
from . import device as _device
from . import rng as _rng

float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64

_default_dtype = np.dtype(np.float32)
# NOTE: tg.half / tg.float16 exist as names (to compare dtypes with), but no tensor holds them:
# the ops, promotion and gradients are neither written nor tested for float16, so it is refused
# rather than half working. One check where arrays become tensors, one in astype.
HALF_UNSUPPORTED = ("float16 (half) is not supported: tinygrad_c2 computes in float32 or "
                    "float64; use tg.float32 (or .float()) instead")

Axes = int | Sequence[int] | None
MaxResult = namedtuple("MaxResult", ["values", "indices"])  # PyTorch's torch.return_types.max


def set_default_dtype(dtype: Any) -> None:
    """Choose the dtype that Python floats and lists become (float32 unless told otherwise).

    >>> import tinygrad_c2 as tg
    >>> tg.set_default_dtype("float64"); tg.tensor([1.0]).dtype
    dtype('float64')
    >>> tg.set_default_dtype(tg.float32)
    """
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The dtype Python floats and lists become."""
    return _default_dtype


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """The dtype policy: arrays keep theirs (no copy); Python floats take the default dtype."""
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.asarray(data)
        except ValueError:
            raise ValueError(f"Tensor: cannot make a tensor from this {type(data).__name__}: "
                             "nested lists must be rectangular (every row the same length) "
                             "and hold numbers") from None
        if arr.dtype == np.float64 and dtype is None and not isinstance(data, np.generic):
            arr = arr.astype(_default_dtype)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"Tensor: cannot make a tensor from {type(data).__name__} "
                            "(expected numbers, nested lists of numbers or a numpy array)")
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if arr.dtype == np.float16:
        raise TypeError(HALF_UNSUPPORTED)
    return arr


def _is_int(v: Any) -> bool:
    """A Python or numpy integer, not a bool (PyTorch refuses `dim=True` and `zeros(True)`)."""
    return type(v) is int or isinstance(v, np.integer)


def _axes(dim: Axes, axis: Axes, name: str, ndim: int) -> int | tuple[int, ...] | None:
    """PyTorch's dim (or numpy's axis alias) as numpy takes it. None means every dim, as do an
    empty tuple and dim 0 / -1 of a 0-d tensor (PyTorch's rules); range errors are the caller's.
    """
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: give dim or axis, not both")
        dim = axis
    if dim is None:
        return None
    if _is_int(dim):
        return None if ndim == 0 and dim in (0, -1) else dim
    if isinstance(dim, (tuple, list)) and all(_is_int(d) for d in dim):
        if not dim or (ndim == 0 and all(d in (0, -1) for d in dim)):
            return None
        return tuple(dim)
    raise TypeError(f"{name}: dim must be an int or a tuple of ints, got {dim!r}")


def _keep(keepdim: bool, keepdims: bool | None) -> bool:
    return keepdim if keepdims is None else keepdims


_TO_FORMS = ("expected to(device=None, dtype=None, non_blocking=False, copy=False), "
             "to(dtype, non_blocking=False, copy=False) or to(tensor, non_blocking=False, "
             "copy=False)")


def _to_args(args: tuple, kwargs: dict, name: str) -> tuple[Any, bool]:
    """PyTorch's `.to(...)` arguments as (dtype or None, copy); a device must mean the CPU.

    A string in the first place is a device when it names a device type ("cpu", "cuda:0"),
    otherwise a dtype name ("float64"); a Tensor there gives its dtype.
    """
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{name}: unexpected keyword {sorted(unknown)[0]!r}; {_TO_FORMS}")
    args = list(args)
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    flags = []
    if args and isinstance(args[0], Tensor):
        dtype = args.pop(0)._data.dtype
    else:
        if args and _device.is_device(args[0]):
            device = args.pop(0)
        if args and not isinstance(args[0], bool):
            dtype = args.pop(0)
    for arg in args:
        if not isinstance(arg, bool):
            raise TypeError(f"{name}: unexpected argument {arg!r}; {_TO_FORMS}")
        flags.append(arg)
    if len(flags) > 2:
        raise TypeError(f"{name}: too many arguments; {_TO_FORMS}")
    copy = kwargs.get("copy", flags[1] if len(flags) > 1 else False)
    # NOTE: as torch: "cpu:0" is not the tensors' device (device("cpu"), index None), so
    # to("cpu:0") copies while to("cpu") returns self.
    copy = bool(copy) or _device.check(device, name).index is not None
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{name}: expected a device ('cpu') or a dtype, got {dtype!r}; "
                            f"{_TO_FORMS}") from None
    return dtype, copy


class Tensor:
    """An n-dimensional array that remembers how it was computed, for reverse-mode autodiff.

    >>> import tinygrad_c2 as tg
    >>> w = tg.tensor([[1.0, 2.0]], requires_grad=True)
    >>> loss = (w @ tg.tensor([[3.0], [4.0]])).sum()
    >>> loss.backward(); w.grad
    tensor([[3., 4.]])
    """

    # NOTE: `_rebases` is set only on a tensor an in-place op gave a new grad_fn while recording:
    # [(stamp, the grad_fn before, requires_grad before, op name)], read by the version check.
    __slots__ = ("_data", "grad", "requires_grad", "grad_fn", "_rebases", "__weakref__")
    # NOTE: makes numpy defer `array + tensor` to Tensor.__radd__ instead of looping over us.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(arr: np.ndarray) -> Tensor:
        """A constant Tensor around an array, skipping all validation (internal hot path)."""
        t = object.__new__(Tensor)  # NOTE: four stores: see the end of Function.apply
        t._data = arr
        t.grad = None
        t.requires_grad = False
        t.grad_fn = None
        return t

    @staticmethod
    def _from_op(arr: np.ndarray, node: Any) -> Tensor:
        t = object.__new__(Tensor)
        t._data = arr
        t.grad = None
        t.requires_grad = True
        t.grad_fn = node
        return t

    # ------------------------------------------------------------ attributes

    # NOTE: the library reads and writes the raw array through the `_data` slot; `.data` is
    # PyTorch's public face of it (the hot path never pays for the property).
    @property
    def data(self) -> Tensor:
        """PyTorch's `.data`: a new Tensor sharing this one's array that records no graph and
        does not require grad (`p.data.add_(...)`, `w.data -= lr * w.grad.data`). Unlike
        PyTorch's, a write through it counts for the version check (as `detach()`'s does).

        >>> import tinygrad_c2 as tg
        >>> w = tg.ones(2, requires_grad=True)
        >>> _ = w.data.mul_(3); w.data.requires_grad, w
        (False, tensor([3., 3.], requires_grad=True))
        """
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        """Replace the array (no copy) by an array or a Tensor's: any shape or dtype, as torch."""
        if isinstance(value, Tensor):
            value = value._data
        if not isinstance(value, np.ndarray):
            raise TypeError(f"Tensor.data: expected a Tensor or a numpy array, got "
                            f"{type(value).__name__}")
        self._data = value

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """np.asarray(t): the array itself (shared), as torch's tensors give numpy theirs."""
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:  # noqa: N802 (PyTorch's name)
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __repr__(self) -> str:
        # NOTE: np.asarray: a captured step's traced array prints as a plain one
        body = np.array2string(np.asarray(self._data), separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype not in (_default_dtype, np.int64, np.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    # ------------------------------------------------------------ conversion and grad state

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._data

    def item(self) -> float | int | bool:
        if self._data.size != 1:
            raise ops.OpError(f"item: only a one-element tensor converts to a Python number, "
                             f"this one has shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ops.OpError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() / .all() on .data")
        return bool(self._data.item())

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating-point tensors can require gradients, "
                            f"this one is {self._data.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep .grad on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self.grad_fn is not None:
            self.grad_fn.retained = self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: Any = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad, then free the graph.

        `gradient` is required when self is not a scalar (a vector-Jacobian product). With
        `create_graph=True` the .grad Tensors get a graph of their own (higher-order
        gradients; the graph is then kept unless retain_graph=False); with `inputs`, only
        those tensors' .grad are filled (tg.autograd.backward).
        """
        if create_graph or inputs is not None:
            from . import autograd

            autograd.backward(self, gradient, retain_graph, create_graph, inputs)
            return
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(did you call it under no_grad, or on detached data?)")
        data = self._data
        if gradient is None and not data.ndim:  # the usual 0-d loss: _seed's first case inline
            seed = np.array(1, dtype=data.dtype)
        else:
            seed = self._seed(gradient, "backward", "a gradient argument")
        if self.grad_fn is None:
            engine._accumulate(self, seed, copy=True)
        else:
            # the ones made here are the sweep's own; a user's `gradient` never is
            engine.backward(self, seed, retain_graph, gradient is None)

    def _seed(self, gradient: Any, who: str, what: str) -> np.ndarray:
        """The array a backward from self starts with: ones for a scalar, else `gradient`
        checked against self's shape (`who` and `what` name the call and the argument)."""
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"{who}: {what} is needed for a non-scalar output of shape "
                                   f"{self.shape}")
            data = self._data
            # NOTE: np.array, not np.ones, for the usual 0-d loss: a third of the cost
            return np.array(1, dtype=data.dtype) if not data.ndim else np.ones(data.shape,
                                                                               dtype=data.dtype)
        try:
            seed = _as_array(gradient, self._data.dtype)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{who}: gradient must be numbers shaped like the output "
                            f"{self.shape}, got {type(gradient).__name__} ({e})") from None
        if seed.shape != self._data.shape:
            raise ops.OpError(f"{who}: gradient has shape {seed.shape} but the output has shape "
                              f"{self.shape}")
        return seed

    def astype(self, dtype: Any) -> Tensor:
        """A cast (self when the dtype already matches): differentiable to a float dtype; to an
        integer or bool dtype the result is a constant that does not require grad, as in
        PyTorch (a rounded or thresholded value has no useful gradient).

        >>> import tinygrad_c2 as tg
        >>> x = tg.tensor([1.7], requires_grad=True)
        >>> x.double().requires_grad, x.long().requires_grad
        (True, False)
        """
        dt = np.dtype(dtype)
        if dt == self._data.dtype:
            return self
        if dt == np.float16:
            raise TypeError(HALF_UNSUPPORTED)
        if dt.kind not in "fc":
            return Tensor._wrap(self._data.astype(dt))
        return ops.Cast.apply(self, dt)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """int64, truncated toward zero; no gradient."""
        return self.astype(np.int64)

    def int(self) -> Tensor:
        """int32, truncated toward zero; no gradient."""
        return self.astype(np.int32)

    def bool(self) -> Tensor:
        """True where nonzero; no gradient."""
        return self.astype(np.bool_)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's forms: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(other)` (its
        dtype), with `non_blocking=` (ignored) and `copy=`. The device can only be the CPU.
        Self when nothing changes, as in PyTorch; a dtype change is `astype`'s cast.

        >>> import tinygrad_c2 as tg
        >>> x = tg.ones(2)
        >>> x.to("cpu") is x, x.to("cpu", tg.float64).dtype, x.to(x, copy=True) is x
        (True, dtype('float64'), False)
        """
        dtype, copy = _to_args(args, kwargs, "Tensor.to")
        dt = self._data.dtype if dtype is None else np.dtype(dtype)
        if dt != self._data.dtype:
            return self.astype(dt)
        if not copy:
            return self
        if dt.kind in "fc" and self.requires_grad:
            return ops.Cast.apply(self, dt)  # a copy that passes the gradient back, as torch's
        return Tensor._wrap(self._data.copy())

    def cpu(self) -> Tensor:
        """Self: every tensor is on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError(f"Tensor.cuda: {_device.CPU_ONLY}")

    @property
    def device(self) -> _device.device:
        """`tg.device("cpu")`, the same instance for every tensor."""
        return _device.CPU

    @property
    def is_cuda(self) -> bool:
        return False

    # ------------------------------------------------------------ operators

    def __add__(self, other: Any) -> Tensor:
        return ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.Pow.apply(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.MatMul.apply(other, self)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def _compare(self, other: Any, op: np.ufunc) -> Tensor:
        return ops.Compare.apply(self, other, op)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    __hash__ = object.__hash__  # identity, as PyTorch: tensors can key dicts and sets

    # ------------------------------------------------------------ in-place
    # PyTorch's `_` methods: each writes its result into this tensor's array (every view and
    # `.data` sees it) and returns self. The value is the out-of-place op's (one definition per
    # op). Recording a graph, the op is recorded out of place on a copy of the old value and
    # self takes the new grad_fn ("rebase"); the engine routes earlier users of self to the old
    # one and refuses a backward through a node that saved memory modified since.

    def _inplace(self, name: str, compute: Any, *others: Any, cast: bool = False) -> Tensor:
        """Write compute(old value) into self's array; `cast`: any dtype converts (copy_,
        fill_), else the result must be castable to self's dtype by PyTorch's rule."""
        if engine.mode.tracer is not None:
            from .capture import CaptureError

            raise CaptureError(f"capture: {name} (an in-place op) inside a captured step: a "
                               "replay would not repeat the write. Use the out-of-place op, "
                               "or run this step eagerly")
        data = self._data
        recording = engine.mode.grad_enabled and (self.requires_grad or any(
            isinstance(o, Tensor) and o.requires_grad for o in others))
        if recording and self.grad_fn is None and self.requires_grad:
            raise RuntimeError(f"{name}: a leaf Variable that requires grad is being used in an "
                               "in-place operation. Do it under tg.no_grad() or on .data")
        if not data.flags.writeable:
            if any(st == 0 and n > 1 for st, n in zip(data.strides, data.shape)):  # noqa: B905
                raise RuntimeError(f"{name}: unsupported operation: more than one element of "
                                   "the written-to tensor refers to a single memory location "
                                   "(an expand()); clone() the tensor first")
            raise RuntimeError(f"{name}: this tensor's array is read-only")
        if recording and data.base is not None:
            # NOTE: PyTorch rewrites the history of the base and of every other view; here the
            # other tensors sharing this memory would keep a graph that no longer fits.
            raise RuntimeError(f"{name}: in-place op recording a graph on a tensor whose array "
                               "is a view of another's (reshape, transpose, indexing, expand, "
                               "detach): the tensors sharing its memory would get wrong "
                               "gradients. Use the out-of-place op, or clone() first")
        old = self
        if recording:  # the old value as its own tensor: what the recorded op reads and saves
            old = object.__new__(Tensor)
            old._data, old.grad, old.grad_fn = data.copy(), None, self.grad_fn
            old.requires_grad = self.requires_grad
        result = compute(old)
        out = result._data
        if out.shape != data.shape:
            want = ", ".join(map(str, out.shape))
            raise ops.OpError(f"{name}: output with shape [{', '.join(map(str, data.shape))}] "
                              f"doesn't match the broadcast shape [{want}]")
        if out.dtype != data.dtype:
            if not cast and not _can_cast(out.dtype, data.dtype):
                raise ops.OpError(f"{name}: result type {_torch_name(out.dtype)} can't be cast "
                                  f"to the desired output type {_torch_name(data.dtype)}")
            if recording:
                result = result.astype(data.dtype)  # differentiable to a float dtype
        np.copyto(data, out, casting="unsafe")
        stamp = next(_function._seq)
        if recording:
            history = getattr(self, "_rebases", None)
            if history is None:
                history = self._rebases = []
            history.append((stamp, self.grad_fn, self.requires_grad, name))
            self.grad_fn, self.requires_grad = result.grad_fn, result.requires_grad
        engine.mark_modified(data, name, stamp)
        return self

    def add_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """self += alpha * other, in place."""
        return self._inplace("add_", lambda t: t + (other if alpha == 1 else other * alpha),
                             other)

    def sub_(self, other: Any, *, alpha: Any = 1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._inplace("sub_", lambda t: t - (other if alpha == 1 else other * alpha),
                             other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", lambda t: t * other, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", lambda t: t / other, other)

    def pow_(self, exponent: Any) -> Tensor:
        return self._inplace("pow_", lambda t: t ** exponent, exponent)

    def neg_(self) -> Tensor:
        return self._inplace("neg_", lambda t: -t)

    def exp_(self) -> Tensor:
        return self._inplace("exp_", lambda t: t.exp())

    def log_(self) -> Tensor:
        return self._inplace("log_", lambda t: t.log())

    def sqrt_(self) -> Tensor:
        return self._inplace("sqrt_", lambda t: t.sqrt())

    def abs_(self) -> Tensor:
        return self._inplace("abs_", lambda t: t.abs())

    def relu_(self) -> Tensor:
        return self._inplace("relu_", lambda t: t.relu())

    def tanh_(self) -> Tensor:
        return self._inplace("tanh_", lambda t: t.tanh())

    def sigmoid_(self) -> Tensor:
        return self._inplace("sigmoid_", lambda t: t.sigmoid())

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return self._inplace("clamp_", lambda t: t.clamp(min, max))

    clip_ = clamp_

    def copy_(self, src: Any, non_blocking: bool = False) -> Tensor:
        """Copy src's values (broadcast to self's shape, cast to self's dtype) into self; the
        gradient flows to src, none to the old value."""
        if not isinstance(src, Tensor):
            src = Tensor(src)
        shape = self._data.shape
        return self._inplace("copy_", lambda t: ops.Where.apply(_FALSE, t, src.expand(shape)),
                             src, cast=True)

    def fill_(self, value: Any) -> Tensor:
        """Every element = value (a number or a 0-d tensor); the old value gets no gradient."""
        return self._filled("fill_", value)

    def zero_(self) -> Tensor:
        return self._filled("zero_", 0)

    def _filled(self, name: str, value: Any) -> Tensor:
        return self._inplace(name, lambda t: ops.Where.apply(_FALSE, t, value), value, cast=True)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with N(mean, std^2) draws from the library's generator (see tg.manual_seed),
        or from `generator` (a tg.Generator or numpy Generator)."""
        return self._fill_random("normal_", lambda g, dt: g.standard_normal(self.shape, dt)
                                 * dt.type(std) + dt.type(mean), generator)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with U(a, b) draws from the library's generator (or `generator`)."""
        return self._fill_random("uniform_", lambda g, dt: g.random(self.shape, dt)
                                 * dt.type(b - a) + dt.type(a), generator)

    def _fill_random(self, name: str, draw: Any, generator: Any) -> Tensor:
        dt = self._data.dtype
        if dt.kind != "f":
            raise TypeError(f"{name} expects a floating-point tensor, got {dt}")
        gen = _rng.generator() if generator is None else getattr(generator, "numpy_generator",
                                                                  generator)
        return self._inplace(name, lambda t: ops.Where.apply(_FALSE, t, draw(gen, dt)))

    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    # ------------------------------------------------------------ elementwise

    def exp(self) -> Tensor:
        return ops.Exp.apply(self)

    def log(self) -> Tensor:
        return ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ops.Abs.apply(self)

    def pow(self, exponent: Any) -> Tensor:
        return ops.Pow.apply(self, exponent)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return ops.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return ops.Maximum.apply(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.Minimum.apply(self, other)

    def relu(self) -> Tensor:
        return ops.Relu.apply(self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        return ops.LeakyRelu.apply(self, negative_slope)

    def tanh(self) -> Tensor:
        return ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ops.Sigmoid.apply(self)

    def softmax(self, dim: int) -> Tensor:
        return ops.Softmax.apply(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return ops.LogSoftmax.apply(self, dim)

    # ------------------------------------------------------------ reductions

    def sum(self, dim: Axes = None, keepdim: bool = False, *, axis: Axes = None,
            keepdims: bool | None = None) -> Tensor:
        dims = _axes(dim, axis, "sum", self._data.ndim)
        return ops.Sum.apply(self, dims, _keep(keepdim, keepdims))

    def mean(self, dim: Axes = None, keepdim: bool = False, *, axis: Axes = None,
             keepdims: bool | None = None) -> Tensor:
        dim = _axes(dim, axis, "mean", self._data.ndim)
        n = self._count(dim, "mean")
        # NOTE: the mean of nothing is nan (PyTorch's); 0 * nan is quiet, so no numpy warning.
        return self.sum(dim, _keep(keepdim, keepdims)) * (1.0 / n if n else math.nan)

    def var(self, dim: Axes = None, keepdim: bool = False, *, correction: int = 1,
            unbiased: bool | None = None, axis: Axes = None,
            keepdims: bool | None = None) -> Tensor:
        """Variance with Bessel's correction by default (PyTorch's); correction=0 is biased."""
        dim = _axes(dim, axis, "var", self._data.ndim)
        dof = self._dof(dim, correction, unbiased, "var")
        diff = self - self.mean(dim, keepdim=True)
        return (diff * diff).sum(dim, _keep(keepdim, keepdims)) * (1.0 / dof)

    def std(self, dim: Axes = None, keepdim: bool = False, *, correction: int = 1,
            unbiased: bool | None = None, axis: Axes = None,
            keepdims: bool | None = None) -> Tensor:
        """sqrt(var), one primitive: its gradient is 0 for a constant (PyTorch's), not 0/0."""
        dim = _axes(dim, axis, "std", self._data.ndim)
        dof = self._dof(dim, correction, unbiased, "std")
        return ops.Std.apply(self, dim, _keep(keepdim, keepdims), dof)

    def _dof(self, dim: Any, correction: int, unbiased: bool | None, name: str) -> int:
        """n - correction over the reduced dims: var's and std's divisor, checked positive."""
        if unbiased is not None:
            correction = int(unbiased)
        n = self._count(dim, name)
        if n - correction <= 0:
            raise ops.OpError(f"{name}: {n} element(s) along the reduced dims is too few for "
                              f"correction={correction} (shape {self.shape}, dim {dim})")
        return n - correction

    def logsumexp(self, dim: Axes = None, keepdim: bool = False, *, axis: Axes = None,
                  keepdims: bool | None = None) -> Tensor:
        """log(sum(exp(x))) over dim, one stable primitive (-inf over no elements, as PyTorch)."""
        dim = _axes(dim, axis, "logsumexp", self._data.ndim)
        self._count(dim, "logsumexp")  # an IndexError naming a bad dim, before numpy's
        return ops.LogSumExp.apply(self, dim, _keep(keepdim, keepdims))

    def max(self, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:
        """Over everything: a 0-d tensor. Over `dim`: (values, indices), as PyTorch."""
        return self._extreme(ops.Max, ops.ArgMax, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Tensor | MaxResult:
        return self._extreme(ops.Min, ops.ArgMin, dim, keepdim)

    def _extreme(self, op: type, arg: Any, dim: Any, keepdim: bool) -> Tensor | MaxResult:
        if isinstance(dim, Tensor):
            return self.maximum(dim) if op is ops.Max else self.minimum(dim)
        if dim is None:
            return op.apply(self, None, keepdim)
        if self._data.ndim == 0:  # dim 0 / -1 of a 0-d tensor: its one element, index 0
            self._dim(dim, op.__name__)
            return MaxResult(op.apply(self, None, keepdim), Tensor._wrap(np.zeros((), np.int64)))
        values = op.apply(self, dim, keepdim)
        return MaxResult(values, arg.apply(self, dim, keepdim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg(ops.ArgMax, dim, keepdim, "argmax")

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return self._arg(ops.ArgMin, dim, keepdim, "argmin")

    def _arg(self, arg: Any, dim: int | None, keepdim: bool, name: str) -> Tensor:
        if dim is not None:
            dim = self._dim(dim, name)
            if self._data.ndim == 0:  # dim 0 / -1 of a 0-d tensor: its one element
                dim = None
        if self._data.size == 0 and (dim is None or self._data.shape[dim] == 0):
            over = "" if dim is None else f" over dim {dim}"
            raise IndexError(f"{name}: cannot take the {name} of an empty tensor of shape "
                             f"{self.shape}{over}: there is no element to choose")
        return arg.apply(self, dim, keepdim)

    def _count(self, dim: Any, name: str) -> int:
        if dim is None:
            return self._data.size
        dims = (dim,) if isinstance(dim, (int, np.integer)) else dim
        try:
            return int(np.prod([self._data.shape[d] for d in dims]))
        except IndexError:
            raise IndexError(f"{name}: dim {dim} is out of range for a tensor of shape "
                             f"{self.shape}") from None

    # ------------------------------------------------------------ shape

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self._data.shape
        start, end = self._dim(start_dim, "flatten"), self._dim(end_dim, "flatten")
        if start > end:
            raise ops.OpError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for "
                              f"a tensor of shape {self.shape}")
        if not shape:
            return self.reshape(1)
        return self.reshape(*shape[:start], -1, *shape[end + 1:])

    def permute(self, *dims: Any) -> Tensor:
        if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
            dims = tuple(dims[0])
        axes = tuple(self._dim(d, "permute") for d in dims)  # non-negative, once: backward inverts
        if sorted(axes) != list(range(self.ndim)):
            raise ops.OpError(f"permute: {tuple(dims)} is not a permutation of the {self.ndim} "
                              f"dims of a tensor of shape {self.shape}")
        return ops.Permute.apply(self, axes)

    def _dim(self, dim: int, name: str) -> int:
        """dim in [-ndim, ndim) as a non-negative index, else an IndexError naming the call."""
        if not _is_int(dim):
            raise TypeError(f"{name}: dim must be an int, got {dim!r}")
        n = max(self._data.ndim, 1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
        if not -n <= dim < n:
            raise IndexError(f"{name}: dim {dim} is out of range for a tensor of shape "
                             f"{self.shape} (expected {-n} <= dim < {n})")
        return dim % n

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        d0, d1 = self._dim(dim0, "transpose"), self._dim(dim1, "transpose")
        axes = list(range(self.ndim))
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return ops.Permute.apply(self, tuple(axes))

    def squeeze(self, dim: Axes = None) -> Tensor:
        shape = self._data.shape
        if dim is None:
            return self.reshape(tuple(s for s in shape if s != 1))
        dims = {self._dim(d, "squeeze") for d in ((dim,) if isinstance(dim, int) else dim)}
        return self.reshape(tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1)))

    def unsqueeze(self, dim: int) -> Tensor:
        shape = list(self._data.shape)
        if not -len(shape) - 1 <= dim <= len(shape):
            raise IndexError(f"unsqueeze: dim {dim} out of range for a tensor of shape "
                             f"{self.shape}")
        shape.insert(dim % (len(shape) + 1), 1)
        return self.reshape(tuple(shape))

    def expand(self, *sizes: Any) -> Tensor:
        if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
            sizes = tuple(sizes[0])
        lead = len(sizes) - self.ndim
        shape = tuple(self._data.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
        return ops.Expand.apply(self, shape)

    def __getitem__(self, idx: Any) -> Tensor:
        idx, parts = ops.split_index(idx)
        return ops.Index.apply(self, idx, *parts)

    def __setitem__(self, idx: Any, value: Any) -> None:
        if self.requires_grad:
            raise RuntimeError("item assignment on a tensor that requires grad would corrupt its "
                               "graph; assign into .data (under no_grad) or use tg.where")
        if engine.mode.tracer is not None:  # a captured step would freeze what is written here
            engine.mode.tracer.check_assignment(idx, value)
        self._data[_index_arrays(idx)] = value._data if isinstance(value, Tensor) else value

    # ------------------------------------------------------------ PyTorch's remaining methods
    # (issue 14). One-line delegations to primitives in ops/ or compositions of existing
    # methods. NOTE: from here on `float`, `int`, `bool` and `type` in this class body are the
    # methods, not the builtins (the method bodies below still see the builtins).

    def t(self) -> Tensor:
        """The transpose of a matrix; a vector or a 0-d tensor comes back unchanged (torch's)."""
        if self._data.ndim > 2:
            raise ops.OpError(f"t() expects a tensor with <= 2 dimensions, got shape {self.shape}"
                              "; use .transpose(dim0, dim1) or .mT")
        return self.transpose(0, 1) if self._data.ndim == 2 else self

    @property
    def mT(self) -> Tensor:  # noqa: N802 (PyTorch's name)
        """The last two dims swapped (a batch of matrices transposed)."""
        if self._data.ndim < 2:
            raise ops.OpError(f"tensor.mT is only supported on matrices or batches of matrices, "
                              f"got shape {self.shape}")
        return self.transpose(-2, -1)

    def mm(self, mat2: Tensor) -> Tensor:
        """The product of two matrices (2-D only, as torch)."""
        return _ranked(self, "self", 2) @ _ranked(mat2, "mat2", 2)

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix products of two 3-D tensors (no broadcasting, as torch)."""
        a, b = _ranked(self, "batch1", 3), _ranked(mat2, "batch2", 3)
        if a.shape[0] != b.shape[0]:
            raise ops.OpError(f"bmm: batch1 has {a.shape[0]} matrices but batch2 has "
                              f"{b.shape[0]}")
        return a @ b

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def view_as(self, other: Tensor) -> Tensor:
        return self.view(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def clone(self) -> Tensor:
        """A copy that the gradient flows back through (torch's clone)."""
        return ops.Cast.apply(self, self._data.dtype)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """Self: numpy makes a copy whenever an op needs one."""
        return self

    def flip(self, *dims: Any) -> Tensor:
        """The elements in reverse order along dims (a copy, as torch)."""
        if len(dims) == 1 and not _is_int(dims[0]):
            dims = tuple(dims[0])
        axes = tuple(self._dim(d, "flip") for d in dims)
        if len(set(axes)) != len(axes):
            raise ops.OpError(f"flip: a dim appears more than once in dims {dims}")
        return ops.Flip.apply(self, axes if self._data.ndim else ())

    def norm(self, p: Any = "fro", dim: Axes = None, keepdim: bool = False,
             dtype: Any = None) -> Tensor:
        """The vector p-norm over dim (every element by default): p = 'fro' or 2, 1, any
        nonzero finite p, inf (max |x|), -inf (min |x|) or 0 (the count of nonzeros)."""
        x = self if dtype is None else self.astype(dtype)
        if x._data.dtype.kind != "f":
            raise ops.OpError(f"norm: the input must be floating point, got {x._data.dtype}")
        dims = _axes(dim, None, "norm", x._data.ndim)
        x._count(dims, "norm")
        if p == "fro":
            p = 2
        if isinstance(p, str) or not isinstance(p, numbers.Real):
            raise ops.OpError(f"norm: p={p!r} is not supported; use 'fro', a number or inf (the "
                              "nuclear norm 'nuc' needs an SVD, which tinygrad_c2 does not have)")
        if p == math.inf:
            return x.abs().amax(() if dims is None else dims, keepdim)
        if p == -math.inf:
            return x.abs().amin(() if dims is None else dims, keepdim)
        if p == 0:  # the count of nonzeros: |sign(x)| summed, with torch's zero gradient
            return x.sign().abs().sum(dims, keepdim)
        return ops.Norm.apply(x, p, dims, keepdim)

    def gather(self, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
        """out[i][j] = self[index[i][j]][j] for dim 0 (likewise for any dim).

        >>> import tinygrad_c2 as tg
        >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, tg.tensor([[1], [0]]))
        tensor([[2.],
                [3.]])
        """
        return ops.Gather.apply(self, self._dim(dim, "gather"), _index_tensor(index, "gather"))

    def scatter_add(self, dim: int, index: Tensor, src: Tensor) -> Tensor:
        """A copy of self with src[i][j] added at row index[i][j] for dim 0 (out of place)."""
        dim = self._dim(dim, "scatter_add")
        return ops.ScatterAdd.apply(self, dim, _index_tensor(index, "scatter_add"), src)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False
             ) -> SortResult:
        """(values, indices) sorted along dim; NaN sorts as the largest value, as in torch.

        >>> import tinygrad_c2 as tg
        >>> tg.tensor([3.0, 1.0, 2.0]).sort(descending=True)
        SortResult(values=tensor([3., 2., 1.]), indices=tensor([0, 2, 1]))
        """
        dim = self._dim(dim, "sort")
        indices = ops.ArgSort.apply(self, dim, descending, stable)
        return SortResult(self.gather(dim, indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool = False
                ) -> Tensor:
        return self.sort(dim, descending, stable=stable).indices

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
             ) -> TopKResult:
        """The k largest (or smallest) elements along dim, as (values, indices), in order."""
        dim = self._dim(dim, "topk")
        n = self._data.shape[dim] if self._data.ndim else 1
        if not _is_int(k) or not 0 <= k <= n or (not self._data.ndim and k != 1):
            raise ops.OpError(f"topk: k={k!r} is out of range for dim {dim} of a tensor of shape "
                              f"{self.shape} (expected 0 <= k <= {n})")
        order = ops.ArgSort.apply(self, dim, largest, True)
        indices = order[(slice(None),) * dim + (slice(0, k),)] if self._data.ndim else order
        return TopKResult(self.gather(dim, indices), indices)

    def masked_fill(self, mask: Tensor, value: Any) -> Tensor:
        """value where mask is True, self elsewhere (value cast to self's dtype, as torch)."""
        m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
        if m.dtype != np.bool_:
            raise ops.OpError(f"masked_fill: the mask must be a bool tensor, got dtype {m.dtype}")
        if isinstance(value, Tensor):
            if value.ndim:
                raise ops.OpError(f"masked_fill: value must be a number or a 0-d tensor, got a "
                                  f"tensor of shape {value.shape}")
            value = value.astype(self._data.dtype)
        else:
            value = np.asarray(value, dtype=self._data.dtype)
        return ops.Where.apply(mask, value, self)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces of split_size along dim (the last may be smaller), or of the given sizes."""
        if not self._data.ndim:
            raise ops.OpError("split: a 0-d tensor cannot be split")
        dim = self._dim(dim, "split")
        n, sizes = self._data.shape[dim], split_size_or_sections
        if _is_int(sizes):
            if sizes < 0 or (sizes == 0 and n):
                raise ops.OpError(f"split: split_size must be positive (0 only for a dim of size "
                                  f"0), got {sizes} for dim {dim} of size {n}")
            sizes = [min(sizes, n - start) for start in range(0, n, sizes)] if n else [0]
        else:
            sizes = list(sizes)
            if not all(_is_int(s) and s >= 0 for s in sizes) or np.sum(sizes) != n:
                raise ops.OpError(f"split: split sizes {sizes} must be non-negative ints that sum "
                                  f"exactly to {n}, the size of dim {dim}")
        starts = np.cumsum([0] + sizes[:-1])
        lead = (slice(None),) * dim
        return tuple(self[lead + (slice(a, a + s),)] for a, s in zip(starts, sizes, strict=True))

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """At most `chunks` pieces of equal size along dim (the last may be smaller)."""
        if not _is_int(chunks) or chunks <= 0:
            raise ops.OpError(f"chunk expects `chunks` to be greater than 0, got: {chunks!r}")
        n = self._data.shape[self._dim(dim, "chunk")] if self._data.ndim else 0
        if n == 0:  # torch: `chunks` empty pieces
            return self.split([0] * chunks, dim)
        return self.split(-(-n // chunks), dim)

    def repeat(self, *sizes: Any) -> Tensor:
        """self tiled sizes[i] times along dim i (leading sizes add new dims), as torch.

        >>> import tinygrad_c2 as tg
        >>> tg.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
        """
        if len(sizes) == 1 and not _is_int(sizes[0]):
            sizes = tuple(sizes[0])
        sizes = _size(sizes, "repeat")
        if len(sizes) < self._data.ndim:
            raise ops.OpError(f"repeat: {len(sizes)} repeat sizes {sizes} for a tensor of shape "
                              f"{self.shape}: give at least one per dim")
        shape = (1,) * (len(sizes) - self._data.ndim) + self._data.shape
        # (a, b) -> (1, a, 1, b) -> (r, a, s, b) -> (r*a, s*b): expand's backward sums the copies
        spread = self.reshape(tuple(v for s in shape for v in (1, s)))
        spread = spread.expand(tuple(v for r, s in zip(sizes, shape, strict=True) for v in (r, s)))
        return spread.reshape(tuple(r * s for r, s in zip(sizes, shape, strict=True)))

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """Without dtype: torch's type name ('torch.FloatTensor'); else a cast to dtype (a dtype
        or such a name)."""
        if dtype is None:
            return _TYPE_NAMES.get(self._data.dtype, f"tinygrad_c2.{self._data.dtype}")
        if isinstance(dtype, str) and dtype in _TYPES_BY_NAME:
            dtype = _TYPES_BY_NAME[dtype]
        return self.astype(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.astype(other.dtype)

    def half(self) -> Tensor:
        """Refused with a TypeError naming the alternative: float16 is not supported here."""
        return self.astype(np.float16)

    def log1p(self) -> Tensor:
        return ops.Log1p.apply(self)

    def expm1(self) -> Tensor:
        return ops.Expm1.apply(self)

    def sin(self) -> Tensor:
        return ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return ops.Cos.apply(self)

    def square(self) -> Tensor:
        """self * self (a bool tensor squares to int64, as torch's pow(2))."""
        return self.pow(2) if self._data.dtype == np.bool_ else self * self

    def rsqrt(self) -> Tensor:
        return 1.0 / self.sqrt()

    def reciprocal(self) -> Tensor:
        return 1.0 / self

    def sign(self) -> Tensor:
        """-1, 0 or 1 (0 at NaN); zero gradient, as torch."""
        return ops.Step.apply(self, ops.sign_of)

    def floor(self) -> Tensor:
        return ops.Step.apply(self, np.floor)

    def ceil(self) -> Tensor:
        return ops.Step.apply(self, np.ceil)

    def trunc(self) -> Tensor:
        return ops.Step.apply(self, np.trunc)

    def round(self, decimals: int = 0) -> Tensor:
        """Rounded to `decimals` places, halves to even (torch's and numpy's rule)."""
        return ops.Step.apply(self, np.round, decimals)

    def amax(self, dim: Axes = (), keepdim: bool = False) -> Tensor:
        """The max over dim (every dim by default); ties share the gradient evenly."""
        dims = _axes(dim, None, "amax", self._data.ndim)
        self._count(dims, "amax")
        return ops.AMax.apply(self, dims, keepdim)

    def amin(self, dim: Axes = (), keepdim: bool = False) -> Tensor:
        """The min over dim (every dim by default); ties share the gradient evenly."""
        dims = _axes(dim, None, "amin", self._data.ndim)
        self._count(dims, "amin")
        return ops.AMin.apply(self, dims, keepdim)

    def all(self, dim: Axes = None, keepdim: bool = False) -> Tensor:
        """True where every element over dim is nonzero (a bool tensor)."""
        return (self == 0).sum(dim, keepdim) == 0

    def any(self, dim: Axes = None, keepdim: bool = False) -> Tensor:
        """True where some element over dim is nonzero (a bool tensor)."""
        return (self != 0).sum(dim, keepdim) > 0

    def cumsum(self, dim: int, dtype: Any = None) -> Tensor:
        """Running sums along dim (integers and bools sum in int64, as torch)."""
        x = self if dtype is None else self.astype(dtype)
        return ops.CumSum.apply(x, self._dim(dim, "cumsum"))

    def prod(self, dim: int | None = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The product over dim (every element by default); exact gradients at zeros."""
        x = self if dtype is None else self.astype(dtype)
        if dim is not None:
            dim = self._dim(dim, "prod")
            if not self._data.ndim:  # dim 0 / -1 of a 0-d tensor: its one element
                dim = None
        return ops.Prod.apply(x, dim, keepdim and dim is not None)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle (on and below diagonal) of each matrix; zeros above."""
        return self._triangle(np.tril, diagonal, "tril")

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle (on and above diagonal) of each matrix; zeros below."""
        return self._triangle(np.triu, diagonal, "triu")

    def _triangle(self, side: Any, diagonal: int, name: str) -> Tensor:
        if self._data.ndim < 2:
            raise ops.OpError(f"{name}: input tensor must have at least 2 dimensions, got shape "
                              f"{self.shape}")
        keep = side(np.ones(self._data.shape[-2:], dtype=np.bool_), diagonal)
        return ops.Where.apply(keep, self, np.zeros((), self._data.dtype))

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Tensor:
        """Category indices drawn with probabilities proportional to self's rows (int64)."""
        return _multinomial(self, num_samples, replacement, generator)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        """Zeros of self's dtype (unless told)."""
        return zeros(*size, dtype=self._like(dtype), device=device, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        """Ones of self's dtype (unless told)."""
        return ones(*size, dtype=self._like(dtype), device=device, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        """fill_value everywhere, in self's dtype (unless told)."""
        return full(size, fill_value, dtype=self._like(dtype), device=device,
                    requires_grad=requires_grad)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:
        """A new tensor (a copy) of data, in self's dtype (unless told)."""
        data = data._data.copy() if isinstance(data, Tensor) else data
        return tensor(data, dtype=self._like(dtype), device=device, requires_grad=requires_grad)

    def _like(self, dtype: Any) -> Any:
        return self._data.dtype if dtype is None else dtype

    def nelement(self) -> int:
        return self._data.size

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its number (`f"{loss:.4f}"`); any other only with an empty
        spec, as torch (a Parameter too: torch formats only plain 0-d Tensors as numbers).

        >>> import tinygrad_c2 as tg
        >>> f"{tg.tensor([0.25, 0.5]).sum():.3f}", ["a", "b", "c"][tg.tensor(2)]
        ('0.750', 'c')
        """
        if self._data.ndim == 0 and type(self) is Tensor:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __index__(self) -> int:
        """A one-element integer (or bool) tensor as a Python index: `names[t]`, `range(t)`."""
        if self._data.size != 1 or self._data.dtype.kind not in "biu":
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index (this one has shape {self.shape} and dtype {self.dtype})")
        return self._data.item().__index__()


SortResult = namedtuple("SortResult", ["values", "indices"])  # torch.return_types.sort
TopKResult = namedtuple("TopKResult", ["values", "indices"])  # torch.return_types.topk

# torch's legacy type names, for Tensor.type()
_TYPE_NAMES = {np.dtype(dt): name for dt, name in (
    (np.float32, "torch.FloatTensor"), (np.float64, "torch.DoubleTensor"),
    (np.float16, "torch.HalfTensor"), (np.int64, "torch.LongTensor"),
    (np.int32, "torch.IntTensor"), (np.int16, "torch.ShortTensor"), (np.int8, "torch.CharTensor"),
    (np.uint8, "torch.ByteTensor"), (np.bool_, "torch.BoolTensor"))}
_TYPES_BY_NAME = {name: dt for dt, name in _TYPE_NAMES.items()}


def _ranked(t: Any, what: str, ndim: int) -> Tensor:
    """t, checked to be a Tensor of ndim dims (torch's wording: "self must be a matrix")."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} must be a Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        kind = "a matrix" if ndim == 2 else f"a {ndim}D tensor"
        raise ops.OpError(f"{what} must be {kind}, got shape {t.shape}")
    return t


def _index_tensor(index: Any, name: str) -> Any:
    if not isinstance(index, (Tensor, np.ndarray)):
        raise TypeError(f"{name}: index must be an integer Tensor, got {type(index).__name__}")
    return index


def _multinomial(probs: Tensor, num_samples: int, replacement: bool, generator: Any) -> Tensor:
    """Tensor.multinomial: inverse-CDF draws with replacement; without, the exponential race
    (the k smallest of E_i / p_i, E_i ~ Exp(1), are a weighted sample without replacement)."""
    p = probs._data
    if p.ndim not in (1, 2) or p.dtype.kind != "f":
        raise ops.OpError(f"multinomial: expected a 1-D or 2-D floating-point tensor of weights, "
                          f"got shape {p.shape} and dtype {p.dtype}")
    if not _is_int(num_samples) or num_samples <= 0:
        raise ops.OpError(f"multinomial: cannot sample {num_samples!r} samples: expected a "
                          "positive int")
    rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ops.OpError("multinomial: probability tensor contains either inf, nan or element < 0")
    if (rows.sum(axis=1) <= 0).any():
        raise ops.OpError("multinomial: invalid multinomial distribution (sum of probabilities "
                          "<= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise ops.OpError(f"multinomial: cannot sample n_sample = {num_samples} > "
                          f"{rows.shape[1]} categories without replacement")
    gen = _rng.generator() if generator is None else generator.numpy_generator
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]  # NOTE: the last entry exactly 1, so a draw u < 1 never runs past it
        u = gen.random((rows.shape[0], num_samples))
        out = np.stack([np.searchsorted(c, v, side="right") for c, v in zip(cdf, u, strict=True)])
    else:
        with np.errstate(divide="ignore"):  # weight 0: key inf, drawn only after all others
            keys = gen.standard_exponential(rows.shape) / rows
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return _drawn(out.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)), False)


_FALSE = np.zeros((), dtype=bool)  # where(False, old, new): fill_'s value, no gradient to old
# PyTorch's names of the dtypes, for its wording of the in-place cast error
_TORCH_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
                "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def _torch_name(dt: np.dtype) -> str:
    return _TORCH_NAMES.get(dt.name, dt.name)


def _can_cast(src: np.dtype, dst: np.dtype) -> bool:
    """PyTorch's canCast for in-place results: no complex to real, no float to integer, and
    nothing but bool to bool; narrowing within a kind (float64 to float32) is allowed."""
    if src.kind == "c" and dst.kind != "c":
        return False
    if src.kind == "f" and dst.kind in "iub":
        return False
    return not (src.kind != "b" and dst.kind == "b")


def _index_arrays(idx: Any) -> Any:
    """Indices may contain Tensors; numpy wants their arrays."""
    if isinstance(idx, Tensor):
        return idx._data
    if isinstance(idx, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in idx)
    return idx


# ---------------------------------------------------------------- construction


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None
           ) -> Tensor:
    """Make a Tensor from a copy of `data`, as torch.tensor does (the dtype rules of `Tensor`).

    `Tensor(array)`, `tg.from_numpy` and `tg.as_tensor` share an array's memory instead.

    >>> import numpy as np, tinygrad_c2 as tg
    >>> tg.tensor([1.0, 2.0]).dtype, tg.tensor([1, 2]).dtype
    (dtype('float32'), dtype('int64'))
    >>> a = np.zeros(2); t = tg.tensor(a); a[0] = 5.0; t
    tensor([0., 0.], dtype=float64)
    """
    if device is not None:
        _device.check(device, "tensor")
    t = Tensor(data, requires_grad=requires_grad, dtype=dtype)
    # NOTE: a ported script expects its own array untouched by later in-place ops on the tensor
    # (and the tensor untouched by later writes to the array).
    source = data._data if isinstance(data, Tensor) else data
    if isinstance(source, np.ndarray) and np.may_share_memory(t._data, source):
        t._data = t._data.copy()
    return t


def _size(size: tuple, name: str) -> tuple[int, ...]:
    """`f(2, 3)` or `f((2, 3))` as a shape, checked: non-negative ints (PyTorch's rules)."""
    if len(size) == 1 and not _is_int(size[0]):
        size = size[0]
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{name}: size must be ints, got {size!r} ({type(size).__name__})")
    for s in size:
        if not _is_int(s):
            raise TypeError(f"{name}: size must be ints, got {s!r} ({type(s).__name__})")
    if any(s < 0 for s in size):
        raise ops.OpError(f"{name}: size must be non-negative, got {tuple(size)}")
    return tuple(size)


def _float_dtype(dtype: Any) -> np.dtype:
    return _default_dtype if dtype is None else np.dtype(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """A tensor of zeros: `tg.zeros(2, 3)` or `tg.zeros((2, 3))`."""
    if device is not None:
        _device.check(device, "zeros")
    return Tensor(np.zeros(_size(size, "zeros"), _float_dtype(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
         ) -> Tensor:
    """A tensor of ones."""
    if device is not None:
        _device.check(device, "ones")
    return Tensor(np.ones(_size(size, "ones"), _float_dtype(dtype)), requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None,
         requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor filled with one value."""
    if device is not None:
        _device.check(device, "full")
    return Tensor(np.full(_size((size,), "full"), fill_value, _float_dtype(dtype)), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
          ) -> Tensor:
    """Standard normal samples from the library generator (see `tg.manual_seed`)."""
    if device is not None:
        _device.check(device, "randn")
    dt = _float_dtype(dtype)
    return _drawn(_rng.generator().standard_normal(_size(size, "randn"), dtype=dt), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
         ) -> Tensor:
    """Uniform samples on [0, 1) from the library generator."""
    if device is not None:
        _device.check(device, "rand")
    dt = _float_dtype(dtype)
    return _drawn(_rng.generator().random(_size(size, "rand"), dtype=dt), requires_grad)


def _drawn(arr: np.ndarray, requires_grad: bool) -> Tensor:
    """A tensor of random draws. Inside a captured step's trace the draws are marked: a replay
    would reuse them, so an op that receives them refuses (dropout, a primitive, redraws)."""
    if engine.mode.tracer is not None:
        arr = engine.mode.tracer.drawn(arr)
    return Tensor(arr, requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end): integers stay int64, floats take the default dtype.

    >>> import tinygrad_c2 as tg
    >>> tg.arange(3)
    tensor([0, 1, 2])
    """
    if device is not None:
        _device.check(device, "arange")
    if end is None:
        start, end = 0, start
    for name, v in (("start", start), ("end", end), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"arange: {name} must be a number, got {v!r} ({type(v).__name__})")
        if not math.isfinite(v):
            raise ops.OpError(f"arange: {name} is {v}; start, end and step must be finite")
    if step == 0:
        raise ops.OpError("arange: step must be nonzero")
    if (end - start) * step < 0:  # PyTorch refuses what numpy silently makes empty
        raise ops.OpError(f"arange: the range {start} to {end} is inconsistent with step {step} "
                          "(the step's sign must be that of end - start)")
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    dt = dtype if dtype is not None else (np.int64 if is_int else _default_dtype)
    return Tensor(np.arange(start, end, step, dtype=dt), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix."""
    if device is not None:
        _device.check(device, "eye")
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
               ) -> Tensor:
    if device is not None:
        _device.check(device, "zeros_like")
    return Tensor(np.zeros(t.shape, dtype or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False, device: Any = None
              ) -> Tensor:
    if device is not None:
        _device.check(device, "ones_like")
    return Tensor(np.ones(t.shape, dtype or t.dtype), requires_grad)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along an existing dim.

    >>> import tinygrad_c2 as tg
    >>> tg.cat([tg.ones(1, 2), tg.zeros(2, 2)]).shape
    (3, 2)
    """
    return ops.Cat.apply(dim, *_tensors(tensors, "cat"))


def _tensors(tensors: Any, name: str) -> list[Any]:
    """The Tensors (or numpy arrays, taken as constants) to join, as PyTorch checks them."""
    if isinstance(tensors, (Tensor, np.ndarray)):
        raise TypeError(f"{name}: expected a sequence of Tensors, got one "
                        f"{type(tensors).__name__} (wrap it in a list: [t])")
    tensors = list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, (Tensor, np.ndarray)):
            raise TypeError(f"{name}: expected a sequence of Tensors, element {i} is a "
                            f"{type(t).__name__}")
    return tensors


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join along a new dim (all shapes equal)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in _tensors(tensors, "stack")]
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ops.OpError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    return ops.Cat.apply(dim, *[t.unsqueeze(dim) for t in tensors])


def where(condition: Any, input: Any, other: Any) -> Tensor:  # noqa: A002
    """Elementwise choice: input where condition holds, other elsewhere."""
    return ops.Where.apply(condition, input, other)


# PyTorch's Tensor names that tinygrad_c2 leaves out explain themselves when read (descriptors,
# not a __getattr__, which would slow every attribute read: see tinygrad_c2/_missing.py).
_missing.bind_missing_attributes(Tensor)

# NOTE: imported last, as a module, because the primitives need the Tensor class defined above;
# they are looked up as `ops.Name` when a method runs, so either module may load first.
from . import function as _function  # noqa: E402
from . import ops  # noqa: E402

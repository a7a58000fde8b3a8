"""PyTorch's top-level function forms (`tg.exp(x)`, `tg.max(x, dim)`, `tg.from_numpy(a)`).

Each delegates in one line to the Tensor method or factory that defines the op (one definition
per op); what is here is only PyTorch's calling convention: `input` first, the same keyword
names, and `out=` accepted only as None (this library has no in-place outputs).

>>> import numpy as np
>>> import tinygrad_c2 as tg
>>> x = tg.tensor([[1.0, -2.0], [3.0, 0.5]])
>>> tg.max(x, dim=1).indices, tg.max(x, tg.zeros(2, 2)), tg.mm(x, x).shape
(tensor([0, 0]), tensor([[1. , 0. ],
        [3. , 0.5]]), (2, 2))
>>> a = np.zeros(2); tg.from_numpy(a).numpy() is a, tg.allclose(x, x), tg.equal(x, x + 1)
(True, True, False)
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import rng as _rng

# NOTE: not `from . import device`: the package's `device` is the class, bound by __init__.
from .device import check as _check_device
from .generator import Generator
from .tensor import (
    MaxResult,
    SortResult,
    Tensor,
    TopKResult,
    _drawn,
    _float_dtype,
    _is_int,
    full,
    rand,
    randn,
    zeros,
    zeros_like,
)


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TypeError(f"{name}(): out= is not supported by tinygrad_c2 (no in-place "
                        f"outputs): use the result, e.g. y = tg.{name}(x)")


def _t(input: Any, out: Any, name: str, dtype: Any = None) -> Tensor:  # noqa: A002
    """`input` checked to be a Tensor (torch's TypeError) and `out` None; cast to `dtype`."""
    _no_out(out, name)
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input if dtype is None else input.astype(dtype)


# ---------------------------------------------------------------- elementwise


def exp(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """e ** input, elementwise."""
    return _t(input, out, "exp").exp()


def log(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Natural logarithm, elementwise."""
    return _t(input, out, "log").log()


def sqrt(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Square root, elementwise."""
    return _t(input, out, "sqrt").sqrt()


def abs(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A001, A002
    """Absolute value, elementwise."""
    return _t(input, out, "abs").abs()


def neg(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """-input."""
    return -_t(input, out, "neg")


def sigmoid(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """1 / (1 + exp(-input)), elementwise."""
    return _t(input, out, "sigmoid").sigmoid()


def tanh(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Hyperbolic tangent, elementwise."""
    return _t(input, out, "tanh").tanh()


def relu(input: Tensor) -> Tensor:  # noqa: A002
    """max(input, 0), elementwise (torch.relu has no out=)."""
    return _t(input, None, "relu").relu()


def clamp(input: Tensor, min: Any = None, max: Any = None, *,  # noqa: A001, A002
          out: None = None) -> Tensor:
    """input limited to [min, max]."""
    return _t(input, out, "clamp").clamp(min, max)


clip = clamp


def maximum(input: Tensor, other: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """The elementwise larger of two tensors."""
    return _t(input, out, "maximum").maximum(other)


def minimum(input: Tensor, other: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """The elementwise smaller of two tensors."""
    return _t(input, out, "minimum").minimum(other)


def pow(input: Any, exponent: Any, *, out: None = None) -> Tensor:  # noqa: A001, A002
    """input ** exponent; `input` may be a number when `exponent` is a Tensor (torch's form)."""
    if isinstance(input, numbers.Number) and isinstance(exponent, Tensor):
        return _t(exponent, out, "pow").__rpow__(input)
    return _t(input, out, "pow").pow(exponent)


def softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """exp(input) normalised to sum to 1 along dim."""
    return _t(input, None, "softmax", dtype).softmax(dim)


def log_softmax(input: Tensor, dim: int, dtype: Any = None) -> Tensor:  # noqa: A002
    """log(softmax(input, dim)), computed stably."""
    return _t(input, None, "log_softmax", dtype).log_softmax(dim)


# ---------------------------------------------------------------- reductions


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001, A002
        dtype: Any = None, out: None = None) -> Tensor:
    """The sum over dim (every element by default)."""
    return _t(input, out, "sum", dtype).sum(dim, keepdim)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
         dtype: Any = None, out: None = None) -> Tensor:
    """The mean over dim (every element by default)."""
    return _t(input, out, "mean", dtype).mean(dim, keepdim)


def max(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001, A002
        out: None = None) -> Tensor | MaxResult:
    """`max(x)`: 0-d; `max(x, dim)`: (values, indices); `max(x, other)`: `maximum`."""
    return _t(input, out, "max").max(dim, keepdim)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001, A002
        out: None = None) -> Tensor | MaxResult:
    """`min(x)`: 0-d; `min(x, dim)`: (values, indices); `min(x, other)`: `minimum`."""
    return _t(input, out, "min").min(dim, keepdim)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The index of the largest element (of the flattened tensor when dim is None)."""
    return _t(input, None, "argmax").argmax(dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:  # noqa: A002
    """The index of the smallest element (of the flattened tensor when dim is None)."""
    return _t(input, None, "argmin").argmin(dim, keepdim)


def logsumexp(input: Tensor, dim: Any, keepdim: bool = False, *,  # noqa: A002
              out: None = None) -> Tensor:
    """log(sum(exp(input))) over dim (required, as in torch), computed stably."""
    return _t(input, out, "logsumexp").logsumexp(dim, keepdim)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None,  # noqa: A002
        keepdim: bool = False, *, correction: int | None = None, out: None = None) -> Tensor:
    """Variance over dim, Bessel-corrected unless correction=0 (or unbiased=False)."""
    return _t(input, out, "var").var(dim, keepdim, correction=1 if correction is None
                                     else correction, unbiased=unbiased)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None,  # noqa: A002
        keepdim: bool = False, *, correction: int | None = None, out: None = None) -> Tensor:
    """Standard deviation over dim, Bessel-corrected unless correction=0 (or unbiased=False)."""
    return _t(input, out, "std").std(dim, keepdim, correction=1 if correction is None
                                     else correction, unbiased=unbiased)


def numel(input: Tensor) -> int:  # noqa: A002
    """The number of elements."""
    return _t(input, None, "numel").numel()


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,  # noqa: A002
             equal_nan: bool = False) -> bool:
    """|input - other| <= atol + rtol * |other| everywhere (broadcast; the dtypes must match)."""
    a, b = _t(input, None, "allclose")._data, _t(other, None, "allclose")._data
    if a.dtype != b.dtype:  # torch's rule: no promotion here
        raise RuntimeError(f"allclose: the dtypes differ ({a.dtype} and {b.dtype}): cast one")
    np.broadcast_shapes(a.shape, b.shape)  # a ValueError naming both shapes, as torch's error
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input: Tensor, other: Tensor) -> bool:  # noqa: A002
    """True when both have the same shape and the same values (dtypes may differ)."""
    return bool(np.array_equal(_t(input, None, "equal")._data, _t(other, None, "equal")._data))


# ---------------------------------------------------------------- matrix products


def matmul(input: Tensor, other: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """input @ other, with numpy's (and torch's) broadcasting of batch dims."""
    return _t(input, out, "matmul") @ other


def mm(input: Tensor, mat2: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """The product of two matrices (2-D only, as torch)."""
    return _t(input, out, "mm").mm(mat2)


def bmm(input: Tensor, mat2: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Batched matrix products of two 3-D tensors (no broadcasting, as torch)."""
    return _t(input, out, "bmm").bmm(mat2)


# ---------------------------------------------------------------- shape


def reshape(input: Tensor, shape: Any) -> Tensor:  # noqa: A002
    """The same elements in a new shape (one dim may be -1)."""
    return _t(input, None, "reshape").reshape(shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:  # noqa: A002
    """Dims start_dim..end_dim merged into one."""
    return _t(input, None, "flatten").flatten(start_dim, end_dim)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:  # noqa: A002
    """dim0 and dim1 swapped."""
    return _t(input, None, "transpose").transpose(dim0, dim1)


def permute(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """The dims reordered."""
    return _t(input, None, "permute").permute(dims)


def squeeze(input: Tensor, dim: Any = None) -> Tensor:  # noqa: A002
    """Size-1 dims removed (only those in dim when given)."""
    return _t(input, None, "squeeze").squeeze(dim)


def unsqueeze(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """A size-1 dim inserted at dim."""
    return _t(input, None, "unsqueeze").unsqueeze(dim)


# ---------------------------------------------------------------- factories


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: None = None) -> Tensor:
    """A new tensor; its values are unspecified in torch, here they are zeros."""
    _no_out(out, "empty")
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype: Any = None, device: Any = None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:
    """A tensor shaped like input; its values are unspecified in torch, here they are zeros."""
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, *, dtype: Any = None,  # noqa: A002
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor shaped like input, filled with fill_value (input's dtype unless told)."""
    t = _t(input, None, "full_like")
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,  # noqa: A002
               requires_grad: bool = False) -> Tensor:
    """Standard normal samples shaped like input (input's dtype unless told)."""
    t = _t(input, None, "randn_like")
    return randn(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,  # noqa: A002
              requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) shaped like input (input's dtype unless told)."""
    t = _t(input, None, "rand_like")
    return rand(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, out: None = None) -> Tensor:
    """steps evenly spaced values from start to end inclusive, in the default float dtype
    unless told (torch's rule, also for integer ends); an integer dtype truncates toward 0."""
    if device is not None:
        _check_device(device, "linspace")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"linspace(): steps must be an int, got {steps!r}")
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    _no_out(out, "linspace")
    values = np.linspace(start, end, steps, dtype=np.float64)
    return Tensor(values.astype(_float_dtype(dtype)), requires_grad)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A Tensor sharing the array's memory (writes show in both) and keeping its dtype."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: can't convert a numpy array of type {ndarray.dtype}: "
                        "expected bool, integer, floating-point or complex")
    return Tensor(ndarray)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """data as a Tensor, sharing memory when it can: a Tensor or array of the same dtype."""
    if device is not None:
        _check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or np.dtype(dtype) == data.dtype):
        return data
    if isinstance(data, Tensor):
        return data.astype(dtype)  # a cast keeps the graph, as torch's
    return Tensor(data, dtype=dtype)


def is_tensor(obj: Any) -> bool:
    """True for a Tensor (and its subclasses, such as nn.Parameter)."""
    return isinstance(obj, Tensor)


# ---------------------------------------------------------------- PyTorch's remaining forms
# (issue 14): each the Tensor method of the same name.


def t(input: Tensor) -> Tensor:  # noqa: A002
    """The transpose of a matrix (a vector or 0-d tensor unchanged)."""
    return _t(input, None, "t").t()


def eq(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input == other, elementwise (a bool tensor)."""
    return _t(input, out, "eq").eq(other)


def ne(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input != other, elementwise."""
    return _t(input, out, "ne").ne(other)


def lt(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input < other, elementwise."""
    return _t(input, out, "lt").lt(other)


def le(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input <= other, elementwise."""
    return _t(input, out, "le").le(other)


def gt(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input > other, elementwise."""
    return _t(input, out, "gt").gt(other)


def ge(input: Tensor, other: Any, *, out: None = None) -> Tensor:  # noqa: A002
    """input >= other, elementwise."""
    return _t(input, out, "ge").ge(other)


def clone(input: Tensor, *, memory_format: Any = None) -> Tensor:  # noqa: A002
    """A copy that the gradient flows back through."""
    return _t(input, None, "clone").clone()


def flip(input: Tensor, dims: Any) -> Tensor:  # noqa: A002
    """The elements reversed along dims (a copy)."""
    return _t(input, None, "flip").flip(dims)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,  # noqa: A002
         out: None = None, dtype: Any = None) -> Tensor:
    """The vector p-norm over dim (every element by default)."""
    return _t(input, out, "norm").norm(p, dim, keepdim, dtype)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False,  # noqa: A002
           out: None = None) -> Tensor:
    """Values of input picked along dim by index."""
    return _t(input, out, "gather").gather(dim, index)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:  # noqa: A002
    """A copy of input with src added at the positions index names along dim."""
    return _t(input, None, "scatter_add").scatter_add(dim, index, src)


def sort(input: Tensor, dim: int = -1, descending: bool = False, *,  # noqa: A002
         stable: bool = False, out: None = None) -> SortResult:
    """(values, indices) sorted along dim."""
    return _t(input, out, "sort").sort(dim, descending, stable=stable)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,  # noqa: A002
            stable: bool = False) -> Tensor:
    """The indices that sort input along dim."""
    return _t(input, None, "argsort").argsort(dim, descending, stable=stable)


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True,  # noqa: A002
         sorted: bool = True, *, out: None = None) -> TopKResult:  # noqa: A002
    """The k largest (or smallest) elements along dim, as (values, indices)."""
    return _t(input, out, "topk").topk(k, dim, largest, sorted)


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:  # noqa: A002
    """value where mask is True, input elsewhere."""
    return _t(input, None, "masked_fill").masked_fill(mask, value)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    """At most `chunks` equal pieces along dim."""
    return _t(input, None, "chunk").chunk(chunks, dim)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of a given size (or sizes) along dim."""
    return _t(tensor, None, "split").split(split_size_or_sections, dim)


def log1p(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """ln(1 + input), exact for tiny input."""
    return _t(input, out, "log1p").log1p()


def expm1(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """e ** input - 1, exact for tiny input."""
    return _t(input, out, "expm1").expm1()


def sin(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Sine, elementwise."""
    return _t(input, out, "sin").sin()


def cos(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Cosine, elementwise."""
    return _t(input, out, "cos").cos()


def square(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """input * input."""
    return _t(input, out, "square").square()


def rsqrt(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """1 / sqrt(input)."""
    return _t(input, out, "rsqrt").rsqrt()


def reciprocal(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """1 / input."""
    return _t(input, out, "reciprocal").reciprocal()


def sign(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """-1, 0 or 1 elementwise (zero gradient)."""
    return _t(input, out, "sign").sign()


def floor(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Rounded down (zero gradient)."""
    return _t(input, out, "floor").floor()


def ceil(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Rounded up (zero gradient)."""
    return _t(input, out, "ceil").ceil()


def trunc(input: Tensor, *, out: None = None) -> Tensor:  # noqa: A002
    """Rounded toward zero (zero gradient)."""
    return _t(input, out, "trunc").trunc()


def round(input: Tensor, *, decimals: int = 0, out: None = None) -> Tensor:  # noqa: A001, A002
    """Rounded to `decimals` places, halves to even (zero gradient)."""
    return _t(input, out, "round").round(decimals)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False, *,  # noqa: A002
         out: None = None) -> Tensor:
    """The max over dim (every dim by default); ties share the gradient."""
    return _t(input, out, "amax").amax(dim, keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False, *,  # noqa: A002
         out: None = None) -> Tensor:
    """The min over dim (every dim by default); ties share the gradient."""
    return _t(input, out, "amin").amin(dim, keepdim)


def all(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001, A002
        out: None = None) -> Tensor:
    """True where every element over dim is nonzero."""
    return _t(input, out, "all").all(dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False, *,  # noqa: A001, A002
        out: None = None) -> Tensor:
    """True where some element over dim is nonzero."""
    return _t(input, out, "any").any(dim, keepdim)


def cumsum(input: Tensor, dim: int, *, dtype: Any = None, out: None = None) -> Tensor:  # noqa: A002
    """Running sums along dim."""
    return _t(input, out, "cumsum").cumsum(dim, dtype)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,  # noqa: A002
         dtype: Any = None, out: None = None) -> Tensor:
    """The product over dim (every element by default)."""
    return _t(input, out, "prod").prod(dim, keepdim, dtype)


def tril(input: Tensor, diagonal: int = 0, *, out: None = None) -> Tensor:  # noqa: A002
    """The lower triangle of each matrix, zeros above."""
    return _t(input, out, "tril").tril(diagonal)


def triu(input: Tensor, diagonal: int = 0, *, out: None = None) -> Tensor:  # noqa: A002
    """The upper triangle of each matrix, zeros below."""
    return _t(input, out, "triu").triu(diagonal)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,  # noqa: A002
                generator: Generator | None = None, out: None = None) -> Tensor:
    """Category indices drawn in proportion to input's rows of weights."""
    return _t(input, out, "multinomial").multinomial(num_samples, replacement,
                                                     generator=generator)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = np.int64,
             device: Any = None, requires_grad: bool = False, out: None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless told), from the library generator or
    `generator` (so `tg.manual_seed` reproduces it).

    >>> import tinygrad_c2 as tg
    >>> sorted(tg.randperm(4, generator=tg.Generator().manual_seed(0)).tolist())
    [0, 1, 2, 3]
    """
    _no_out(out, "randperm")
    if device is not None:
        _check_device(device, "randperm")
    if not _is_int(n) or n < 0:
        raise RuntimeError(f"randperm: n must be a non-negative int, got {n!r}")
    gen = _rng.generator() if generator is None else generator.numpy_generator
    return _drawn(gen.permutation(int(n)).astype(dtype), requires_grad)

"""The activations beyond the core ones (GELU, SiLU, Softplus, ELU, Hardtanh): their fused
primitives and F.* forms (nn.functional re-exports the forms)."""

from __future__ import annotations

import math

import numpy as np

from ...function import Function, OpError
from ...ops import LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh, stable_sigmoid
from ...tensor import Tensor
from ...tensor import where as tg_where

_ERF = np.frompyfunc(math.erf, 1, 1)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf elementwise to about an ulp (numpy has none and scipy is not a dependency).

    NOTE: math.erf per element costs ~0.3 us; GELU(approximate='tanh') avoids it.
    """
    return np.asarray(_ERF(x), dtype=x.dtype)


class GELU(Function):
    """y = x Phi(x), Phi the standard normal CDF (or PyTorch's tanh form
    0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3))   |   dx = g (Phi(x) + x phi(x))
    (tanh form: g (0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 0.044715 x^2)))"""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.approximate = approximate
        if approximate == "tanh":
            t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            ctx.save_for_backward(x, t)
            return 0.5 * x * (1.0 + t)
        cdf = 0.5 * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, saved = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = saved
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x)
            return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du), None
        with np.errstate(under="ignore"):  # the density of a far tail is 0: correct
            pdf = np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return g * (saved + x * pdf), None

    @staticmethod
    def backward_graph(ctx, g):
        x, saved = ctx.saved_tensors
        xt = ctx.graph_input(0, x)
        if ctx.approximate == "tanh":
            t = (_SQRT_2_OVER_PI * (xt + 0.044715 * xt * xt * xt)).tanh()
            du = _SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * xt * xt)
            return g * (0.5 * (1.0 + t) + 0.5 * xt * (1.0 - t * t) * du), None
        return g * (_NormalCDF.apply(xt) + xt * _normal_pdf(xt)), None


def _normal_pdf(x: Tensor) -> Tensor:
    """phi(x) = e^(-x^2 / 2) / sqrt(2 pi) with Tensor ops (differentiable to any order)."""
    return (x * x * -0.5).exp() * (1.0 / math.sqrt(2.0 * math.pi))


class _NormalCDF(Function):
    """y = Phi(x), the standard normal CDF   |   dx = g phi(x): GELU's differentiable backward
    needs Phi of a graph Tensor (no erf op exists). A private helper, not a registered
    primitive (its name starts with "_"); GELU's tests cover it."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * (1.0 + _erf(x * (1.0 / math.sqrt(2.0))))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(under="ignore"):
            return g * np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))

    @staticmethod
    def backward_graph(ctx, g):
        return g * _normal_pdf(ctx.graph_input(0, ctx.saved_tensors[0]))


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (PyTorch's rule)   |
    dx = g sigmoid(beta x), g where beta x > threshold"""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        bx = x * beta
        # NOTE: log1p(e^bx) = max(bx, 0) + log1p(e^-|bx|): no overflow for any bx
        with np.errstate(under="ignore"):
            soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        linear = bx > threshold
        ctx.save_for_backward(bx, linear)
        return np.where(linear, x, soft)

    @staticmethod
    def backward(ctx, g):
        bx, linear = ctx.saved_tensors
        return g * np.where(linear, 1.0, stable_sigmoid(bx)), None, None

    @staticmethod
    def backward_graph(ctx, g):
        bx, linear = ctx.saved_tensors
        beta = ctx.graph_input(1)
        # NOTE: x is not saved, beta x is: x's graph Tensor around bx / beta (within an ulp of
        # x, exactly x for beta = 1), so sigmoid sees beta x again
        bxt = ctx.graph_input(0, bx / beta) * beta
        return g * tg_where(linear, 1.0, bxt.sigmoid()), None, None


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1)   |   dx = g if x > 0 else g alpha e^x"""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        neg = np.minimum(x, 0)  # NOTE: e^x of the positive side is never formed: no overflow
        ctx.save_for_backward(x, neg)
        return np.where(x > 0, x, alpha * np.expm1(neg))

    @staticmethod
    def backward(ctx, g):
        x, neg = ctx.saved_tensors
        with np.errstate(under="ignore"):
            return g * np.where(x > 0, 1.0, ctx.alpha * np.exp(neg)), None

    @staticmethod
    def backward_graph(ctx, g):
        x, _ = ctx.saved_tensors
        pos = x > 0
        # e^x of the negative side only (min(x, 0) as a where): no inf on the positive side
        neg = tg_where(pos, 0.0, ctx.graph_input(0, x))
        return g * tg_where(pos, 1.0, ctx.alpha * neg.exp()), None


class Hardtanh(Function):
    """y = min(max(x, lo), hi)   |   dx = g where lo < x < hi (0 at the ends: PyTorch's
    hardtanh rule; clamp's gradient includes the ends, so this is not Clamp)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward((x > lo) & (x < hi))
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0], None, None

    @staticmethod
    def backward_graph(ctx, g):
        return g * ctx.saved_tensors[0].astype(g.dtype), None, None  # a constant mask


# ---------------------------------------------------------------- the F.* forms


def gelu(input: Tensor, approximate: str = "none") -> Tensor:  # noqa: A002
    """x Phi(x) with Phi the standard normal CDF, or PyTorch's tanh approximation.

    >>> import tinygrad_c2 as tg
    >>> round(tg.nn.functional.gelu(tg.tensor([1.0], dtype=tg.float64)).item(), 6)
    0.841345
    """
    if approximate not in ("none", "tanh"):
        raise OpError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """x * sigmoid(x) (swish), composed: the stable sigmoid makes it exact in both tails.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.silu(tg.tensor([0.0, -1000.0])).tolist()
    [0.0, -0.0]
    """
    return input * Sigmoid.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule).

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.softplus(tg.tensor([-1000.0, 0.0, 1000.0], dtype=tg.float64)).tolist()
    [0.0, 0.6931471805599453, 1000.0]
    """
    if beta == 0:
        raise OpError("softplus: beta must be nonzero (it divides), got 0")
    return Softplus.apply(input, beta, threshold)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:  # noqa: A002
    """x for x > 0, alpha (e^x - 1) otherwise (`inplace`: accepted, never in place)."""
    return ELU.apply(input, alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,  # noqa: A002
             inplace: bool = False) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 0 at and beyond the ends.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.hardtanh(tg.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if max_val < min_val:
        raise ValueError(f"hardtanh: max_val must be >= min_val, got min_val={min_val}, "
                         f"max_val={max_val}")
    return Hardtanh.apply(input, min_val, max_val)


def relu(input: Tensor, inplace: bool = False) -> Tensor:  # noqa: A002
    """max(x, 0).

    `inplace` (here and in every activation) is accepted for ported PyTorch code: the values
    are the same, but the input is never modified; the result is a new tensor.
    """
    return Relu.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01,  # noqa: A002
               inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (`inplace`: accepted, never in place)."""
    return LeakyRelu.apply(input, negative_slope)


def tanh(input: Tensor) -> Tensor:  # noqa: A002
    """The hyperbolic tangent."""
    return Tanh.apply(input)


def sigmoid(input: Tensor) -> Tensor:  # noqa: A002
    """1 / (1 + e^-x), without overflow for any x."""
    return Sigmoid.apply(input)


def softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """e^x / sum e^x along dim, shifted by the max for stability.

    >>> import tinygrad_c2 as tg
    >>> tg.nn.functional.softmax(tg.tensor([[0.0, 0.0]]), dim=1)
    tensor([[0.5, 0.5]])
    """
    return Softmax.apply(input, dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:  # noqa: A002
    """log(softmax(x)) computed directly (no log of a tiny probability)."""
    return LogSoftmax.apply(input, dim)

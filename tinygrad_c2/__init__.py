"""tinygrad_c2: a small reverse-mode autograd framework on numpy, with PyTorch's API, built
around deeplearning.ai Course 2 (Improving Deep Neural Networks)."""

import numpy as _np

from . import autograd, data, nn, optim, reference, rng, train, tune, utils, viz
from .capture import CapturedStep, CaptureError, capture
from .device import accelerator, backends, cuda, device, get_default_device, set_default_device
from .engine import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .function import PRIMITIVES, Function, OpError
from .functions import (  # noqa: A004 (PyTorch's names: abs, all, any, max, min, round...)
    abs,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    as_tensor,
    bmm,
    ceil,
    chunk,
    clamp,
    clip,
    clone,
    cos,
    cumsum,
    empty,
    empty_like,
    eq,
    equal,
    exp,
    expm1,
    flatten,
    flip,
    floor,
    from_numpy,
    full_like,
    gather,
    ge,
    gt,
    is_tensor,
    le,
    linspace,
    log,
    log1p,
    log_softmax,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    multinomial,
    ne,
    neg,
    norm,
    numel,
    permute,
    pow,
    prod,
    rand_like,
    randn_like,
    randperm,
    reciprocal,
    relu,
    reshape,
    round,
    rsqrt,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    std,
    sum,
    t,
    tanh,
    topk,
    transpose,
    tril,
    triu,
    trunc,
    unsqueeze,
    var,
)
from .generator import Generator
from .gradcheck import GradcheckResult, check_gradients, gradcheck, gradgradcheck
from .rng import manual_seed
from .serialization import CheckpointError, load, save
from .tensor import (
    Tensor,
    arange,
    cat,
    eye,
    float32,
    float64,
    full,
    get_default_dtype,
    int32,
    int64,
    ones,
    ones_like,
    rand,
    randn,
    set_default_dtype,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)

__version__ = "0.1.0"

# PyTorch's dtype names, as numpy dtypes (`x.dtype == tg.long`, `tg.zeros(2, dtype=tg.double)`).
# NOTE: they shadow the builtins float, int and bool in this file only, and nothing here after
# this point calls those builtins. The float16 names exist for comparisons, but no tensor holds
# float16 (a clear TypeError: tinygrad_c2 computes in float32 or float64).
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
bool = _np.bool_  # noqa: A001
float16 = half = _np.float16
uint8, int8, int16 = _np.uint8, _np.int8, _np.int16

__all__ = [
    "AnomalyError", "arange", "autograd", "inference_mode", "is_inference_mode_enabled",
    "set_grad_enabled", "capture", "CapturedStep", "CaptureError", "cat",
    "check_gradients", "CheckpointError", "data", "detect_anomaly", "enable_grad", "eye",
    "float32", "float64", "full", "Function", "Generator", "get_default_dtype", "gradcheck",
    "GradcheckResult", "gradgradcheck", "int32", "int64", "is_grad_enabled", "load",
    "manual_seed", "nn",
    "no_grad", "ones", "ones_like", "OpError", "optim", "PRIMITIVES", "rand", "randn",
    "reference", "rng", "save", "set_default_dtype", "stack", "Tensor", "tensor", "train",
    "tune", "utils", "viz", "where", "zeros", "zeros_like",
    # PyTorch's function forms (tinygrad_c2/functions.py)
    "abs", "allclose", "argmax", "argmin", "as_tensor", "bmm", "clamp", "clip", "empty",
    "empty_like", "equal", "exp", "flatten", "from_numpy", "full_like", "is_tensor",
    "linspace", "log", "log_softmax", "logsumexp", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mm", "neg", "numel", "permute", "pow", "rand_like", "randn_like", "relu",
    "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "std", "sum", "tanh", "transpose",
    "unsqueeze", "var",
    "all", "amax", "amin", "any", "argsort", "ceil", "chunk", "clone", "cos", "cumsum", "eq",
    "expm1", "flip", "floor", "gather", "ge", "gt", "le", "log1p", "lt", "masked_fill",
    "multinomial", "ne", "norm", "prod", "randperm", "reciprocal", "round", "rsqrt",
    "scatter_add", "sign", "sin", "sort", "split", "square", "t", "topk", "tril", "triu",
    "trunc",
    # PyTorch's dtype names (numpy dtypes)
    "bool", "double", "float", "float16", "half", "int", "int8", "int16", "int32", "int64",
    "long", "uint8",
    "accelerator", "backends", "cuda", "device", "get_default_device", "set_default_device",
]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

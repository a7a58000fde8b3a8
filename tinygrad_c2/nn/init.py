"""Weight initialization: PyTorch's `nn.init` formulas and the course's schemes by name.

Every function fills `tensor.data` in place and returns the tensor. Random draws come from
`tinygrad_c2.rng.generator()` (so `tg.manual_seed` makes them reproducible) unless an
explicit `generator=` (a `numpy.random.Generator`) is passed. Values are drawn in float64
and cast to the tensor's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import rng
from ..tensor import Tensor

_LINEAR_GAIN_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance stable through `nonlinearity`.

    linear/conv*/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2))
    (slope `param`, default 0.01), selu 3/4: PyTorch's table.

    >>> calculate_gain("relu") == math.sqrt(2), calculate_gain("tanh")
    (True, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR_GAIN_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(_LINEAR_GAIN_FNS)}, tanh, relu, leaky_relu, selu"
    )


def _array(tensor: Any, caller: str) -> np.ndarray:
    """The numpy array to fill: a Tensor's `.data`, or a numpy array itself."""
    array = tensor._data if isinstance(tensor, Tensor) else tensor
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{caller}: expected a Tensor or numpy array, got {type(tensor).__name__}")
    if array.dtype.kind != "f":
        raise TypeError(f"{caller}: can only fill floating-point tensors, got {array.dtype}")
    return array


def _generator(generator: np.random.Generator | None) -> np.random.Generator:
    return rng.generator() if generator is None else generator


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel): in*k and out*k.

    >>> _calculate_fan_in_and_fan_out(np.zeros((3, 5)))
    (5, 3)
    """
    shape = _array(tensor, "_calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {shape})"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, please use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str) -> float:
    """He et al.: gain / sqrt(fan), so that activations keep their variance layer to layer."""
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def _xavier_std(tensor: Any, gain: float) -> float:
    """Glorot & Bengio: gain * sqrt(2 / (fan_in + fan_out)), a compromise of both passes."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def uniform_(
    tensor: Any, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Fill with draws from U(a, b).

    >>> t = uniform_(Tensor(np.zeros(1000)), -1.0, 1.0); bool(t.abs().max() <= 1)
    True
    """
    array = _array(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_: lower bound a={a} exceeds upper bound b={b}")
    array[...] = _generator(generator).uniform(a, b, size=array.shape)
    return tensor


def normal_(
    tensor: Any,
    mean: float = 0.0,
    std: float = 1.0,
    generator: np.random.Generator | None = None,
) -> Any:
    """Fill with draws from N(mean, std^2).

    >>> normal_(Tensor(np.zeros((2, 3)))).shape
    (2, 3)
    """
    array = _array(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    array[...] = _generator(generator).normal(mean, std, size=array.shape)
    return tensor


def constant_(tensor: Any, val: float) -> Any:
    """Fill with the value `val`.

    >>> constant_(Tensor(np.zeros(2)), 0.5).data.tolist()
    [0.5, 0.5]
    """
    _array(tensor, "constant_")[...] = val
    return tensor


def zeros_(tensor: Any) -> Any:
    """Fill with 0 (biases; the course's 'zeros' scheme, which fails to break symmetry)."""
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1 (batch norm's gamma)."""
    return constant_(tensor, 1.0)


def kaiming_uniform_(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Any:
    """He et al. (2015), uniform: U(-bound, bound), bound = gain * sqrt(3 / fan) (U(-b, b)
    has std b / sqrt(3)).

    gain = calculate_gain(nonlinearity, a); fan is fan_in or fan_out by `mode`. Linear's
    default init is this with a = sqrt(5), i.e. bound = 1 / sqrt(fan_in).

    >>> w = kaiming_uniform_(Tensor(np.zeros((4, 9))), a=math.sqrt(5))
    >>> bool(w.abs().max() <= 1 / 3)
    True
    """
    array = _array(tensor, "kaiming_uniform_")
    if array.size == 0:
        return tensor  # nothing to fill, and fan would be 0
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    array[...] = _generator(generator).uniform(-bound, bound, size=array.shape)
    return tensor


def kaiming_normal_(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Any:
    """He et al. (2015), normal: N(0, std^2), std = gain / sqrt(fan).

    With nonlinearity='relu' and mode='fan_in' this is the course's He init,
    N(0, 1) * sqrt(2 / fan_in).

    >>> kaiming_normal_(Tensor(np.zeros((3, 4))), nonlinearity="relu").shape
    (3, 4)
    """
    array = _array(tensor, "kaiming_normal_")
    if array.size == 0:
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    array[...] = _generator(generator).normal(0.0, std, size=array.shape)
    return tensor


def xavier_uniform_(
    tensor: Any, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Glorot & Bengio (2010), uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).

    >>> w = xavier_uniform_(Tensor(np.zeros((2, 4)))); bool(w.abs().max() <= 1)
    True
    """
    array = _array(tensor, "xavier_uniform_")
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    array[...] = _generator(generator).uniform(-bound, bound, size=array.shape)
    return tensor


def xavier_normal_(
    tensor: Any, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Glorot & Bengio (2010), normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    NOTE: this is not the course's 'xavier' scheme (sqrt(1 / fan_in)); see `apply_`.

    >>> xavier_normal_(Tensor(np.zeros((3, 4)))).shape
    (3, 4)
    """
    array = _array(tensor, "xavier_normal_")
    std = _xavier_std(tensor, gain)
    array[...] = _generator(generator).normal(0.0, std, size=array.shape)
    return tensor


# ---- the course's schemes -----------------------------------------------------------------

SCHEMES = ("zeros", "random", "he", "xavier")
RANDOM_SCALE = 10.0


def course_init_(
    weight: Any,
    scheme: str,
    scale: float | None = None,
    generator: np.random.Generator | None = None,
) -> Any:
    """Fill a weight matrix (out, in) the way the course's `initialize_parameters` does.

    - 'zeros':  W = 0 (every hidden unit stays identical: symmetry is never broken)
    - 'random': W = N(0, 1) * scale, scale 10 by default: the course's "large random"
      experiment (`np.random.randn(...) * 10`), which makes sigmoid outputs saturate. The
      notes only warn "don't initialize to values that are too large" without a number;
      pass scale=0.01 for the "small random numbers" of the CS231n-style notes.
    - 'he':     W = N(0, 1) * sqrt(2 / fan_in)  (He et al.; for ReLU networks)
    - 'xavier': W = N(0, 1) * sqrt(1 / fan_in)  (the course's definition. NOTE: Glorot's,
      PyTorch's `xavier_normal_`, uses sqrt(2 / (fan_in + fan_out)) instead)

    `scale` only applies to 'random'. fan_in is the number of columns (n[l-1]).

    >>> w = course_init_(Tensor(np.zeros((3, 4))), "zeros"); float(w.abs().sum())
    0.0
    """
    array = _array(weight, "course_init_")
    if scheme not in SCHEMES:
        raise ValueError(f"course_init_: unknown scheme {scheme!r}; expected one of {SCHEMES}")
    if scale is not None and scheme != "random":
        raise ValueError(f"course_init_: scale only applies to the 'random' scheme, not {scheme!r}")
    if scheme == "zeros":
        return zeros_(weight)
    if array.ndim != 2:
        raise ValueError(
            f"course_init_: expected a weight matrix of shape (out, in), got shape {array.shape}"
        )
    fan_in = array.shape[1]
    if scheme == "random":
        factor = RANDOM_SCALE if scale is None else scale
    elif scheme == "he":
        factor = math.sqrt(2.0 / fan_in)
    else:
        factor = math.sqrt(1.0 / fan_in)
    array[...] = _generator(generator).standard_normal(array.shape) * factor
    return weight


def apply_(
    model: Any,
    scheme: str,
    scale: float | None = None,
    generator: np.random.Generator | None = None,
) -> Any:
    """Re-initialize every Linear layer of `model` with a course scheme; biases become 0.

    Layers are filled in the order `model.modules()` visits them (the order of
    `named_parameters`). Other layers keep their init (BatchNorm1d: gamma 1, beta 0).
    Returns the model, so a network can be built and initialized in one line.

    >>> from tinygrad_c2 import nn
    >>> model = nn.init.apply_(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), "he")
    >>> float(model[0].bias.abs().sum())
    0.0
    """
    from .modules.linear import Linear  # noqa: PLC0415 (layers import this module)

    if scheme not in SCHEMES:
        raise ValueError(f"init.apply_: unknown scheme {scheme!r}; expected one of {SCHEMES}")
    for module in model.modules():
        if isinstance(module, Linear):
            course_init_(module.weight, scheme, scale=scale, generator=generator)
            if module.bias is not None:
                zeros_(module.bias)
    return model

"""Every built-in primitive, one family a file (forward and backward side by side, numpy only).

Tensor methods call them as `ops.Name.apply(...)`; the Function mechanism they share lives in
function.py.
"""

from ..function import OpError
from .elementwise import (
    Abs,
    Add,
    Cast,
    Clamp,
    Compare,
    Div,
    Exp,
    LeakyRelu,
    Log,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sqrt,
    Sub,
    Tanh,
    Where,
    sign,
    stable_sigmoid,
)
from .index import Index, split_index
from .linalg import MatMul
from .movement import Cat, Expand, Permute, Reshape
from .reduce import (
    ArgMax,
    ArgMin,
    LogSoftmax,
    LogSumExp,
    Max,
    Min,
    Softmax,
    Std,
    Sum,
    log_softmax_array,
    max_keepdims,
)

__all__ = [
    "Abs", "Add", "ArgMax", "ArgMin", "Cast", "Cat", "Clamp", "Compare", "Div", "Exp", "Expand",
    "Index", "LeakyRelu", "Log", "LogSoftmax", "LogSumExp", "MatMul", "Max", "Maximum", "Min",
    "Minimum", "Mul", "Neg", "OpError", "Permute", "Pow", "Relu", "Reshape", "Sigmoid", "Softmax",
    "Sqrt", "Std", "Sub", "Sum", "Tanh", "Where", "log_softmax_array", "max_keepdims", "sign",
    "split_index", "stable_sigmoid",
]

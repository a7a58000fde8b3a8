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
    Cos,
    Div,
    Exp,
    Expm1,
    LeakyRelu,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sin,
    Sqrt,
    Step,
    Sub,
    Tanh,
    Where,
    sign,
    sign_of,
    stable_sigmoid,
)
from .index import ArgSort, Gather, Index, ScatterAdd, along, split_index
from .linalg import MatMul
from .movement import Cat, Expand, Flip, Permute, Reshape
from .reduce import (
    AMax,
    AMin,
    ArgMax,
    ArgMin,
    CumSum,
    LogSoftmax,
    LogSumExp,
    Max,
    Min,
    Norm,
    Prod,
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
    # PyTorch's Tensor methods (issue 14)
    "AMax", "AMin", "ArgSort", "Cos", "CumSum", "Expm1", "Flip", "Gather", "Log1p", "Norm", "Prod",
    "ScatterAdd", "Sin", "Step", "along", "sign_of",
]

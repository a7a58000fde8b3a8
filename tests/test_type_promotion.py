"""Result dtypes follow PyTorch's type promotion, casts to integers or bools are not
differentiable, and a matmul or Linear of mixed dtypes raises naming both dtypes and the fix.

The promotion table runs every operand kind (dimensioned and 0-d tensors of bool, int32,
int64, float32, float64; Python and numpy scalars) against every other through each binary op,
and every tensor kind through each float op, and compares the dtype and the values with torch.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")

TENSOR_KINDS = {
    "f32[3]": np.array([0.5, 1.5, 2.5], np.float32),
    "f64[3]": np.array([0.5, 1.5, 2.5], np.float64),
    "i64[3]": np.array([1, 2, 3], np.int64),
    "i32[3]": np.array([1, 2, 3], np.int32),
    "bool[3]": np.array([True, False, True]),
    "f32[]": np.array(1.5, np.float32),
    "f64[]": np.array(1.5, np.float64),
    "i64[]": np.array(2, np.int64),
    "i32[]": np.array(2, np.int32),
    "bool[]": np.array(True),
}
SCALARS = {"2.5": 2.5, "2": 2, "True": True, "np.float64(2.5)": np.float64(2.5),
           "np.float32(2.5)": np.float32(2.5), "np.int64(2)": np.int64(2)}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: a.maximum(b) if hasattr(a, "maximum") else None,
    "minimum": lambda a, b: a.minimum(b) if hasattr(a, "minimum") else None,
}
UNARY = {"exp": "exp", "log": "log", "sqrt": "sqrt", "sigmoid": "sigmoid", "tanh": "tanh"}


def _ours(kind: str):
    return tg.tensor(TENSOR_KINDS[kind]) if kind in TENSOR_KINDS else SCALARS[kind]


def _theirs(kind: str):
    return torch.from_numpy(TENSOR_KINDS[kind].copy()) if kind in TENSOR_KINDS else SCALARS[kind]


def _dtype(t) -> np.dtype:
    return np.dtype(str(t.dtype).replace("torch.", ""))


def _compare(name, ours_fn, torch_fn) -> list[str]:
    """[] if torch raises or both agree on dtype and values; else a line saying what differs."""
    try:
        expected = torch_fn()
    except (RuntimeError, TypeError, NotImplementedError):
        return []
    if expected is None:
        return []
    with np.errstate(all="ignore"):  # 1 / 0 and log(0) warn in numpy; the dtype is the question
        got = ours_fn()
    if got.dtype != _dtype(expected):
        return [f"{name}: {got.dtype}, torch {expected.dtype}"]
    if not np.allclose(got.data, expected.numpy(), rtol=1e-6, equal_nan=True):
        return [f"{name}: values {got.data} vs torch {expected.numpy()}"]
    return []


@pytest.mark.parametrize("op", BINARY)
def test_binary_ops_promote_every_operand_pair_as_pytorch(op):
    fn = BINARY[op]
    bad = []
    kinds = [*TENSOR_KINDS, *SCALARS]
    for a, b in itertools.product(kinds, kinds):
        if a in SCALARS and (b in SCALARS or op in ("maximum", "minimum")):
            continue  # no tensor operand, or no reflected method
        if b in SCALARS and op in ("maximum", "minimum"):
            continue  # torch.maximum takes tensors only
        bad += _compare(f"{a} {op} {b}", lambda a=a, b=b: fn(_ours(a), _ours(b)),
                        lambda a=a, b=b: fn(_theirs(a), _theirs(b)))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("op", UNARY)
def test_float_ops_of_integer_and_bool_tensors_give_the_default_float_dtype(op):
    bad = []
    for kind in TENSOR_KINDS:
        bad += _compare(f"{op}({kind})", lambda k=kind: getattr(_ours(k), op)(),
                        lambda k=kind: getattr(_theirs(k), op)())
    assert not bad, "\n".join(bad)


def test_where_promotes_its_two_branches_as_pytorch():
    bad = []
    kinds = [*TENSOR_KINDS, *SCALARS]
    cond = np.array([True, False, True])
    for a, b in itertools.product(kinds, kinds):
        bad += _compare(f"where(c, {a}, {b})", lambda a=a, b=b: tg.where(tg.tensor(cond),
                                                                          _ours(a), _ours(b)),
                        lambda a=a, b=b: torch.where(torch.from_numpy(cond), _theirs(a),
                                                     _theirs(b)))
    assert not bad, "\n".join(bad)


def test_the_cases_of_the_issue_give_float32():
    assert (tg.tensor(1) + 0.5).dtype == np.float32
    assert (tg.tensor(1) + 0.5).item() == 1.5
    assert tg.tensor(2).exp().dtype == np.float32
    assert tg.tensor([1, 2]).maximum(tg.tensor([1.5, 0.5])).dtype == np.float32
    assert (tg.tensor([1, 2]) / tg.tensor([2, 2])).dtype == np.float32
    for op in ("softmax", "log_softmax"):  # torch refuses ints here; we compute in float32
        out = getattr(tg.tensor([[1, 2, 3]]), op)(1)
        assert out.dtype == np.float32
        ref = getattr(torch.tensor([[1.0, 2.0, 3.0]]), op)(1).numpy()
        np.testing.assert_allclose(out.data, ref, rtol=1e-6)


def test_float32_stays_float32_with_python_and_numpy_scalars_and_0d_float64_tensors():
    x = tg.tensor([1.0, 2.0])
    for other in (2.5, 2, np.float64(2.5), tg.tensor(np.float64(2.5)),
                  tg.tensor(np.array(2.5))):
        assert (x * other).dtype == np.float32, other
        assert (other * x).dtype == np.float32, other
    assert (x * tg.tensor(np.array([2.5, 1.0]))).dtype == np.float64  # dimensioned float64 wins


def test_a_promoted_op_backpropagates_in_each_leafs_dtype():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    s = tg.tensor(np.float64(3.0), requires_grad=True)  # a 0-d float64 leaf
    y = x * s
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and s.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    np.testing.assert_allclose(s.grad.data, 3.0)


CASTS = {  # ours, torch's
    "astype(int64)": (lambda x: x.astype(tg.int64), lambda x: x.to(torch.int64)),
    "astype('int32')": (lambda x: x.astype("int32"), lambda x: x.to(torch.int32)),
    "to(np.int64)": (lambda x: x.to(np.int64), lambda x: x.to(torch.int64)),
    "long": (lambda x: x.long(), lambda x: x.long()),
    "int": (lambda x: x.int(), lambda x: x.int()),
    "bool": (lambda x: x.bool(), lambda x: x.bool()),
}


@pytest.mark.parametrize("cast", CASTS)
def test_a_cast_to_integers_or_bools_does_not_require_grad(cast):
    ours, theirs = CASTS[cast]
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    y = ours(x)
    assert not y.requires_grad and y.grad_fn is None
    assert not theirs(torch.tensor([1.5, -2.0], requires_grad=True)).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        (y * 3).sum().backward()
    assert x.grad is None


def test_integer_and_bool_casts_give_pytorchs_values():
    x = tg.tensor([1.7, -2.7, 0.0])
    assert x.long().tolist() == [1, -2, 0] and x.long().dtype == np.int64
    assert x.int().dtype == np.int32 and x.bool().tolist() == [True, True, False]


def test_a_float_to_float_cast_stays_differentiable():
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    x.double().sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("X, fix", [(np.ones((2, 3)), r"X\.float\(\).*model\.double\(\)"),
                                    (np.ones((2, 3), np.int64), r"X\.float\(\)")],
                         ids=["float64", "int64"])
def test_a_float32_linear_on_float64_or_int_input_raises_naming_both_dtypes_and_the_fix(X, fix):
    model = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="mat1 and mat2"):  # torch raises a RuntimeError
        torch.nn.Linear(3, 2)(torch.from_numpy(X))
    with pytest.raises(RuntimeError, match=rf"^linear: .*{X.dtype}.*float32.*{fix}"):
        model(tg.tensor(X))
    assert model(tg.tensor(X, dtype=tg.float32)).dtype == np.float32
    assert model(tg.tensor(X).float()).dtype == np.float32
    if X.dtype == np.float64:
        assert model.double()(tg.tensor(X)).dtype == np.float64


def test_a_matmul_of_mixed_dtypes_raises_as_pytorch():
    a, b = np.ones((2, 3), np.float32), np.ones((3, 2))
    with pytest.raises(RuntimeError, match="same dtype"):
        torch.from_numpy(a) @ torch.from_numpy(b)
    with pytest.raises(RuntimeError, match=r"^MatMul: .*float32 @ float64"):
        tg.tensor(a) @ tg.tensor(b)
    with pytest.raises(ValueError, match=r"^MatMul: .*int64"):
        tg.tensor(a) @ tg.tensor(np.ones((3, 2), np.int64))
    assert (tg.tensor(a) @ tg.tensor(b.astype(np.float32))).dtype == np.float32


def test_a_user_function_may_still_return_a_list():
    class Twice(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2).tolist()

        @staticmethod
        def backward(ctx, g):
            return g * 2

    assert Twice.apply(tg.tensor([1.5])).tolist() == [3.0]

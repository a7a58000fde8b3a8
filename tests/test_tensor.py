"""Tensor construction, the dtype policy, the API surface and the errors bad input gets."""

import numpy as np
import pytest

import tinygrad_c2 as tg


def test_python_floats_become_float32_and_ints_int64():
    assert tg.tensor([1.0, 2.0]).dtype == np.float32
    assert tg.tensor(3.0).dtype == np.float32
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor([1.0], dtype="float64").dtype == np.float64


def test_numpy_arrays_keep_their_dtype_and_are_not_copied():
    a = np.arange(3, dtype=np.int32)
    t = tg.Tensor(a)
    assert t.dtype == np.int32 and t.numpy() is a
    f = np.ones(2)
    assert tg.Tensor(f).numpy() is f and tg.Tensor(f).dtype == np.float64


def test_set_default_dtype_changes_what_python_floats_become():
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.tensor([1.0]).dtype == np.float64 and tg.zeros(2).dtype == np.float64
    finally:
        tg.set_default_dtype(tg.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        tg.set_default_dtype("int64")


def test_only_float_tensors_can_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors.*int64"):
        tg.tensor([1, 2], requires_grad=True)


def test_object_data_is_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="cannot make a tensor from dict"):
        tg.tensor({"a": 1})


def test_factories_shapes_dtypes_and_seeding():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.ones((4,)).tolist() == [1.0] * 4
    assert tg.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert tg.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert tg.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    tg.manual_seed(7)
    a, r = tg.randn(3, 4).numpy().copy(), tg.rand(5).numpy().copy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(tg.randn(3, 4).numpy(), a)
    np.testing.assert_array_equal(tg.rand(5).numpy(), r)
    assert 0 <= r.min() and r.max() < 1
    z = tg.zeros_like(tg.tensor(np.ones(2, np.float64)))
    assert z.dtype == np.float64 and tg.ones_like(z).tolist() == [1.0, 1.0]


def test_attributes_and_conversions():
    t = tg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert t.shape == (1, 3) and t.ndim == 2 and t.is_leaf and t.grad_fn is None
    assert t.T.shape == (3, 1) and t.size(1) == 3 and t.numel() == 3 and len(t) == 1
    assert t.sum().item() == 6.0 and float(t.sum()) == 6.0
    assert t.tolist() == [[1.0, 2.0, 3.0]]
    assert not (t * 2).is_leaf
    with pytest.raises(ValueError, match=r"one-element tensor.*\(1, 3\)"):
        t.item()


def test_data_and_grad_are_assignable():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    t.data = np.array([5.0, 6.0], dtype=np.float32)
    (t * t).sum().backward()
    assert t.grad.tolist() == [10.0, 12.0]
    t.grad = None
    assert t.grad is None


def test_numpy_array_on_the_left_defers_to_the_tensor():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([2.0, 3.0]) * t
    assert isinstance(y, tg.Tensor) and y.requires_grad
    assert isinstance(np.ones(2) + t, tg.Tensor)
    assert isinstance(np.ones((2, 2), np.float32) @ t, tg.Tensor)  # matmul needs equal dtypes


def test_comparisons_return_boolean_tensors_without_grad():
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert (a > 1.5).tolist() == [False, True, True]
    assert (a == tg.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]
    assert (a <= 2).dtype == np.bool_ and not (a < 2).requires_grad
    assert {a: 1}[a] == 1  # tensors hash by identity


def test_max_and_min_over_a_dim_return_values_and_indices_like_pytorch():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(0).indices.tolist() == [0, 1, 0]
    assert x.max().item() == 7.0 and x.argmax().item() == 3
    assert x.argmax(1, keepdim=True).shape == (2, 1)
    other = tg.tensor([[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]])
    assert x.max(other).tolist() == [[2.0, 5.0, 2.0], [7.0, 2.0, 3.0]]


def test_max_over_all_elements_shares_the_gradient_between_ties():
    x = tg.tensor([3.0, 1.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


def test_reductions_accept_numpy_aliases():
    x = tg.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(axis=1, keepdims=True).shape == (2, 1)
    assert x.mean(dim=(0, 1)).item() == 2.5
    assert x.var(axis=0).tolist() == [4.5, 4.5, 4.5]
    with pytest.raises(TypeError, match="dim or axis, not both"):
        x.sum(dim=0, axis=1)


def test_repeated_integer_indices_accumulate_gradients():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


def test_setitem_refuses_tensors_in_the_graph():
    t = tg.zeros(3)
    t[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    with pytest.raises(RuntimeError, match="item assignment"):
        tg.zeros(3, requires_grad=True)[0] = 1.0


def test_repr_looks_like_pytorch():
    assert repr(tg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(tg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<Mul>" in repr(tg.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(tg.tensor(np.ones(1)))


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: tg.ones(2, 3) + tg.ones(4), ValueError, r"^Add: .*\(2, 3\), \(4,\)"),
        (lambda: tg.ones(2, 3) * tg.ones(3, 2), ValueError, r"^Mul: .*\(2, 3\), \(3, 2\)"),
        (lambda: tg.ones(2, 3) @ tg.ones(2, 3), ValueError,
         r"MatMul: shapes \(2, 3\) @ \(2, 3\) do not match: the inner dimensions 3 and 2"),
        (lambda: tg.ones(2) @ tg.tensor(1.0), ValueError, "at least 1 dimension"),
        (lambda: tg.ones(2, 3).reshape(4, 2), ValueError,
         r"Reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as shape \(4, 2\)"),
        (lambda: tg.ones(2, 3).sum(dim=2), IndexError, r"^Sum: axis 2 is out of bounds.*\(2, 3\)"),
        (lambda: tg.ones(2, 3).mean(dim=5), IndexError, r"mean: dim 5 is out of range.*\(2, 3\)"),
        (lambda: tg.ones(3)[5], IndexError, r"^Index: index 5 is out of bounds.*\(3,\)"),
        (lambda: tg.ones(3, 1).expand(3, 4, 2), ValueError, r"Expand: cannot expand shape"),
        (lambda: tg.ones(2, 3).permute(0, 0), ValueError, "not a permutation"),
        (lambda: tg.cat([tg.ones(2, 3), tg.ones(2, 4)]), ValueError, r"^Cat: .*\(2, 3\), \(2, 4\)"),
        (lambda: tg.stack([tg.ones(2), tg.ones(3)]), ValueError, "same shape"),
        (lambda: tg.ones(3).clamp(), ValueError, "Clamp: at least one of min and max"),
        (lambda: tg.ones(1, 4).var(dim=0), ValueError, "var: 1 element.*correction=1"),
        (lambda: tg.zeros(0).max(), ValueError, r"Max: cannot reduce an empty tensor"),
        (lambda: tg.ones(2).unsqueeze(3), IndexError, "unsqueeze: dim 3 out of range"),
        (lambda: bool(tg.ones(2)), ValueError, "ambiguous"),
    ],
)
def test_bad_input_gets_an_error_naming_the_op_and_the_shapes(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


def test_manual_seed_rejects_non_integers():
    with pytest.raises(TypeError, match="integer seed"):
        tg.manual_seed(1.5)

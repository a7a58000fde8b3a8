"""Shapes and reductions at the edges, against PyTorch: 0-d tensors reduced over dim 0 / -1,
empty tensors, negative permutations, flatten's dim order, logsumexp at +-inf, and the errors
bad dims, sizes and steps get."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")

INF = np.inf

# name -> the same reduction in both libraries (max/min give (values, indices) over a dim)
ZERO_D = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean(d, keepdim=k),
    "logsumexp": lambda x, d, k: x.logsumexp(d, keepdim=k),
    "max": lambda x, d, k: x.max(d, keepdim=k)[0],
    "min": lambda x, d, k: x.min(d, keepdim=k)[0],
    "var_biased": lambda x, d, k: x.var(d, keepdim=k, correction=0),
    "softmax": lambda x, d, k: x.softmax(d),
    "log_softmax": lambda x, d, k: x.log_softmax(d),
}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, -1, (0,), ()])
@pytest.mark.parametrize("name", ZERO_D)
def test_reductions_of_a_0d_tensor_over_dim_0_or_minus_1_match_torch(name, dim, keepdim):
    if name in ("softmax", "log_softmax") and not isinstance(dim, int):
        pytest.skip("softmax takes one int dim")
    if name in ("max", "min") and not isinstance(dim, int):
        pytest.skip("max over a dim takes one int")
    if name == "logsumexp" and dim == ():
        pytest.skip("torch refuses logsumexp(dim=()) with a broadcast error")
    x = tg.tensor(np.float64(1.5), requires_grad=True)
    tx = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    y, ty = ZERO_D[name](x, dim, keepdim), ZERO_D[name](tx, dim, keepdim)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.backward()
    ty.backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def test_max_of_a_0d_tensor_over_dim_0_returns_index_0_as_torch():
    values, indices = tg.tensor(2.0).max(0)
    assert values.item() == 2.0 and indices.item() == 0 and indices.shape == ()
    assert tg.tensor(2.0).argmax(0).item() == 0 and tg.tensor(2.0).argmin(-1).item() == 0


def test_var_of_a_0d_tensor_with_bessels_correction_refuses_as_for_one_element():
    with pytest.raises(ValueError, match=r"^var: 1 element\(s\)"):
        tg.tensor(2.0).var(0)


@pytest.mark.parametrize("dim", [1, -2, (1,)])
def test_a_0d_tensor_has_no_dim_1(dim):
    for f in (lambda x: x.mean(dim), lambda x: x.logsumexp(dim), lambda x: x.sum(dim),
              lambda x: x.argmax(dim if isinstance(dim, int) else dim[0]),
              lambda x: x.max(dim if isinstance(dim, int) else dim[0])):
        with pytest.raises(IndexError, match=r"dim .* out of range|axis .* out of bounds"):
            f(tg.tensor(2.0))


@pytest.mark.parametrize("dims", [(-1, 0, -2), (2, -3, 1), (-3, -2, -1)])
def test_permute_with_negative_dims_backpropagates_like_torch(dims):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    x, tx = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = x.permute(*dims), tx.permute(*dims)
    cot = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * cot).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_permute_with_a_dim_out_of_range_raises_index_error():
    with pytest.raises(IndexError, match=r"^permute: dim 5 is out of range"):
        tg.ones(2, 3).permute(0, 5)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_mean_of_an_empty_tensor_is_nan_with_an_empty_gradient_like_torch(dim):
    x = tg.zeros(0, 3, requires_grad=True)
    tx = torch.zeros(0, 3, requires_grad=True)
    y, ty = x.mean(dim), tx.mean(dim) if dim is not None else tx.mean()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())  # nan where torch is nan
    assert y.dtype == np.float32
    y.sum().backward()
    ty.sum().backward()
    assert x.grad.shape == (0, 3) == tuple(tx.grad.shape)


def test_flatten_with_start_dim_after_end_dim_raises_as_torch():
    with pytest.raises(RuntimeError):
        torch.ones(2, 3).flatten(1, 0)
    with pytest.raises(ValueError, match=r"^flatten: start_dim 1 comes after end_dim 0"):
        tg.ones(2, 3).flatten(1, 0)
    assert tg.ones(2, 3).flatten(-1, 1).shape == (2, 3)  # the same dim, from both ends
    assert tg.tensor(1.0).flatten(-1, 0).shape == (1,)


# ------------------------------------------------------------------ logsumexp


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", [
    [-INF, -INF], [INF, 1.0], [INF, -INF], [INF, INF], [np.nan, 1.0], [1e4, 0.0, -1e4],
    [-1e30, 3.0], [-INF, 2.0],
])
def test_logsumexp_at_infinities_matches_torch_values_and_gradients(row, dtype):
    x = tg.tensor(np.array([row, [0.5] * len(row)], dtype), requires_grad=True)
    tx = torch.tensor(np.array([row, [0.5] * len(row)], dtype), requires_grad=True)
    y, ty = x.logsumexp(1), tx.logsumexp(1)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6)
    y.backward(np.array([0.7, -1.3], dtype))
    ty.backward(torch.tensor([0.7, -1.3], dtype=ty.dtype))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_gradient_of_tied_huge_logits_is_the_exact_softmax(dtype):
    # NOTE: torch computes exp(x - y) with y = 1e30 + log 2 rounded to 1e30, so it returns 1
    # for each of the two tied logits (gradients summing to 2, not 1); ours is the softmax.
    x = tg.tensor(np.array([1e30, 1e30], dtype), requires_grad=True)
    y = x.logsumexp(0)
    y.backward()
    assert y.item() == dtype(1e30)
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.5])


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_logsumexp_of_an_empty_tensor_is_minus_inf_like_torch(dim):
    x = tg.zeros(0, 3, requires_grad=True)
    tx = torch.zeros(0, 3, requires_grad=True)
    y = x.logsumexp(dim)
    ty = tx.logsumexp(dim if dim is not None else (0, 1))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_logsumexp_is_one_primitive_whose_shift_is_computed_inside_forward():
    x = tg.tensor([[1.0, 2.0], [3.0, 1e4]], requires_grad=True)
    y = x.logsumexp(1)
    assert y.grad_fn.name() == "LogSumExp" and y.grad_fn.parents == (x, 1, False)
    np.testing.assert_allclose(y.numpy(), [np.logaddexp(1.0, 2.0), 1e4], rtol=1e-6)


# ------------------------------------------------------------------ empty max / argmax


def test_max_and_argmax_over_an_empty_dim_raise_index_error_naming_the_op_as_torch():
    with pytest.raises(IndexError):
        torch.zeros(0, 3).argmax(0)
    with pytest.raises(IndexError, match=r"^argmax: cannot take the argmax of an empty tensor"):
        tg.zeros(0, 3).argmax(0)
    with pytest.raises(IndexError, match=r"^argmin: .*empty tensor of shape \(0, 3\)"):
        tg.zeros(0, 3).argmin()
    with pytest.raises(IndexError, match=r"^Max: cannot reduce dim 0 of size 0"):
        tg.zeros(0, 3).max(0)


def test_max_over_a_nonempty_dim_of_an_empty_tensor_is_empty_as_torch():
    x = tg.zeros(0, 3, requires_grad=True)
    values, indices = x.max(1)
    assert values.shape == (0,) and indices.shape == (0,) and indices.dtype == np.int64
    values.sum().backward()
    assert x.grad.shape == (0, 3)
    assert tg.zeros(0, 3).argmax(1).shape == (0,)


# ------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.ones(2, 3).sum(dim=1.0), r"^sum: dim must be an int or a tuple of ints, got 1.0"),
    (lambda: tg.ones(2, 3).mean(dim=1.0), r"^mean: dim must be an int .*got 1.0"),
    (lambda: tg.ones(2, 3).sum(dim=(0, 1.0)), r"^sum: dim must be .*got \(0, 1.0\)"),
    (lambda: tg.ones(2, 3).logsumexp(1.0), r"^logsumexp: dim must be .*got 1.0"),
    (lambda: tg.ones(2, 3).argmax(1.0), r"^argmax: dim must be an int, got 1.0"),
    (lambda: tg.ones(2, 3).sum(dim=True), r"^sum: dim must be .*got True"),
    (lambda: tg.randn(2.5), r"^randn: size must be ints, got 2.5 \(float\)"),
    (lambda: tg.zeros(2.5), r"^zeros: size must be ints, got 2.5 \(float\)"),
    (lambda: tg.ones((2, 2.5)), r"^ones: size must be ints, got 2.5 \(float\)"),
    (lambda: tg.rand("3"), r"^rand: size must be ints, got '3' \(str\)"),
    (lambda: tg.full((2.5,), 1.0), r"^full: size must be ints, got 2.5 \(float\)"),
    (lambda: tg.cat([[1.0, 2.0], [3.0]]), r"^cat: expected a sequence of Tensors, element 0 is "
                                          r"a list"),
    (lambda: tg.cat(tg.ones(2, 3)), r"^cat: expected a sequence of Tensors, got one Tensor"),
    (lambda: tg.stack([tg.ones(2), "ab"]), r"^stack: expected a sequence of Tensors, element 1 "
                                           r"is a str"),
])
def test_bad_argument_types_raise_type_error_naming_the_op_and_the_argument(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


@pytest.mark.parametrize("call, tcall, pattern", [
    (lambda: tg.arange(0, 5, 0), lambda: torch.arange(0, 5, 0), r"^arange: step must be nonzero"),
    (lambda: tg.arange(0, 5, step=0.0), lambda: torch.arange(0, 5, 0.0), r"^arange: step must"),
    (lambda: tg.arange(5, 0), lambda: torch.arange(5, 0),
     r"^arange: the range 5 to 0 is inconsistent with step 1"),
    (lambda: tg.arange(0, 5, -1), lambda: torch.arange(0, 5, -1), r"^arange: the range 0 to 5"),
    (lambda: tg.arange(0, np.inf), lambda: torch.arange(0, np.inf), r"^arange: .*inf.* finite"),
    (lambda: tg.zeros(2, -1), lambda: torch.zeros(2, -1),
     r"^zeros: size must be non-negative, got \(2, -1\)"),
    (lambda: tg.ones(2, 3).sum((0, -2)), lambda: torch.ones(2, 3).sum((0, -2)),
     r"^Sum: duplicate value in 'axis'"),
])
def test_bad_argument_values_raise_value_error_where_torch_raises(call, tcall, pattern):
    with pytest.raises(RuntimeError):
        tcall()
    with pytest.raises(ValueError, match=pattern):
        call()


def test_an_empty_dim_tuple_reduces_over_every_dim_as_torch():
    a = np.arange(6.0).reshape(2, 3)
    assert tg.tensor(a).sum(()).item() == torch.tensor(a).sum(()).item() == 15.0
    assert tg.tensor(a).mean(dim=[]).item() == torch.tensor(a).mean(dim=[]).item() == 2.5


def test_arange_keeps_working_for_ordinary_ranges():
    assert tg.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert tg.arange(0).tolist() == [] and tg.arange(2, 2).tolist() == []
    assert tg.arange(0.0, 1.0, 0.25).dtype == np.float32

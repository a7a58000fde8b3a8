"""PyTorch's top-level function forms (tinygrad_c2/functions.py) against torch: values, dtypes,
gradients through a random cotangent, and the errors."""

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _pos(*shape):
    return RNG.uniform(0.5, 2.0, shape)


def _any(*shape):
    return RNG.standard_normal(shape)


# (name, args builder -> list of arrays, extra positional args, keyword args)
DIFFERENTIABLE = [
    ("exp", lambda: [_any(3)], (), {}),
    ("exp", lambda: [_any(2, 3)], (), {}),
    ("log", lambda: [_pos(2, 3)], (), {}),
    ("sqrt", lambda: [_pos(4)], (), {}),
    ("abs", lambda: [_any(2, 3)], (), {}),
    ("neg", lambda: [_any(2, 3)], (), {}),
    ("sigmoid", lambda: [_any(2, 3)], (), {}),
    ("tanh", lambda: [_any(5)], (), {}),
    ("relu", lambda: [_any(2, 3)], (), {}),
    ("clamp", lambda: [_any(2, 3)], (-0.5, 0.5), {}),
    ("clamp", lambda: [_any(2, 3)], (), {"min": 0.1}),
    ("clip", lambda: [_any(2, 3)], (), {"max": 0.2}),
    ("maximum", lambda: [_any(2, 3), _any(2, 3)], (), {}),
    ("minimum", lambda: [_any(2, 3), _any(3)], (), {}),
    ("pow", lambda: [_pos(2, 3)], (3,), {}),
    ("pow", lambda: [_pos(2, 3), _any(2, 3)], (), {}),
    ("softmax", lambda: [_any(2, 3)], (1,), {}),
    ("softmax", lambda: [_any(2, 3)], (), {"dim": 0}),
    ("log_softmax", lambda: [_any(4, 3)], (-1,), {}),
    ("sum", lambda: [_any(2, 3)], (), {}),
    ("sum", lambda: [_any(2, 3, 4)], (1,), {"keepdim": True}),
    ("sum", lambda: [_any(2, 3, 4)], ((0, 2),), {}),
    ("mean", lambda: [_any(2, 3)], (), {"dim": 0}),
    ("mean", lambda: [_any(2, 3)], (), {}),
    ("max", lambda: [_any(2, 3)], (), {}),
    ("max", lambda: [_any(2, 3), _any(2, 3)], (), {}),
    ("min", lambda: [_any(3, 4)], (), {}),
    ("logsumexp", lambda: [_any(2, 3)], (1,), {}),
    ("logsumexp", lambda: [_any(2, 3)], (), {"dim": 0, "keepdim": True}),
    ("var", lambda: [_any(3, 4)], (), {}),
    ("var", lambda: [_any(3, 4)], (1,), {"correction": 0}),
    ("var", lambda: [_any(3, 4)], (0, False), {}),
    ("std", lambda: [_any(3, 4)], (), {"dim": 1, "keepdim": True}),
    ("matmul", lambda: [_any(2, 3), _any(3, 4)], (), {}),
    ("matmul", lambda: [_any(5, 2, 3), _any(3, 4)], (), {}),
    ("matmul", lambda: [_any(3), _any(3)], (), {}),
    ("mm", lambda: [_any(2, 3), _any(3, 4)], (), {}),
    ("bmm", lambda: [_any(5, 2, 3), _any(5, 3, 4)], (), {}),
    ("reshape", lambda: [_any(2, 3)], ((3, 2),), {}),
    ("reshape", lambda: [_any(2, 3)], ((-1,),), {}),
    ("flatten", lambda: [_any(2, 3, 4)], (), {}),
    ("flatten", lambda: [_any(2, 3, 4)], (), {"start_dim": 1}),
    ("transpose", lambda: [_any(2, 3, 4)], (0, 2), {}),
    ("permute", lambda: [_any(2, 3, 4)], ((2, 0, 1),), {}),
    ("squeeze", lambda: [_any(2, 1, 3)], (), {}),
    ("squeeze", lambda: [_any(1, 2, 1)], (0,), {}),
    ("unsqueeze", lambda: [_any(2, 3)], (-1,), {}),
    ("where", lambda: [_any(2, 3) > 0, _any(2, 3), _any(2, 3)], (), {}),
]


def _id(case):
    return case[0]


def _result(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, make, extra, kwargs", DIFFERENTIABLE,
                         ids=[_id(c) for c in DIFFERENTIABLE])
def test_function_form_matches_torch_in_value_dtype_and_gradient(name, make, extra, kwargs, dtype):
    arrays = [a if a.dtype == bool else a.astype(dtype) for a in make()]
    ours = [tg.tensor(a, requires_grad=a.dtype != bool) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=a.dtype != bool) for a in arrays]
    y = _result(getattr(tg, name)(*ours, *extra, **kwargs))
    z = _result(getattr(torch, name)(*theirs, *extra, **kwargs))
    assert y.shape == tuple(z.shape)
    assert str(y.dtype) == str(z.dtype).removeprefix("torch.")
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y.numpy(), z.detach().numpy(), rtol=tol, atol=tol)
    cotangent = RNG.standard_normal(y.shape).astype(dtype)
    (y * tg.tensor(cotangent)).sum().backward()
    (z * torch.tensor(cotangent)).sum().backward()
    for a, b in zip(ours, theirs, strict=True):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_over_a_dim_return_values_and_indices_as_torch(name, keepdim):
    a = _any(3, 4)
    y = getattr(tg, name)(tg.tensor(a), 1, keepdim=keepdim)
    z = getattr(torch, name)(torch.tensor(a), dim=1, keepdim=keepdim)
    np.testing.assert_array_equal(y.values.numpy(), z.values.numpy())
    np.testing.assert_array_equal(y.indices.numpy(), z.indices.numpy())
    assert y.indices.dtype == np.int64


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("args", [(), (0,), (1, True)])
def test_argmax_and_argmin_match_torch(name, args):
    a = _any(3, 4)
    y, z = getattr(tg, name)(tg.tensor(a), *args), getattr(torch, name)(torch.tensor(a), *args)
    np.testing.assert_array_equal(y.numpy(), z.numpy())
    assert y.dtype == np.int64 and y.shape == tuple(z.shape)


def test_sum_and_mean_take_dtype_as_torch():
    a = np.array([[1, 2], [3, 4]])
    y, z = tg.sum(tg.tensor(a), dtype=tg.float64), torch.sum(torch.tensor(a), dtype=torch.float64)
    assert y.dtype == np.float64 and y.item() == z.item()
    y = tg.mean(tg.tensor(a), 0, dtype=tg.float32)
    np.testing.assert_array_equal(y.numpy(), torch.mean(torch.tensor(a), 0, dtype=torch.float32))


def test_pow_takes_a_number_base_and_a_tensor_exponent():
    e = _any(3)
    x, t = tg.tensor(e, requires_grad=True), torch.tensor(e, requires_grad=True)
    tg.pow(2, x).sum().backward()
    torch.pow(2, t).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_numel_is_tensor_allclose_and_equal_give_python_values_as_torch():
    a, b = _any(2, 3), _any(2, 3)
    x, t = tg.tensor(a), torch.tensor(a)
    assert tg.numel(x) == torch.numel(t) == 6 and type(tg.numel(x)) is int
    assert tg.is_tensor(x) and tg.is_tensor(tg.nn.Parameter(x)) and not tg.is_tensor(a)
    for p, q in [(a, a), (a, a + 1e-9), (a, b), (a, a[:1])]:
        assert tg.allclose(tg.tensor(p), tg.tensor(q)) is torch.allclose(torch.tensor(p),
                                                                          torch.tensor(q))
    assert tg.allclose(tg.tensor([1.0, np.nan]), tg.tensor([1.0, np.nan]), equal_nan=True)
    assert tg.allclose(x, x + 1e-3, atol=1e-2) and not tg.allclose(x, x + 1e-3)
    for p, q in [(a, a), (a, b), (a, a[:1]), (a, a.astype(np.float32).astype(np.float64))]:
        assert tg.equal(tg.tensor(p), tg.tensor(q)) is torch.equal(torch.tensor(p),
                                                                   torch.tensor(q))
    assert tg.equal(tg.tensor([1, 2]), tg.tensor([1.0, 2.0])) is True  # as torch: dtypes may differ


@pytest.mark.parametrize("args, kwargs", [
    ((0, 10, 4), {}), ((0, 1, 1), {}), ((0, 1, 0), {}), ((-1.5, 2.5, 7), {}),
    ((0, 10, 4), {"dtype": tg.int64}), ((-1, 1, 5), {"dtype": tg.int64}),
    ((0, 9, 4), {"dtype": tg.int32}), ((0.0, 1.0, 5), {"dtype": tg.float64}),
])
def test_linspace_matches_torch_in_values_and_dtype(args, kwargs):
    theirs = {k: getattr(torch, str(np.dtype(v))) for k, v in kwargs.items()}
    y, z = tg.linspace(*args, **kwargs), torch.linspace(*args, **theirs)
    assert str(y.dtype) == str(z.dtype).removeprefix("torch.") and y.shape == tuple(z.shape)
    np.testing.assert_allclose(y.numpy(), z.numpy(), rtol=1e-6)


def test_linspace_takes_the_default_dtype_and_factory_keywords():
    tg.set_default_dtype(tg.float64)
    try:
        assert tg.linspace(0, 1, 3).dtype == np.float64
    finally:
        tg.set_default_dtype(tg.float32)
    x = tg.linspace(0, 1, 3, device="cpu", requires_grad=True)
    assert x.requires_grad and x.dtype == np.float32


def test_from_numpy_shares_memory_and_keeps_the_dtype():
    for a in (np.arange(6, dtype=np.int32).reshape(2, 3), np.zeros(3), np.ones(2, np.float32),
              np.array([True, False]), np.array([1 + 2j])):
        t = tg.from_numpy(a)
        assert t.dtype == a.dtype == torch.from_numpy(a).numpy().dtype
        a[0] = 7
        assert t.numpy()[0].tolist() == a[0].tolist() and np.shares_memory(t.numpy(), a)


def test_tensor_copies_its_data_as_torch_tensor_does():
    for make in (np.zeros(3), np.arange(3, dtype=np.int64), np.zeros((2, 2))[:, 0]):
        a = make.copy()
        t, expected = tg.tensor(a), torch.tensor(a)
        a[0] = 7
        assert t.tolist() == expected.tolist() and not np.shares_memory(t.numpy(), a)
        assert t.dtype == expected.numpy().dtype
    source = tg.ones(2, requires_grad=True)
    copied = tg.tensor(source)  # torch warns here and copies: a leaf of its own
    source.numpy()[0] = 5.0
    assert copied.tolist() == [1.0, 1.0] and copied.is_leaf and not copied.requires_grad
    a = np.zeros(2, np.float32)
    assert np.shares_memory(tg.Tensor(a).numpy(), a)  # the constructor shares (API.md)


def test_as_tensor_shares_memory_when_it_can():
    a = np.zeros(3)
    assert np.shares_memory(tg.as_tensor(a).numpy(), a)
    assert not np.shares_memory(tg.as_tensor(a, dtype=tg.float32).numpy(), a)
    x = tg.ones(2)
    assert tg.as_tensor(x) is x and tg.as_tensor(x, tg.float32) is x
    assert tg.as_tensor([1.0, 2.0]).dtype == np.float32 == torch.as_tensor([1.0]).numpy().dtype
    assert tg.as_tensor([1, 2]).dtype == np.int64
    w = tg.ones(2, requires_grad=True)
    y = tg.as_tensor(w, dtype=tg.float64)  # a cast that keeps the graph, as torch's
    y.sum().backward()
    assert y.dtype == np.float64 and w.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name, extra", [("zeros_like", ()), ("ones_like", ()),
                                         ("full_like", (2.5,)), ("empty_like", ())])
@pytest.mark.parametrize("dtype", [None, "float64", "int64"])
def test_like_factories_take_shape_and_dtype_from_input_as_torch(name, extra, dtype):
    t = torch.zeros(2, 3)
    y = getattr(tg, name)(tg.zeros(2, 3), *extra, dtype=dtype, device="cpu")
    z = getattr(torch, name)(t, *extra, dtype=None if dtype is None else getattr(torch, dtype))
    assert y.shape == (2, 3) and str(y.dtype) == str(z.dtype).removeprefix("torch.")
    if name != "empty_like":  # empty's values are unspecified in torch (zeros here)
        np.testing.assert_array_equal(y.numpy(), z.numpy())


@pytest.mark.parametrize("name", ["randn_like", "rand_like"])
def test_random_like_factories_follow_the_seed_shape_and_dtype(name):
    x = tg.zeros(3, 2, dtype=tg.float64)
    tg.manual_seed(1)
    a = getattr(tg, name)(x)
    tg.manual_seed(1)
    b = getattr(tg, name)(x, dtype=tg.float64, requires_grad=True)
    assert a.shape == (3, 2) and a.dtype == np.float64 and b.requires_grad
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert getattr(tg, name)(x, dtype=tg.float32).dtype == np.float32
    if name == "rand_like":
        assert ((a.numpy() >= 0) & (a.numpy() < 1)).all()


def test_empty_is_a_tensor_of_the_shape_and_dtype_asked():
    assert tg.empty(2, 3).shape == (2, 3) and tg.empty((4,), dtype=tg.int64).dtype == np.int64
    assert tg.empty(2, requires_grad=True).requires_grad
    assert tg.empty(0).shape == tuple(torch.empty(0).shape)


def _torch_error(call):
    with pytest.raises(Exception) as info:
        call()
    return info.type


@pytest.mark.parametrize("ours, theirs", [
    (lambda: tg.mm(tg.ones(3), tg.ones(3, 2)), lambda: torch.mm(torch.ones(3), torch.ones(3, 2))),
    (lambda: tg.mm(tg.ones(2, 3), tg.ones(3)), lambda: torch.mm(torch.ones(2, 3), torch.ones(3))),
    (lambda: tg.mm(tg.ones(1, 2, 3), tg.ones(3, 2)),
     lambda: torch.mm(torch.ones(1, 2, 3), torch.ones(3, 2))),
    (lambda: tg.bmm(tg.ones(2, 3), tg.ones(3, 2)),
     lambda: torch.bmm(torch.ones(2, 3), torch.ones(3, 2))),
    (lambda: tg.bmm(tg.ones(1, 2, 3), tg.ones(3, 2)),
     lambda: torch.bmm(torch.ones(1, 2, 3), torch.ones(3, 2))),
    (lambda: tg.bmm(tg.ones(2, 2, 3), tg.ones(3, 3, 2)),
     lambda: torch.bmm(torch.ones(2, 2, 3), torch.ones(3, 3, 2))),
    (lambda: tg.exp([1.0]), lambda: torch.exp([1.0])),
    (lambda: tg.numel([1]), lambda: torch.numel([1])),
    (lambda: tg.from_numpy([1.0]), lambda: torch.from_numpy([1.0])),
    (lambda: tg.from_numpy(np.array(["a"])), lambda: torch.from_numpy(np.array(["a"]))),
    (lambda: tg.linspace(0, 1, -1), lambda: torch.linspace(0, 1, -1)),
    (lambda: tg.linspace(0, 1, 2.0), lambda: torch.linspace(0, 1, 2.0)),
    (lambda: tg.logsumexp(tg.ones(2)), lambda: torch.logsumexp(torch.ones(2))),
    (lambda: tg.allclose(tg.ones(2), tg.ones(2, dtype=tg.float64)),
     lambda: torch.allclose(torch.ones(2), torch.ones(2, dtype=torch.float64))),
])
def test_bad_calls_raise_the_error_type_torch_raises(ours, theirs):
    expected = _torch_error(theirs)
    with pytest.raises(expected):
        ours()


def test_mm_and_bmm_errors_name_the_argument_as_torch():
    with pytest.raises(RuntimeError, match="self must be a matrix"):
        tg.mm(tg.ones(3), tg.ones(3, 2))
    with pytest.raises(RuntimeError, match="batch2 must be a 3D tensor"):
        tg.bmm(tg.ones(1, 2, 3), tg.ones(3, 2))


@pytest.mark.parametrize("call", [
    lambda out: tg.exp(tg.ones(2), out=out), lambda out: tg.sum(tg.ones(2), out=out),
    lambda out: tg.max(tg.ones(2), out=out), lambda out: tg.matmul(tg.ones(2), tg.ones(2), out=out),
    lambda out: tg.empty(2, out=out), lambda out: tg.linspace(0, 1, 2, out=out),
    lambda out: tg.clamp(tg.ones(2), 0, 1, out=out),
])
def test_out_is_accepted_as_none_and_refused_otherwise(call):
    call(None)
    with pytest.raises(TypeError, match="out= is not supported"):
        call(tg.zeros(2))


@pytest.mark.parametrize("array", [np.array([[1, 2], [3, 4]]), np.array([True, False])])
def test_logsumexp_of_an_integer_or_bool_tensor_is_in_the_default_float_dtype_as_torch(array):
    y, z = tg.logsumexp(tg.tensor(array), 0), torch.logsumexp(torch.tensor(array), 0)
    assert y.dtype == np.float32 and z.dtype == torch.float32
    np.testing.assert_allclose(y.numpy(), z.numpy(), rtol=1e-6)

"""Layers against PyTorch in float64: forward values and gradients with a random cotangent."""

import math

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def run_ours(module, x, g):
    """Forward and backward through our module; returns (y, dx)."""
    xt = tg.Tensor(x.copy(), requires_grad=True)
    y = module(xt)
    y.backward(tg.Tensor(g))
    return y.numpy(), xt.grad.numpy()


def run_torch(torch, module, x, g):
    xt = torch.tensor(x, requires_grad=True)
    y = module(xt)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy()


# ---- Linear --------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3)])
def test_linear_forward_and_gradients_match_torch(torch, bias, shape):
    rng = np.random.default_rng(0)
    theirs = torch.nn.Linear(3, 4, bias=bias, dtype=torch.float64)
    ours = nn.Linear(3, 4, bias=bias, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x, g = rng.standard_normal(shape), rng.standard_normal(shape[:-1] + (4,))
    y, dx = run_ours(ours, x, g)
    y_t, dx_t = run_torch(torch, theirs, x, g)
    np.testing.assert_allclose(y, y_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-12)


def test_linear_weight_is_out_by_in_and_float32_by_default():
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert nn.Linear(3, 5, dtype="float64").weight.dtype == np.float64
    assert nn.Linear(3, 5, bias=False).bias is None


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    tg.manual_seed(0)
    layer = nn.Linear(400, 600)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound / math.sqrt(3)
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.95 * bound


def test_linear_default_init_is_reproducible_under_manual_seed():
    tg.manual_seed(3)
    a = nn.Linear(4, 4).weight.numpy().copy()
    tg.manual_seed(3)
    np.testing.assert_array_equal(a, nn.Linear(4, 4).weight.numpy())


def test_linear_names_the_expected_input_size_on_a_mismatch():
    expected = r"linear: input of shape \(2, 4\) does not fit weight .*\(\.\.\., 3\)"
    with pytest.raises(ValueError, match=expected):
        nn.Linear(3, 2)(tg.zeros(2, 4))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)


# ---- activations, Identity, Flatten ------------------------------------------------------


ACTIVATIONS = [
    ("ReLU", (), {}),
    ("Tanh", (), {}),
    ("Sigmoid", (), {}),
    ("LeakyReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": 0}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": -1}),
    ("Identity", (), {}),
    ("Flatten", (), {}),
    ("Flatten", (0, 1), {}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS)
def test_activation_modules_match_torch_forward_and_backward(torch, name, args, kwargs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 3)) * 3
    ours = getattr(nn, name)(*args, **kwargs)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    y_t, dx_t = None, None
    g = rng.standard_normal(tuple(theirs(torch.tensor(x)).shape))
    y, dx = run_ours(ours, x, g)
    y_t, dx_t = run_torch(torch, theirs, x, g)
    np.testing.assert_allclose(y, y_t, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-14)


def test_softmax_without_dim_warns_and_picks_torchs_legacy_dim(torch):
    x = np.random.default_rng(2).standard_normal((3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(tg.Tensor(x)).numpy()
    with pytest.warns(UserWarning, match="Implicit dimension"):
        theirs = torch.nn.Softmax()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_flatten_rejects_dims_outside_the_input():
    with pytest.raises(IndexError, match="Flatten"):
        nn.Flatten(start_dim=3)(tg.zeros(2, 3))


# ---- Dropout -------------------------------------------------------------------------------


def test_dropout_drops_a_fraction_p_and_scales_the_rest_by_one_over_keep_prob():
    tg.manual_seed(0)
    x = tg.Tensor(np.ones((200, 500)))
    y = nn.Dropout(p=0.3)(x).numpy()
    dropped = y == 0
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[~dropped], 1 / 0.7, rtol=1e-15)
    assert abs(y.mean() - 1.0) < 0.02  # expectation kept: the point of inverted dropout


def test_dropout_draws_its_mask_from_the_library_generator():
    x = np.random.default_rng(5).standard_normal((6, 7))
    tg.manual_seed(11)
    y = nn.Dropout(p=0.25)(tg.Tensor(x)).numpy()
    keep = np.random.default_rng(11).random(x.shape, dtype=x.dtype) < 0.75
    np.testing.assert_allclose(y, x * keep / 0.75, rtol=1e-15)


def test_dropout_backward_reuses_the_forward_mask():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((50, 40)) + 5.0  # no zeros, so the mask is y / x
    g = rng.standard_normal((50, 40))
    y, dx = run_ours(nn.Dropout(p=0.4), x, g)
    mask = y / x
    assert set(np.unique(np.round(mask, 12))) == {0.0, round(1 / 0.6, 12)}
    np.testing.assert_allclose(dx, mask * g, rtol=1e-12)


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero():
    x = np.random.default_rng(6).standard_normal((10, 10))
    layer = nn.Dropout(p=0.5).eval()
    g = np.ones_like(x)
    y, dx = run_ours(layer, x, g)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(dx, g)
    y, _ = run_ours(nn.Dropout(p=0.0), x, g)
    np.testing.assert_array_equal(y, x)


def test_dropout_with_p_one_zeroes_everything_like_torch():
    x = tg.Tensor(np.ones((3, 4)))
    np.testing.assert_array_equal(nn.Dropout(p=1.0)(x).numpy(), np.zeros((3, 4)))


def _dropout_case(dtype, shape, seed):
    """x and g of `dtype` with NaN, +-inf and -0 in both (the mask must multiply them)."""
    rng = np.random.default_rng(seed)
    x, g = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    x.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    g.flat[4:8] = [np.nan, np.inf, -np.inf, -0.0]
    return x, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.2, 0.5, 1.0])
@pytest.mark.parametrize("owned", [False, True])
@pytest.mark.parametrize("channels", [False, True])
def test_dropout_is_bit_for_bit_x_times_kept_times_one_over_keep(dtype, p, owned, channels):
    # The kernel's mask is a float array (0 or 1/keep); the values must stay those of
    # x * kept * (1 / keep) with kept = u < keep, the reference's draws, NaN * 0 included.
    shape = (128, 160) if not channels else (4, 8, 32, 32)  # owned: big enough to be tracked
    x, g = _dropout_case(dtype, shape, seed=int(p * 10) + owned)
    tg.manual_seed(3)
    xt = tg.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = (nn.functional.dropout2d if channels else nn.functional.dropout)(xt, p)
        # (y * 1).backward hands dropout a fresh gradient it may overwrite (ownership)
        (y * 1.0 if owned else y).backward(tg.tensor(g))
        mask_shape = shape if not channels else shape[:2] + (1, 1)
        kept = np.random.default_rng(3).random(mask_shape, dtype=dtype) < dtype(1.0 - p)
        scale = dtype(0.0 if p == 1.0 else 1.0 / (1.0 - p))
        expected_y, expected_dx = x * kept * scale, g * kept * scale
    assert y.dtype == dtype and xt.grad.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), expected_y, strict=True)
    np.testing.assert_array_equal(xt.grad.numpy(), expected_dx, strict=True)
    assert np.array_equal(np.signbit(y.numpy()), np.signbit(expected_y))  # -0 stays -0


def test_dropout_of_an_integer_input_raises_a_type_error():
    with pytest.raises(TypeError, match="Dropout"):
        nn.functional.dropout(tg.tensor(np.arange(6).reshape(2, 3)), p=0.5)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True])
def test_dropout_rejects_a_probability_outside_zero_one(p):
    with pytest.raises(ValueError, match="drop probability"):
        nn.Dropout(p)


# ---- BatchNorm1d ---------------------------------------------------------------------------


BATCHNORM_CASES = [
    ({}, (8, 3)),
    ({"momentum": None}, (8, 3)),
    ({"affine": False}, (8, 3)),
    ({"track_running_stats": False}, (8, 3)),
    ({}, (6, 3, 5)),
    ({"momentum": 0.3, "eps": 1e-3}, (5, 3, 4)),
    ({"momentum": None, "affine": False}, (4, 3, 2)),
    ({"bias": False}, (8, 3)),
]


@pytest.mark.parametrize("kwargs,shape", BATCHNORM_CASES)
def test_batchnorm1d_matches_torch_over_training_steps_and_in_eval(torch, kwargs, shape):
    rng = np.random.default_rng(7)
    ours = nn.BatchNorm1d(3, dtype=np.float64, **kwargs)
    theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64, **kwargs)
    for name, param in theirs.named_parameters():  # non-trivial gamma and beta, shared
        value = rng.standard_normal(3) + (1.0 if name == "weight" else 0.0)
        with torch.no_grad():
            param.copy_(torch.tensor(value))
        getattr(ours, name).data[...] = value

    for _ in range(4):
        x = rng.standard_normal(shape) * 3.0 + 2.0
        g = rng.standard_normal(shape)
        y, dx = run_ours(ours, x, g)
        y_t, dx_t = run_torch(torch, theirs, x, g)
        np.testing.assert_allclose(y, y_t, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, dx_t, rtol=1e-9, atol=1e-12)
        assert [n for n, _ in ours.named_parameters()] == [
            n for n, _ in theirs.named_parameters()
        ]
        for name, param in theirs.named_parameters():
            np.testing.assert_allclose(getattr(ours, name).grad.numpy(), param.grad.numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=name)
        ours.zero_grad()
        theirs.zero_grad()
        for name, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12,
                                       err_msg=name)

    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    y, dx = run_ours(ours, x, g)
    y_t, dx_t = run_torch(torch, theirs, x, g)
    np.testing.assert_allclose(y, y_t, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, dx_t, rtol=1e-10, atol=1e-12)


def test_batchnorm1d_counts_batches_and_leaves_running_stats_alone_in_eval():
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    x = tg.Tensor(np.random.default_rng(8).standard_normal((5, 2)))
    layer(x)
    layer(x)
    assert layer.num_batches_tracked.numpy() == 2 and layer.num_batches_tracked.dtype == np.int64
    mean = layer.running_mean.numpy().copy()
    layer.eval()(x)
    np.testing.assert_array_equal(layer.running_mean.numpy(), mean)
    assert layer.num_batches_tracked.numpy() == 2


def test_batchnorm1d_in_eval_normalizes_with_the_running_statistics():
    layer = nn.BatchNorm1d(2, eps=1e-5, dtype=np.float64).eval()
    layer.running_mean.data[...] = [1.0, -2.0]
    layer.running_var.data[...] = [4.0, 0.25]
    x = np.array([[3.0, -1.0], [1.0, -2.0]])
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)  # sqrt, not var
    np.testing.assert_allclose(layer(tg.Tensor(x)).numpy(), expected, rtol=1e-12)


def test_batchnorm1d_without_running_stats_has_no_buffers():
    layer = nn.BatchNorm1d(3, track_running_stats=False, affine=False)
    assert list(layer.state_dict()) == [] and list(layer.parameters()) == []


def test_batchnorm1d_names_a_channel_mismatch():
    with pytest.raises(ValueError, match="input has 4 channels in dimension 1"):
        nn.BatchNorm1d(3)(tg.zeros(5, 4))
    with pytest.raises(ValueError, match="2-D \\(N, C\\) or 3-D"):
        nn.BatchNorm1d(3)(tg.zeros(3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tg.zeros(1, 3))
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm1d(0)


def _batch_norm_closed_form(x, g, weight, bias, eps):
    """y, dx, dgamma, dbeta by the kernel's formulas in numpy, in x's dtype: the shifted
    two-pass statistics, then dx = gamma / (m sigma) * (m g - dbeta - x_hat dgamma)."""
    m = x.shape[0]
    xc = x - x[:1]
    mean = xc.sum(0, keepdims=True) / m
    xc -= mean
    var = np.square(xc).sum(0, keepdims=True) / m
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xc * inv_std
    y = x_hat * weight + bias
    db, dw = g.sum(0), (g * x_hat).sum(0)
    dx = (g * m - db - x_hat * dw) * (weight * inv_std / m)
    return y, dx, dw, db


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("owned", [False, True])
def test_batch_norm_training_is_bit_for_bit_its_closed_form(dtype, owned):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((128, 160)) * 3 + 50).astype(dtype)
    g = rng.standard_normal((128, 160)).astype(dtype)
    layer = nn.BatchNorm1d(160, eps=1e-3, dtype=dtype)
    layer.weight.data[...] = rng.standard_normal(160)
    layer.bias.data[...] = rng.standard_normal(160)
    weight, bias = layer.weight.numpy().copy(), layer.bias.numpy().copy()
    x_before = x.copy()
    xt = tg.tensor(x, requires_grad=True)
    y = layer(xt)
    (y * 1.0 if owned else y).backward(tg.tensor(g))  # y * 1: an owned gradient
    expected = _batch_norm_closed_form(x_before, g, weight, bias, dtype(1e-3))
    got = y.numpy(), xt.grad.numpy(), layer.weight.grad.numpy(), layer.bias.grad.numpy()
    for name, a, b in zip(["y", "dx", "dgamma", "dbeta"], got, expected, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
    np.testing.assert_array_equal(x, x_before)  # the shift is a view of x: x is not written


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_in_eval_gives_the_same_bits_with_and_without_a_graph(dtype):
    # without a graph y takes x_hat's memory; the values must not notice
    rng = np.random.default_rng(10)
    layer = nn.BatchNorm1d(6, dtype=dtype).eval()
    layer.running_mean.data[...] = rng.standard_normal(6)
    layer.running_var.data[...] = rng.random(6) + 0.5
    layer.weight.data[...] = rng.standard_normal(6)
    layer.bias.data[...] = rng.standard_normal(6)
    x = rng.standard_normal((5, 6)).astype(dtype)
    rm, rv = layer.running_mean.numpy(), layer.running_var.numpy()
    expected = (x - rm) * (1.0 / np.sqrt(rv + dtype(1e-5))) * layer.weight.numpy()
    expected += layer.bias.numpy()
    with_graph = layer(tg.tensor(x, requires_grad=True)).numpy()
    with tg.no_grad():
        without = layer(tg.tensor(x)).numpy()
    np.testing.assert_array_equal(with_graph, expected, strict=True)
    np.testing.assert_array_equal(without, expected, strict=True)


def _batch_norm_run(lib, module, x, g):
    """y, dx, dgamma, running mean and var of one training step, all as float64 arrays."""
    xt = lib.tensor(x, requires_grad=True)
    y = module(xt)
    (y * lib.tensor(g)).sum().backward()
    grads = xt.grad, module.weight.grad, module.running_mean, module.running_var
    return [np.asarray(a.detach().numpy() if hasattr(a, "detach") else a.numpy(), np.float64)
            for a in (y, *grads)]


@pytest.mark.parametrize("shape", [(256, 16), (128, 8, 5)])
def test_batchnorm1d_in_float32_is_as_accurate_as_torch_on_features_with_a_large_mean(torch,
                                                                                      shape):
    """Features of mean 1e5 and spread 1: a one-pass or unshifted mean loses the spread."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) + 1e5).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    exact = _batch_norm_run(tg, nn.BatchNorm1d(shape[1], dtype=np.float64), x.astype(np.float64),
                            g.astype(np.float64))
    ours = _batch_norm_run(tg, nn.BatchNorm1d(shape[1]), x, g)
    theirs = _batch_norm_run(torch, torch.nn.BatchNorm1d(shape[1]), x, g)
    for name, e, o, t in zip(["y", "dx", "dgamma", "running_mean", "running_var"], exact, ours,
                             theirs, strict=True):
        err_ours, err_torch = np.abs(o - e).max(), np.abs(t - e).max()
        assert err_ours <= 1.5 * err_torch, f"{name}: ours {err_ours:.3g}, torch {err_torch:.3g}"


@pytest.mark.parametrize("dim, sizes", [(1, (1, 8, 8)), (-1, (2, -1)), (0, (2, 3))])
def test_unflatten_splits_a_dimension_as_torch(dim, sizes):
    torch = pytest.importorskip("torch")
    x = np.arange(6 * 64, dtype=np.float64).reshape(6, 64)
    expected = torch.nn.Unflatten(dim, sizes)(torch.from_numpy(x)).numpy()
    out = nn.Unflatten(dim, sizes)(tg.Tensor(x))
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_unflatten_refuses_sizes_that_do_not_multiply_to_the_dimension():
    with pytest.raises(RuntimeError, match=r"cannot split size 64 of input shape \(2, 64\)"):
        nn.Unflatten(1, (3, 3))(tg.Tensor(np.zeros((2, 64))))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))

"""The batch-norm kernel's fast paths give the very bits of the plain numpy expressions they
replace: the running statistics' updates with 0-d operands instead of Python numbers, (C,)
statistics for (N, C) input instead of (1, C) ones, the batch count added in place."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn
from tinygrad_c2.nn import functional as F


def _running_update_as_python_numbers(x, rm, rv, momentum):
    """The running statistics' update written with Python numbers (numpy converts them)."""
    axes = (0, *range(2, x.ndim))
    c, n = x.shape[1], x.size // x.shape[1]
    shift = x[(slice(0, 1), slice(None)) + (slice(0, 1),) * (x.ndim - 2)]
    xc = x - shift
    mean = np.add.reduce(xc, axis=axes, keepdims=True) / np.array(n, x.dtype)
    xc -= mean
    var = np.add.reduce(xc * xc, axis=axes, keepdims=True) / np.array(n, x.dtype)
    rm *= 1.0 - momentum
    rm += momentum * (shift + mean).reshape(c)
    rv *= 1.0 - momentum
    rv += (momentum * n / (n - 1)) * var.reshape(c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(16, 5), (6, 5, 3)])
@pytest.mark.parametrize("momentum", [0.1, 0.37, 1.0, 0.0, np.float64(0.3)])
def test_running_statistics_are_those_of_python_number_operands(dtype, shape, momentum):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3 + 1e3).astype(dtype)
    rm = rng.standard_normal(shape[1]).astype(dtype)
    rv = rng.random(shape[1]).astype(dtype) + 0.5
    want_m, want_v = rm.copy(), rv.copy()
    for _ in range(3):  # the cached operands serve the later calls
        F.batch_norm(tg.tensor(x), rm, rv, training=True, momentum=momentum)
        _running_update_as_python_numbers(x, want_m, want_v, momentum)
    np.testing.assert_array_equal(rm, want_m)
    np.testing.assert_array_equal(rv, want_v)
    assert rm.dtype == rv.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_two_d_statistics_give_the_bits_of_the_three_d_layout(dtype):
    # (N, C) input takes (C,) statistics, (N, C, 1) input (1, C, 1) ones: the same sums
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12, 4)).astype(dtype)
    g = rng.standard_normal((12, 4)).astype(dtype)
    weight = (rng.random(4) + 0.5).astype(dtype)
    results = []
    for data, cot in ((x, g), (x[:, :, None], g[:, :, None])):
        xt = tg.tensor(data.copy(), requires_grad=True)
        w = tg.tensor(weight.copy(), requires_grad=True)
        b = tg.tensor(np.full(4, 0.25, dtype), requires_grad=True)
        rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
        y = F.batch_norm(xt, rm, rv, w, b, training=True)
        y.backward(tg.tensor(cot))
        results.append((y.numpy().reshape(12, 4), xt.grad.numpy().reshape(12, 4),
                        w.grad.numpy(), b.grad.numpy(), rm, rv))
    for two_d, three_d in zip(*results, strict=True):
        np.testing.assert_array_equal(two_d, three_d)


def test_eval_mode_two_d_input_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    rm, rv = rng.standard_normal(3).astype(np.float32), rng.random(3).astype(np.float32) + 0.5
    w, b = np.array([0.5, 2.0, -1.0], np.float32), np.array([0.1, 0.0, 3.0], np.float32)
    xt = tg.tensor(x, requires_grad=True)
    y = F.batch_norm(xt, rm, rv, tg.tensor(w), tg.tensor(b), training=False)
    y.sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    yr = torch.nn.functional.batch_norm(xr, torch.tensor(rm), torch.tensor(rv),
                                        torch.tensor(w), torch.tensor(b), training=False)
    yr.sum().backward()
    np.testing.assert_allclose(y.numpy(), yr.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), xr.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_batch_count_is_one_int64_array_counted_in_place():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    count = model[1].num_batches_tracked._data
    x = tg.tensor(np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32))
    for _ in range(3):
        model(x).sum().backward()  # the fused run
    model[1](tg.tensor(np.ones((2, 4), np.float32)))  # the layer on its own
    assert model[1].num_batches_tracked._data is count
    assert count.dtype == np.int64 and count.shape == () and int(count) == 4
    step = tg.capture(lambda x: model(x).sum())
    for _ in range(3):
        step(x)
    assert model[1].num_batches_tracked._data is count and int(count) == 7


def test_batch_count_of_another_dtype_still_counts():
    bn = nn.BatchNorm1d(2)
    bn.num_batches_tracked._data = np.array(5, np.int32)  # e.g. written by hand
    bn(tg.tensor(np.arange(6, dtype=np.float32).reshape(3, 2)))
    assert bn.num_batches_tracked._data.dtype == np.int32
    assert int(bn.num_batches_tracked._data) == 6

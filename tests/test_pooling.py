"""Pooling, padding and Dropout2d: values, gradients (ties included) and indices against torch
in float64 with random cotangents, centered differences, the layers, and bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = nn.functional


def _compare(ours, theirs, arrays, seed=0):
    """Values, the indices when a pair comes back, and the gradient under a random cotangent."""
    mine = [tg.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine), theirs(*ref)
    if isinstance(ty, tuple):
        (y, idx), (ty, tidx) = y, ty
        assert idx.dtype == np.int64
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    assert y.shape == tuple(ty.shape) and y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-14)
    cot = np.random.default_rng(seed).standard_normal(y.shape)
    (y * tg.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)


def _data(shape, ties, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    return np.round(x) if ties else x  # rounding makes many equal values: ties in windows


# ---------------------------------------------------------------- max pooling

MAX_QUICK = [  # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 1, False),
    ((2, 3), (1, 2), (1, 0), (2, 1), True), (2, 3, 0, 1, True),
]


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_QUICK)
def test_max_pool2d_matches_torch_values_indices_and_gradients(kernel, stride, padding,
                                                               dilation, ceil_mode, ties):
    kw = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
              return_indices=True)
    _compare(lambda x: F.max_pool2d(x, kernel, **kw), lambda x: TF.max_pool2d(x, kernel, **kw),
             [_data((2, 3, 7, 8), ties)])


MAX_BIG = [c for c in itertools.product([1, 2, 3, (3, 2)], [None, 1, 2, (2, 3)], [0, 1],
                                        [1, 2], [False, True])
           if c[2] <= ((c[3] * ((c[0] if isinstance(c[0], int) else min(c[0])) - 1) + 1) // 2)]


@pytest.mark.slow
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", MAX_BIG)
def test_max_pool2d_matches_torch_on_the_big_matrix(kernel, stride, padding, dilation,
                                                    ceil_mode, ties):
    test_max_pool2d_matches_torch_values_indices_and_gradients(kernel, stride, padding,
                                                               dilation, ceil_mode, ties)


def test_a_tied_window_sends_the_whole_gradient_to_its_first_maximum_as_torch():
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]])
    mine = tg.tensor(x, requires_grad=True)
    F.max_pool2d(mine, 2, stride=1).sum().backward()  # four overlapping windows, max 3 each
    theirs = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(theirs, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())
    # row-major first maximum of each window: (0,1), (0,1), (1,0), (1,2)
    np.testing.assert_array_equal(mine.grad.numpy()[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])
    # the course's create_mask_from_window (x == max) would give every tied element all of it
    course = np.zeros((3, 3))
    for i, j in itertools.product(range(2), range(2)):
        window = x[0, 0, i:i + 2, j:j + 2]
        course[i:i + 2, j:j + 2] += window == window.max()
    assert course.sum() == 9 and mine.grad.numpy().sum() == 4


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_a_window_holding_nan_gives_nan_and_its_last_nan_the_gradient_as_torch(kernel, stride):
    # torch's kernel takes a value if it is larger or NaN: the window's LAST NaN (row-major)
    x = np.random.default_rng(3).standard_normal((2, 3, 6, 7))
    x[0, 0, 0, :2] = np.nan  # two NaNs side by side, in the first window
    x[0, 1, 1, 1] = x[1, 2, 3, 4] = x[1, 2, 4, 3] = np.nan
    _compare(lambda x: F.max_pool2d(x, kernel, stride, return_indices=True),
             lambda x: TF.max_pool2d(x, kernel, stride, return_indices=True), [x])


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1)])
def test_an_infinite_output_gradient_reaches_only_the_maximum_as_torch(kernel, stride):
    # everything but a window's maximum gets exactly 0, never inf * 0 = nan
    x = np.random.default_rng(4).standard_normal((1, 2, 6, 6))
    mine = tg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y, ty = F.max_pool2d(mine, kernel, stride), TF.max_pool2d(theirs, kernel, stride)
    cot = np.ones(y.shape)
    cot[0, 0, 0, 0], cot[0, 1, 1, 1] = np.inf, -np.inf
    y.backward(tg.tensor(cot))
    ty.backward(torch.tensor(cot))
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())


def test_a_constant_input_gives_each_window_one_gradient_entry():
    x = tg.ones(1, 2, 4, 4, dtype=tg.float64, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    assert x.grad.numpy().sum() == 8
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 2], [8, 10]])


@pytest.mark.parametrize("fn, shape", [
    (lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), (1, 2, 5, 6)),
    (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True,
                            count_include_pad=False), (1, 2, 5, 6)),
    (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (1, 2, 5, 4)),
    (lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"), (1, 2, 3, 4)),
    (lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), (1, 2, 3, 4)),
    (lambda x: F.pad(x, (2, 0, 1, 3), mode="replicate"), (1, 2, 3, 4)),
])
def test_pooling_and_padding_gradients_match_centered_differences(fn, shape):
    gen = np.random.default_rng(4)
    x = tg.tensor(gen.standard_normal(shape), requires_grad=True)  # no ties: differentiable
    cot = tg.tensor(gen.standard_normal(fn(x).shape))
    result = tg.gradcheck(lambda x: (fn(x) * cot).sum(), [x])
    assert result.passed, str(result)


# ---------------------------------------------------------------- average pooling

AVG = [  # kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (2, None, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, True, True, None),
    (3, 2, 1, True, False, None), (3, 1, 1, False, False, None), ((2, 3), (2, 1), (1, 1), True,
                                                                  True, None),
    ((3, 2), 2, (1, 0), True, False, None), (2, 1, 1, False, True, 3), (3, 3, 1, True, False, 2),
]


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode, count_include_pad, divisor", AVG)
def test_avg_pool2d_matches_torch(kernel, stride, padding, ceil_mode, count_include_pad,
                                  divisor):
    kw = dict(stride=stride, padding=padding, ceil_mode=ceil_mode,
              count_include_pad=count_include_pad, divisor_override=divisor)
    _compare(lambda x: F.avg_pool2d(x, kernel, **kw), lambda x: TF.avg_pool2d(x, kernel, **kw),
             [_data((2, 3, 7, 8), False)])


def test_avg_pool2d_counts_the_padding_in_the_divisor_by_default():
    x = tg.ones(1, 1, 3, 3, dtype=tg.float64)
    corner = F.avg_pool2d(x, 3, stride=1, padding=1).numpy()[0, 0, 0, 0]
    assert corner == 4 / 9  # 4 of the 9 window cells are input
    assert F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False).numpy()[
        0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("pool, kw", [
    ("max_pool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
    ("max_pool1d", dict(kernel_size=2, dilation=2)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool1d", dict(kernel_size=4, ceil_mode=True)),
])
def test_1d_pools_match_torch_batched_and_unbatched(pool, kw):
    for shape in [(2, 3, 11), (3, 9)]:
        _compare(lambda x: getattr(F, pool)(x, **kw), lambda x: getattr(TF, pool)(x, **kw),
                 [_data(shape, True)])


@pytest.mark.parametrize("shape, size", [((2, 3, 7, 5), (3, 2)), ((2, 3, 6, 6), 1),
                                         ((3, 7, 5), (None, 4)), ((1, 2, 4, 4), 4),
                                         ((1, 2, 5, 3), (7, 6))])
def test_adaptive_avg_pool2d_matches_torch(shape, size):
    _compare(lambda x: F.adaptive_avg_pool2d(x, size),
             lambda x: TF.adaptive_avg_pool2d(x, size), [_data(shape, False)])


def test_pools_take_unbatched_input_and_keep_float32():
    x = np.random.default_rng(0).standard_normal((3, 6, 6)).astype(np.float32)
    for ours, theirs in [(F.max_pool2d(tg.tensor(x), 2), TF.max_pool2d(torch.tensor(x), 2)),
                         (F.avg_pool2d(tg.tensor(x), 3, 1, 1),
                          TF.avg_pool2d(torch.tensor(x), 3, 1, 1)),
                         (F.adaptive_avg_pool2d(tg.tensor(x), 2),
                          TF.adaptive_avg_pool2d(torch.tensor(x), 2))]:
        assert ours.dtype == np.float32 and ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-7)
    y, idx = F.max_pool2d(tg.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), TF.max_pool2d(torch.tensor(x), 2,
                                                             return_indices=True)[1].numpy())


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize("shape, pad, mode, value", [
    ((2, 3, 5, 4), (1, 2, 3, 0), "reflect", None), ((3, 5, 4), (2, 1), "reflect", None),
    ((2, 3, 5, 4), (1, 2, 3, 4), "replicate", None), ((2, 4), (5, 3), "replicate", None),
    ((2, 3, 5, 4), (1, 2, 3, 5), "circular", None), ((2, 2, 3, 4, 3), (1, 1, 2, 0, 1, 2),
                                                     "replicate", None),
    ((2, 3, 5, 4), (-1, 2, 3, -2), "constant", 1.5), ((5, 4), (1, 2, 1, 1), "constant", None),
    ((2, 3, 4), (1, 0, 0, 1, 2, 2), "constant", -2.0), ((2, 2, 3, 3), (1, 1), "constant", None),
])
def test_pad_matches_torch(shape, pad, mode, value):
    kw = {} if value is None else dict(value=value)
    _compare(lambda x: F.pad(x, pad, mode, **kw), lambda x: TF.pad(x, pad, mode, **kw),
             [_data(shape, False)])


@pytest.mark.parametrize("call, match", [
    (lambda: F.pad(tg.ones(2, 3, 4), (1, 1, 1)), r"^pad: padding length must be divisible by 2"),
    (lambda: F.pad(tg.ones(2, 3), (1, 1, 1, 1, 1, 1)), r"^pad: padding length 6 is too large"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (3, 3), "reflect"),
     r"^pad: reflect padding of 1 dimensions needs a 2-D or 3-D input"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (3, 0, 0, 0), "reflect"),
     r"^pad: reflect padding must be less than the dimension it pads: got \(3, 0\) for "
     r"dimension 3 of size 3"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (4, 0, 0, 0), "circular"),
     r"^pad: circular padding must be at most the dimension it pads"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (1, 1, 1, 1), "reflect", value=1.0),
     r"^pad: padding mode 'reflect' doesn't take in value argument"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (1, 1), "mirror"), r"^pad: mode must be one of"),
    (lambda: F.pad(tg.ones(1, 2, 3, 3), (-4, 0)), r"^pad: pad=\(-4, 0\) crops more than"),
    (lambda: nn.ReflectionPad2d(3)(tg.ones(1, 2, 3, 3)),
     r"^ReflectionPad2d\(\(3, 3, 3, 3\)\): reflect padding must be less than"),
])
def test_bad_padding_raises_naming_the_widths_and_the_shape(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


# ---------------------------------------------------------------- layers


LAYERS = [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True, dilation=1)),
    ("MaxPool1d", (3,), dict(stride=2)), ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False, ceil_mode=True)),
    ("AvgPool1d", (3,), {}), ("AdaptiveAvgPool2d", ((2, 3),), {}), ("AdaptiveAvgPool2d", (1,), {}),
    ("ZeroPad2d", (1,), {}), ("ZeroPad2d", ((1, 0, 2, 0),), {}), ("ConstantPad2d", (1, 2.0), {}),
    ("ReflectionPad2d", ((1, 2, 2, 1),), {}), ("ReplicationPad2d", (2,), {}),
    ("CircularPad2d", (1,), {}), ("Dropout2d", (), {}), ("Dropout2d", (0.3,), {}),
]


@pytest.mark.parametrize("name, args, kwargs", LAYERS)
def test_the_layers_compute_and_print_what_torch_does(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    ours.eval()
    theirs.eval()
    shape = (2, 3, 5) if name.endswith("1d") else (2, 3, 5, 6)
    x = _data(shape, True, seed=1)
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                               rtol=1e-12)


def test_max_pool2d_layer_returns_indices_when_asked():
    x = _data((1, 2, 4, 4), True)
    y, idx = nn.MaxPool2d(2, return_indices=True)(tg.tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


@pytest.mark.parametrize("call, match", [
    (lambda: F.max_pool2d(tg.ones(1, 1, 5, 5), 3, padding=2),
     r"^max_pool2d: pad should be non-negative and at most half of the effective kernel size, "
     r"got padding=\(2, 2\), kernel_size=\(3, 3\), dilation=\(1, 1\)"),
    (lambda: F.max_pool2d(tg.ones(1, 1, 5, 5), 2, stride=0),
     r"^max_pool2d: stride must be greater than zero, got \(0, 0\)"),
    (lambda: F.max_pool2d(tg.ones(1, 1, 5, 5), 0), r"^max_pool2d: kernel_size must be greater"),
    (lambda: F.max_pool2d(tg.ones(1, 1, 5, 5), 2, dilation=0),
     r"^max_pool2d: dilation must be greater than zero"),
    (lambda: F.max_pool2d(tg.ones(1, 1, 5, 5), 6),
     r"^max_pool2d: input of shape \(1, 1, 5, 5\) gives an output of size \(0, 0\) .*output "
     r"size is too small"),
    (lambda: F.max_pool2d(tg.ones(5, 5), 2),
     r"^max_pool2d: expected 3-D \(unbatched\) or 4-D \(batched\) input, got input of shape "
     r"\(5, 5\)"),
    (lambda: F.avg_pool2d(tg.ones(1, 1, 5, 5), 3, padding=-1), r"^avg_pool2d: pad should be"),
    (lambda: F.avg_pool2d(tg.ones(1, 1, 5, 5), 2, divisor_override=0),
     r"^avg_pool2d: divisor_override must be a non-zero int"),
    (lambda: F.max_pool1d(tg.ones(1, 1, 2, 2), 2), r"^max_pool1d: expected 2-D \(unbatched\)"),
    (lambda: F.avg_pool2d(tg.tensor(np.ones((1, 1, 4, 4), np.int64)), 2),
     r"^avg_pool2d: expected a floating-point input, got int64 \(convert it with x.float\(\)\)"),
    (lambda: F.adaptive_avg_pool2d(tg.tensor(np.ones((1, 1, 4, 4), np.int64)), 2),
     r"^adaptive_avg_pool2d: expected a floating-point input, got int64"),
    (lambda: F.adaptive_avg_pool2d(tg.ones(2, 2), 1), r"^adaptive_avg_pool2d: expected 3-D"),
    (lambda: nn.MaxPool2d(3, padding=2)(tg.ones(1, 1, 5, 5)),
     r"^MaxPool2d\(kernel_size=3, stride=3, padding=2, dilation=1, ceil_mode=False\): pad "
     r"should be"),
    (lambda: nn.AvgPool2d(7)(tg.ones(1, 1, 5, 5)),
     r"^AvgPool2d\(kernel_size=7, stride=7, padding=0\): input of shape \(1, 1, 5, 5\) gives an "
     r"output of size \(0, 0\)"),
])
def test_bad_pooling_input_raises_naming_the_configuration_and_the_shape(call, match):
    with pytest.raises(RuntimeError, match=match):
        call()


# ---------------------------------------------------------------- Dropout2d


def test_dropout2d_zeroes_whole_channels_scales_the_rest_and_backward_uses_the_mask():
    tg.manual_seed(0)
    x = tg.tensor(np.random.default_rng(0).uniform(1, 2, (50, 40, 3, 3)), requires_grad=True)
    y = F.dropout2d(x, p=0.3)
    kept = (y.numpy() != 0).reshape(50, 40, 9)  # x > 0 everywhere: 0 only where dropped
    assert np.all(kept == kept[:, :, :1])  # one decision per channel
    assert abs(1 - kept[:, :, 0].mean() - 0.3) < 0.03
    mask = kept.reshape(x.shape) / 0.7
    np.testing.assert_allclose(y.numpy(), x.numpy() * mask, rtol=1e-12)
    cot = np.random.default_rng(1).standard_normal(x.shape)
    (y * tg.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), cot * mask, rtol=1e-12)


def test_dropout2d_is_the_identity_in_eval_mode_and_for_p_zero():
    x = tg.randn(2, 3, 4, 4)
    assert nn.Dropout2d(0.5).eval()(x) is x
    assert F.dropout2d(x, 0.0) is x
    assert not F.dropout2d(x, 1.0).numpy().any()
    with pytest.raises(ValueError, match=r"Dropout2d: p \(drop probability\) must be in"):
        nn.Dropout2d(1.5)


def test_dropout2d_on_3d_input_drops_along_dim_1_and_warns_as_torch():
    tg.manual_seed(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = F.dropout2d(tg.ones(4, 6, 5), 0.5).numpy()
        torch.nn.functional.dropout2d(torch.ones(4, 6, 5), 0.5)
    assert [str(w.message)[:41] for w in caught] == [
        "dropout2d: Received a 3D input to dropout"] * 2
    assert np.all(y == y[:, :, :1])  # (N, C, L): one decision per (sample, channel)
    with pytest.raises(RuntimeError, match="dropout2d: expected a 3-D or 4-D input"):
        F.dropout2d(tg.ones(4, 6), 0.5)


def test_max_pool2d_of_integers_pads_with_the_smallest_integer_as_torch_gives():
    x = np.arange(-8, 8, dtype=np.int64).reshape(1, 1, 4, 4)
    y = F.max_pool2d(tg.tensor(x), 3, stride=2, padding=1)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y.numpy(), TF.max_pool2d(torch.tensor(x), 3, 2, 1).numpy())


def test_a_captured_step_recomputes_max_pool_indices_unfold_and_fold_as_eager():
    def step_fn(conv):
        def step(X):
            h = conv(X)
            n, c = h.shape[:2]
            y, idx = F.max_pool2d(h, 2, return_indices=True)
            rows = tg.arange(n * c).reshape(-1, 1)
            picked = h.reshape(n * c, -1)[rows, idx.reshape(n * c, -1)]  # y, gathered again
            folded = F.fold(F.unfold(h, 2, padding=1), h.shape[2:], 2, padding=1)
            return (picked * y.reshape(n * c, -1)).mean() + (folded * h).mean()
        return step

    tg.manual_seed(0)
    eager, captured = nn.Conv2d(2, 3, 3).double(), nn.Conv2d(2, 3, 3).double()
    captured.load_state_dict(eager.state_dict())
    opt_e = tg.optim.SGD(eager.parameters(), lr=0.1)
    opt_c = tg.optim.SGD(captured.parameters(), lr=0.1)
    step = tg.capture(step_fn(captured), optimizer=opt_c)
    gen = np.random.default_rng(0)
    for i in range(4):
        X = gen.standard_normal((2, 2, 6, 6))
        opt_e.zero_grad()
        loss = step_fn(eager)(tg.tensor(X))
        loss.backward()
        opt_e.step()
        assert step(X).item() == loss.item(), f"step {i}"
        np.testing.assert_array_equal(captured.weight.numpy(), eager.weight.numpy())


@pytest.mark.parametrize("stride", [None, (), []])
def test_a_pools_stride_defaults_to_its_kernel_as_torch(stride):
    x = _data((1, 2, 6, 6), False)
    _compare(lambda x: F.max_pool2d(x, 3, stride), lambda x: TF.max_pool2d(x, 3, stride), [x])
    _compare(lambda x: F.avg_pool2d(x, 2, stride), lambda x: TF.avg_pool2d(x, 2, stride), [x])
    x1 = _data((2, 7), False)
    _compare(lambda x: F.max_pool1d(x, 2, stride), lambda x: TF.max_pool1d(x, 2, stride), [x1])


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: F.avg_pool2d(x, 3, 2, 1),
    lambda x: F.adaptive_avg_pool2d(x, 3), lambda x: F.pad(x, (1, 2, 0, 1), mode="reflect"),
    lambda x: F.pad(x, (1, -1)), lambda x: F.dropout2d(x, 0.5), lambda x: F.unfold(x, 2),
])
def test_float32_stays_float32_through_forward_and_backward(fn):
    x = tg.randn(2, 3, 6, 6, requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    (y * 2.0).sum().backward()
    assert x.grad.dtype == np.float32


def test_max_pool_keeps_its_window_offsets_in_the_smallest_integer_type():
    # the graph memory a kept loss holds: uint8 offsets for windows up to 16x16, not int64
    from tinygrad_c2 import bench

    x = tg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)), requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.grad_fn.saved_tensors[0].dtype == np.uint8
    # the offsets only: Sum holds y as a stand-in without values
    assert bench.tinygrad_graph_bytes(y.sum()) == 2 * 3 * 4 * 4

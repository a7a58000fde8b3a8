"""Convolutions (F.conv1d/conv2d/conv_transpose2d, unfold/fold, the layers) and BatchNorm2d:
values and gradients against torch in float64 with random cotangents, against centered
differences, PyTorch's init, names, repr and state_dict, bad input, and a captured CNN step."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim

torch = pytest.importorskip("torch")
TF = torch.nn.functional
F = nn.functional
# torch's own note on its even-kernel "same" padding (ours pads once too; nothing to act on)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def _compare(ours, theirs, shapes, seed=0, rtol=1e-10, atol=1e-12):
    """ours(*tensors) and theirs(*torch tensors) agree in value and in every input's
    gradient under a random cotangent (float64)."""
    gen = np.random.default_rng(seed)
    arrays = [gen.standard_normal(s) for s in shapes]
    mine = [tg.tensor(a, requires_grad=True) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine), theirs(*ref)
    assert y.shape == tuple(ty.shape)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    cot = gen.standard_normal(y.shape)
    (y * tg.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for k, (a, b) in enumerate(zip(mine, ref, strict=True)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {k}")


def _fits(size, kernel, padding, dilation):
    """The dilated kernel fits in the padded input ("same" always does)."""
    if padding == "same":
        return True
    padding = 0 if padding == "valid" else padding
    pads = (padding, padding) if isinstance(padding, int) else padding
    ks = (kernel, kernel) if isinstance(kernel, int) else kernel
    return all(s + 2 * p >= dilation * (k - 1) + 1 for s, p, k in zip(size, pads, ks, strict=True))


# ---------------------------------------------------------------- conv2d against torch

QUICK = [  # (input shape, out channels, kernel, stride, padding, dilation, groups)
    ((2, 3, 7, 6), 4, 3, 1, 0, 1, 1),
    ((2, 3, 7, 6), 4, (2, 3), (2, 1), (1, 2), 1, 1),
    ((1, 4, 9, 8), 6, 3, 2, 1, 2, 2),
    ((3, 4, 5, 5), 4, 1, 1, 0, 1, 4),  # depthwise 1x1
    ((2, 2, 8, 7), 3, 4, 1, "same", 1, 1),  # even kernel: the odd padding after
    ((2, 2, 8, 7), 3, (2, 3), 1, "same", 2, 1),
    ((2, 3, 6, 5), 2, 3, 3, "valid", 1, 1),
    ((1, 1, 5, 5), 1, 5, 1, 0, 1, 1),  # the kernel covers the input
]


@pytest.mark.parametrize("shape, out, kernel, stride, padding, dilation, groups", QUICK)
def test_conv2d_matches_torch_values_and_gradients(shape, out, kernel, stride, padding,
                                                   dilation, groups):
    ks = (kernel, kernel) if isinstance(kernel, int) else kernel
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _compare(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
             [shape, (out, shape[1] // groups, *ks), (out,)])


BIG = [(shape, out, k, s, p, d, g)
       for shape, out in [((2, 4, 7, 6), 4), ((1, 2, 5, 9), 6)]
       for k, s, p, d, g in itertools.product(
           [1, 2, 3, (3, 2)], [1, 2, (1, 3)], [0, 1, (2, 0), "same", "valid"], [1, 2], [1, 2])
       if not (p == "same" and s != 1) and _fits(shape[2:], k, p, d)]


@pytest.mark.slow
@pytest.mark.parametrize("shape, out, kernel, stride, padding, dilation, groups", BIG)
def test_conv2d_matches_torch_on_the_big_matrix(shape, out, kernel, stride, padding, dilation,
                                                groups):
    test_conv2d_matches_torch_values_and_gradients(shape, out, kernel, stride, padding,
                                                   dilation, groups)


def test_the_big_matrix_is_big():
    assert len(BIG) > 250


@pytest.mark.parametrize("kernel, stride, padding, dilation, groups", [
    (3, 1, 0, 1, 1), (4, 2, 3, 1, 1), (3, 1, "same", 2, 2), (2, 3, 1, 2, 1), (1, 1, 0, 1, 4)])
def test_conv1d_matches_torch(kernel, stride, padding, dilation, groups):
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    _compare(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw),
             [(2, 4, 11), (4, 4 // groups, kernel), (4,)])


TRANSPOSED = [  # (input shape, out channels, kernel, stride, padding, output_padding, groups, dil)
    ((2, 4, 5, 4), 3, 3, 1, 0, 0, 1, 1),
    ((2, 4, 5, 4), 3, 3, 2, 1, 1, 1, 1),
    ((1, 4, 3, 5), 6, (2, 3), (2, 3), (1, 0), (1, 2), 2, (1, 2)),
    ((2, 2, 4, 4), 2, 4, 2, 2, 0, 2, 1),
    ((1, 3, 2, 3), 2, 3, 3, 0, 2, 1, 2),
]


@pytest.mark.parametrize("shape, out, kernel, stride, padding, output_padding, groups, dilation",
                         TRANSPOSED)
def test_conv_transpose2d_matches_torch(shape, out, kernel, stride, padding, output_padding,
                                        groups, dilation):
    ks = (kernel, kernel) if isinstance(kernel, int) else kernel
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
              dilation=dilation)
    _compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
             lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
             [shape, (shape[1], out // groups, *ks), (out,)])


def test_conv_without_bias_and_unbatched_inputs_match_torch():
    _compare(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
             [(3, 6, 5), (2, 3, 3, 3)])
    _compare(lambda x, w: F.conv1d(x, w, stride=2), lambda x, w: TF.conv1d(x, w, stride=2),
             [(3, 9), (2, 3, 3)])
    _compare(lambda x, w: F.conv_transpose2d(x, w, stride=2),
             lambda x, w: TF.conv_transpose2d(x, w, stride=2), [(3, 4, 4), (3, 2, 3, 3)])


@pytest.mark.parametrize("kw", [dict(), dict(padding=1, stride=(2, 1)),
                                dict(dilation=(1, 2), padding=(0, 2), stride=2)])
def test_unfold_and_fold_match_torch(kw):
    _compare(lambda x: F.unfold(x, (2, 3), **kw), lambda x: TF.unfold(x, (2, 3), **kw),
             [(2, 3, 6, 7)])
    cols = TF.unfold(torch.zeros(2, 3, 6, 7), (2, 3), **kw).shape
    _compare(lambda c: F.fold(c, (6, 7), (2, 3), **kw),
             lambda c: TF.fold(c, (6, 7), (2, 3), **kw), [tuple(cols)])


def test_conv2d_is_the_weight_matrix_times_unfold():
    # the im2col picture: a convolution is one GEMM of the flattened filters and the columns
    gen = np.random.default_rng(0)
    x = tg.tensor(gen.standard_normal((2, 3, 6, 5)))
    w = tg.tensor(gen.standard_normal((4, 3, 3, 3)))
    cols = F.unfold(x, 3, padding=1)
    assert cols.shape == (2, 27, 30)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 6, 5)
    np.testing.assert_allclose(y.numpy(), F.conv2d(x, w, padding=1).numpy(), rtol=1e-12)


def test_unfold_and_fold_take_unbatched_input_as_torch():
    x = np.arange(2 * 4 * 5, dtype=np.float64).reshape(2, 4, 5)
    cols = F.unfold(tg.tensor(x), 2)
    np.testing.assert_array_equal(cols.numpy(), TF.unfold(torch.tensor(x), 2).numpy())
    np.testing.assert_array_equal(F.fold(cols, (4, 5), 2).numpy(),
                                  TF.fold(torch.tensor(cols.numpy()), (4, 5), 2).numpy())


# ---------------------------------------------------------------- centered differences


@pytest.mark.parametrize("fn, shapes", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=(1, 0), dilation=(1, 2), groups=2),
     [(2, 4, 6, 7), (4, 2, 2, 3), (4,)]),
    (lambda x, w, b: F.conv1d(x, w, b, padding="same"), [(2, 3, 6), (2, 3, 4), (2,)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
     [(1, 2, 3, 3), (2, 3, 3, 3), (3,)]),
    (lambda x: F.unfold(x, 2, stride=(1, 2), padding=1), [(1, 2, 3, 4)]),
    (lambda c: F.fold(c, (3, 4), 2, padding=1), [(1, 8, 20)]),
])
def test_conv_gradients_match_centered_differences(fn, shapes):
    gen = np.random.default_rng(3)
    inputs = [tg.tensor(gen.standard_normal(s), requires_grad=True) for s in shapes]
    cot = tg.tensor(gen.standard_normal(fn(*inputs).shape))
    result = tg.gradcheck(lambda *xs: (fn(*xs) * cot).sum(), inputs)
    assert result.passed, str(result)


# ---------------------------------------------------------------- dtypes


def test_float32_stays_float32_in_values_and_gradients():
    x = tg.randn(2, 3, 6, 6, requires_grad=True)
    conv = nn.Conv2d(3, 4, 3)
    y = conv(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32
    up = nn.ConvTranspose2d(4, 2, 2, stride=2)(y)
    assert up.dtype == np.float32 and F.unfold(x, 2).dtype == np.float32


def test_a_float64_input_to_a_float32_layer_is_refused_as_linear_does():
    with pytest.raises(RuntimeError, match=r"the input is float64 but the weight is float32.*"
                                           r"X\.float\(\)"):
        nn.Conv2d(3, 4, 3)(tg.tensor(np.zeros((1, 3, 5, 5))))
    with pytest.raises(ValueError, match="input is int64"):
        F.conv2d(tg.tensor(np.zeros((1, 1, 3, 3), np.int64)), tg.ones(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match="the bias is float64 but the weight is float32"):
        F.conv2d(tg.ones(1, 1, 3, 3), tg.ones(1, 1, 2, 2), tg.tensor(np.zeros(1)))


# ---------------------------------------------------------------- the layers


def _load_from_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


LAYERS = [  # (class name, args, kwargs, input shape)
    ("Conv2d", (3, 8, 3), {}, (2, 3, 7, 7)),
    ("Conv2d", (3, 8, (3, 5)), dict(stride=2, padding=1, dilation=2, bias=False), (2, 3, 9, 11)),
    ("Conv2d", (4, 6, 3), dict(padding="same", groups=2, padding_mode="reflect"), (2, 4, 6, 5)),
    ("Conv2d", (2, 4, 4), dict(padding="same", padding_mode="circular"), (1, 2, 6, 6)),
    ("Conv2d", (2, 4, 3), dict(padding=(1, 2), padding_mode="replicate"), (2, 5, 5)),
    ("Conv1d", (3, 8, 4), dict(padding="same", padding_mode="reflect"), (2, 3, 9)),
    ("Conv1d", (3, 6, 3), dict(stride=2, groups=3), (3, 10)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, groups=2, output_padding=1), (2, 4, 5, 5)),
    ("ConvTranspose2d", (3, 2, (2, 4)), dict(padding=(0, 1), dilation=2, bias=False), (3, 4, 4)),
]


@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS)
def test_a_torch_state_dict_loads_and_the_layer_computes_what_torch_does(name, args, kwargs,
                                                                          shape):
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs, dtype=tg.float64)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal(shape)
    xt, tt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tt)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = np.random.default_rng(1).standard_normal(y.shape)
    (y * tg.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (k, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=k)


def test_conv_transpose2d_output_size_picks_the_output_padding_as_torch():
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, dtype=tg.float64)
    _load_from_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4))
    for size in [(7, 7), (8, 7), (1, 3, 8, 8)]:
        y = ours(tg.tensor(x), output_size=size)
        ty = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="not reachable"):
        ours(tg.tensor(x), output_size=(10, 10))


@pytest.mark.parametrize("name, args", [("Conv2d", (16, 32, 5)), ("Conv1d", (4, 6, 3)),
                                        ("ConvTranspose2d", (8, 6, (3, 2))),
                                        ("Conv2d", (6, 12, 3))])
def test_default_init_is_torchs_uniform_with_bound_one_over_sqrt_fan_in(name, args):
    tg.manual_seed(0)
    layer = getattr(nn, name)(*args, groups=2 if args == (6, 12, 3) else 1)
    w = layer.weight.numpy()
    fan_in = w.shape[1] * math.prod(w.shape[2:])  # PyTorch's fan_in, also for the transposed
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.15)  # U(-b, b): b/sqrt(3)
    b = layer.bias.numpy()
    assert np.abs(b).max() <= bound and b.std() > 0


def test_conv_layers_take_dtype_and_refuse_an_integer_dtype():
    assert nn.Conv2d(1, 2, 3, dtype=tg.float64).weight.dtype == np.float64
    assert nn.Conv2d(1, 2, 3).bias.dtype == np.float32
    with pytest.raises(TypeError, match="floating-point"):
        nn.Conv1d(1, 2, 3, dtype="int64")


def test_l2_penalty_counts_conv_filters_as_weights():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    names = [name for name, _ in nn.penalized_weights(model)]
    assert names == ["0.weight", "3.weight"]
    expected = (model[0].weight.numpy() ** 2).sum() + (model[3].weight.numpy() ** 2).sum()
    np.testing.assert_allclose(nn.l2_penalty(model, 0.5, 4).item(), 0.5 / 8 * expected,
                               rtol=1e-6)


# ---------------------------------------------------------------- bad input


CONV = "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"


@pytest.mark.parametrize("call, error, match", [
    (lambda: nn.Conv2d(3, 8, 3)(tg.ones(1, 4, 5, 5)), RuntimeError,
     "^" + re.escape(f"{CONV}: expected input with 3 channels, got 4 (input of shape "
                     "(1, 4, 5, 5), weight of shape (8, 3, 3, 3), groups=1)")),
    (lambda: nn.Conv2d(3, 8, 3)(tg.ones(1, 3, 2, 5)), RuntimeError,
     r"^Conv2d\(3, 8, .*kernel size can't be greater than the padded input: padded input size "
     r"per channel \(2, 5\), kernel size \(3, 3\)"),
    (lambda: nn.Conv2d(3, 8, 3)(tg.ones(5, 5)), RuntimeError,
     r"^Conv2d\(3, 8.*expected 3-D \(unbatched\) or 4-D \(batched\) input, got input of shape "
     r"\(5, 5\)"),
    (lambda: nn.Conv1d(2, 4, 3)(tg.ones(1, 2, 3, 3)), RuntimeError,
     r"^Conv1d\(2, 4, kernel_size=\(3,\).*expected 2-D \(unbatched\) or 3-D \(batched\)"),
    (lambda: nn.ConvTranspose2d(4, 2, 3)(tg.ones(1, 2, 5, 5)), RuntimeError,
     r"^ConvTranspose2d\(4, 2.*expected input with 4 channels, got 2"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), stride=0), RuntimeError,
     r"^conv2d: non-positive stride is not supported, got stride=\(0, 0\)"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), padding=-1), RuntimeError,
     r"^conv2d: negative padding is not supported"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), dilation=(1, 0)), RuntimeError,
     r"^conv2d: dilation should be greater than zero, got dilation=\(1, 0\)"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), groups=2), RuntimeError,
     r"^conv2d: expected input with 6 channels, got 3 .*groups=2"),
    (lambda: F.conv2d(tg.ones(1, 4, 5, 5), tg.ones(6, 1, 3, 3), groups=4), RuntimeError,
     r"^conv2d: groups=4 does not divide dimension 0 of the weight of shape \(6, 1, 3, 3\)"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), padding="same", stride=2),
     RuntimeError, r"^conv2d: padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), padding="full"), RuntimeError,
     r"^conv2d: invalid padding string 'full'"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3), ), RuntimeError,
     r"^conv2d: expected a 4-D weight, got weight of shape \(8, 3, 3\)"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), tg.ones(3)), RuntimeError,
     r"^conv2d: bias of shape \(3,\) does not fit weight of shape \(8, 3, 3, 3\)"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), stride=(1, 1, 1)), RuntimeError,
     r"expected stride to be a single integer value or a list of 2 values"),
    (lambda: F.conv2d(tg.ones(1, 3, 5, 5), tg.ones(8, 3, 3, 3), stride=1.5), TypeError,
     r"^conv2d: stride must be an int or a tuple of 2 ints, got 1.5"),
    (lambda: F.conv_transpose2d(tg.ones(1, 2, 3, 3), tg.ones(2, 2, 3, 3), stride=2,
                                output_padding=2), RuntimeError,
     r"^conv_transpose2d: output_padding must be smaller than either stride or dilation"),
    (lambda: F.unfold(tg.ones(1, 1, 2, 2), 3), RuntimeError,
     r"^unfold: kernel size can't be greater than the padded input"),
    (lambda: F.fold(tg.ones(1, 4, 5), (3, 3), 2), RuntimeError,
     r"^fold: input of shape \(1, 4, 5\) does not fit output_size=\(3, 3\), kernel_size="
     r"\(2, 2\): expected \(N, C \* 4, 4\)"),
])
def test_bad_input_raises_naming_the_configuration_and_the_shapes(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("kwargs, match", [
    (dict(groups=2), r"^Conv2d: in_channels must be divisible by groups, got in_channels=3, "
                     r"groups=2"),
    (dict(groups=0), r"^Conv2d: groups must be a positive int, got 0"),
    (dict(stride=0), r"^Conv2d: stride must be positive, got stride=0"),
    (dict(padding=-1), r"^Conv2d: padding must be non-negative, got padding=-1"),
    (dict(dilation=(1, 0)), r"^Conv2d: dilation must be positive"),
    (dict(kernel_size=0), r"^Conv2d: kernel_size must be positive"),
    (dict(padding="same", stride=2), r"^Conv2d: padding='same' is not supported for strided"),
    (dict(padding="full"), r"^Conv2d: invalid padding string 'full'"),
    (dict(padding_mode="mirror"), r"^Conv2d: padding_mode must be one of .*'mirror'"),
])
def test_bad_constructor_arguments_raise_value_error_naming_them(kwargs, match):
    args = dict(in_channels=3, out_channels=6, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(**args)


def test_conv_transpose2d_refuses_other_padding_modes_and_same_padding():
    with pytest.raises(ValueError, match='only "zeros" padding mode'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding must be an int or a pair"):
        nn.ConvTranspose2d(2, 2, 3, padding="same")
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.ConvTranspose2d(2, 3, 3, groups=2)


# ---------------------------------------------------------------- BatchNorm2d


def test_batch_norm2d_matches_torch_over_several_steps_then_in_eval():
    theirs = torch.nn.BatchNorm2d(3, momentum=0.2).double()
    ours = nn.BatchNorm2d(3, momentum=0.2, dtype=tg.float64)
    gen = np.random.default_rng(0)
    _load_from_torch(ours, theirs)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gen.standard_normal(3)))
        theirs.bias.copy_(torch.tensor(gen.standard_normal(3)))
    _load_from_torch(ours, theirs)
    for step in range(4):
        x = gen.standard_normal((4, 3, 5, 6)) * 3.0 + 1.5
        xt, tt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(xt), theirs(tt)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        cot = gen.standard_normal(x.shape)
        (y * tg.tensor(cot)).sum().backward()
        (ty * torch.tensor(cot)).sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-12)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(getattr(ours, name).numpy(),
                                       getattr(theirs, name).numpy(), rtol=1e-12,
                                       err_msg=f"step {step}: {name}")
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), rtol=1e-9)
    ours.eval()
    theirs.eval()
    x = gen.standard_normal((2, 3, 4, 4))
    xt, tt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tt)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), rtol=1e-12)


def test_batch_norm2d_state_dict_from_torch_and_its_unbiased_running_variance():
    theirs = torch.nn.BatchNorm2d(2).double()
    theirs(torch.tensor(np.random.default_rng(0).standard_normal((3, 2, 4, 4))))
    ours = nn.BatchNorm2d(2, dtype=tg.float64)
    _load_from_torch(ours, theirs)
    np.testing.assert_array_equal(ours.running_var.numpy(), theirs.running_var.numpy())
    x = np.random.default_rng(1).standard_normal((5, 2, 3, 3))
    ours(tg.tensor(x))
    n = 5 * 3 * 3  # the running variance takes the unbiased estimate over N*H*W values
    expected = 0.9 * theirs.running_var.numpy() + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1)
    np.testing.assert_allclose(ours.running_var.numpy(), expected, rtol=1e-12)


def test_batch_norm2d_gradients_match_centered_differences():
    bn = nn.BatchNorm2d(2, dtype=tg.float64)
    gen = np.random.default_rng(2)
    x = tg.tensor(gen.standard_normal((3, 2, 2, 3)), requires_grad=True)
    cot = tg.tensor(gen.standard_normal((3, 2, 2, 3)))
    result = tg.gradcheck(lambda x, w, b: (F.batch_norm(x, None, None, w, b, training=True)
                                           * cot).sum(),
                          [x, bn.weight, bn.bias])
    assert result.passed, str(result)


def test_batch_norm_layers_refuse_the_other_rank_naming_the_layout():
    with pytest.raises(ValueError, match=r"^BatchNorm2d: expected 4-D \(N, C, H, W\) input, got "
                                         r"shape \(2, 3\)"):
        nn.BatchNorm2d(3)(tg.ones(2, 3))
    with pytest.raises(ValueError, match=r"^BatchNorm1d: expected 2-D \(N, C\) or 3-D"):
        nn.BatchNorm1d(3)(tg.ones(2, 3, 2, 2))
    with pytest.raises(RuntimeError, match=r"^BatchNorm2d\(3\): input has 4 channels"):
        nn.BatchNorm2d(3)(tg.ones(2, 4, 2, 2))
    assert repr(nn.BatchNorm2d(3)) == repr(torch.nn.BatchNorm2d(3))


# ---------------------------------------------------------------- a CNN, eager and captured


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout2d(0.25), nn.Conv2d(4, 6, 3, padding="same", padding_mode="reflect"),
        nn.ReLU(), nn.AvgPool2d(2, ceil_mode=True), nn.ConvTranspose2d(6, 4, 2, stride=2),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(16, 3)).double()


def test_a_captured_cnn_step_equals_the_eager_step_bit_for_bit():
    tg.manual_seed(0)
    eager_model = _cnn()
    captured_model = _cnn()
    captured_model.load_state_dict(eager_model.state_dict())
    eager_opt = optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    captured_opt = optim.SGD(captured_model.parameters(), lr=0.1, momentum=0.9)
    step = tg.capture(lambda X, y: F.cross_entropy(captured_model(X), y), optimizer=captured_opt)
    gen = np.random.default_rng(1)
    for i in range(5):
        if i == 3:  # eval mode traces a second program; batch norm and dropout switch
            eager_model.eval()
            captured_model.eval()
        X, y = gen.standard_normal((8, 1, 7, 7)), gen.integers(0, 3, 8)
        tg.manual_seed(100 + i)  # the same dropout masks on both sides
        eager_opt.zero_grad()
        eager_loss = F.cross_entropy(eager_model(tg.tensor(X)), tg.tensor(y))
        eager_loss.backward()
        eager_opt.step()
        tg.manual_seed(100 + i)
        captured_loss = step(X, y)
        assert captured_loss.item() == eager_loss.item(), f"step {i}"
        for (name, a), (_, b) in zip(eager_model.state_dict().items(),
                                     captured_model.state_dict().items(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"step {i}: {name}")
    assert len(step._programs[next(iter(step._programs))]) == 2


def test_check_gradients_names_every_parameter_of_a_small_cnn():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(2, 2))
    X, y = tg.randn(3, 1, 5, 5), tg.tensor([0, 1, 1])
    result = tg.check_gradients(model, F.cross_entropy, X, y)
    assert result.passed, str(result)
    assert {"0.weight", "0.bias", "4.weight", "4.bias"} <= set(result.per_input)


def test_conv2d_weight_gradient_with_an_inf_input_matches_torch():
    # stride 1 computes dW from "wide" columns whose wrapped entries are multiplied by zero;
    # an inf there would make nan where the maths (and torch) give inf
    x = np.random.default_rng(0).standard_normal((1, 1, 4, 5))
    x[0, 0, 1, 4] = np.inf  # the last column: wrapped into by the next row's windows
    w = np.ones((1, 1, 2, 2))
    mine_w = tg.tensor(w, requires_grad=True)
    F.conv2d(tg.tensor(x), mine_w).sum().backward()
    ref_w = torch.tensor(w, requires_grad=True)
    TF.conv2d(torch.tensor(x), ref_w).sum().backward()
    np.testing.assert_array_equal(mine_w.grad.numpy(), ref_w.grad.numpy())


def test_conv2d_and_max_pool_results_never_share_the_kernels_scratch_memory():
    # the columns and col2im products live in reused scratch buffers: a second call of the
    # same shape must not change the first call's output, gradients or saved state
    gen = np.random.default_rng(1)
    xs = [tg.tensor(gen.standard_normal((2, 3, 7, 7)), requires_grad=True) for _ in range(2)]
    w = tg.tensor(gen.standard_normal((4, 3, 3, 3)), requires_grad=True)
    ys = [F.max_pool2d(F.conv2d(x, w, padding=1), 2) for x in xs]
    first = ys[0].numpy().copy()
    ys[1].sum().backward()
    g1, gw1 = xs[1].grad.numpy().copy(), w.grad.numpy().copy()
    ys[0].sum().backward()
    np.testing.assert_array_equal(ys[0].numpy(), first)
    np.testing.assert_array_equal(xs[1].grad.numpy(), g1)
    ref_x = torch.tensor(xs[0].numpy(), requires_grad=True)
    ref_w = torch.tensor(w.numpy(), requires_grad=True)
    TF.max_pool2d(TF.conv2d(ref_x, ref_w, padding=1), 2).sum().backward()
    np.testing.assert_allclose(xs[0].grad.numpy(), ref_x.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy() - gw1, ref_w.grad.numpy(), rtol=1e-10, atol=1e-12)

"""gradcheck and check_gradients pass correct backprop, catch wrong backprop, and say where."""

import numpy as np
import pytest

import tinygrad_c2 as tg

F = tg.nn.functional


class WrongSigmoid(tg.Function):
    """A planted bug: forgets the (1 - y) factor of the sigmoid derivative."""

    @staticmethod
    def forward(ctx, x):
        y = 1 / (1 + np.exp(-x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_gradcheck_passes_a_correct_composite():
    x = tg.randn(4, 3, requires_grad=True)
    w = tg.randn(3, 2, requires_grad=True)
    result = tg.gradcheck(lambda x, w: (x @ w).tanh().sum(), [x, w])
    assert result.passed and result.difference < 1e-8
    assert set(result.per_input) == {"input0", "input1"}


def test_gradcheck_catches_a_wrong_custom_function_and_says_it_is_a_bug():
    x = tg.randn(5, requires_grad=True)
    result = tg.gradcheck(lambda x: WrongSigmoid.apply(x).sum(), x)
    assert not result.passed and not bool(result)
    assert result.difference > 1e-3
    assert "FAILED" in str(result) and "bug" in str(result)


def test_gradcheck_names_the_input_whose_gradient_is_wrong():
    x = tg.randn(3, requires_grad=True)
    w = tg.randn(3, requires_grad=True)
    result = tg.gradcheck(lambda x, w: (x * 2).sum() + WrongSigmoid.apply(w).sum(),
                          {"x": x, "w": w})
    assert result.per_input["x"] < 1e-8 < result.per_input["w"]
    assert result.worst_input == "w"
    assert result.worst[0][0] == "w"


def test_gradcheck_works_in_float64_on_float32_inputs_and_leaves_them_alone():
    x = tg.randn(4, requires_grad=True)
    before = x.numpy().copy()
    result = tg.gradcheck(lambda x: (x.sigmoid() * x).sum(), x)
    assert result.passed, str(result)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.dtype == np.float32 and x.grad is None


def test_gradcheck_holds_dropout_masks_fixed():
    x = tg.randn(6, 4, requires_grad=True)
    result = tg.gradcheck(lambda x: (F.dropout(x, p=0.5) ** 2).sum(), x)
    assert result.passed, str(result)


def test_gradcheck_requires_a_scalar_function_and_something_to_check():
    with pytest.raises(ValueError, match="must return a scalar"):
        tg.gradcheck(lambda x: x * 2, tg.randn(3, requires_grad=True))
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda x: x.sum(), tg.randn(3))


def test_report_lists_each_input_and_the_worst_components():
    weight = tg.randn(2, 2, requires_grad=True)
    text = str(tg.gradcheck(lambda weight: (weight * weight).sum(), {"weight": weight}))
    assert "PASSED" in text and "weight" in text and "worst components" in text


class _Model:
    """A minimal model with a planted backward bug in its second layer."""

    def __init__(self):
        self.w1 = tg.randn(3, 4, requires_grad=True)
        self.w2 = tg.randn(4, 2, requires_grad=True)

    def named_parameters(self):
        return [("layer1.weight", self.w1), ("layer2.weight", self.w2)]

    def __call__(self, x):
        return WrongSigmoid.apply((x @ self.w1).tanh()) @ self.w2


def test_check_gradients_names_the_parameter_with_the_bug():
    tg.manual_seed(0)
    model = _Model()
    result = tg.check_gradients(model, F.cross_entropy, tg.randn(5, 3), tg.tensor([0, 1, 1, 0, 1]))
    assert not result.passed
    assert result.worst_input == "layer1.weight"
    assert result.per_input["layer2.weight"] < 1e-7
    assert model.w1.dtype == np.float32 and model.w1.grad is None  # checked on a copy


def test_check_gradients_passes_an_mlp_with_dropout_and_batch_norm():
    tg.manual_seed(1)
    nn = tg.nn
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(6, 3))
    X, y = tg.randn(8, 4), tg.tensor(np.arange(8) % 3)
    result = tg.check_gradients(model, F.cross_entropy, X, y)
    assert result.passed, str(result)
    assert set(result.per_input) == {n for n, _ in model.named_parameters()}


def test_a_parameter_with_a_zero_gradient_is_not_reported_as_a_bug():
    tg.manual_seed(2)
    nn = tg.nn
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2))
    result = tg.check_gradients(model, F.cross_entropy, tg.randn(6, 3), tg.tensor([0, 1] * 3))
    assert result.passed, str(result)
    assert result.per_input["0.bias"] < 1e-7  # its true gradient is exactly 0


def _small_cnn(conv):
    nn = tg.nn
    return nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4))


def test_check_gradients_passes_a_small_cnn_and_names_each_parameter():
    tg.manual_seed(3)
    model = _small_cnn(tg.nn.Conv2d(2, 3, 3))
    X, y = tg.randn(5, 2, 8, 8), tg.tensor(np.arange(5) % 4)  # conv 6x6 -> pool 3x3
    result = tg.check_gradients(model, F.cross_entropy, X, y)
    assert result.passed, str(result)
    assert set(result.per_input) == {"0.weight", "0.bias", "4.weight", "4.bias"}
    assert all(d < 1e-7 for d in result.per_input.values()), str(result)


class FlippedKernelConv(tg.Function):
    """A planted bug: a correct stride-1 convolution (tg.reference's im2col) whose weight
    gradient comes back with the kernel flipped, the convolution-vs-correlation slip."""

    @staticmethod
    def forward(ctx, x, w):
        A = x.transpose(0, 2, 3, 1)  # NCHW -> the reference's NHWC
        W = w.transpose(2, 3, 1, 0)  # (out, in, f, f) -> (f, f, in, out)
        Z, ctx.cache = tg.reference.conv_forward_fast(A, W, np.zeros((1, 1, 1, W.shape[3])),
                                                      {"stride": 1, "pad": 0})
        return np.ascontiguousarray(Z.transpose(0, 3, 1, 2))

    @staticmethod
    def backward(ctx, g):
        dA, dW, _ = tg.reference.conv_backward_fast(g.transpose(0, 2, 3, 1), ctx.cache)
        dW = dW[::-1, ::-1]  # the bug
        return (np.ascontiguousarray(dA.transpose(0, 3, 1, 2)),
                np.ascontiguousarray(dW.transpose(3, 2, 0, 1)))


class FlippedKernelConv2d(tg.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.weight = tg.nn.Parameter(tg.randn(out_channels, in_channels, kernel_size,
                                               kernel_size) * 0.3)

    def forward(self, x):
        return FlippedKernelConv.apply(x, self.weight)


def test_check_gradients_catches_a_broken_conv_backward_and_names_its_weight():
    tg.manual_seed(4)
    model = _small_cnn(FlippedKernelConv2d(2, 3, 3))
    X, y = tg.randn(5, 2, 8, 8), tg.tensor(np.arange(5) % 4)
    result = tg.check_gradients(model, F.cross_entropy, X, y)
    assert not result.passed
    assert result.worst_input == "0.weight" and result.per_input["0.weight"] > 1e-3
    assert result.per_input["4.weight"] < 1e-7  # the layers after it are still right


def test_gradcheck_of_a_function_that_takes_a_gradient_inside():
    # a gradient penalty: the function itself calls autograd.grad(create_graph=True), so its
    # numerical evaluations must run with grad mode on (they did not: "does not require grad")
    x = tg.tensor([[0.3, -0.7], [1.1, 0.4]], dtype=tg.float64)

    def penalized(w):
        xi = x.detach().requires_grad_()
        (gx,) = tg.autograd.grad((xi @ w).tanh().sum(), xi, create_graph=True)
        return (gx * gx).sum()

    w = tg.tensor([[0.5], [-1.5]], dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(penalized, w).passed

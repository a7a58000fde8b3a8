"""tg.reference's CNN: the course's published figures, loops == vectorized, == autograd, == torch.

The figures are the ones the course's notebook ("Convolutional Neural Networks: Step by Step",
Course 4 week 1) prints for its np.random.seed(1) inputs. Layouts: the reference is
channels-last (m, n_H, n_W, n_C) with W (f, f, n_C_prev, n_C); tinygrad_c2 and torch are NCHW
with weight (n_C, n_C_prev, f, f), so every comparison transposes.
"""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import reference as ref
from tinygrad_c2.nn import functional as F


def nchw(A):
    return np.ascontiguousarray(A.transpose(0, 3, 1, 2))


def nhwc(A):
    return np.ascontiguousarray(A.transpose(0, 2, 3, 1))


def _conv_case(seed, m, H, W, C_prev, C, f):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, H, W, C_prev)), rng.standard_normal((f, f, C_prev, C)),
            rng.standard_normal((1, 1, 1, C)))


CONV_CASES = [  # (m, n_H_prev, n_W_prev, n_C_prev, n_C, f, stride, pad)
    (2, 5, 5, 3, 4, 3, 1, 0),
    (2, 5, 7, 4, 8, 3, 2, 1),   # odd, non-square input
    (3, 6, 6, 2, 3, 2, 2, 2),   # the course's pad 2 stride 2
    (1, 4, 4, 1, 1, 4, 1, 0),   # kernel as large as the input
    (2, 7, 6, 3, 2, 3, 3, 1),   # stride larger than the overlap
]
POOL_CASES = [  # (m, n_H_prev, n_W_prev, n_C, f, stride)
    (2, 4, 4, 3, 2, 2),
    (2, 5, 5, 3, 3, 1),   # overlapping windows
    (1, 7, 6, 2, 3, 2),   # overlapping, odd sizes
    (2, 4, 4, 1, 4, 1),
]


# ----------------------------------------------------------------- the course's published figures

def test_zero_pad_matches_the_course():
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = ref.zero_pad(x, 2)
    assert x_pad.shape == (4, 7, 7, 2)
    np.testing.assert_allclose(x[1, 1], [[0.90085595, -0.68372786], [-0.12289023, -0.93576943],
                                         [-0.26788808, 0.53035547]], atol=1e-8)
    assert not x_pad[1, 1].any()
    np.testing.assert_array_equal(x_pad[:, 2:5, 2:5, :], x)


def test_conv_single_step_matches_the_course():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    assert ref.conv_single_step(a_slice_prev, W, b) == pytest.approx(-6.99908945068, abs=1e-11)


def _course_conv():
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    return A_prev, W, b, {"pad": 2, "stride": 2}


def test_conv_forward_matches_the_course():
    Z, cache = ref.conv_forward(*_course_conv())
    assert Z.shape == (10, 4, 4, 8)
    assert np.mean(Z) == pytest.approx(0.0489952035289, abs=1e-12)
    np.testing.assert_allclose(Z[3, 2, 1], [-0.61490741, -6.7439236, -2.55153897, 1.75698377,
                                            3.56208902, 0.53036437, 5.18531798, 8.75898442],
                               atol=1e-8)
    np.testing.assert_allclose(cache[0][1][2][3], [-0.20075807, 0.18656139, 0.41005165],
                               atol=1e-8)


def test_conv_backward_matches_the_course():
    # the notebook feeds Z itself back as dZ
    Z, cache = ref.conv_forward(*_course_conv())
    dA, dW, db = ref.conv_backward(Z, cache)
    assert np.mean(dA) == pytest.approx(1.45243777754, abs=1e-11)
    assert np.mean(dW) == pytest.approx(1.72699145831, abs=1e-11)
    assert np.mean(db) == pytest.approx(7.83923256462, abs=1e-11)


def test_pool_forward_matches_the_course():
    np.random.seed(1)
    A_prev = np.random.randn(2, 4, 4, 3)
    hparameters = {"stride": 2, "f": 3}
    A_max, _ = ref.pool_forward(A_prev, hparameters)
    A_avg, _ = ref.pool_forward(A_prev, hparameters, mode="average")
    assert A_max.shape == A_avg.shape == (2, 1, 1, 3)
    np.testing.assert_allclose(A_max.reshape(2, 3), [[1.74481176, 0.86540763, 1.13376944],
                                                     [1.13162939, 1.51981682, 2.18557541]],
                               atol=1e-8)
    np.testing.assert_allclose(A_avg.reshape(2, 3), [[0.02105773, -0.20328806, -0.40389855],
                                                     [-0.22154621, 0.51716526, 0.48155844]],
                               atol=1e-8)


def test_create_mask_and_distribute_value_match_the_course():
    np.random.seed(1)
    x = np.random.randn(2, 3)
    assert ref.create_mask_from_window(x).tolist() == [[True, False, False],
                                                       [False, False, False]]
    np.testing.assert_array_equal(ref.distribute_value(2, (2, 2)), np.full((2, 2), 0.5))


def test_pool_backward_matches_the_course():
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    _, cache = ref.pool_forward(A_prev, {"stride": 1, "f": 2})
    dA = np.random.randn(5, 4, 2, 2)
    assert np.mean(dA) == pytest.approx(0.145713902729, abs=1e-12)
    np.testing.assert_allclose(ref.pool_backward(dA, cache, mode="max")[1, 1],
                               [[0, 0], [5.05844394, -1.68282702], [0, 0]], atol=1e-8)
    np.testing.assert_allclose(ref.pool_backward(dA, cache, mode="average")[1, 1],
                               [[0.08485462, 0.2787552], [1.26461098, -0.25749373],
                                [1.17975636, -0.53624893]], atol=1e-8)


# ------------------------------------------------------------------- the course's loops, checked

@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_backward_matches_centered_differences(case):
    m, H, W_, C_prev, C, f, stride, pad = case
    A, W, b = _conv_case(1, m, H, W_, C_prev, C, f)
    hp = {"stride": stride, "pad": pad}
    Z, cache = ref.conv_forward(A, W, b, hp)
    G = np.random.default_rng(2).standard_normal(Z.shape)  # random cotangent, not .sum()
    dA, dW, db = ref.conv_backward(G, cache)
    eps = 1e-6
    for arr, grad in ((A, dA), (W, dW), (b, db)):
        for index in [(0,) * arr.ndim, tuple(s - 1 for s in arr.shape)]:
            saved = arr[index]
            arr[index] = saved + eps
            plus = np.sum(G * ref.conv_forward(A, W, b, hp)[0])
            arr[index] = saved - eps
            minus = np.sum(G * ref.conv_forward(A, W, b, hp)[0])
            arr[index] = saved
            assert grad[index] == pytest.approx((plus - minus) / (2 * eps), rel=1e-6, abs=1e-8)


def test_conv_backward_strips_no_rows_when_pad_is_zero():
    # the course's dA_prev = da_prev_pad[pad:-pad] would be empty for pad = 0
    A, W, b = _conv_case(3, 1, 3, 3, 1, 1, 2)
    _, cache = ref.conv_forward(A, W, b, {"stride": 1, "pad": 0})
    dA, _, _ = ref.conv_backward(np.ones((1, 2, 2, 1)), cache)
    w = W[:, :, 0, 0]
    expected = np.zeros((3, 3))
    for h in range(2):
        for v in range(2):
            expected[h:h + 2, v:v + 2] += w
    np.testing.assert_allclose(dA[0, :, :, 0], expected, rtol=1e-14)


@pytest.mark.parametrize("case", CONV_CASES)
def test_vectorized_conv_equals_the_loops(case):
    m, H, W_, C_prev, C, f, stride, pad = case
    A, W, b = _conv_case(4, m, H, W_, C_prev, C, f)
    hp = {"stride": stride, "pad": pad}
    Z, cache = ref.conv_forward(A, W, b, hp)
    Z_fast, cache_fast = ref.conv_forward_fast(A, W, b, hp)
    np.testing.assert_allclose(Z_fast, Z, rtol=1e-12, atol=1e-12)
    G = np.random.default_rng(5).standard_normal(Z.shape)
    for fast, loop in zip(ref.conv_backward_fast(G, cache_fast), ref.conv_backward(G, cache),
                          strict=True):
        np.testing.assert_allclose(fast, loop, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_vectorized_pool_equals_the_loops_without_ties(case, mode):
    m, H, W_, C, f, stride = case
    A = np.random.default_rng(6).standard_normal((m, H, W_, C))
    hp = {"f": f, "stride": stride}
    out, cache = ref.pool_forward(A, hp, mode)
    out_fast, cache_fast = ref.pool_forward_fast(A, hp, mode)
    np.testing.assert_allclose(out_fast, out, rtol=1e-14)
    G = np.random.default_rng(7).standard_normal(out.shape)
    np.testing.assert_allclose(ref.pool_backward_fast(G, cache_fast),
                               ref.pool_backward(G, cache, mode), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call", [
    lambda: ref.conv_forward(np.ones((1, 4, 4, 3)), np.ones((2, 2, 2, 1)), np.ones((1, 1, 1, 1)),
                             {"stride": 1, "pad": 0}),
    lambda: ref.conv_forward(np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1)), np.ones((1, 1, 1, 1)),
                             {"stride": 1, "pad": 0}),
    lambda: ref.conv_forward_fast(np.ones((1, 4, 4, 1)), np.ones((2, 2, 1, 1)),
                                  np.ones((1, 1, 1, 1)), {"stride": 0, "pad": 0}),
    lambda: ref.pool_forward(np.ones((1, 4, 4, 1)), {"f": 2, "stride": 2}, mode="min"),
    lambda: ref.pool_forward_fast(np.ones((1, 2, 2, 1)), {"f": 3, "stride": 1}),
], ids=["channels", "kernel-too-large", "stride-0", "mode", "pool-window-too-large"])
def test_bad_shapes_and_hyperparameters_raise_value_error(call):
    with pytest.raises(ValueError, match="conv_forward|pool_forward"):
        call()


# -------------------------------------------------- max-pool ties: the course's rule vs PyTorch's

def _tied():
    # one 2x2 window whose maximum 3.0 appears twice (row-major first at (0, 1))
    return np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1), {"f": 2, "stride": 2}


def test_course_mask_gives_every_tied_maximum_the_gradient():
    A, hp = _tied()
    _, cache = ref.pool_forward(A, hp)
    dA_prev = ref.pool_backward(np.ones((1, 1, 1, 1)), cache)
    assert dA_prev[0, :, :, 0].tolist() == [[0.0, 1.0], [1.0, 0.0]]  # the gradient counted twice


def test_pytorch_rule_gives_the_first_maximum_the_gradient():
    A, hp = _tied()
    _, cache = ref.pool_forward_fast(A, hp)
    expected = [[0.0, 1.0], [0.0, 0.0]]
    assert ref.pool_backward_fast(np.ones((1, 1, 1, 1)), cache)[0, :, :, 0].tolist() == expected
    x = tg.tensor(nchw(A), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.numpy()[0, 0].tolist() == expected


def test_torch_also_gives_the_first_maximum_the_gradient():
    torch = pytest.importorskip("torch")
    A, _ = _tied()
    x = torch.tensor(nchw(A), requires_grad=True)
    torch.nn.functional.max_pool2d(x, 2).sum().backward()
    assert x.grad.numpy()[0, 0].tolist() == [[0.0, 1.0], [0.0, 0.0]]


# ------------------------------------------- the reference against the autograd and against torch

FRAMEWORKS = ["tinygrad_c2", "torch"]


def framework(name):
    """(make a leaf tensor, the functional module, to numpy) of tinygrad_c2 or torch."""
    if name == "tinygrad_c2":
        return (lambda a: tg.tensor(a, requires_grad=True)), F, tg.tensor
    torch = pytest.importorskip("torch")
    return (lambda a: torch.tensor(a, requires_grad=True)), torch.nn.functional, torch.tensor


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_agrees_with_the_autograd_conv2d_and_torch(case, name):
    leaf, functional, tensor = framework(name)
    m, H, W_, C_prev, C, f, stride, pad = case
    A, W, b = _conv_case(8, m, H, W_, C_prev, C, f)
    Z, cache = ref.conv_forward(A, W, b, {"stride": stride, "pad": pad})
    G = np.random.default_rng(9).standard_normal(Z.shape)
    dA, dW, db = ref.conv_backward(G, cache)
    x, w, bb = (leaf(a) for a in (nchw(A), *ref.to_torch_layout(W, b)))
    out = functional.conv2d(x, w, bb, stride=stride, padding=pad)
    np.testing.assert_allclose(out.detach().numpy(), nchw(Z), rtol=1e-10, atol=1e-10)
    out.backward(tensor(nchw(G)))
    np.testing.assert_allclose(x.grad.numpy(), nchw(dA), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), ref.to_torch_layout(dW, db)[0],
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(bb.grad.numpy(), db.reshape(-1), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", FRAMEWORKS)
@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("case", POOL_CASES)
def test_pool_agrees_with_the_autograd_pooling_and_torch(case, mode, name):
    leaf, functional, tensor = framework(name)
    m, H, W_, C, f, stride = case
    A = np.random.default_rng(10).standard_normal((m, H, W_, C))
    out, cache = ref.pool_forward(A, {"f": f, "stride": stride}, mode)
    G = np.random.default_rng(11).standard_normal(out.shape)
    x = leaf(nchw(A))
    y = (functional.max_pool2d if mode == "max" else functional.avg_pool2d)(x, f, stride)
    np.testing.assert_allclose(y.detach().numpy(), nchw(out), rtol=1e-10, atol=1e-12)
    y.backward(tensor(nchw(G)))
    np.testing.assert_allclose(x.grad.numpy(), nchw(ref.pool_backward(G, cache, mode)),
                               rtol=1e-10, atol=1e-12)


def _lenet(nn, convs=((6, 5), (16, 5)), hidden=(120, 84), features=256, n_in=1):
    layers, channels = [], n_in
    for n_C, f in convs:
        layers += [nn.Conv2d(channels, n_C, f), nn.ReLU(), nn.MaxPool2d(2)]
        channels = n_C
    layers.append(nn.Flatten())
    width = features
    for size in (*hidden, 10):
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    return nn.Sequential(*layers[:-1])


def _lenet_case():
    rng = np.random.default_rng(12)
    net = ref.ConvNet.initialize((28, 28, 1), [(6, 5), (16, 5)], [120, 84], 10, rng=rng)
    X = rng.standard_normal((6, 28, 28, 1))
    y = rng.integers(0, 10, 6)
    return net, X, y


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_convnet_training_step_agrees_with_the_autograd_and_torch(name):
    leaf, functional, tensor = framework(name)
    nn = tg.nn if name == "tinygrad_c2" else pytest.importorskip("torch").nn
    net, X, y = _lenet_case()
    J, grads = net.loss_and_grads(X, y)
    model = _lenet(nn).double()
    for p, value in zip(model.parameters(), net.torch_state(), strict=True):
        p.data = tensor(value)
    loss = functional.cross_entropy(model(tensor(nchw(X))), tensor(y))
    loss.backward()
    assert loss.item() == pytest.approx(J, rel=1e-12)
    for p, g in zip(model.parameters(), net.torch_grads(grads), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-12)


def test_convnet_torch_state_round_trips():
    net, _, _ = _lenet_case()
    other = ref.ConvNet.initialize((28, 28, 1), [(6, 5), (16, 5)], [120, 84], 10,
                                   rng=np.random.default_rng(99))
    other.load_torch_state(net.torch_state())
    for name, p in net.parameters.items():
        np.testing.assert_array_equal(other.parameters[name], p)

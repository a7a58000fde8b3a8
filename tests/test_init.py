"""nn.init: gains and fans exactly as PyTorch; distributions checked statistically on large
tensors (tolerances of a few standard errors, tight enough that the wrong formula fails)."""

import math

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn
from tinygrad_c2.nn import init


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def big(shape=(500, 400), dtype=np.float64):
    return tg.Tensor(np.zeros(shape, dtype=dtype))


@pytest.fixture(autouse=True)
def seeded():
    tg.manual_seed(0)  # deterministic; the tolerances below hold for any seed anyway


def assert_std(array, expected):
    """Mean 0 and std `expected`, within 5 standard errors of n draws: for the 2e5-element
    tensors used here that is 0.8% on the std, far below the gaps between formulas (sqrt(2),
    sqrt(9/8) = 6%)."""
    n = array.size
    assert abs(array.std() - expected) < 5 / math.sqrt(2 * n) * expected, (array.std(), expected)
    assert abs(array.mean()) < 5 / math.sqrt(n) * expected, array.mean()


def assert_uniform(array, bound):
    assert np.abs(array).max() <= bound
    assert np.abs(array).max() > 0.999 * bound  # reaches the bound, so not too narrow
    assert_std(array, bound / math.sqrt(3))


# ---- gains and fans, exactly ---------------------------------------------------------------


GAINS = [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("leaky_relu", 0), ("selu", None),
]


@pytest.mark.parametrize("nonlinearity,param", GAINS)
def test_calculate_gain_equals_torch_exactly(torch, nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param
    )


def test_calculate_gain_rejects_unknown_names_and_bad_slopes():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 3, 2), (2, 3, 4, 5), (1, 1)])
def test_fan_in_and_fan_out_equal_torch(torch, shape):
    ours = init._calculate_fan_in_and_fan_out(tg.zeros(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs


def test_fans_need_at_least_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tg.zeros(3))
    with pytest.raises(ValueError, match="fan_in' or 'fan_out"):
        init.kaiming_normal_(big(), mode="fan_avg")


# ---- PyTorch's initializers: in place, returning the tensor --------------------------------


def test_initializers_fill_the_same_array_in_place_and_return_the_tensor():
    t = big((3, 4), np.float32)
    array = t.numpy()
    for fn in (init.zeros_, init.ones_, init.normal_, init.uniform_, init.kaiming_normal_,
               init.kaiming_uniform_, init.xavier_normal_, init.xavier_uniform_):
        assert fn(t) is t and t.numpy() is array and t.dtype == np.float32
    assert init.constant_(t, 2.5) is t and np.all(t.numpy() == 2.5)
    assert np.all(init.zeros_(t).numpy() == 0) and np.all(init.ones_(t).numpy() == 1)


def test_initializers_accept_a_parameter_and_a_plain_array():
    p = nn.Parameter(np.zeros((2, 2)))
    assert init.ones_(p) is p and p.requires_grad
    a = np.zeros(3)
    assert init.constant_(a, 4.0) is a and np.all(a == 4)
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(np.zeros(3, dtype=np.int64))


def test_uniform_and_normal_have_the_requested_distribution():
    assert_uniform(init.uniform_(big(), -0.5, 0.5).numpy(), 0.5)
    assert abs(init.uniform_(big(), 2.0, 4.0).numpy().mean() - 3.0) < 0.01
    t = init.normal_(big(), mean=3.0, std=0.5).numpy()
    assert abs(t.mean() - 3.0) < 0.005 and abs(t.std() - 0.5) < 0.005


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2),
                                            ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming_normal_and_uniform_follow_he_with_gain(mode, nonlinearity, a):
    fan = 400 if mode == "fan_in" else 500
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    assert_std(init.kaiming_normal_(big(), a, mode, nonlinearity).numpy(), std)
    assert_uniform(init.kaiming_uniform_(big(), a, mode, nonlinearity).numpy(), math.sqrt(3) * std)


def test_kaiming_defaults_are_leaky_relu_with_slope_zero_and_fan_in():
    assert_std(init.kaiming_normal_(big()).numpy(), math.sqrt(2 / 400))


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier_normal_and_uniform_follow_glorot(gain):
    std = gain * math.sqrt(2 / (400 + 500))
    assert_std(init.xavier_normal_(big(), gain).numpy(), std)
    assert_uniform(init.xavier_uniform_(big(), gain=gain).numpy(), math.sqrt(3) * std)


def test_fans_include_the_receptive_field_for_higher_rank_weights():
    # (out=40, in=20, k=25): fan_in = 500, fan_out = 1000
    t = tg.Tensor(np.zeros((40, 20, 25)))
    assert_std(init.kaiming_normal_(t, nonlinearity="relu").numpy(), math.sqrt(2 / 500))
    assert_std(init.xavier_normal_(t).numpy(), math.sqrt(2 / 1500))


def test_draws_come_from_the_library_generator_or_an_explicit_one():
    tg.manual_seed(5)
    a = init.normal_(big((3, 3))).numpy().copy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(big((3, 3))).numpy(), a)
    b = init.kaiming_uniform_(big((3, 3)), generator=np.random.default_rng(1)).numpy().copy()
    c = init.kaiming_uniform_(big((3, 3)), generator=np.random.default_rng(1)).numpy()
    np.testing.assert_array_equal(b, c)
    assert not np.array_equal(a, b)


def test_empty_tensors_are_left_alone():
    t = tg.Tensor(np.zeros((0, 3)))
    assert init.kaiming_uniform_(t) is t and init.kaiming_normal_(t) is t


# ---- the course's schemes --------------------------------------------------------------


def course_model():
    return nn.Sequential(nn.Linear(400, 500, dtype=np.float64), nn.BatchNorm1d(500),
                         nn.ReLU(), nn.Linear(500, 300, dtype=np.float64))


@pytest.mark.parametrize("scheme,std_of_fan_in", [
    ("he", lambda n: math.sqrt(2 / n)),
    ("xavier", lambda n: math.sqrt(1 / n)),
    ("random", lambda n: 10.0),
])
def test_course_schemes_scale_a_standard_normal_by_the_course_factor(scheme, std_of_fan_in):
    model = init.apply_(course_model(), scheme)
    for layer, fan_in in ((model[0], 400), (model[3], 500)):
        assert_std(layer.weight.numpy(), std_of_fan_in(fan_in))
        assert np.all(layer.bias.numpy() == 0)
    assert np.all(model[1].weight.numpy() == 1) and np.all(model[1].bias.numpy() == 0)


def test_course_xavier_differs_from_glorot_xavier_normal():
    course = init.course_init_(big(), "xavier").numpy().std()
    glorot = init.xavier_normal_(big()).numpy().std()
    assert abs(course / glorot - math.sqrt(900 / 800)) < 0.01


def test_course_random_scheme_takes_a_scale_and_zeros_zeroes_everything():
    model = init.apply_(course_model(), "random", scale=0.01)
    assert_std(model[0].weight.numpy(), 0.01)
    model = init.apply_(course_model(), "zeros")
    assert all(np.all(p.numpy() == 0) for name, p in model.named_parameters() if name[0] != "1")


def test_course_he_equals_kaiming_normal_for_relu_draw_for_draw():
    a = init.course_init_(big((4, 6)), "he", generator=np.random.default_rng(2)).numpy()
    b = init.kaiming_normal_(big((4, 6)), nonlinearity="relu",
                             generator=np.random.default_rng(2)).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-15)


def test_course_schemes_are_reproducible_under_manual_seed():
    tg.manual_seed(8)
    a = init.apply_(course_model(), "he")[0].weight.numpy().copy()
    tg.manual_seed(8)
    np.testing.assert_array_equal(init.apply_(course_model(), "he")[0].weight.numpy(), a)


def test_course_schemes_reject_unknown_names_and_misplaced_scale():
    with pytest.raises(ValueError, match="unknown scheme 'glorot'"):
        init.apply_(course_model(), "glorot")
    with pytest.raises(ValueError, match="scale only applies to the 'random' scheme"):
        init.apply_(course_model(), "he", scale=2.0)
    with pytest.raises(ValueError, match="weight matrix"):
        init.course_init_(big((2, 3, 4)), "he")

"""tg.reference: hand-derived gradients against centered differences, numpy formulas and errors."""

import numpy as np
import pytest
from test_reference_helpers import draw_masks, make_data, make_net

from tinygrad_c2.reference import (
    GD,
    MLP,
    Adam,
    Momentum,
    RMSprop,
    batchnorm_forward,
    dropout_mask,
    sigmoid,
)


def numeric_grads(net, X, Y, masks, h=1e-6):
    """Centered differences of the cost, one parameter entry at a time."""
    grads = {}
    for name, p in net.parameters.items():
        g = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            saved = p[i]
            p[i] = saved + h
            plus = net.cost(net.forward(X, masks)[1], Y)
            p[i] = saved - h
            minus = net.cost(net.forward(X, masks)[1], Y)
            p[i] = saved
            g[i] = (plus - minus) / (2 * h)
        grads["d" + name] = g
    return grads


def assert_grads_match_centered_differences(net, m=8):
    X, Y = make_data(net, m)
    masks = draw_masks(net, m, np.random.default_rng(2))
    J, grads = net.loss_and_grads(X, Y, masks)
    numeric = numeric_grads(net, X, Y, masks)
    assert list(grads) == list(numeric)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    flat_numeric = np.concatenate([g.ravel() for g in numeric.values()])
    # The course's relative difference over theta, then each parameter against the overall scale
    # (a bias feeding batch norm has a true gradient of 0, so its own relative error is noise).
    difference = np.linalg.norm(flat - flat_numeric) / (
        np.linalg.norm(flat) + np.linalg.norm(flat_numeric))
    assert difference < 1e-8, difference
    scale = np.linalg.norm(flat_numeric)
    for name in grads:
        assert np.linalg.norm(grads[name] - numeric[name]) < 1e-7 * scale, name
    return J


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_gradients_match_centered_differences_for_each_activation_and_output(activation, output):
    dims = (4, 6, 5, 1 if output == "sigmoid" else 3)
    assert_grads_match_centered_differences(make_net(dims, activation, output))


def test_gradients_match_centered_differences_with_l2():
    net = make_net(activation="tanh", lambd=0.7)
    assert_grads_match_centered_differences(net)


def test_gradients_match_centered_differences_with_fixed_dropout_masks():
    net = make_net(activation="relu", keep_prob=[0.7, 0.5])
    assert_grads_match_centered_differences(net)


@pytest.mark.parametrize("bias_before_bn", [False, True])
def test_gradients_match_centered_differences_with_batch_norm_in_training_mode(bias_before_bn):
    net = make_net(activation="tanh", batch_norm=True, bias_before_bn=bias_before_bn)
    assert_grads_match_centered_differences(net)


def test_gradients_match_centered_differences_with_everything_at_once():
    net = make_net((5, 7, 6, 1), "sigmoid", "sigmoid", batch_norm=True, keep_prob=0.8, lambd=0.3)
    assert_grads_match_centered_differences(net, m=10)


def test_gradients_match_centered_differences_with_batch_norm_in_eval_mode():
    net = make_net(activation="relu", batch_norm=True)
    X, _ = make_data(net)
    net.forward(X)  # move the running statistics away from 0 and 1
    net.eval()
    assert_grads_match_centered_differences(net)


def test_cost_matches_the_course_formula():
    net = make_net((4, 6, 1), "tanh", "sigmoid", lambd=0.5)
    X, Y = make_data(net)
    AL, caches = net.forward(X)
    m = X.shape[0]
    expected = -np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))
    expected += 0.5 / (2 * m) * sum(np.sum(net.parameters[f"W{k}"] ** 2) for k in (1, 2))
    assert net.cost(caches, Y) == pytest.approx(expected, rel=1e-13)


def test_softmax_cost_matches_minus_mean_log_probability_of_the_label():
    net = make_net()
    X, Y = make_data(net)
    AL, caches = net.forward(X)
    np.testing.assert_allclose(AL.sum(axis=1), 1.0, rtol=1e-14)
    expected = -np.mean(np.log(AL[np.arange(len(Y)), Y]))
    assert net.cost(caches, Y) == pytest.approx(expected, rel=1e-13)


def test_saturated_outputs_give_finite_costs_and_no_warnings():
    net = make_net((4, 3, 1), "relu", "sigmoid")
    net.parameters["W2"] *= 1e4
    X, Y = make_data(net)
    J, grads = net.loss_and_grads(X, Y)
    assert np.isfinite(J) and all(np.isfinite(g).all() for g in grads.values())


def test_sigmoid_is_accurate_far_into_both_tails():
    z = np.array([-700.0, -40.0, -5.0, 0.0, 5.0, 40.0])
    np.testing.assert_allclose(sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    assert sigmoid(z.astype(np.float32)).dtype == np.float32


def test_batch_norm_forward_normalizes_with_sqrt_of_var_plus_eps_and_updates_running_stats():
    rng = np.random.default_rng(0)
    Z = rng.normal(3.0, 2.0, size=(16, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    running_mean, running_var = np.zeros(4), np.ones(4)
    out, _ = batchnorm_forward(Z, gamma, beta, running_mean, running_var, training=True)
    expected = gamma * (Z - Z.mean(0)) / np.sqrt(Z.var(0) + 1e-5) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(running_mean, 0.1 * Z.mean(0), rtol=1e-12)
    np.testing.assert_allclose(running_var, 0.9 + 0.1 * Z.var(0, ddof=1), rtol=1e-12)


def test_forward_draws_dropout_masks_like_dropout_mask_in_forward_order():
    net = make_net(keep_prob=[0.8, 0.6])
    X, _ = make_data(net)
    net.rng = np.random.default_rng(5)
    _, caches = net.forward(X)
    replay = np.random.default_rng(5)
    for layer in (1, 2):
        n = net.parameters[f"W{layer}"].shape[0]
        keep = net.keep_prob[layer]
        expected = (replay.random((len(X), n)) < keep) * (1 / keep)
        np.testing.assert_array_equal(caches[layer][3], expected)


def test_dropout_mask_follows_the_dtype_and_uses_the_library_generator():
    tg_rng = pytest.importorskip("tinygrad_c2.rng")
    tg_rng.manual_seed(3)
    mask = dropout_mask((5, 4), 0.8, np.float32)
    tg_rng.manual_seed(3)
    expected = (tg_rng.generator().random((5, 4), dtype=np.float32) < 0.8) * np.float32(1 / 0.8)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, expected)


def test_eval_mode_turns_dropout_off_and_uses_running_statistics():
    net = make_net(batch_norm=True, keep_prob=0.5)
    X, _ = make_data(net)
    net.forward(X)
    running = {k: v.copy() for k, v in net.running_mean.items()}
    a = net.predict(X)
    b = net.predict(X)
    np.testing.assert_array_equal(a, b)
    assert net.training
    for k in running:
        np.testing.assert_array_equal(net.running_mean[k], running[k])


def test_float32_weights_give_float32_activations_and_gradients():
    net = MLP.initialize([4, 6, 3], output="softmax", batch_norm=True, keep_prob=0.9,
                         dtype=np.float32, rng=np.random.default_rng(0))
    X = np.random.default_rng(1).normal(size=(8, 4))  # float64 input is converted
    AL, caches = net.forward(X)
    grads = net.backward(AL, np.arange(8) % 3, caches)
    assert AL.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_update_rules_match_their_formulas_over_three_steps():
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(3, 2))
    gs = [rng.normal(size=(3, 2)) for _ in range(3)]
    lr, b1, b2, eps = 0.1, 0.8, 0.95, 1e-8
    expected = {key: w0.copy() for key in ("gd", "momentum", "rmsprop", "adam")}
    v, s = np.zeros_like(w0), np.zeros_like(w0)  # first and second moments, both from 0
    for t, g in enumerate(gs, start=1):
        v = b1 * v + (1 - b1) * g
        s = b2 * s + (1 - b2) * g**2
        expected["gd"] -= lr * g
        expected["momentum"] -= lr * v
        expected["rmsprop"] -= lr * g / (np.sqrt(s) + eps)
        expected["adam"] -= lr * (v / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + eps)
    optimizers = {"gd": GD(lr), "momentum": Momentum(lr, b1), "rmsprop": RMSprop(lr, b2, eps),
                  "adam": Adam(lr, b1, b2, eps)}
    for key, opt in optimizers.items():
        params = {"W1": w0.copy()}
        for g in gs:
            opt.step(params, {"dW1": g})
        np.testing.assert_allclose(params["W1"], expected[key], rtol=1e-12, err_msg=key)


def test_training_with_adam_lowers_the_cost():
    net = make_net((4, 8, 3), "relu", "softmax", batch_norm=True)
    X, Y = make_data(net, m=32)
    opt = Adam(lr=0.05)
    first = net.train_step(X, Y, opt)
    for _ in range(100):
        last = net.train_step(X, Y, opt)
    assert last < 0.5 * first


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda net: net.forward(np.ones((3, 4))), r"X must have shape \(m, 5\)"),
        (lambda net: net.loss_and_grads(np.ones((3, 5)), np.ones(3)), "integers of shape"),
        (lambda net: net.loss_and_grads(np.ones((3, 5)), np.zeros(2, int)), r"shape \(3,\)"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(make_net())


def test_bad_configuration_raises_clear_errors():
    params = {"W1": np.ones((3, 2)), "W2": np.ones((1, 3))}
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP(params, activation="softplus")
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLP(params, keep_prob=[0.5, 0.5])
    with pytest.raises(ValueError, match="output must be one of"):
        MLP(params, output="linear")
    with pytest.raises(TypeError, match="expected float64"):
        MLP({"W1": np.ones((3, 2)), "W2": np.ones((1, 3), np.float32)})
    with pytest.raises(ValueError, match=r"W2 has shape \(1, 4\), expected \(1, 3\)"):
        MLP({"W1": np.ones((3, 2)), "W2": np.ones((1, 4))})
    with pytest.raises(ValueError, match=r"b1 has shape \(2,\), expected \(3,\)"):
        MLP({"W1": np.ones((3, 2)), "b1": np.ones(2), "W2": np.ones((1, 3))})
    with pytest.raises(ValueError, match="learning rate"):
        Adam(lr=-1.0)
    with pytest.raises(ValueError, match="more than 1 example"):
        make_net(batch_norm=True).forward(np.ones((1, 5)))

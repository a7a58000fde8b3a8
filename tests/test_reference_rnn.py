"""tg.reference's RNN and LSTM (the course's layout) against the course's figures, centered
differences, tinygrad_c2's nn.RNN/nn.LSTM and torch's, on the same weights, in float64."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, reference
from tinygrad_c2.reference import rnn as R

N_X, N_A, N_Y, M = 3, 5, 2, 10


def course_rnn_parameters() -> dict:
    """The notebook's draw order after its inputs (np.random.seed(1) first)."""
    return {"Wax": np.random.randn(N_A, N_X), "Waa": np.random.randn(N_A, N_A),
            "Wya": np.random.randn(N_Y, N_A), "ba": np.random.randn(N_A, 1),
            "by": np.random.randn(N_Y, 1)}


def course_lstm_parameters() -> dict:
    shapes = {"Wf": (N_A, N_A + N_X), "bf": (N_A, 1), "Wi": (N_A, N_A + N_X), "bi": (N_A, 1),
              "Wo": (N_A, N_A + N_X), "bo": (N_A, 1), "Wc": (N_A, N_A + N_X), "bc": (N_A, 1),
              "Wy": (N_Y, N_A), "by": (N_Y, 1)}
    return {name: np.random.randn(*shape) for name, shape in shapes.items()}


# ------------------------------------------------------------- the course's expected output
def test_rnn_cell_forward_reproduces_the_course_figures():
    np.random.seed(1)
    xt, a_prev = np.random.randn(N_X, M), np.random.randn(N_A, M)
    p = {"Waa": np.random.randn(N_A, N_A), "Wax": np.random.randn(N_A, N_X),
         "Wya": np.random.randn(N_Y, N_A), "ba": np.random.randn(N_A, 1),
         "by": np.random.randn(N_Y, 1)}
    a_next, yt_pred, cache = reference.rnn_cell_forward(xt, a_prev, p)
    np.testing.assert_allclose(a_next[4], [0.59584544, 0.18141802, 0.61311866, 0.99808218,
                                           0.85016201, 0.99980978, -0.18887155, 0.99815551,
                                           0.6531151, 0.82872037], atol=1e-8)
    np.testing.assert_allclose(yt_pred[1], [0.9888161, 0.01682021, 0.21140899, 0.36817467,
                                            0.98988387, 0.88945212, 0.36920224, 0.9966312,
                                            0.9982559, 0.17746526], atol=1e-8)
    assert cache[0] is a_next and cache[1] is a_prev and cache[2] is xt and cache[3] is p


def test_rnn_forward_reproduces_the_course_figures():
    np.random.seed(1)
    x, a0 = np.random.randn(N_X, M, 4), np.random.randn(N_A, M)
    # this cell of the notebook draws Waa before Wax
    p = {"Waa": np.random.randn(N_A, N_A), "Wax": np.random.randn(N_A, N_X),
         "Wya": np.random.randn(N_Y, N_A), "ba": np.random.randn(N_A, 1),
         "by": np.random.randn(N_Y, 1)}
    a, y_pred, caches = reference.rnn_forward(x, a0, p)
    assert a.shape == (5, 10, 4) and y_pred.shape == (2, 10, 4) and len(caches[0]) == 4
    np.testing.assert_allclose(a[4][1], [-0.99999375, 0.77911235, -0.99861469, -0.99833267],
                               atol=1e-8)
    np.testing.assert_allclose(y_pred[1][3], [0.79560373, 0.86224861, 0.11118257, 0.81515947],
                               atol=1e-8)


def test_rnn_backward_reproduces_the_course_figures():
    np.random.seed(1)
    x, a0 = np.random.randn(N_X, M, 4), np.random.randn(N_A, M)
    _, _, caches = reference.rnn_forward(x, a0, course_rnn_parameters())
    grads = reference.rnn_backward(np.random.randn(N_A, M, 4), caches)
    np.testing.assert_allclose(grads["dx"][1][2],
                               [-2.07101689, -0.59255627, 0.02466855, 0.01483317], atol=1e-8)
    assert grads["da0"][2][3] == pytest.approx(-0.314942375127, abs=1e-11)
    assert grads["dWax"][3][1] == pytest.approx(11.2641044965, abs=1e-9)
    assert grads["dWaa"][1][2] == pytest.approx(2.30333312658, abs=1e-10)
    assert grads["dba"][4] == pytest.approx([-0.74747722], abs=1e-8)
    assert grads["dba"].shape == (5, 1)


def test_lstm_cell_forward_and_backward_reproduce_the_course_figures():
    np.random.seed(1)
    xt, a_prev, c_prev = (np.random.randn(N_X, M), np.random.randn(N_A, M),
                          np.random.randn(N_A, M))
    p = course_lstm_parameters()
    a_next, c_next, yt, cache = reference.lstm_cell_forward(xt, a_prev, c_prev, p)
    np.testing.assert_allclose(a_next[4], [-0.66408471, 0.0036921, 0.02088357, 0.22834167,
                                           -0.85575339, 0.00138482, 0.76566531, 0.34631421,
                                           -0.00215674, 0.43827275], atol=1e-8)
    np.testing.assert_allclose(c_next[2], [0.63267805, 1.00570849, 0.35504474, 0.20690913,
                                           -1.64566718, 0.11832942, 0.76449811, -0.0981561,
                                           -0.74348425, -0.26810932], atol=1e-8)
    np.testing.assert_allclose(yt[1], [0.79913913, 0.15986619, 0.22412122, 0.15606108,
                                       0.97057211, 0.31146381, 0.00943007, 0.12666353,
                                       0.39380172, 0.07828381], atol=1e-8)
    assert len(cache) == 10
    g = reference.lstm_cell_backward(np.random.randn(N_A, M), np.random.randn(N_A, M), cache)
    assert g["dxt"][1][2] == pytest.approx(3.23055911511, abs=1e-10)
    assert g["da_prev"][2][3] == pytest.approx(-0.0639621419711, abs=1e-12)
    assert g["dc_prev"][2][3] == pytest.approx(0.797522038797, abs=1e-11)
    assert g["dWf"][3][1] == pytest.approx(-0.147954838164, abs=1e-11)
    assert g["dWi"][1][2] == pytest.approx(1.05749805523, abs=1e-10)
    assert g["dWc"][3][1] == pytest.approx(2.30456216369, abs=1e-10)
    assert g["dWo"][1][2] == pytest.approx(0.331311595289, abs=1e-11)
    for name, value in {"dbf": 0.18864637, "dbi": -0.40142491, "dbc": 0.25587763,
                        "dbo": 0.13893342}.items():
        assert g[name].shape == (5, 1) and g[name][4, 0] == pytest.approx(value, abs=1e-8)


def test_lstm_forward_reproduces_the_course_figures():
    np.random.seed(1)
    x, a0 = np.random.randn(N_X, M, 7), np.random.randn(N_A, M)
    a, y, c, caches = reference.lstm_forward(x, a0, course_lstm_parameters())
    assert a.shape == c.shape == (5, 10, 7) and y.shape == (2, 10, 7) and len(caches) == 2
    assert a[4][3][6] == pytest.approx(0.172117767533, abs=1e-12)
    assert y[1][4][3] == pytest.approx(0.95087346185, abs=1e-11)
    assert c[1][2][1] == pytest.approx(-0.855544916718, abs=1e-12)
    np.testing.assert_allclose(caches[1][1][1], [0.82797464, 0.23009474, 0.76201118,
                                                 -0.22232814, -0.20075807, 0.18656139,
                                                 0.41005165], atol=1e-8)


# -------------------------------------------------------------------- centered differences
def _numerical(loss, arrays: dict, eps: float = 1e-6) -> dict:
    grads = {}
    for name, array in arrays.items():
        g = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + eps
            up = loss()
            array[index] = old - eps
            down = loss()
            array[index] = old
            g[index] = (up - down) / (2 * eps)
        grads[name] = g
    return grads


def test_lstm_backward_matches_centered_differences_through_the_recurrence():
    rng = np.random.default_rng(0)
    x, a0 = rng.standard_normal((N_X, 4, 6)), rng.standard_normal((N_A, 4))
    c0 = rng.standard_normal((N_A, 4))
    np.random.seed(3)
    p = course_lstm_parameters()
    G = rng.standard_normal((N_A, 4, 6))  # a random cotangent: sum() would hide transposes

    def loss():
        return float((reference.lstm_forward(x, a0, p, c0)[0] * G).sum())

    grads = reference.lstm_backward(G, reference.lstm_forward(x, a0, p, c0)[3])
    wanted = _numerical(loss, {"dx": x, "da0": a0, "dc0": c0,
                               **{f"d{k}": p[k] for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc",
                                                          "Wo", "bo")}})
    for name, numerical in wanted.items():
        assert grads[name].shape == numerical.shape, name
        np.testing.assert_allclose(grads[name], numerical, rtol=1e-6, atol=1e-8, err_msg=name)


def test_rnn_backward_matches_centered_differences():
    rng = np.random.default_rng(1)
    x, a0 = rng.standard_normal((N_X, 4, 5)), rng.standard_normal((N_A, 4))
    np.random.seed(4)
    p = course_rnn_parameters()
    G = rng.standard_normal((N_A, 4, 5))

    def loss():
        return float((reference.rnn_forward(x, a0, p)[0] * G).sum())

    grads = reference.rnn_backward(G, reference.rnn_forward(x, a0, p)[2])
    wanted = _numerical(loss, {"dx": x, "da0": a0, "dWax": p["Wax"], "dWaa": p["Waa"],
                               "dba": p["ba"]})
    for name, numerical in wanted.items():
        np.testing.assert_allclose(grads[name], numerical, rtol=1e-6, atol=1e-8, err_msg=name)


def test_lstm_backward_without_the_recurrence_is_not_the_gradient():
    # The published variant that drops da_prev/dc_prev (see reference/rnn.py): its dWf differs
    # from the true one, so a test against autograd tells the two apart.
    rng = np.random.default_rng(2)
    x, a0 = rng.standard_normal((N_X, 4, 5)), rng.standard_normal((N_A, 4))
    np.random.seed(5)
    p = course_lstm_parameters()
    G = rng.standard_normal((N_A, 4, 5))
    caches = reference.lstm_forward(x, a0, p)[3]
    right = reference.lstm_backward(G, caches)
    cut = sum(reference.lstm_cell_backward(G[:, :, t], np.zeros((N_A, 4)), caches[0][t])["dWf"]
              for t in range(5))
    assert np.abs(cut - right["dWf"]).max() > 1e-3


# ---------------------------------------------------- nn.RNN / nn.LSTM (tinygrad_c2, torch)
def _sequence(seed: int, T: int = 6, m: int = 4):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N_X, m, T)), rng.standard_normal((N_A, m)),
            rng.standard_normal((N_A, m)), rng.standard_normal((N_A, m, T)))


def _layer_in_torch_layout(x, a0, c0):
    """(n_x, m, T) -> (T, m, n_x) and a state (n_a, m) -> (1, m, n_a), as nn.LSTM takes them."""
    return (np.ascontiguousarray(x.transpose(2, 1, 0)), a0.T[None].copy(), c0.T[None].copy())


def _run_library(lib, kind: str, weights: dict, x, a0, c0, da):
    """Forward and backward through lib.nn.RNN/LSTM (lib is tinygrad_c2 or torch): returns
    the outputs (course layout) and the gradients under the reference's names."""
    X, h0, c0 = _layer_in_torch_layout(x, a0, c0)
    X, h0, c0 = (lib.tensor(v, requires_grad=True) for v in (X, h0, c0))
    if kind == "rnn":
        layer = lib.nn.RNN(N_X, N_A).double()
    else:
        layer = lib.nn.LSTM(N_X, N_A).double()
    state = {name: lib.tensor(w.copy()) for name, w in weights.items()}
    layer.load_state_dict(state)
    if kind == "rnn":
        out, h_n = layer(X, h0)
    else:
        out, (h_n, c_n) = layer(X, (h0, c0))
    out.backward(lib.tensor(np.ascontiguousarray(da.transpose(2, 1, 0))))
    grads = {name: p.grad.numpy() for name, p in layer.named_parameters()}
    result = {"a": out.detach().numpy().transpose(2, 1, 0), "dx": X.grad.numpy().transpose(2, 1, 0),
              "da0": h0.grad.numpy()[0].T, "grads": grads}
    if kind == "lstm":
        result["dc0"] = c0.grad.numpy()[0].T
    return result


def _check_rnn(lib):
    x, a0, _, da = _sequence(10)
    np.random.seed(11)
    p = course_rnn_parameters()
    a, _, caches = reference.rnn_forward(x, a0, p)
    ref = reference.rnn_backward(da, caches)
    got = _run_library(lib, "rnn", reference.to_torch_rnn(p), x, a0, np.zeros_like(a0), da)
    np.testing.assert_allclose(got["a"], a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["dx"], ref["dx"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(got["da0"], ref["da0"], rtol=0, atol=1e-10)
    g = got["grads"]
    np.testing.assert_allclose(g["weight_ih_l0"], ref["dWax"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(g["weight_hh_l0"], ref["dWaa"], rtol=0, atol=1e-10)
    # one course bias ba feeds both of PyTorch's biases, so each gets dba
    np.testing.assert_allclose(g["bias_ih_l0"], ref["dba"][:, 0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(g["bias_hh_l0"], ref["dba"][:, 0], rtol=0, atol=1e-10)


def _check_lstm(lib):
    x, a0, c0, da = _sequence(12)
    np.random.seed(13)
    p = course_lstm_parameters()
    a, _, c, caches = reference.lstm_forward(x, a0, p, c0)
    ref = reference.lstm_backward(da, caches)
    got = _run_library(lib, "lstm", reference.to_torch_lstm(p), x, a0, c0, da)
    np.testing.assert_allclose(got["a"], a, rtol=0, atol=1e-10)
    for name in ("dx", "da0", "dc0"):
        np.testing.assert_allclose(got[name], ref[name], rtol=0, atol=1e-10, err_msg=name)
    # PyTorch's stacked (4 n_a, .) gradients, i f g o, against the course's per-gate ones
    wanted = reference.to_torch_lstm({**{f"W{k}": ref[f"dW{k}"] for k in "fico"},
                                      **{f"b{k}": ref[f"db{k}"] for k in "fico"}})
    wanted["bias_hh_l0"] = wanted["bias_ih_l0"]
    for name, value in wanted.items():
        np.testing.assert_allclose(got["grads"][name], value, rtol=0, atol=1e-10, err_msg=name)


def test_reference_rnn_equals_tinygrad_nn_rnn_in_float64():
    _check_rnn(tg)


def test_reference_lstm_equals_tinygrad_nn_lstm_in_float64():
    _check_lstm(tg)


def test_reference_rnn_equals_torch_nn_rnn_in_float64():
    _check_rnn(pytest.importorskip("torch"))


def test_reference_lstm_equals_torch_nn_lstm_in_float64():
    _check_lstm(pytest.importorskip("torch"))


def test_course_output_layer_equals_linear_then_softmax():
    x, a0, c0, _ = _sequence(14)
    np.random.seed(15)
    p = course_lstm_parameters()
    a, y, _, _ = reference.lstm_forward(x, a0, p, c0)
    head = nn.Linear(N_A, N_Y).double()
    head.load_state_dict({"weight": p["Wy"], "bias": p["by"][:, 0]})
    logits = head(tg.tensor(np.ascontiguousarray(a.transpose(2, 1, 0))))
    np.testing.assert_allclose(logits.softmax(-1).numpy().transpose(2, 1, 0), y, atol=1e-12)


# ------------------------------------------------------------------------- clip, bad input
def test_clip_clips_every_gradient_in_place_like_the_course():
    grads = {"dWaa": np.array([[-12.0, 3.0]]), "dby": np.array([[0.5], [11.0]])}
    arrays = list(grads.values())
    out = reference.clip(grads, 10)
    assert out is grads and all(a is b for a, b in zip(out.values(), arrays, strict=True))
    assert grads["dWaa"].tolist() == [[-10.0, 3.0]] and grads["dby"].tolist() == [[0.5], [10.0]]
    with pytest.raises(ValueError, match="maxValue"):
        reference.clip(grads, 0)


def test_clip_agrees_with_clip_grad_value_where_both_exist():
    clip_grad_value_ = getattr(nn.utils, "clip_grad_value_", None)
    if clip_grad_value_ is None:
        pytest.skip("nn.utils.clip_grad_value_ is not on this branch yet")
    w = nn.Parameter(tg.tensor(np.zeros((2, 3))))
    g = np.array([[-7.0, 0.1, 9.0], [2.0, -0.3, 5.5]])
    w.grad = tg.tensor(g.copy())
    clip_grad_value_([w], 5.0)
    np.testing.assert_array_equal(w.grad.numpy(), reference.clip({"dW": g}, 5.0)["dW"])


@pytest.mark.parametrize("call, message", [
    (lambda p: reference.rnn_forward(np.zeros((4, 2, 3)), np.zeros((N_A, 2)), p), "n_x=3"),
    (lambda p: reference.rnn_forward(np.zeros((3, 2, 3)), np.zeros((N_A, 5)), p), "a0 must be"),
    (lambda p: reference.rnn_forward(np.zeros((3, 2)), np.zeros((N_A, 2)), p), "x must be"),
])
def test_bad_shapes_name_the_expected_layout(call, message):
    np.random.seed(0)
    with pytest.raises(ValueError, match=message):
        call(course_rnn_parameters())


def test_lstm_forward_rejects_a_sequence_of_the_wrong_size():
    np.random.seed(0)
    with pytest.raises(ValueError, match=r"lstm_forward: x must be \(n_x=3"):
        reference.lstm_forward(np.zeros((2, 4, 3)), np.zeros((N_A, 4)), course_lstm_parameters())


def test_to_torch_lstm_stacks_gates_in_pytorch_order():
    p = {f"W{g}": np.full((2, 5), float(k)) for k, g in enumerate("fico")}
    p.update({f"b{g}": np.full((2, 1), float(k)) for k, g in enumerate("fico")})
    w = R.to_torch_lstm(p)
    # course f=0, i=1, c=2, o=3 -> PyTorch rows i, f, g, o
    assert w["weight_ih_l0"][:, 0].tolist() == [1, 1, 0, 0, 2, 2, 3, 3]
    assert w["bias_ih_l0"].tolist() == [1, 1, 0, 0, 2, 2, 3, 3]
    assert not w["bias_hh_l0"].any()

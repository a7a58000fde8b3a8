"""RNN, LSTM, GRU and their cells against PyTorch in float64: values, gradients of the input,
the initial states and every parameter, torch state_dicts, init, bad input, capture."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")

MODES = {"RNN": (nn.RNN, torch.nn.RNN), "LSTM": (nn.LSTM, torch.nn.LSTM),
         "GRU": (nn.GRU, torch.nn.GRU)}


def _pair(mode: str, *args, **kwargs):
    """Our layer and torch's with torch's (float64) weights loaded into ours."""
    ours, theirs = MODES[mode]
    tm = theirs(*args, dtype=torch.float64, **kwargs)
    m = ours(*args, dtype=tg.float64, **kwargs)
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return m, tm


def _flat(result):
    """(output, h_n) or (output, (h_n, c_n)) as a flat list."""
    out, h = result
    return [out, *h] if isinstance(h, tuple) else [out, h]


def _compare(m, tm, x: np.ndarray, states: list[np.ndarray] | None) -> None:
    """Outputs, then gradients (random cotangents on every output) of input, states, weights."""
    X, TX = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    S = None if states is None else [tg.tensor(s, requires_grad=True) for s in states]
    TS = None if states is None else [torch.tensor(s, requires_grad=True) for s in states]

    def call(model, inp, st):
        if st is None:
            return model(inp)
        return model(inp, tuple(st) if len(st) == 2 else st[0])

    ours, theirs = _flat(call(m, X, S)), _flat(call(tm, TX, TS))
    assert [o.shape for o in ours] == [tuple(t.shape) for t in theirs]
    gen = np.random.default_rng(7)
    loss, tloss = 0, 0
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
        cot = gen.standard_normal(o.shape)
        loss, tloss = loss + (o * cot).sum(), tloss + (t * torch.tensor(cot)).sum()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(X.grad.numpy(), TX.grad.numpy(), rtol=1e-9, atol=1e-12)
    for s, ts in zip(S or [], TS or [], strict=True):
        np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)
    theirs_params = dict(tm.named_parameters())
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def _run_case(mode, num_layers, bidirectional, batch_first, with_states, bias=True,
              unbatched=False, **extra):
    torch.manual_seed(0)
    m, tm = _pair(mode, 3, 4, num_layers=num_layers, bias=bias, batch_first=batch_first,
                  bidirectional=bidirectional, **extra)
    gen = np.random.default_rng(1)
    seq, batch = 5, 2
    shape = (seq, 3) if unbatched else ((batch, seq, 3) if batch_first else (seq, batch, 3))
    x = gen.standard_normal(shape)
    states = None
    if with_states:
        n = num_layers * (2 if bidirectional else 1)
        sshape = (n, 4) if unbatched else (n, batch, 4)
        states = [gen.standard_normal(sshape) for _ in range(2 if mode == "LSTM" else 1)]
    _compare(m, tm, x, states)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_two_layer_bidirectional_batch_first_with_states_matches_torch(mode):
    _run_case(mode, 2, True, True, True)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_one_layer_seq_first_without_states_matches_torch(mode):
    _run_case(mode, 1, False, False, False)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch_with_and_without_states(mode):
    _run_case(mode, 2, True, False, True, unbatched=True)
    _run_case(mode, 1, False, True, False, unbatched=True)


def test_relu_rnn_without_bias_matches_torch():
    _run_case("RNN", 2, True, False, True, bias=False, nonlinearity="relu")


@pytest.mark.slow
@pytest.mark.parametrize("mode, num_layers, bidirectional, batch_first, with_states, bias",
                         list(itertools.product(["RNN", "LSTM", "GRU"], [1, 3], [False, True],
                                                [False, True], [False, True], [False, True])))
def test_parity_matrix_with_torch(mode, num_layers, bidirectional, batch_first, with_states,
                                  bias):
    _run_case(mode, num_layers, bidirectional, batch_first, with_states, bias=bias)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers_is_off_in_eval_mode(mode):
    torch.manual_seed(0)
    m, tm = _pair(mode, 3, 4, num_layers=3, dropout=0.5)
    m.eval()
    tm.eval()
    _compare(m, tm, np.random.default_rng(2).standard_normal((5, 2, 3)), None)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers_in_training_drops_only_between_layers(mode):
    # p = 1 zeroes every layer's output but the last, deterministically, in torch and here
    m, tm = _pair(mode, 3, 4, num_layers=2, dropout=1.0)
    _compare(m, tm, np.random.default_rng(3).standard_normal((5, 2, 3)), None)
    # and a dropout draw comes from the library's generator: the same seed, the same output
    m2, _ = _pair(mode, 3, 4, num_layers=2, dropout=0.5)
    x = tg.tensor(np.random.default_rng(4).standard_normal((5, 2, 3)))
    tg.manual_seed(5)
    first = _flat(m2(x))[0].numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(_flat(m2(x))[0].numpy(), first)
    m2.eval()
    assert not np.allclose(_flat(m2(x))[0].numpy(), first)


def test_the_parameter_names_and_order_are_torchs_and_its_state_dict_loads():
    m, tm = _pair("LSTM", 3, 4, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(tm.state_dict())
    assert [p.shape for p in m.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    assert m.weight_ih_l1_reverse.shape == (16, 8)  # layer 1 reads both directions
    assert [[tuple(p.shape) for p in ps] for ps in m.all_weights] == \
        [[tuple(p.shape) for p in ps] for ps in tm.all_weights]
    for name, value in tm.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[name], value.numpy())


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_init_is_uniform_within_one_over_sqrt_hidden(mode):
    tg.manual_seed(0)
    m = MODES[mode][0](20, 100, num_layers=2, bidirectional=True)
    bound = 1 / math.sqrt(100)
    values = np.concatenate([p.numpy().ravel() for p in m.parameters()])
    assert np.abs(values).max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b/sqrt(3)
    assert all(p.dtype == np.float32 for p in m.parameters())


@pytest.mark.parametrize("args, kwargs", [((3, 4), {}), ((3, 4), {"num_layers": 2,
                                                                  "batch_first": True,
                                                                  "dropout": 0.5,
                                                                  "bidirectional": True,
                                                                  "bias": False})])
def test_repr_is_torchs(args, kwargs):
    for mode, (ours, theirs) in MODES.items():
        assert repr(ours(*args, **kwargs)) == repr(theirs(*args, **kwargs)), mode


# ---------------------------------------------------------------- cells

CELLS = {"RNNCell": (nn.RNNCell, torch.nn.RNNCell), "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell),
         "GRUCell": (nn.GRUCell, torch.nn.GRUCell)}


@pytest.mark.parametrize("name, kwargs", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}),
                                          ("LSTMCell", {}), ("GRUCell", {}),
                                          ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cells_match_torch(name, kwargs, batched, with_state):
    ours, theirs = CELLS[name]
    torch.manual_seed(0)
    tm = theirs(3, 4, dtype=torch.float64, **kwargs)
    m = ours(3, 4, dtype=tg.float64, **kwargs)
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    assert repr(m) == repr(tm)
    gen = np.random.default_rng(0)
    x = gen.standard_normal((2, 3) if batched else (3,))
    X, TX = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    args, targs = [X], [TX]
    states = []
    if with_state:
        n = 2 if name == "LSTMCell" else 1
        states = [gen.standard_normal((2, 4) if batched else (4,)) for _ in range(n)]
        S = [tg.tensor(s, requires_grad=True) for s in states]
        TS = [torch.tensor(s, requires_grad=True) for s in states]
        args.append(tuple(S) if n == 2 else S[0])
        targs.append(tuple(TS) if n == 2 else TS[0])
    out, tout = m(*args), tm(*targs)
    out, tout = (list(out), list(tout)) if name == "LSTMCell" else ([out], [tout])
    loss, tloss = 0, 0
    for o, t in zip(out, tout, strict=True):
        np.testing.assert_allclose(o.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
        cot = gen.standard_normal(o.shape)
        loss, tloss = loss + (o * cot).sum(), tloss + (t * torch.tensor(cot)).sum()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(X.grad.numpy(), TX.grad.numpy(), rtol=1e-9, atol=1e-12)
    if with_state:
        for s, ts in zip(S, TS, strict=True):
            np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy(), rtol=1e-9, atol=1e-12)
    tp = dict(tm.named_parameters())
    for pname, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[pname].grad.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=pname)


def test_a_cell_unrolled_by_hand_equals_the_layer():
    tg.manual_seed(0)
    layer = nn.LSTM(3, 4, dtype=tg.float64)
    cell = nn.LSTMCell(3, 4, dtype=tg.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # drop "_l0"
    x = tg.tensor(np.random.default_rng(0).standard_normal((6, 2, 3)))
    out, (h_n, c_n) = layer(x)
    h = c = tg.zeros(2, 4, dtype=tg.float64)
    for t in range(6):
        h, c = cell(x[t], (h, c))
        np.testing.assert_allclose(h.numpy(), out[t].numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(c.numpy(), c_n[0].numpy(), rtol=1e-13, atol=1e-15)


def test_gradcheck_of_a_two_layer_bidirectional_lstm_passes():
    tg.manual_seed(0)
    m = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=tg.float64)
    x = tg.tensor(np.random.default_rng(0).standard_normal((4, 2, 2)))
    cot = np.random.default_rng(1).standard_normal((4, 2, 6))
    result = tg.check_gradients(m, lambda out, y: (out[0] * cot).sum(), x.numpy(), None)
    assert result.passed, str(result)


@pytest.mark.parametrize("cell", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_gradcheck_of_each_cell_passes(cell):
    tg.manual_seed(0)
    m = cell(3, 2, dtype=tg.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    cot = np.random.default_rng(1).standard_normal((4, 2))

    def loss(out, y):
        h = out[0] if isinstance(out, tuple) else out
        c = out[1] if isinstance(out, tuple) else 0.0
        return (h * cot).sum() + (c * cot * cot).sum()

    result = tg.check_gradients(m, loss, x, None)
    assert result.passed, str(result)


# ---------------------------------------------------------------- bad input


def test_wrong_input_size_names_the_layer_and_the_shape():
    m = nn.LSTM(10, 20, num_layers=2)
    with pytest.raises(RuntimeError, match=r"LSTM\(10, 20, num_layers=2\): input.size\(-1\) must "
                                           r"be equal to input_size. Expected 10, got 5 \(input "
                                           r"shape \(7, 3, 5\)"):
        m(tg.zeros(7, 3, 5))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        m(tg.zeros(7, 3, 5, 10))
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 10"):
        nn.GRUCell(10, 20)(tg.zeros(3, 5))


def test_hidden_state_of_the_wrong_shape_names_expected_and_got():
    m = nn.LSTM(3, 4, num_layers=2)
    x = tg.zeros(5, 2, 3)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[1\] size \(2, 2, 4\), got "
                                           r"\(1, 2, 4\)"):
        m(x, (tg.zeros(2, 2, 4), tg.zeros(1, 2, 4)))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \(1, 2, 5\)"):
        nn.GRU(3, 4)(x, tg.zeros(1, 2, 5))
    with pytest.raises(RuntimeError, match="For batched 3-D input, hidden should also be 3-D"):
        nn.RNN(3, 4)(x, tg.zeros(1, 4))
    with pytest.raises(RuntimeError, match=r"Expected hx\[0\] size \(2, 4\), got \(3, 4\)"):
        nn.LSTMCell(3, 4)(tg.zeros(2, 3), (tg.zeros(3, 4), tg.zeros(2, 4)))
    with pytest.raises(TypeError, match=r"expected hx to be a tuple \(h_0, c_0\)"):
        m(x, tg.zeros(2, 2, 4))


def test_batch_first_confusion_is_spelled_out():
    m = nn.GRU(3, 4)  # batch_first=False, given (batch=2, seq=5, feature) and a state for 2
    with pytest.raises(RuntimeError, match=r"is the input \(batch, seq, feature\)\? then pass "
                                           r"batch_first=True"):
        m(tg.zeros(2, 5, 3), tg.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match=r"is the input \(seq, batch, feature\)\? then pass "
                                           r"batch_first=False"):
        nn.RNN(3, 4, batch_first=True)(tg.zeros(5, 2, 3), tg.zeros(1, 2, 4))
    m = nn.LSTM(3, 4, num_layers=2, batch_first=True)
    with pytest.raises(RuntimeError, match=r"initial states stay \(num_layers \* num_directions, "
                                           r"batch, hidden\) even with batch_first=True"):
        m(tg.zeros(6, 5, 3), (tg.zeros(6, 2, 4), tg.zeros(6, 2, 4)))


def test_bad_constructor_arguments_raise_as_torch():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTM(3, 0)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_input_of_another_dtype_than_the_weights_is_refused():
    with pytest.raises(RuntimeError, match="the input is float64 but the weight is float32"):
        nn.LSTM(3, 4)(tg.tensor(np.zeros((5, 2, 3))))
    with pytest.raises(RuntimeError, match="hidden is float32 but the input is float64"):
        nn.GRU(3, 4, dtype=tg.float64)(tg.tensor(np.zeros((5, 2, 3))), tg.zeros(1, 2, 4))


@pytest.mark.parametrize("which", ["ih", "hh"])
@pytest.mark.parametrize("reverse", [False, True])
def test_an_lstm_recurrence_with_one_bias_equals_it_with_a_zero_second_bias(which, reverse):
    # the forward adds b_ih + b_hh as one vector: with one bias missing it adds the other one
    # alone, the same bits as with a zero bias beside it (b + 0 == b), and both biases get
    # the gradient that a zero bias would get
    from tinygrad_c2.nn.functional.recurrent import LSTMRecurrence

    gen = np.random.default_rng(3)
    T, B, In, H = 4, 3, 2, 5

    def arg(*shape):
        return tg.tensor(gen.standard_normal(shape), requires_grad=True)

    x, w_ih, w_hh, h0, c0, b = arg(T, B, In), arg(4 * H, In), arg(4 * H, H), arg(B, H), \
        arg(B, H), arg(4 * H)
    zero = tg.zeros(4 * H, dtype=tg.float64, requires_grad=True)
    cot = gen.standard_normal((T + 1, B, H))
    results = []
    for second in (None, zero):
        biases = (b, second) if which == "ih" else (second, b)
        y = LSTMRecurrence.apply(x, w_ih, biases[0], h0, c0, w_hh, biases[1], reverse)
        (y * tg.tensor(cot)).sum().backward()
        results.append([y.numpy().copy()] + [t.grad.numpy().copy()
                                             for t in (x, w_ih, w_hh, h0, c0, b)])
        for t in (x, w_ih, w_hh, h0, c0, b):
            t.grad = None
    for a, c in zip(*results, strict=True):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(zero.grad.numpy(), results[1][-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [False, True])
def test_an_lstm_forward_is_bit_for_bit_the_unfused_numpy_form(dtype, bias):
    # README: the fused forward (gate-major buffers, halved sigmoid rows, one tanh for all
    # gates) rounds as x W_ih^T + (b_ih + b_hh) + h W_hh^T with sigmoid(a) = tanh(a/2)/2 + 1/2
    tg.manual_seed(0)
    T, B, In, H = 5, 4, 6, 8
    m = nn.LSTM(In, H, bias=bias, dtype=dtype)
    x = np.random.default_rng(1).standard_normal((T, B, In)).astype(dtype)
    out, (h_n, c_n) = m(tg.tensor(x))
    w_ih, w_hh = m.weight_ih_l0.numpy(), m.weight_hh_l0.numpy()

    def sigmoid(a):
        return np.tanh(a * 0.5) * 0.5 + 0.5

    h = c = np.zeros((B, H), dtype)
    for t in range(T):
        a = x[t] @ w_ih.T
        if bias:
            a = a + (m.bias_ih_l0.numpy() + m.bias_hh_l0.numpy())
        a = a + h @ w_hh.T
        i, f = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
        g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        np.testing.assert_array_equal(out.numpy()[t], h)
    np.testing.assert_array_equal(c_n.numpy()[0], c)


# ---------------------------------------------------------------- captured steps


def test_a_captured_lstm_training_step_replays_equal_to_eager():
    def build():
        tg.manual_seed(0)
        lstm = nn.LSTM(3, 5, num_layers=2, dropout=0.3, batch_first=True)
        head = nn.Linear(5, 2)
        return lstm, head, tg.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.1)

    def step_fn(lstm, head):
        def step(X, y):
            out, (h, c) = lstm(X)
            return nn.functional.cross_entropy(head(out[:, -1]) + c[-1].sum(), y)
        return step

    gen = np.random.default_rng(0)
    batches = [(gen.standard_normal((4, 6, 3)).astype(np.float32), np.array([0, 1, 1, 0]))
               for _ in range(3)]
    lstm, head, opt = build()
    eager = []
    tg.manual_seed(1)
    for X, y in batches:
        opt.zero_grad()
        loss = step_fn(lstm, head)(tg.tensor(X), tg.tensor(y))
        loss.backward()
        opt.step()
        eager.append((loss.item(), [p.numpy().copy() for p in lstm.parameters()]))
    lstm, head, opt = build()
    step = tg.capture(step_fn(lstm, head), optimizer=opt)
    tg.manual_seed(1)
    for (X, y), (loss, params) in zip(batches, eager, strict=True):
        assert step(tg.tensor(X), tg.tensor(y)).item() == loss
        for p, q in zip(lstm.parameters(), params, strict=True):
            np.testing.assert_array_equal(p.numpy(), q)
    assert "LSTMRecurrence" in step.source

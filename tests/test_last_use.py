"""The engine's last-use signal (Function.reuses_saved / ctx.saved_last_use) and the LSTM
backward that writes its gate gradients over its saved activations when told."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")


def _recording(opt_in: bool) -> tuple[type[tg.Function], list]:
    """A numpy-style Function y = 2 x that records ctx.saved_last_use at each backward."""
    seen: list = []

    class Double(tg.Function):
        reuses_saved = opt_in

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(np.array(2.0))
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.saved_last_use)
            return g * ctx.saved_tensors[0]

    return Double, seen


def test_an_opted_in_backward_is_told_only_when_the_graph_is_freed_after_it():
    double, seen = _recording(True)
    x = tg.ones(3, requires_grad=True)
    y = double.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    assert seen == [False, False, True]
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 6.0, 6.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_autograd_grad_tells_the_last_use_unless_it_retains_the_graph():
    double, seen = _recording(True)
    x = tg.ones(2, requires_grad=True)
    y = double.apply(x).sum()
    (first,) = tg.autograd.grad(y, [x], retain_graph=True)
    (second,) = tg.autograd.grad(y, [x])
    assert seen == [False, True]
    np.testing.assert_array_equal(first.numpy(), second.numpy())


def test_a_class_that_does_not_opt_in_is_never_told():
    double, seen = _recording(False)
    x = tg.ones(2, requires_grad=True)
    y = double.apply(x).sum()
    node = y.grad_fn.parents[0].grad_fn
    y.backward()
    assert seen == [False]
    assert "saved_last_use" not in vars(node)  # not even written: no cost for such classes


def test_the_create_graph_sweep_never_signals_a_last_use():
    seen = []

    class Square(tg.Function):  # Tensor style: its backward is its differentiable form
        reuses_saved = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.saved_last_use)
            (x,) = ctx.saved_tensors
            return 2.0 * x * g

    x = tg.tensor([3.0], requires_grad=True)
    (gx,) = tg.autograd.grad(Square.apply(x).sum(), [x], create_graph=True)
    gx.sum().backward()
    assert seen == [False]
    np.testing.assert_array_equal(x.grad.numpy(), [2.0])


def test_a_captured_replay_tells_a_reusing_backward_its_one_call_is_the_last_use():
    double, seen = _recording(True)
    w = tg.ones(3, requires_grad=True)
    step = tg.capture(lambda x: (double.apply(x * w)).sum())
    for _ in range(3):  # the traced (eager) call, then two replays
        step(tg.ones(3))
    assert seen == [True, True, True]
    assert "saved_last_use = True" in step.source
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 2.0, 2.0])


# ---------------------------------------------------------------- the LSTM's reuse


def _lstm_pair(dtype=tg.float64, **kwargs):
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 4, dtype=torch.float64, **kwargs)
    ours = nn.LSTM(3, 4, dtype=dtype, **kwargs)
    ours.load_state_dict({k: v.detach().numpy().astype(dtype).copy()
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


def _inputs(dtype, layers: int) -> tuple[np.ndarray, list[np.ndarray]]:
    gen = np.random.default_rng(1)
    x = gen.standard_normal((5, 2, 3)).astype(dtype)
    return x, [gen.standard_normal((layers, 2, 4)).astype(dtype) for _ in range(2)]


def _our_grads(model, x, states, retain: bool, backwards: int = 1) -> list[np.ndarray]:
    """Gradients of input, states and weights of a loss with random cotangents."""
    X = tg.tensor(x, requires_grad=True)
    S = [tg.tensor(s, requires_grad=True) for s in states]
    out, (h, c) = model(X, tuple(S))
    gen = np.random.default_rng(7)
    loss = sum(((o * tg.tensor(gen.standard_normal(o.shape).astype(o.dtype))).sum()
                for o in (out, h, c)), tg.tensor(0.0, dtype=out.dtype))
    model.zero_grad()
    for k in range(backwards):
        loss.backward(retain_graph=retain or k < backwards - 1)
    return [X.grad.numpy(), *(s.grad.numpy() for s in S),
            *(p.grad.numpy() for p in model.parameters())]


def _torch_grads(model, x, states) -> list[np.ndarray]:
    X = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    S = [torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in states]
    out, (h, c) = model(X, tuple(S))
    gen = np.random.default_rng(7)
    loss = sum((o * torch.tensor(gen.standard_normal(tuple(o.shape)))).sum() for o in (out, h, c))
    loss.backward()
    return [X.grad.numpy(), *(s.grad.numpy() for s in S),
            *(p.grad.numpy() for p in model.parameters())]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bidirectional": True}])
def test_lstm_gradients_at_the_last_use_equal_the_retained_graph_s_bit_for_bit(dtype, kwargs):
    # retain_graph=True runs the backward that overwrites nothing (the former code's arithmetic,
    # into scratch); the last use writes over the saved activations: the same bits
    model, _ = _lstm_pair(dtype, **kwargs)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x, states = _inputs(dtype, layers)
    kept = _our_grads(model, x, states, retain=True)
    freed = _our_grads(model, x, states, retain=False)
    for a, b in zip(kept, freed, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bidirectional": True}])
def test_lstm_gradients_at_the_last_use_match_torch(kwargs):
    ours, theirs = _lstm_pair(**kwargs)
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    x, states = _inputs("float64", layers)
    for a, b in zip(_our_grads(ours, x, states, retain=False), _torch_grads(theirs, x, states),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_two_lstm_backwards_through_a_retained_graph_accumulate_torch_s_gradients_twice():
    ours, theirs = _lstm_pair(num_layers=2)
    x, states = _inputs("float64", 2)
    twice = _our_grads(ours, x, states, retain=True, backwards=2)  # the second one frees
    for a, b in zip(twice, _torch_grads(theirs, x, states), strict=True):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-9, atol=1e-12)


def test_an_lstm_double_backward_matches_torch():
    # create_graph: the differentiable backward recomputes from the inputs and nothing is
    # overwritten; then the gradient's own backward (a last use of other nodes) on top
    ours, theirs = _lstm_pair()
    x = np.random.default_rng(2).standard_normal((5, 2, 3))
    out, _ = ours(tg.tensor(x))
    grads = tg.autograd.grad((out * out).sum(), list(ours.parameters()), create_graph=True)
    sum(((g * g).sum() for g in grads), tg.tensor(0.0, dtype=tg.float64)).backward()
    tout, _ = theirs(torch.tensor(x))
    tgrads = torch.autograd.grad((tout * tout).sum(), list(theirs.parameters()),
                                 create_graph=True)
    sum((g * g).sum() for g in tgrads).backward()
    for p, tp in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-8, atol=1e-11)


def test_an_lstm_backward_that_fails_after_overwriting_refuses_a_second_walk():
    # a huge (finite) upstream gradient overflows inside the LSTM's loop, after its gate
    # factors went over the saved activations: a retry (with a harmless gradient) must raise,
    # never compute from the overwritten arrays
    from tinygrad_c2.nn.functional.recurrent import LSTMRecurrence

    calls = []

    class Total(tg.Function):  # y.sum(), whose first backward hands on a huge gradient
        @staticmethod
        def forward(ctx, y):
            return y.sum()

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            fill = np.finfo(np.float32).max if len(calls) == 1 else 1.0
            return np.full((6, 2, 4), fill, dtype=np.float32)  # (T + 1, B, H)

    gen = np.random.default_rng(3)
    w_ih, w_hh = (tg.tensor(gen.standard_normal(s).astype(np.float32), requires_grad=True)
                  for s in ((16, 3), (16, 4)))
    zeros = tg.zeros(2, 4)
    y = LSTMRecurrence.apply(tg.ones(5, 2, 3), w_ih, None, zeros, zeros, w_hh, None, False)
    loss = Total.apply(y)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="LSTMRecurrence"):
        loss.backward()
    with pytest.raises(RuntimeError, match="LSTMRecurrence a second time"):
        loss.backward()


def test_an_lstm_training_step_keeps_no_gate_sized_scratch_buffer():
    # the workspace keeps its largest kernel's scratch between steps: with the gate gradients
    # over the saved activations that is one (T, B, H) copy of the forget gate, not the
    # (4, T, B, H) d_gates buffer (2 MiB on the bench's lstm workload)
    from tinygrad_c2.bench.measure import tinygrad_scratch

    T, B, H = 6, 3, 8
    model = nn.LSTM(4, H)
    tinygrad_scratch().clear()
    out, _ = model(tg.randn(T, B, 4))
    (out * out).mean().backward()
    kept = sum(a.nbytes for a in tinygrad_scratch().values())
    assert 0 < kept <= T * B * H * 4 + 64

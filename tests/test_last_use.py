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


# ---------------------------------------------------------------- the recurrences' reuse

LAYERS = {"LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU)}
SHAPES = [{}, {"num_layers": 2, "bidirectional": True}]  # the second: reverse, and dX


def _pair(mode: str, dtype=tg.float64, **kwargs):
    """Our layer and torch's (float64), torch's weights loaded into ours in `dtype`."""
    ours_cls, theirs_cls = LAYERS[mode]
    torch.manual_seed(0)
    theirs = theirs_cls(3, 4, dtype=torch.float64, **kwargs)
    ours = ours_cls(3, 4, dtype=dtype, **kwargs)
    ours.load_state_dict({k: v.detach().numpy().astype(dtype).copy()
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


def _inputs(mode: str, dtype, kwargs: dict) -> tuple[np.ndarray, list[np.ndarray]]:
    layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    gen = np.random.default_rng(1)
    x = gen.standard_normal((5, 2, 3)).astype(dtype)
    n = 2 if mode == "LSTM" else 1
    return x, [gen.standard_normal((layers, 2, 4)).astype(dtype) for _ in range(n)]


def _grads(lib, model, x, states, backwards: int = 1, retain: bool = False) -> list[np.ndarray]:
    """Gradients of input, initial states and weights of the outputs times fixed random
    cotangents, after `backwards` backward calls (all but the last retaining the graph)."""
    leaf = (lambda a: lib.tensor(a, requires_grad=True)) if lib is tg else (
        lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True))
    X, S = leaf(x), [leaf(s) for s in states]
    out, h = model(X, tuple(S) if len(S) == 2 else S[0])
    gen = np.random.default_rng(7)
    loss = 0
    for o in (out, *(h if isinstance(h, tuple) else (h,))):
        cot = gen.standard_normal(tuple(o.shape)).astype(x.dtype)
        loss = loss + (o * (lib.tensor(cot) if lib is tg else torch.tensor(cot))).sum()
    for k in range(backwards):
        loss.backward(retain_graph=retain or k < backwards - 1)
    return [X.grad.numpy(), *(s.grad.numpy() for s in S),
            *(p.grad.numpy() for p in model.parameters())]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", SHAPES)
def test_gradients_at_the_last_use_equal_the_retained_graph_s_bit_for_bit(mode, dtype, kwargs):
    # retain_graph=True runs the backward that overwrites nothing (the former code's arithmetic,
    # into scratch); the last use writes over the saved activations: the same bits
    x, states = _inputs(mode, dtype, kwargs)
    kept = _grads(tg, _pair(mode, dtype, **kwargs)[0], x, states, retain=True)
    freed = _grads(tg, _pair(mode, dtype, **kwargs)[0], x, states)
    for a, b in zip(kept, freed, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
@pytest.mark.parametrize("kwargs", SHAPES)
def test_gradients_at_the_last_use_match_torch(mode, kwargs):
    ours, theirs = _pair(mode, **kwargs)
    x, states = _inputs(mode, "float64", kwargs)
    for a, b in zip(_grads(tg, ours, x, states), _grads(torch, theirs, x, states), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_two_backwards_through_a_retained_graph_accumulate_torch_s_gradients_twice(mode):
    kwargs = {"num_layers": 2}
    ours, theirs = _pair(mode, **kwargs)
    x, states = _inputs(mode, "float64", kwargs)
    twice = _grads(tg, ours, x, states, backwards=2)  # the first retains, the second frees
    for a, b in zip(twice, _grads(torch, theirs, x, states), strict=True):
        np.testing.assert_allclose(a, 2 * b, rtol=1e-9, atol=1e-12)


def test_an_lstm_double_backward_matches_torch():
    # create_graph: the differentiable backward recomputes from the inputs and nothing is
    # overwritten; then the gradient's own backward (a last use of other nodes) on top
    ours, theirs = _pair("LSTM")
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


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_a_backward_that_fails_after_overwriting_refuses_a_second_walk(mode):
    # a huge (finite) upstream gradient overflows inside the recurrence's loop, after it began
    # writing over its saved activations: a retry (with a harmless gradient) must raise, never
    # compute from the overwritten arrays
    from tinygrad_c2.nn.functional.recurrent import GRURecurrence, LSTMRecurrence

    calls = []

    class Total(tg.Function):  # y.sum(), whose first backward hands on a huge gradient
        @staticmethod
        def forward(ctx, y):
            ctx.shape = y.shape
            return y.sum()

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            fill = np.finfo(np.float32).max if len(calls) == 1 else 1.0
            return np.full(ctx.shape, fill, dtype=np.float32)

    gen = np.random.default_rng(3)

    def weight(*shape):
        return tg.tensor(gen.standard_normal(shape).astype(np.float32), requires_grad=True)

    zeros = tg.zeros(2, 4)
    if mode == "LSTM":
        prim = "LSTMRecurrence"
        y = LSTMRecurrence.apply(tg.ones(5, 2, 3), weight(16, 3), None, zeros, zeros,
                                 weight(16, 4), None, False)
    else:
        prim = "GRURecurrence"
        y = GRURecurrence.apply(weight(5, 2, 12), zeros, weight(12, 4), None, False)
    loss = Total.apply(y)
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match=prim):
        loss.backward()
    with pytest.raises(RuntimeError, match=f"{prim} a second time"):
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


def test_a_gru_backward_at_the_last_use_peaks_lower():
    # dgh (T, B, 3 H) goes over the saved gates instead of a new array: the backward's peak
    # (tracemalloc) drops, by more than a (T, B, H) array (the peak then moves to the
    # temporaries of the factors computed before the loop)
    import tracemalloc

    T, B, H = 8, 4, 16
    model = nn.GRU(5, H, dtype=tg.float64)
    x = tg.tensor(np.random.default_rng(0).standard_normal((T, B, 5)))

    def backward_peak(retain: bool) -> int:
        out, _ = model(x)
        loss = (out * out).sum()
        tracemalloc.start()
        try:
            loss.backward(retain_graph=retain)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    backward_peak(False)  # lazily made state (the .grad arrays) out of the way
    model.zero_grad(set_to_none=False)
    kept, freed = backward_peak(True), backward_peak(False)
    assert freed <= kept - T * B * H * 8

"""Captured steps replay exactly what the eager engine computes, step after step."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim

F = nn.functional


def _model(batch_norm: bool, dropout: float) -> nn.Module:
    layers = [nn.Linear(6, 8)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(8, 3)]
    return nn.Sequential(*layers).double()


@pytest.mark.parametrize("batch_norm, dropout, optimizer", [
    (False, 0.0, "sgd"), (True, 0.0, "adam"), (True, 0.3, "adam"), (False, 0.5, "sgd"),
])
def test_captured_steps_equal_eager_steps_bit_for_bit(batch_norm, dropout, optimizer):
    tg.manual_seed(0)
    eager_model = _model(batch_norm, dropout)
    captured_model = _model(batch_norm, dropout)
    captured_model.load_state_dict(eager_model.state_dict())
    make = (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)) if optimizer == "sgd" else (
        lambda ps: optim.Adam(ps, lr=0.01))
    eager_opt, captured_opt = make(eager_model.parameters()), make(captured_model.parameters())
    step = tg.capture(lambda X, y: F.cross_entropy(captured_model(X), y), optimizer=captured_opt)
    gen = np.random.default_rng(1)
    for i in range(6):
        X, y = gen.standard_normal((16, 6)), gen.integers(0, 3, 16)
        tg.manual_seed(100 + i)  # the same dropout masks on both sides
        eager_opt.zero_grad()
        eager_loss = F.cross_entropy(eager_model(tg.tensor(X)), tg.tensor(y))
        eager_loss.backward()
        eager_opt.step()
        tg.manual_seed(100 + i)
        captured_loss = step(X, y)
        assert captured_loss.item() == eager_loss.item()
        for (name, a), (_, b) in zip(eager_model.state_dict().items(),
                                     captured_model.state_dict().items(), strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"step {i}: {name}")


def test_a_new_input_shape_is_traced_once_and_cached():
    model = nn.Sequential(nn.Linear(2, 3)).double()
    step = tg.capture(lambda X, y: F.mse_loss(model(X), y))
    step(np.ones((4, 2)), np.zeros((4, 3)))
    step(np.ones((4, 2)), np.zeros((4, 3)))
    step(np.ones((1, 2)), np.zeros((1, 3)))  # a smaller last batch
    assert len(step._programs) == 2
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 / 3 * np.outer(
        model(tg.ones(1, 2).double()).numpy().ravel(), np.ones(2)), rtol=1e-12)


def test_captured_gradients_are_fresh_each_call_not_accumulated():
    w = nn.Parameter(np.array([1.0, 2.0]))
    step = tg.capture(lambda x: (w * x).sum())
    for _ in range(3):
        step(np.array([3.0, 4.0]))
    assert w.grad.tolist() == [3.0, 4.0]


def test_batch_norm_counts_batches_on_replay_and_refuses_momentum_none():
    bn = nn.BatchNorm1d(3).double()
    step = tg.capture(lambda x: bn(x).sum())
    for _ in range(4):
        step(np.random.default_rng(0).standard_normal((5, 3)))
    assert int(bn.num_batches_tracked.numpy()) == 4
    cumulative = nn.BatchNorm1d(3, momentum=None).double()
    with pytest.raises(tg.CaptureError, match="momentum=None"):
        tg.capture(lambda x: cumulative(x).sum())(np.ones((5, 3)))


def test_a_step_that_returns_no_scalar_loss_is_refused():
    with pytest.raises(tg.CaptureError, match="scalar loss"):
        tg.capture(lambda x: x * 2)(np.ones(3))


def _two_layer_float32() -> nn.Module:
    tg.manual_seed(3)
    return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2)).float()


def test_a_replay_runs_plain_sgd_as_the_eager_step_with_the_groups_current_hyperparameters():
    # A replay writes SGD's update into the program; a scheduler's new lr, a group's own lr,
    # momentum or weight decay switched on after the trace must all act as in eager steps.
    eager_model, captured_model = _two_layer_float32(), _two_layer_float32()

    def groups(model):
        return [{"params": [model[0].weight, model[0].bias], "lr": 0.05},
                {"params": [model[2].weight, model[2].bias]}]

    eager_opt, captured_opt = optim.SGD(groups(eager_model), lr=0.1), optim.SGD(
        groups(captured_model), lr=0.1)
    eager_sched = optim.lr_scheduler.StepLR(eager_opt, step_size=2, gamma=0.5)
    captured_sched = optim.lr_scheduler.StepLR(captured_opt, step_size=2, gamma=0.5)
    step = tg.capture(lambda X, y: F.cross_entropy(captured_model(X), y), optimizer=captured_opt)
    gen = np.random.default_rng(2)
    for i in range(8):
        if i == 5:  # momentum and weight decay from now on: SGD's general update
            for opt in (eager_opt, captured_opt):
                opt.param_groups[1]["momentum"] = 0.9
                opt.param_groups[0]["weight_decay"] = 1e-3
        X = gen.standard_normal((9, 5)).astype(np.float32)
        y = gen.integers(0, 2, 9)
        eager_opt.zero_grad()
        eager_loss = F.cross_entropy(eager_model(tg.tensor(X)), tg.tensor(y))
        eager_loss.backward()
        eager_opt.step()
        captured_loss = step(X, y)
        eager_sched.step()
        captured_sched.step()
        assert captured_loss.item() == eager_loss.item()
        for a, b in zip(eager_model.parameters(), captured_model.parameters(), strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"step {i}")
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy(), err_msg=f"step {i}")
    assert len(step._programs[next(iter(step._programs))]) == 1  # nothing traced again


def test_a_replay_leaves_the_gradients_of_the_previous_step_untouched():
    # .grad is a fresh array at every step (zero_grad sets it to None in eager steps): a
    # gradient read after one step keeps its values through the next
    model = _two_layer_float32()
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = tg.capture(lambda X, y: F.cross_entropy(model(X), y), optimizer=opt)
    X, y = np.ones((4, 5), np.float32), np.array([0, 1, 1, 0])
    step(X, y)
    step(X, y)
    kept = model[0].weight.grad
    values = kept.numpy().copy()
    step(X * 2, y)
    np.testing.assert_array_equal(kept.numpy(), values)
    assert model[0].weight.grad is not kept


def test_a_replay_ignores_underflow_under_an_error_state_set_after_the_trace():
    # the program skips np.errstate only under an error state that already ignores underflow:
    # traced under numpy's default, replayed under all="raise", the underflow stays ignored,
    # and the user's state is theirs again after the step (an overflow still raises)
    w = nn.Parameter(np.ones(3, np.float32))
    step = tg.capture(lambda X: (X * w).sigmoid().mean())
    X = np.full((4, 3), -87.0, np.float32)
    step(X)
    expected = w.grad.numpy().copy()
    with np.errstate(all="raise"):
        for _ in range(2):
            step(X)
            np.testing.assert_array_equal(w.grad.numpy(), expected)
        with pytest.raises(FloatingPointError):
            np.float32(1e38) * np.float32(10)
    step(X)
    np.testing.assert_array_equal(w.grad.numpy(), expected)


def test_a_replay_drops_pure_ops_nothing_reads_but_keeps_the_ones_with_effects():
    # h_n of an LSTM, or a metric computed beside the loss: a pure primitive whose output
    # nothing reads is dropped; a dropout nobody reads still draws its mask (the generator
    # moves on as in the eager step), and the values stay the eager ones
    tg.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 3)).float()
    w0 = model[0].weight.numpy().copy()

    def loss(X, y):
        out = model(X)
        (out.argmax(1) == y).float().mean()  # a metric nothing reads
        F.dropout(out, 0.5, training=True)  # an effect nothing reads
        return F.cross_entropy(out, y)

    step = tg.capture(loss)
    X, y = np.ones((4, 5), np.float32), np.array([0, 1, 2, 0])
    step(X, y)
    tg.manual_seed(11)
    replayed = step(X, y).item()
    after_replay = tg.rand(3).numpy()
    assert "ArgMax: dropped" in step.source and "Dropout: dropped" not in step.source
    model[0].weight.data = w0
    tg.manual_seed(11)
    assert loss(tg.tensor(X), tg.tensor(y)).item() == replayed
    np.testing.assert_array_equal(tg.rand(3).numpy(), after_replay)

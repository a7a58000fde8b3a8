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

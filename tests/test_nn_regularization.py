"""l2_penalty / l1_penalty against their formulas (value and gradient) and against PyTorch;
weight-decay param groups."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn


def model64():
    tg.manual_seed(0)
    return nn.Sequential(
        nn.Linear(3, 5, dtype=np.float64), nn.BatchNorm1d(5, dtype=np.float64), nn.ReLU(),
        nn.Linear(5, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2, bias=False,
                                                                dtype=np.float64),
    )


WEIGHTS = ["0.weight", "3.weight", "5.weight"]


def test_penalized_weights_are_the_linear_weight_matrices_only():
    assert [name for name, _ in nn.penalized_weights(model64())] == WEIGHTS


def test_l2_penalty_is_lambd_over_2m_times_the_squared_frobenius_norms():
    model = model64()
    weights = [dict(model.named_parameters())[name].numpy() for name in WEIGHTS]
    expected = 0.7 / (2 * 32) * sum((w**2).sum() for w in weights)
    penalty = nn.l2_penalty(model, lambd=0.7, m=32)
    assert isinstance(penalty, tg.Tensor) and penalty.shape == ()
    assert penalty.item() == pytest.approx(expected, rel=1e-12)


def test_l2_penalty_gradient_is_lambd_over_m_times_w_and_spares_biases_and_batch_norm():
    model = model64()
    nn.l2_penalty(model, lambd=0.7, m=32).backward()
    for name, param in model.named_parameters():
        if name in WEIGHTS:
            np.testing.assert_allclose(param.grad.numpy(), 0.7 / 32 * param.numpy(), rtol=1e-12)
        else:
            assert param.grad is None, name


def test_l1_penalty_is_lambd_over_m_times_the_absolute_sums_with_sign_gradient():
    model = model64()
    weights = [dict(model.named_parameters())[name].numpy() for name in WEIGHTS]
    penalty = nn.l1_penalty(model, lambd=0.3, m=10)
    assert penalty.item() == pytest.approx(0.3 / 10 * sum(np.abs(w).sum() for w in weights),
                                           rel=1e-12)
    penalty.backward()
    for name, param in model.named_parameters():
        if name in WEIGHTS:
            np.testing.assert_allclose(param.grad.numpy(), 0.3 / 10 * np.sign(param.numpy()))
        else:
            assert param.grad is None, name


def test_regularized_cost_gradients_match_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    ours = model64()
    theirs = tnn.Sequential(
        tnn.Linear(3, 5), tnn.BatchNorm1d(5), tnn.ReLU(), tnn.Linear(5, 4), tnn.Tanh(),
        tnn.Linear(4, 2, bias=False),
    ).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), np.array([0, 1, 1, 0, 1, 0, 0, 1])
    lambd, m = 0.5, 8

    cost = nn.CrossEntropyLoss()(ours(tg.Tensor(x)), tg.Tensor(y))
    cost = cost + nn.l2_penalty(ours, lambd, m) + nn.l1_penalty(ours, lambd, m)
    cost.backward()

    out = theirs(torch.tensor(x))
    weights = [theirs[0].weight, theirs[3].weight, theirs[5].weight]
    cost_t = (tnn.functional.cross_entropy(out, torch.tensor(y))
              + lambd / (2 * m) * sum((w**2).sum() for w in weights)
              + lambd / m * sum(w.abs().sum() for w in weights))
    cost_t.backward()
    assert cost.item() == pytest.approx(cost_t.item(), rel=1e-12)
    for name, param in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.numpy(),
                                   param.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


def test_a_model_without_linear_layers_has_zero_penalty():
    assert nn.l2_penalty(nn.Sequential(nn.BatchNorm1d(3)), 1.0, 4).item() == 0.0
    assert nn.l1_penalty(nn.ReLU(), 1.0, 4).item() == 0.0


def test_a_weight_shared_by_two_layers_is_penalized_once():
    a, b = nn.Linear(2, 2, dtype=np.float64), nn.Linear(2, 2, dtype=np.float64)
    b.weight = a.weight
    expected = 1.0 / 2 * (a.weight.numpy()**2).sum()
    assert nn.l2_penalty(nn.Sequential(a, b), 1.0, 1).item() == pytest.approx(expected)


@pytest.mark.parametrize("lambd,m", [(-0.1, 10), (0.1, 0), (0.1, -3), ("0.1", 10)])
def test_penalties_reject_a_negative_lambd_or_non_positive_m(lambd, m):
    with pytest.raises(ValueError, match="l2_penalty"):
        nn.l2_penalty(model64(), lambd, m)
    with pytest.raises(ValueError, match="l1_penalty"):
        nn.l1_penalty(model64(), lambd, m)


def test_penalties_need_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        nn.l2_penalty([nn.Parameter(np.zeros((2, 2)))], 0.1, 10)


def test_weight_decay_groups_decay_weight_matrices_and_exempt_the_rest():
    model = model64()
    groups = nn.param_groups_for_weight_decay(model, 5e-4)
    names = {id(p): n for n, p in model.named_parameters()}
    assert [g["weight_decay"] for g in groups] == [5e-4, 0.0]
    assert [names[id(p)] for p in groups[0]["params"]] == WEIGHTS
    assert [names[id(p)] for p in groups[1]["params"]] == [
        "0.bias", "1.weight", "1.bias", "3.bias"
    ]


def test_weight_decay_groups_leave_out_empty_groups_and_validate():
    assert len(nn.param_groups_for_weight_decay(nn.Linear(2, 2, bias=False), 0.1)) == 1
    assert nn.param_groups_for_weight_decay(nn.ReLU(), 0.1) == []
    with pytest.raises(ValueError, match="weight_decay"):
        nn.param_groups_for_weight_decay(model64(), -1.0)


def test_weight_decay_groups_drive_torch_sgd_like_the_l2_penalty():
    """Torch's SGD with our groups (mapped by name) and weight_decay = lambd/m takes the same
    step as plain SGD on loss + l2_penalty: the groups pick exactly the penalized weights."""
    torch = pytest.importorskip("torch")
    ours = model64()
    lambd, m, lr = 0.4, 8, 0.1
    groups = nn.param_groups_for_weight_decay(ours, lambd / m)
    names = {id(p): n for n, p in ours.named_parameters()}
    theirs = {n: torch.tensor(p.numpy().copy(), requires_grad=True)
              for n, p in ours.named_parameters()}
    torch_groups = [{"params": [theirs[names[id(p)]] for p in g["params"]],
                     "weight_decay": g["weight_decay"]} for g in groups]
    optimizer = torch.optim.SGD(torch_groups, lr=lr)
    loss_grads = {n: np.random.default_rng(len(n)).standard_normal(p.shape)
                  for n, p in ours.named_parameters()}
    for n, t in theirs.items():
        t.grad = torch.tensor(loss_grads[n])
    optimizer.step()

    nn.l2_penalty(ours, lambd, m).backward()
    for n, p in ours.named_parameters():
        penalty_grad = p.grad.numpy() if p.grad is not None else 0.0
        expected = p.numpy() - lr * (loss_grads[n] + penalty_grad)
        np.testing.assert_allclose(theirs[n].detach().numpy(), expected, rtol=1e-12, err_msg=n)

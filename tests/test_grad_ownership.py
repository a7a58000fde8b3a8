"""Gradient ownership: the engine lets a backward write into its incoming gradient only when
nobody else holds that array (engine._sweep), and the results never depend on it."""

import numpy as np
import pytest
from _ownership_ops import Triple

import tinygrad_c2 as tg
from tinygrad_c2 import nn, ops
from tinygrad_c2.nn import functional as F
from tinygrad_c2.nn.functional.dropout import Dropout
from tinygrad_c2.nn.functional.linear import Linear
from tinygrad_c2.nn.functional.loss import BCEWithLogits, CrossEntropy
from tinygrad_c2.nn.functional.norm import BatchNorm

calls: list[tuple[str, bool]] = []  # (probe name, grad_owned) per backward call


class Double(tg.Function):
    """y = 2 x; overwrites an owned g (dx = g * 2 in place) and records whether it was owned."""

    overwrites_grad = True

    @staticmethod
    def forward(ctx, x, name):
        ctx.name = name
        return np.multiply(x, 2.0)

    @staticmethod
    def backward(ctx, g):
        calls.append((ctx.name, ctx.grad_owned))
        if ctx.grad_owned:
            g *= 2.0
            return g, None
        return g * 2.0, None



class Split(tg.Function):
    """y = a + b, overwriting its owned g and then handing it to both inputs: an aliasing
    backward the engine must not trust with ownership."""

    overwrites_grad = True

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        calls.append(("split", ctx.grad_owned))
        return g, g


@pytest.fixture(autouse=True)
def _clear(monkeypatch):
    # the semantics hold at every size: track the small arrays of these tests too
    monkeypatch.setattr(tg.engine, "OWNED_MIN_SIZE", 1)
    calls.clear()
    yield
    calls.clear()


def leaf(*shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return tg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def test_a_fresh_gradient_handed_to_one_node_is_owned_and_overwritten():
    x = leaf(3, 4)
    Triple.apply(Double.apply(x, "d")).sum().backward()
    assert calls == [("d", True)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 6.0))


def test_an_owned_gradient_passes_on_through_an_overwriting_chain():
    x = leaf(5)
    Triple.apply(Double.apply(Double.apply(x, "inner"), "outer")).sum().backward()
    assert calls == [("outer", True), ("inner", True)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(5, 12.0))


def test_the_engines_own_seed_is_owned_but_the_users_gradient_is_not():
    x = leaf(1)
    Double.apply(x, "root").backward()  # a one-element output: the engine makes the ones
    assert calls == [("root", True)]
    calls.clear()
    seed = np.array([1.0, 2.0, 3.0])
    x = leaf(3)
    Double.apply(x, "root").backward(gradient=seed)
    assert calls == [("root", False)]
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])  # untouched
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_a_pass_through_add_hands_on_nothing_owned():
    x = leaf(4)
    Triple.apply(Double.apply(x, "d") + 1.0).sum().backward()
    assert calls == [("d", False)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 6.0))


def test_one_array_returned_for_two_inputs_is_owned_by_neither():
    x = leaf(2, 3)
    a, b = Double.apply(x, "a"), Double.apply(x, "b")
    Triple.apply(Split.apply(a, b)).sum().backward()
    assert calls[0] == ("split", True)
    assert sorted(calls[1:]) == [("a", False), ("b", False)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 12.0))


def test_a_view_from_reshape_is_not_owned():
    x = leaf(2, 3)
    Triple.apply(Double.apply(x, "d").reshape(6)).sum().backward()
    assert calls == [("d", False)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 6.0))


def test_fan_in_sums_into_an_owned_contribution_and_the_sum_is_owned():
    # h's producer first gets Add's pass-through of the user's seed (not owned), then a fresh
    # result: the sum goes into the fresh array, never into the seed
    x = leaf(4)
    h = Double.apply(x, "h")
    s = h + Triple.apply(h)
    seed = np.array([1.0, -1.0, 2.0, 0.5])
    s.backward(gradient=seed)
    np.testing.assert_array_equal(seed, [1.0, -1.0, 2.0, 0.5])
    assert calls == [("h", True)]
    np.testing.assert_array_equal(x.grad.numpy(), seed * 4 * 2)


def test_retain_grad_sees_the_gradient_before_its_node_overwrites_it():
    x = leaf(3)
    h = Double.apply(x, "h")
    h.retain_grad()
    Triple.apply(h).sum().backward()
    assert calls == [("h", True)]
    np.testing.assert_array_equal(h.grad.numpy(), np.full(3, 3.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 6.0))


def test_autograd_grad_of_an_intermediate_is_its_gradient_before_the_overwrite():
    x = leaf(3)
    h = Double.apply(x, "h")
    gh, gx = tg.autograd.grad(Triple.apply(h).sum(), [h, x])
    np.testing.assert_array_equal(gh.numpy(), np.full(3, 3.0))
    np.testing.assert_array_equal(gx.numpy(), np.full(3, 6.0))


def test_backward_twice_with_retain_graph_gives_the_same_gradient_twice():
    x = leaf(2, 2)
    y = Triple.apply(Double.apply(Double.apply(x, "a"), "b")).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_array_equal(first, np.full((2, 2), 12.0))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)
    assert [owned for _, owned in calls] == [True] * 4


def test_grad_owned_is_false_outside_backward_and_under_create_graph():
    x = tg.tensor([1.5, -2.0], requires_grad=True)
    y = F.relu(x * 3.0)
    node = y.grad_fn
    assert node.grad_owned is False
    (gx,) = tg.autograd.grad((y * y).sum(), [x], create_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2 * 9 * 1.5, 0.0])
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 0.0])
    assert node.grad_owned is False


def test_small_gradients_are_not_tracked_by_default(monkeypatch):
    monkeypatch.setattr(tg.engine, "OWNED_MIN_SIZE", 16384)
    x = leaf(3, 4)
    Triple.apply(Double.apply(x, "small")).sum().backward()
    big = leaf(128, 128)
    Triple.apply(Double.apply(big, "big")).sum().backward()
    assert calls == [("small", False), ("big", True)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 6.0))


def test_relu_masks_its_owned_gradient_in_place(monkeypatch):
    seen = []
    plain = ops.Relu.backward

    def spy(ctx, g):
        out = plain(ctx, g)
        seen.append((ctx.grad_owned, out is g))
        return out

    monkeypatch.setattr(ops.Relu, "backward", staticmethod(spy))
    x = leaf(8, 5, dtype=np.float32)
    lin = nn.Linear(5, 3)
    lin2 = nn.Linear(3, 2)
    lin2(F.relu(lin(x))).sum().backward()
    assert seen == [(True, True)]  # Linear's dx is fresh: ReLU got it and worked in it


# ---------------------------------------------------------------- results never depend on it

OVERWRITING = [ops.Relu, ops.LeakyRelu, ops.Sigmoid, Dropout, BatchNorm]
FRESH = [Linear, CrossEntropy, BCEWithLogits]


def _mlp_grads(model, X, y, loss_fn, seed):
    tg.manual_seed(seed)
    model.zero_grad()
    out = loss_fn(model(X), y)
    out.backward()
    return [out.numpy()] + [p.grad.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["relu_dropout", "batch_norm", "sigmoid_bce", "leaky_eval_bn"])
def test_an_mlp_step_is_bit_identical_with_and_without_in_place_backward(kind, monkeypatch):
    tg.manual_seed(0)
    if kind == "relu_dropout":
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    elif kind == "batch_norm":
        model = nn.Sequential(nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(),
                              nn.Dropout(0.2), nn.Linear(16, 4))
    elif kind == "sigmoid_bce":
        model = nn.Sequential(nn.Linear(6, 8), nn.Sigmoid(), nn.Linear(8, 1))
    else:
        model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.1),
                              nn.Linear(8, 4))
        model[1].train()
        model(tg.randn(32, 6))  # running statistics to normalize with
        model[1].eval()
    rng = np.random.default_rng(1)
    X = tg.tensor(rng.standard_normal((32, 6)).astype(np.float32))
    if kind == "sigmoid_bce":
        y, loss_fn = tg.tensor(rng.integers(0, 2, (32, 1)).astype(np.float32)), \
            F.binary_cross_entropy_with_logits
    else:
        y, loss_fn = tg.tensor(rng.integers(0, 4, 32)), F.cross_entropy
    state = {k: v.copy() for k, v in model.state_dict().items()}
    in_place = _mlp_grads(model, X, y, loss_fn, seed=5)
    model.load_state_dict(state)
    for cls in OVERWRITING:
        monkeypatch.setattr(cls, "overwrites_grad", False)
    for cls in FRESH:
        monkeypatch.setattr(cls, "fresh_grads", False)
    plain = _mlp_grads(model, X, y, loss_fn, seed=5)
    assert len(in_place) == len(plain)
    for a, b in zip(in_place, plain, strict=True):
        np.testing.assert_array_equal(a, b)


def test_in_place_backward_of_an_mlp_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, 16)
    ours = nn.Sequential(nn.Linear(5, 7, bias=False), nn.BatchNorm1d(7), nn.ReLU(),
                         nn.Linear(7, 6), nn.Sigmoid(), nn.Linear(6, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7, bias=False), torch.nn.BatchNorm1d(7),
                                 torch.nn.ReLU(), torch.nn.Linear(7, 6), torch.nn.Sigmoid(),
                                 torch.nn.Linear(6, 3)).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                  strict=True):
            q.copy_(torch.from_numpy(p.numpy()))
    F.cross_entropy(ours(tg.tensor(X)), tg.tensor(y)).backward()
    torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X)), torch.from_numpy(y)).backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_tanh_backward_in_one_temporary_matches_the_formula():
    y = np.tanh(np.linspace(-3, 3, 7, dtype=np.float32))
    x = tg.tensor(np.linspace(-3, 3, 7, dtype=np.float32), requires_grad=True)
    g = np.linspace(0.5, 2.0, 7, dtype=np.float32)
    x.tanh().backward(gradient=g)
    np.testing.assert_array_equal(x.grad.numpy(), g * (1.0 - y * y))
    x0 = tg.tensor(np.float32(0.5), requires_grad=True)  # 0-d: numpy gives scalars
    x0.tanh().backward()
    np.testing.assert_allclose(x0.grad.numpy(), 1 - np.tanh(0.5) ** 2, rtol=1e-6)

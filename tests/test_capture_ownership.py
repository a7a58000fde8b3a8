"""Static gradient ownership in a captured program: a replay tells an overwrites_grad backward
that it may write into its gradient (ctx.grad_owned) exactly where no one else holds that array,
and adds into owned gradients in place, with the eager step's values bit for bit."""

import numpy as np
import pytest
from _ownership_ops import Triple as Fresh

import tinygrad_c2 as tg

LOG: list[tuple[str, bool]] = []  # (op, ctx.grad_owned) per backward call, in order


class Scale(tg.Function):
    """y = 2x; with an owned gradient, backward doubles it in place and hands it on."""

    overwrites_grad = True

    @staticmethod
    def forward(ctx, x):
        ctx.name = "scale"
        return np.multiply(x, 2.0)

    @staticmethod
    def backward(ctx, g):
        LOG.append((ctx.name, ctx.grad_owned))
        if ctx.grad_owned:
            g *= 2.0
            return g
        return g * 2.0



class Pass(tg.Function):
    """y = x; backward hands its gradient through (an array others hold)."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x)

    @staticmethod
    def backward(ctx, g):
        return g


class Add2(tg.Function):
    """y = a + b; backward hands one gradient to both inputs."""

    @staticmethod
    def forward(ctx, a, b):
        return np.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Total(tg.Function):
    """y = sum(x); backward broadcasts into a new array (fresh_grads)."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return np.asarray(np.sum(x))

    @staticmethod
    def backward(ctx, g):
        return np.full(ctx.shape, g)


def _chain(w):  # Total's fresh gradient, owned by Scale, handed on to a second Scale
    return Total.apply(Scale.apply(Scale.apply(Fresh.apply(w))))


def _through_pass(w):  # the handed-on gradient goes through Pass: the first Scale may not own it
    return Total.apply(Scale.apply(Pass.apply(Scale.apply(w))))


def _fan_in_of_one_array(w):  # Add2 hands the same g twice: the sum of both is owned
    y = Scale.apply(Fresh.apply(w))
    return Total.apply(Add2.apply(Pass.apply(y), Pass.apply(y)))


def _fan_in_of_fresh_arrays(w):  # two fresh contributions: the second adds in place
    y = Pass.apply(w)
    return Total.apply(Scale.apply(Add2.apply(Fresh.apply(y), Fresh.apply(y))))


def _leaf_gets_the_owned_gradient(w):  # Scale's in-place result becomes w.grad: kept intact
    return Total.apply(Scale.apply(Scale.apply(w)))


CASES = {  # graph -> grad_owned of each Scale backward in a replay (in backward order)
    _chain: [True, True],
    _through_pass: [True, False],
    _fan_in_of_one_array: [True],
    _fan_in_of_fresh_arrays: [True],
    _leaf_gets_the_owned_gradient: [True, True],
}


@pytest.mark.parametrize("graph", list(CASES), ids=lambda f: f.__name__.strip("_"))
def test_a_replay_owns_exactly_the_gradients_nobody_else_holds(graph):
    w0 = np.random.default_rng(0).standard_normal((3, 4))
    w = tg.tensor(w0.copy(), requires_grad=True)
    graph(w).backward()
    eager = w.grad.numpy().copy()

    v = tg.tensor(w0.copy(), requires_grad=True)
    step = tg.capture(lambda X: graph(v * X))
    X = np.ones((3, 4))
    step(X)  # traced (eagerly)
    for _ in range(2):
        LOG.clear()
        step(X)
        assert [owned for _, owned in LOG] == CASES[graph]
        np.testing.assert_array_equal(v.grad.numpy(), eager)
        kept, values = v.grad, v.grad.numpy().copy()
    step(X)  # the next replay leaves the last gradient alone
    np.testing.assert_array_equal(kept.numpy(), values)


def test_the_gradients_match_the_maths():
    w = tg.tensor(np.ones((2, 2)), requires_grad=True)
    step = tg.capture(lambda X: _fan_in_of_one_array(w * X))
    X = np.full((2, 2), 0.5)
    for _ in range(3):
        step(X)
        # loss = sum(2 * 2 * 3 * w * X): dw = 12 X
        np.testing.assert_array_equal(w.grad.numpy(), 12 * X)


def test_fresh_contributions_are_summed_in_place():
    w = tg.tensor(np.ones((2, 2)), requires_grad=True)
    step = tg.capture(lambda X: _fan_in_of_fresh_arrays(w * X))
    step(np.ones((2, 2)))
    assert "add(g" in step.source
    step(np.ones((2, 2)))
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 2), 12.0))

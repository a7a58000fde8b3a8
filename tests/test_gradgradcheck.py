"""tg.gradgradcheck: the double backward against centered differences of the first-order
gradient, PyTorch's signature and pass test, the course's report."""

import numpy as np
import pytest

import tinygrad_c2 as tg


class Cube(tg.Function):
    """y = x^3 with a numpy backward and a correct differentiable form."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.power(x, 3)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g

    @staticmethod
    def backward_graph(ctx, g):
        x = ctx.graph_input(0, ctx.saved_tensors[0])
        return 3 * x ** 2 * g


class CubeFrozenInput(Cube):
    """Wrong: the input is a constant in backward_graph, so d(grad)/dx comes out 0."""

    @staticmethod
    def backward_graph(ctx, g):
        return g * (3 * ctx.saved_tensors[0] ** 2)


class CubeFrozenSeed(Cube):
    """Wrong: the incoming gradient is a constant, so d(grad)/d(grad_output) comes out 0."""

    @staticmethod
    def backward_graph(ctx, g):
        x = ctx.graph_input(0, ctx.saved_tensors[0])
        return 3 * x ** 2 * g.detach()


def leaf(*shape, seed=0):
    gen = np.random.default_rng(seed)
    return tg.tensor(gen.standard_normal(shape), requires_grad=True)


def test_passes_correct_ops_and_returns_a_true_result():
    a, b = leaf(3, 2), leaf(2, 4, seed=1)
    result = tg.gradgradcheck(lambda a, b: (a @ b).tanh() * a.sum(), [a, b])
    assert result and result.passed and result.difference < 1e-8
    assert set(result.per_input) == {"input0", "input1", "grad_output0"}
    assert tg.autograd.gradgradcheck is tg.gradgradcheck


def test_passes_a_correct_user_function_and_a_tuple_of_outputs():
    x = leaf(4)
    assert tg.gradgradcheck(lambda x: (Cube.apply(x), x.exp() * x), x)


def test_catches_a_backward_graph_that_freezes_its_input_and_names_the_input():
    a, b = leaf(3), leaf(3, seed=1)
    fn = lambda a, b: CubeFrozenInput.apply(a) * b.sigmoid()  # noqa: E731
    assert tg.gradcheck(lambda a, b: fn(a, b).sum(), {"a": a, "b": b}).passed  # 1st order fine
    result = tg.gradgradcheck(fn, {"a": a, "b": b}, raise_exception=False)
    assert not result
    assert result.worst_input == "a"
    assert result.per_input["a"] > 0.1 and result.per_input["b"] < 1e-8
    name, idx, wrt, widx, analytic, numeric = result.worst[0]
    assert (name, wrt, idx, widx) == ("a", "grad(a)", idx, idx)  # the diagonal: 6 a v s(b)
    v = np.random.default_rng(0).standard_normal(3)  # the default cotangent: N(0, 1), seed 0
    assert analytic == 0.0
    np.testing.assert_allclose(numeric, 6 * a.numpy()[idx] * v[idx] * b.sigmoid().numpy()[idx],
                               rtol=1e-6)
    text = str(result)
    assert "second-order gradient check FAILED" in text and "d grad(a)" in text


def test_catches_a_backward_graph_that_freezes_the_incoming_gradient():
    x = leaf(3)
    result = tg.gradgradcheck(lambda x: CubeFrozenSeed.apply(x), x, raise_exception=False)
    assert not result and result.worst_input == "grad_output0"
    assert result.per_input["input"] < 1e-8


def test_raises_by_default_with_the_report():
    x = leaf(3)
    with pytest.raises(RuntimeError, match="(?s)double backward disagrees.*input"):
        tg.gradgradcheck(lambda x: CubeFrozenInput.apply(x), x)


def test_given_grad_outputs_are_used_and_checked_too():
    x = leaf(2, 3)
    v = np.arange(6.0).reshape(2, 3)
    assert tg.gradgradcheck(lambda x: x.sin() * x, x, grad_outputs=v)
    assert tg.gradgradcheck(lambda x: x.sin() * x, x, grad_outputs=[tg.tensor(v)])
    with pytest.raises(ValueError, match="grad_outputs\\[0\\] has shape \\(3,\\)"):
        tg.gradgradcheck(lambda x: x.sin(), x, grad_outputs=np.zeros(3))
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        tg.gradgradcheck(lambda x: x.sin(), x, grad_outputs=[v, v])


def test_works_in_float64_on_float32_inputs_and_leaves_them_alone():
    x = tg.tensor([0.3, -1.2, 2.0], requires_grad=True)
    before = x.numpy().copy()
    assert x.dtype == np.float32
    assert tg.gradgradcheck(lambda x: x.tanh() * x, x)  # float32 differences could not pass
    assert x.dtype == np.float32 and x.grad is None
    np.testing.assert_array_equal(x.numpy(), before)


def test_bad_input_is_refused_as_gradcheck_refuses_it():
    x = leaf(3)
    with pytest.raises(ValueError, match="gradgradcheck: no input requires grad"):
        tg.gradgradcheck(lambda x: x * 2, tg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="must return a Tensor or a tuple of Tensors"):
        tg.gradgradcheck(lambda x: 3.0, x)
    with pytest.raises(ValueError, match="no output of the function requires grad"):
        tg.gradgradcheck(lambda x: x.detach(), x)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        tg.gradgradcheck(lambda x: x * x, x, eps=0)


def test_a_linear_function_has_a_zero_second_derivative_in_x_but_not_in_v():
    x = leaf(3)
    result = tg.gradgradcheck(lambda x: 2.0 * x + 1.0, x)
    assert result.per_input["input"] == 0.0 and result.passed


def test_random_masks_drawn_inside_the_function_are_held_fixed():
    # the library RNG is rewound before every evaluation, as in gradcheck (dropout's masks)
    x = leaf(4, 5)
    tg.manual_seed(3)
    assert tg.gradgradcheck(lambda x: x * x * x * (tg.rand(4, 5, dtype=tg.float64) > 0.4), x)


def test_agrees_with_torch_gradgradcheck_on_the_same_functions():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(5).standard_normal((3, 3))
    for fn, tfn in [(lambda x: (x @ x).softmax(1), lambda x: (x @ x).softmax(1)),
                    (lambda x: x.abs() ** 1.5, lambda x: x.abs() ** 1.5)]:
        assert tg.gradgradcheck(fn, tg.tensor(a, requires_grad=True))
        assert torch.autograd.gradgradcheck(tfn, torch.tensor(a, requires_grad=True))

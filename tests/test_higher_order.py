"""create_graph=True: gradients that are Tensors with a graph of their own, against torch's
double backward in float64, and the engine's rules (accumulation, seeds, errors)."""

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")

X = [0.5, -1.0, 2.0]


def both(fn, values=X):
    """(tinygrad_c2 tensor, torch tensor) of the same float64 leaf, and fn applied to each."""
    x = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    xt = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    return x, xt, fn(x), fn(xt)


def test_second_derivative_of_a_product_of_exp_and_tanh_matches_torch():
    x, xt, y, yt = both(lambda v: (v.exp() * v.tanh()).sum())
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-12)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = tg.autograd.grad(g.sum(), x)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)


def test_third_order_of_a_cube_is_six():
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.numpy(), 3 * np.square(X))
    (h,) = tg.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.numpy(), 6 * np.array(X))
    (t,) = tg.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(t.numpy(), [6.0, 6.0, 6.0])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
def test_backward_create_graph_keeps_the_graph_and_a_second_backward_accumulates():
    x, xt, y, yt = both(lambda v: (v * v * v.exp()).sum())
    y.backward(create_graph=True)
    yt.backward(create_graph=True)
    x.grad.sum().backward()  # d/dx of the first gradient, accumulated into x.grad (a Tensor)
    xt.grad.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.detach().numpy(), rtol=1e-12)


def test_seed_that_requires_grad_is_differentiated_too():
    # d/dv of the vector-Jacobian product v . J is J's row sums: here J = diag(2x)
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    v = tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(x * x, x, grad_outputs=v, create_graph=True)
    (dv,) = tg.autograd.grad(g.sum(), v)
    np.testing.assert_allclose(dv.numpy(), 2 * np.array(X))


def test_gradient_of_an_intermediate_with_create_graph():
    x = tg.tensor(X, dtype=tg.float64, requires_grad=True)
    h = x * x
    y = (h * h).sum()
    (gh,) = tg.autograd.grad(y, h, create_graph=True)  # 2h, which depends on x
    (gx,) = tg.autograd.grad(gh.sum(), x)
    np.testing.assert_allclose(gx.numpy(), 4 * np.array(X))


def test_broadcast_gradients_are_summed_differentiably():
    x, xt, y, yt = both(lambda v: (v.reshape(3, 1) * v.exp()).sum())
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), rtol=1e-12)
    (h,) = tg.autograd.grad((g * g).sum(), x)
    (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)


def test_two_leaves_never_share_one_grad_tensor():
    a = tg.tensor([1.0], requires_grad=True)
    b = tg.tensor([2.0], requires_grad=True)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    with tg.no_grad():
        a.grad.add_(1)
    assert (a.grad.item(), b.grad.item()) == (2.0, 1.0)


def test_a_tensor_style_user_function_is_differentiated_twice():
    class Cube(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = tg.tensor([2.0, 3.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad(Cube.apply(x * 1.0).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [12.0, 27.0])
    (h,) = tg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [12.0, 18.0])


def test_a_numpy_style_user_function_refuses_create_graph_by_name():
    class NpCube(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.power(x, 3)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = tg.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="NpCube: its backward works on numpy arrays"):
        tg.autograd.grad(NpCube.apply(x).sum(), x, create_graph=True)


def test_create_graph_retains_the_graph_by_default_and_frees_it_when_told():
    x = tg.tensor(X, requires_grad=True)
    y = (x.exp()).sum()
    tg.autograd.grad(y, x, create_graph=True)
    tg.autograd.grad(y, x, create_graph=True, retain_graph=False)  # the graph was kept
    with pytest.raises(RuntimeError, match="a second time"):
        tg.autograd.grad(y, x)


def test_first_order_backward_calls_no_differentiable_backward(monkeypatch):
    calls = []
    original = tg.ops.Mul.backward_graph
    monkeypatch.setattr(tg.ops.Mul, "backward_graph",
                        staticmethod(lambda ctx, g: calls.append(1) or original(ctx, g)))
    x = tg.tensor(X, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert calls == [] and x.grad.grad_fn is None and not x.grad.requires_grad


def test_a_captured_step_refuses_create_graph():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        (g,) = tg.autograd.grad((w * x).sum(), w, create_graph=True)
        return (g * g).sum()

    captured = tg.capture(step)
    with pytest.raises(tg.CaptureError, match="create_graph=True inside a captured step"):
        captured(tg.tensor([3.0, 4.0]))

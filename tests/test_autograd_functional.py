"""tg.autograd.functional against torch.autograd.functional in float64: values, the
structure of the results (Tensor, tuple, tuple of tuples), strict mode and create_graph."""

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")
TF = torch.autograd.functional
F = tg.autograd.functional

XV = np.array([0.5, -1.0, 2.0])
YV = np.array([[1.0, 2.0, -0.5], [0.3, 0.2, 0.1]])
VV = np.array([1.0, -2.0, 0.5])


def pair(*arrays):
    """The same float64 values as tinygrad_c2 and as torch tensors."""
    return (tuple(tg.tensor(a, dtype=tg.float64) for a in arrays),
            tuple(torch.tensor(a, dtype=torch.float64) for a in arrays))


def same(ours, theirs):
    """Equal structure (nested tuples) and values to 1e-12."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):  # noqa: B905
            same(a, b)
        return
    assert isinstance(ours, tg.Tensor), type(ours)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def scalar(x, y):
    return (x.exp() * y * x).sum()


def vector(x):
    return x.exp() * x.tanh()


def two_out(x, y):
    return x * x, (y * x).sum(dim=0)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_of_one_and_of_tuple_inputs_and_outputs(strategy):
    (x, y), (xt, yt) = pair(XV, YV)
    same(F.jacobian(vector, x, strategy=strategy), TF.jacobian(vector, xt))
    same(F.jacobian(scalar, (x, y), strategy=strategy), TF.jacobian(scalar, (xt, yt)))
    same(F.jacobian(two_out, (x, y), strategy=strategy), TF.jacobian(two_out, (xt, yt)))


def test_hessian_of_one_and_of_two_inputs():
    (x, y), (xt, yt) = pair(XV, YV)
    same(F.hessian(lambda x: (x.exp() * x * x).sum(), x),
         TF.hessian(lambda x: (x.exp() * x * x).sum(), xt))
    same(F.hessian(scalar, (x, y)), TF.hessian(scalar, (xt, yt)))


def test_vjp_and_jvp():
    (x, v), (xt, vt) = pair(XV, VV)
    same(F.vjp(vector, x, v), TF.vjp(vector, xt, vt))
    same(F.jvp(vector, x, v), TF.jvp(vector, xt, vt))
    (x, y, w), (xt, yt, wt) = pair(XV, YV, YV[0])
    same(F.jvp(two_out, (x, y), (x, y)), TF.jvp(two_out, (xt, yt), (xt, yt)))
    same(F.vjp(two_out, (x, y), (x, w)), TF.vjp(two_out, (xt, yt), (xt, wt)))


def test_hvp_and_vhp_agree_with_torch_and_with_the_hessian():
    (x, v), (xt, vt) = pair(XV, VV)
    f = lambda x: (x.exp() * x * x).sum()  # noqa: E731
    same(F.hvp(f, x, v), TF.hvp(f, xt, vt))
    same(F.vhp(f, x, v), TF.vhp(f, xt, vt))
    np.testing.assert_allclose(F.hvp(f, x, v)[1].numpy(), F.hessian(f, x).numpy() @ VV)


def test_v_may_be_omitted_only_for_a_single_element():
    x = tg.tensor([2.0], dtype=tg.float64)
    np.testing.assert_allclose(F.vjp(lambda x: x * x, x)[1].numpy(), [4.0])
    np.testing.assert_allclose(F.jvp(lambda x: x * x, x)[1].numpy(), [4.0])
    with pytest.raises(RuntimeError, match="vjp: v can be None only when the output of func"):
        F.vjp(vector, tg.tensor(XV))
    with pytest.raises(RuntimeError, match="v\\[0\\] has shape \\(2,\\) but inputs\\[0\\] has "
                                           "shape \\(3,\\)"):
        F.jvp(vector, tg.tensor(XV), tg.ones(2))
    with pytest.raises(RuntimeError, match="hessian: func must return a Tensor with a single"):
        F.hessian(vector, tg.tensor(XV))
    with pytest.raises(TypeError, match="inputs\\[1\\] must be a Tensor"):
        F.jacobian(scalar, (tg.tensor(XV), 3.0))


def test_an_independent_input_gives_zeros_or_a_strict_error():
    (x, y), (xt, yt) = pair(XV, YV)
    f = lambda x, y: x * x  # noqa: E731
    same(F.jacobian(f, (x, y)), TF.jacobian(f, (xt, yt)))
    with pytest.raises(RuntimeError, match="does not depend on input 1"):
        F.jacobian(f, (x, y), strict=True)
    with pytest.raises(RuntimeError, match="does not depend on input 1"):
        F.vjp(f, (x, y), x, strict=True)
    with pytest.raises(RuntimeError, match="strict=True"):
        F.hessian(lambda x: x.sum() * 2.0, x, strict=True)  # linear: its gradient has no graph
    same(F.hessian(lambda x: x.sum() * 2.0, x), TF.hessian(lambda x: x.sum() * 2.0, xt))


def test_results_are_detached_unless_create_graph_which_differentiates_through_them():
    x = tg.tensor(XV, dtype=tg.float64, requires_grad=True)
    xt = torch.tensor(XV, dtype=torch.float64, requires_grad=True)
    f = lambda x: (x.exp() * x * x).sum()  # noqa: E731
    assert not F.hessian(f, x).requires_grad and x.grad is None
    h = F.hessian(f, x, create_graph=True)
    ht = TF.hessian(f, xt, create_graph=True)
    assert h.requires_grad
    h.sum().backward()
    ht.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_unknown_jacobian_strategy_is_refused():
    with pytest.raises(ValueError, match="strategy must be one of"):
        F.jacobian(vector, tg.tensor(XV), strategy="sideways")

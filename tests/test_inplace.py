"""In-place ops, version counters and PyTorch's `.data`, against torch."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim

torch = pytest.importorskip("torch")

BASE = np.array([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]], dtype=np.float32)
OTHER = np.array([1.5, -2.0, 0.75], dtype=np.float32)  # broadcasts into BASE's shape

# (name, call): call(lib, other) runs the op on a tensor; other is OTHER as lib's tensor
OPS = [
    ("add_", lambda t, o: t.add_(o)),
    ("add_ alpha", lambda t, o: t.add_(o, alpha=-2)),
    ("add_ scalar", lambda t, o: t.add_(3)),
    ("sub_", lambda t, o: t.sub_(o)),
    ("sub_ alpha", lambda t, o: t.sub_(o, alpha=0.5)),
    ("mul_", lambda t, o: t.mul_(o)),
    ("mul_ scalar", lambda t, o: t.mul_(-2.5)),
    ("div_", lambda t, o: t.div_(o)),
    ("pow_", lambda t, o: t.pow_(2)),
    ("neg_", lambda t, o: t.neg_()),
    ("exp_", lambda t, o: t.exp_()),
    ("abs_", lambda t, o: t.abs_()),
    ("relu_", lambda t, o: t.relu_()),
    ("tanh_", lambda t, o: t.tanh_()),
    ("sigmoid_", lambda t, o: t.sigmoid_()),
    ("clamp_", lambda t, o: t.clamp_(-1.0, 1.0)),
    ("clamp_ min", lambda t, o: t.clamp_(min=0.0)),
    ("clip_", lambda t, o: t.clip_(max=0.5)),
    ("copy_", lambda t, o: t.copy_(o)),
    ("fill_", lambda t, o: t.fill_(7.25)),
    ("zero_", lambda t, o: t.zero_()),
    ("+=", lambda t, o: t.__iadd__(o)),
    ("-=", lambda t, o: t.__isub__(o)),
    ("*=", lambda t, o: t.__imul__(o)),
    ("/=", lambda t, o: t.__itruediv__(o)),
]


def _both(array):
    return tg.tensor(array.copy()), torch.tensor(array.copy())


@pytest.mark.parametrize("name, call", OPS, ids=[o[0] for o in OPS])
def test_every_inplace_op_matches_torch_returns_self_and_views_see_it(name, call):
    t, ref = _both(BASE)
    views = [t.data, t.detach(), t[1], t.reshape(6), t.T]
    array = t.numpy()
    out = call(t, tg.tensor(OTHER))
    expected = call(ref, torch.tensor(OTHER))
    assert out is t and t.dtype == np.float32 and t.numpy() is array
    np.testing.assert_allclose(t.numpy(), expected.numpy(), rtol=1e-6)
    for v, want in zip(views, (expected, expected, expected[1], expected.reshape(6),  # noqa: B905
                               expected.T)):
        np.testing.assert_allclose(v.numpy(), want.numpy(), rtol=1e-6)


def test_augmented_operators_work_in_place_on_the_same_object():
    t = tg.tensor(BASE.copy())
    before, view = t, t[0]
    t += 1
    t *= tg.tensor(OTHER)
    t -= 0.5
    t /= 2
    ref = (torch.tensor(BASE) + 1) * torch.tensor(OTHER)
    ref = (ref - 0.5) / 2
    assert t is before
    np.testing.assert_allclose(t.numpy(), ref.numpy(), rtol=1e-6)
    np.testing.assert_allclose(view.numpy(), ref[0].numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_dtype_is_kept_and_copy_fill_cast_as_torch(dtype):
    t, ref = tg.tensor(np.zeros(3, dtype)), torch.tensor(np.zeros(3, dtype))
    src = np.array([1.7, -1.7, 2.2])
    t.copy_(tg.tensor(src))
    ref.copy_(torch.tensor(src))
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), ref.numpy())
    t.fill_(2.9)
    ref.fill_(2.9)
    np.testing.assert_array_equal(t.numpy(), ref.numpy())
    t.add_(tg.tensor(np.ones(3, np.int32)))
    ref.add_(torch.ones(3, dtype=torch.int32))
    np.testing.assert_array_equal(t.numpy(), ref.numpy())
    assert t.dtype == dtype


def test_a_narrower_float_self_keeps_its_dtype():
    t = tg.zeros(3)
    t.add_(tg.tensor(np.array([0.1, 0.2, 0.3])))  # float64 into float32, as torch allows
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), np.array([0.1, 0.2, 0.3], np.float32))


@pytest.mark.parametrize("call, message", [
    (lambda lib: lib.tensor([1, 2]).add_(1.5), "result type Float can't be cast to the desired "
                                               "output type Long"),
    (lambda lib: lib.tensor([4, 2]).div_(2), "result type Float can't be cast to the desired "
                                             "output type Long"),
    (lambda lib: lib.tensor([True, False]).add_(1), "result type Long can't be cast to the "
                                                    "desired output type Bool"),
    (lambda lib: lib.zeros(3).add_(lib.zeros(2, 3)), "output with shape [3] doesn't match the "
                                                     "broadcast shape [2, 3]"),
])
def test_bad_dtype_or_shape_raises_runtime_error_as_torch(call, message):
    with pytest.raises(RuntimeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call(torch)
    with pytest.raises(RuntimeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        call(tg)
    try:
        call(tg)
    except RuntimeError as e:  # and names the op
        assert str(e).split(":")[0] in ("add_", "div_")


def test_integer_add_of_bool_is_allowed_as_in_torch():
    t = tg.tensor([1, 2])
    t.add_(True)
    assert t.tolist() == [2, 3] and t.dtype == np.int64


def test_random_fills_use_the_library_generator_and_accept_generator():
    tg.manual_seed(3)
    a = tg.randn(4, 5)
    tg.manual_seed(3)
    b = tg.zeros(4, 5).normal_()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g = np.random.default_rng(7)
    c = tg.zeros(4, 5, dtype=tg.float64).normal_(2.0, 0.5, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(c.numpy(), g.standard_normal((4, 5)) * 0.5 + 2.0)
    u1 = tg.zeros(1000).uniform_(-2, 3, generator=tg.Generator().manual_seed(1))
    u2 = tg.zeros(1000).uniform_(-2, 3, generator=tg.Generator().manual_seed(1))
    np.testing.assert_array_equal(u1.numpy(), u2.numpy())
    assert u1.numpy().min() >= -2 and u1.numpy().max() < 3 and u1.dtype == np.float32
    with pytest.raises(TypeError, match="normal_ expects a floating-point tensor"):
        tg.zeros(3, dtype=tg.int64).normal_()


def test_inplace_on_a_leaf_that_requires_grad_raises_unless_under_no_grad():
    for lib in (torch, tg):
        w = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation"):
            w.add_(1)
        with pytest.raises(RuntimeError, match="leaf Variable"):
            w += 1
        with lib.no_grad():
            w.mul_(3)
            w -= 1
        np.testing.assert_array_equal(w.detach().numpy(), [2, 2, 2])
        assert w.requires_grad and w.grad_fn is None


def test_inplace_on_an_expanded_tensor_raises():
    t = tg.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        t.add_(1)


# ---------------------------------------------------------------- gradients through in-place

def _leaves(lib):
    x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = lib.tensor([1.5, 0.25, -0.75], requires_grad=True)
    return x, w


GRAPHS = {
    "add_ on a product": lambda lib, x, w: ((x * 2).add_(1) * w).sum(),
    "mul_ by a scalar": lambda lib, x, w: (x * w).mul_(3).sum(),
    "mul_ by a tensor that requires grad": lambda lib, x, w: (x + 0).mul_(w).sum(),
    "div_ and sub_ with alpha": lambda lib, x, w: (x * 1).div_(w).sub_(w, alpha=2).sum(),
    "add_ of itself": lambda lib, x, w: (x * w).add_(x * w).sum(),
    "a user of the old value": lambda lib, x, w: _old_user(x, w),
    "a constant becomes a non-leaf": lambda lib, x, w: _accumulate(lib, x, w),
    "clamp_": lambda lib, x, w: (x * w).clamp_(-0.5, 0.5).sum(),
    "copy_ from a tensor": lambda lib, x, w: ((x * 3).copy_(w) * x).sum(),
    "copy_ broadcasts the source": lambda lib, x, w: ((x * 3).copy_(w[0]) * x).sum(),
    "fill_ and zero_": lambda lib, x, w: ((x * 1).fill_(2) * w + (x * w).zero_()).sum(),
    "augmented operators": lambda lib, x, w: _augmented(x, w),
}


def _old_user(x, w):
    y = x * w
    z = y * 3  # an earlier user of y that saved nothing of it: its gradient goes to y's old node
    y.mul_(5)
    return (z * w).sum() + y.sum()


def _accumulate(lib, x, w):
    acc = lib.zeros(3)
    acc += x * w
    acc += x
    return (acc * acc).sum()


def _augmented(x, w):
    y = x * 1
    y += w
    y *= w
    y /= 2
    y -= x
    return (y * y).sum()


@pytest.mark.parametrize("name", GRAPHS)
def test_inplace_on_a_non_leaf_gives_torch_gradients(name):
    grads = []
    for lib in (torch, tg):
        x, w = _leaves(lib)
        GRAPHS[name](lib, x, w).backward()
        grads.append([None if g is None else g.numpy() for g in (x.grad, w.grad)])
    for ref, ours in zip(*grads):  # noqa: B905
        assert (ref is None) == (ours is None)
        if ref is not None:
            np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_inplace_on_a_non_leaf_leaves_a_node_named_as_the_out_of_place_op():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    y.add_(1)
    assert not y.is_leaf and y.requires_grad and type(y.grad_fn).__name__ == "Add"


def test_inplace_on_a_view_while_recording_raises_instead_of_a_wrong_gradient():
    x = tg.ones(4, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="view of another's"):
        y[1:].mul_(3)
    z = y[:2]
    y.mul_(3)  # torch rewrites z's history; here z's backward refuses
    with pytest.raises(RuntimeError, match="Index made a view of a tensor that mul_ modified"):
        z.sum().backward()


# ---------------------------------------------------------------- version counters

def _saved_modified(lib, modify):
    """x * w saves x (w wants the gradient); modify(x) writes into x before backward."""
    x = lib.tensor([1.0, 2.0, 3.0])
    w = lib.tensor([0.5, 0.5, 0.5], requires_grad=True)
    loss = (x * w).sum()
    modify(x)
    loss.backward()
    return w


MODIFICATIONS = {
    "directly": lambda x: x.add_(1),
    "through detach()": lambda x: x.detach().zero_(),
    "through a basic index": lambda x: x[1:].fill_(4),
    "through a reshape": lambda x: x.reshape(3, 1).sub_(1),
    "with +=": lambda x: x.__iadd__(1),
}


@pytest.mark.parametrize("how", MODIFICATIONS)
def test_modifying_a_saved_tensor_raises_at_backward_naming_both_ops(how):
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _saved_modified(torch, MODIFICATIONS[how])
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        _saved_modified(tg, MODIFICATIONS[how])
    op = {"through detach()": "zero_", "through a basic index": "fill_",
          "through a reshape": "sub_"}.get(how, "add_")
    assert "Mul saved an array (3, float32)" in str(info.value)
    assert f"and {op} modified it" in str(info.value)


def test_a_write_through_data_counts_for_the_version_check_unlike_torch():
    # NOTE: a deliberate difference: torch's .data escapes its version counter (a silently
    # stale gradient); here it shares the check with detach()
    w = _saved_modified(torch, lambda x: x.data.mul_(2))
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0, 6.0])  # torch: the new values
    with pytest.raises(RuntimeError, match="and mul_ modified it afterwards"):
        _saved_modified(tg, lambda x: x.data.mul_(2))


def test_a_user_that_saved_the_old_value_raises_after_mul_():
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        z = y * x  # saves y
        y.mul_(3)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_a_saved_output_modified_in_place_raises():
    for lib in (torch, tg):
        x = lib.tensor([0.1, 0.2], requires_grad=True)
        y = x.exp()
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_a_parameter_modified_under_no_grad_before_backward_raises():
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        loss = (x * w).sum()
        with lib.no_grad():
            w.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


def test_no_error_where_torch_gives_none():
    for lib in (torch, tg):
        # Add saves nothing: modifying its input does not matter
        a = lib.tensor([1.0, 2.0])
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        loss = (a + w).sum()
        a.add_(10)
        loss.backward()
        np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
        # modified after backward, then a new graph
        loss = (a * w).sum()
        loss.backward()
        a.mul_(2)
        w.grad = None
        (a * w).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [22.0, 24.0])
        # modified before the graph is built (an optimizer step)
        with lib.no_grad():
            w.sub_(1)
        w.grad = None
        (a * w * w).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [88.0, 144.0])


def test_a_retained_graph_whose_saved_tensor_changed_refuses_the_second_backward():
    for lib in (torch, tg):
        x = lib.tensor([1.0, 2.0])
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        loss = (x * w).sum()
        loss.backward(retain_graph=True)
        x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


# ---------------------------------------------------------------- .data

def test_data_is_a_graph_free_tensor_sharing_the_array():
    for lib in (torch, tg):
        p = lib.ones(2, 3, requires_grad=True)
        d = p.data
        assert isinstance(d, lib.Tensor) and d is not p and p.data is not d
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf
        assert np.shares_memory(d.numpy(), p.detach().numpy())
        assert d.shape == (2, 3) and d.numpy().shape == (2, 3)
        p.data.add_(1)  # without no_grad: .data records nothing
        with lib.no_grad():
            p.data.mul_(3)
        p.data.copy_(lib.tensor([1.0, 2.0, 3.0]))
        np.testing.assert_array_equal(p.detach().numpy(), [[1, 2, 3], [1, 2, 3]])
        p.data.zero_()
        assert float(p.detach().sum()) == 0.0 and p.requires_grad


def test_assigning_data_replaces_the_array_with_any_shape():
    p = tg.ones(2, requires_grad=True)
    new = np.zeros((3, 4), np.float64)
    p.data = new
    assert p.numpy() is new and p.shape == (3, 4) and p.requires_grad
    other = tg.ones(5)
    p.data = other
    assert p.numpy() is other.numpy()
    with pytest.raises(TypeError, match="expected a Tensor or a numpy array, got list"):
        p.data = [1.0, 2.0]


def test_numpy_asarray_of_a_tensor_shares_its_array():
    t = tg.tensor([1.0, 2.0])
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t.data, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.array(t, copy=True), [1.0, 2.0])
    assert not np.shares_memory(np.array(t, copy=True), t.numpy())


def test_manual_sgd_through_data_matches_torch_for_three_steps():
    gen = np.random.default_rng(0)
    X, y = gen.standard_normal((8, 3)), gen.standard_normal((8, 1))
    W0, b0 = gen.standard_normal((3, 1)), np.zeros(1)
    results = []
    for lib in (torch, tg):
        w = lib.tensor(W0.copy(), requires_grad=True)
        b = lib.tensor(b0.copy(), requires_grad=True)
        Xt, yt = lib.tensor(X), lib.tensor(y)
        for _ in range(3):
            loss = ((Xt @ w + b - yt) ** 2).mean()
            loss.backward()
            w.data -= 0.1 * w.grad.data
            b.data.add_(b.grad.data, alpha=-0.1)
            w.grad = None
            b.grad = None
        results.append((w.detach().numpy().copy(), b.detach().numpy().copy(), loss.item()))
    for ref, ours in zip(*results):  # noqa: B905
        np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_init_and_optimizers_still_update_parameters_in_place():
    tg.manual_seed(0)
    layer = nn.Linear(3, 2)
    weight = layer.weight.numpy()
    nn.init.normal_(layer.weight)
    with tg.no_grad():
        layer.bias.fill_(0.5)
        layer.weight.data.copy_(tg.ones(2, 3))
    opt = optim.SGD(layer.parameters(), lr=0.1)
    layer(tg.ones(4, 3)).sum().backward()
    opt.step()
    assert layer.weight.numpy() is weight
    np.testing.assert_allclose(weight, 1 - 0.1 * 4)
    np.testing.assert_allclose(layer.bias.numpy(), 0.5 - 0.1 * 4)


# ---------------------------------------------------------------- capture

def test_a_captured_step_refuses_inplace_ops_naming_them():
    w = tg.ones(3, requires_grad=True)

    def step(x):
        h = x * w
        h.add_(1)
        return h.sum()

    with pytest.raises(tg.CaptureError, match=r"add_ \(an in-place op\) inside a captured"):
        tg.capture(step)(np.ones(3))


def test_a_captured_step_with_tensor_ops_on_data_replays_equal_to_eager():
    F = nn.functional
    model = nn.Linear(3, 1).double()

    def step(X, t):
        return F.mse_loss(model(X / X.data.max()), t)

    captured = tg.capture(step)
    gen = np.random.default_rng(0)
    for scale in (1.0, 2.0, 5.0):  # a frozen max would differ from the second batch on
        X, t = gen.standard_normal((4, 3)) * scale, gen.standard_normal((4, 1))
        eager = step(tg.tensor(X), tg.tensor(t)).item()
        assert captured(X, t).item() == eager


def test_exp_then_add_in_place_gives_the_true_gradient_where_torch_raises():
    # NOTE: a deliberate difference (README): the recorded Exp saved its own output array,
    # which the later add_ does not touch, so the gradient is exact
    x = torch.tensor([0.1, 0.2], requires_grad=True)
    y = x * 1
    y.exp_()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    x = tg.tensor([0.1, 0.2], requires_grad=True)
    y = x * 1
    y.exp_()
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.1, 0.2]), rtol=1e-6)

"""The checks a replay leaves out, each with the planted case that would break if leaving it out
were wrong. A replay's first run keeps every check of the generic program (a kernel's result
type, a gradient's shape, None-ness and dtype) and notes which ones acted; the library's
kernels give the same result types, shapes and dtypes for the same input shapes, dtypes and
constants, so later replays keep only the checks that acted. A user's Function promises no such
thing: its results are checked at every replay."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim

F = nn.functional


def _steps(loss_fn, params_eager, params_captured, batches, optimizer=None):
    """Run loss_fn eagerly and captured on the same batches; assert every loss, gradient and
    parameter is the same bits (and dtype) at every step."""
    opts = None
    if optimizer is not None:
        opts = optimizer(params_eager), optimizer(params_captured)
    step = tg.capture(lambda *xs: loss_fn(params_captured, *xs),
                      optimizer=None if opts is None else opts[1])
    for k, batch in enumerate(batches):
        for p in params_eager:
            p.grad = None
        eager = loss_fn(params_eager, *(tg.tensor(b) for b in batch))
        eager.backward()
        if opts is not None:
            opts[0].step()
        captured = step(*batch)
        assert captured.item() == eager.item(), f"step {k}"
        for a, b in zip(params_eager, params_captured, strict=True):
            assert (a.grad is None) == (b.grad is None), f"step {k}"
            if a.grad is not None:
                assert b.grad.dtype == a.grad.dtype, f"step {k}"
                np.testing.assert_array_equal(b.grad.numpy(), a.grad.numpy(), err_msg=f"step {k}")
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=f"step {k}")
    return step


def _pair(*arrays):
    return [nn.Parameter(a.copy()) for a in arrays], [nn.Parameter(a.copy()) for a in arrays]


def _batches(shape, n=5, seed=0, dtype=np.float32):
    gen = np.random.default_rng(seed)
    return [(gen.standard_normal(shape).astype(dtype),) for _ in range(n)]


class _Float64Grads(tg.Function):
    """x * w whose backward answers in float64 (slightly off float32's grid)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        return ((g * w).astype(np.float64) * (1 + 2.0 ** -30),
                (g * x).astype(np.float64) * (1 + 2.0 ** -30))


def test_a_float32_leaf_sums_float64_contributions_as_the_eager_step_does():
    # eager casts each contribution to the leaf's dtype before adding it; summing in float64
    # and casting once rounds differently
    w = np.linspace(0.1, 0.9, 64, dtype=np.float32)
    eager, captured = _pair(w)
    _steps(lambda ps, X: (_Float64Grads.apply(X, ps[0]) + 3 * _Float64Grads.apply(X, ps[0])).sum(),
           eager, captured, _batches(64))


def test_a_float64_gradient_of_a_float32_leaf_is_cast_at_every_replay():
    eager, captured = _pair(np.linspace(0.1, 0.9, 8, dtype=np.float32))
    _steps(lambda ps, X: _Float64Grads.apply(X, ps[0]).sum(), eager, captured, _batches(8),
           optimizer=lambda ps: optim.SGD(ps, lr=0.1))
    assert captured[0].grad.dtype == np.float32


class _Moody(tg.Function):
    """A user's op whose results change form with the values: a numpy scalar or a 0-d array,
    w's gradient exact, broadcastable or in float64."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        y = (x * w).sum()
        return y if x[0] > 0 else np.asarray(y)  # a numpy scalar, or a 0-d array

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        if x[1] > 0:
            return None, g * x  # no gradient for x (it needs none): w's is exact
        if x[2] > 0:
            return None, (g * x)[None, :]  # broadcastable: (1, n) for w's (n,)
        return None, (g * x).astype(np.float64) * (1 + 2.0 ** -30)


def test_a_users_function_is_checked_at_every_replay():
    w = np.linspace(-1, 1, 6, dtype=np.float32)
    eager, captured = _pair(w)
    gen = np.random.default_rng(1)
    batches = [(gen.standard_normal(6).astype(np.float32),) for _ in range(12)]
    step = _steps(lambda ps, X: _Moody.apply(X, ps[0]) * 2.0, eager, captured, batches,
                  optimizer=lambda ps: optim.SGD(ps, lr=0.1))
    assert "fix(" in step.source and "asarray(o0)" in step.source


def test_a_library_kernel_whose_gradient_needs_reducing_keeps_its_fix():
    # Add hands back its incoming gradient, broadcast: the bias's (3,) needs reducing at
    # every replay, so that check stays in the program
    eager, captured = _pair(np.ones((4, 3), np.float32), np.zeros(3, np.float32))
    step = _steps(lambda ps, X: ((X @ ps[0] + ps[1]) ** 2).mean(), eager, captured,
                  _batches((5, 4)), optimizer=lambda ps: optim.SGD(ps, lr=0.1))
    assert "fix(" in step.source


def test_the_replay_of_a_plain_mlp_checks_no_gradient():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = tg.capture(lambda X, y: F.cross_entropy(model(X), y), optimizer=opt)
    X, y = np.ones((6, 4), np.float32), np.array([0, 1, 2, 0, 1, 2])
    step(X, y)
    assert "fix(" in step.source  # the first replay's program checks everything
    step(X, y)
    step(X, y)
    backward = step.source.split("# backward")[1]
    assert "fix(" not in backward and "is not None" not in backward
    assert "OBS" not in step.source


@pytest.mark.parametrize("name, loss, make_batches", [
    # each kernel branches on the values; later batches take the other branch
    ("pow with a zero exponent", lambda ps, X: (ps[0] ** X).sum(),
     lambda: [(np.full(3, v, np.float32),) for v in (1.5, 0.0, 2.0, 0.0, 1.0)]),
    ("prod with zeros", lambda ps, X: (ps[0] * X).prod(),
     lambda: [(np.array(v, np.float32),) for v in
              ([1, 2, 3], [0, 2, 3], [0, 0, 3], [1, 1, 1], [2, 0, 1])]),
    ("norm with a zero row", lambda ps, X: (ps[0] * X).norm(),
     lambda: [(np.array(v, np.float32),) for v in ([1, 2, 3], [0, 0, 0], [1, 0, 2])]),
])
def test_a_library_kernel_that_branches_on_values_replays_both_branches(name, loss,
                                                                        make_batches):
    eager, captured = _pair(np.array([0.5, 1.5, 2.0], np.float32))
    _steps(loss, eager, captured, make_batches())


def test_cross_entropy_with_ignored_labels_appearing_after_the_trace():
    tg.manual_seed(1)
    w = tg.randn(4, 3).numpy()
    eager, captured = _pair(w)
    gen = np.random.default_rng(2)
    labels = [np.array([0, 1, 2, 1]), np.array([0, -100, 2, -100]), np.array([1, 1, 0, 2])]
    batches = [(gen.standard_normal((4, 4)).astype(np.float32), y) for y in labels]
    _steps(lambda ps, X, y: F.cross_entropy(X @ ps[0], y), eager, captured, batches)


def test_an_lr_of_numpy_float64_keeps_its_float64_product():
    # np.float64 is a strong operand: lr * g is float64, then cast into w (two roundings); a
    # replay must not turn it into a float32 operand
    w = np.linspace(0.1, 0.9, 16, dtype=np.float32)
    eager, captured = _pair(w)

    def sgd(ps):
        opt = optim.SGD(ps, lr=0.1)
        opt.param_groups[0]["lr"] = np.float64(1 / 3)
        return opt

    _steps(lambda ps, X: (ps[0] * X).sum(), eager, captured, _batches(16), optimizer=sgd)


class _NoGradForW(tg.Function):
    """x * w whose backward says None for w, though w requires grad (a planted library
    kernel: the module name makes the program trust its results after the first replay)."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(w)
        return x * w

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * w, None


_NoGradForW.__module__ = "tinygrad_c2.planted"


def test_a_gradient_none_at_every_replay_leaves_the_grad_none():
    eager, captured = _pair(np.ones(3, np.float32), np.full(3, 2.0, np.float32))
    step = _steps(lambda ps, X: _NoGradForW.apply(X * ps[1], ps[0]).sum(), eager, captured,
                  _batches(3), optimizer=lambda ps: optim.SGD(ps, lr=0.1))
    assert captured[0].grad is None and captured[1].grad is not None
    assert "is None" in step.source


def test_a_library_kernels_float64_gradient_is_cast_for_a_float32_leaf_at_every_replay():
    # w (float32) times a float64 input: Mul's gradient for w is float64, cast at each replay
    eager, captured = _pair(np.linspace(0.1, 0.9, 8, dtype=np.float32))
    step = _steps(lambda ps, X: (ps[0] * X).sum(), eager, captured,
                  _batches(8, dtype=np.float64), optimizer=lambda ps: optim.SGD(ps, lr=0.1))
    assert captured[0].grad.dtype == np.float32 and "astype" in step.source


def test_a_kernel_that_returns_a_numpy_scalar_still_gives_an_array_at_every_replay():
    # BCE-with-logits' forward returns a numpy scalar (a mean over all): the check that makes
    # it an array acted at the first replay, so it stays
    tg.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 1))
    step = tg.capture(lambda X, y: F.binary_cross_entropy_with_logits(model(X)[:, 0], y))
    X, y = np.ones((4, 3), np.float32), np.array([0, 1, 1, 0], np.float32)
    eager = F.binary_cross_entropy_with_logits(model(tg.tensor(X))[:, 0], tg.tensor(y))
    for _ in range(3):
        loss = step(X, y)
        assert type(loss._data) is type(eager._data) is np.ndarray
    assert "asarray" in step.source


def test_the_last_program_checks_the_inputs_it_is_handed():
    # a call goes to the program that ran last, on the inputs as given (Tensors or arrays): a
    # new shape, dtype or number of inputs finds (or traces) the program for them
    w = nn.Parameter(np.array([0.5, -1.0, 2.0], np.float32))
    step = tg.capture(lambda X: (X * w).sum())
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    values = [step(x).item() for x in (X, tg.tensor(X), X)]
    assert len(values) == 3 and len(set(values)) == 1
    assert [len(p) for p in step._programs.values()] == [1]  # one trace, for all three
    wide = step(X.astype(np.float64))  # float64: a program of its own, as eager
    assert wide.dtype == np.float64 and len(step._programs) == 2
    assert step(X[:2]).item() == (tg.tensor(X[:2]) * w).sum().item()
    assert step(X).item() == values[0] and len(step._programs) == 3
    with pytest.raises(TypeError):
        step(X, X)  # the step takes one input: its function refuses two, as it would eagerly


def _linear_loss(params, X):
    """Two F.linear nodes (not a fused run): Linear ops in the program."""
    w1, b1, w2 = params
    return F.linear(F.linear(X, w1, b1).tanh(), w2).sum()


def test_later_replays_run_big_linear_layers_without_their_checks_bit_for_bit():
    gen = np.random.default_rng(1)
    # 64 x 300 x 40 and 64 x 40 x 2 multiply-adds: above _DOT_MACS, np.matmul's products
    arrays = [gen.standard_normal(s).astype(np.float32) for s in ((300, 40), (300,), (2, 300))]
    eager, captured = _pair(*arrays)
    batches = _batches((64, 40), n=4)
    # a batch in Fortran order at a later replay: matmul takes any layout, as _affine would
    batches[3] = (np.asfortranarray(batches[3][0]),)
    step = _steps(_linear_loss, eager, captured, batches, lambda ps: optim.SGD(ps, lr=0.1))
    assert step.source.count("affine_replay(") == 2


def test_small_linear_layers_keep_their_dot_or_matmul_choice_at_every_replay():
    gen = np.random.default_rng(2)
    arrays = [gen.standard_normal(s).astype(np.float32) for s in ((5, 3), (5,), (2, 5))]
    eager, captured = _pair(*arrays)
    # np.dot for C-contiguous operands, np.matmul for a strided batch (other roundings maybe):
    # the choice reads the layout, which no guard fixes, so the program keeps Linear.forward
    batches = _batches((8, 3), n=4)
    batches[2] = (np.asfortranarray(batches[2][0]),)
    batches[3] = (batches[3][0][::-1],)
    step = _steps(_linear_loss, eager, captured, batches, lambda ps: optim.SGD(ps, lr=0.1))
    assert "affine_replay(" not in step.source


def test_an_unchecked_linear_layer_retraces_for_a_weight_of_another_shape():
    gen = np.random.default_rng(3)
    w1 = nn.Parameter(gen.standard_normal((300, 40)).astype(np.float32))
    w2 = nn.Parameter(gen.standard_normal((2, 300)).astype(np.float32))
    step = tg.capture(lambda X: F.linear(F.linear(X, w1).relu(), w2).sum())
    X = gen.standard_normal((64, 40)).astype(np.float32)
    for _ in range(3):
        step(X)
    assert "affine_replay(" in step.source
    w2.data = gen.standard_normal((2, 299)).astype(np.float32)  # no longer fits: eager's error
    with pytest.raises(RuntimeError, match="linear: input of shape"):
        step(X)
    w1.data = w1.numpy().astype(np.float64)  # a float32 batch into float64 weights: refused
    w2.data = gen.standard_normal((2, 300))
    with pytest.raises(RuntimeError, match="the input is float32 but the weight is float64"):
        step(X)

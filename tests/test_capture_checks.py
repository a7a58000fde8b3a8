"""The checks a replay leaves out, each with the planted case that would break if leaving it out
were wrong. A replay's first run keeps every check of the generic program (a kernel's result
type, a gradient's shape, None-ness and dtype) and notes which ones acted; the library's
kernels give the same result types, shapes and dtypes for the same input shapes, dtypes and
constants, so later replays keep only the checks that acted. A user's Function promises no such
thing: its results are checked at every replay."""

import numpy as np

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

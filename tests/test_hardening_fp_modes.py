"""Floating-point modes: under np.errstate(all="raise") (or np.seterr(under="raise")) the ops
whose correct result underflows to 0 (saturated sigmoid, softmax of spread logits, exp(-1000),
Adam's squared 1e-30 gradient, any backward pass) neither raise nor warn, as PyTorch never does,
and give PyTorch's values; an invalid value or an overflow from finite input still raises,
naming the op."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import optim

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

F = tg.nn.functional

# Logits that make exp() underflow in both dtypes: +-1e4 (softmax rows spread by 2e4), and for
# sigmoid values whose result is subnormal in float64 (-709.5) or float32 (-88.5).
Z = [[1e4, 0.0, -1e4], [-709.5, -88.5, 3.0]]
TARGET = [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
LABELS = [2, 0]

# name -> (ours, torch's, the logits to feed); each maps (z, lib) to one tensor
OPS: dict[str, tuple[Callable, Callable, list]] = {
    "sigmoid": (lambda z, T: F.sigmoid(z), lambda z, T: torch.sigmoid(z), Z),
    "softmax": (lambda z, T: F.softmax(z, 1), lambda z, T: TF.softmax(z, 1), Z),
    "softmax_dim0": (lambda z, T: F.softmax(z, 0), lambda z, T: TF.softmax(z, 0), Z),
    "log_softmax": (lambda z, T: F.log_softmax(z, 1), lambda z, T: TF.log_softmax(z, 1), Z),
    "logsumexp": (lambda z, T: z.logsumexp(1), lambda z, T: z.logsumexp(1), Z),
    "cross_entropy": (lambda z, T: F.cross_entropy(z, tg.tensor(LABELS)),
                      lambda z, T: TF.cross_entropy(z, torch.tensor(LABELS)), Z),
    "cross_entropy_probs": (lambda z, T: F.cross_entropy(z, T(TARGET) / 2, label_smoothing=0.1),
                            lambda z, T: TF.cross_entropy(z, T(TARGET) / 2, label_smoothing=0.1),
                            Z),
    "bce_with_logits": (lambda z, T: F.binary_cross_entropy_with_logits(z, T(TARGET)),
                        lambda z, T: TF.binary_cross_entropy_with_logits(z, T(TARGET)), Z),
    "bce_with_logits_pos_weight": (
        lambda z, T: F.binary_cross_entropy_with_logits(z, T(TARGET), pos_weight=T([2.0] * 3)),
        lambda z, T: TF.binary_cross_entropy_with_logits(z, T(TARGET), pos_weight=T([2.0] * 3)),
        Z),
    "bce_on_sigmoid": (lambda z, T: F.binary_cross_entropy(z.sigmoid(), T(TARGET)),
                       lambda z, T: TF.binary_cross_entropy(z.sigmoid(), T(TARGET)),
                       [[30.0, 0.0, -30.0], [-200.0, 5.0, 1.0]]),
    "exp": (lambda z, T: z.exp(), lambda z, T: z.exp(), [[-1000.0, 0.0, 1.0], [-200.0, -90, 2]]),
    # tanh's backward squares its tiny output: (1e-25)^2 underflows in float32
    "tanh": (lambda z, T: z.tanh(), lambda z, T: z.tanh(), [[1e-25, -1e-30, 3.0], [-2, 1e4, 0]]),
}


def _run(fn: Callable, z, lib: Callable, cot: np.ndarray) -> tuple:
    # NOTE: backward(cot), not (y * cot).sum(): that Mul of a subnormal y is the user's own
    # arithmetic, which follows the numpy mode the user chose.
    y = fn(z, lib)
    y.backward(lib(cot))
    return y, z.grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", OPS)
def test_underflow_in_forward_and_backward_neither_raises_nor_warns_and_matches_torch(name, dtype):
    ours, theirs, logits = OPS[name]
    z = np.array(logits, dtype)
    cot = np.random.default_rng(0).uniform(0.5, 1.5, size=np.shape(ours(tg.tensor(z), tg.tensor)))
    cot = cot.astype(dtype)

    def T(v):  # noqa: N802
        return torch.tensor(np.asarray(v, dtype))

    with np.errstate(all="raise"):
        y, grad = _run(ours, tg.tensor(z, requires_grad=True), lambda v: tg.tensor(
            np.asarray(v, dtype)), cot)
    ty, tgrad = _run(theirs, torch.tensor(z, requires_grad=True), T, cot)
    tiny = 16 * np.finfo(dtype).tiny  # subnormal results may round differently
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=tiny)
    np.testing.assert_allclose(grad.numpy(), tgrad.numpy(), rtol=1e-5, atol=tiny)


def test_the_warn_and_seterr_modes_stay_quiet_too():
    z = tg.tensor(np.array(Z, np.float32), requires_grad=True)
    old = np.seterr(under="raise")
    try:
        F.cross_entropy(z, tg.tensor(LABELS)).backward()
        F.sigmoid(z).sum().backward()
    finally:
        np.seterr(**old)
    with np.errstate(all="warn"):  # pytest turns any warning into an error
        F.log_softmax(z, 1).sum().backward()
        z.logsumexp(1).sum().backward()


# name -> (ours, torch's) optimizer class, with the hyperparameters under test
OPTIMIZERS = {
    "Adam": (lambda p: optim.Adam(p, lr=0.1), lambda p: torch.optim.Adam(p, lr=0.1)),
    "AdamW": (lambda p: optim.AdamW(p, lr=0.1), lambda p: torch.optim.AdamW(p, lr=0.1)),
    "Adam_amsgrad": (lambda p: optim.Adam(p, lr=0.1, amsgrad=True),
                     lambda p: torch.optim.Adam(p, lr=0.1, amsgrad=True)),
    "RMSprop": (lambda p: optim.RMSprop(p, lr=0.01), lambda p: torch.optim.RMSprop(p, lr=0.01)),
    "RMSprop_centered_momentum": (
        lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9),
        lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.9)),
    "SGD_momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
                     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4)),
}


@pytest.mark.parametrize("dtype, g", [(np.float32, 1e-30), (np.float64, 1e-170)])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_an_optimizer_step_whose_squared_gradient_underflows_matches_torch(name, dtype, g):
    ours, theirs = OPTIMIZERS[name]
    w0 = np.array([1.0, -2.0, 0.5], dtype)
    grads = np.array([g, -g, 3 * g], dtype)
    p, tp = tg.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = ours([p]), theirs([tp])
    for _ in range(3):
        p.grad, tp.grad = tg.tensor(grads.copy()), torch.tensor(grads.copy())
        with np.errstate(all="raise"):
            opt.step()
        topt.step()
    np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype, g", [(np.float32, 1e-38), (np.float64, 1e-307)])
def test_a_plain_sgd_step_whose_update_underflows_matches_torch(dtype, g):
    # lr * g is subnormal: plain SGD runs without an errstate and retries quietly
    w0 = np.array([1.0, -2.0, g], dtype)
    grads = np.array([g, -g, 3.0], dtype)
    p, tp = tg.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.01), torch.optim.SGD([tp], lr=0.01)
    for _ in range(2):
        p.grad, tp.grad = tg.tensor(grads.copy()), torch.tensor(grads.copy())
        with np.errstate(all="raise"):
            opt.step()
        topt.step()
    np.testing.assert_array_equal(p.numpy(), tp.detach().numpy())


def test_a_plain_sgd_step_still_raises_on_an_overflow_and_updates_once():
    p = tg.tensor(np.array([1.0, -3e38], np.float32), requires_grad=True)
    p.grad = tg.tensor(np.array([1.0, 1e38], np.float32))
    with np.errstate(all="raise"), pytest.raises(FloatingPointError, match="overflow"):
        optim.SGD([p], lr=1.0).step()
    np.testing.assert_array_equal(p.numpy(), np.array([0.0, -np.inf], np.float32))


def test_a_training_step_with_saturated_logits_runs_under_errstate_raise():
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(4, 8), tg.nn.Tanh(), tg.nn.Linear(8, 3))
    with tg.no_grad():
        model[2].weight.data *= 1e4  # logits of order 1e4: softmax saturates
    opt = optim.Adam(model.parameters(), lr=1e-3)
    X = tg.tensor(np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32))
    with np.errstate(all="raise"):
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(X), tg.tensor(np.arange(16) % 3))
            loss.backward()
            opt.step()
    assert np.isfinite(loss.item())


# ------------------------------------------------------------------ real bugs still raise


@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.tensor([-1.0]).log(), r"^Log: invalid value encountered in log \(input shapes: "
                                      r"\(1,\)\)"),
    (lambda: tg.tensor([-1.0, 4.0]).sqrt(), r"^Sqrt: invalid value encountered in sqrt"),
    (lambda: tg.tensor([0.0]) / tg.tensor([0.0]), r"^Div: invalid value encountered in divide"),
    (lambda: tg.tensor([1.0]) / tg.tensor([0.0]), r"^Div: divide by zero encountered"),
    (lambda: tg.tensor([100.0]).exp(), r"^Exp: overflow encountered in exp"),
    (lambda: tg.tensor([1e30]) * tg.tensor([1e30]), r"^Mul: overflow encountered in multiply"),
])
def test_an_invalid_value_or_overflow_from_finite_input_still_raises_naming_the_op(call, pattern):
    with np.errstate(all="raise"), pytest.raises(FloatingPointError, match=pattern):
        call()


def test_a_backward_that_divides_by_zero_still_raises_naming_the_op():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt()  # forward sqrt(0) = 0 is fine; backward g / (2 * 0) is not
    with np.errstate(all="raise"), pytest.raises(
            FloatingPointError, match=r"^Sqrt backward: divide by zero encountered"):
        y.sum().backward()


def test_raising_modes_leave_default_results_unchanged():
    z = tg.tensor(np.array(Z, np.float64), requires_grad=True)
    with np.errstate(all="raise"):
        a = F.softmax(z, 1).numpy().copy()
    np.testing.assert_array_equal(a, F.softmax(z, 1).numpy())

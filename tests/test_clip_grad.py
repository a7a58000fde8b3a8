"""nn.utils.clip_grad_norm_ and clip_grad_value_ against PyTorch: the returned norm, the scaled
gradients, the inf norm, non-finite norms, parameters without gradients."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")


def _params(grads: list[np.ndarray | None]):
    """Ours and torch's parameters holding these gradients (None: no gradient)."""
    ours, theirs = [], []
    for g in grads:
        shape = (2,) if g is None else g.shape
        p = tg.tensor(np.zeros(shape, dtype=np.float64), requires_grad=True)
        tp = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        if g is not None:
            p.grad, tp.grad = tg.tensor(g.copy()), torch.tensor(g.copy())
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


def _grads(n: int = 3, scale: float = 1.0) -> list[np.ndarray]:
    gen = np.random.default_rng(0)
    return [gen.standard_normal(s) * scale for s in [(3, 4), (5,), (2, 2, 2)][:n]]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params([*_grads(), None])  # a parameter without a gradient is skipped
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-13)
    for p, tp in zip(ours[:3], theirs[:3], strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-13)
    assert ours[3].grad is None


def test_clip_grad_norm_scales_by_max_norm_over_norm_plus_1e_6_clamped_to_one():
    p = tg.tensor([0.0, 0.0], requires_grad=True)
    p.grad = tg.tensor(np.array([3.0, 4.0]))
    assert nn.utils.clip_grad_norm_(p, 2.0).item() == 5.0  # a single tensor is accepted too
    np.testing.assert_array_equal(p.grad.numpy(), np.array([3.0, 4.0]) * (2.0 / (5.0 + 1e-6)))
    nn.utils.clip_grad_norm_([p], 10.0)  # below max_norm: multiplied by exactly 1
    np.testing.assert_array_equal(p.grad.numpy(), np.array([3.0, 4.0]) * (2.0 / (5.0 + 1e-6)))


def test_clip_grad_norm_in_float32_returns_a_float32_norm_like_torch():
    g = _grads(2)
    ours = [tg.tensor(np.zeros(x.shape, np.float32), requires_grad=True) for x in g]
    theirs = [torch.zeros(x.shape, requires_grad=True) for x in g]
    for p, tp, x in zip(ours, theirs, g, strict=True):
        p.grad, tp.grad = tg.tensor(x.astype(np.float32)), torch.tensor(x.astype(np.float32))
    total, ttotal = nn.utils.clip_grad_norm_(ours, 0.5), torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert total.dtype == np.float32
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-6)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-6)


def test_no_gradients_give_a_zero_norm():
    p = tg.tensor([1.0], requires_grad=True)
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nonfinite_norm_raises_when_asked_and_scales_like_torch_otherwise(bad):
    grads = _grads(2)
    grads[1][0] = bad
    ours, theirs = _params(grads)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from "
                                           "`parameters` is non-finite"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with np.errstate(invalid="ignore"):  # inf * 0 is nan, as in torch
        total = nn.utils.clip_grad_norm_(ours, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_array_equal(total.numpy(), ttotal.numpy())
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    ours, theirs = _params(_grads())
    total = nn.utils.get_total_norm([p.grad for p in ours], 3.0)
    ttotal = torch.nn.utils.get_total_norm([p.grad for p in theirs], 3.0)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-13)
    nn.utils.clip_grads_with_norm_(ours, 0.3, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.3, ttotal)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("clip_value", [0.5, 2])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _params([*_grads(scale=2.0), None])
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, tp in zip(ours[:3], theirs[:3], strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), tp.grad.numpy())
    assert np.abs(ours[0].grad.numpy()).max() == clip_value


def test_clipping_a_model_after_backward_bounds_the_update():
    tg.manual_seed(0)
    model = nn.LSTM(3, 4)
    out, _ = model(tg.randn(5, 2, 3) * 100)
    (out.sum() * 1e3).backward()
    before = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    after = nn.utils.get_total_norm([p.grad for p in model.parameters()])
    assert before.item() > 1.0 and abs(after.item() - 1.0) < 1e-5


def test_a_non_tensor_parameter_is_refused():
    with pytest.raises(TypeError, match="expected Tensors, got list at position 0"):
        nn.utils.clip_grad_norm_([[1.0]], 1.0)

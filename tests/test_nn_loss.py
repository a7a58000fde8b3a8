"""Loss modules against PyTorch in float64: values and input gradients for every reduction."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def compare(torch, name, kwargs, logits, target, torch_kwargs=None, target_grad=False):
    """Run our loss module and torch's on the same arrays; compare value and gradient(s)."""
    x = tg.Tensor(logits.copy(), requires_grad=True)
    t = tg.Tensor(target.copy(), requires_grad=target_grad)
    loss = getattr(nn, name)(**kwargs)(x, t)
    x_t = torch.tensor(logits, requires_grad=True)
    t_t = torch.tensor(target, requires_grad=target_grad)
    loss_t = getattr(torch.nn, name)(**(torch_kwargs or kwargs))(x_t, t_t)
    g = np.random.default_rng(9).standard_normal(tuple(loss_t.shape))
    loss.backward(tg.Tensor(g))
    loss_t.backward(torch.tensor(g))
    assert loss.shape == tuple(loss_t.shape)
    np.testing.assert_allclose(loss.data, loss_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.data, x_t.grad.numpy(), rtol=1e-10, atol=1e-14)
    if target_grad:
        np.testing.assert_allclose(t.grad.data, t_t.grad.numpy(), rtol=1e-10, atol=1e-14)


RNG = np.random.default_rng(3)
LOGITS = RNG.standard_normal((6, 4)) * 2
LABELS = np.array([0, 3, 1, 1, 2, 0])
PROBS = RNG.dirichlet(np.ones(4), size=6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_loss_with_labels_matches_torch(torch, reduction, smoothing):
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    compare(torch, "CrossEntropyLoss", kwargs, LOGITS, LABELS)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_loss_with_class_probabilities_matches_torch(torch, reduction, smoothing):
    kwargs = {"reduction": reduction, "label_smoothing": smoothing}
    compare(torch, "CrossEntropyLoss", kwargs, LOGITS, PROBS)


def test_cross_entropy_loss_with_one_hot_rows_equals_integer_labels():
    one_hot = np.eye(4)[LABELS]
    a = nn.CrossEntropyLoss()(tg.Tensor(LOGITS), tg.Tensor(LABELS)).item()
    b = nn.CrossEntropyLoss()(tg.Tensor(LOGITS), tg.Tensor(one_hot)).item()
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_after_log_softmax_matches_torch(torch, reduction):
    log_probs = LOGITS - np.log(np.exp(LOGITS).sum(axis=1, keepdims=True))
    compare(torch, "NLLLoss", {"reduction": reduction}, log_probs, LABELS)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_loss_matches_torch_including_the_target_gradient(torch, reduction):
    probs = 1 / (1 + np.exp(-LOGITS))
    targets = (RNG.random(LOGITS.shape) < 0.5).astype(np.float64)
    compare(torch, "BCELoss", {"reduction": reduction}, probs, targets, target_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_loss_matches_torch(torch, reduction):
    targets = RNG.random(LOGITS.shape)
    compare(torch, "BCEWithLogitsLoss", {"reduction": reduction}, LOGITS * 20, targets,
            target_grad=True)


def test_bce_with_logits_loss_pos_weight_matches_torch(torch):
    targets = (RNG.random(LOGITS.shape) < 0.5).astype(np.float64)
    pos_weight = np.array([1.0, 2.0, 0.5, 3.0])
    compare(torch, "BCEWithLogitsLoss", {"pos_weight": tg.Tensor(pos_weight)}, LOGITS, targets,
            torch_kwargs={"pos_weight": torch.tensor(pos_weight)})


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(torch, name, reduction):
    targets = RNG.standard_normal(LOGITS.shape)
    compare(torch, name, {"reduction": reduction}, LOGITS, targets, target_grad=True)


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss", "BCELoss",
                                  "BCEWithLogitsLoss", "MSELoss", "L1Loss"])
def test_loss_modules_reject_an_unknown_reduction(name):
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of"):
        getattr(nn, name)(reduction="avg")


def test_cross_entropy_loss_rejects_label_smoothing_outside_zero_one():
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


def test_loss_modules_print_like_torch():
    assert repr(nn.CrossEntropyLoss(reduction="sum")) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss()) == "MSELoss()"


# Logits across both tails: saturated (+-1000, +-40), confident (+-17) and near 0 (1e-14).
TAIL_LOGITS = np.array([[1000.0, -1000.0, 40.0, -40.0], [17.0, -17.0, 1e-14, -0.5]])
TAIL_TARGETS = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.3]])


def test_a_kept_bce_with_logits_loss_keeps_the_sigmoid_of_its_logits_and_not_the_logits(torch):
    # issue 18: the node keeps one logit-sized array, sigmoid(z) (what backward reads), as
    # PyTorch's node keeps one (the logits); z itself only for the target's gradient
    z = tg.tensor(TAIL_LOGITS, requires_grad=True)
    loss = nn.functional.binary_cross_entropy_with_logits(z * 1.0, tg.tensor(TAIL_TARGETS))
    kept = [a for a in loss.grad_fn.saved_tensors
            if isinstance(a, np.ndarray) and a.shape == z.shape]
    assert len(kept) == 2 and kept[1] is loss.grad_fn.parents[1]._data  # sigmoid(z), the target
    # e^(min(z, 0) - t): the exponent's rounding, |z| units in the last place at most
    np.testing.assert_allclose(kept[0], torch.sigmoid(torch.tensor(TAIL_LOGITS)).numpy(),
                               rtol=1e-14, atol=0)
    loss_y = nn.functional.binary_cross_entropy_with_logits(
        z * 1.0, tg.tensor(TAIL_TARGETS, requires_grad=True))
    assert any(a is not None and np.array_equal(a, TAIL_LOGITS)
               for a in loss_y.grad_fn.saved_tensors)  # dloss/dy = -z needs z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradients_of_gradients_through_a_computed_logit_match_torch(
        torch, reduction, dtype):
    # the node keeps no logits: sigmoid(z) joins z's graph through its saved value alone,
    # so the second derivative s (1 - s) is exact in both tails, 0 where s is 0 or 1
    w0 = np.array([1.0, 1.0, 1.0, 1.0], dtype)
    cot = np.random.default_rng(4).uniform(0.5, 1.5, TAIL_LOGITS.shape)

    def run(lib, tensor, dt):
        w = tensor(w0.astype(dt), requires_grad=True)
        z = tensor(TAIL_LOGITS.astype(dt)) * w  # a computed logit, not a leaf
        loss = lib.nn.functional.binary_cross_entropy_with_logits(
            z, tensor(TAIL_TARGETS.astype(dt)), reduction=reduction)
        seed = tensor(cot.astype(dt) if reduction == "none" else np.array(1.0, dt))
        (g,) = lib.autograd.grad(loss, w, seed, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), w)
        return g.detach().numpy(), h.numpy()

    (g, h) = run(tg, tg.tensor, dtype)
    assert g.dtype == h.dtype == dtype
    # NOTE: against float64 (the maths): in float32 the 17 column's 1 - sigmoid(17) = 4e-8 is
    # below the spacing of floats under 1, so its second derivative has no correct digit (ours
    # keeps sigmoid(17) = 1 - 6e-8, which backward uses too; PyTorch's float32 rounds it to 1)
    tg_g, tg_h = run(torch, torch.tensor, np.float64)
    # (in float64 that difference 1 - s has lost 9 of its 16 digits, in PyTorch's too)
    rtol = 1e-5 if dtype == np.float32 else 1e-8
    cols = [1, 2, 3] if dtype == np.float32 else [0, 1, 2, 3]
    np.testing.assert_allclose(g, tg_g, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(h[cols], tg_h[cols], rtol=rtol, atol=1e-30)


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.uint64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_picks_and_updates_each_rows_label_in_any_layout_and_label_dtype(
        torch, reduction, label_dtype):
    # the plain path finds (i, y_i) by its flat position i C + y_i: logits in Fortran order
    # (a transposed product) and unsigned labels must land on the same entries as PyTorch's
    logits = np.asfortranarray(LOGITS)
    x = tg.Tensor(logits, requires_grad=True)
    loss = nn.functional.cross_entropy(x, tg.Tensor(LABELS.astype(label_dtype)),
                                       reduction=reduction)
    xt = torch.tensor(LOGITS, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(xt, torch.tensor(LABELS), reduction=reduction)
    g = np.random.default_rng(5).standard_normal(tuple(loss_t.shape))
    loss.backward(tg.Tensor(g))
    loss_t.backward(torch.tensor(g))
    np.testing.assert_allclose(loss.numpy(), loss_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-15)

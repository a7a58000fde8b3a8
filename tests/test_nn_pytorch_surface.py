"""issue 14.6: the nn surface PyTorch scripts reach for, each against torch 2.13 in float64 and
float32 (values and gradients): GELU/SiLU/Softplus/ELU/Hardtanh, SmoothL1/Huber/KLDiv,
CrossEntropy/NLL with weight, ignore_index and (N, C, d1, ...) inputs, BCE weights,
ModuleDict/ParameterList/ParameterDict and nn.utils.parameters_to_vector."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn

torch = pytest.importorskip("torch")
F = tg.nn.functional
TF = torch.nn.functional

DTYPES = [np.float64, np.float32]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def _pair(a: np.ndarray) -> tuple:
    return tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(ours, theirs, inputs, dtype, seed=0):
    """Values, then gradients under a random cotangent, of ours against torch's."""
    tol = TOL[dtype]
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), **tol)
    assert ours.dtype == np.dtype(dtype)
    cot = np.random.default_rng(seed).standard_normal(ours.shape).astype(dtype)
    (ours * tg.tensor(cot)).sum().backward()
    (theirs * torch.tensor(cot)).sum().backward()
    for mine, ref in inputs:
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **tol)


# ------------------------------------------------------------------ activations

ACTIVATIONS = {
    "GELU": (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    "GELU_tanh": (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    "SiLU": (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    "Softplus": (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    "Softplus_beta2_threshold3": (lambda: nn.Softplus(2.0, 3.0),
                                  lambda: torch.nn.Softplus(2.0, 3.0)),
    "ELU": (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    "ELU_alpha0.3": (lambda: nn.ELU(0.3), lambda: torch.nn.ELU(0.3)),
    "Hardtanh": (lambda: nn.Hardtanh(), lambda: torch.nn.Hardtanh()),
    "Hardtanh_-2_0.5": (lambda: nn.Hardtanh(-2.0, 0.5), lambda: torch.nn.Hardtanh(-2.0, 0.5)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_modules_match_torch_values_and_gradients(name, dtype):
    ours_cls, theirs_cls = ACTIVATIONS[name]
    x = (np.random.default_rng(1).standard_normal((4, 5)) * 3).astype(dtype)
    x[0, :4] = [-1000.0, -30.0, 30.0, 1000.0]  # both tails: no overflow, no nan
    a, b = _pair(x)
    _check(ours_cls()(a), theirs_cls()(b), [(a, b)], dtype)
    assert repr(ours_cls()) == repr(theirs_cls())


def test_the_function_forms_match_the_modules():
    x = tg.tensor(np.linspace(-3, 3, 13))
    pairs = [(F.gelu(x, approximate="tanh"), nn.GELU("tanh")(x)), (F.silu(x), nn.SiLU()(x)),
             (F.softplus(x, 2.0, 1.0), nn.Softplus(2.0, 1.0)(x)), (F.elu(x, 0.5), nn.ELU(0.5)(x)),
             (F.hardtanh(x, -0.5, 2.0), nn.Hardtanh(-0.5, 2.0)(x))]
    for f, m in pairs:
        np.testing.assert_array_equal(f.numpy(), m.numpy())


def test_hardtanh_has_zero_gradient_at_its_ends_as_torch_unlike_clamp():
    x = np.array([-1.0, 0.0, 1.0, 2.0])
    a, b = _pair(x)
    F.hardtanh(a).sum().backward()
    TF.hardtanh(b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 1.0, 0.0, 0.0])


def test_softplus_threshold_switches_to_the_identity_exactly_as_torch():
    x = np.array([9.9, 10.0, 10.1, -50.0])  # beta * x against threshold 20 at beta = 2
    a, b = _pair(x)
    _check(F.softplus(a, beta=2.0), TF.softplus(b, beta=2.0), [(a, b)], np.float64)
    assert F.softplus(tg.tensor(x), beta=2.0).numpy()[2] == 10.1


def test_elu_gradient_keeps_its_digits_far_in_the_negative_tail():
    # alpha * e^x computed from x, not (y + alpha): y + alpha cancels to a few digits at x = -30
    a, b = _pair(np.array([-30.0, -5.0]))
    F.elu(a).sum().backward()
    TF.elu(b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "elu", "hardtanh", "silu"])
def test_inplace_is_accepted_and_leaves_the_input_untouched(act):
    x = tg.tensor([-2.0, 0.5, 3.0])
    before = x.numpy().copy()
    out = getattr(F, act)(x, inplace=True)
    expected = getattr(TF, act)(torch.tensor(before), inplace=False).numpy()
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(x.numpy(), before)  # documented: never in place
    assert out is not x


def test_inplace_modules_are_accepted_with_torch_repr():
    for ours, theirs in [(nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
                         (nn.ELU(0.5, inplace=True), torch.nn.ELU(0.5, inplace=True)),
                         (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
                         (nn.Hardtanh(inplace=True), torch.nn.Hardtanh(inplace=True))]:
        assert repr(ours) == repr(theirs)
        x = tg.tensor([-1.0, 2.0])
        ours(x)
        assert x.tolist() == [-1.0, 2.0]


def test_activation_errors_name_the_option():
    with pytest.raises(ValueError, match=r"^GELU: approximate must be 'none' or 'tanh', got 'x'"):
        nn.GELU("x")
    with pytest.raises(ValueError, match=r"^gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(tg.ones(2), approximate="erf")
    with pytest.raises(ValueError, match=r"^Hardtanh: max_val must be >= min_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match=r"^hardtanh: max_val must be >= min_val"):
        F.hardtanh(tg.ones(2), 2.0, 1.0)
    with pytest.raises(ValueError, match=r"^softplus: beta must be nonzero"):
        F.softplus(tg.ones(2), beta=0)
    with pytest.raises(TypeError, match=r"^ELU: alpha must be a number, got 'a'"):
        nn.ELU("a")


def test_no_tensor_methods_where_torch_has_none():
    # torch.Tensor has relu/sigmoid/tanh but no gelu/silu/softplus/elu/hardtanh methods
    for name in ["gelu", "silu", "softplus", "elu", "hardtanh"]:
        assert not hasattr(torch.Tensor, name)
        assert not hasattr(tg.Tensor, name)


# ------------------------------------------------------------------ regression losses

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.3, 0.0])
def test_smooth_l1_loss_matches_torch(beta, reduction, dtype):
    gen = np.random.default_rng(2)
    a, ta = _pair(gen.standard_normal((3, 4, 2)).astype(dtype))
    b, tb = _pair(gen.standard_normal((3, 4, 2)).astype(dtype))
    ours = nn.SmoothL1Loss(reduction=reduction, beta=beta)(a, b)
    _check(ours, torch.nn.SmoothL1Loss(reduction=reduction, beta=beta)(ta, tb),
           [(a, ta), (b, tb)], dtype)
    np.testing.assert_array_equal(
        ours.numpy(), F.smooth_l1_loss(a, b, reduction=reduction, beta=beta).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.4, 2.5])
def test_huber_loss_matches_torch(delta, reduction, dtype):
    gen = np.random.default_rng(3)
    a, ta = _pair(gen.standard_normal((5, 3)).astype(dtype) * 2)
    b, tb = _pair(gen.standard_normal((5, 3)).astype(dtype))
    _check(nn.HuberLoss(reduction, delta)(a, b), torch.nn.HuberLoss(reduction, delta)(ta, tb),
           [(a, ta), (b, tb)], dtype)


def test_huber_loss_weight_matches_torch():
    gen = np.random.default_rng(4)
    a, ta = _pair(gen.standard_normal((5, 3)))
    w = gen.uniform(0.1, 2.0, (5, 3))  # torch requires the input's shape
    _check(F.huber_loss(a, tg.zeros(5, 3, dtype=tg.float64), delta=0.5, weight=w),
           TF.huber_loss(ta, torch.zeros(5, 3, dtype=torch.float64), delta=0.5,
                         weight=torch.tensor(w)), [(a, ta)], np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch_for_input_and_target_gradients(reduction, log_target, dtype):
    gen = np.random.default_rng(5)
    logq = np.log(gen.dirichlet(np.ones(4), size=3)).astype(dtype)
    p = gen.dirichlet(np.ones(4), size=3).astype(dtype)
    p[0, 0] = 0.0  # 0 log 0 = 0 in the loss
    target = np.log(p + 0.1).astype(dtype) if log_target else p
    x, tx = _pair(logq)
    t, tt = _pair(target)
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)(x, t)
    theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(tx, tt)
    _check(ours, theirs, [(x, tx), (t, tt)], dtype)
    if not log_target:  # d(t log t)/dt at t = 0 is nan in both (the true value is -inf)
        assert np.isnan(t.grad.numpy()[0, 0]) and np.isnan(tt.grad.numpy()[0, 0])


def test_kl_div_mean_warns_like_torch_and_averages_every_element():
    x, t = tg.tensor([[-1.0, -2.0]]), tg.tensor([[0.3, 0.7]])
    with pytest.warns(UserWarning, match="batchmean"):
        ours = F.kl_div(x, t)
    with pytest.warns(UserWarning):
        theirs = TF.kl_div(torch.tensor([[-1.0, -2.0]]), torch.tensor([[0.3, 0.7]]))
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_regression_loss_errors_name_the_option():
    z = tg.zeros(2)
    with pytest.raises(ValueError, match=r"^huber_loss: delta must be > 0, got 0"):
        F.huber_loss(z, z, delta=0)
    with pytest.raises(ValueError, match=r"^HuberLoss: delta must be > 0"):
        nn.HuberLoss(delta=-1.0)
    with pytest.raises(ValueError, match=r"^smooth_l1_loss: beta must be >= 0, got -1"):
        F.smooth_l1_loss(z, z, beta=-1)
    with pytest.raises(ValueError, match=r"^kl_div: reduction must be 'batchmean'"):
        F.kl_div(z, z, reduction="avg")
    with pytest.raises(ValueError, match=r"^KLDivLoss: reduction must be one of"):
        nn.KLDivLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"^kl_div: input shape \(2,\) and target shape \(3,\)"):
        F.kl_div(z, tg.zeros(3), reduction="sum")
    with pytest.raises(ValueError, match=r"^SmoothL1Loss: size_average and reduce are "
                                         r"deprecated"):
        nn.SmoothL1Loss(size_average=True)


# ------------------------------------------------------------------ classification losses

SHAPES = [(6, 4), (3, 4, 5), (2, 4, 3, 2)]  # (N, C), (N, C, d1), (N, C, d1, d2)


def _labels(shape: tuple, ignore: int | None, seed: int) -> np.ndarray:
    gen = np.random.default_rng(seed)
    y = gen.integers(0, shape[1], size=(shape[0], *shape[2:]))
    if ignore is not None:
        y.reshape(-1)[::3] = ignore
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_with_weight_ignore_index_and_smoothing_matches_torch(
        smoothing, ignore_index, weighted, reduction, shape, dtype):
    gen = np.random.default_rng(6)
    z, tz = _pair(gen.standard_normal(shape).astype(dtype))
    y = _labels(shape, ignore_index, 7)
    w = gen.uniform(0.2, 2.0, shape[1]).astype(dtype) if weighted else None
    kw = {} if ignore_index is None else {"ignore_index": ignore_index}
    ours = nn.CrossEntropyLoss(weight=None if w is None else tg.tensor(w), reduction=reduction,
                               label_smoothing=smoothing, **kw)(z, tg.tensor(y))
    theirs = torch.nn.CrossEntropyLoss(weight=None if w is None else torch.tensor(w),
                                       reduction=reduction, label_smoothing=smoothing,
                                       **kw)(tz, torch.tensor(y))
    _check(ours, theirs, [(z, tz)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_with_probability_targets_and_weight_matches_torch(
        smoothing, weighted, reduction, shape, dtype):
    gen = np.random.default_rng(8)
    z, tz = _pair(gen.standard_normal(shape).astype(dtype))
    p = np.moveaxis(gen.dirichlet(np.ones(shape[1]), size=(shape[0], *shape[2:])), -1, 1)
    y, ty = _pair(np.ascontiguousarray(p).astype(dtype))
    w = gen.uniform(0.2, 2.0, shape[1]).astype(dtype) if weighted else None
    ours = F.cross_entropy(z, y, weight=w, reduction=reduction, label_smoothing=smoothing)
    theirs = TF.cross_entropy(tz, ty, weight=None if w is None else torch.tensor(w),
                              reduction=reduction, label_smoothing=smoothing)
    _check(ours, theirs, [(z, tz), (y, ty)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, -100, 1])
def test_nll_loss_with_weight_and_ignore_index_matches_torch(
        ignore_index, weighted, reduction, shape, dtype):
    gen = np.random.default_rng(9)
    logp = np.log(np.moveaxis(gen.dirichlet(np.ones(shape[1]), size=(shape[0], *shape[2:])),
                              -1, 1))
    x, tx = _pair(np.ascontiguousarray(logp).astype(dtype))
    y = _labels(shape, ignore_index, 10)
    w = gen.uniform(0.2, 2.0, shape[1]).astype(dtype) if weighted else None
    kw = {} if ignore_index is None else {"ignore_index": ignore_index}
    ours = nn.NLLLoss(weight=w, reduction=reduction, **kw)(x, tg.tensor(y))
    theirs = torch.nn.NLLLoss(weight=None if w is None else torch.tensor(w),
                              reduction=reduction, **kw)(tx, torch.tensor(y))
    _check(ours, theirs, [(x, tx)], dtype)


def test_ignored_targets_cost_nothing_and_get_exactly_zero_gradient():
    z = tg.tensor(np.random.default_rng(11).standard_normal((4, 3)), requires_grad=True)
    y = tg.tensor(np.array([1, -100, 2, -100]))
    loss = F.cross_entropy(z, y, weight=np.array([1.0, 2.0, 3.0]), reduction="none",
                           label_smoothing=0.2)
    assert loss.numpy()[1] == 0.0 and loss.numpy()[3] == 0.0
    loss.sum().backward()
    assert not z.grad.numpy()[[1, 3]].any()
    assert z.grad.numpy()[[0, 2]].all()


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_mean_over_only_ignored_targets_is_zero_not_torch_nan(loss):
    # Documented difference: torch gives nan (0 / 0); ours follows the library's empty-batch
    # rule, a mean over nothing is 0 with a zero gradient.
    z = tg.tensor(np.random.default_rng(12).standard_normal((3, 4)), requires_grad=True)
    y = np.full(3, -100)
    assert np.isnan(getattr(TF, loss)(torch.tensor(z.numpy()), torch.tensor(y)).item())
    out = getattr(F, loss)(z, y)
    assert out.item() == 0.0
    out.backward()
    assert not z.grad.numpy().any()


def test_cross_entropy_weight_is_a_buffer_in_state_dict_as_torch():
    w = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    ours = nn.CrossEntropyLoss(weight=tg.tensor(w)).state_dict()
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w)).state_dict()
    assert list(ours) == list(theirs) == ["weight"]
    np.testing.assert_array_equal(ours["weight"], theirs["weight"].numpy())
    assert list(nn.CrossEntropyLoss().state_dict()) == []


def test_classification_loss_errors_name_the_culprit():
    z = tg.zeros(4, 3)
    with pytest.raises(ValueError, match=r"^cross_entropy: weight must hold one value per class, "
                                         r"shape \(3,\), got shape \(4,\)"):
        F.cross_entropy(z, tg.tensor([0, 1, 2, 0]), weight=np.ones(4))
    with pytest.raises(ValueError, match=r"^nll_loss: class labels must be in \[0, 3\), got "
                                         r"values from 0 to 5 \(a label equal to "
                                         r"ignore_index=-1 is skipped\)"):
        F.nll_loss(z, tg.tensor([0, 5, -1, 1]), ignore_index=-1)
    with pytest.raises(ValueError, match=r"^cross_entropy: for input of shape \(2, 3, 4\) the "
                                         r"target must have shape \(2, 4\), got \(2, 3\)"):
        F.cross_entropy(tg.zeros(2, 3, 4), tg.tensor(np.zeros((2, 3), np.int64)))
    with pytest.raises(ValueError, match=r"^cross_entropy: size_average and reduce are "
                                         r"deprecated"):
        F.cross_entropy(z, tg.tensor([0, 1, 2, 0]), reduce=False)
    with pytest.raises(TypeError, match=r"^CrossEntropyLoss: weight must be a float tensor"):
        nn.CrossEntropyLoss(weight=np.array(["a", "b"]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_weight_matches_torch(reduction, dtype):
    gen = np.random.default_rng(13)
    p, tp = _pair(gen.uniform(0.05, 0.95, (4, 3)).astype(dtype))
    y = (gen.random((4, 3)) > 0.5).astype(dtype)
    w = gen.uniform(0.1, 2.0, (4, 1)).astype(dtype)
    _check(nn.BCELoss(weight=tg.tensor(w), reduction=reduction)(p, tg.tensor(y)),
           torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction)(tp, torch.tensor(y)),
           [(p, tp)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weight_and_pos_weight_match_torch(reduction, dtype):
    gen = np.random.default_rng(14)
    z, tz = _pair(gen.standard_normal((4, 3)).astype(dtype) * 3)
    y = (gen.random((4, 3)) > 0.5).astype(dtype)
    w = gen.uniform(0.1, 2.0, (3,)).astype(dtype)
    pw = gen.uniform(0.5, 3.0, (3,)).astype(dtype)
    ours = nn.BCEWithLogitsLoss(weight=tg.tensor(w), reduction=reduction,
                                pos_weight=tg.tensor(pw))(z, tg.tensor(y))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), reduction=reduction,
                                        pos_weight=torch.tensor(pw))(tz, torch.tensor(y))
    _check(ours, theirs, [(z, tz)], dtype)
    assert list(nn.BCEWithLogitsLoss(weight=tg.tensor(w)).state_dict()) == ["weight"]


def test_bce_weight_that_would_grow_the_loss_is_refused():
    with pytest.raises(ValueError, match=r"^binary_cross_entropy: weight of shape \(2, 3\) would "
                                         r"broadcast the loss shape \(3,\) to \(2, 3\)"):
        F.binary_cross_entropy(tg.full((3,), 0.5), tg.ones(3), weight=np.ones((2, 3)))


# ------------------------------------------------------------------ containers


def test_module_dict_registers_in_insertion_order_as_torch():
    ours = nn.ModuleDict({"enc": nn.Linear(3, 4), "act": nn.ReLU(), "dec": nn.Linear(4, 2)})
    theirs = torch.nn.ModuleDict({"enc": torch.nn.Linear(3, 4), "act": torch.nn.ReLU(),
                                  "dec": torch.nn.Linear(4, 2)})
    assert list(ours) == list(theirs) == ["enc", "act", "dec"]
    assert list(ours.keys()) == list(theirs.keys())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert [type(m).__name__ for m in ours.values()] == ["Linear", "ReLU", "Linear"]
    assert [k for k, _ in ours.items()] == ["enc", "act", "dec"]
    assert "enc" in ours and "nope" not in ours and len(ours) == 3


def test_module_dict_update_replace_delete_pop_as_torch():
    for lib in (nn, torch.nn):
        d = lib.ModuleDict([("a", lib.ReLU()), ("b", lib.Tanh())])
        d.update([("c", lib.Sigmoid()), ("a", lib.Linear(1, 1))])  # replaced 'a' keeps place
        d["d"] = lib.Identity()
        del d["b"]
        popped = d.pop("c")
        keys = list(d)
        assert type(popped).__name__ == "Sigmoid"
        assert keys == ["a", "d"]
        assert type(d["a"]).__name__ == "Linear"
        assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias"]
        d.clear()
        assert len(d) == 0


def test_module_dict_nested_state_dict_round_trips_through_torch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"x": nn.Linear(2, 3), "y": nn.Linear(2, 1)})

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = torch.nn.ModuleDict({"x": torch.nn.Linear(2, 3),
                                              "y": torch.nn.Linear(2, 1)})

    ours, theirs = Net().double(), TNet().double()
    state = {k: torch.tensor(v) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state)
    x = np.random.default_rng(15).standard_normal((4, 2))
    np.testing.assert_allclose(ours.heads["x"](tg.tensor(x)).numpy(),
                               theirs.heads["x"](torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_module_dict_errors_are_torch_types():
    with pytest.raises(TypeError, match=r"ModuleDict: 'a' must be an nn.Module, got int"):
        nn.ModuleDict({"a": 1})
    with pytest.raises(ValueError, match=r"element #0 has length 1; 2 is required"):
        nn.ModuleDict([("a",)])
    with pytest.raises(TypeError, match=r"should be called with an iterable of key/value pairs"):
        nn.ModuleDict(3)
    with pytest.raises(KeyError):
        nn.ModuleDict()["x"]
    with pytest.raises(KeyError):
        del nn.ModuleDict()["x"]
    with pytest.raises(KeyError, match="module name can"):
        nn.ModuleDict({"a.b": nn.ReLU()})


def test_parameter_list_names_order_indexing_and_state_dict_as_torch():
    arrays = [np.ones((2, 3)), np.zeros(3), np.full((1,), 2.0)]
    ours = nn.ParameterList([nn.Parameter(arrays[0])])
    ours.append(tg.tensor(arrays[1]))  # a plain tensor becomes a Parameter, as in torch
    ours.extend([arrays[2]])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.tensor(arrays[0]))])
    theirs.append(torch.tensor(arrays[1]))
    theirs.extend([torch.tensor(arrays[2])])
    assert isinstance(ours[1], nn.Parameter) and ours[1].requires_grad
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0", "1", "2"]
    assert ours[-1].shape == tuple(theirs[-1].shape) == (1,)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]
    assert len(ours[1:]) == len(theirs[1:]) == 2
    ours[0] = np.zeros((5,))
    theirs[0] = torch.zeros(5, dtype=torch.float64)
    assert [p.shape for p in ours] == [tuple(p.shape) for p in theirs]  # order kept
    assert list(ours.state_dict()) == ["0", "1", "2"]
    ours += [np.ones(2)]
    assert len(ours) == 4
    with pytest.raises(IndexError):
        ours[7]


@pytest.mark.parametrize("count", [0, 1, 2])
def test_parameter_list_repr_follows_torch_layout(count):
    ours = nn.ParameterList([nn.Parameter(np.zeros((2, 3), np.float32)) for _ in range(count)])
    theirs = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3))
                                     for _ in range(count)])
    assert repr(ours) == repr(theirs).replace("torch.", "")


def test_parameter_list_inside_a_model_trains_as_torch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([nn.Parameter(np.full((2,), 0.5)) for _ in range(2)])

        def forward(self, x):
            for w in self.ws:
                x = x * w
            return x.sum()

    net = Net()
    assert list(net.state_dict()) == ["ws.0", "ws.1"]
    net(tg.tensor([1.0, 2.0])).backward()
    np.testing.assert_allclose(net.ws[0].grad.numpy(), [0.5, 1.0])
    assert len(list(net.parameters())) == 2


def test_parameter_dict_as_torch():
    a, b = np.ones(2), np.zeros((1, 3))
    ours = nn.ParameterDict({"scale": a})
    ours["shift"] = tg.tensor(b)
    ours.update([("bias", np.ones(1))])
    theirs = torch.nn.ParameterDict({"scale": torch.tensor(a)})
    theirs["shift"] = torch.tensor(b)
    theirs.update([("bias", torch.ones(1, dtype=torch.float64))])
    assert list(ours) == list(theirs) == ["scale", "shift", "bias"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert isinstance(ours["shift"], nn.Parameter)
    assert [v.shape for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert ours.get("nope") is None and "scale" in ours
    assert ours.pop("shift").shape == (1, 3) and list(ours.keys()) == ["scale", "bias"]
    ours.setdefault("extra", np.zeros(4))
    assert list(ours) == ["scale", "bias", "extra"]
    assert repr(ours).startswith("ParameterDict(\n    (scale): Parameter containing: [float64 of "
                                 "size 2]")
    ours.clear()
    assert len(ours) == 0


def test_parameter_containers_refuse_non_tensors():
    with pytest.raises(TypeError, match=r"^ParameterList: expected an nn.Parameter or a tensor, "
                                        r"got int"):
        nn.ParameterList([1])
    with pytest.raises(TypeError, match=r"^ParameterDict: expected an nn.Parameter or a tensor"):
        nn.ParameterDict({"a": "b"})
    with pytest.raises(TypeError, match=r"^ParameterList.extend should be called with an "
                                        r"iterable"):
        nn.ParameterList().extend(3)


@pytest.mark.parametrize("lib", ["tinygrad_c2", "torch"])
def test_reassigning_a_registered_child_or_parameter_keeps_its_position_as_torch(lib):
    mod = nn if lib == "tinygrad_c2" else torch.nn

    def param():
        return mod.Parameter(tg.zeros(1) if mod is nn else torch.zeros(1))

    class M(mod.Module):
        def __init__(self):
            super().__init__()
            self.a = mod.Linear(1, 1)
            self.p = param()
            self.b = mod.Linear(1, 1)

    m = M()
    m.a = mod.Linear(1, 2)
    m.p = param()
    assert list(m.state_dict()) == ["p", "a.weight", "a.bias", "b.weight", "b.bias"]
    layers = mod.ModuleList([mod.ReLU(), mod.Tanh(), mod.Sigmoid()])
    layers[0] = mod.Identity()
    assert [type(x).__name__ for x in layers] == ["Identity", "Tanh", "Sigmoid"]


# ------------------------------------------------------------------ nn.utils


def test_parameters_to_vector_and_back_match_torch():
    ours = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(),
                                 torch.nn.Linear(2, 1)).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    vec = nn.utils.parameters_to_vector(ours.parameters())
    tvec = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vec.numpy(), tvec.detach().numpy())
    new = np.arange(vec.shape[0], dtype=np.float64)
    nn.utils.vector_to_parameters(tg.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    for (name, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(p, q.numpy(), err_msg=name)


def test_parameters_to_vector_is_differentiable():
    layer = nn.Linear(2, 2).double()
    cot = np.random.default_rng(16).standard_normal(6)
    (nn.utils.parameters_to_vector(layer.parameters()) * tg.tensor(cot)).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy().reshape(-1), cot[:4])
    np.testing.assert_array_equal(layer.bias.grad.numpy(), cot[4:])


def test_vector_to_parameters_errors_are_torch_types():
    with pytest.raises(TypeError, match=r"^vector_to_parameters: expected vec to be a Tensor, "
                                        r"but got list"):
        nn.utils.vector_to_parameters([1.0], [])
    with pytest.raises(ValueError, match=r"^vector_to_parameters: vec has shape \(3,\), expected "
                                         r"\(6,\)"):
        nn.utils.vector_to_parameters(tg.ones(3), nn.Linear(2, 2).parameters())
    with pytest.raises(TypeError, match=r"different dtypes"):
        nn.utils.parameters_to_vector([nn.Parameter(np.zeros(1)),
                                       nn.Parameter(np.zeros(1, np.float32))])


def test_every_new_name_is_exported():
    for name in ["ModuleDict", "ParameterList", "ParameterDict", "GELU", "SiLU", "Softplus",
                 "ELU", "Hardtanh", "SmoothL1Loss", "HuberLoss", "KLDivLoss"]:
        assert name in nn.__all__ and hasattr(torch.nn, name)
    for name in ["gelu", "silu", "softplus", "elu", "hardtanh", "smooth_l1_loss", "huber_loss",
                 "kl_div"]:
        assert callable(getattr(F, name)) and hasattr(TF, name)
    assert nn.utils.parameters_to_vector and torch.nn.utils.parameters_to_vector


def test_ordered_dict_and_dict_give_the_same_module_dict():
    layers = [("b", nn.ReLU()), ("a", nn.Tanh())]
    assert list(nn.ModuleDict(OrderedDict(layers))) == list(nn.ModuleDict(dict(layers))) == \
        ["b", "a"]

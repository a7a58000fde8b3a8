"""Optimizers against PyTorch on hand-set gradients, the course's Momentum, state_dict, EWA."""

import re

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import optim
from tinygrad_c2.serialization import load, save

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 25

# (optimizer name, keyword arguments): several settings per optimizer, every branch visited.
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True)),  # lerp weight >= 0.5 branch
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9))),  # lerp weight >= 0.5 branch
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, betas=(0.7, 0.95))),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.05)),
    ("Adadelta", dict(rho=0.99, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6)),  # lerp weight >= 0.5 branch
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.3, 0.95), momentum_decay=0.05)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]
CONFIG_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
              for name, kw in CONFIGS]


def make_problem(seed=0, dtype=np.float64):
    """Random parameters and STEPS random gradients for each; one gradient is None."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    grads[5][1] = None  # the optimizer must skip this parameter at step 5
    return params, grads


def two_groups(params):
    """Parameter groups with their own lr and weight decay (biases excluded from decay)."""
    return [{"params": params[:1], "lr": 0.02, "weight_decay": 0.03}, {"params": params[1:]}]


def run_tg(name, kwargs, params0, grads, groups=None, opt=None, params=None):
    params = params or [tg.Tensor(p.copy(), requires_grad=True) for p in params0]
    opt = opt or getattr(optim, name)(groups(params) if groups else params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else tg.Tensor(g.copy())
        opt.step()
    return params, opt


def run_torch(name, kwargs, params0, grads, groups=None):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(p.copy(), requires_grad=True) for p in params0]
    opt = getattr(torch.optim, name)(groups(params) if groups else params, foreach=False, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else torch.tensor(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params], opt


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=CONFIG_IDS)
def test_optimizer_matches_torch_over_25_steps(name, kwargs):
    params0, grads = make_problem()
    ours, _ = run_tg(name, kwargs, params0, grads)
    theirs, _ = run_torch(name, kwargs, params0, grads)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=CONFIG_IDS)
def test_param_groups_with_own_lr_and_weight_decay_match_torch(name, kwargs):
    params0, grads = make_problem(seed=1)
    ours, _ = run_tg(name, kwargs, params0, grads, groups=two_groups)
    theirs, _ = run_torch(name, kwargs, params0, grads, groups=two_groups)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=CONFIG_IDS)
def test_float32_run_matches_torch_and_keeps_float32(name, kwargs):
    params0, grads = make_problem(seed=10, dtype=np.float32)
    ours, opt = run_tg(name, kwargs, params0, grads)
    theirs, _ = run_torch(name, kwargs, params0, grads)
    for a, b in zip(ours, theirs, strict=True):
        assert a.numpy().dtype == b.dtype == np.float32
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-6)  # float32 rounding, 25 steps
    for state in opt.state.values():
        for key, value in state.items():
            assert key == "step" or value.dtype == np.float32, key


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=CONFIG_IDS)
def test_state_dict_round_trip_mid_run_equals_uninterrupted_run(name, kwargs, tmp_path):
    params0, grads = make_problem(seed=2)
    full, _ = run_tg(name, kwargs, params0, grads, groups=two_groups)

    first, opt = run_tg(name, kwargs, params0, grads[:12], groups=two_groups)
    save({"optim": opt.state_dict(), "params": [p.numpy() for p in first]}, tmp_path / "ckpt")
    run_tg(name, kwargs, params0, grads[12:14], opt=opt, params=first)  # snapshot must not move

    ckpt = load(tmp_path / "ckpt")
    params = [tg.Tensor(a, requires_grad=True) for a in ckpt["params"]]
    resumed = getattr(optim, name)(two_groups(params), **kwargs)
    resumed.load_state_dict(ckpt["optim"])
    run_tg(name, kwargs, params0, grads[12:], opt=resumed, params=params)
    for a, b in zip(params, full, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # bit for bit


LAYOUT_KWARGS = {"SGD": dict(lr=0.1, momentum=0.9), "RMSprop": dict(momentum=0.5, centered=True),
                 "Adam": dict(amsgrad=True), "AdamW": dict(), "Adagrad": dict(lr_decay=0.1),
                 "Adadelta": dict(), "Adamax": dict(), "NAdam": dict(decoupled_weight_decay=True)}


@pytest.mark.parametrize("steps", [3, 0])
@pytest.mark.parametrize("name", LAYOUT_KWARGS)
def test_state_dict_has_pytorch_layout(name, steps):
    kwargs = LAYOUT_KWARGS[name]
    params0, grads = make_problem(seed=3)
    _, ours = run_tg(name, kwargs, params0, grads[:steps], groups=two_groups)
    _, theirs = run_torch(name, kwargs, params0, grads[:steps], groups=two_groups)
    ours, theirs = ours.state_dict(), theirs.state_dict()
    # before any step only Adagrad has state: like PyTorch's, its constructor makes it
    assert sorted(ours["state"]) == sorted(theirs["state"]) == (
        [0, 1, 2] if steps or name == "Adagrad" else [])
    for pid in ours["state"]:
        assert ours["state"][pid].keys() == theirs["state"][pid].keys()
        for key, value in ours["state"][pid].items():
            np.testing.assert_allclose(value, np.asarray(theirs["state"][pid][key]), rtol=1e-10)
    for group, torch_group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        assert group["params"] == torch_group["params"]
        assert group.keys() <= torch_group.keys()
        differ = {k: (group[k], torch_group[k]) for k in group
                  if group[k] != torch_group[k] and k != "foreach"}  # torch ran with foreach=False
        assert differ == {}


@pytest.mark.parametrize(("name", "kwargs"), [
    ("Adam", dict(lr=0.01)), ("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("Adadelta", dict()),
    ("Adamax", dict(lr=0.01)), ("NAdam", dict(lr=0.01)),
])
def test_loading_a_torch_state_dict_continues_like_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    params0, grads = make_problem(seed=4)
    _, torch_opt = run_torch(name, kwargs, params0, grads[:10])
    torch_params = [p for g in torch_opt.param_groups for p in g["params"]]
    numpy_state = {
        "state": {pid: {k: v.numpy().copy() for k, v in s.items()}
                  for pid, s in torch_opt.state_dict()["state"].items()},
        "param_groups": torch_opt.state_dict()["param_groups"],
    }
    params = [tg.Tensor(p.detach().numpy().copy(), requires_grad=True) for p in torch_params]
    opt = getattr(optim, name)(params, **kwargs)
    opt.load_state_dict(numpy_state)
    run_tg(name, {}, None, grads[10:], opt=opt, params=params)
    for step_grads in grads[10:]:
        for p, g in zip(torch_params, step_grads, strict=True):
            p.grad = None if g is None else torch.tensor(g)
        torch_opt.step()
    for a, b in zip(params, torch_params, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------- the course's Momentum
def test_momentum_matches_the_course_formula():
    params0, grads = make_problem(seed=5)
    lr, beta = 0.1, 0.8
    ours, _ = run_tg("Momentum", dict(lr=lr, beta=beta), params0, grads)
    for i, w in enumerate(params0):
        w, v = w.copy(), np.zeros_like(w)  # v0 = 0
        for step_grads in grads:
            if step_grads[i] is None:
                continue
            v = beta * v + (1 - beta) * step_grads[i]
            w = w - lr * v
        np.testing.assert_allclose(ours[i].numpy(), w, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("beta", "weight_decay"), [(0.9, 0.0), (0.5, 0.0), (0.95, 0.01)])
def test_momentum_equals_sgd_with_lr_times_one_minus_beta(beta, weight_decay):
    params0, grads = make_problem(seed=6)
    lr = 0.1
    ours, _ = run_tg("Momentum", dict(lr=lr, beta=beta, weight_decay=weight_decay), params0, grads)
    sgd = dict(lr=lr * (1 - beta), momentum=beta, dampening=0, weight_decay=weight_decay)
    same, _ = run_tg("SGD", sgd, params0, grads)
    theirs, _ = run_torch("SGD", sgd, params0, grads)
    dampened, _ = run_tg("SGD", dict(lr=lr, momentum=beta, dampening=beta), params0, grads)
    for a, b, c, d in zip(ours, same, theirs, dampened, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(a.numpy(), c, rtol=1e-12, atol=1e-13)
        assert not np.allclose(a.numpy(), d.numpy(), rtol=1e-6)  # dampening=beta: another rule


def test_momentum_with_beta_zero_is_plain_gradient_descent():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.Momentum([w], lr=0.5, beta=0.0)
    w.grad = tg.Tensor(np.array([1.0, -2.0]))
    opt.step()
    np.testing.assert_array_equal(w.numpy(), [0.5, 3.0])


# --------------------------------------------------------------------------- in-place contract
@pytest.mark.parametrize(("name", "kwargs"), CONFIGS + [("Momentum", dict(lr=0.1))],
                         ids=CONFIG_IDS + ["Momentum"])
def test_step_updates_in_place_and_never_touches_shared_gradients(name, kwargs):
    rng = np.random.default_rng(7)
    w1 = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    w2 = tg.Tensor(rng.standard_normal(3), requires_grad=True)
    start1, start2 = w1.numpy().copy(), w2.numpy().copy()
    arrays = (w1.numpy(), w2.numpy())
    opt = getattr(optim, name)([w1, w2], **kwargs)
    shared = rng.standard_normal(3)
    kept = shared.copy()
    for _ in range(3):
        w1.grad = w2.grad = tg.Tensor(shared)  # one gradient array aliased by two parameters
        opt.step()
    np.testing.assert_array_equal(shared, kept)
    assert w1.numpy() is arrays[0] and w2.numpy() is arrays[1]
    assert w1.grad_fn is None and w1.is_leaf
    # both saw the same gradients, so each moved exactly as a lone parameter would
    lone = tg.Tensor(start1.copy(), requires_grad=True)
    lone_opt = getattr(optim, name)([lone], **kwargs)
    for _ in range(3):
        lone.grad = tg.Tensor(kept.copy())
        lone_opt.step()
    np.testing.assert_array_equal(w1.numpy(), lone.numpy())
    assert not np.array_equal(w2.numpy(), start2)


def test_parameters_without_gradient_are_skipped_and_get_no_state():
    a = tg.Tensor(np.ones(2), requires_grad=True)
    b = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tg.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b.numpy(), np.ones(2))
    assert b not in opt.state and opt.state[a]["step"] == 1


def test_adagrad_state_like_torch_for_groups_and_added_groups():
    """PyTorch fills every sum from the constructor's initial_accumulator_value (a group's own
    value is ignored) and gives parameters of a group added later their state lazily."""
    torch = pytest.importorskip("torch")
    params0, grads = make_problem(seed=11)

    def groups(params):
        return [{"params": params[:1]}, {"params": params[1:2], "initial_accumulator_value": 5.0}]

    runs = []
    for lib, module in [(tg, optim), (torch, torch.optim)]:
        params = [lib.tensor(p.copy(), requires_grad=True) for p in params0]
        opt = module.Adagrad(groups(params), lr=0.1, initial_accumulator_value=0.25)
        for i, step_grads in enumerate(grads):
            if i == 3:
                opt.add_param_group({"params": params[2:], "lr": 0.05})
            for p, g in zip(params, step_grads, strict=True):
                p.grad = None if g is None else lib.tensor(g.copy())
            opt.step()
        runs.append([np.asarray(p.detach().numpy()) for p in params])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_nadam_keeps_its_momentum_product_in_the_default_dtype_as_torch():
    torch = pytest.importorskip("torch")
    params0, grads = make_problem(seed=12)
    ours, opt = run_tg("NAdam", dict(lr=0.01), params0, grads)
    assert type(opt.state[ours[0]]["mu_product"]) is np.float32
    before = (tg.get_default_dtype(), torch.get_default_dtype())
    tg.set_default_dtype(tg.float64)
    torch.set_default_dtype(torch.float64)
    try:
        ours, opt = run_tg("NAdam", dict(lr=0.01), params0, grads)
        theirs, _ = run_torch("NAdam", dict(lr=0.01), params0, grads)
    finally:
        tg.set_default_dtype(before[0])
        torch.set_default_dtype(before[1])
    assert type(opt.state[ours[0]]["mu_product"]) is np.float64
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-12, atol=1e-13)


def test_float32_parameters_and_state_stay_float32():
    w = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1, weight_decay=0.1)
    w.grad = tg.Tensor(np.ones(3, dtype=np.float32))
    opt.step()
    assert w.numpy().dtype == np.float32
    dtypes = {v.dtype for v in opt.state[w].values() if isinstance(v, np.ndarray)}
    assert dtypes == {np.dtype(np.float32)}


def test_gradient_through_autograd_trains_a_quadratic():
    w = tg.Tensor(np.array([3.0, -2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), 0.0, atol=1e-8)


def test_zero_grad_sets_none_by_default_or_fresh_zeros():
    w = tg.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    g = np.array([1.0, 2.0])
    w.grad = tg.Tensor(g)
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(g, [1.0, 2.0])  # the old array (maybe shared) is untouched
    opt.zero_grad()
    assert w.grad is None


def test_step_with_closure_returns_its_loss():
    w = tg.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)  # the closure still records its graph
    assert loss.item() == 1.0
    np.testing.assert_array_equal(w.numpy(), [0.0])


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("name", "kwargs", "word"), [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "momentum"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "weight_decay"),
    ("SGD", dict(lr=0.1, nesterov=True), "nesterov"),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("Momentum", dict(lr=0.1, beta=1.0), "beta"),
    ("Momentum", dict(lr=-1.0), "lr"),
    ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("RMSprop", dict(eps=-1e-8), "eps"),
    ("RMSprop", dict(momentum=-0.9), "momentum"),
    ("Adam", dict(betas=(1.0, 0.999)), "betas[0]"),
    ("Adam", dict(betas=(0.9, -0.1)), "betas[1]"),
    ("Adam", dict(betas=(0.9,)), "betas"),
    ("Adam", dict(eps=-1.0), "eps"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay"),
    ("Adam", dict(lr=float("nan")), "lr"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1e-10), "eps"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adadelta", dict(lr=-1.0), "lr"),
    ("Adamax", dict(betas=(1.0, 0.999)), "betas[0]"),
    ("Adamax", dict(weight_decay=-0.1), "weight_decay"),
    ("NAdam", dict(betas=(0.9, 1.0)), "betas[1]"),
    ("NAdam", dict(momentum_decay=-0.004), "momentum_decay"),
])
def test_bad_hyperparameters_raise_value_error_naming_them(name, kwargs, word):
    w = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=re.escape(f"{name}: invalid {word} ")):
        getattr(optim, name)([w], **kwargs)


def test_bad_group_hyperparameter_is_caught_when_the_group_is_added():
    w, b = (tg.Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match=r"param_groups\[1\]"):
        opt.add_param_group({"params": [b], "lr": -1.0})
    assert len(opt.param_groups) == 1


def test_bad_params_get_clear_errors():
    w = tg.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="not Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        optim.SGD({w}, lr=0.1)


def test_gradient_of_the_wrong_shape_is_reported():
    w = tg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = tg.Tensor(np.ones(1))
    with pytest.raises(ValueError, match=r"shape \(3,\) has a gradient of shape \(1,\)"):
        opt.step()


def test_load_state_dict_rejects_a_different_layout():
    a, b = (tg.Tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = optim.Adam([a, b])
    a.grad = b.grad = tg.Tensor(np.ones(2))
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match="1 parameter groups"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(state)
    with pytest.raises(ValueError, match="2 parameters in the state dict but 1"):
        optim.Adam([a]).load_state_dict(state)
    other = optim.Adam([tg.Tensor(np.ones(3), requires_grad=True), b])
    with pytest.raises(ValueError, match=r"state\[0\]\['exp_avg'\] has shape \(2,\)"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"exp_avg": 1})


def test_loaded_hyperparameters_replace_the_current_ones():
    w = tg.Tensor(np.ones(2), requires_grad=True)
    state = optim.SGD([w], lr=0.5, momentum=0.9).state_dict()
    opt = optim.SGD([w], lr=0.1)
    opt.load_state_dict(state)
    assert opt.param_groups[0]["lr"] == 0.5 and opt.param_groups[0]["params"] == [w]


# ------------------------------------------------------------------------------------------ EWA
def test_ewa_matches_the_course_formula_with_and_without_bias_correction():
    rng = np.random.default_rng(8)
    thetas = rng.standard_normal(20) * 10 + 50
    beta = 0.9
    corrected, raw = optim.EWA(beta), optim.EWA(beta, bias_correction=False)
    v = 0.0
    for t, theta in enumerate(thetas, start=1):
        v = beta * v + (1 - beta) * theta
        assert corrected.update(theta) == pytest.approx(v / (1 - beta**t), rel=1e-14)
        assert raw.update(theta) == pytest.approx(v, rel=1e-14)
    assert isinstance(corrected.value, float) and corrected.t == 20


def test_ewa_bias_correction_recovers_a_constant_from_the_first_value():
    avg = optim.EWA(0.98)
    assert avg.update(40.0) == pytest.approx(40.0)
    assert avg.raw == pytest.approx(0.8)  # what the uncorrected average reports


def test_ewa_averages_arrays_and_returns_copies():
    avg = optim.EWA(0.5)
    x = np.array([1.0, 2.0])
    out = avg.update(x)
    out += 100
    np.testing.assert_allclose(avg.update(x), [1.0, 2.0])
    np.testing.assert_array_equal(x, [1.0, 2.0])
    with pytest.raises(ValueError, match="shape"):
        avg.update(np.ones(3))


def test_ewa_state_dict_round_trip_continues_identically():
    a = optim.EWA(0.7)
    for x in [1.0, 5.0, 2.0]:
        a.update(np.full(2, x))
    b = optim.EWA(0.1, bias_correction=False)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.update(np.full(2, 3.0)), b.update(np.full(2, 3.0)))


def test_ewa_rejects_bad_beta_and_reading_before_update():
    with pytest.raises(ValueError, match="beta"):
        optim.EWA(1.0)
    with pytest.raises(RuntimeError, match="no values"):
        _ = optim.EWA(0.9).value


def test_ewa_is_the_velocity_of_momentum():
    rng = np.random.default_rng(9)
    w = tg.Tensor(rng.standard_normal(4), requires_grad=True)
    opt = optim.Momentum([w], lr=0.1, beta=0.9)
    avg = optim.EWA(0.9, bias_correction=False)
    for _ in range(5):
        g = rng.standard_normal(4)
        w.grad = tg.Tensor(g)
        opt.step()
        avg.update(g)
    np.testing.assert_allclose(opt.state[w]["velocity"], avg.raw, rtol=1e-14)


def _adam_with_python_numbers(w, grads, lr, betas, eps, amsgrad=False):
    """PyTorch's single-tensor Adam written with Python-number operands (numpy casts each one
    to the array's dtype on every call): what the optimizer's 0-d operands must reproduce."""
    b1, b2 = betas
    m, v, vmax = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for step, g in enumerate(grads, start=1):
        diff = g - m
        if 1 - b1 < 0.5:
            m += diff * (1 - b1)
        else:
            m[...] = g - diff * (1 - (1 - b1))
        v *= b2
        v += ((1 - b2) * g) * g
        if amsgrad:
            np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax if amsgrad else v) / (1 - b2**step) ** 0.5 + eps
        w -= (lr / (1 - b1**step) * m) / denom
    return w


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lr", [0.1, 0.0123456789, 3, np.float64(0.0123456789)],
                         ids=["0.1", "0.0123456789", "int-3", "numpy-float64"])
def test_plain_sgd_is_w_minus_lr_times_g_bit_for_bit(dtype, lr):
    # the captured step replays w -= lr * g with the Python number: the eager step must give
    # the same bits whatever form of lr it uses (a numpy float64 lr promotes the product)
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((7, 5)).astype(dtype)
    grads = [rng.standard_normal((7, 5)).astype(dtype) for _ in range(3)]
    w = tg.Tensor(w0.copy(), requires_grad=True)
    opt = optim.SGD([w], lr=lr)
    expected = w0.copy()
    for g in grads:
        w.grad = tg.Tensor(g.copy())
        opt.step()
        expected -= lr * g
    assert w.numpy().dtype == dtype
    np.testing.assert_array_equal(w.numpy(), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8),
                                    dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6, amsgrad=True)],
                         ids=["defaults", "lerp-upper-branch-amsgrad"])
def test_adam_equals_its_formula_with_python_numbers_bit_for_bit(dtype, kwargs):
    rng = np.random.default_rng(4)
    w0 = rng.standard_normal((6, 4)).astype(dtype)
    grads = [rng.standard_normal((6, 4)).astype(dtype) for _ in range(4)]
    w = tg.Tensor(w0.copy(), requires_grad=True)
    opt = optim.Adam([w], **kwargs)
    for g in grads:
        w.grad = tg.Tensor(g.copy())
        opt.step()
    expected = _adam_with_python_numbers(w0.copy(), grads, **kwargs)
    assert w.numpy().dtype == dtype
    np.testing.assert_array_equal(w.numpy(), expected)


def test_plain_sgd_follows_a_new_lr_each_step_and_each_parameter_dtype_bit_for_bit():
    # the step reuses the previous step's lr operand while lr is the same object: a scheduler's
    # (or a user's) new rate, equal or not, and a parameter of another dtype must each get
    # w -= lr * g in their own dtype
    rng = np.random.default_rng(5)
    w32, w64 = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3)
    a, b = tg.Tensor(w32.copy(), requires_grad=True), tg.Tensor(w64.copy(), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    expected = [w32.copy(), w64.copy()]
    for lr in (0.1, 0.1, 0.3, float("0.1"), 0.0, 1e-3):
        opt.param_groups[0]["lr"] = lr
        grads = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3)]
        a.grad, b.grad = tg.Tensor(grads[0].copy()), tg.Tensor(grads[1].copy())
        opt.step()
        for e, g in zip(expected, grads, strict=True):
            e -= lr * g
    np.testing.assert_array_equal(a.numpy(), expected[0])
    np.testing.assert_array_equal(b.numpy(), expected[1])
    assert a.numpy().dtype == np.float32 and b.numpy().dtype == np.float64

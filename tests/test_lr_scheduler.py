"""Learning-rate schedules: PyTorch's sequences, resuming, and the course's decay formulas."""

import math
import re

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import optim
from tinygrad_c2.optim import lr_scheduler
from tinygrad_c2.serialization import load, save

STEPS = 30
LRS = (0.1, 0.03)  # two param groups with their own lr

SETTINGS = [
    ("LambdaLR", dict(lr_lambda=lambda epoch: 0.95**epoch)),
    ("LambdaLR", dict(lr_lambda=[lambda epoch: 1 / (1 + epoch), lambda epoch: epoch % 4 + 1])),
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=1, gamma=0.9)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 11], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("ExponentialLR", dict(gamma=1.05)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),  # 30 steps pass several troughs
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.5, total_iters=3)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=12)),
    ("PolynomialLR", dict(total_iters=20, power=2.0)),
    ("PolynomialLR", dict(total_iters=8, power=0.5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),  # cycles 3, 6, 12
    ("OneCycleLR", dict(max_lr=[1.0, 0.3], total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=0.5, epochs=6, steps_per_epoch=5, anneal_strategy="linear",
                        cycle_momentum=False)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS, three_phase=True, pct_start=0.25)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS + 5, three_phase=True,
                        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0)),
]
SETTING_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SETTINGS)]

# Schedulers of schedulers: the inner ones are built, on the same optimizer, by a function of
# (module, optimizer), so the same code builds ours and torch's.
COMPOSITES = [
    ("SequentialLR", lambda M, o: dict(
        schedulers=[M.LinearLR(o, start_factor=0.1, total_iters=5), M.CosineAnnealingLR(o, 20)],
        milestones=[5])),
    ("SequentialLR", lambda M, o: dict(
        schedulers=[M.ConstantLR(o, factor=0.5, total_iters=3), M.ExponentialLR(o, 0.9),
                    M.StepLR(o, step_size=3, gamma=0.5)],
        milestones=[4, 12])),
    ("SequentialLR", lambda M, o: dict(
        schedulers=[M.LinearLR(o, start_factor=0.2, total_iters=3),
                    M.CosineAnnealingWarmRestarts(o, T_0=4, T_mult=2)],
        milestones=[3])),
    ("ChainedScheduler", lambda M, o: dict(
        schedulers=[M.ConstantLR(o, factor=0.2, total_iters=4), M.ExponentialLR(o, 0.9)])),
    ("ChainedScheduler", lambda M, o: dict(
        schedulers=[M.LinearLR(o, start_factor=0.5, total_iters=6), M.CosineAnnealingLR(o, 10),
                    M.MultiStepLR(o, milestones=[8, 16])],
        optimizer=o)),
]
COMPOSITE_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(COMPOSITES)]


def build(module, name, kwargs, opt, **extra):
    """Scheduler `name` of `module` (ours or torch's) on `opt`; kwargs may be a COMPOSITES one."""
    if callable(kwargs):
        kwargs = kwargs(module, opt)
    if name == "ChainedScheduler":  # its first argument is the schedulers, not the optimizer
        return module.ChainedScheduler(**kwargs, **extra)
    return getattr(module, name)(opt, **kwargs, **extra)


def make_tg_optimizer(lrs=LRS):
    groups = [{"params": [tg.Tensor(np.ones(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=0.5)


def make_torch_optimizer(lrs=LRS):
    torch = pytest.importorskip("torch")
    groups = [{"params": [torch.ones(2, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=0.5)


def lr_sequence(opt, sched, steps=STEPS):
    """The lrs after construction and after each of `steps` epochs."""
    seq = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
        assert seq[-1] == [group["lr"] for group in opt.param_groups]
    return np.array(seq)


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS + COMPOSITES, ids=SETTING_IDS + COMPOSITE_IDS)
def test_scheduler_lr_sequence_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    opt, torch_opt = make_tg_optimizer(), make_torch_optimizer()
    ours = lr_sequence(opt, build(lr_scheduler, name, kwargs, opt))
    theirs = lr_sequence(torch_opt, build(torch.optim.lr_scheduler, name, kwargs, torch_opt))
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)
    assert len(set(ours[:, 0].tolist())) > 1  # the schedule really changed the lr
    for group, torch_group in zip(opt.param_groups, torch_opt.param_groups, strict=True):
        assert group["momentum"] == pytest.approx(torch_group["momentum"], rel=1e-13)


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=2, factor=0.5),
    dict(mode="max", patience=1, factor=0.3, threshold=0.05),
    dict(patience=0, threshold_mode="abs", threshold=0.01, cooldown=2),
    dict(patience=1, factor=0.2, min_lr=[0.01, 0.001]),
    dict(patience=1, factor=0.5, min_lr=0.02, eps=1e-3),
], ids=["defaults", "patience2", "max-rel", "abs-cooldown", "min_lr-list", "min_lr-eps"])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    metrics = np.concatenate([np.linspace(1.0, 0.5, 10), 0.5 + 0.02 * rng.standard_normal(30)])
    if kwargs.get("mode") == "max":
        metrics = 1 - metrics
    opt, torch_opt = make_tg_optimizer(), make_torch_optimizer()
    ours = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    seq, torch_seq = [], []
    for m in metrics:
        opt.step()
        torch_opt.step()
        ours.step(m)
        theirs.step(m)
        seq.append(ours.get_last_lr())
        torch_seq.append(theirs.get_last_lr())
        assert (ours.num_bad_epochs, ours.cooldown_counter) == (
            theirs.num_bad_epochs, theirs.cooldown_counter)
    np.testing.assert_allclose(seq, torch_seq, rtol=1e-13, atol=0)
    assert seq[-1] != seq[0]  # it did reduce


def test_two_chained_schedulers_match_torch():
    torch = pytest.importorskip("torch")
    opt, torch_opt = make_tg_optimizer(), make_torch_optimizer()
    ours = [lr_scheduler.ExponentialLR(opt, gamma=0.9),
            lr_scheduler.MultiStepLR(opt, milestones=[3, 8], gamma=0.1)]
    theirs = [torch.optim.lr_scheduler.ExponentialLR(torch_opt, gamma=0.9),
              torch.optim.lr_scheduler.MultiStepLR(torch_opt, milestones=[3, 8], gamma=0.1)]
    for _ in range(12):
        opt.step()
        torch_opt.step()
        for a, b in zip(ours, theirs, strict=True):
            a.step()
            b.step()
        np.testing.assert_allclose([g["lr"] for g in opt.param_groups],
                                   [g["lr"] for g in torch_opt.param_groups], rtol=1e-13)


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS[2:] + COMPOSITES,
                         ids=SETTING_IDS[2:] + COMPOSITE_IDS)
def test_state_dict_round_trip_continues_the_same_sequence(name, kwargs, tmp_path):
    opt = make_tg_optimizer()
    full = lr_sequence(opt, build(lr_scheduler, name, kwargs, opt))

    opt = make_tg_optimizer()
    sched = build(lr_scheduler, name, kwargs, opt)
    first = lr_sequence(opt, sched, steps=13)
    save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt")
    ckpt = load(tmp_path / "ckpt")

    opt = make_tg_optimizer(lrs=(1.0, 1.0))  # a fresh run, then the checkpoint
    resumed = build(lr_scheduler, name, kwargs, opt)
    opt.load_state_dict(ckpt["optim"])
    resumed.load_state_dict(ckpt["sched"])
    rest = lr_sequence(opt, resumed, steps=STEPS - 13)
    np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), full)


@pytest.mark.parametrize(("name", "kwargs"), SETTINGS[2:], ids=SETTING_IDS[2:])
def test_resuming_with_last_epoch_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    runs = []
    for opt, module in [(make_tg_optimizer(), lr_scheduler),
                        (make_torch_optimizer(), torch.optim.lr_scheduler)]:
        sched = build(module, name, kwargs, opt)
        lr_sequence(opt, sched, steps=9)
        resumed = build(module, name, kwargs, opt, last_epoch=sched.last_epoch)
        runs.append(lr_sequence(opt, resumed, steps=10))
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13, atol=0)


def test_step_with_an_epoch_jumps_to_the_closed_form_value():
    opt = make_tg_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    sched.step(7)
    assert sched.get_last_lr() == [0.1 * 0.25, 0.03 * 0.25]
    opt = make_tg_optimizer()
    sched = lr_scheduler.MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.5)
    sched.step(5)
    assert sched.get_last_lr() == [0.1 * 0.125, 0.03 * 0.125]


@pytest.mark.parametrize(("name", "kwargs"), [
    ("ConstantLR", dict(factor=0.5, total_iters=3)),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=6)),
    ("PolynomialLR", dict(total_iters=8, power=1.5)),
])
def test_step_with_an_epoch_gives_the_value_of_that_epoch_for_the_new_schedules(name, kwargs):
    opt = make_tg_optimizer()
    seq = lr_sequence(opt, getattr(lr_scheduler, name)(opt, **kwargs), steps=12)
    for epoch in [2, 3, 5, 7, 11]:
        opt = make_tg_optimizer()
        sched = getattr(lr_scheduler, name)(opt, **kwargs)
        sched.step(epoch)
        np.testing.assert_allclose(sched.get_last_lr(), seq[epoch], rtol=1e-13)


@pytest.mark.parametrize(("T_0", "T_mult"), [(4, 1), (2, 2), (3, 3)])
def test_cosine_warm_restarts_with_fractional_epochs_matches_torch(T_0, T_mult):  # noqa: N803
    """The per-batch pattern step(epoch + i / iters), jumps back and forth, then plain steps."""
    torch = pytest.importorskip("torch")
    iters = 5
    epochs = [e + i / iters for e in range(30) for i in range(iters)] + [3.5, 41.25, 0.0, 7.0]
    runs = []
    for opt, module in [(make_tg_optimizer(), lr_scheduler),
                        (make_torch_optimizer(), torch.optim.lr_scheduler)]:
        sched = module.CosineAnnealingWarmRestarts(opt, T_0=T_0, T_mult=T_mult, eta_min=1e-3)
        seen = []
        for epoch in epochs:
            opt.step()
            sched.step(epoch)
            seen.append([*sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch])
        for _ in range(12):
            opt.step()
            sched.step()
            seen.append([*sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch])
        runs.append(np.array(seen, dtype=float))
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13, atol=1e-15)
    cycle_lengths = set(runs[0][:, 3].tolist())
    assert len(cycle_lengths) > 2 if T_mult > 1 else cycle_lengths == {T_0}  # T_i grew, or not


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_cycles_momentum_or_beta1_like_torch(optimizer):
    torch = pytest.importorskip("torch")
    kwargs = dict(max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=5, base_momentum=[0.8, 0.7],
                  max_momentum=0.9, three_phase=True)
    runs = []
    for lib, module in [(tg, optim), (torch, torch.optim)]:
        groups = [{"params": [lib.ones(2, requires_grad=True)]} for _ in range(2)]
        opt = (module.SGD(groups, lr=0.1, momentum=0.5) if optimizer == "SGD"
               else module.Adam(groups, lr=0.1, betas=(0.5, 0.99)))
        sched = module.lr_scheduler.OneCycleLR(opt, **kwargs)
        seen = []
        for _ in range(20):
            opt.step()
            sched.step()
            seen.append([g["momentum"] if optimizer == "SGD" else g["betas"][0]
                         for g in opt.param_groups] + sched.get_last_lr())
        if optimizer == "Adam":
            assert [g["betas"][1] for g in opt.param_groups] == [0.99, 0.99]
        runs.append(np.array(seen))
        with pytest.raises(ValueError, match="20"):
            sched.step()  # a 21st step is past total_steps
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-13)
    assert runs[0][:, 0].min() == pytest.approx(0.8) and runs[0][:, 1].min() == pytest.approx(0.7)


def test_composite_schedulers_show_their_parts():
    opt = make_tg_optimizer()
    L = lr_scheduler  # noqa: N806
    chained = L.ChainedScheduler([L.StepLR(opt, 2), L.StepLR(opt, 3)])
    sequential = L.SequentialLR(opt, [L.ChainedScheduler([L.StepLR(opt, 2)]),
                                      L.ExponentialLR(opt, 0.5)], milestones=[4])
    assert repr(chained).startswith("ChainedScheduler([StepLR(last_epoch=0, ")
    assert repr(sequential).startswith("SequentialLR([ChainedScheduler([StepLR(")
    assert "ExponentialLR(last_epoch=-1, " in repr(sequential)  # built, then stepped back


def test_lambda_lr_saves_callable_objects_but_not_functions():
    class Warmup:
        def __init__(self):
            self.steps = 4

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    warmup = Warmup()
    opt = make_tg_optimizer()
    sched = lr_scheduler.LambdaLR(opt, [warmup, lambda epoch: 1.0])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    warmup.steps = 99
    sched.load_state_dict(state)
    assert warmup.steps == 4


def test_get_last_lr_is_a_copy():
    opt = make_tg_optimizer()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    sched.get_last_lr()[0] = 123.0
    assert sched.get_last_lr() == list(LRS)


# --------------------------------------------------------------------------- the course's decays
def course_sequence(factory, lr0=0.2, steps=STEPS):
    opt = make_tg_optimizer(lrs=(lr0,))
    return lr_sequence(opt, factory(opt), steps)[:, 0]


def test_inverse_time_decay_follows_the_course_formula_and_its_table():
    lrs = course_sequence(lambda o: lr_scheduler.InverseTimeDecay(o, decay_rate=1.0))
    np.testing.assert_allclose(lrs[:5], [0.2, 0.1, 0.2 / 3, 0.05, 0.04])  # the course's table
    for interval, rate in [(1, 0.5), (3, 0.5), (4, 2.0)]:
        lrs = course_sequence(
            lambda o, i=interval, r=rate: lr_scheduler.InverseTimeDecay(o, r, time_interval=i))
        expected = [0.2 / (1 + rate * math.floor(epoch / interval)) for epoch in range(STEPS + 1)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-15)


def test_inverse_sqrt_decay_follows_k_over_sqrt_epoch_and_holds_k_lr0_at_epoch_zero():
    lrs = course_sequence(lambda o: lr_scheduler.InverseSqrtDecay(o, k=0.7))
    expected = [0.7 / math.sqrt(epoch) * 0.2 for epoch in range(1, STEPS + 1)]
    np.testing.assert_allclose(lrs[1:], expected, rtol=1e-15)
    assert lrs[0] == lrs[1]  # epoch 0 is treated as epoch 1: no division by zero


def test_exponential_decay_is_lr0_times_base_to_the_epoch():
    lrs = course_sequence(lambda o: lr_scheduler.ExponentialDecay(o))
    np.testing.assert_allclose(lrs, [0.2 * 0.95**e for e in range(STEPS + 1)], rtol=1e-15)
    same = course_sequence(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.95))
    np.testing.assert_allclose(lrs, same, rtol=1e-13)


def test_linear_decay_goes_from_lr0_to_the_final_fraction_then_stays():
    tau = 10
    lrs = course_sequence(lambda o: lr_scheduler.LinearDecay(o, tau=tau))
    expected = [(1 - min(k, tau) / tau) * 0.2 + min(k, tau) / tau * 0.002 for k in range(STEPS + 1)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    assert lrs[0] == 0.2 and lrs[tau] == pytest.approx(0.002) and len(set(lrs[tau:])) == 1
    assert np.all(np.diff(lrs[: tau + 1]) < 0)


def test_course_decays_apply_to_every_group_from_its_own_initial_lr():
    opt = make_tg_optimizer()
    sched = lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
    opt.step()
    sched.step()
    assert sched.get_last_lr() == [0.1 / 2, 0.03 / 2]


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: lr_scheduler.MultiStepLR(o, milestones=[1.5]), ValueError, "milestones"),
    (lambda o: lr_scheduler.LambdaLR(o, [lambda e: 1.0]), ValueError, "2 lr_lambdas"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="median"), ValueError, "mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lrs"),
    (lambda o: lr_scheduler.InverseTimeDecay(o, decay_rate=-1.0), ValueError, "decay_rate"),
    (lambda o: lr_scheduler.InverseTimeDecay(o, 1.0, time_interval=0), ValueError,
     "time_interval"),
    (lambda o: lr_scheduler.InverseSqrtDecay(o, k=0.0), ValueError, "k must be"),
    (lambda o: lr_scheduler.ExponentialDecay(o, base=1.5), ValueError, "base"),
    (lambda o: lr_scheduler.LinearDecay(o, tau=0), ValueError, "tau"),
    (lambda o: lr_scheduler.LinearDecay(o, tau=5, final_fraction=-0.1), ValueError,
     "final_fraction"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2, last_epoch=4), KeyError, "initial_lr"),
    (lambda o: lr_scheduler.StepLR(object(), step_size=2), TypeError, "not an Optimizer"),
    (lambda o: lr_scheduler.ConstantLR(o, factor=1.5), ValueError,
     re.escape("factor must be a finite number in [0.0, 1.0], got 1.5")),
    (lambda o: lr_scheduler.ConstantLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), ValueError,
     re.escape("start_factor must be a finite number in (0.0, 1.0], got 0.0")),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=2.0), ValueError, "end_factor"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=2.5), ValueError, "total_iters"),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: lr_scheduler.PolynomialLR(o, power=-1.0), ValueError, "power"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1.5), ValueError,
     "T_mult"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 5, eta_min=-0.1), ValueError,
     "eta_min"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, 5).step(-1.0), ValueError, "epoch"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, total_steps=0), ValueError, "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=3), ValueError,
     "epochs"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"), ValueError,
     "anneal_strategy"),
    (lambda o: lr_scheduler.OneCycleLR(o, [1.0], 10), ValueError, "2 values of max_lr"),
    (lambda o: lr_scheduler.OneCycleLR(o, 1.0, 10, div_factor=0.0), ValueError, "div_factor"),
    (lambda o: lr_scheduler.OneCycleLR(optim.Adagrad(o.param_groups[0]["params"]), 1.0, 10),
     ValueError, "cycle_momentum=False"),
    (lambda o: lr_scheduler.SequentialLR(o, [], milestones=[]), ValueError, "at least one"),
    (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], milestones=[]), ValueError,
     "expected 1 milestones"),
    (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.StepLR(o, 2)] * 3, milestones=[5, 2]), ValueError, "increasing"),
    (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.StepLR(make_tg_optimizer(), 2)], milestones=[]), ValueError,
     "another optimizer"),
    (lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.ReduceLROnPlateau(o)], milestones=[]), ValueError, "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.ChainedScheduler([]), ValueError, "at least one"),
    (lambda o: lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(o, 2), "StepLR"]), TypeError,
     r"schedulers\[1\] is a str"),
    (lambda o: lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(o, 2)], optimizer=optim.SGD(
        [tg.ones(1, requires_grad=True)])), ValueError, "another optimizer"),
])
def test_bad_scheduler_arguments_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make(make_tg_optimizer())


def test_reduce_lr_on_plateau_resumes_from_a_checkpoint(tmp_path):
    metrics = [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.85]

    def run(sched, values):
        out = []
        for m in values:
            sched.step(m)
            out.append(sched.get_last_lr())
        return out

    opt = make_tg_optimizer()
    full = run(lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=1), metrics)
    opt = make_tg_optimizer()
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=1)
    first = run(sched, metrics[:5])
    save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt")
    ckpt = load(tmp_path / "ckpt")
    opt = make_tg_optimizer()
    resumed = lr_scheduler.ReduceLROnPlateau(opt)  # mode etc. come from the checkpoint
    opt.load_state_dict(ckpt["optim"])
    resumed.load_state_dict(ckpt["sched"])
    assert run(resumed, metrics[5:]) == full[5:] and first == full[:5]
    assert resumed.mode_worse == -math.inf  # an infinite float survives the checkpoint
    assert full[-1] != full[0]

"""25 training steps of a small MLP with batch norm: every optimizer (and a few schedulers)
against PyTorch, parameters and running statistics compared at the end."""

import numpy as np
import pytest

import tinygrad_c2 as tg
import tinygrad_c2.nn.functional as F
from tinygrad_c2 import optim
from tinygrad_c2.optim import lr_scheduler

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_torch():
    """Tiny tensors: torch's thread pool only costs time here (5x on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

STEPS, BATCH, D_IN, HIDDEN, CLASSES = 25, 16, 5, 8, 3

OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, centered=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.99))),
    ("AdamW", dict(lr=0.01, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
    ("Adadelta", dict(lr=1.0, rho=0.9)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=1e-3)),
]
SCHEDULERS = [
    (None, {}),
    ("StepLR", dict(step_size=5, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=1e-4)),
    ("ExponentialLR", dict(gamma=0.9)),
]


def make_data():
    rng = np.random.default_rng(0)
    # NOTE: no bias before batch norm: its exact gradient is 0, and Adam would turn the
    # rounding noise left in it into full-size steps that no two libraries share.
    init = [rng.standard_normal((HIDDEN, D_IN)) * 0.5,
            1 + 0.1 * rng.standard_normal(HIDDEN), 0.1 * rng.standard_normal(HIDDEN),
            rng.standard_normal((CLASSES, HIDDEN)) * 0.5, rng.standard_normal(CLASSES) * 0.1]
    batches = [(rng.standard_normal((BATCH, D_IN)), rng.integers(0, CLASSES, BATCH))
               for _ in range(STEPS)]
    return init, batches


def groups(params):
    """Weights decay, biases and batch-norm parameters do not (the course's practice)."""
    w1, gamma, beta, w2, b2 = params
    return [{"params": [w1, w2], "weight_decay": 1e-3},
            {"params": [gamma, beta, b2], "weight_decay": 0.0}]


def train_tg(opt_name, opt_kwargs, sched_name, sched_kwargs):
    init, batches = make_data()
    params = [tg.Tensor(a.copy(), requires_grad=True) for a in init]
    running_mean, running_var = np.zeros(HIDDEN), np.ones(HIDDEN)
    opt = getattr(optim, opt_name)(groups(params), **opt_kwargs)
    sched = getattr(lr_scheduler, sched_name)(opt, **sched_kwargs) if sched_name else None
    w1, gamma, beta, w2, b2 = params
    for x, y in batches:
        opt.zero_grad()
        h = F.batch_norm(F.linear(tg.Tensor(x), w1), running_mean, running_var, gamma, beta,
                         training=True)
        loss = F.cross_entropy(F.linear(F.relu(h), w2, b2), tg.Tensor(y))
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    return [p.data for p in params] + [running_mean, running_var]


def train_torch(opt_name, opt_kwargs, sched_name, sched_kwargs):
    tF = torch.nn.functional
    init, batches = make_data()
    params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    running_mean, running_var = torch.zeros(HIDDEN, dtype=torch.float64), torch.ones(
        HIDDEN, dtype=torch.float64)
    opt = getattr(torch.optim, opt_name)(groups(params), foreach=False, **opt_kwargs)
    sched = (getattr(torch.optim.lr_scheduler, sched_name)(opt, **sched_kwargs)
             if sched_name else None)
    w1, gamma, beta, w2, b2 = params
    for x, y in batches:
        opt.zero_grad()
        h = tF.batch_norm(tF.linear(torch.tensor(x), w1), running_mean, running_var, gamma,
                          beta, training=True)
        loss = tF.cross_entropy(tF.linear(tF.relu(h), w2, b2), torch.tensor(y))
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    return [p.detach().numpy() for p in params] + [running_mean.numpy(), running_var.numpy()]


@pytest.mark.parametrize(("sched_name", "sched_kwargs"), SCHEDULERS,
                         ids=[s or "no-scheduler" for s, _ in SCHEDULERS])
@pytest.mark.parametrize(("opt_name", "opt_kwargs"), OPTIMIZERS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}"
                              for n, kw in OPTIMIZERS])
def test_mlp_with_batch_norm_trains_like_torch(opt_name, opt_kwargs, sched_name, sched_kwargs):
    ours = train_tg(opt_name, opt_kwargs, sched_name, sched_kwargs)
    theirs = train_torch(opt_name, opt_kwargs, sched_name, sched_kwargs)
    init, _ = make_data()
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"array {i}")
        if i < len(init):
            assert not np.allclose(a, init[i])  # training really moved every parameter


@pytest.mark.parametrize(("opt_name", "opt_kwargs", "sched_kwargs"), [
    ("SGD", dict(lr=0.1, momentum=0.9), dict(max_lr=0.5, total_steps=STEPS)),
    ("Adam", dict(lr=0.01), dict(max_lr=0.05, total_steps=STEPS, three_phase=True)),
    ("NAdam", dict(lr=0.01), dict(max_lr=0.05, total_steps=STEPS, anneal_strategy="linear")),
])
def test_mlp_with_one_cycle_lr_and_momentum_trains_like_torch(opt_name, opt_kwargs, sched_kwargs):
    ours = train_tg(opt_name, opt_kwargs, "OneCycleLR", sched_kwargs)
    theirs = train_torch(opt_name, opt_kwargs, "OneCycleLR", sched_kwargs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"array {i}")


def test_course_momentum_trains_the_mlp_like_torch_sgd_with_scaled_lr():
    lr, beta = 0.1, 0.9
    ours = train_tg("Momentum", dict(lr=lr, beta=beta), None, {})
    theirs = train_torch("SGD", dict(lr=lr * (1 - beta), momentum=beta), None, {})
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)

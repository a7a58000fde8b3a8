"""nn.Sequential runs Linear, BatchNorm1d, ReLU/Tanh/Sigmoid and Dropout layers as one LinearRun
node: values, gradients, running statistics and dropout masks bit for bit those of the layers
one by one, in training and eval mode, and nothing else a user can see changes (errors and
their side effects, viz, anomaly mode, profiles, captured steps, second derivatives)."""

import numpy as np
import pytest
from test_fused_linear import same_error, unfused  # the layers called one by one

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim, rng, viz
from tinygrad_c2.bench.measure import peak_step_memory
from tinygrad_c2.engine import AnomalyError
from tinygrad_c2.nn.functional.linear import LinearRun
from tinygrad_c2.nn.functional.norm import BatchNorm

F = nn.functional


def bn_mlp(dtype=tg.float32, act=nn.ReLU, p=0.2, **bn):
    """mnist_bn's model, small: Linear, BatchNorm1d, activation, Dropout, twice, then Linear."""
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16, bias=False), nn.BatchNorm1d(16, **bn), act(),
                         nn.Dropout(p), nn.Linear(16, 8, bias=False), nn.BatchNorm1d(8, **bn),
                         act(), nn.Dropout(p), nn.Linear(8, 3)).to(dtype)


def step_of(model, x, run, seed=7):
    """One step's output, loss gradients of every parameter (and of x) and the buffers after
    it, with the dropout masks drawn from tg.rng seeded with `seed`; and the generator's next
    draw (the same number of draws were made)."""
    model.zero_grad()
    if x.requires_grad:
        x.grad = None
    tg.manual_seed(seed)
    out = run(model, x)
    cotangent = np.random.default_rng(3).standard_normal(out.shape).astype(out.dtype)
    (out * tg.tensor(cotangent)).sum().backward()
    grads = [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]
    xg = x.grad.numpy().copy() if x.requires_grad else None
    buffers = [b.numpy().copy() for b in model.buffers()]
    return out.numpy().copy(), grads, xg, buffers, rng.generator().random()


def assert_bit_identical(a, b):
    """Two step_of results: every array equal, bit for bit and in dtype."""
    def flat(result):
        return [v for part in result for v in (part if isinstance(part, list) else [part])]

    for u, v in zip(flat(a), flat(b), strict=True):
        assert (u is None) == (v is None)
        if u is not None:
            np.testing.assert_array_equal(u, v)
            assert np.asarray(u).dtype == np.asarray(v).dtype


def batch(dtype, requires_grad=False, n=10):
    return tg.tensor(np.random.default_rng(1).standard_normal((n, 6)) * 3, dtype=dtype,
                     requires_grad=requires_grad)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("x_grad", [False, True])
@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid])
def test_a_batch_norm_mlp_step_is_bit_identical_to_the_layers_one_by_one(dtype, x_grad, act):
    fused, one_by_one = bn_mlp(dtype, act), bn_mlp(dtype, act)
    x = batch(dtype, x_grad)
    for _ in range(3):  # running statistics and the batch count after several steps
        a, b = step_of(fused, x, nn.Sequential.forward), step_of(one_by_one, x, unfused)
        assert_bit_identical(a, b)
    op = {nn.ReLU: "Relu", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}[act]
    assert fused(x).grad_fn.name() == (f"Linear+BatchNorm+{op}+Dropout+Linear+BatchNorm+{op}+"
                                       "Dropout+Linear")
    assert int(fused[1].num_batches_tracked.numpy()) == 4


@pytest.mark.parametrize("bn", [dict(affine=False), dict(track_running_stats=False),
                                dict(momentum=None), dict(bias=False), dict(eps=1e-3)])
def test_batch_norm_options_fuse_bit_identically(bn):
    fused, one_by_one = bn_mlp(tg.float64, **bn), bn_mlp(tg.float64, **bn)
    x = batch(tg.float64, True)
    for _ in range(3):
        assert_bit_identical(step_of(fused, x, nn.Sequential.forward),
                             step_of(one_by_one, x, unfused))


LAYOUTS = {
    "batch_norm_first": lambda: [nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3)],
    "dropout_between_linears": lambda: [nn.Linear(6, 5), nn.Dropout(0.4), nn.Linear(5, 3)],
    "activation_then_dropout": lambda: [nn.Linear(6, 5), nn.Tanh(), nn.Dropout(0.4),
                                        nn.Linear(5, 3), nn.Sigmoid()],
    "dropout_then_activation": lambda: [nn.Linear(6, 5), nn.Dropout(0.4), nn.ReLU(),
                                        nn.BatchNorm1d(5), nn.Linear(5, 3)],
    "two_batch_norms_and_p_1": lambda: [nn.Linear(6, 5), nn.BatchNorm1d(5),
                                        nn.BatchNorm1d(5, affine=False), nn.Dropout(1.0),
                                        nn.Linear(5, 3)],
    "frozen_first_layer": lambda: [nn.Linear(6, 5).requires_grad_(False), nn.BatchNorm1d(5),
                                   nn.ReLU(), nn.Linear(5, 3)],
}


def layout(name):
    tg.manual_seed(0)
    return nn.Sequential(*LAYOUTS[name]()).double()


@pytest.mark.parametrize("name", sorted(LAYOUTS))
@pytest.mark.parametrize("x_grad", [False, True])
def test_other_layouts_of_runs_are_bit_identical_to_the_layers_one_by_one(name, x_grad):
    fused, one_by_one = layout(name), layout(name)
    x = batch(tg.float64, x_grad)
    for _ in range(2):
        assert_bit_identical(step_of(fused, x, nn.Sequential.forward),
                             step_of(one_by_one, x, unfused))
    assert type(fused(x).grad_fn) is LinearRun


def test_three_dimensional_input_fuses_bit_identically():
    def model():
        tg.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(3), nn.ReLU(),
                             nn.Linear(5, 2)).double()

    x = tg.tensor(np.random.default_rng(0).standard_normal((7, 3, 4)), requires_grad=True)
    assert_bit_identical(step_of(model(), x, nn.Sequential.forward), step_of(model(), x, unfused))


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_eval_mode_uses_the_running_statistics_and_drops_nothing(dtype):
    fused, one_by_one = bn_mlp(dtype), bn_mlp(dtype)
    x = batch(dtype, True)
    step_of(fused, x, nn.Sequential.forward)  # running statistics of one batch
    step_of(one_by_one, x, unfused)
    fused.eval()
    one_by_one.eval()
    assert fused(x).grad_fn.name() == "Linear+BatchNorm+Relu+Linear+BatchNorm+Relu+Linear"
    assert_bit_identical(step_of(fused, x, nn.Sequential.forward),
                         step_of(one_by_one, x, unfused))
    with tg.no_grad():  # inference: no node at all
        np.testing.assert_array_equal(fused(x).numpy(), unfused(one_by_one, x).numpy())


def test_the_plan_follows_train_and_eval_between_calls():
    fused, one_by_one = bn_mlp(tg.float64), bn_mlp(tg.float64)
    x = batch(tg.float64, True)
    for training in (True, False, True, False, True):
        fused.train(training)
        one_by_one.train(training)
        assert_bit_identical(step_of(fused, x, nn.Sequential.forward),
                             step_of(one_by_one, x, unfused))
    # one layer switched alone (train() on a child) is followed too
    fused[3].eval()
    one_by_one[3].eval()
    assert_bit_identical(step_of(fused, x, nn.Sequential.forward),
                         step_of(one_by_one, x, unfused))
    assert fused(x).grad_fn.name().count("Dropout") == 1


def test_a_batch_norm_shape_error_mid_run_has_the_unfused_message_and_side_effects():
    def model():
        tg.manual_seed(0)
        return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(8, 5), nn.BatchNorm1d(7), nn.ReLU())

    results = []
    for run in (nn.Sequential.forward, unfused):
        m = model()
        tg.manual_seed(4)
        with pytest.raises(tg.OpError) as error:
            run(m, batch(tg.float32))
        results.append((str(error.value), m[1].running_mean.numpy().copy(),
                        m[1].running_var.numpy().copy(), int(m[1].num_batches_tracked.numpy()),
                        int(m[5].num_batches_tracked.numpy()), rng.generator().random()))
    assert results[0][0] == "BatchNorm1d(7): input has 5 channels in dimension 1 (shape (10, 5)),"\
        " expected 7"
    assert results[0][0] == results[1][0]
    assert results[0][3:] == results[1][3:] == (1, 0, results[1][5])  # the first BN counted
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][2], results[1][2])
    assert not np.array_equal(results[0][1], np.zeros(8))  # it did update before the error


@pytest.mark.parametrize("bad", ["rank", "list", "int"])
def test_bad_input_to_a_run_gets_the_layers_own_errors(bad):
    model = nn.Sequential(nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    x = {"rank": tg.ones(6), "list": [[1.0] * 6] * 2,
         "int": tg.tensor(np.ones((2, 6), np.int64))}[bad]
    same_error(model, x)


def test_the_owned_gradient_is_written_over_and_gives_the_same_gradients():
    model = bn_mlp(tg.float64)
    x = batch(tg.float64, True)
    node = model(x).grad_fn
    seed = np.random.default_rng(2).standard_normal((10, 3))
    expected = node.backward(node, seed.copy())
    node.grad_owned = True
    g = seed.copy()
    got = node.backward(node, g)
    node.grad_owned = False
    for a, b in zip(expected, got, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)
    # fresh_grads: every gradient is a new array, sharing memory with no other one, no saved
    # array and no parameter (BatchNorm's dgamma and dbeta too)
    arrays = [a for a in expected if a is not None]
    held = [a for s in node.saved_tensors for a in (s if isinstance(s, list) else [s])
            if isinstance(a, np.ndarray)]
    held += [p._data for p in model.parameters()]
    for i, a in enumerate(arrays):
        assert not any(np.shares_memory(a, b) for b in arrays[i + 1:] + held)
        assert not np.shares_memory(a, seed)


def test_a_run_consumed_twice_gets_the_unfused_gradients():
    def run_twice(model, x):
        out = model(x) if model is fused else unfused(model, x)
        return out * 2.0 + out.tanh()

    fused, one_by_one = bn_mlp(tg.float64), bn_mlp(tg.float64)
    x = batch(tg.float64, True)
    assert_bit_identical(step_of(fused, x, run_twice), step_of(one_by_one, x, run_twice))


@pytest.mark.parametrize("name", ["bn_mlp", "batch_norm_first", "dropout_then_activation"])
def test_second_derivatives_equal_the_unfused_ones_and_do_not_touch_the_statistics(name):
    results = []
    for run in (nn.Sequential.forward, unfused):
        model = bn_mlp(tg.float64, nn.Tanh) if name == "bn_mlp" else layout(name)
        x = batch(tg.float64, True)
        tg.manual_seed(5)
        out = run(model, x)
        stats = [b.numpy().copy() for b in model.buffers()]
        (gx,) = tg.autograd.grad((out * out).sum(), x, create_graph=True)
        assert all(np.array_equal(a, b.numpy()) for a, b in zip(stats, model.buffers(),
                                                                strict=True))
        (hx, hw) = tg.autograd.grad((gx * gx).sum(), [x, model[-1].weight])
        results.append((gx.numpy(), hx.numpy(), hw.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    for a, b in zip(results[0][1:], results[1][1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_a_run_with_batch_norm_passes_gradcheck_and_gradgradcheck():
    tg.manual_seed(1)
    x = tg.randn(5, 3, dtype=tg.float64, requires_grad=True)
    w1 = tg.randn(4, 3, dtype=tg.float64, requires_grad=True)
    gamma = tg.randn(4, dtype=tg.float64, requires_grad=True)
    beta = tg.randn(4, dtype=tg.float64, requires_grad=True)
    w2 = tg.randn(2, 4, dtype=tg.float64, requires_grad=True)
    stages = (None, (BatchNorm, "tanh", 4, (True, 0.1, 1e-5)), "sigmoid")

    def fn(x, w1, gamma, beta, w2):
        return LinearRun.apply(x, stages, w1, None, None, None, gamma, beta, w2, None)

    assert tg.gradcheck(lambda *a: (fn(*a) * tg.tensor([[1.0, -2.0]])).sum(),
                        (x, w1, gamma, beta, w2)).passed
    assert tg.gradgradcheck(fn, (x, w1, gamma, beta, w2))


def test_viz_draws_every_fused_layer_in_its_modules_cluster_as_unfused():
    model = bn_mlp()
    x = batch(tg.float32)
    for show_saved in (False, True):
        tg.manual_seed(2)
        fused = viz.draw_graph(model(x), model, show_saved=show_saved).source
        tg.manual_seed(2)
        assert fused == viz.draw_graph(unfused(model, x), model, show_saved=show_saved).source
    assert 'label="1: BatchNorm1d"' in fused and ">BatchNorm<" in fused and ">Dropout<" in fused
    assert "momentum=0.1" in fused and "p=0.2" in fused
    tg.manual_seed(2)
    drawn = viz.draw_model(model, x, tg.tensor(np.arange(10) % 3), nn.CrossEntropyLoss(),
                           backward=True).source
    model[1].forward = model[1].forward  # an instance's own forward: unfused from now on
    tg.manual_seed(2)
    assert drawn == viz.draw_model(model, x, tg.tensor(np.arange(10) % 3),
                                   nn.CrossEntropyLoss(), backward=True).source


def test_anomaly_mode_and_profiles_run_the_layers_unfused():
    model = bn_mlp()
    x = batch(tg.float32)
    with tg.detect_anomaly():
        assert model(x).grad_fn.name() == "Linear"
        model[1].weight._data[0] = np.inf
        with pytest.raises(AnomalyError, match="^BatchNorm forward produced"):
            model(x)
        model[1].weight._data[0] = 1.0

    def step():
        loss = model(x).sum()
        loss.backward()
        return loss

    names = sorted(node.name() for node in viz.profile(step).forward)
    assert names == sorted(["Linear"] * 3 + ["BatchNorm", "Relu", "Dropout"] * 2 + ["Sum"])


def test_only_the_library_classes_with_their_own_forward_fuse():
    class MyBatchNorm(nn.BatchNorm1d):
        """A user subclass: it runs as written, never fused."""

    model = nn.Sequential(nn.Linear(6, 4), MyBatchNorm(4), nn.ReLU(), nn.Linear(4, 4),
                          nn.BatchNorm1d(4), nn.Identity(), nn.Linear(4, 2))
    model(batch(tg.float32))
    assert [type(s).__name__ if not isinstance(s, tuple) else "run" for s in model._plan[2]] \
        == ["Linear", "MyBatchNorm", "ReLU", "run", "Identity", "Linear"]
    seen = []
    model[4].forward = lambda x: seen.append(1) or x  # an instance's own forward
    assert model(batch(tg.float32)).grad_fn.name() == "Linear"
    assert seen == [1]


def test_a_patched_batch_norm_forward_runs_instead_of_the_fused_node(monkeypatch):
    model = bn_mlp()
    model(batch(tg.float32))  # the plan is made and cached
    calls = []
    original = nn.BatchNorm1d.forward
    monkeypatch.setattr(nn.BatchNorm1d, "forward",
                        lambda self, x: calls.append(1) or original(self, x))
    model(batch(tg.float32))
    assert calls == [1, 1]


def test_a_captured_step_replays_the_fused_eager_step_bit_for_bit():
    eager, captured = bn_mlp(tg.float64), bn_mlp(tg.float64)
    eager_opt = optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    captured_opt = optim.SGD(captured.parameters(), lr=0.1, momentum=0.9)
    step = tg.capture(lambda X, y: F.cross_entropy(captured(X), y), optimizer=captured_opt)
    gen = np.random.default_rng(1)
    for i in range(4):
        X, y = gen.standard_normal((7, 6)), gen.integers(0, 3, 7)
        tg.manual_seed(100 + i)
        eager_opt.zero_grad()
        eager_loss = F.cross_entropy(eager(tg.tensor(X)), tg.tensor(y))
        assert eager_loss.grad_fn.parents[0].grad_fn.name().startswith("Linear+BatchNorm")
        eager_loss.backward()
        eager_opt.step()
        tg.manual_seed(100 + i)
        assert step(X, y).item() == eager_loss.item()
        for (name, a), (_, b) in zip(eager.state_dict().items(), captured.state_dict().items(),
                                     strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"step {i}: {name}")
    assert int(captured[1].num_batches_tracked.numpy()) == 4  # counted once a replay


def test_a_fused_step_peaks_at_no_more_memory_than_the_layers_one_by_one():
    # the run frees each kernel's saved arrays once its backward ran (the engine frees an
    # unfused node's after its backward), so the top layers' are gone when the bottom's
    # weight gradient is made
    def model():
        tg.manual_seed(0)
        return nn.Sequential(nn.Linear(64, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                             nn.Dropout(0.2), nn.Linear(128, 128, bias=False),
                             nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 4))

    x = tg.tensor(np.random.default_rng(0).standard_normal((256, 64)), dtype=tg.float32)
    y = tg.tensor(np.arange(256) % 4)
    peaks = []
    for m, run in ((model(), nn.Sequential.forward), (model(), unfused)):
        def step(m=m, run=run):
            m.zero_grad()
            F.cross_entropy(run(m, x), y).backward()

        step()
        peaks.append(peak_step_memory(step))
    assert peaks[0] <= peaks[1] + 4096  # (a few Python objects more; an activation is 128k)

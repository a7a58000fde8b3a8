"""nn.Sequential runs Linear layers with ReLU/Tanh/Sigmoid after them as one LinearRun node:
values and gradients bit for bit those of the unfused layers, and nothing else a user can see
changes (errors, anomaly mode, viz clusters, captured steps, module guards)."""

import importlib

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim, viz
from tinygrad_c2.engine import AnomalyError
from tinygrad_c2.nn.functional.linear import LinearRun
from tinygrad_c2.nn.modules.container import stage_seqs
from tinygrad_c2.nn.modules.module import module_calls

F = nn.functional
ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def unfused(model, x):
    """The layers called one by one (Sequential's fusion never sees them)."""
    for m in model:
        x = m(x)
    return x


def same_error(model, x) -> BaseException:
    """The exception the fused model raises on x, after checking that the layers called one
    by one raise the same type with the same message."""
    with pytest.raises(Exception) as fused:
        model(x)
    with pytest.raises(Exception) as one_by_one:
        unfused(model, x)
    assert type(fused.value) is type(one_by_one.value)
    assert str(fused.value) == str(one_by_one.value)
    return fused.value


def mlp(act="relu", bias=True, dtype=tg.float32, dims=(3, 6, 5, 2), last_act=False):
    tg.manual_seed(0)
    layers = []
    for i in range(1, len(dims)):
        layers.append(nn.Linear(dims[i - 1], dims[i], bias=bias))
        if i < len(dims) - 1 or last_act:
            layers.append(ACTS[act]())
    return nn.Sequential(*layers).to(dtype)


def grads_of(model, x, run):
    """Output, loss gradient of every parameter and of x, after one backward of a weighted sum
    (a random cotangent: a plain sum would hide a transposed gradient)."""
    model.zero_grad()
    if isinstance(x, tg.Tensor) and x.requires_grad:
        x.grad = None
    out = run(model, x)
    seed = np.random.default_rng(3).standard_normal(out.shape).astype(out.dtype)
    (out * tg.tensor(seed)).sum().backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    xg = x.grad.numpy().copy() if isinstance(x, tg.Tensor) and x.requires_grad else None
    return out.numpy().copy(), grads, xg


def assert_bit_identical(a, b):
    (out_a, grads_a, x_a), (out_b, grads_b, x_b) = a, b
    np.testing.assert_array_equal(out_a, out_b)
    assert out_a.dtype == out_b.dtype
    for ga, gb in zip(grads_a, grads_b, strict=True):
        np.testing.assert_array_equal(ga, gb)
        assert ga.dtype == gb.dtype
    if x_a is None:
        assert x_b is None
    else:
        np.testing.assert_array_equal(x_a, x_b)


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_grad", [True, False])
def test_fused_values_and_gradients_are_bit_identical_to_the_layers_one_by_one(
        act, dtype, bias, x_grad):
    model = mlp(act, bias, dtype, last_act=act != "relu")
    assert model(tg.ones(2, 3, dtype=dtype)).grad_fn.name().startswith("Linear+")
    x = tg.tensor(np.random.default_rng(1).standard_normal((8, 3)) * 3, dtype=dtype,
                  requires_grad=x_grad)
    assert_bit_identical(grads_of(model, x, nn.Sequential.forward),
                         grads_of(model, x, unfused))


def test_relu_at_exactly_zero_and_at_nan_behaves_as_the_unfused_relu():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    with tg.no_grad():
        model[0].weight.copy_(tg.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        model[0].bias.zero_()
    # row 0 makes z exactly 0 (subgradient 0), row 1 a NaN (the gradient passes)
    x = tg.tensor([[0.0, -1.0], [np.nan, 2.0], [1.0, -1.0]], requires_grad=True)
    with np.errstate(invalid="ignore"):
        fused, one_by_one = (grads_of(model, x, nn.Sequential.forward),
                             grads_of(model, x, unfused))
    assert np.isnan(fused[0]).any()
    assert_bit_identical(fused, one_by_one)


def test_input_layer_computes_no_input_gradient():
    model = mlp()
    x = tg.randn(4, 3)
    out = model(x)
    grads = out.grad_fn.backward(out.grad_fn, np.ones(out.shape, np.float32))
    assert grads[0] is None and grads[1] is None  # no dX, and nothing for the activations
    assert all(g is not None for g in grads[2:])


def test_owned_gradient_is_overwritten_and_gives_the_same_gradients():
    # the engine sets grad_owned for an array nobody else holds; the in-place path must give
    # what the out-of-place one gives
    model = mlp("tanh", last_act=True)
    x = tg.randn(5, 3, requires_grad=True)
    seed = np.random.default_rng(2).standard_normal((5, 2)).astype(np.float32)
    node = model(x).grad_fn
    node.grad_owned = False
    expected = node.backward(node, seed.copy())
    g = seed.copy()
    node.grad_owned = True
    got = node.backward(node, g)
    assert not np.array_equal(g, seed)  # it did work in place
    for a, b in zip(expected, got, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_runs_fuse_only_library_classes_with_their_own_forward():
    class MyReLU(nn.ReLU):
        """A user subclass: it runs as written, never fused."""

    model = nn.Sequential(nn.Linear(3, 4), MyReLU(), nn.Linear(4, 4), nn.ReLU(),
                          nn.Dropout(0.0), nn.Linear(4, 2))
    # (the Dropout of p=0 is the identity inside the run: tests/test_fused_layers.py)
    assert model(tg.ones(2, 3)).grad_fn.name() == "Linear+Relu+Linear"
    assert [type(s).__name__ if not isinstance(s, tuple) else "run" for s in model._plan[2]] \
        == ["Linear", "MyReLU", "run"]
    seen = []
    model[3].forward = lambda x: seen.append(1) or F.relu(x)  # an instance's own forward
    assert model(tg.ones(2, 3)).grad_fn.name() == "Linear"
    assert seen == [1]


def test_a_patched_class_forward_runs_instead_of_the_fused_node(monkeypatch):
    model = mlp()
    model(tg.ones(2, 3))  # the plan is made and cached
    calls = []
    original = nn.ReLU.forward
    monkeypatch.setattr(nn.ReLU, "forward", lambda self, x: calls.append(1) or original(self, x))
    model(tg.ones(2, 3))
    assert calls == [1, 1]


def test_replacing_a_layer_replans():
    model = mlp()
    assert model(tg.ones(2, 3)).grad_fn.name() == "Linear+Relu+Linear+Relu+Linear"
    setattr(model, "1", nn.Identity())  # registered in place of the ReLU
    assert model(tg.ones(2, 3)).grad_fn.name() == "Linear+Relu+Linear"


def test_a_rebound_or_deleted_parameter_is_the_one_the_next_forward_uses():
    model, x = mlp(), tg.tensor(np.random.default_rng(1).standard_normal((4, 3)), dtype=tg.float32)
    model(x)  # the plan is made, with the parameters of this moment
    model[0].weight = nn.Parameter(np.full((6, 3), 0.5, np.float32))
    model[2].bias = None
    fused, by_layer = grads_of(model, x, lambda m, v: m(v)), grads_of(model, x, unfused)
    assert_bit_identical(fused, by_layer)
    assert model(x).grad_fn.parents[2] is model[0].weight  # the new Parameter itself
    assert len(list(model.parameters())) == 5


def test_anomaly_mode_runs_unfused_and_names_the_failing_op():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    with tg.detect_anomaly():
        out = model(tg.ones(3, 2))
        assert out.grad_fn.name() == "Linear"
        with pytest.raises(AnomalyError, match="^Linear forward produced inf"):
            model(tg.tensor([[np.inf, 1.0]]))


@pytest.mark.parametrize("bad", ["input", "layer", "dtype"])
def test_shape_and_dtype_errors_are_the_unfused_layers_errors(bad):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4 if bad != "layer" else 5, 2))
    x = {"input": tg.ones(2, 5), "layer": tg.ones(2, 3),
         "dtype": tg.tensor(np.ones((2, 3)))}[bad]
    assert "linear" in str(same_error(model, x))


def test_a_non_tensor_input_gets_the_linear_layers_error():
    with pytest.raises(TypeError, match="Linear: expected a Tensor"):
        mlp()([[1.0, 2.0, 3.0]])


def test_fused_gradients_pass_gradcheck_and_gradgradcheck():
    tg.manual_seed(1)
    x = tg.randn(4, 3, dtype=tg.float64, requires_grad=True)
    w1, b1 = tg.randn(5, 3, dtype=tg.float64, requires_grad=True), tg.randn(5, dtype=tg.float64)
    w2 = tg.randn(2, 5, dtype=tg.float64, requires_grad=True)
    b2 = tg.randn(2, dtype=tg.float64, requires_grad=True)

    def fn(x, w1, w2, b2):
        return LinearRun.apply(x, ("tanh", "sigmoid"), w1, b1, w2, b2)

    assert tg.gradcheck(lambda *a: fn(*a).sum(), (x, w1, w2, b2)).passed
    assert tg.gradgradcheck(fn, (x, w1, w2, b2))


def test_viz_draws_each_fused_layer_in_its_modules_cluster_as_unfused():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = tg.ones(5, 3)
    fused = viz.draw_graph(model(x), model).source
    drawn_unfused = viz.draw_graph(unfused(model, x), model).source
    assert fused == drawn_unfused
    assert 'label="1: ReLU"' in fused and ">Relu<" in fused


def test_viz_shows_what_a_freed_fused_node_saved_per_layer():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = tg.ones(5, 3)
    a = viz.draw_graph(model(x), model, show_saved=True).source
    b = viz.draw_graph(unfused(model, x), model, show_saved=True).source
    assert a == b


def test_a_captured_fused_step_replays_bit_identically_to_the_unfused_eager_step():
    eager, captured = mlp(dtype=tg.float64), mlp(dtype=tg.float64)
    eager_opt = optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    captured_opt = optim.SGD(captured.parameters(), lr=0.1, momentum=0.9)
    step = tg.capture(lambda X, y: F.cross_entropy(captured(X), y), optimizer=captured_opt)
    gen = np.random.default_rng(1)
    for i in range(4):
        X, y = gen.standard_normal((7, 3)), gen.integers(0, 2, 7)
        eager_opt.zero_grad()
        eager_loss = F.cross_entropy(unfused(eager, tg.tensor(X)), tg.tensor(y))
        eager_loss.backward()
        eager_opt.step()
        assert step(X, y).item() == eager_loss.item()
        for a, b in zip(eager.parameters(), captured.parameters(), strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"step {i}")


def test_a_captured_step_guards_the_modules_a_fused_run_skipped():
    model = mlp(dtype=tg.float64)
    step = tg.capture(lambda X: model(X).sum())
    X = np.ones((2, 3))
    step(X)
    step(X)
    with tg.no_grad():
        model[2].weight.mul_(2.0)  # values change in place: the replay reads them
    expected = unfused(model, tg.tensor(X)).sum().item()
    assert step(X).item() == expected
    setattr(model, "2", nn.Linear(6, 5).double())  # a new layer: the guard re-traces
    assert step(X).item() == unfused(model, tg.tensor(X)).sum().item()


def test_a_captured_step_is_told_of_every_module_a_fused_run_stands_for(monkeypatch):
    tracer = importlib.import_module("tinygrad_c2.capture")._Tracer  # tg.capture: a function
    seen = []
    original = tracer.module_called
    monkeypatch.setattr(tracer, "module_called",
                        lambda self, m: seen.append(m) or original(self, m))
    model = mlp(dtype=tg.float64)
    tg.capture(lambda X: model(X).sum())(np.ones((2, 3)))
    assert [id(m) for m in seen] == [id(model), *(id(m) for m in model)]


def test_each_skipped_module_call_is_recorded_for_viz():
    model = mlp()
    model(tg.ones(2, 3))
    node = model(tg.ones(2, 3)).grad_fn
    for m, seq in zip(model, stage_seqs(node), strict=True):
        ((start, end),) = module_calls(m)  # this forward's call only
        assert start < seq < end


class Twice(nn.Module):
    """The same Sequential called twice in one forward (weights shared)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))

    def forward(self, x):
        return self.body(self.body(x))


def test_viz_draws_a_fused_run_called_twice_in_one_forward_as_unfused(monkeypatch):
    tg.manual_seed(0)
    model, x = Twice(), tg.ones(5, 3)
    fused = viz.draw_graph(model(x), model).source
    assert [type(s).__name__ for s in model.body._plan[2]] == ["tuple"]  # it did fuse
    original = nn.Linear.forward
    monkeypatch.setattr(nn.Linear, "forward", lambda self, x: original(self, x))  # unfuses
    drawn_unfused = viz.draw_graph(model(x), model).source
    assert fused == drawn_unfused
    assert 'label="call 1"' in fused  # each layer's two calls are sub-clusters


def test_a_fused_modules_calls_are_those_of_its_latest_forward():
    model, x = mlp(), tg.ones(2, 3)
    model(x)
    model[0](x)  # a forward of its own, after the run's
    assert module_calls(model[0]) == model[0].__dict__["_calls"][1]
    out = model(x)  # the run's forward is the latest again
    ((start, end),) = module_calls(model[0])
    ((outer_start, outer_end),) = module_calls(model)
    assert outer_start < start < out.grad_fn.seq < outer_end
    assert start < stage_seqs(out.grad_fn)[0] < end


def test_replanning_does_not_grow_the_modules_call_records():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))
    x = tg.ones(5, 3)
    for _ in range(20):
        model.train()
        model(x)
        model.eval()
        model(x)
    assert all(len(m.__dict__.get("_runs", ())) <= 2 for m in model)  # this plan's (wide, unwide)


def test_viz_of_a_deep_copied_model_draws_its_fused_layers_as_unfused():
    import copy

    model = mlp()
    model(tg.ones(2, 3))  # a plan, and call records, to copy
    twin = copy.deepcopy(model)
    x = tg.ones(4, 3)
    assert viz.draw_graph(twin(x), twin).source == viz.draw_graph(unfused(twin, x), twin).source


def test_a_profile_times_each_layer_unfused():
    model = mlp()
    x = tg.ones(4, 3)

    def step():
        loss = model(x).sum()
        loss.backward()
        return loss

    names = sorted(node.name() for node in viz.profile(step).forward)
    assert names == ["Linear", "Linear", "Linear", "Relu", "Relu", "Sum"]


def test_second_derivatives_through_a_fused_sequential_equal_the_unfused_ones():
    model = mlp("tanh", dtype=tg.float64, last_act=True)
    x = tg.tensor(np.random.default_rng(4).standard_normal((5, 3)), requires_grad=True)
    results = []
    for run in (nn.Sequential.forward, unfused):
        (gx,) = tg.autograd.grad(run(model, x).sum(), x, create_graph=True)
        (hx,) = tg.autograd.grad((gx * gx).sum(), x)
        results.append((gx.numpy(), hx.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)

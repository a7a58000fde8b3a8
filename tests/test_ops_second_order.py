"""Double backward of every primitive in ops/, driven by the op table of test_ops.py: the
second-order gradient against centered differences (tg.gradgradcheck) and against torch's
double backward in float64, third order on a few, and the first-order path left as it was."""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import ROWS, ZEROS, Row, _inputs

import tinygrad_c2 as tg
from tinygrad_c2 import function
from tinygrad_c2.function import PRIMITIVES, _NonDifferentiable

torch = pytest.importorskip("torch")

#: the differentiable primitives of ops/ (the fused nn ones are tests/test_nn_second_order's)
OPS_PRIMITIVES = {n for n, c in PRIMITIVES.items() if c.__module__.startswith("tinygrad_c2.ops.")
                  and not issubclass(c, _NonDifferentiable)}

# rows of the op table made of ops/ primitives only, plus the cases the table leaves out
TABLE_ROWS = [row for row in ROWS if set(row.prims) <= OPS_PRIMITIVES]
EXTRA_ROWS = [
    Row("clone", ("Cast", "Mul"), lambda a: a.clone() * a, None, lambda a: a.clone() * a,
        [((3,),), ((),)]),
    Row("prod_dim_with_one_and_two_zeros", ("Mul", "Prod"), lambda a: (a * ZEROS).prod(1),
        None, lambda a: (a * torch.tensor(ZEROS)).prod(1), [((3, 4),)]),
    Row("prod_all_with_two_zeros", ("Mul", "Prod"), lambda a: (a * ZEROS[2]).prod(),
        None, lambda a: (a * torch.tensor(ZEROS[2])).prod(), [((4,),)]),
    Row("pow_tensor_broadcast", ("Pow",), lambda a, b: a ** b, None, lambda a, b: a ** b,
        [((2, 1, 3), (4, 1))], (0.5, 2.0)),
    Row("max_dim_negative", ("Max",), lambda a: a.max(-2).values, None,
        lambda a: a.max(-2).values, [((2, 3, 4),)]),
    Row("cat_three_one_constant", ("Cat",), lambda a, b: tg.cat([a, tg.ones(2, 1,
                                                                            dtype=tg.float64), b],
                                                                  dim=-1), None,
        lambda a, b: torch.cat([a, torch.ones(2, 1, dtype=torch.float64), b], -1),
        [((2, 3), (2, 2))]),
    Row("index_ellipsis_none", ("Index",), lambda a: a[..., None, 1:3], None,
        lambda a: a[..., None, 1:3], [((2, 3, 4),)]),
    Row("clamp_max_only_0d", ("Clamp",), lambda a: a.clamp(max=0.2), None,
        lambda a: a.clamp(max=0.2), [((),)], away_from=[0.2]),
    Row("matmul_batched_vector", ("MatMul",), lambda a, b: a @ b, None, lambda a, b: a @ b,
        [((2, 3, 4), (4,)), ((4,), (2, 4, 3))]),
]
# std and norm where they are 0 (a constant row, a zero row): not differentiable there, so no
# centered differences. First order gives 0 there (torch's rule); second order gives 0 too,
# the derivative of that rule (as abs'' = 0 at 0), where torch's double backward gives NaN.
KINK_ROWS = [
    Row("std_of_a_constant_row", ("Mul", "Std"), lambda a: (a * ZEROS[:, :1]).std(1),
        None, lambda a: (a * torch.tensor(ZEROS[:, :1])).std(1), [((3, 4),)]),
    Row("norm_of_a_zero_row", ("Mul", "Norm"), lambda a: (a * ZEROS[:, :1]).norm(dim=1),
        None, lambda a: (a * torch.tensor(ZEROS[:, :1])).norm(dim=1), [((3, 4),)]),
]
SECOND_ROWS = TABLE_ROWS + EXTRA_ROWS
CASES = [(row, shapes) for row in SECOND_ROWS for shapes in row.shapes]
IDS = [f"{r.name}-{s}" for r, s in CASES]
TORCH_CASES = CASES + [(row, shapes) for row in KINK_ROWS for shapes in row.shapes]
TORCH_IDS = [f"{r.name}-{s}" for r, s in TORCH_CASES]

#: ops/ primitives the matrix leaves out, and why (none at the moment: keep it explicit)
EXCLUDED: dict[str, str] = {}


def test_every_differentiable_ops_primitive_has_a_second_order_row():
    covered = {p for row in SECOND_ROWS for p in row.prims}
    missing = OPS_PRIMITIVES - covered - set(EXCLUDED)
    assert not missing, f"ops/ primitives without a second-order row: {sorted(missing)}"
    assert len(OPS_PRIMITIVES) >= 45  # elementwise 24, index 3, linalg 1, movement 5, reduce 12


def test_every_differentiable_ops_primitive_has_a_differentiable_backward():
    missing = sorted(n for n in OPS_PRIMITIVES if PRIMITIVES[n].backward_graph is None)
    assert not missing, f"no backward_graph: {missing}"


def _leaves(row: Row, shapes: tuple, seed: int) -> tuple[list, list]:
    """The same float64 inputs as (tinygrad_c2 leaves, torch leaves)."""
    arrays = _inputs(row, shapes, seed)
    return ([tg.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


@pytest.mark.slow
@pytest.mark.parametrize("row, shapes", CASES, ids=IDS)
def test_second_order_matches_centered_differences(row, shapes):
    xs, _ = _leaves(row, shapes, 1)
    result = tg.gradgradcheck(row.fn, xs, raise_exception=False)
    assert result.passed, str(result)


def _double_backward(grad, fn, xs, v, w):
    """(u = grad(fn(xs), xs, v) with a graph, d(sum w * u) / d(xs, v)) with zeros for None."""
    out = fn(*xs)
    us = grad(out, xs, v, create_graph=True, allow_unused=True)
    us = [u if u is not None else None for u in us]
    total = None
    for u, wi in zip(us, w, strict=True):
        if u is None or not u.requires_grad:
            continue
        term = (u * wi).sum()
        total = term if total is None else total + term
    if total is None:
        return us, [None] * (len(xs) + 1)
    return us, list(grad(total, [*xs, v], allow_unused=True))


def _array(t, shape):
    if t is None:
        return np.zeros(shape)
    if isinstance(t, torch.Tensor):
        return t.detach().numpy(force=True)  # force: torch's ZeroTensor of a constant gradient
    return t.numpy()


def _assert_matches_torch(mine: np.ndarray, ref: np.ndarray, zero_where_torch_nan: bool):
    if zero_where_torch_nan:
        nan = np.isnan(ref)
        np.testing.assert_array_equal(mine[nan], 0.0)
        mine, ref = mine[~nan], ref[~nan]
    np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row, shapes", TORCH_CASES, ids=TORCH_IDS)
def test_second_order_matches_torch(row, shapes):
    xs, xts = _leaves(row, shapes, 3)
    out_shape = row.fn(*xs).shape
    gen = np.random.default_rng(4)
    v = gen.standard_normal(out_shape)
    w = [gen.standard_normal(s) for s in shapes]
    vg, vt = tg.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    us, second = _double_backward(tg.autograd.grad, row.fn, xs, vg, [tg.tensor(a) for a in w])
    uts, second_t = _double_backward(torch.autograd.grad, row.tfn, xts, vt,
                                     [torch.tensor(a) for a in w])
    for u, ut, s in zip(us, uts, shapes, strict=True):
        np.testing.assert_allclose(_array(u, s), _array(ut, s), rtol=1e-10, atol=1e-12)
    for mine, ref, s in zip(second, second_t, [*shapes, out_shape], strict=True):
        _assert_matches_torch(_array(mine, s), _array(ref, s), row in KINK_ROWS)


THIRD_ORDER = {
    "pow": (lambda a, b: a ** b, ((3, 4), (3, 4)), (0.5, 2.0)),
    "tanh": (lambda a: a.tanh(), ((3, 4),), "normal"),
    "sigmoid": (lambda a: a.sigmoid(), ((2, 3),), "normal"),
    "softmax": (lambda a: a.softmax(1), ((2, 4),), "normal"),
    "log_softmax": (lambda a: a.log_softmax(-1), ((2, 4),), "normal"),
    "matmul": (lambda a, b: (a @ b) * (a @ b), ((3, 4), (4, 2)), "normal"),
    "prod_with_zeros": (lambda a: (a * ZEROS).prod(1), ((3, 4),), "normal"),
}


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_order_matches_torch(name):
    fn, shapes, domain = THIRD_ORDER[name]
    tfn = (lambda a: (a * torch.tensor(ZEROS)).prod(1)) if name == "prod_with_zeros" else fn
    row = Row(name, (), fn, None, None, [shapes], domain)
    xs, xts = _leaves(row, shapes, 5)
    gen = np.random.default_rng(6)
    v = gen.standard_normal(fn(*xs).shape)
    w = [gen.standard_normal(s) for s in shapes]
    z = [gen.standard_normal(s) for s in shapes]

    def third(grad, f, leaves, wrap):
        first = grad(f(*leaves), leaves, wrap(v), create_graph=True)
        s = sum((g * wrap(a)).sum() for g, a in zip(first, w, strict=True))
        second = grad(s, leaves, create_graph=True)
        s2 = sum((g * wrap(a)).sum() for g, a in zip(second, z, strict=True))
        return [_array(t, None) for t in grad(s2, leaves)]

    mine = third(tg.autograd.grad, fn, xs, tg.tensor)
    ref = third(torch.autograd.grad, tfn, xts, torch.tensor)
    for a, b in zip(mine, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_order_matches_centered_differences(name):
    fn, shapes, domain = THIRD_ORDER[name]
    xs, _ = _leaves(Row(name, (), fn, None, None, [shapes], domain), shapes, 7)
    v = np.random.default_rng(8).standard_normal(fn(*xs).shape)

    def gradient(*leaves):  # the first-order gradient: gradgradcheck of it is third order
        return tg.autograd.grad(fn(*leaves), leaves, tg.tensor(v), create_graph=True)

    result = tg.gradgradcheck(gradient, xs, raise_exception=False)
    assert result.passed, str(result)


# ---------------------------------------------------------------- the first-order path


def _graph_and_gradients(row: Row, shapes: tuple) -> tuple:
    xs, _ = _leaves(row, shapes, 9)
    out = row.fn(*xs)
    v = np.random.default_rng(10).standard_normal(out.shape)
    return xs, out, v


@pytest.mark.parametrize("row, shapes", CASES, ids=IDS)
def test_first_order_is_bit_identical_and_records_no_node(row, shapes, monkeypatch):
    # reference: the first-order gradients of a fresh graph, before anything else ran
    xs, out, v = _graph_and_gradients(row, shapes)
    reference = [g.numpy().copy() if g is not None else None
                 for g in tg.autograd.grad(out, xs, v, allow_unused=True)]
    # the same graph again after a create_graph sweep through it (which must not have changed
    # what the nodes saved), with every backward_graph made to fail (first order never calls
    # one), counting the nodes recorded meanwhile
    xs, out, v = _graph_and_gradients(row, shapes)
    tg.autograd.grad(out, xs, v, create_graph=True, allow_unused=True)

    def refuse(ctx, g):
        raise AssertionError(f"{type(ctx).__name__}.backward_graph ran in a first-order sweep")

    for name in OPS_PRIMITIVES:
        monkeypatch.setattr(PRIMITIVES[name], "backward_graph", staticmethod(refuse))
    before = next(function._seq)
    again = tg.autograd.grad(out, xs, v, allow_unused=True)
    assert next(function._seq) == before + 1, "a first-order backward recorded graph nodes"
    for g, ref in zip(again, reference, strict=True):
        if ref is None:
            assert g is None
            continue
        assert g.grad_fn is None and not g.requires_grad
        assert g.dtype == ref.dtype and g.shape == ref.shape
        np.testing.assert_array_equal(g.numpy(), ref)  # bit for bit (NaN-free inputs)


def test_node_counter_sees_the_nodes_a_create_graph_sweep_records():
    # the counter that the test above reads does move when nodes are recorded
    x = tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    y = (x.tanh() * x).sum()
    before = next(function._seq)
    tg.autograd.grad(y, x, create_graph=True)
    assert next(function._seq) > before + 3


# ---------------------------------------------------------------- edges, against torch


def _second_derivative(fn, values, tfn=None):
    """d/dx of sum(d fn(x) / dx) for tinygrad_c2 and torch on float64 values."""
    x = tg.tensor(values, dtype=tg.float64, requires_grad=True)
    xt = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (g,) = tg.autograd.grad(fn(x).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((tfn or fn)(xt).sum(), xt, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x, allow_unused=True, materialize_grads=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt, allow_unused=True, materialize_grads=True)
    return g.numpy(), gt.detach().numpy(), h.numpy(), ht.numpy()


@pytest.mark.parametrize("name, fn, values", [
    ("relu at 0", lambda x: x.relu() * x, [-1.0, 0.0, 2.0]),
    ("abs at 0", lambda x: x.abs() * x, [-1.0, 0.0, 2.0]),
    ("clamp at its bounds", lambda x: x.clamp(-0.5, 0.5) * x, [-0.5, 0.0, 0.5, 1.0]),
    ("maximum with ties", lambda x: x.maximum(x.flip(0)) * x, [1.0, 2.0, 1.0]),
    ("max over all with ties", lambda x: x.max() * x, [2.0, 1.0, 2.0]),
    ("amax with ties", lambda x: x.amax() * x, [2.0, 1.0, 2.0]),
    ("pow with a zero base", lambda x: x ** 3, [0.0, 1.0, -2.0]),
    ("x ** x at positive x", lambda x: x ** x, [0.5, 1.0, 2.0]),
    ("sqrt", lambda x: x.sqrt(), [0.25, 1.0, 4.0]),
    ("log", lambda x: x.log(), [0.25, 1.0, 4.0]),
    ("prod with two zeros", lambda x: x.prod(), [0.0, 0.0, 3.0, 2.0]),
    ("prod with one zero", lambda x: x.prod() * x, [0.0, 5.0, 3.0]),
])
def test_second_derivatives_at_edges_follow_torch(name, fn, values):
    g, gt, h, ht = _second_derivative(fn, values)
    np.testing.assert_allclose(g, gt, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(h, ht, rtol=1e-12, atol=1e-15)


def test_pow_exponent_zero_masks_the_second_derivative_as_torch():
    a = np.array([0.0, 2.0, 3.0])
    b = np.array([0.0, 0.0, 2.0])
    ours = [tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)]
    theirs = [torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)]
    ga = tg.autograd.grad((ours[0] ** ours[1]).sum(), ours, create_graph=True)
    gt = torch.autograd.grad((theirs[0] ** theirs[1]).sum(), theirs, create_graph=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # NOTE: first-order Pow: 0 * 0 ** -1
        h = tg.autograd.grad(ga[0].sum() + ga[1].sum(), ours)
    ht = torch.autograd.grad(gt[0].sum() + gt[1].sum(), theirs)
    for mine, ref in zip(ga, gt, strict=True):
        np.testing.assert_allclose(mine.numpy(), ref.detach().numpy(), rtol=1e-12)
    # NOTE: at 0 ** 0 torch's double backward gives NaN (0 * log 0 of the masked branch); the
    # masked branch here is 0 to every order, as its first derivative is
    for mine, ref in zip(h, ht, strict=True):
        _assert_matches_torch(mine.numpy(), ref.numpy(), zero_where_torch_nan=True)
    assert np.isnan(ht[1].numpy()[0])


def test_a_float32_graph_gives_float32_second_derivatives():
    x = tg.tensor([0.5, 1.0, 2.0], requires_grad=True)
    y = (x.tanh() * x.sigmoid() * (x @ x) + x.softmax(0).log() * x.max()).sum()
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    assert g.dtype == np.float32 and h.dtype == np.float32
    xt = torch.tensor([0.5, 1.0, 2.0], requires_grad=True)
    yt = (xt.tanh() * xt.sigmoid() * (xt @ xt) + xt.softmax(0).log() * xt.max()).sum()
    (gt,) = torch.autograd.grad(yt, xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-5)


def test_a_cast_to_float32_casts_the_second_derivative_back():
    x = tg.tensor([0.5, 1.0, 2.0], dtype=tg.float64, requires_grad=True)
    (g,) = tg.autograd.grad((x.float() ** 3).sum(), x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    assert g.dtype == np.float64 and h.dtype == np.float64
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy(), rtol=1e-6)

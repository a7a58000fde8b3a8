"""Property tests: random compositions of the primitives over random broadcastable shapes
(0-d and size-1 axes included), checked against centered differences and PyTorch; random MLPs
with dropout and batch norm checked against the hand-derived reference.

Hypothesis draws the *structure* (shapes, the op sequence, each op's axis and partner, dtype,
layer sizes); the values come from a numpy generator seeded by a drawn integer. Hypothesis'
own float strategies love 0.0 and repeated values, which sit exactly on the kinks of relu,
abs and max and make a centered difference meaningless; normal samples never do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import tinygrad_c2 as tg  # noqa: E402
from tinygrad_c2 import nn, reference  # noqa: E402

F = nn.functional

# ------------------------------------------------------------------ the two libraries


class TG:
    """What a program needs beyond Tensor methods, in tinygrad_c2."""

    @staticmethod
    def const(a: np.ndarray) -> Any:
        return tg.tensor(a)

    cat = staticmethod(tg.cat)
    where = staticmethod(tg.where)

    @staticmethod
    def leaky_relu(x: Any, slope: float) -> Any:
        return x.leaky_relu(slope)


class TORCH:
    """The same, in PyTorch (filled in lazily: torch is optional)."""

    @staticmethod
    def const(a: np.ndarray) -> Any:
        import torch

        return torch.from_numpy(np.ascontiguousarray(a))

    @staticmethod
    def cat(xs: list, dim: int) -> Any:
        import torch

        return torch.cat(xs, dim)

    @staticmethod
    def where(cond: np.ndarray, x: Any, y: Any) -> Any:
        import torch

        return torch.where(torch.from_numpy(cond), x, y)

    @staticmethod
    def leaky_relu(x: Any, slope: float) -> Any:
        import torch

        return torch.nn.functional.leaky_relu(x, slope)


# ------------------------------------------------------------------ programs


@dataclass(frozen=True)
class Step:
    """One op of a program: its name, the partner of a binary op (0: a, 1: b, 2: itself) and
    the drawn parameters (axis, keepdim, constant arrays...)."""

    op: str
    partner: int | None
    params: tuple


def _apply(step: Step, L: Any, x: Any, leaves: tuple) -> Any:
    """Run one step on the current value x with library L (TG or TORCH)."""
    op, p = step.op, step.params
    y = None if step.partner is None else (leaves + (x,))[step.partner]
    # smooth unary
    if op == "neg":
        return -x
    if op == "tanh":
        return x.tanh()
    if op == "sigmoid":
        return x.sigmoid()
    if op == "exp":
        return x.exp()
    if op == "log1p_sq":
        return (x * x + 1.0).log()
    if op == "sqrt1p_sq":
        return (x * x + 1.0).sqrt()
    if op == "square":
        return x ** 2
    if op == "affine":
        return 0.5 * x - 1.0 / 3.0
    if op == "recip":
        return 1.0 / (x * x + 1.0)
    # reductions and the softmax family
    if op == "sum_all":
        return x.sum()
    if op == "mean_all":
        return x.mean()
    if op == "sum":
        return x.sum(p[0], keepdim=p[1])
    if op == "mean":
        return x.mean(p[0], keepdim=p[1])
    if op == "var":
        return x.var(p[0], keepdim=p[1])
    if op == "logsumexp":
        return x.logsumexp(p[0], keepdim=p[1])
    if op == "softmax":
        return x.softmax(p[0])
    if op == "log_softmax":
        return x.log_softmax(p[0])
    # shape and indexing
    if op == "flatten":
        return x.reshape(-1)
    if op == "unsqueeze":
        return x.unsqueeze(p[0])
    if op == "squeeze":
        return x.squeeze()
    if op == "permute":
        return x.permute(*reversed(range(x.ndim)))
    if op == "transpose":
        return x.transpose(p[0], p[1])
    if op == "expand":
        return x.expand(2, *x.shape)
    if op == "index_int":
        return x[p[0]]
    if op == "index_slice":
        return x[1:]
    if op == "index_repeat":
        return x[L.const(p[0])]
    if op == "cat":
        return L.cat([x, x * 2.0], p[0])
    if op == "matmul":
        return x @ L.const(p[0]).to(x.dtype)
    # kinked (compared with torch only)
    if op == "relu":
        return x.relu()
    if op == "abs":
        return x.abs()
    if op == "leaky_relu":
        return L.leaky_relu(x, 0.1)
    if op == "clamp":
        return x.clamp(min=-0.5, max=0.5)
    if op == "max_dim":
        return x.max(p[0]).values
    if op == "min_dim":
        return x.min(p[0]).values
    if op == "max_all":
        return x.max()
    if op == "maximum":
        return x.maximum(y)
    if op == "minimum":
        return x.minimum(y)
    # smooth binary, with a partner leaf (graph reuse) or the value itself
    if op == "add":
        return x + y
    if op == "sub":
        return x - y
    if op == "mul":
        return x * y
    if op == "div":
        return x / (y * y + 1.0)
    if op == "pow":
        return (x * x + 1.0) ** (0.5 * y)
    if op == "where":
        return L.where(p[0], x, y)
    raise AssertionError(op)


def run(program: list[Step], L: Any, a: Any, b: Any) -> Any:
    x = a
    for step in program:
        x = _apply(step, L, x, (a, b))
    return x


SMOOTH_UNARY = ["neg", "tanh", "sigmoid", "exp", "log1p_sq", "sqrt1p_sq", "square", "affine",
                "recip", "sum_all", "mean_all", "flatten", "squeeze"]
SMOOTH_DIM = ["sum", "mean", "var", "logsumexp", "softmax", "log_softmax", "unsqueeze",
              "permute", "transpose", "expand", "index_int", "index_slice", "index_repeat",
              "cat", "matmul"]
SMOOTH_BINARY = ["add", "sub", "mul", "div", "pow", "where"]
KINKED_UNARY = ["relu", "abs", "leaky_relu", "clamp", "max_all"]
KINKED_DIM = ["max_dim", "min_dim"]
KINKED_BINARY = ["maximum", "minimum"]


def _draw_step(draw: Any, x: tg.Tensor, leaves: tuple, kinked: bool) -> Step | None:
    """Draw one op that applies to the current value x (None if the drawn one does not)."""
    ops = SMOOTH_UNARY + SMOOTH_DIM + SMOOTH_BINARY
    if kinked:
        ops = ops + KINKED_UNARY + KINKED_DIM + KINKED_BINARY
    op = draw(st.sampled_from(ops))
    nd, shape = x.ndim, x.shape
    if op in SMOOTH_BINARY or op in KINKED_BINARY:
        partner = draw(st.integers(0, 2))
        other = (leaves + (x,))[partner]
        try:
            out_shape = np.broadcast_shapes(shape, other.shape)
        except ValueError:
            return None
        params: tuple = ()
        if op == "where":
            cond = np.random.default_rng(draw(st.integers(0, 2**16))).random(out_shape) < 0.5
            params = (cond,)
        return Step(op, partner, params)
    if op not in SMOOTH_DIM + KINKED_DIM:
        return Step(op, None, ())
    if op == "unsqueeze":
        return Step(op, None, (draw(st.integers(-nd - 1, nd)),))
    if op == "expand":
        return Step(op, None, ()) if x.numpy().size <= 27 else None
    if nd == 0:
        return None
    dim = draw(st.integers(-nd, nd - 1))
    if op in ("sum", "mean", "logsumexp"):
        return Step(op, None, (dim, draw(st.booleans())))
    if op == "var":
        return Step(op, None, (dim, draw(st.booleans()))) if shape[dim] > 1 else None
    if op in ("softmax", "log_softmax", "cat", "max_dim", "min_dim"):
        return Step(op, None, (dim,))
    if op == "permute":
        return Step(op, None, ()) if nd >= 2 else None
    if op == "transpose":
        return Step(op, None, (dim, draw(st.integers(-nd, nd - 1)))) if nd >= 2 else None
    if op == "index_int":
        return Step(op, None, (draw(st.integers(-shape[0], shape[0] - 1)),))
    if op == "index_slice":
        return Step(op, None, ()) if shape[0] >= 2 else None
    if op == "index_repeat":  # repeated indices must accumulate in backward
        return Step(op, None, (np.array([0, shape[0] - 1, 0], dtype=np.int64),))
    if op == "matmul":
        w = np.random.default_rng(draw(st.integers(0, 2**16))).normal(size=(shape[-1], 2))
        return Step(op, None, (w,))
    raise AssertionError(op)


@st.composite
def programs(draw: Any, kinked: bool, dtypes: tuple = (np.float64,)) -> tuple:
    """(program, a, b, cotangent): two leaves of mutually broadcastable shapes and 1-6 ops."""
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    min_side=1, max_side=3)).input_shapes
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.normal(size=shapes[0])
    b = rng.normal(size=shapes[1])
    leaves = (tg.tensor(a), tg.tensor(b))
    x = leaves[0]
    program: list[Step] = []
    for _ in range(draw(st.integers(1, 6))):
        step = _draw_step(draw, x, leaves, kinked)
        if step is None:
            continue
        with tg.no_grad(), np.errstate(all="ignore"):
            x = _apply(step, TG, x, leaves)
        program.append(step)
    assume(program)
    # Keep to values where a float64 centered difference is meaningful (exp(exp(x)) is not).
    assume(np.all(np.isfinite(x.numpy())) and np.abs(x.numpy()).max(initial=0) < 1e4)
    cotangent = rng.normal(size=x.shape)
    return program, a.astype(dtype), b.astype(dtype), cotangent.astype(dtype)


def describe(program: list[Step]) -> str:
    return " -> ".join(s.op if s.partner is None else f"{s.op}({'abx'[s.partner]})"
                       for s in program)


# ------------------------------------------------------------------ autograd vs differences


@settings(max_examples=200)
@given(programs(kinked=False))
def test_random_compositions_of_primitives_match_centered_differences(case):
    program, a, b, cot = case
    A = tg.tensor(a, requires_grad=True)
    B = tg.tensor(b, requires_grad=True)
    C = tg.tensor(cot)
    result = tg.gradcheck(lambda a, b: (run(program, TG, a, b) * C).sum(), [A, B],
                          eps=1e-6, threshold=1e-6)
    # NOTE: when the true gradient is exactly 0 (softmax of a constant row), rounding noise of
    # 1e-17 against 0 reads as a 100% relative difference; an absolute error that small is exact.
    worst = max((abs(g - n) for _, _, g, n in result.worst), default=0.0)
    assert result.passed or worst < 1e-12, f"{describe(program)}\n{result}"


# ------------------------------------------------------------------ autograd vs PyTorch


def _grad(t: Any, shape: tuple) -> np.ndarray:
    """A gradient as an array (zeros when the leaf did not take part)."""
    if t.grad is None:
        return np.zeros(shape)
    g = t.grad
    return g.numpy() if hasattr(g, "numpy") else np.asarray(g)


@settings(max_examples=250)
@given(programs(kinked=True, dtypes=(np.float64, np.float32)))
def test_random_compositions_match_pytorch_forward_backward_and_dtype(case):
    torch = pytest.importorskip("torch")
    program, a, b, cot = case
    A, B = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    out = run(program, TG, A, B)
    (out * tg.tensor(cot)).sum().backward()
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    tout = run(program, TORCH, ta, tb)
    (tout * torch.from_numpy(cot)).sum().backward()

    # float32 programs accumulate rounding differently in each library (summation order)
    rtol, atol = (1e-9, 1e-12) if a.dtype == np.float64 else (2e-4, 2e-5)
    what = describe(program)
    assert out.dtype == a.dtype, f"{what}: output dtype {out.dtype} from {a.dtype} inputs"
    assert out.shape == tuple(tout.shape), what
    ref = tout.detach().numpy()
    np.testing.assert_allclose(out.numpy(), ref, rtol=rtol,
                               atol=atol * max(1.0, np.abs(ref).max(initial=0)), err_msg=what)
    for mine, theirs, shape in ((A, ta, a.shape), (B, tb, b.shape)):
        g, tg_ref = _grad(mine, shape), _grad(theirs, shape)
        if mine.grad is not None:
            assert mine.grad.dtype == a.dtype, f"{what}: grad dtype {mine.grad.dtype}"
        np.testing.assert_allclose(g, tg_ref, rtol=rtol,
                                   atol=atol * max(1.0, np.abs(tg_ref).max(initial=0)),
                                   err_msg=what)


# ------------------------------------------------------------------ MLPs vs the reference


@st.composite
def mlps(draw: Any) -> dict:
    output = draw(st.sampled_from(["softmax", "sigmoid"]))
    hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    return {
        "n_in": draw(st.integers(1, 5)),
        "hidden": hidden,
        "n_out": 1 if output == "sigmoid" else draw(st.integers(2, 4)),
        "output": output,
        "activation": [draw(st.sampled_from([nn.ReLU, nn.Tanh, nn.Sigmoid])) for _ in hidden],
        "batch_norm": [draw(st.booleans()) for _ in hidden],
        "bias": [draw(st.booleans()) for _ in hidden],
        "drop": [draw(st.sampled_from([0.0, 0.2, 0.5])) for _ in hidden],
        "lambd": draw(st.sampled_from([0.0, 0.7])),
        "m": draw(st.integers(2, 9)),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def _build(spec: dict, rng: np.random.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    n = spec["n_in"]
    for width, act, bn, bias, drop in zip(spec["hidden"], spec["activation"],
                                          spec["batch_norm"], spec["bias"], spec["drop"],
                                          strict=True):
        layers.append(nn.Linear(n, width, bias=bias))
        if bn:
            layers.append(nn.BatchNorm1d(width))
        layers.append(act())
        if drop:
            layers.append(nn.Dropout(drop))
        n = width
    layers.append(nn.Linear(n, spec["n_out"]))
    model = nn.Sequential(*layers).double()
    for module in model:  # move batch norm off its identity start
        if isinstance(module, nn.BatchNorm1d):
            module.weight.data[...] = rng.uniform(0.5, 1.5, module.weight.shape)
            module.bias.data[...] = rng.normal(0, 0.5, module.bias.shape)
            module.running_mean.data[...] = rng.normal(0, 0.5, module.running_mean.shape)
            module.running_var.data[...] = rng.uniform(0.5, 2.0, module.running_var.shape)
    return model


@settings(max_examples=120)
@given(mlps())
def test_random_mlps_with_dropout_and_batch_norm_match_the_hand_derived_reference(spec):
    rng = np.random.default_rng(spec["seed"])
    tg.manual_seed(spec["seed"] % 1000)  # the models' default init draws from the library rng
    model = _build(spec, rng)
    ref = reference.from_model(model, lambd=spec["lambd"])  # dropout draws from tg's generator
    m = spec["m"]
    X = rng.normal(size=(m, spec["n_in"]))
    if spec["output"] == "softmax":
        Y = rng.integers(0, spec["n_out"], size=m)
        loss_fn = F.cross_entropy
    else:
        Y = rng.integers(0, 2, size=(m, 1)).astype(np.float64)
        loss_fn = F.binary_cross_entropy_with_logits

    tg.manual_seed(spec["seed"])
    loss = loss_fn(model(tg.tensor(X)), tg.tensor(Y))
    if spec["lambd"]:
        loss = loss + nn.l2_penalty(model, spec["lambd"], m)
    loss.backward()
    tg.manual_seed(spec["seed"])  # the same dropout masks, drawn in the same order
    J, grads = ref.loss_and_grads(X, Y)

    assert loss.item() == pytest.approx(J, rel=1e-10, abs=1e-12)
    params = list(model.parameters())
    assert len(params) == len(grads)
    for (name, g), p in zip(grads.items(), params, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-8, atol=1e-11, err_msg=name)
    bns = [mod for mod in model if isinstance(mod, nn.BatchNorm1d)]
    for layer, bn in zip(sorted(ref.running_mean), bns, strict=True):
        np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean[layer], rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var[layer], rtol=1e-12)

    # eval mode: no dropout, running statistics; probabilities agree
    model.eval()
    with tg.no_grad():
        logits = model(tg.tensor(X))
        probs = (logits.softmax(1) if spec["output"] == "softmax" else logits.sigmoid()).numpy()
    np.testing.assert_allclose(probs, ref.predict(X), rtol=1e-9, atol=1e-13)

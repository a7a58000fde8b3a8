"""Values and gradients at the edges (0, -0.0, +-inf, NaN, negative bases, ties, constants)
against PyTorch, in float64 and float32: every NaN and inf in the same place, as torch computes
them, so no edge of a primitive gives a silently different gradient.

Each row is (name, the function for tinygrad_c2, the function for torch or None when the same
code runs on both, the inputs). Inputs are arrays; every input requires grad; the backward
seed is a constant 0.75 (not 1, so a dropped factor of g shows).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import tinygrad_c2 as tg

torch = pytest.importorskip("torch")
TF = torch.nn.functional

INF, NAN = math.inf, math.nan
GRID = [0.0, -0.0, 1.0, -1.0, 2.0, -2.5, 0.5, 3.0, INF, -INF, NAN]
PAIRS = list(itertools.product(GRID, GRID))
A = [a for a, _ in PAIRS]
B = [b for _, b in PAIRS]

ROWS = [
    # powers with a constant exponent, x ** 0 included (gradient 0 everywhere, NaN too)
    *[(f"x ** {c}", (lambda x, c=c: x ** c), None, [GRID]) for c in (0, 0.0, 1, 2, 3, 0.5, -1, -2)],
    # a constant base, 0 ** x included (gradient 0 for x >= 0, as torch)
    *[(f"{c} ** x", (lambda x, c=c: c ** x), None, [GRID]) for c in (0.0, 2.0, 0.5, -2.0, 1.0)],
    ("a ** b", lambda a, b: a ** b, None, [A, B]),
    ("relu", lambda x: x.relu(), None, [GRID]),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), lambda x: TF.leaky_relu(x, 0.1), [GRID]),
    ("sqrt", lambda x: x.sqrt(), None, [GRID]),
    ("abs", lambda x: x.abs(), None, [GRID]),
    ("log", lambda x: x.log(), None, [GRID]),
    ("exp", lambda x: x.exp(), None, [GRID]),
    ("tanh", lambda x: x.tanh(), None, [GRID]),
    ("sigmoid", lambda x: x.sigmoid(), None, [GRID]),
    ("neg", lambda x: -x, None, [GRID]),
    ("clamp(-1, 2)", lambda x: x.clamp(-1.0, 2.0), None, [GRID]),
    ("clamp(min=0)", lambda x: x.clamp(min=0.0), None, [GRID]),
    ("clamp(max=0)", lambda x: x.clamp(max=0.0), None, [GRID]),
    ("a + b", lambda a, b: a + b, None, [A, B]),
    ("a - b", lambda a, b: a - b, None, [A, B]),
    ("a * b", lambda a, b: a * b, None, [A, B]),
    ("a / b", lambda a, b: a / b, None, [A, B]),
    ("maximum", lambda a, b: a.maximum(b), None, [A, B]),
    ("minimum", lambda a, b: a.minimum(b), None, [A, B]),
    ("l1_loss", lambda a, b: tg.nn.functional.l1_loss(a, b, reduction="none"),
     lambda a, b: TF.l1_loss(a, b, reduction="none"), [A, B]),
    ("mse_loss", lambda a, b: tg.nn.functional.mse_loss(a, b, reduction="none"),
     lambda a, b: TF.mse_loss(a, b, reduction="none"), [A, B]),
    # reductions: ties share the gradient, a NaN takes all of it (several NaN share it)
    *[(f"{op}() of {vals}", (lambda x, op=op: getattr(x, op)()), None, [vals])
      for op in ("max", "min")
      for vals in ([1.0, NAN, 3.0], [NAN, 1.0, NAN], [3.0, 1.0, 3.0], [1.0, 1.0, 1.0],
                   [INF, 1.0, INF], [-INF, -INF, 2.0], [2.0])],
    *[(f"{op}(dim={d}) of a grid with NaN and ties", (lambda x, op=op, d=d: getattr(x, op)(d)[0]),
       None, [[[1.0, NAN, 3.0, 3.0], [NAN, NAN, 0.0, 3.0], [2.0, 5.0, 0.0, -INF]]])
      for op in ("max", "min") for d in (0, 1, -1)],
    *[(f"std{kw} of {vals}", (lambda x, kw=kw: x.std(**kw)), None, [vals])
      for kw in ({}, {"correction": 0})
      for vals in ([2.0, 2.0, 2.0], [0.0, 0.0], [1.0, 2.0, 4.0], [1.0, NAN, 2.0],
                   [1.0, INF, 2.0], [[1.0, 1.0], [1.0, 3.0]])],
    ("std(dim=1) with a constant row", lambda x: x.std(1), None, [[[5.0, 5.0, 5.0],
                                                                    [1.0, 2.0, 4.0]]]),
    ("std(dim=0, keepdim) with a constant column", lambda x: x.std(0, keepdim=True), None,
     [[[5.0, 1.0], [5.0, 2.0]]]),
    ("var of a constant", lambda x: x.var(), None, [[3.0, 3.0, 3.0]]),
]


# Where torch itself is odd, we keep IEEE's answer and the test says so, position by position:
# torch computes the gradient of x ** 0.5 with x ** -0.5 evaluated as rsqrt(x) = 1 / sqrt(x),
# which is -inf at -0.0 and NaN at -inf; IEEE pow (numpy, and we) gives +inf and 0 there.
TORCH_ODDITIES = {"x ** 0.5": lambda x: ((x == 0) & np.signbit(x)) | (x == -INF)}


def _run_tg(fn, inputs, dtype):
    xs = [tg.tensor(np.array(v, dtype), requires_grad=True) for v in inputs]
    with np.errstate(all="ignore"):  # numpy's divide/invalid warnings are not the question
        y = fn(*xs)
        y.backward(np.full(y.shape, 0.75, dtype))
    return y.data, [x.grad.data if x.grad is not None else np.zeros_like(x.data) for x in xs]


def _run_torch(fn, inputs, dtype):
    tdt = {np.float64: torch.float64, np.float32: torch.float32}[dtype]
    xs = [torch.tensor(np.array(v, dtype), dtype=tdt, requires_grad=True) for v in inputs]
    y = fn(*xs)
    y.backward(torch.full(y.shape, 0.75, dtype=tdt))
    return y.detach().numpy(), [x.grad.numpy() if x.grad is not None
                                else np.zeros(x.shape, dtype) for x in xs]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_value_and_gradient_at_the_edges_equal_pytorch_nan_and_inf_included(row, dtype):
    name, fn, torch_fn, inputs = row
    y, grads = _run_tg(fn, inputs, dtype)
    ty, tgrads = _run_torch(torch_fn or fn, inputs, dtype)
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    assert y.dtype == dtype, (name, y.dtype)
    np.testing.assert_allclose(y, ty, rtol=rtol, atol=0, equal_nan=True, err_msg=f"{name} value")
    for i, (g, tgr) in enumerate(zip(grads, tgrads, strict=True)):
        assert g.dtype == dtype, (name, i, g.dtype)
        if name in TORCH_ODDITIES:
            x = np.array(inputs[i], dtype)
            odd = TORCH_ODDITIES[name](x)
            np.testing.assert_array_equal(g[odd], np.where(x[odd] == 0, INF, 0.0))
            g, tgr = g[~odd], tgr[~odd]
        np.testing.assert_allclose(g, tgr, rtol=rtol, atol=0, equal_nan=True,
                                   err_msg=f"{name}: gradient of input {i}")


def test_the_edge_table_covers_the_issue_cases():
    names = " ".join(r[0] for r in ROWS)
    for case in ("x ** 0", "0.0 ** x", "a ** b", "std", "max() of [1.0, nan, 3.0]", "relu",
                 "sqrt", "abs", "clamp", "maximum", "minimum", "log", "a / b"):
        assert case in names, case

"""Gradient checking as the course teaches it: centered differences in float64, compared with
backprop by the relative difference ||approx - grad|| / (||approx|| + ||grad||)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rng
from .tensor import Tensor

#: The pass line. The course's thresholds: ~1e-7 great, ~1e-5 suspect, ~1e-3 almost surely a
#: bug. A correct backward on the course's 3-layer check gives about 1.2e-7 with eps = 1e-7,
#: so the line sits just above it.
PASS_THRESHOLD = 2e-7


def verdict(difference: float, threshold: float = PASS_THRESHOLD) -> str:
    """The course's reading of a relative difference.

    >>> verdict(1e-9), verdict(1e-5), verdict(0.2)
    ('great', 'suspect: look at the worst components', 'bug: backward is wrong')
    """
    if difference < threshold:
        return "great"
    if difference < 1e-3:
        return "suspect: look at the worst components"
    return "bug: backward is wrong"


@dataclass
class GradcheckResult:
    """What a gradient check found: the overall and per-input differences and the worst entries."""

    difference: float
    passed: bool
    threshold: float
    eps: float
    per_input: dict[str, float] = field(default_factory=dict)
    #: (input name, index, backprop value, numerical value), largest |difference| first
    worst: list[tuple[str, tuple[int, ...], float, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    @property
    def worst_input(self) -> str | None:
        """The input (parameter) whose gradient disagrees most."""
        return max(self.per_input, key=self.per_input.get) if self.per_input else None

    def __str__(self) -> str:
        head = (f"gradient check {'PASSED' if self.passed else 'FAILED'}: relative difference "
                f"{self.difference:.3e} (pass below {self.threshold:.0e}; eps {self.eps:.0e}): "
                f"{verdict(self.difference, self.threshold)}")
        worst = ["  worst components (parameter[index]: backprop vs numerical):"]
        for name, idx, a, n in self.worst:
            worst.append(f"    {name}{list(idx)}: {a:+.10e} vs {n:+.10e} (|diff| {abs(a - n):.2e})")
        return "\n".join([head, *self._per_input_rows("parameter"), *worst])

    def _per_input_rows(self, label: str) -> list[str]:
        """The report's table: each input's relative difference and the course's verdict."""
        width = max([len(n) for n in self.per_input] + [9])
        rows = [f"  {label:<{width}}  relative difference  verdict"]
        for name, d in self.per_input.items():
            rows.append(f"  {name:<{width}}  {d:19.3e}  {verdict(d, self.threshold)}")
        return rows


def _relative_difference(approx: np.ndarray, grad: np.ndarray) -> float:
    num = np.linalg.norm(approx - grad)
    den = np.linalg.norm(approx) + np.linalg.norm(grad)
    return float(num / den) if den > 0 else 0.0


def _share_difference(approx: np.ndarray, grad: np.ndarray, scale: float) -> float:
    """One parameter's relative difference; measured against the whole check's scale when its
    own gradient is a negligible share of it.

    NOTE: a parameter whose true gradient is 0 (a bias right before batch norm) would
    otherwise divide the finite-difference noise by ~0 and read as a 100% error.
    """
    own = np.linalg.norm(approx) + np.linalg.norm(grad)
    if own < 1e-6 * scale:
        return float(np.linalg.norm(approx - grad) / scale)
    return _relative_difference(approx, grad)


def _centered_differences(t: Tensor, f: Callable[[], Any], eps: float) -> np.ndarray:
    """(f() at t + eps e_j - f() at t - eps e_j) / (2 eps) for every component j of t, one row
    each (f returns a number or an array); t's array is nudged in place and restored."""
    flat = t._data.reshape(-1)  # a view into t._data
    rows = []
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = f()
        flat[j] = orig - eps
        minus = f()
        flat[j] = orig
        rows.append((plus - minus) / (2 * eps))
    return np.array(rows, dtype=np.float64)


def _check(evaluate: Callable[[], Tensor], named: dict[str, Tensor], eps: float,
           threshold: float, n_worst: int) -> GradcheckResult:
    """Compare backprop with centered differences for every component of every named leaf.

    The library RNG is rewound before each evaluation, so dropout draws the same masks every
    time: the function being differentiated is then deterministic, as the check requires.
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"gradcheck: eps must be a positive number, got {eps!r}")
    state = copy.deepcopy(rng.get_state())
    for t in named.values():
        t.grad = None
    out = evaluate()
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: the function must return a scalar Tensor, got "
                        f"{type(out).__name__}")
    if out._data.size != 1:
        raise ValueError(f"gradcheck: the function must return a scalar, got shape {out.shape}")
    after = copy.deepcopy(rng.get_state())
    out.backward()
    analytic = {n: (t.grad._data if t.grad is not None else np.zeros_like(t._data))
                for n, t in named.items()}

    def f() -> float:
        # NOTE: in the caller's grad mode, not no_grad: a function may take a gradient inside
        # (a gradient penalty, gradgradcheck's own first-order gradient), as in PyTorch
        rng.set_state(copy.deepcopy(state))
        return float(evaluate()._data.item())  # (1,)-shaped outputs too

    numeric = {name: _centered_differences(t, f, eps).reshape(t.shape)
               for name, t in named.items()}
    rng.set_state(after)

    all_approx = np.concatenate([numeric[n].ravel() for n in named] or [np.zeros(0)])
    all_grad = np.concatenate([analytic[n].ravel() for n in named] or [np.zeros(0)])
    difference = _relative_difference(all_approx, all_grad)
    scale = np.linalg.norm(all_approx) + np.linalg.norm(all_grad)
    per_input = {n: _share_difference(numeric[n], analytic[n], scale) for n in named}
    entries = []
    for n in named:
        err = np.abs(numeric[n] - analytic[n])
        for flat_i in np.argsort(err, axis=None)[::-1][:n_worst]:
            idx = np.unravel_index(flat_i, err.shape)
            entries.append((err[idx], n, tuple(int(i) for i in idx), float(analytic[n][idx]),
                            float(numeric[n][idx])))
    entries.sort(key=lambda e: -e[0])
    worst = [e[1:] for e in entries[:n_worst]]
    return GradcheckResult(difference, difference < threshold, threshold, eps, per_input, worst)


def gradcheck(fn: Callable[..., Tensor], inputs: Tensor | Sequence[Tensor] | dict[str, Tensor],
              eps: float = 1e-7, threshold: float = PASS_THRESHOLD,
              n_worst: int = 5) -> GradcheckResult:
    """Check the backward of `fn` (tensors -> scalar tensor) against centered differences.

    Every input that requires grad is copied to float64 and perturbed component by component.
    `inputs` is one tensor, a sequence (fn(*inputs)) or a dict of named tensors (fn(**inputs)).

    >>> import tinygrad_c2 as tg
    >>> x = tg.randn(3, 2, requires_grad=True)
    >>> tg.gradcheck(lambda x: (x.tanh() * x).sum(), x).passed
    True
    """
    evaluate, named = _float64_call(fn, inputs, "gradcheck")
    return _check(evaluate, named, eps, threshold, n_worst)


def _float64_call(fn: Callable[..., Any], inputs: Any, who: str
                  ) -> tuple[Callable[[], Any], dict[str, Tensor]]:
    """fn bound to float64 copies of its float inputs (the originals are left alone), and
    the copies that require grad by name ("input", "input0", ... or the dict's keys).

    `inputs` is one tensor, a sequence (fn(*inputs)) or a dict of named tensors (fn(**inputs)).
    """
    if isinstance(inputs, Tensor):
        items, call = {"input": inputs}, "single"
    elif isinstance(inputs, dict):
        items, call = dict(inputs), "kwargs"
    else:
        items, call = {f"input{i}": t for i, t in enumerate(inputs)}, "args"
    copies: dict[str, Any] = {}
    for name, t in items.items():
        if isinstance(t, Tensor) and t.dtype.kind == "f":
            copies[name] = Tensor(t._data.astype(np.float64), requires_grad=t.requires_grad)
        else:
            copies[name] = t
    named = {n: t for n, t in copies.items() if isinstance(t, Tensor) and t.requires_grad}
    if not named:
        raise ValueError(f"{who}: no input requires grad, so there is nothing to check")

    def evaluate() -> Any:
        if call == "single":
            return fn(copies["input"])
        if call == "kwargs":
            return fn(**copies)
        return fn(*copies.values())

    return evaluate, named


def check_gradients(model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], X: Any, y: Any,
                    eps: float = 1e-7, threshold: float = PASS_THRESHOLD,
                    n_worst: int = 5) -> GradcheckResult:
    """The course's whole-model check: flatten every parameter into theta, perturb each
    component, and compare J's centered differences with backprop; names the worst parameter.

    Works on a float64 copy of the model (the model itself is untouched). Dropout masks are
    held fixed across evaluations by rewinding the library RNG.

    >>> import tinygrad_c2 as tg
    >>> model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.Tanh(), tg.nn.Linear(4, 2))
    >>> X, y = tg.randn(5, 3), tg.tensor([0, 1, 1, 0, 1])
    >>> tg.check_gradients(model, tg.nn.functional.cross_entropy, X, y).passed
    True
    """
    model64 = copy.deepcopy(model)
    for _, p in model64.named_parameters():
        p._data = p._data.astype(np.float64)
        p.grad = None
    if hasattr(model64, "named_buffers"):
        for _, b in model64.named_buffers():
            if b._data.dtype.kind == "f":
                b._data = b._data.astype(np.float64)
    named = dict(model64.named_parameters())
    if not named:
        raise ValueError("check_gradients: the model has no parameters")
    Xt = Tensor(np.asarray(X._data if isinstance(X, Tensor) else X, dtype=np.float64))
    y_arr = np.asarray(y._data if isinstance(y, Tensor) else y)
    yt = Tensor(y_arr.astype(np.float64) if y_arr.dtype.kind == "f" else y_arr)
    return _check(lambda: loss_fn(model64(Xt), yt), named, eps, threshold, n_worst)


# ---------------------------------------------------------------- second order


@dataclass
class GradgradcheckResult(GradcheckResult):
    """What a second-order check found. `per_input` holds one relative difference per input
    that was nudged (the function's inputs and the cotangents grad_output0, ...); `worst`
    entries are (nudged input, its index, gradient, its index, double backward, numerical):
    d gradient[index] / d input[index]."""

    atol: float = 1e-5
    rtol: float = 1e-3
    worst: list[tuple[str, tuple[int, ...], str, tuple[int, ...], float, float]] = field(
        default_factory=list)

    def __str__(self) -> str:
        head = (f"second-order gradient check {'PASSED' if self.passed else 'FAILED'}: "
                f"relative difference {self.difference:.3e} (pass: every entry within atol "
                f"{self.atol:.0e} + rtol {self.rtol:.0e} * |numerical|; eps {self.eps:.0e}): "
                f"{verdict(self.difference, self.threshold)}")
        worst = ["  worst components (d gradient[index] / d input[index]: double backward vs "
                 "numerical):"]
        for name, idx, wrt, widx, a, n in self.worst:
            worst.append(f"    d {wrt}{list(widx)} / d {name}{list(idx)}: {a:+.10e} vs {n:+.10e}"
                         f" (|diff| {abs(a - n):.2e})")
        return "\n".join([head, *self._per_input_rows("input"), *worst])


def gradgradcheck(fn: Callable[..., Any],
                  inputs: Tensor | Sequence[Tensor] | dict[str, Tensor],
                  grad_outputs: Any = None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True, n_worst: int = 5,
                  seed: int = 0) -> GradgradcheckResult:
    """Check the double backward of `fn` (tensors -> a tensor or a tuple of tensors) against
    centered differences of its first-order gradient, as PyTorch's gradgradcheck does.

    The first-order gradient u(x, v) = grad(fn(x), x, v) is built with create_graph=True (v:
    `grad_outputs`, or cotangents drawn from N(0, 1) with `seed`), and its Jacobian with
    respect to every input that requires grad and to v (from the double backward, one
    backward per component of u) is compared with centered differences of u computed first
    order, in float64. It passes when every entry is within atol + rtol * |numerical|
    (PyTorch's test); the report gives the course's relative difference per input. A failure
    raises RuntimeError with the report (raise_exception=True, PyTorch's default); otherwise
    the result is returned, true or false as it passed.

    >>> import tinygrad_c2 as tg
    >>> x = tg.randn(3, 2, dtype=tg.float64, requires_grad=True)
    >>> bool(tg.gradgradcheck(lambda x: (x.tanh() * x).sum(1), x))
    True
    """
    from . import autograd  # NOTE: a local import: autograd imports this module

    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"gradgradcheck: eps must be a positive number, got {eps!r}")
    evaluate, named = _float64_call(fn, inputs, "gradgradcheck")
    state = copy.deepcopy(rng.get_state())  # rewound before each call: dropout masks hold
    outputs = _differentiable_outputs(evaluate())
    after = copy.deepcopy(rng.get_state())
    cotangents = _cotangents(outputs, grad_outputs, seed)
    wrt, seeds = list(named.values()), list(cotangents.values())
    nudged = {**named, **cotangents}

    def first_order(create_graph: bool) -> list[Tensor | None]:
        rng.set_state(copy.deepcopy(state))
        outs = _differentiable_outputs(evaluate())
        return list(autograd.grad(outs, wrt, grad_outputs=seeds, create_graph=create_graph,
                                  allow_unused=True))

    # the double backward, one row of the Jacobian at a time: d u[k] / d (inputs, cotangents)
    sizes = [t._data.size for t in wrt]
    offsets = np.cumsum([0, *sizes])
    analytic = {n: np.zeros((t._data.size, offsets[-1])) for n, t in nudged.items()}
    for u, start in zip(first_order(True), offsets, strict=False):
        if u is None or not u.requires_grad:  # u does not depend on anything: its rows are 0
            continue
        for k in range(u._data.size):
            one_hot = np.zeros(u.shape)
            one_hot.flat[k] = 1.0
            rows = autograd.grad(u, list(nudged.values()), one_hot, retain_graph=True,
                                 allow_unused=True)
            for n, r in zip(nudged, rows, strict=True):
                if r is not None:
                    analytic[n][:, start + k] = r._data.reshape(-1)

    def flat_first_order() -> np.ndarray:
        grads = first_order(False)
        return np.concatenate([np.zeros(s) if g is None else g._data.reshape(-1)
                               for g, s in zip(grads, sizes, strict=True)])

    numeric = {n: _centered_differences(t, flat_first_order, eps).reshape(analytic[n].shape)
               for n, t in nudged.items()}
    rng.set_state(after)

    columns = [(f"grad({n})", t.shape) for n, t in named.items()]
    result = _second_order_result(analytic, numeric, nudged, columns, eps, atol, rtol, n_worst)
    if raise_exception and not result.passed:
        raise RuntimeError(f"gradgradcheck: the double backward disagrees with the numerical "
                           f"second derivative\n{result}")
    return result


def _differentiable_outputs(out: Any) -> list[Tensor]:
    """fn's outputs that carry a gradient (a Tensor, or a tuple or list of them)."""
    outs = [out] if isinstance(out, Tensor) else out
    if not isinstance(outs, (list, tuple)) or not all(isinstance(t, Tensor) for t in outs):
        raise TypeError(f"gradgradcheck: the function must return a Tensor or a tuple of "
                        f"Tensors, got {type(out).__name__}")
    outs = [t for t in outs if t.requires_grad and t._data.dtype.kind == "f"]
    if not outs:
        raise ValueError("gradgradcheck: no output of the function requires grad, so there is "
                         "no gradient to differentiate")
    return outs


def _cotangents(outputs: list[Tensor], grad_outputs: Any, seed: int) -> dict[str, Tensor]:
    """One float64 cotangent per output that requires grad, named grad_output0, ...: copies
    of `grad_outputs`, or N(0, 1) draws from `seed` (a fixed seed: the check is repeatable)."""
    if grad_outputs is None:
        gen = np.random.default_rng(seed)
        given = [gen.standard_normal(t.shape) for t in outputs]
    else:
        given = [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) else list(
            grad_outputs)
    if len(given) != len(outputs):
        raise ValueError(f"gradgradcheck: {len(given)} grad_outputs for {len(outputs)} "
                         "outputs that require grad")
    seeds = {}
    for i, (g, t) in enumerate(zip(given, outputs, strict=True)):
        arr = np.array(g._data if isinstance(g, Tensor) else g, dtype=np.float64)
        if arr.shape != t.shape:
            raise ValueError(f"gradgradcheck: grad_outputs[{i}] has shape {arr.shape} but "
                             f"output {i} has shape {t.shape}")
        seeds[f"grad_output{i}"] = Tensor(arr, requires_grad=True)
    return seeds


def _second_order_result(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray],
                         nudged: dict[str, Tensor], columns: list[tuple[str, tuple]],
                         eps: float, atol: float, rtol: float,
                         n_worst: int) -> GradgradcheckResult:
    """Compare the Jacobians (rows: a nudged input's components, columns: the gradients')."""
    all_a = np.concatenate([analytic[n].ravel() for n in nudged])
    all_n = np.concatenate([numeric[n].ravel() for n in nudged])
    difference = _relative_difference(all_n, all_a)
    scale = np.linalg.norm(all_n) + np.linalg.norm(all_a)
    per_input = {n: _share_difference(numeric[n], analytic[n], scale) for n in nudged}
    passed = bool(np.all(np.abs(all_a - all_n) <= atol + rtol * np.abs(all_n)))
    entries = []
    for n in nudged:
        err = np.abs(numeric[n] - analytic[n])
        for flat_i in np.argsort(err, axis=None)[::-1][:n_worst]:
            row, col = np.unravel_index(flat_i, err.shape)
            entries.append((err[row, col], n, row, col, analytic[n][row, col],
                            numeric[n][row, col]))
    entries.sort(key=lambda e: -e[0])
    starts = np.cumsum([0] + [int(np.prod(shape)) for _, shape in columns])
    worst = []
    for _, n, row, col, a, num in entries[:n_worst]:
        c = int(np.searchsorted(starts, col, side="right")) - 1
        wrt, shape = columns[c]
        idx = tuple(int(i) for i in np.unravel_index(row, nudged[n].shape))
        widx = tuple(int(i) for i in np.unravel_index(col - starts[c], shape))
        worst.append((n, idx, wrt, widx, float(a), float(num)))
    return GradgradcheckResult(difference, passed, PASS_THRESHOLD, eps, per_input, worst,
                               atol=atol, rtol=rtol)

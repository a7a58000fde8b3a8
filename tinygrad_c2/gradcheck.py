"""Gradient checking as the course teaches it: centered differences in float64, compared with
backprop by the relative difference ||approx - grad|| / (||approx|| + ||grad||)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rng
from .engine import no_grad
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
        width = max([len(n) for n in self.per_input] + [9])
        rows = [f"  {'parameter':<{width}}  relative difference  verdict"]
        for name, d in self.per_input.items():
            rows.append(f"  {name:<{width}}  {d:19.3e}  {verdict(d, self.threshold)}")
        worst = ["  worst components (parameter[index]: backprop vs numerical):"]
        for name, idx, a, n in self.worst:
            worst.append(f"    {name}{list(idx)}: {a:+.10e} vs {n:+.10e} (|diff| {abs(a - n):.2e})")
        return "\n".join([head, *rows, *worst])


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
        rng.set_state(copy.deepcopy(state))
        with no_grad():
            return float(evaluate()._data.item())  # (1,)-shaped outputs too

    numeric = {}
    for name, t in named.items():
        approx = np.zeros_like(t._data)
        flat, grad_flat = t._data.reshape(-1), approx.reshape(-1)  # views into t._data, approx
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = f()
            flat[j] = orig - eps
            minus = f()
            flat[j] = orig
            grad_flat[j] = (plus - minus) / (2 * eps)
        numeric[name] = approx
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
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    def evaluate() -> Tensor:
        if call == "single":
            return fn(copies["input"])
        if call == "kwargs":
            return fn(**copies)
        return fn(*copies.values())

    return _check(evaluate, named, eps, threshold, n_worst)


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

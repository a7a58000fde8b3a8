"""Search spaces: how one hyperparameter is sampled on its own scale, enumerated and zoomed.

The course's week 3 advice, one class each:
- `Uniform(lo, hi)`: linear scale, for parameters whose effect is linear (hidden-layer width
  between 50 and 100, a dropout probability).
- `LogUniform(lo, hi)`: sample the exponent r uniformly in [log10 lo, log10 hi] and use 10^r,
  so every decade gets the same share of trials (a learning rate in 1e-4..1).
- `OneMinusLogUniform(lo, hi)`: for beta-like parameters near 1 (0.9..0.999) it is 1 - beta
  that matters (beta averages over about 1 / (1 - beta) steps), so 1 - beta is log-uniform.
- `IntUniform(lo, hi)` (both ends included), `Choice(options)` (categorical) and
  `Grid(values)` (explicit points, for grid search as the comparison).

Every space has `sample(rng, n)` (n plain Python values, so configs pickle and serialize
cleanly), `contains(value)`, `narrow(values, zoom, best)` for coarse-to-fine, `grid(k)` and
`spec()` (the command-line spelling that `parse_space` reads back).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Choice",
    "Grid",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "SCALES",
    "Space",
    "Uniform",
    "parse_space",
]

SCALES = ("linear", "log", "one-minus-log", "categorical")


def _check_n(n: object, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{where}: n must be an integer >= 0, got {n!r}")
    return int(n)


def _check_zoom(zoom: object, where: str) -> float:
    if isinstance(zoom, bool) or not isinstance(zoom, numbers.Real) or not 0.0 < zoom <= 1.0:
        raise ValueError(f"{where}: zoom must be a fraction in (0, 1] (the share of the width "
                         f"kept each round), got {zoom!r}")
    return float(zoom)


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Space:
    """Base class of a hyperparameter's search space (see the module docstring).

    `scale` tells plots which axis to use: "linear", "log", "one-minus-log" or "categorical".
    """

    scale: str = "linear"

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        """Draw n values with `rng` (plain Python numbers or the options themselves)."""
        raise NotImplementedError

    def contains(self, value: object) -> bool:
        """Whether `value` lies in this space."""
        raise NotImplementedError

    def narrow(self, values: Sequence[Any], zoom: float = 0.5, best: Any = None) -> Space:
        """A smaller space of the same kind around `values` (the best trials, best first)."""
        raise NotImplementedError

    def grid(self, k: int) -> Grid:
        """k evenly spaced points on this space's own scale, as a Grid."""
        raise NotImplementedError

    def spec(self) -> str:
        """The command-line spelling, e.g. 'log:0.0001:0.1' (`parse_space` reads it back)."""
        raise NotImplementedError

    def _check_values(self, values: Sequence[Any], best: Any, where: str) -> tuple[list, Any]:
        """Validate narrow()'s inputs: a non-empty list of members, and a member as best."""
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
            raise TypeError(f"{where}: values must be a sequence of the best trials' values, "
                            f"got {type(values).__name__}")
        values = list(values)
        if not values:
            raise ValueError(f"{where}: values is empty; pass at least the best trial's value")
        best = values[0] if best is None else best
        for value in [*values, best]:
            if not self.contains(value):
                raise ValueError(f"{where}: value {value!r} is not in {self!r}")
        return values, best


class _Continuous(Space):
    """A real interval [lo, hi] sampled uniformly in a transformed coordinate u = f(x)."""

    lo: float
    hi: float
    _prefix = ""

    def _to_u(self, x: np.ndarray) -> np.ndarray:
        return x

    def _from_u(self, u: np.ndarray) -> np.ndarray:
        return u

    def _check_bounds(self, lo: object, hi: object) -> None:
        name = type(self).__name__
        if not (_is_number(lo) and _is_number(hi)):
            raise TypeError(f"{name}: lo and hi must be real numbers, got {lo!r} and {hi!r}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"{name}: expected finite lo <= hi, got lo={lo!r}, hi={hi!r}")
        # NOTE: frozen dataclass; store plain floats so reprs, JSON and equality are clean.
        object.__setattr__(self, "lo", float(lo))
        object.__setattr__(self, "hi", float(hi))

    def _u_range(self) -> tuple[float, float]:
        a, b = self._to_u(np.array([self.lo, self.hi]))
        return float(min(a, b)), float(max(a, b))

    def _to_x(self, u: np.ndarray) -> np.ndarray:
        # NOTE: 10**log10(x) can miss x by an ulp; clip so samples never leave [lo, hi].
        return np.clip(self._from_u(u), self.lo, self.hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        n = _check_n(n, f"{type(self).__name__}.sample")
        u_lo, u_hi = self._u_range()
        return self._to_x(rng.uniform(u_lo, u_hi, size=n)).tolist()

    def contains(self, value: object) -> bool:
        return _is_number(value) and self.lo <= value <= self.hi

    def narrow(self, values: Sequence[float], zoom: float = 0.5, best: Any = None) -> Space:
        """Keep `zoom` of the width (on this space's scale) around the best trials.

        The new interval is centred on the mean of `values` in the sampling coordinate, then
        shifted as little as needed to contain `best` (default values[0]) and to stay inside
        the current interval, so rounds are nested and never lose the best point.
        """
        where = f"{type(self).__name__}.narrow"
        zoom = _check_zoom(zoom, where)
        values, best = self._check_values(values, best, where)
        u_lo, u_hi = self._u_range()
        u_values = self._to_u(np.asarray(values, dtype=np.float64))
        u_best = float(self._to_u(np.array([float(best)]))[0])
        width = zoom * (u_hi - u_lo)
        start = float(np.mean(u_values)) - width / 2
        start = min(max(start, u_best - width), u_best)  # the window must hold the best point
        start = min(max(start, u_lo), u_hi - width)  # and sit inside the current interval
        a, b = np.sort(self._to_x(np.array([start, start + width])))
        lo, hi = min(float(a), best), max(float(b), best)  # exact, whatever the rounding
        return type(self)(lo, hi)

    def grid(self, k: int) -> Grid:
        where = f"{type(self).__name__}.grid"
        if _check_n(k, where) < 1:
            raise ValueError(f"{where}: k must be >= 1, got {k}")
        u_lo, u_hi = self._u_range()
        u = np.linspace(u_lo, u_hi, k) if k > 1 else np.array([(u_lo + u_hi) / 2])
        points = np.sort(self._to_x(u))
        if k > 1:
            points[0], points[-1] = self.lo, self.hi
        return Grid(points.tolist(), scale=self.scale)

    def spec(self) -> str:
        return f"{self._prefix}:{self.lo!r}:{self.hi!r}"


@dataclass(frozen=True)
class Uniform(_Continuous):
    """Uniform on [lo, hi] (linear scale).

    >>> Uniform(0.0, 1.0).sample(np.random.default_rng(0), 2)
    [0.6369616873214543, 0.2697867137638703]
    """

    lo: float
    hi: float
    scale = "linear"
    _prefix = "uniform"

    def __post_init__(self) -> None:
        self._check_bounds(self.lo, self.hi)


@dataclass(frozen=True)
class LogUniform(_Continuous):
    """10^r with r uniform in [log10 lo, log10 hi]: the same share of trials per decade.

    >>> [f"{v:.1e}" for v in LogUniform(1e-4, 1e-1).sample(np.random.default_rng(0), 3)]
    ['8.1e-03', '6.4e-04', '1.3e-04']
    """

    lo: float
    hi: float
    scale = "log"
    _prefix = "log"

    def __post_init__(self) -> None:
        self._check_bounds(self.lo, self.hi)
        if self.lo <= 0:
            raise ValueError(f"LogUniform: lo must be > 0 (log scale), got lo={self.lo!r}")

    def _to_u(self, x: np.ndarray) -> np.ndarray:
        return np.log10(x)

    def _from_u(self, u: np.ndarray) -> np.ndarray:
        return 10.0**u


@dataclass(frozen=True)
class OneMinusLogUniform(_Continuous):
    """1 - 10^r with r uniform in [log10(1 - hi), log10(1 - lo)]: for beta near 1.

    For 0.9..0.999, 1 - beta is log-uniform in [1e-3, 1e-1]: half the trials average over
    10..100 steps and half over 100..1000, where a uniform beta would put 91% below 0.99.

    >>> [round(v, 4) for v in OneMinusLogUniform(0.9, 0.999).sample(np.random.default_rng(0), 3)]
    [0.9812, 0.9965, 0.9988]
    """

    lo: float
    hi: float
    scale = "one-minus-log"
    _prefix = "one-minus-log"

    def __post_init__(self) -> None:
        self._check_bounds(self.lo, self.hi)
        if not (0.0 <= self.lo and self.hi < 1.0):
            raise ValueError("OneMinusLogUniform: expected 0 <= lo <= hi < 1 (1 - beta is sampled "
                             f"on a log scale), got lo={self.lo!r}, hi={self.hi!r}")

    def _to_u(self, x: np.ndarray) -> np.ndarray:
        return np.log10(1.0 - x)

    def _from_u(self, u: np.ndarray) -> np.ndarray:
        return 1.0 - 10.0**u


@dataclass(frozen=True)
class IntUniform(Space):
    """An integer uniform on lo..hi, both ends included (hidden units, layers, batch size).

    >>> IntUniform(32, 256).sample(np.random.default_rng(0), 3)
    [223, 175, 147]
    """

    lo: int
    hi: int
    scale = "linear"

    def __post_init__(self) -> None:
        lo, hi = self.lo, self.hi
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (lo, hi)):
            raise TypeError(f"IntUniform: lo and hi must be integers, got {lo!r} and {hi!r}")
        if lo > hi:
            raise ValueError(f"IntUniform: expected lo <= hi, got lo={lo}, hi={hi}")
        object.__setattr__(self, "lo", int(lo))
        object.__setattr__(self, "hi", int(hi))

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        n = _check_n(n, "IntUniform.sample")
        return rng.integers(self.lo, self.hi, size=n, endpoint=True).tolist()

    def contains(self, value: object) -> bool:
        if not _is_number(value) or not float(value).is_integer():
            return False
        return self.lo <= value <= self.hi

    def narrow(self, values: Sequence[int], zoom: float = 0.5, best: Any = None) -> IntUniform:
        """Keep ceil(zoom * count) integers around the mean of `values`, holding `best`."""
        zoom = _check_zoom(zoom, "IntUniform.narrow")
        values, best = self._check_values(values, best, "IntUniform.narrow")
        best = int(best)
        count = max(1, math.ceil(zoom * (self.hi - self.lo + 1)))
        start = math.floor(float(np.mean(values)) - (count - 1) / 2 + 0.5)
        start = min(max(start, best - count + 1), best)
        start = min(max(start, self.lo), self.hi - count + 1)
        return IntUniform(start, start + count - 1)

    def grid(self, k: int) -> Grid:
        if _check_n(k, "IntUniform.grid") < 1:
            raise ValueError(f"IntUniform.grid: k must be >= 1, got {k}")
        points = np.linspace(self.lo, self.hi, k) if k > 1 else [(self.lo + self.hi) / 2]
        return Grid(sorted({math.floor(p + 0.5) for p in points}), scale="linear")

    def spec(self) -> str:
        return f"int:{self.lo}:{self.hi}"


def _options_tuple(options: object, where: str) -> tuple:
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence | np.ndarray):
        raise TypeError(f"{where}: expected a list of options, got {options!r}")
    items = tuple(v.item() if isinstance(v, np.generic) else v for v in options)
    if not items:
        raise ValueError(f"{where}: needs at least one option")
    return items


def _keep_present(options: tuple, values: list, best: Any) -> tuple:
    """The options that appear among the best trials, in their original order."""
    return tuple(o for o in options if o == best or any(o == v for v in values))


@dataclass(frozen=True)
class Choice(Space):
    """One of a few options, each equally likely (activation, optimizer, hidden layers).

    >>> Choice(["relu", "tanh", "sigmoid"]).sample(np.random.default_rng(0), 4)
    ['sigmoid', 'tanh', 'tanh', 'relu']
    """

    options: tuple
    scale = "categorical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _options_tuple(self.options, "Choice"))

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        n = _check_n(n, "Choice.sample")
        return [self.options[i] for i in rng.integers(0, len(self.options), size=n)]

    def contains(self, value: object) -> bool:
        return any(value == o for o in self.options)

    def narrow(self, values: Sequence[Any], zoom: float = 0.5, best: Any = None) -> Choice:
        """Keep the options that the best trials used (`zoom` does not apply)."""
        _check_zoom(zoom, "Choice.narrow")
        values, best = self._check_values(values, best, "Choice.narrow")
        return Choice(_keep_present(self.options, values, best))

    def grid(self, k: int | None = None) -> Grid:
        """Every option once (k is ignored)."""
        return Grid(self.options, scale="categorical")

    def spec(self) -> str:
        return "choice:" + ",".join(str(o) for o in self.options)


@dataclass(frozen=True)
class Grid(Space):
    """Explicit points to enumerate in `grid_search`; sampled uniformly among them otherwise.

    `scale` is for plots; numbers default to "linear", anything else to "categorical".
    Continuous spaces build evenly spaced grids on their own scale:

    >>> LogUniform(1e-4, 1e-1).grid(4)
    Grid(values=(0.0001, 0.001, 0.01, 0.1), scale='log')
    """

    values: tuple
    scale: str | None = None

    def __post_init__(self) -> None:
        values = _options_tuple(self.values, "Grid")
        object.__setattr__(self, "values", values)
        scale = self.scale
        if scale is None:
            scale = "linear" if all(_is_number(v) for v in values) else "categorical"
        if scale not in SCALES:
            raise ValueError(f"Grid: scale must be one of {SCALES}, got {scale!r}")
        object.__setattr__(self, "scale", scale)

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        n = _check_n(n, "Grid.sample")
        return [self.values[i] for i in rng.integers(0, len(self.values), size=n)]

    def contains(self, value: object) -> bool:
        return any(value == v for v in self.values)

    def narrow(self, values: Sequence[Any], zoom: float = 0.5, best: Any = None) -> Grid:
        """Keep the points that the best trials used (`zoom` does not apply)."""
        _check_zoom(zoom, "Grid.narrow")
        values, best = self._check_values(values, best, "Grid.narrow")
        return Grid(_keep_present(self.values, values, best), scale=self.scale)

    def grid(self, k: int | None = None) -> Grid:
        return self

    def spec(self) -> str:
        return "grid:" + ",".join(repr(v) if _is_number(v) else str(v) for v in self.values)


def _parse_item(text: str) -> Any:
    """'32' -> 32, '1e-3' -> 0.001, 'relu' -> 'relu' (for choice lists and constants)."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _parse_number(text: str, spec: str, kind: type = float) -> Any:
    try:
        return kind(text)
    except ValueError:
        wanted = "an integer" if kind is int else "a number"
        raise ValueError(f"parse_space: {text!r} in {spec!r} is not {wanted}") from None


_RANGES: dict[str, type] = {
    "uniform": Uniform,
    "log": LogUniform,
    "one-minus-log": OneMinusLogUniform,
    "int": IntUniform,
}


def parse_space(spec: str) -> Any:
    """Read a command-line space: 'log:1e-4:1e-1', 'one-minus-log:0.9:0.999', 'int:32:256',
    'uniform:0:1', 'choice:relu,tanh', 'grid:1,2,3'; anything else is a fixed value.

    >>> parse_space("log:1e-4:1e-1")
    LogUniform(lo=0.0001, hi=0.1)
    >>> parse_space("choice:relu,tanh"), parse_space("0.5")
    (Choice(options=('relu', 'tanh')), 0.5)
    """
    if not isinstance(spec, str):
        raise TypeError(f"parse_space: expected a string such as 'log:1e-4:1e-1', got {spec!r}")
    kind, sep, rest = spec.strip().partition(":")
    kind = kind.lower()
    if not sep:
        return _parse_item(spec)
    if kind in ("choice", "grid"):
        items = [_parse_item(item) for item in rest.split(",") if item.strip()]
        if not items:
            raise ValueError(f"parse_space: {spec!r} lists no options (expected {kind}:a,b,c)")
        return Choice(items) if kind == "choice" else Grid(items)
    if kind in _RANGES:
        bounds = rest.split(":")
        if len(bounds) != 2:
            raise ValueError(f"parse_space: expected {kind}:LO:HI, got {spec!r}")
        number = int if kind == "int" else float
        lo, hi = (_parse_number(b, spec, number) for b in bounds)
        return _RANGES[kind](lo, hi)
    known = ", ".join([*_RANGES, "choice", "grid"])
    raise ValueError(f"parse_space: unknown space kind {kind!r} in {spec!r} (known: {known})")

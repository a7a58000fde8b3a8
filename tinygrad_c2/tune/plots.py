"""Scatter the dev metric against each hyperparameter, each on its own scale (matplotlib).

matplotlib is optional and imported only when a plot is asked for.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .search import SearchResult
from .spaces import Space

__all__ = ["plot_search"]


def _require_matplotlib() -> Any:
    try:
        from matplotlib.ticker import FixedLocator, FuncFormatter
    except ImportError as exc:
        raise ImportError("plot_search: matplotlib is not installed (pip install matplotlib)"
                          ) from exc
    from ..train.plots import figure_class  # shown inline in a notebook, as train's figures

    return figure_class(), FixedLocator, FuncFormatter


def _to_position(x: Any, scale: str) -> np.ndarray:
    """Where a value sits along an axis of this scale (the space's sampling coordinate)."""
    x = np.asarray(x, dtype=np.float64)
    if scale == "log":
        return np.log10(x)
    if scale == "one-minus-log":
        return -np.log10(np.clip(1.0 - x, 1e-300, None))
    return x


def _from_position(u: Any, scale: str) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    if scale == "log":
        return 10.0**u
    if scale == "one-minus-log":
        return 1.0 - 10.0**-u
    return u


def _bounds(space: Space) -> tuple[float, float] | None:
    """The searched range [lo, hi] of a numeric space (None for choices)."""
    if hasattr(space, "lo"):
        return float(space.lo), float(space.hi)
    values = getattr(space, "values", ())
    if space.scale != "categorical" and values:
        return float(min(values)), float(max(values))
    return None


def _scale_axis(ax: Any, space: Space, locator: Any, formatter: Any) -> None:
    """Log axis for log spaces; 0.9, 0.99, 0.999 evenly spaced for one-minus-log ones; the
    whole searched range shown (with a small margin on that scale)."""
    scale, bounds = space.scale, _bounds(space)
    if scale == "log":
        ax.set_xscale("log")
    elif scale == "one-minus-log":
        ax.set_xscale("function", functions=(lambda x: _to_position(x, scale),
                                             lambda u: _from_position(u, scale)))
        if bounds is not None:
            first = math.ceil(float(_to_position(bounds[0], scale)) - 1e-9)
            last = math.floor(float(_to_position(bounds[1], scale)) + 1e-9)
            ticks = sorted({*bounds, *(1.0 - 10.0**-k for k in range(first, last + 1))})
            ax.xaxis.set_major_locator(locator(ticks))
            ax.xaxis.set_minor_locator(locator([]))
            ax.xaxis.set_major_formatter(formatter(lambda v, _pos: f"{v:.6g}"))
    if bounds is not None:
        lo, hi = _to_position(bounds, scale)
        pad = 0.04 * (hi - lo) if hi > lo else 0.5
        ax.set_xlim(*_from_position([lo - pad, hi + pad], scale))


def plot_search(result: SearchResult, path: str | Path | None = None,
                names: list[str] | None = None) -> Any:
    """One panel per hyperparameter: the dev metric of every trial against its value.

    Log-uniform parameters get a log axis, one-minus-log ones an axis evenly spaced in
    1 - beta, choices one position per option. Colour shows the coarse-to-fine round, a star
    the best trial, and an x on the bottom edge each failed (or NaN) trial. Saves to `path`
    when given; returns the matplotlib Figure (no pyplot, so no window opens).
    """
    Figure, FixedLocator, FuncFormatter = _require_matplotlib()
    space = result.spaces[0]
    tuned = [n for n, s in space.items() if isinstance(s, Space)]
    names = tuned if names is None else list(names)
    unknown = [n for n in names if n not in tuned]
    if unknown or not names:
        raise ValueError(f"plot_search: no searched hyperparameter named {unknown or names} "
                         f"(searched: {tuned})")
    good = [r for r in result.ranked() if math.isfinite(float(r["metrics"][result.metric]))]
    bad = [r for r in result.records if r not in good]
    best = good[0] if good else None
    rounds = sorted({r["round"] for r in result.records})

    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig = Figure(figsize=(4.2 * columns, 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        s = space[name]
        positions: dict[Any, int] = {}
        if s.scale == "categorical":
            options = list(getattr(s, "options", None) or getattr(s, "values", ()))
            positions = {str(o): i for i, o in enumerate(options)}
            ax.set_xticks(range(len(options)), [str(o) for o in options])
            ax.set_xlim(-0.5, len(options) - 0.5)

        def x_of(record: dict, positions: dict[Any, int] = positions, name: str = name) -> Any:
            value = record["config"][name]
            return positions[str(value)] if positions else value

        for k in rounds:
            members = [r for r in good if r["round"] == k]
            if members:
                ax.scatter([x_of(r) for r in members],
                           [r["metrics"][result.metric] for r in members], s=18, alpha=0.8,
                           label=f"round {k}" if len(rounds) > 1 else None)
        if best is not None:
            ax.scatter([x_of(best)], [best["metrics"][result.metric]], marker="*", s=160,
                       color="crimson", zorder=3, label="best")
        if bad:
            ax.plot([x_of(r) for r in bad], [0.0] * len(bad), "x", color="grey",
                    transform=ax.get_xaxis_transform(), clip_on=False, label="failed / NaN")
        if s.scale != "categorical":
            _scale_axis(ax, s, FixedLocator, FuncFormatter)
        ax.set_xlabel(f"{name} ({s.scale} scale)")
        ax.set_ylabel(f"{result.metric} ({result.mode})")
        ax.grid(True, alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    if axes[0].get_legend_handles_labels()[0]:  # an empty legend call warns
        axes[0].legend(fontsize="small")
    fig.suptitle(f"{result.method} search: {len(result.records)} trials")
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig

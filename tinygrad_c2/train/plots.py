"""Training plots saved as PNG: curves, learning rate, gradient norms, decision boundary, EWA.

matplotlib is optional (`pip install "tinygrad_c2[plot]"`); it is imported inside the
functions, never at package import. Figures are built with `matplotlib.figure.Figure`
directly, not pyplot, so nothing opens a window or touches global plotting state. Every
function returns the Figure and saves it when `path` is given.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import no_grad
from ..nn.modules.module import Module
from ..tensor import Tensor
from .history import History

INSTALL_HINT = 'plotting needs matplotlib: pip install "tinygrad_c2[plot]"'


_FIGURE: list[type] = []  # the Figure class below, made once matplotlib is imported


def figure_class() -> type:
    """matplotlib's Figure that a notebook displays as a PNG where it is the cell's result.

    The figures here are built without pyplot (no window, no global backend, files written
    headless), and IPython shows a bare Figure only as `<Figure size ...>` unless
    `%matplotlib inline` ran: `_repr_png_` makes it show itself either way.
    """
    try:
        import matplotlib  # noqa: F401 (each time, cheap once imported: refuses a hidden one)
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(INSTALL_HINT) from error
    if not _FIGURE:

        class NotebookFigure(Figure):
            def _repr_png_(self) -> bytes:
                buffer = io.BytesIO()
                self.savefig(buffer, format="png", dpi=100)
                return buffer.getvalue()

        _FIGURE.append(NotebookFigure)
    return _FIGURE[0]


def new_figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None
               ) -> tuple[Any, np.ndarray]:
    """A matplotlib Figure and its (nrows, ncols) array of Axes; ImportError without matplotlib.

    >>> fig, axes = new_figure(1, 2); axes.shape  # doctest: +SKIP
    (1, 2)
    """
    size = size or (4.6 * ncols, 3.4 * nrows)
    fig = figure_class()(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Any, path: str | os.PathLike | None, dpi: int = 110) -> Any:
    """Save `fig` to `path` (PNG by its suffix; parent folders created) and return it."""
    if path is not None:
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def _mark_best(ax: Any, history: History) -> None:
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch, color="0.6", linestyle=":", label="best epoch")


def plot_history(history: History, path: str | os.PathLike | None = None,
                 metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None) -> Any:
    """Train vs dev curves, one panel per metric (the picture behind the course's early stopping).

    >>> h = History(); h.append({"epoch": 1, "train_loss": 1.0})
    >>> fig = plot_history(h, "curves.png")  # doctest: +SKIP
    """
    shown = [m for m in metrics if f"train_{m}" in history or f"dev_{m}" in history]
    if not shown:
        raise ValueError(f"plot_history: none of {list(metrics)} was recorded; columns are "
                         f"{history.columns}")
    fig, axes = new_figure(1, len(shown))
    epochs = history["epoch"]
    for ax, metric in zip(axes[0], shown, strict=True):
        for split, style in (("train", "-"), ("dev", "--")):
            if f"{split}_{metric}" in history:
                ax.plot(epochs, history[f"{split}_{metric}"], style, label=split)
        _mark_best(ax, history)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if metric == "loss":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize="medium")
    return save_figure(fig, path)


def plot_lr(history: History | Sequence[float], path: str | os.PathLike | None = None,
            ax: Any = None, label: str | None = None) -> Any:
    """The learning rate per epoch (a History) or per step (a sequence of numbers)."""
    if isinstance(history, History):
        x, lrs, unit = history["epoch"], history["lr"], "epoch"
    else:
        lrs = list(history)
        x, unit = list(range(1, len(lrs) + 1)), "step"
    fig = None
    if ax is None:
        fig, axes = new_figure()
        ax = axes[0, 0]
    ax.plot(x, lrs, label=label)
    ax.set_xlabel(unit)
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    return save_figure(fig, path) if fig is not None else ax.figure


def _course_layers(columns: list[str]) -> list[str]:
    """Legend labels with the course's layer numbers: 'l = 1 (module 0)', 'l = 2 (module 4)'."""
    return [f"l = {i} (module {c[c.index('[') + 1:-1]})" for i, c in enumerate(columns, 1)]


def _decade_ticks(ax: Any) -> None:
    """Log-scale ticks at 1, 2 and 5 times each power of ten, printed as plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_gradient_norms(history: History, path: str | os.PathLike | None = None,
                        vanish: float = 1e-7, explode: float = 1e3) -> Any:
    """Per-layer ||dW[l]|| and activation spreads recorded by GradientMonitor, on log scales.

    Layers carry the course's numbers (l = 1 is the first Linear layer). The green band is
    where GradientMonitor raises no flag (`vanish` to `explode`, its defaults); the activation
    panel marks std 0.1 to 10, where a signal neither dies out nor blows up with depth.
    """
    grads = [c for c in history.columns if c.startswith("grad_norm[")]
    acts = [c for c in history.columns if c.startswith("act_std[")]
    if not grads:
        raise ValueError("plot_gradient_norms: no 'grad_norm[...]' columns; train with "
                         "callbacks=[GradientMonitor()]")
    fig, axes = new_figure(1, 2 if acts else 1, size=(5.2 * (2 if acts else 1), 4.0))
    fig.suptitle("Vanishing or exploding? Lines that fan out by decades with depth are the "
                 "warning;\nclose, parallel lines inside the green band are healthy",
                 fontsize="medium")
    epochs = history["epoch"]
    panels = [(axes[0, 0], grads, "||dW[l]|| (mean over the epoch's steps)", (vanish, explode),
               "gradient norm per layer")]
    if acts:
        panels.append((axes[0, 1], acts, "std of layer l's output Z[l]", (0.1, 10.0),
                       "activation spread on a fixed batch\nof training examples (eval mode)"))
    for ax, columns, ylabel, (low, high), title in panels:
        values = np.array([history[c] for c in columns], dtype=np.float64)
        for column, label in zip(columns, _course_layers(columns), strict=True):
            ax.plot(epochs, history[column], marker="o", markersize=3, label=label)
        ax.set_yscale("log")
        finite = values[np.isfinite(values) & (values > 0)]
        if finite.size:  # a decade of margin around the data, so the band's edges show nearby
            ax.set_ylim(finite.min() / 10, finite.max() * 10)
        ax.axhspan(low, high, color="tab:green", alpha=0.08, label="healthy band")
        _decade_ticks(ax)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(title="Linear layer", fontsize="small")
    return save_figure(fig, path)


def plot_decision_boundary(model: Module, X: np.ndarray, y: np.ndarray,
                           path: str | os.PathLike | None = None, ax: Any = None,
                           title: str | None = None, resolution: int = 200) -> Any:
    """The regions a 2-D classifier assigns to each class, with the data points on top.

    The model runs in eval mode on a grid covering X (plus a margin); a single-output model
    is read as a logit (class 1 where > 0), a multi-output one by argmax.
    """
    X = np.asarray(X)
    y = np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must have shape (m, 2), got {X.shape}")
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-3
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xs, ys = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(X.dtype, copy=False)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(grid)).numpy()
    finally:
        model.train(was_training)
    if out.ndim == 2 and out.shape[1] > 1:
        regions = out.argmax(axis=1)
    else:
        regions = (out.reshape(-1) > 0).astype(np.int64)
    fig = None
    if ax is None:
        fig, axes = new_figure(size=(4.6, 4.0))
        ax = axes[0, 0]
    ax.contourf(grid_x, grid_y, regions.reshape(grid_x.shape), alpha=0.3, cmap="coolwarm",
                levels=np.arange(max(regions.max(), y.max()) + 2) - 0.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10, edgecolors="k", linewidths=0.3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    if title:
        ax.set_title(title, fontsize="medium")
    return save_figure(fig, path) if fig is not None else ax.figure


def temperature_series(days: int = 365, seed: int = 0) -> np.ndarray:
    """A year of synthetic daily temperatures (a seasonal cosine plus noise), for the EWA picture.

    >>> temperature_series(10).shape
    (10,)
    """
    t = np.arange(days)
    noise = np.random.default_rng(seed).normal(0.0, 3.0, days)
    return 11.0 - 7.0 * np.cos(2 * math.pi * (t - 15) / 365) + noise


def ewa_curves(values: Sequence[float], beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(raw, bias-corrected) exponentially weighted averages of `values`, v_0 = 0.

    >>> raw, corrected = ewa_curves([10.0, 10.0], beta=0.5); raw.tolist(), corrected.tolist()
    ([5.0, 7.5], [10.0, 10.0])
    """
    raw = np.empty(len(values))
    v = 0.0
    for t, theta in enumerate(values):
        v = beta * v + (1.0 - beta) * float(theta)
        raw[t] = v
    corrected = raw / (1.0 - beta ** np.arange(1, len(values) + 1))
    return raw, corrected


def plot_ewa(values: Sequence[float] | None = None, betas: Sequence[float] = (0.5, 0.9, 0.98),
             path: str | os.PathLike | None = None) -> Any:
    """The course's EWA picture: averages for several beta, then beta's largest with/without
    bias correction (the raw average starts near 0 because v_0 = 0)."""
    values = temperature_series() if values is None else np.asarray(values, dtype=np.float64)
    days = np.arange(1, len(values) + 1)
    fig, axes = new_figure(1, 2, size=(10.0, 3.6))
    left, right = axes[0]
    left.scatter(days, values, s=4, color="0.6", label="data")
    for beta in betas:
        _, corrected = ewa_curves(values, beta)
        left.plot(days, corrected, label=f"beta={beta} (~{1 / (1 - beta):.0f} values)")
    left.set_title("exponentially weighted averages (bias-corrected)", fontsize="medium")
    beta = max(betas)
    raw, corrected = ewa_curves(values, beta)
    right.scatter(days, values, s=4, color="0.6", label="data")
    right.plot(days, raw, label=f"beta={beta}, no bias correction")
    right.plot(days, corrected, label=f"beta={beta}, v_t / (1 - beta^t)")
    right.set_title("bias correction fixes the start", fontsize="medium")
    for ax in (left, right):
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return save_figure(fig, path)

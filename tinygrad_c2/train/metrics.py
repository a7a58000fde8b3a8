"""Metrics for `fit`: accuracy for class labels, one-hot targets and binary outputs; evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..engine import no_grad
from ..nn.modules.module import Module
from ..tensor import Tensor

MetricFn = Callable[[Tensor, Tensor], float]


def accuracy(output: Tensor | np.ndarray, target: Tensor | np.ndarray,
             threshold: float = 0.0) -> float:
    """Fraction of correct predictions.

    Multi-class output (N, C): the predicted class is the argmax; targets are labels (N,)
    or class probabilities / one-hot (N, C). Binary output (N,) or (N, 1): predict 1 when
    output > `threshold` (0 for logits, 0.5 for sigmoid probabilities).

    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5
    >>> accuracy(np.array([[-1.2], [0.3]]), np.array([[0.0], [1.0]]))
    1.0
    """
    out = output._data if isinstance(output, Tensor) else np.asarray(output)
    tgt = target._data if isinstance(target, Tensor) else np.asarray(target)
    if out.ndim == 2 and out.shape[1] > 1:
        predicted = out.argmax(axis=1)
        labels = tgt.argmax(axis=1) if tgt.ndim == 2 else tgt
    elif out.ndim in (1, 2):
        predicted = (out.reshape(-1) > threshold).astype(np.int64)
        labels = tgt.reshape(-1)
    else:
        raise ValueError(f"accuracy: expected output of shape (N, C), (N,) or (N, 1), "
                         f"got {out.shape}")
    if labels.shape != predicted.shape:
        raise ValueError(f"accuracy: output {out.shape} and target {tgt.shape} do not match: "
                         "expected labels (N,), one-hot (N, C) or binary targets (N,)/(N, 1)")
    if predicted.size == 0:
        raise ValueError("accuracy: empty batch")
    return float((predicted == labels).mean())


def resolve_metrics(metrics: Iterable[str | MetricFn], threshold: float
                    ) -> dict[str, MetricFn | None]:
    """Name -> function for fit's `metrics`; 'loss' maps to None (the loss function itself)."""
    resolved: dict[str, MetricFn | None] = {}
    for metric in metrics:
        if metric == "loss":
            resolved["loss"] = None
        elif metric == "accuracy":
            resolved["accuracy"] = lambda out, tgt: accuracy(out, tgt, threshold)
        elif callable(metric):
            name = getattr(metric, "__name__", type(metric).__name__)
            resolved[name] = metric
        else:
            raise ValueError(f"fit: unknown metric {metric!r}; expected 'loss', 'accuracy' or "
                             "a function (output, target) -> float")
    resolved.setdefault("loss", None)
    return resolved


def evaluate(model: Module, loss_fn: Callable[[Any, Any], Tensor],
             batches: Iterable[Sequence[Tensor]],
             metrics: dict[str, MetricFn | None] | Sequence[str] = ("loss", "accuracy"),
             threshold: float = 0.0) -> dict[str, float]:
    """Mean loss and metrics of `model` in eval mode (no dropout, running batch-norm statistics).

    `batches` yields (X, y) pairs; each batch counts by its size. The model's mode is
    restored afterwards and nothing is recorded for backward.

    >>> import tinygrad_c2 as tg; from tinygrad_c2 import nn
    >>> model = nn.Linear(2, 2); X, y = tg.randn(4, 2), tg.tensor(np.array([0, 1, 1, 0]))
    >>> sorted(evaluate(model, nn.CrossEntropyLoss(), [(X, y)]))
    ['accuracy', 'loss']
    """
    if not isinstance(metrics, dict):
        metrics = resolve_metrics(metrics, threshold)
    totals = dict.fromkeys(metrics, 0.0)
    count = 0
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for xb, yb in batches:
                out = model(xb)
                n = len(yb)
                for name, fn in metrics.items():
                    value = loss_fn(out, yb).item() if fn is None else fn(out, yb)
                    totals[name] += float(value) * n
                count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate: the data holds no examples")
    return {name: total / count for name, total in totals.items()}

"""Train / dev / test split with the course's ratios, optionally stratified by class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..tensor import Tensor
from ._common import Seed, like_input, resolve_rng, to_numpy

__all__ = ["train_dev_test_split"]

Split = tuple[np.ndarray | Tensor, np.ndarray | Tensor]


def _apportion(total: int, ratios: np.ndarray, tie_break: np.ndarray) -> np.ndarray:
    """Integer counts summing to `total`, each within 1 of total * ratio (largest remainder).

    Leftover units go to the largest fractional parts; `tie_break` orders equal fractions.
    """
    quotas = total * ratios
    counts = np.floor(quotas).astype(np.int64)
    leftover = total - int(counts.sum())
    fractions = quotas - counts
    order = np.lexsort((tie_break, -fractions))  # largest fraction first, then tie_break
    counts[order[:leftover]] += 1
    return counts


def _check_ratios(ratios: Sequence[float]) -> np.ndarray:
    values = np.asarray(ratios, dtype=np.float64)
    if values.shape != (3,) or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("train_dev_test_split: ratios must be three numbers >= 0 "
                         f"(train, dev, test), got {ratios!r}")
    if abs(values.sum() - 1.0) > 1e-6:
        raise ValueError(f"train_dev_test_split: ratios must sum to 1, got {ratios!r} "
                         f"(sum {values.sum():g})")
    return values


def train_dev_test_split(
    X: np.ndarray | Tensor,
    y: np.ndarray | Tensor,
    ratios: Sequence[float] = (0.6, 0.2, 0.2),
    seed: Seed = None,
    stratify: bool = False,
) -> tuple[Split, Split, Split]:
    """Shuffle (X, y) and cut it into ((X_train, y_train), (X_dev, y_dev), (X_test, y_test)).

    The course's advice: with a small data set (hundreds to tens of thousands of examples)
    the classic 60/20/20 works; with big data (say 1,000,000 examples) use 98/1/1 or even
    99.5/0.25/0.25, since 10,000 dev examples are plenty to choose between models and every
    other example is worth more in training. The dev set picks models and hyperparameters;
    the test set gives an unbiased final estimate and may be left out (ratio 0) when that
    is not needed. Dev and test must come from the same distribution, the one you care about.

    Split sizes are the ratios times m rounded by largest remainder (they always add up to
    m). `stratify=True` splits each class separately with the same ratios, so every split
    keeps the class proportions (within one example per class), then shuffles each split.
    Arrays come back as numpy arrays, or as Tensors when Tensors were passed in.

    >>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
    >>> (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(X, y, seed=0)
    >>> len(X_tr), len(X_dev), len(X_te)
    (6, 2, 2)
    """
    where = "train_dev_test_split"
    features, labels = to_numpy(X, where, "X"), to_numpy(y, where, "y")
    if features.ndim < 1 or labels.ndim < 1 or len(features) != len(labels):
        raise ValueError(f"{where}: X and y must have the same number of examples (first axis), "
                         f"got X {features.shape} and y {labels.shape}")
    values = _check_ratios(ratios)
    rng = resolve_rng(seed, where)
    m = len(labels)
    if m == 0:
        raise ValueError(f"{where}: X and y hold no examples")
    if stratify:
        if labels.ndim != 1:
            raise ValueError(f"{where}: stratify=True needs class labels y of shape (m,), "
                             f"got {labels.shape}")
        pieces: list[list[np.ndarray]] = [[], [], []]
        _, class_of = np.unique(labels, return_inverse=True)
        for k in range(int(class_of.max()) + 1):
            members = rng.permutation(np.flatnonzero(class_of == k))
            # Random tie-breaking, so no split is favoured class after class.
            counts = _apportion(len(members), values, rng.permutation(3))
            bounds = np.cumsum(counts)[:-1]
            for split, part in enumerate(np.split(members, bounds)):
                pieces[split].append(part)
        index_sets = [rng.permutation(np.concatenate(part)) for part in pieces]
    else:
        counts = _apportion(m, values, np.arange(3))
        index_sets = np.split(rng.permutation(m), np.cumsum(counts)[:-1])
    return tuple(  # type: ignore[return-value]
        (like_input(features[index], X), like_input(labels[index], y)) for index in index_sets
    )

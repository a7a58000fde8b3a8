"""The course's bias/variance diagnosis from train and dev error, and the basic recipe."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

#: A gap (in error, as a fraction) above this counts as "high": 1.5 percentage points. The
#: course's textbook cases sit on either side of it: 0.5% and 1% are low, 10% and 15% high,
#: and so is Course 3's 2% variance next to a 0.5% avoidable bias (human error 7.5%,
#: train 8%, dev 10%: "focus on variance").
DEFAULT_THRESHOLD = 0.015

BIAS_RECIPE = (
    "bigger network (more hidden units or more layers)",
    "train longer, or with a better optimizer (Adam, a tuned learning rate)",
    "try another architecture",
)
VARIANCE_RECIPE = (
    "more training data (or data augmentation)",
    "regularization (L2, dropout, early stopping)",
    "try another architecture",
)


@dataclass(frozen=True)
class Diagnosis:
    """A bias/variance verdict: the errors, the two gaps, the verdict and the recipe's next steps.

    avoidable_bias = train_error - bayes_error; variance = dev_error - train_error. Errors are
    fractions (0.11 means 11%).
    """

    train_error: float
    dev_error: float
    bayes_error: float
    avoidable_bias: float
    variance: float
    high_bias: bool
    high_variance: bool
    threshold: float

    @property
    def verdict(self) -> str:
        """'high bias', 'high variance', 'high bias and high variance' or 'neither ...'."""
        if self.high_bias and self.high_variance:
            return "high bias and high variance"
        if self.high_bias:
            return "high bias"
        if self.high_variance:
            return "high variance"
        return "neither: low bias and low variance"

    @property
    def recipe(self) -> tuple[str, ...]:
        """The basic recipe's next steps: fix bias first (on the training set), then variance."""
        steps: list[str] = []
        if self.high_bias:
            steps += [f"bias: {step}" for step in BIAS_RECIPE]
        if self.high_variance:
            steps += [f"variance: {step}" for step in VARIANCE_RECIPE]
        if not steps:
            steps.append("done: measure the test error once, for an unbiased estimate")
        return tuple(steps)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for metrics.json: the fields plus verdict and recipe."""
        return {**asdict(self), "verdict": self.verdict, "recipe": list(self.recipe)}

    def __str__(self) -> str:
        head = (f"train error {_pct(self.train_error)}, dev error {_pct(self.dev_error)}, "
                f"Bayes error {_pct(self.bayes_error)}: avoidable bias "
                f"{_pct(self.avoidable_bias)}, variance {_pct(self.variance)} -> {self.verdict}")
        return "\n".join([head, *(f"  next: {step}" for step in self.recipe)])


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f}%"


def _check_error(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"diagnose: {name} must be a number, got {value!r}")
    if not 0.0 <= value <= 1.0:
        hint = f" (write {value / 100:g} for {value:g}%)" if 1.0 < value <= 100.0 else ""
        raise ValueError(f"diagnose: {name} must be an error rate in [0, 1], got {value!r}{hint}")
    return float(value)


def diagnose(train_error: float, dev_error: float, bayes_error: float = 0.0,
             threshold: float = DEFAULT_THRESHOLD) -> Diagnosis:
    """The course's bias/variance verdict from train and dev error (fractions in [0, 1]).

    High bias when the avoidable bias (train - Bayes error) exceeds `threshold`, high
    variance when the dev error exceeds the train error by more than `threshold`. Bayes
    error (the best achievable error; human-level error is a proxy) is 0 by default, as in
    the course's cat classifier. The result prints the figures and the basic recipe.

    >>> diagnose(0.01, 0.11).verdict
    'high variance'
    >>> print(diagnose(0.15, 0.16))  # doctest: +ELLIPSIS
    train error 15.0%, dev error 16.0%, Bayes error 0.0%: avoidable bias 15.0%, variance 1.0% ...
      next: bias: bigger network (more hidden units or more layers)
    ...
    """
    train = _check_error("train_error", train_error)
    dev = _check_error("dev_error", dev_error)
    bayes = _check_error("bayes_error", bayes_error)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or threshold < 0:
        raise ValueError(f"diagnose: threshold must be a number >= 0, got {threshold!r}")
    avoidable_bias = train - bayes
    variance = dev - train
    return Diagnosis(
        train_error=train, dev_error=dev, bayes_error=bayes,
        avoidable_bias=avoidable_bias, variance=variance,
        high_bias=avoidable_bias > threshold, high_variance=variance > threshold,
        threshold=float(threshold),
    )

"""Argument types and errors every sub-command shares: numbers in a range, FlagError,
and which flags a command line actually gave."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any


def parse_number(text: str, convert: Callable[[str], Any], low: float, high: float,
                 expected: str) -> Any:
    """argparse type helper: `convert(text)` if it lies in [low, high), else a clear error.

    >>> parse_number("0.5", float, 0.0, 1.0, "a probability")
    0.5
    """
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not low <= value < high:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
    return value


def parse_probability(text: str) -> float:
    """argparse type for --dropout: a drop probability in [0, 1)."""
    return parse_number(text, float, 0.0, 1.0,
                        "a drop probability in [0, 1) (the course's keep_prob is 1 - p)")


def parse_non_negative(text: str) -> float:
    """argparse type: a finite number >= 0 (learning rate, decay rate, lambda)."""
    return parse_number(text, float, 0.0, math.inf, "a number >= 0")


def parse_positive(text: str) -> float:
    """argparse type: a finite number > 0 (the gradient check's eps)."""
    value = parse_number(text, float, 0.0, math.inf, "a number > 0")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0")
    return value


def parse_non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a seed; patience, where 0 turns early stopping off)."""
    return parse_number(text, int, 0, math.inf, "an integer >= 0")


def parse_positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (epochs, batch size, examples)."""
    return parse_number(text, int, 1, math.inf, "a positive integer")


class FlagError(ValueError):
    """The command line asks for something the command refuses to do (conflicting flags, an
    unusable --out, too little data): one line on stderr, exit code 2 like argparse's own
    errors, and nothing written."""


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests of the flags written in `argv`, told apart from defaults (even a flag given
    with its default value counts); `parser` must accept an empty command line.

    argparse leaves an attribute the namespace already has alone instead of setting its
    default, so every dest starts as a marker and only the given ones are overwritten.

    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--lr", type=float, default=0.1)
    >>> _ = parser.add_argument("--epochs", type=int, default=10)
    >>> sorted(given_flags(parser, ["--lr", "0.1"]))
    ['lr']
    """
    marker = object()
    namespace = argparse.Namespace(**dict.fromkeys(vars(parser.parse_args([])), marker))
    parser.parse_args(argv, namespace)
    return {dest for dest, value in vars(namespace).items() if value is not marker}

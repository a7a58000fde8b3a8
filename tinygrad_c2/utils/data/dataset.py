"""PyTorch's data sets: Dataset, IterableDataset, TensorDataset, Subset, ConcatDataset;
random_split."""

from __future__ import annotations

import bisect
import math
import numbers
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

from ...generator import Generator
from ...rng import generator as global_generator
from ...tensor import Tensor

T_co = TypeVar("T_co", covariant=True)

__all__ = ["ConcatDataset", "Dataset", "IterableDataset", "Subset", "TensorDataset",
           "random_split"]


def as_array(x: object, where: str, name: str) -> np.ndarray:
    """The numpy array behind a Tensor, array or nested list (a Tensor's array is not copied)."""
    if isinstance(x, Tensor):
        return x.numpy()
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{where}: {name} must be a numpy array, a Tensor or a list, got "
                        f"{type(x).__name__}") from err


def numpy_rng(generator: Generator | np.random.Generator | None, where: str
              ) -> np.random.Generator:
    """The numpy stream behind a generator= argument; None means the library's global one.

    NOTE: the global generator is looked up on every call, never stored, because
    `tg.manual_seed` replaces it.
    """
    if generator is None:
        return global_generator()
    if isinstance(generator, Generator):
        return generator.numpy_generator
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{where}: generator must be a tg.Generator (or a numpy Generator), got "
                    f"{type(generator).__name__}")


class Dataset(Generic[T_co]):
    """PyTorch's map-style data set: subclass it and define `__len__` and `__getitem__(i)`.

    `__getitem__` returns one example, usually a tuple `(x, y)` of arrays, Tensors or
    numbers; DataLoader collates the examples of a batch with `default_collate`. For arrays
    already in memory, TensorDataset (or passing `(X, y)` straight to DataLoader) is much
    faster: it gathers a whole batch with one fancy index instead of one call per example.
    `a + b` concatenates two data sets (ConcatDataset); `Dataset[T]` works in type hints.
    """

    def __getitem__(self, index: int) -> object:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """PyTorch's iterable-style data set: subclass it and define `__iter__` yielding examples.

    DataLoader groups the examples into batches in the order they come (no sampler, no
    shuffle).
    """

    def __iter__(self) -> Iterator:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: Dataset) -> Dataset:
        raise TypeError("IterableDataset: + (ConcatDataset) needs map-style data sets")


class TensorDataset(Dataset):
    """Arrays or Tensors sharing their first dimension; example i is the tuple of their rows i.

    >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5)); len(ds), ds[2][1].item()
    (5, 2)
    """

    def __init__(self, *tensors: np.ndarray | Tensor | Sequence) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = tuple(as_array(t, "TensorDataset", f"argument {i}") for i, t in enumerate(tensors))
        if any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"TensorDataset: all arrays need the same first dimension (the "
                             f"number of examples), got shapes {shapes}")
        self.arrays = arrays  # the numpy arrays, not copied
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(a)
                             for t, a in zip(tensors, arrays, strict=True))

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(np.asarray(a[index])) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])


class Subset(Dataset):
    """The examples of `dataset` at `indices`, in that order (random_split returns these).

    >>> s = Subset(TensorDataset(np.arange(10)), [7, 2]); len(s), s[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: int | list[int]) -> object:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list:
        """The examples at `indices` (PyTorch's batched fetch), one per index."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Map-style data sets one after another: example i of the whole is found by bisection.

    >>> c = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    >>> len(c), c[3][0].item(), c[-1][0].item()
    (5, 10, 11)
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        # NOTE: PyTorch raises AssertionError for these two; a ValueError says "bad argument".
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise ValueError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> object:
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        if index >= len(self):
            raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)} "
                             "examples")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """PyTorch's rule: fractions summing to 1 become floor(n * f), the remainder handed out
    one at a time from the first split on (round robin); integer lengths pass through."""
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, fraction in enumerate(lengths):
            if fraction < 0 or fraction > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * fraction))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", UserWarning, stacklevel=3)
        return sizes
    if total != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    for i, length in enumerate(lengths):
        if not isinstance(length, numbers.Integral) or isinstance(length, bool) or length < 0:
            raise ValueError(f"random_split: lengths must be ints >= 0 or fractions summing "
                             f"to 1, got {length!r} at index {i}")
    return [int(length) for length in lengths]


def random_split(dataset: Dataset, lengths: Sequence[float],
                 generator: Generator | np.random.Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths or fractions.

    Fractions summing to 1 get floor(len * f) examples each, and the leftover examples go one
    each to the first splits (PyTorch's rule). `generator=None` draws the permutation from
    the library's global stream (`tg.manual_seed`).

    >>> parts = random_split(range(10), [0.25, 0.75], generator=Generator().manual_seed(0))
    >>> [len(p) for p in parts], sorted(parts[0].indices + parts[1].indices) == list(range(10))
    ([3, 7], True)
    """
    sizes = _split_lengths(len(dataset), lengths)
    order = numpy_rng(generator, "random_split").permutation(sum(sizes)).tolist()
    ends = np.cumsum(sizes).tolist()
    return [Subset(dataset, order[end - size:end]) for end, size in zip(ends, sizes, strict=True)]

"""PyTorch's samplers: the order a DataLoader visits examples in, and how it groups them.

Each built-in sampler also gives one epoch's indices as one numpy array (`_epoch_indices`), so
BatchSampler slices an epoch without a Python step per index, and the DataLoader gathers a
batch of in-memory arrays with one fancy index.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Sequence, Sized
from typing import Generic

import numpy as np

from ...generator import Generator
from .dataset import T_co, numpy_rng

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
           "SubsetRandomSampler", "WeightedRandomSampler"]


def _positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


class Sampler(Generic[T_co]):
    """Base class: subclass it and define `__iter__` (yielding indices) and usually `__len__`."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1: the order without shuffling.

    >>> list(SequentialSampler(range(4)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def _epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order: a new permutation each epoch, or `num_samples` draws with replacement.

    Without replacement and with `num_samples` larger than the data, whole permutations follow
    one another (PyTorch's rule). `generator=None` draws from the library's global stream
    (`tg.manual_seed`), as the course's shuffle does.

    >>> sorted(RandomSampler(range(5), generator=Generator().manual_seed(0)))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None,
                 generator: Generator | np.random.Generator | None = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not _positive_int(self.num_samples):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")
        numpy_rng(generator, "RandomSampler")  # a bad generator fails here, not mid-epoch

    @property
    def num_samples(self) -> int:
        """How many indices one epoch yields (the data set's length unless given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_indices(self) -> np.ndarray:
        rng = numpy_rng(self.generator, "RandomSampler")
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=count)
        whole, rest = divmod(count, n)
        parts = [rng.permutation(n) for _ in range(whole)]
        if rest:
            parts.append(rng.permutation(n)[:rest])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order each epoch.

    >>> sorted(SubsetRandomSampler([5, 7, 9], generator=Generator().manual_seed(1)))
    [5, 7, 9]
    """

    def __init__(self, indices: Sequence[int],
                 generator: Generator | np.random.Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator
        numpy_rng(generator, "SubsetRandomSampler")

    def _epoch_indices(self) -> np.ndarray:
        order = numpy_rng(self.generator, "SubsetRandomSampler").permutation(len(self.indices))
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)[order]

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """`num_samples` indices drawn with probabilities proportional to `weights` (e.g. to
    oversample a rare class), with replacement unless told otherwise.

    >>> g = Generator().manual_seed(0)
    >>> draws = list(WeightedRandomSampler([0.0, 1.0, 3.0], 8, generator=g)); len(draws), 0 in draws
    (8, False)
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Generator | np.random.Generator | None = None) -> None:
        if not _positive_int(num_samples):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{self.weights.shape}")
        self.num_samples, self.replacement = int(num_samples), replacement
        self.generator = generator
        numpy_rng(generator, "WeightedRandomSampler")

    def _epoch_indices(self) -> np.ndarray:
        w = self.weights
        # NOTE: checked when drawing, as torch.multinomial does, so weights may be set later.
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution: "
                               "weights must be finite, >= 0 and not all 0")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples "
                               f"without replacement from {np.count_nonzero(w)} non-zero "
                               "weights")
        rng = numpy_rng(self.generator, "WeightedRandomSampler")
        return rng.choice(len(w), size=self.num_samples, replace=self.replacement, p=w / w.sum())

    def __iter__(self) -> Iterator[int]:
        return iter(self._epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Consecutive groups of `batch_size` indices from `sampler` (the last may be shorter).

    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Sampler | Sequence[int], batch_size: int, drop_last: bool) -> None:
        if not _positive_int(batch_size):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def _index_batches(self) -> Iterator[np.ndarray]:
        """The batches as int64 arrays; a built-in sampler's epoch is drawn in one call."""
        # NOTE: exact types only: a subclass may override __iter__, which must then be used.
        if type(self.sampler) in (SequentialSampler, RandomSampler, SubsetRandomSampler,
                                  WeightedRandomSampler):
            order = self.sampler._epoch_indices()
            stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
            for start in range(0, stop, self.batch_size):
                yield order[start:start + self.batch_size]
            return
        batch: list[int] = []
        for index in self.sampler:  # any iterable of indices, e.g. a list or a generator
            batch.append(index)
            if len(batch) == self.batch_size:
                yield np.asarray(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._index_batches():
            yield batch.tolist()

    def __len__(self) -> int:
        full, rest = divmod(len(self.sampler), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

"""DataLoader: PyTorch's class and defaults; with shuffle=True, the course's shuffle-then-partition.

In-memory arrays (a TensorDataset, an `(X, y)` pair, an array, or Subsets of those) take a fast
path: each batch is gathered with one fancy index per array, no Python step per example.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ...generator import Generator
from ...tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset, Subset, TensorDataset, as_array
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def get_worker_info() -> None:
    """None: batches are always made in the main process here (there are no workers)."""
    return None


def _as_dataset(data: object) -> object:
    """What DataLoader iterates over: a tuple of arrays is the course's (X, y) columns."""
    if isinstance(data, Dataset) or isinstance(data, (np.ndarray, Tensor)):
        return data
    if isinstance(data, tuple) and data and all(isinstance(d, (np.ndarray, Tensor, list))
                                                for d in data):
        return TensorDataset(*data)
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, str):
        return data  # PyTorch's map-style protocol: a list of examples, a range, ...
    raise TypeError("DataLoader: data must be (X, y) arrays/Tensors, an array or a Dataset, "
                    f"got {type(data).__name__}")


def _generator(generator: object, seed: object) -> Generator | None:
    """The loader's own stream from generator= (PyTorch's) or seed= (the course's)."""
    if generator is not None and seed is not None:
        raise ValueError("DataLoader: give generator= or seed=, not both")
    if isinstance(generator, np.random.Generator):
        return Generator._from_numpy(generator)
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError("DataLoader: generator must be a tg.Generator (or a numpy Generator), "
                        f"got {type(generator).__name__}")
    if seed is None or isinstance(seed, np.random.Generator):
        return generator if seed is None else Generator._from_numpy(seed)
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise TypeError("DataLoader: seed must be None, an int or a numpy Generator, got "
                        f"{type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"DataLoader: seed must be a non-negative integer, got {seed}")
    return Generator().manual_seed(int(seed))


def _check_workers(num_workers: object, timeout: object, prefetch_factor: object,
                   persistent_workers: bool, multiprocessing_context: object) -> None:
    """PyTorch's checks of the worker options (accepted, but batches are made in-process)."""
    if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if not isinstance(timeout, numbers.Real) or timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if multiprocessing_context is not None and num_workers == 0:
        raise ValueError("multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")


def _in_memory(dataset: object) -> tuple[tuple[np.ndarray, ...], bool, np.ndarray | None] | None:
    """The arrays behind `dataset`, whether an example is one bare array (not a tuple), and
    the index map of Subsets on top; None when examples must be fetched one by one."""
    if type(dataset) is TensorDataset:  # NOTE: exact type: a subclass may redefine __getitem__
        return dataset.arrays, False, None
    if isinstance(dataset, (np.ndarray, Tensor)):
        array = as_array(dataset, "DataLoader", "data")
        return ((array,), True, None) if array.ndim > 0 else None
    if type(dataset) is Subset:
        inner = _in_memory(dataset.dataset)
        if inner is None:
            return None
        arrays, single, index_map = inner
        indices = np.asarray(dataset.indices, dtype=np.int64).reshape(-1)
        return arrays, single, indices if index_map is None else index_map[indices]
    return None


class DataLoader:
    """Batches from a data set: PyTorch's DataLoader, with its defaults and arguments.

    `dataset` is a Dataset (map-style or IterableDataset), anything with `__getitem__` and
    `__len__` (a list of examples, an array), or the course's `(X, y)` tuple of arrays/Tensors
    (any number of them), read as a TensorDataset. Defaults are PyTorch's: `batch_size=1`,
    `shuffle=False`, `drop_last=False`. `shuffle=True` draws a new permutation each epoch
    (each `for` loop over the loader) and partitions it into consecutive batches: the course's
    random_mini_batches; the last batch holds the leftover m % batch_size examples unless
    `drop_last=True`. `sampler`, `batch_sampler`, `collate_fn` (default: `default_collate`)
    and `generator` (a `tg.Generator`) work as in PyTorch; `len(loader)` is the number of
    batches. A TensorDataset or `(X, y)` batch comes as a list of Tensors `[X_b, y_b]`, a
    bare array's as one Tensor; batches never require grad and never share memory with the
    data set.

    Worker options (`num_workers`, `pin_memory`, `timeout`, `worker_init_fn`,
    `multiprocessing_context`, `prefetch_factor`, `persistent_workers`, `pin_memory_device`,
    `in_order`) are checked as PyTorch checks them and otherwise ignored: batches are always
    made in the main process, in order, so `worker_init_fn` is never called.

    The course's additions, keyword-only: `seed=` (an int or numpy Generator: the loader's own
    shuffling stream, the same sequence of epochs every time the loader is rebuilt; without
    seed or generator, shuffling follows `tg.manual_seed`), and `transform=` (a function of the
    first field's numpy batch, e.g. augmentation from `tinygrad_c2.data.augment` on the
    training loader only).

    >>> X, y = np.zeros((300, 2), np.float32), np.arange(300)
    >>> loader = DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    >>> len(loader), [len(yb) for _, yb in loader]
    (5, [64, 64, 64, 64, 44])
    """

    def __init__(
        self,
        dataset: Dataset | Sequence | np.ndarray | Tensor,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Sampler | Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: object = None,
        generator: Generator | np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        seed: int | np.random.Generator | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        dataset = _as_dataset(dataset)
        _check_workers(num_workers, timeout, prefetch_factor, persistent_workers,
                       multiprocessing_context)
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn),
                         ("transform", transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got {type(fn).__name__}")
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        self.generator = _generator(generator, seed)

        if isinstance(dataset, IterableDataset):
            if shuffle not in (False, None):
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = (RandomSampler(dataset, generator=self.generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (
            isinstance(dataset, IterableDataset) and batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self.transform = transform

    def __len__(self) -> int:
        """The number of batches in one epoch (examples when batch_size=None)."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # a TypeError when the data set has no length, as in PyTorch
            if self.batch_size is None:
                return n
            full, rest = divmod(n, self.batch_size)
            return full if self.drop_last or rest == 0 else full + 1
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _index_batches(self) -> Iterator[np.ndarray]:
        if type(self.batch_sampler) is BatchSampler:
            return self.batch_sampler._index_batches()
        return (np.asarray(batch, dtype=np.int64) for batch in self.batch_sampler)

    def _batches(self) -> Iterator[Any]:
        """One epoch of collated batches (before the transform)."""
        dataset, collate = self.dataset, self.collate_fn
        if isinstance(dataset, IterableDataset):
            examples = iter(dataset)
            if self.batch_size is None:
                yield from (collate(example) for example in examples)
                return
            while batch := list(itertools.islice(examples, self.batch_size)):
                if len(batch) < self.batch_size and self.drop_last:
                    return
                yield collate(batch)
            return
        if self.batch_sampler is None:  # batch_size=None: one example at a time
            yield from (collate(dataset[index]) for index in self.sampler)
            return
        memory = _in_memory(dataset) if collate is default_collate else None
        if memory is not None:
            # The fast path: what default_collate would build, one fancy index per array.
            arrays, single, index_map = memory
            for index in self._index_batches():
                rows = index if index_map is None else index_map[index]
                # NOTE: no local keeps the batch alive while the caller uses it: an epoch of
                # large batches then reuses the same memory instead of mapping new pages.
                yield Tensor(arrays[0][rows]) if single else [Tensor(a[rows]) for a in arrays]
            return
        fetch_many = getattr(dataset, "__getitems__", None)
        for index in self.batch_sampler:
            index = list(index)
            examples = fetch_many(index) if callable(fetch_many) else [dataset[i] for i in index]
            yield collate(examples)

    def __iter__(self) -> Iterator[Any]:
        for batch in self._batches():
            if self.transform is not None:  # rebinding frees the untransformed batch now
                batch = (Tensor(self.transform(batch.numpy())) if isinstance(batch, Tensor)
                         else [Tensor(self.transform(batch[0].numpy())), *batch[1:]])
            yield batch

    def __repr__(self) -> str:
        order = type(self.sampler).__name__ if self.sampler is not None else "iterable"
        length = len(self) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"sampler={order}, drop_last={self.drop_last}, {length} batches)")

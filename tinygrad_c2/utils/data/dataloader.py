"""Mini-batches the course's way (shuffle, then partition) as Tensors: DataLoader, Dataset."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..rng import generator
from ..tensor import Tensor
from ._common import Seed, resolve_rng, to_numpy

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """PyTorch's map-style data set: subclass it and define `__len__` and `__getitem__(i)`.

    `__getitem__` returns one example, usually a tuple `(x, y)` of arrays, Tensors or
    numbers; DataLoader stacks the examples of a batch field by field. For arrays already
    in memory, TensorDataset (or passing `(X, y)` straight to DataLoader) is much faster:
    it gathers a whole batch with one fancy index instead of one call per example.
    """

    def __getitem__(self, index: int) -> object:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Arrays or Tensors sharing their first dimension; example i is the tuple of their rows i.

    >>> ds = TensorDataset(np.zeros((5, 3)), np.arange(5)); len(ds), ds[2][1].item()
    (5, 2)
    """

    def __init__(self, *tensors: np.ndarray | Tensor | Sequence) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = tuple(to_numpy(t, "TensorDataset", f"argument {i}") for i, t in enumerate(tensors))
        if any(a.ndim == 0 for a in arrays) or len({len(a) for a in arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"TensorDataset: all arrays need the same first dimension (the "
                             f"number of examples), got shapes {shapes}")
        self.arrays = arrays  # the numpy arrays, not copied
        self.tensors = tuple(Tensor(a) for a in arrays)

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(Tensor(np.asarray(a[index])) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])


def _stack_field(values: list, where: str) -> np.ndarray:
    """Stack one field of a batch of examples (arrays, Tensors or numbers) into one array."""
    return np.stack([to_numpy(v, where, "an example field") for v in values])


class DataLoader:
    """Iterate over mini-batches: shuffle the examples, then partition them into batches.

    `data` is `(X, y)` (numpy arrays, Tensors or lists with the same first dimension; any
    number of arrays), a single array, or a Dataset. Each epoch (each `for` loop over the
    loader) draws a new permutation when `shuffle=True` and yields tuples of Tensors
    `(X_batch, y_batch)` that do not require grad; the last batch holds the leftover
    m % batch_size examples unless `drop_last=True`. `len(loader)` is the number of batches.

    `seed=None` draws each epoch's permutation from the library's global generator, so
    `tg.manual_seed` governs it; an int seed gives the same sequence of epochs every time
    the loader is rebuilt. `transform` is applied to each X batch (a numpy array, copied
    when shuffled, a view of X when not: transforms must return a new array, as the ones in
    `tinygrad_c2.data.augment` do), e.g. data augmentation on the training loader only.

    >>> X, y = np.zeros((300, 2), np.float32), np.arange(300)
    >>> loader = DataLoader((X, y), batch_size=64, seed=0)
    >>> len(loader), [len(yb) for _, yb in loader]
    (5, [64, 64, 64, 64, 44])
    """

    def __init__(
        self,
        data: Dataset | Sequence | np.ndarray | Tensor,
        batch_size: int = 64,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: Seed = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be an int >= 1, got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError("DataLoader: transform must be callable, "
                            f"got {type(transform).__name__}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        # NOTE: with seed=None the global generator is looked up at each epoch, never stored,
        # because tg.manual_seed replaces it.
        self._rng = None if seed is None else resolve_rng(seed, "DataLoader")
        self.dataset = data
        self._arrays: tuple[np.ndarray, ...] | None = None  # the fast path: arrays in memory
        self._single = False  # a bare array yields bare Tensors, not 1-tuples
        if isinstance(data, TensorDataset):
            self._arrays = data.arrays
        elif isinstance(data, Dataset):
            pass  # generic path: one __getitem__ per example
        elif isinstance(data, (np.ndarray, Tensor)):
            self._arrays = (to_numpy(data, "DataLoader"),)
            self._single = True
        elif isinstance(data, (tuple, list)) and data:
            self._arrays = TensorDataset(*data).arrays
        else:
            raise TypeError("DataLoader: data must be (X, y) arrays/Tensors, an array or a "
                            f"Dataset, got {type(data).__name__}")
        self._length = len(self._arrays[0]) if self._arrays is not None else len(data)

    @property
    def generator(self) -> np.random.Generator | None:
        """The loader's own shuffling generator (seed given), or None when it follows the
        library's global one; checkpoints save and restore its state to resume exactly."""
        return self._rng

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        full, rest = divmod(self._length, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def _order(self) -> np.ndarray | None:
        """This epoch's permutation (the course's shuffle step), or None to keep the order."""
        if not self.shuffle:
            return None
        rng = self._rng if self._rng is not None else generator()
        return rng.permutation(self._length)

    def _gather(self, index: np.ndarray | slice) -> tuple[list[np.ndarray], bool]:
        """The fields of one batch as numpy arrays, and whether they form a bare example."""
        if self._arrays is not None:
            return [array[index] for array in self._arrays], self._single
        positions = range(self._length)[index] if isinstance(index, slice) else index.tolist()
        examples = [self.dataset[i] for i in positions]
        if isinstance(examples[0], (tuple, list)):
            fields = zip(*examples, strict=True)
            return [_stack_field(list(field), "DataLoader") for field in fields], False
        return [_stack_field(examples, "DataLoader")], True

    def __iter__(self) -> Iterator[tuple[Tensor, ...] | Tensor]:
        order = self._order()
        stop = len(self) * self.batch_size if self.drop_last else self._length
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, self._length)
            # The partition step: consecutive slices of the permutation (views when unshuffled).
            index = slice(start, end) if order is None else order[start:end]
            fields, single = self._gather(index)
            if self.transform is not None:
                fields[0] = self.transform(fields[0])
            batch = tuple(Tensor(field) for field in fields)
            yield batch[0] if single else batch

    def __repr__(self) -> str:
        return (f"DataLoader({self._length} examples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")

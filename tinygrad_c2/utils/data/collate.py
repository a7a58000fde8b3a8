"""default_collate and default_convert: PyTorch's rules for turning examples into a batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
          "found {}")


def _numeric(array: np.ndarray | np.generic) -> bool:
    # NOTE: strings and objects have no Tensor (collate refuses them, convert leaves them).
    return array.dtype.kind in "biufc"


def _stack(arrays: list[np.ndarray]) -> Tensor:
    """Stack equal-shaped arrays along a new first dim (a fresh array, never a view)."""
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        first = arrays[0].shape
        bad = next(i for i, a in enumerate(arrays) if a.shape != first)
        raise RuntimeError(f"default_collate: stack expects each example to be of equal size, "
                           f"but got {first} at entry 0 and {arrays[bad].shape} at entry {bad}")
    return Tensor(np.stack(arrays))


def default_collate(batch: Sequence) -> Any:
    """Merge a list of examples into a batch, recursively, by the type of the first example.

    Tensors and numpy arrays are stacked into one Tensor (dtype kept); Python ints give an
    int64 Tensor, Python floats a float64 one, bools a bool one; strings stay as they are; dicts
    collate per key, tuples and lists per position (giving a list, as PyTorch does), named
    tuples keep their type. The batch's Tensors never require grad.

    >>> b = default_collate([(np.array([1.0, 2.0]), 0), (np.array([3.0, 4.0]), 1)])
    >>> b[0].shape, b[0].dtype, b[1].tolist(), b[1].dtype
    ((2, 2), dtype('float64'), [0, 1], dtype('int64'))
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t.numpy() for t in batch])
    if isinstance(elem, np.ndarray):
        if not _numeric(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return _stack(list(batch))
    if isinstance(elem, (str, bytes)):  # before numpy scalars: np.str_ is a str
        return batch
    if isinstance(elem, np.generic):
        if not _numeric(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return Tensor(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, int):  # bools too: np.asarray keeps them bool, as torch.tensor does
        return Tensor(np.asarray(batch))
    if isinstance(elem, Mapping):
        collated = {key: default_collate([example[key] for example in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
        return type(elem)(*(default_collate(field) for field in zip(*batch, strict=True)))
    if isinstance(elem, Sequence):
        if any(len(example) != len(elem) for example in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(field) for field in zip(*batch, strict=True)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(_ERROR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn numpy arrays and numbers of numpy type into Tensors, recursively, without stacking
    (what a DataLoader with `batch_size=None` yields for each example).

    >>> t, label = default_convert((np.arange(3), "label")); t.tolist(), label
    ([0, 1, 2], 'label')
    """
    if isinstance(data, (np.ndarray, np.generic)):
        return Tensor(np.asarray(data)) if _numeric(data) else data
    if isinstance(data, Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data

"""PyTorch's `torch.utils.data`: Dataset, TensorDataset, DataLoader, samplers, random_split.

>>> from tinygrad_c2.utils.data import DataLoader, TensorDataset, random_split
"""

from .collate import default_collate, default_convert
from .dataloader import DataLoader, get_worker_info
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

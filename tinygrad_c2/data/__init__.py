"""Data for tinygrad_c2: toy and real data sets, splitting, preprocessing; DataLoader re-exported.

>>> from tinygrad_c2.data import DataLoader, load_digits, train_dev_test_split
"""

# The loader family lives where PyTorch keeps it (utils/data); these are the same objects.
from ..utils.data import DataLoader, Dataset, TensorDataset
from ._common import DataFileError
from .augment import Compose, GaussianNoise, RandomHorizontalFlip, RandomShift
from .csv import LabelledCSV, load_csv, load_csv_features
from .mnist import (
    FASHION_MNIST_CLASSES,
    download_fashion_mnist,
    download_mnist,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from .preprocessing import PCAWhitener, Standardizer, from_one_hot, one_hot
from .real import RealDataset, load_breast_cancer, load_digits
from .split import train_dev_test_split
from .synthetic import make_blobs, make_circles, make_moons, make_planar_flower, make_spirals
from .text import NAMES_ALPHABET, load_names

__all__ = [
    "FASHION_MNIST_CLASSES",
    "NAMES_ALPHABET",
    "Compose",
    "DataFileError",
    "DataLoader",
    "Dataset",
    "GaussianNoise",
    "LabelledCSV",
    "PCAWhitener",
    "RandomHorizontalFlip",
    "RandomShift",
    "RealDataset",
    "Standardizer",
    "TensorDataset",
    "download_fashion_mnist",
    "download_mnist",
    "from_one_hot",
    "load_breast_cancer",
    "load_csv",
    "load_csv_features",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_names",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_planar_flower",
    "make_spirals",
    "one_hot",
    "read_idx",
    "train_dev_test_split",
    "write_idx",
]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)

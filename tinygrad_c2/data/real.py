"""Real data shipped inside the package: UCI digits (8x8) and UCI breast cancer (diagnostic).

Both files are compressed .npz archives without pickles, extracted once from the copies
that scikit-learn bundles (which are the UCI data); scikit-learn is not needed to load them.
Source, licence (CC BY 4.0) and citation are in each dataset's `description` and in
DATA_LICENSES.txt beside this file.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ._common import DataFileError, check_float_dtype

__all__ = ["RealDataset", "load_breast_cancer", "load_digits"]

#: Where the shipped .npz files live (the package folder; tests point it at damaged copies).
SHIPPED_FOLDER = resources.files(__package__)


@dataclass(frozen=True)
class RealDataset:
    """A loaded data set: features, int64 labels, their names, a description (source, licence)."""

    data: np.ndarray
    target: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    description: str
    images: np.ndarray | None = None

    def __repr__(self) -> str:
        title = self.description.splitlines()[0] if self.description else "data set"
        return (f"RealDataset({title!r}, data={self.data.shape} {self.data.dtype}, "
                f"{len(self.target_names)} classes)")


def _load_shipped(file_name: str, dtype: object, where: str, images: bool) -> RealDataset:
    """Read one of the package's .npz files (allow_pickle=False: loading never runs code).

    A damaged file (not a zip, cut short, an array missing or stored as objects) gets a
    DataFileError naming it and saying how to restore it.
    """
    resolved = check_float_dtype(dtype, where)
    path = SHIPPED_FOLDER.joinpath(file_name)
    try:
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            return _build({key: archive[key] for key in archive.files}, resolved, images)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError, zlib.error) as error:
        # ValueError: an object array refused by allow_pickle=False, or arrays of wrong shape
        raise DataFileError(
            f"{where}: the shipped file {path} is damaged ({type(error).__name__}: {error}); "
            f"reinstall tinygrad_c2: pip install --force-reinstall tinygrad_c2 (in a checkout: "
            f"git checkout -- tinygrad_c2/data/{file_name})") from None


def _build(arrays: dict[str, np.ndarray], dtype: np.dtype, images: bool) -> RealDataset:
    """Turn the stored arrays into a RealDataset with the requested feature dtype."""
    data = arrays["data"].astype(dtype)
    return RealDataset(
        data=data,
        target=arrays["target"].astype(np.int64),
        feature_names=tuple(str(name) for name in arrays["feature_names"]),
        target_names=tuple(str(name) for name in arrays["target_names"]),
        description=str(arrays["description"]),
        images=data.reshape(-1, 8, 8) if images else None,
    )


def load_digits(
    *, return_X_y: bool = False, dtype: object = None
) -> RealDataset | tuple[np.ndarray, np.ndarray]:
    """UCI optical-recognition digits: 1,797 8x8 images (pixels 0..16), 10 classes.

    Returns a RealDataset (`data` (1797, 64), `images` (1797, 8, 8) sharing its memory,
    int64 `target`, names, `description`) or `(X, y)` with `return_X_y=True`. Pixel values
    are as published (0..16): divide by 16 or use a Standardizer fitted on the training split.
    Licence CC BY 4.0 (Alpaydin and Kaynak, UCI ML repository).

    >>> X, y = load_digits(return_X_y=True); X.shape, len(np.unique(y))
    ((1797, 64), 10)
    """
    dataset = _load_shipped("digits.npz", dtype, "load_digits", images=True)
    return (dataset.data, dataset.target) if return_X_y else dataset


def load_breast_cancer(
    *, return_X_y: bool = False, dtype: object = None
) -> RealDataset | tuple[np.ndarray, np.ndarray]:
    """UCI breast cancer Wisconsin (diagnostic): 569 masses x 30 features; 0 malignant, 1 benign.

    Returns a RealDataset (`data` (569, 30), int64 `target` with 212 malignant = 0 and
    357 benign = 1, names, `description`) or `(X, y)` with `return_X_y=True`. Feature
    scales differ by four orders of magnitude, so standardize before training.
    Licence CC BY 4.0 (Wolberg, Street and Mangasarian, UCI ML repository).

    >>> data = load_breast_cancer(); data.data.shape, data.target_names
    ((569, 30), ('malignant', 'benign'))
    """
    dataset = _load_shipped("breast_cancer.npz", dtype, "load_breast_cancer", images=False)
    return (dataset.data, dataset.target) if return_X_y else dataset

"""Real data shipped inside the package: UCI digits (8x8) and UCI breast cancer (diagnostic).

Both files are compressed .npz archives without pickles, extracted once from the copies
that scikit-learn bundles (which are the UCI data); scikit-learn is not needed to load them.
Source, licence (CC BY 4.0) and citation are in each dataset's `description` and in
DATA_LICENSES.txt beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from ._common import check_float_dtype

__all__ = ["RealDataset", "load_breast_cancer", "load_digits"]


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


def _read_shipped(file_name: str) -> dict[str, np.ndarray]:
    """Read one of the package's .npz files; allow_pickle=False, so loading can never run code."""
    with resources.files(__package__).joinpath(file_name).open("rb") as handle:
        with np.load(handle, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}


def _build(
    arrays: dict[str, np.ndarray], dtype: object, where: str, images: bool
) -> RealDataset:
    """Turn the stored arrays into a RealDataset with the requested feature dtype."""
    resolved = check_float_dtype(dtype, where)
    data = arrays["data"].astype(resolved)
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
    dataset = _build(_read_shipped("digits.npz"), dtype, "load_digits", images=True)
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
    dataset = _build(_read_shipped("breast_cancer.npz"), dtype, "load_breast_cancer", images=False)
    return (dataset.data, dataset.target) if return_X_y else dataset

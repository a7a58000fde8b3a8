"""Input preprocessing fitted on the training set only: Standardizer, PCAWhitener, one-hot labels.

Rows are examples and columns features (PyTorch's layout; the course stacks examples as
columns). Fit on the training split, then apply the SAME fitted transform to dev and test:
statistics computed on dev/test would leak them into training and make the dev/test error
optimistic, and the network would see differently scaled inputs at test time.
Each transform takes a numpy array or a Tensor and gives back the same kind.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor, get_default_dtype
from ._common import like_input, to_numpy

__all__ = ["PCAWhitener", "Standardizer", "from_one_hot", "one_hot"]


def _output_dtype(array: np.ndarray) -> np.dtype:
    """Floating input keeps its dtype; integer input gets the library's default float dtype."""
    return array.dtype if np.issubdtype(array.dtype, np.floating) else get_default_dtype()


def _check_fitted(fitted: bool, where: str) -> None:
    if not fitted:
        raise RuntimeError(f"{where}: call fit(X_train) first")


def _check_features(array: np.ndarray, expected: tuple[int, ...], where: str) -> None:
    if array.ndim < 2 or array.shape[1:] != expected:
        raise ValueError(f"{where}: expected X of shape (m, {', '.join(map(str, expected))}) "
                         f"like the training data, got {array.shape}")


class Standardizer:
    """x := (x - mu) / sigma per feature, mu and sigma^2 = mean((x - mu)^2) from the TRAINING set.

    The course writes the last step as a division by sigma^2; dividing by the variance
    does not give unit variance, so this divides by sigma = sqrt(sigma^2) (as every
    standardizer does). A feature that is constant on the training set has sigma = 0 and is
    only centred (its scale is set to 1). The variance uses 1/m, as the course does.

    >>> s = Standardizer().fit(np.array([[1.0, 10.0], [3.0, 30.0]]))
    >>> s.transform(np.array([[2.0, 50.0]])).tolist()
    [[0.0, 3.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: np.ndarray | Tensor) -> Standardizer:
        """Compute mu and sigma^2 over the examples (axis 0) of the training set X."""
        array = to_numpy(X, "Standardizer.fit")
        if array.ndim < 2 or array.shape[0] < 1:
            raise ValueError(f"Standardizer.fit: expected X of shape (m, n_features) with m >= 1,"
                             f" got {array.shape} (reshape a single feature to (m, 1))")
        # Statistics in float64 even for float32 data: sums over 60,000 rows lose digits.
        self.mean_ = array.mean(axis=0, dtype=np.float64)
        self.var_ = array.var(axis=0, dtype=np.float64)
        scale = np.sqrt(self.var_)
        self.scale_ = np.where(scale > 0.0, scale, 1.0)
        return self

    def transform(self, X: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Apply the training-set mu and sigma to X (train, dev or test); X is never refitted."""
        _check_fitted(self.mean_ is not None, "Standardizer.transform")
        array = to_numpy(X, "Standardizer.transform")
        _check_features(array, self.mean_.shape, "Standardizer.transform")
        dtype = _output_dtype(array)
        result = (array - self.mean_.astype(dtype)) / self.scale_.astype(dtype)
        return like_input(result.astype(dtype, copy=False), X)

    def fit_transform(self, X: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """fit(X) then transform(X): for the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Undo transform: x = z * sigma + mu."""
        _check_fitted(self.mean_ is not None, "Standardizer.inverse_transform")
        array = to_numpy(Z, "Standardizer.inverse_transform")
        _check_features(array, self.mean_.shape, "Standardizer.inverse_transform")
        dtype = _output_dtype(array)
        result = array * self.scale_.astype(dtype) + self.mean_.astype(dtype)
        return like_input(result.astype(dtype, copy=False), Z)

    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted statistics, to save next to a model (tg.save) and reuse at inference."""
        _check_fitted(self.mean_ is not None, "Standardizer.state_dict")
        return {"mean": self.mean_.copy(), "var": self.var_.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Standardizer:
        """Restore statistics saved by state_dict."""
        mean = np.asarray(to_numpy(state["mean"], "Standardizer.load_state_dict"), np.float64)
        var = np.asarray(to_numpy(state["var"], "Standardizer.load_state_dict"), np.float64)
        if mean.shape != var.shape:
            raise ValueError(f"Standardizer.load_state_dict: mean {mean.shape} and var "
                             f"{var.shape} must have the same shape")
        self.mean_, self.var_ = mean.copy(), var.copy()
        scale = np.sqrt(self.var_)
        self.scale_ = np.where(scale > 0.0, scale, 1.0)
        return self


class PCAWhitener:
    """Zero-centre, rotate into the eigenbasis of the training covariance, optionally whiten.

    Fit: mu = mean(X), C = (X - mu)^T (X - mu) / m = U diag(lambda) U^T with lambda sorted
    from largest to smallest. Transform: z = (x - mu) U[:, :k] (decorrelated features, the
    first carrying the most variance), and with `whiten=True` z / sqrt(lambda + eps), so the
    training features have (nearly) identity covariance; eps keeps directions of almost zero
    variance from being blown up into noise. Each eigenvector's sign is fixed so that its
    largest-magnitude entry is positive (eigenvectors are defined only up to sign).

    >>> mix = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.1]])
    >>> X = np.random.default_rng(0).normal(size=(500, 3)) @ mix
    >>> Z = PCAWhitener(eps=0.0).fit_transform(X)
    >>> bool(np.allclose(Z.T @ Z / len(Z), np.eye(3)))
    True
    """

    def __init__(
        self, n_components: int | None = None, whiten: bool = True, eps: float = 1e-5
    ) -> None:
        if n_components is not None and (
            not isinstance(n_components, numbers.Integral) or n_components < 1
        ):
            raise ValueError(f"PCAWhitener: n_components must be None or an int >= 1, "
                             f"got {n_components!r}")
        if not isinstance(eps, numbers.Real) or eps < 0:
            raise ValueError(f"PCAWhitener: eps must be a number >= 0, got {eps!r}")
        self.n_components = n_components
        self.whiten = whiten
        self.eps = float(eps)
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None  # (k, n_features): one eigenvector a row
        self.explained_variance_: np.ndarray | None = None  # (k,): lambda, largest first

    def fit(self, X: np.ndarray | Tensor) -> PCAWhitener:
        """Compute mu and the covariance eigenbasis of the training set X (m, n_features)."""
        array = to_numpy(X, "PCAWhitener.fit")
        if array.ndim != 2 or array.shape[0] < 1:
            raise ValueError(f"PCAWhitener.fit: expected X of shape (m, n_features), "
                             f"got {array.shape}")
        n_features = array.shape[1]
        k = n_features if self.n_components is None else self.n_components
        if k > n_features:
            raise ValueError(f"PCAWhitener.fit: n_components={k} exceeds the {n_features} "
                             "features of X")
        self.mean_ = array.mean(axis=0, dtype=np.float64)
        centred = array.astype(np.float64) - self.mean_
        covariance = centred.T @ centred / len(centred)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending order
        order = np.argsort(eigenvalues)[::-1][:k]
        # NOTE: tiny negative eigenvalues are round-off of a singular covariance; clip them.
        self.explained_variance_ = np.clip(eigenvalues[order], 0.0, None)
        components = eigenvectors[:, order].T
        biggest = np.argmax(np.abs(components), axis=1)
        signs = np.sign(components[np.arange(k), biggest])
        self.components_ = components * signs[:, None]
        return self

    def _divisor(self) -> np.ndarray:
        if not self.whiten:
            return np.ones_like(self.explained_variance_)
        divisor = np.sqrt(self.explained_variance_ + self.eps)
        if np.any(divisor == 0.0):
            raise ValueError("PCAWhitener: a direction has zero variance and eps=0, so it "
                             "cannot be whitened; use eps > 0 or fewer n_components")
        return divisor

    def transform(self, X: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Project X (train, dev or test) with the training mu and eigenbasis: (m, k)."""
        _check_fitted(self.mean_ is not None, "PCAWhitener.transform")
        array = to_numpy(X, "PCAWhitener.transform")
        _check_features(array, self.mean_.shape, "PCAWhitener.transform")
        dtype = _output_dtype(array)
        projected = (array - self.mean_) @ self.components_.T / self._divisor()
        return like_input(projected.astype(dtype), X)

    def fit_transform(self, X: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """fit(X) then transform(X): for the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """Map back to feature space (exact when all components are kept)."""
        _check_fitted(self.mean_ is not None, "PCAWhitener.inverse_transform")
        array = to_numpy(Z, "PCAWhitener.inverse_transform")
        k = len(self.explained_variance_)
        if array.ndim != 2 or array.shape[1] != k:
            raise ValueError(f"PCAWhitener.inverse_transform: expected Z of shape (m, {k}), "
                             f"got {array.shape}")
        dtype = _output_dtype(array)
        restored = (array * self._divisor()) @ self.components_ + self.mean_
        return like_input(restored.astype(dtype), Z)


def one_hot(
    y: np.ndarray | Tensor, num_classes: int | None = None, dtype: object = None
) -> np.ndarray | Tensor:
    """Integer labels (m,) to one-hot rows (m, C): row i has a 1 in column y[i].

    `num_classes=None` uses max(y) + 1. Unlike torch's F.one_hot (int64) the result is
    float (dtype None: the library's default, float32) ready for losses that take class
    probabilities. The course's layout is the transpose, (C, m).

    >>> one_hot(np.array([0, 2, 1]), 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """
    labels = to_numpy(y, "one_hot", "y")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"one_hot: y must hold integer class labels, got dtype {labels.dtype}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if not isinstance(num_classes, numbers.Integral) or num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be an int >= 0, got {num_classes!r}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)].flat[0]
        raise ValueError(f"one_hot: label {bad} is outside [0, {num_classes}) "
                         f"for num_classes={num_classes}")
    dtype = get_default_dtype() if dtype is None else dtype
    encoded = np.zeros((*labels.shape, int(num_classes)), dtype=dtype)
    np.put_along_axis(encoded, labels[..., None].astype(np.intp), 1, axis=-1)
    return like_input(encoded, y)


def from_one_hot(Y: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """One-hot rows (or class scores/probabilities) (m, C) back to int64 labels: argmax per row.

    >>> from_one_hot(one_hot(np.array([2, 0, 1]))).tolist()
    [2, 0, 1]
    """
    array = to_numpy(Y, "from_one_hot", "Y")
    if array.ndim < 1 or array.shape[-1] == 0:
        raise ValueError(f"from_one_hot: expected Y of shape (m, C) with C >= 1, got {array.shape}")
    return like_input(np.argmax(array, axis=-1).astype(np.int64), Y)

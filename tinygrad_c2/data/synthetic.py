"""Seeded 2-D toy data sets the course draws decision boundaries on (moons, circles, flower...).

Every generator takes `n_samples`, `noise` and `seed` and returns `(X, y)`:
X is `(n_samples, n_features)` in `dtype` (None: the library's default dtype,
`tg.get_default_dtype()`, float32 unless changed, so `X @ W` keeps the model's dtype; pass
`dtype=np.float64` for gradient checks) and y holds int64 class labels `(n_samples,)`.
Classes are as equal in size as `n_samples` allows (the first classes get the extra points).
`seed=None` draws from the library's global generator, so `tg.manual_seed` governs it; an
int gives the same data every call. `shuffle=False` keeps the points ordered class by
class, as they are generated.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._common import Seed, check_float_dtype, check_n_samples, check_non_negative, resolve_rng

__all__ = ["make_blobs", "make_circles", "make_moons", "make_planar_flower", "make_spirals"]


def _class_sizes(n_samples: int, n_classes: int) -> list[int]:
    """Split n_samples into n_classes near-equal parts, the remainder going to the first ones."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, shuffle: bool, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle X and y together (when asked) and set the dtypes every generator promises."""
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return np.ascontiguousarray(X, dtype=dtype), y.astype(np.int64)


def make_moons(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: Seed = None,
    *,
    shuffle: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half moons: class 0 on (cos t, sin t), class 1 on (1 - cos t, 0.5 - sin t).

    t runs evenly over [0, pi]; `noise` is the standard deviation of the Gaussian noise added
    to each coordinate.

    >>> X, y = make_moons(100, noise=0.1, seed=0); X.shape, str(X.dtype), int(y.sum())
    ((100, 2), 'float32', 50)
    """
    where = "make_moons"
    n_samples = check_n_samples(n_samples, where, minimum=2)
    noise = check_non_negative(noise, where, "noise")
    dtype = check_float_dtype(dtype, where)
    rng = resolve_rng(seed, where)
    n_outer, n_inner = _class_sizes(n_samples, 2)
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n_outer, n_inner])
    return _finish(X, y, rng, shuffle, dtype)


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    seed: Seed = None,
    *,
    factor: float = 0.5,
    shuffle: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on the unit circle, class 1 on radius `factor` in (0, 1).

    Angles are evenly spaced; `noise` is the standard deviation of the Gaussian noise added
    to each coordinate.

    >>> X, y = make_circles(100, noise=0.0, seed=0, factor=0.5)
    >>> bool(np.allclose(np.hypot(X[:, 0], X[:, 1]), np.where(y == 0, 1.0, 0.5)))
    True
    """
    where = "make_circles"
    n_samples = check_n_samples(n_samples, where, minimum=2)
    noise = check_non_negative(noise, where, "noise")
    dtype = check_float_dtype(dtype, where)
    if not isinstance(factor, numbers.Real) or not 0.0 < factor < 1.0:
        raise ValueError(f"{where}: factor must be a number in (0, 1), got {factor!r}")
    rng = resolve_rng(seed, where)
    sizes = _class_sizes(n_samples, 2)
    parts = []
    for radius, size in zip((1.0, float(factor)), sizes, strict=True):
        angle = np.linspace(0.0, 2.0 * np.pi, size, endpoint=False)
        parts.append(radius * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    X = np.concatenate(parts) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], sizes)
    return _finish(X, y, rng, shuffle, dtype)


def make_planar_flower(
    n_samples: int = 400,
    noise: float = 0.2,
    seed: Seed = None,
    *,
    radius: float = 4.0,
    shuffle: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The course's "flower": two classes of points on the petal curve r = radius * sin(4t).

    Class j takes angles t evenly spaced over [j*pi, (j+1)*pi]; Gaussian noise of standard
    deviation `noise` is added to each t and to each r, and the point is
    (r sin t, r cos t). A negative r lands the point on the opposite petal, so the two
    classes interleave petal by petal and no straight line separates them: logistic
    regression scores near chance, a one-hidden-layer tanh network draws the petals.
    (Course 1 week 3 uses 400 points, noise 0.2, radius 4.)

    >>> X, y = make_planar_flower(seed=1); X.shape, np.bincount(y).tolist()
    ((400, 2), [200, 200])
    """
    where = "make_planar_flower"
    n_samples = check_n_samples(n_samples, where, minimum=2)
    noise = check_non_negative(noise, where, "noise")
    radius = check_non_negative(radius, where, "radius")
    dtype = check_float_dtype(dtype, where)
    rng = resolve_rng(seed, where)
    sizes = _class_sizes(n_samples, 2)
    parts = []
    for j, size in enumerate(sizes):
        t = np.linspace(j * np.pi, (j + 1) * np.pi, size) + noise * rng.standard_normal(size)
        r = radius * np.sin(4.0 * t) + noise * rng.standard_normal(size)
        parts.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    X = np.concatenate(parts)
    y = np.repeat([0, 1], sizes)
    return _finish(X, y, rng, shuffle, dtype)


def make_spirals(
    n_samples: int = 300,
    noise: float = 0.2,
    seed: Seed = None,
    *,
    n_classes: int = 2,
    turns: float = 1.0,
    shuffle: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`n_classes` interleaved spiral arms growing from the origin to radius 1.

    Along arm k the radius u runs evenly over [0, 1] and the angle is
    2*pi*(k / n_classes + turns * u) plus Gaussian noise of standard deviation `noise`
    (radians, so points near the centre move less); the point is u * (cos angle, sin angle).

    >>> X, y = make_spirals(300, seed=0, n_classes=3); X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    """
    where = "make_spirals"
    noise = check_non_negative(noise, where, "noise")
    turns = check_non_negative(turns, where, "turns")
    dtype = check_float_dtype(dtype, where)
    if not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"{where}: n_classes must be an int >= 2, got {n_classes!r}")
    n_samples = check_n_samples(n_samples, where, minimum=int(n_classes))
    rng = resolve_rng(seed, where)
    sizes = _class_sizes(n_samples, int(n_classes))
    parts = []
    for k, size in enumerate(sizes):
        u = np.linspace(0.0, 1.0, size)
        angle = 2.0 * np.pi * (k / n_classes + turns * u) + noise * rng.standard_normal(size)
        parts.append(u[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1))
    X = np.concatenate(parts)
    y = np.repeat(np.arange(int(n_classes)), sizes)
    return _finish(X, y, rng, shuffle, dtype)


def make_blobs(
    n_samples: int = 300,
    noise: float = 1.0,
    seed: Seed = None,
    *,
    centers: int | np.ndarray = 3,
    n_features: int = 2,
    center_box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Round Gaussian clusters, one class per centre; `noise` is each cluster's standard deviation.

    `centers` is a number of centres (drawn uniformly inside `center_box` in every
    dimension) or a `(n_centers, n_features)` array of them.

    >>> X, y = make_blobs(90, noise=0.5, seed=0, centers=[[0, 0], [5, 5]]); X.shape
    (90, 2)
    >>> bool(abs(X[y == 1].mean(axis=0) - 5).max() < 0.3)
    True
    """
    where = "make_blobs"
    noise = check_non_negative(noise, where, "noise")
    dtype = check_float_dtype(dtype, where)
    rng = resolve_rng(seed, where)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        if centers < 1:
            raise ValueError(f"{where}: centers must be >= 1, got {centers}")
        if not isinstance(n_features, numbers.Integral) or n_features < 1:
            raise ValueError(f"{where}: n_features must be an int >= 1, got {n_features!r}")
        low, high = center_box
        if not low < high:
            raise ValueError(f"{where}: center_box must be (low, high) with low < high, "
                             f"got {center_box!r}")
        centre_array = rng.uniform(low, high, size=(int(centers), int(n_features)))
    else:
        centre_array = np.asarray(centers, dtype=np.float64)
        if centre_array.ndim != 2 or centre_array.shape[0] < 1:
            raise ValueError(f"{where}: centers must be an int or a (n_centers, n_features) "
                             f"array, got shape {centre_array.shape}")
    n_centres, width = centre_array.shape
    n_samples = check_n_samples(n_samples, where, minimum=n_centres)
    sizes = _class_sizes(n_samples, n_centres)
    y = np.repeat(np.arange(n_centres), sizes)
    X = centre_array[y] + noise * rng.standard_normal((n_samples, width))
    return _finish(X, y, rng, shuffle, dtype)

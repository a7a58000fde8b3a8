"""The toy 2-D data sets: shapes, dtypes, seeds, class balance and the geometry each promises."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import (
    make_blobs,
    make_circles,
    make_moons,
    make_planar_flower,
    make_spirals,
)

GENERATORS = [make_moons, make_circles, make_planar_flower, make_spirals, make_blobs]


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_return_float_features_and_int64_labels_of_the_requested_size(make):
    X, y = make(101, noise=0.1, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_honour_the_dtype_argument_and_the_default_dtype(make):
    X, _ = make(20, noise=0.1, seed=0, dtype=np.float64)
    assert X.dtype == np.float64
    previous = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    try:
        X, _ = make(20, noise=0.1, seed=0)
    finally:
        tg.set_default_dtype(previous)
    assert X.dtype == np.float64


@pytest.mark.parametrize("make", GENERATORS)
def test_the_same_seed_gives_the_same_data_and_another_seed_other_data(make):
    X1, y1 = make(50, noise=0.2, seed=3)
    X2, y2 = make(50, noise=0.2, seed=3)
    X3, _ = make(50, noise=0.2, seed=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("make", GENERATORS)
def test_seed_none_draws_from_the_global_generator_that_manual_seed_sets(make):
    tg.manual_seed(11)
    X1, y1 = make(40, noise=0.2)
    tg.manual_seed(11)
    X2, y2 = make(40, noise=0.2)
    X3, _ = make(40, noise=0.2)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X2, X3)


@pytest.mark.parametrize("make", GENERATORS)
def test_shuffle_false_keeps_points_ordered_by_class(make):
    _, y = make(30, noise=0.1, seed=0, shuffle=False)
    assert np.all(np.diff(y) >= 0)


@pytest.mark.parametrize("make", GENERATORS)
def test_bad_arguments_raise_clear_errors(make):
    with pytest.raises(ValueError, match=make.__name__):
        make(0, seed=0)
    with pytest.raises(ValueError, match="noise"):
        make(10, noise=-1.0, seed=0)
    with pytest.raises(TypeError, match="seed"):
        make(10, seed="zero")
    with pytest.raises(TypeError, match="dtype"):
        make(10, seed=0, dtype=np.int32)


def test_noise_free_moons_lie_on_their_two_half_circles():
    X, y = make_moons(60, noise=0.0, seed=0)
    outer, inner = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-6)
    assert outer[:, 1].min() >= -1e-6
    np.testing.assert_allclose(np.hypot(1.0 - inner[:, 0], 0.5 - inner[:, 1]), 1.0, atol=1e-6)
    assert inner[:, 1].max() <= 0.5 + 1e-6


def test_noise_free_circles_have_radius_one_and_factor():
    X, y = make_circles(80, noise=0.0, seed=0, factor=0.3, dtype=np.float64)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius, np.where(y == 0, 1.0, 0.3))
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.5)


def test_noise_free_flower_points_lie_on_the_petal_curve():
    # x = r sin t, y = r cos t with r = 4 sin(4t): atan2(x, y) recovers t or t + pi, and
    # sin(4t) has period pi / 2, so |(x, y)| = 4 |sin(4 atan2(x, y))| for every point.
    X, y = make_planar_flower(400, noise=0.0, seed=0, dtype=np.float64)
    theta = np.arctan2(X[:, 0], X[:, 1])
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 4.0 * np.abs(np.sin(4 * theta)),
                               atol=1e-9)
    assert np.bincount(y).tolist() == [200, 200]


def test_flower_is_not_linearly_separable_but_moons_mostly_are():
    def linear_fit_accuracy(X, y):
        design = np.hstack([X, np.ones((len(X), 1))]).astype(np.float64)
        w, *_ = np.linalg.lstsq(design, 2.0 * y - 1.0, rcond=None)
        return np.mean((design @ w > 0) == (y == 1))

    assert linear_fit_accuracy(*make_planar_flower(seed=1)) < 0.7
    assert linear_fit_accuracy(*make_moons(400, noise=0.1, seed=1)) > 0.8


def test_noise_free_spiral_arms_grow_evenly_from_the_centre_to_radius_one():
    X, y = make_spirals(90, noise=0.0, seed=0, n_classes=3, dtype=np.float64)
    for k in range(3):
        radius = np.sort(np.hypot(*X[y == k].T))
        np.testing.assert_allclose(radius, np.linspace(0.0, 1.0, 30), atol=1e-12)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, n_classes=1)


def test_blobs_scatter_around_their_centres_with_the_noise_as_standard_deviation():
    centres = np.array([[0.0, 0.0], [10.0, -5.0], [-7.0, 3.0]])
    X, y = make_blobs(30000, noise=2.0, seed=0, centers=centres, dtype=np.float64)
    for k, centre in enumerate(centres):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centre, atol=0.1)
        np.testing.assert_allclose(X[y == k].std(axis=0), 2.0, rtol=0.05)


def test_blobs_draw_random_centres_inside_the_box_in_any_dimension():
    X, y = make_blobs(50, noise=0.0, seed=0, centers=4, n_features=5, center_box=(1.0, 2.0))
    assert X.shape == (50, 5) and set(y.tolist()) == {0, 1, 2, 3}
    assert X.min() >= 1.0 and X.max() <= 2.0
    with pytest.raises(ValueError, match="centers"):
        make_blobs(10, centers=np.zeros(3))

"""train_dev_test_split: sizes, no overlap, pairing, stratified class balance, seeds."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import train_dev_test_split


def _indexed(m):
    return np.arange(m, dtype=np.float64)[:, None] * np.ones((1, 2)), np.arange(m)


@pytest.mark.parametrize(
    ("m", "ratios", "sizes"),
    [
        (1000, (0.6, 0.2, 0.2), (600, 200, 200)),
        (10000, (0.98, 0.01, 0.01), (9800, 100, 100)),
        (10, (0.7, 0.3, 0.0), (7, 3, 0)),
        (7, (0.6, 0.2, 0.2), (4, 2, 1)),  # quotas 4.2, 1.4, 1.4: one leftover, to dev
    ],
)
def test_split_sizes_follow_the_ratios_and_add_up_to_m(m, ratios, sizes):
    X, y = _indexed(m)
    splits = train_dev_test_split(X, y, ratios, seed=0)
    assert tuple(len(part_y) for _, part_y in splits) == sizes


def test_sizes_always_add_up_to_m_and_stay_within_one_of_the_quota():
    rng = np.random.default_rng(0)
    for m in range(1, 60):
        ratios = rng.dirichlet(np.ones(3))
        X, y = _indexed(m)
        sizes = np.array([len(part_y) for _, part_y in train_dev_test_split(X, y, ratios, seed=1)])
        assert sizes.sum() == m
        assert np.all(np.abs(sizes - ratios * m) < 1.0)


def test_splits_are_disjoint_cover_everything_and_keep_rows_paired():
    X, y = _indexed(503)
    splits = train_dev_test_split(X, y, seed=4)
    ids = np.concatenate([part_y for _, part_y in splits])
    assert sorted(ids.tolist()) == list(range(503))
    for part_X, part_y in splits:
        np.testing.assert_array_equal(part_X[:, 0], part_y)
    assert splits[0][1].tolist() != sorted(splits[0][1].tolist())  # shuffled


def test_stratified_splits_keep_the_class_proportions():
    y = np.repeat([0, 1, 2], [700, 200, 100])  # imbalanced: 70 / 20 / 10 percent
    X = np.arange(1000)[:, None]
    splits = train_dev_test_split(X, y, (0.6, 0.2, 0.2), seed=0, stratify=True)
    for (_, part_y), share in zip(splits, (0.6, 0.2, 0.2), strict=True):
        counts = np.bincount(part_y, minlength=3)
        np.testing.assert_allclose(counts, np.array([700, 200, 100]) * share, atol=1.0)
    ids = np.concatenate([part_X[:, 0] for part_X, _ in splits])
    assert sorted(ids.tolist()) == list(range(1000))


def test_stratification_keeps_a_rare_class_in_every_split_where_plain_shuffling_may_not():
    y = np.zeros(200, dtype=np.int64)
    y[:10] = 1  # 5 percent positives
    X = np.arange(200)[:, None]
    for seed in range(20):
        splits = train_dev_test_split(X, y, (0.5, 0.25, 0.25), seed=seed, stratify=True)
        assert [int(part_y.sum()) for _, part_y in splits] in ([5, 3, 2], [5, 2, 3])


def test_stratified_split_accepts_string_labels():
    y = np.array(["cat", "dog"] * 10)
    splits = train_dev_test_split(np.zeros((20, 1)), y, (0.5, 0.25, 0.25), seed=0, stratify=True)
    assert [sorted(set(part_y.tolist())) for _, part_y in splits] == [["cat", "dog"]] * 3


def test_the_same_seed_gives_the_same_split_and_none_follows_manual_seed():
    X, y = _indexed(100)
    a = train_dev_test_split(X, y, seed=3)
    b = train_dev_test_split(X, y, seed=3)
    for (_, ya), (_, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ya, yb)
    tg.manual_seed(8)
    c = train_dev_test_split(X, y)
    tg.manual_seed(8)
    d = train_dev_test_split(X, y)
    np.testing.assert_array_equal(c[1][1], d[1][1])


def test_tensors_in_give_tensors_out():
    X, y = _indexed(10)
    (X_train, y_train), _, _ = train_dev_test_split(tg.Tensor(X), tg.Tensor(y), seed=0)
    assert isinstance(X_train, tg.Tensor) and isinstance(y_train, tg.Tensor)
    assert y_train.dtype == np.int64


def test_bad_ratios_and_mismatched_arrays_raise_clear_errors():
    X, y = _indexed(10)
    with pytest.raises(ValueError, match="sum to 1"):
        train_dev_test_split(X, y, (0.6, 0.2, 0.1))
    with pytest.raises(ValueError, match="three numbers"):
        train_dev_test_split(X, y, (0.8, 0.2))
    with pytest.raises(ValueError, match="three numbers"):
        train_dev_test_split(X, y, (1.2, -0.1, -0.1))
    with pytest.raises(ValueError, match=r"X \(10, 2\) and y \(9,\)"):
        train_dev_test_split(X, y[:9])
    with pytest.raises(ValueError, match="no examples"):
        train_dev_test_split(X[:0], y[:0])

"""Standardizer, PCAWhitener, one_hot: maths against numpy/torch, and no dev/test leakage."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import PCAWhitener, Standardizer, from_one_hot, one_hot


def _train_dev(seed=0):
    rng = np.random.default_rng(seed)
    scales = np.array([1.0, 100.0, 0.01, 5.0])
    train = rng.normal(loc=[3.0, -50.0, 0.0, 10.0], size=(200, 4)) * scales
    dev = rng.normal(loc=[5.0, 0.0, 1.0, 10.0], size=(50, 4)) * scales  # shifted on purpose
    return train, dev


def test_standardizer_gives_training_features_zero_mean_and_unit_variance():
    train, _ = _train_dev()
    Z = Standardizer().fit_transform(train)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.var(axis=0), 1.0, rtol=1e-12)
    expected = (train - train.mean(axis=0)) / train.std(axis=0)
    np.testing.assert_allclose(Z, expected, rtol=1e-12)


def test_standardizer_matches_torch_with_the_population_variance():
    torch = pytest.importorskip("torch")
    train, _ = _train_dev()
    t = torch.from_numpy(train)
    expected = ((t - t.mean(0)) / t.std(0, unbiased=False)).numpy()
    np.testing.assert_allclose(Standardizer().fit_transform(train), expected, rtol=1e-10)


def test_dev_data_is_scaled_with_training_statistics_only():
    train, dev = _train_dev()
    scaler = Standardizer().fit(train)
    mean, var = scaler.mean_.copy(), scaler.var_.copy()
    dev_z = scaler.transform(dev)
    # Transforming dev must not refit: statistics unchanged, and dev uses train's mu, sigma.
    np.testing.assert_array_equal(scaler.mean_, mean)
    np.testing.assert_array_equal(scaler.var_, var)
    np.testing.assert_allclose(dev_z, (dev - train.mean(0)) / train.std(0), rtol=1e-12)
    # So the shifted dev set is NOT centred: its own statistics did not leak in.
    assert np.abs(dev_z.mean(axis=0)).max() > 1.0


def test_changing_dev_data_does_not_change_how_train_is_scaled():
    train, dev = _train_dev()
    scaler = Standardizer().fit(train)
    before = scaler.transform(train)
    scaler.transform(dev * 1000.0)
    np.testing.assert_array_equal(scaler.transform(train), before)


def test_a_constant_feature_is_only_centred_and_nothing_becomes_nan():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]])
    Z = Standardizer().fit_transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_array_equal(Z[:, 1], 0.0)


def test_standardizer_inverse_round_trips_and_keeps_float32():
    train, dev = _train_dev()
    scaler = Standardizer().fit(train.astype(np.float32))
    z = scaler.transform(dev.astype(np.float32))
    assert z.dtype == np.float32
    error_in_sigmas = (scaler.inverse_transform(z) - dev) / train.std(axis=0)
    assert np.abs(error_in_sigmas).max() < 1e-5  # float32 round-off, feature by feature
    ints = Standardizer().fit_transform(np.array([[1, 2], [3, 4]]))
    assert ints.dtype == np.float32


def test_standardizer_state_dict_restores_the_same_transform():
    train, dev = _train_dev()
    scaler = Standardizer().fit(train)
    restored = Standardizer().load_state_dict(scaler.state_dict())
    np.testing.assert_array_equal(restored.transform(dev), scaler.transform(dev))


def test_standardizer_takes_and_returns_tensors():
    train, _ = _train_dev()
    out = Standardizer().fit_transform(tg.Tensor(train.astype(np.float32)))
    assert isinstance(out, tg.Tensor) and out.dtype == np.float32 and not out.requires_grad


def test_standardizer_misuse_raises_clear_errors():
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(np.zeros((2, 3)))
    scaler = Standardizer().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(m, 3\).*\(2, 5\)"):
        scaler.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"\(m, 1\)"):
        Standardizer().fit(np.zeros(5))


def _correlated(seed=0, m=400):
    rng = np.random.default_rng(seed)
    mix = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 0.2]])
    return rng.normal(size=(m, 3)) @ mix + np.array([1.0, -2.0, 3.0])


def test_pca_rotation_decorrelates_with_variances_equal_to_squared_singular_values():
    X = _correlated()
    pca = PCAWhitener(whiten=False).fit(X)
    Z = pca.transform(X)
    singular = np.linalg.svd(X - X.mean(0), compute_uv=False)
    covariance = Z.T @ Z / len(Z)
    np.testing.assert_allclose(np.diag(covariance), singular**2 / len(X), rtol=1e-10)
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0.0, atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_, singular**2 / len(X), rtol=1e-10)
    assert np.all(np.diff(pca.explained_variance_) <= 0)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(3), atol=1e-12)


def test_pca_components_match_torch_svd_up_to_the_documented_sign():
    torch = pytest.importorskip("torch")
    X = _correlated()
    centred = torch.from_numpy(X - X.mean(0))
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)
    vh = vh.numpy()
    signs = np.sign(vh[np.arange(3), np.argmax(np.abs(vh), axis=1)])
    np.testing.assert_allclose(PCAWhitener().fit(X).components_, vh * signs[:, None], atol=1e-10)


def test_whitening_gives_identity_covariance_on_the_training_set():
    X = _correlated()
    Z = PCAWhitener(eps=0.0).fit_transform(X)
    np.testing.assert_allclose(Z.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(3), atol=1e-10)


def test_pca_applies_training_parameters_to_dev_and_can_reduce_dimension():
    X, dev = _correlated(0), _correlated(1, m=50) + 10.0
    pca = PCAWhitener(n_components=2, eps=0.0).fit(X)
    Z_dev = pca.transform(dev)
    assert Z_dev.shape == (50, 2)
    expected = (dev - X.mean(0)) @ pca.components_.T / np.sqrt(pca.explained_variance_)
    np.testing.assert_allclose(Z_dev, expected, rtol=1e-12)


def test_pca_inverse_transform_round_trips_with_all_components():
    X = _correlated()
    for whiten in (False, True):
        pca = PCAWhitener(whiten=whiten).fit(X)
        np.testing.assert_allclose(pca.inverse_transform(pca.transform(X)), X, atol=1e-10)


def test_pca_misuse_raises_clear_errors():
    with pytest.raises(ValueError, match="n_components"):
        PCAWhitener(n_components=0)
    with pytest.raises(ValueError, match="exceeds"):
        PCAWhitener(n_components=4).fit(np.zeros((5, 3)))
    with pytest.raises(RuntimeError, match="fit"):
        PCAWhitener().transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="zero variance"):
        PCAWhitener(eps=0.0).fit_transform(np.zeros((5, 2)))


def test_one_hot_matches_the_identity_rows_and_torch():
    y = np.array([3, 0, 2, 2, 1])
    encoded = one_hot(y, 5)
    assert encoded.dtype == np.float32 and encoded.shape == (5, 5)
    np.testing.assert_array_equal(encoded, np.eye(5)[y])
    torch = pytest.importorskip("torch")
    expected = torch.nn.functional.one_hot(torch.from_numpy(y), 5).numpy()
    np.testing.assert_array_equal(encoded, expected)


def test_one_hot_infers_the_class_count_and_inverts_with_from_one_hot():
    y = np.array([1, 4, 0])
    encoded = one_hot(y)
    assert encoded.shape == (3, 5)
    np.testing.assert_array_equal(from_one_hot(encoded), y)
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    assert from_one_hot(probabilities).tolist() == [1, 0]


def test_one_hot_takes_and_returns_tensors():
    encoded = one_hot(tg.Tensor(np.array([0, 1])), 2, dtype=np.float64)
    assert isinstance(encoded, tg.Tensor) and encoded.dtype == np.float64
    labels = from_one_hot(encoded)
    assert isinstance(labels, tg.Tensor) and labels.dtype == np.int64


def test_one_hot_rejects_labels_out_of_range_or_not_integers():
    with pytest.raises(ValueError, match="label 3 is outside"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="label -1"):
        one_hot(np.array([-1, 0]), 3)
    with pytest.raises(TypeError, match="integer class labels"):
        one_hot(np.array([0.0, 1.0]), 2)

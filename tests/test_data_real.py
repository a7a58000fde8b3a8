"""The real data shipped in the package: known shapes, class counts, values, licence notes."""

from importlib import resources

import numpy as np
import pytest

from tinygrad_c2.data import RealDataset, load_breast_cancer, load_digits


def test_digits_has_1797_images_of_64_pixels_in_ten_classes():
    digits = load_digits()
    assert isinstance(digits, RealDataset)
    assert digits.data.shape == (1797, 64) and digits.data.dtype == np.float32
    assert digits.target.dtype == np.int64
    assert np.bincount(digits.target).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174,
                                                   180]
    assert digits.target_names == tuple(str(k) for k in range(10))
    assert len(digits.feature_names) == 64 and digits.feature_names[9] == "pixel_1_1"


def test_digits_pixels_are_integer_counts_from_0_to_16_and_images_share_the_data():
    digits = load_digits(dtype=np.float64)
    assert digits.data.min() == 0 and digits.data.max() == 16
    np.testing.assert_array_equal(digits.data, np.round(digits.data))
    assert digits.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(digits.images.reshape(1797, 64), digits.data)
    # The first image of the UCI test part (a zero), row by row.
    assert digits.images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert digits.images[0, 1].tolist() == [0, 0, 13, 15, 10, 15, 5, 0]
    assert digits.data.sum() == 561718


def test_breast_cancer_has_569_cases_of_30_features_212_malignant_357_benign():
    cancer = load_breast_cancer()
    assert cancer.data.shape == (569, 30) and cancer.data.dtype == np.float32
    assert cancer.target_names == ("malignant", "benign")
    assert np.bincount(cancer.target).tolist() == [212, 357]
    assert cancer.feature_names[0] == "mean radius" and cancer.feature_names[20] == "worst radius"
    assert cancer.images is None


def test_breast_cancer_values_are_the_published_ones():
    X, y = load_breast_cancer(return_X_y=True, dtype=np.float64)
    assert X[0, :4].tolist() == [17.99, 10.38, 122.8, 1001.0]
    assert y[0] == 0  # the first case is malignant
    assert X[:, 3].max() == 2501.0 and X[:, 23].max() == 4254.0  # mean and worst area


@pytest.mark.parametrize("load", [load_digits, load_breast_cancer])
def test_return_X_y_gives_the_same_arrays_as_the_dataset(load):
    X, y = load(return_X_y=True)
    full = load()
    np.testing.assert_array_equal(X, full.data)
    np.testing.assert_array_equal(y, full.target)


@pytest.mark.parametrize("load", [load_digits, load_breast_cancer])
def test_descriptions_name_the_uci_source_and_the_cc_by_licence(load):
    text = load().description
    assert "UCI Machine Learning Repository" in text
    assert "CC BY 4.0" in text
    assert "https://doi.org/10.24432/" in text


def test_each_load_returns_fresh_arrays_the_user_may_modify():
    first = load_digits()
    first.data[:] = -1
    assert load_digits().data.min() == 0


def test_shipped_files_hold_no_pickles_and_stay_small():
    package = resources.files("tinygrad_c2.data")
    total = 0
    for name in ("digits.npz", "breast_cancer.npz"):
        with package.joinpath(name).open("rb") as handle, np.load(handle, allow_pickle=False) as z:
            assert all(z[key].dtype != object for key in z.files)
        total += len(package.joinpath(name).read_bytes())
    assert total < 200_000
    licences = package.joinpath("DATA_LICENSES.txt").read_text()
    assert "CC BY 4.0" in licences and "dataset 80" in licences and "dataset 17" in licences


def test_a_non_float_dtype_is_refused():
    with pytest.raises(TypeError, match="load_digits"):
        load_digits(dtype=np.int64)

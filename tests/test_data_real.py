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


def _damaged_copies(folder):
    """A corrupted stand-in for each way a shipped .npz can break (the real files stay intact)."""
    real = resources.files("tinygrad_c2.data").joinpath("digits.npz").read_bytes()
    arrays = {"data": np.zeros((2, 64)), "target": np.zeros(2, np.int64),
              "feature_names": np.array(["a"]), "target_names": np.array(["0"]),
              "description": np.array("d")}
    folder.mkdir()
    (folder / "not_a_zip").write_bytes(b"PK\x03\x04 not really a zip file")
    (folder / "truncated").write_bytes(real[:len(real) // 2])
    without_target = {key: value for key, value in arrays.items() if key != "target"}
    with open(folder / "missing_key", "wb") as handle:
        np.savez(handle, **without_target)
    with open(folder / "object_array", "wb") as handle:
        np.savez(handle, **{**arrays, "data": np.array([None, 1], dtype=object)})
    return ["not_a_zip", "truncated", "missing_key", "object_array"]


@pytest.mark.parametrize(("load", "name"), [(load_digits, "digits.npz"),
                                            (load_breast_cancer, "breast_cancer.npz")])
def test_a_damaged_shipped_file_names_the_file_and_says_to_reinstall(tmp_path, monkeypatch,
                                                                     load, name):
    from tinygrad_c2.data import DataFileError, real

    for damage in _damaged_copies(tmp_path / "copies"):
        folder = tmp_path / damage
        folder.mkdir()
        (folder / name).write_bytes((tmp_path / "copies" / damage).read_bytes())
        monkeypatch.setattr(real, "SHIPPED_FOLDER", folder)
        with pytest.raises(DataFileError) as error:
            load()
        message = str(error.value)
        assert f"{load.__name__}: the shipped file {folder / name} is damaged" in message, damage
        assert "pip install --force-reinstall tinygrad_c2" in message
        assert f"git checkout -- tinygrad_c2/data/{name}" in message


def test_the_shipped_folder_is_the_package_folder():
    from tinygrad_c2.data import real

    assert real.SHIPPED_FOLDER.joinpath("digits.npz").is_file()

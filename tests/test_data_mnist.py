"""IDX files (written by the tests), the MNIST loaders, and downloads from a local HTTP server."""

import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from tinygrad_c2.data import (
    FASHION_MNIST_CLASSES,
    DataFileError,
    download_fashion_mnist,
    download_mnist,
    load_fashion_mnist,
    load_mnist,
    read_idx,
    write_idx,
)
from tinygrad_c2.data.mnist import FASHION_MNIST_MD5, MNIST_FILES, MNIST_MD5


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("name", ["a-idx-ubyte", "a-idx-ubyte.gz"])
def test_idx_round_trip_keeps_values_shape_and_dtype(tmp_path, dtype, name):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is None:
        array = rng.normal(size=(3, 4, 5)).astype(dtype)
    else:
        array = rng.integers(info.min, info.max, size=(3, 4, 5), endpoint=True).astype(dtype)
    write_idx(array, tmp_path / name)
    back = read_idx(tmp_path / name)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_files_follow_the_published_big_endian_layout(tmp_path):
    write_idx(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8), tmp_path / "x")
    expected = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    assert (tmp_path / "x").read_bytes() == expected
    write_idx(np.array([258], dtype=np.int32), tmp_path / "y")
    assert (tmp_path / "y").read_bytes() == bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 0, 0, 1, 2])


def test_gzip_is_recognised_by_content_not_by_name(tmp_path):
    write_idx(np.arange(4, dtype=np.uint8), tmp_path / "labels.gz")
    (tmp_path / "renamed").write_bytes((tmp_path / "labels.gz").read_bytes())
    assert read_idx(tmp_path / "renamed").tolist() == [0, 1, 2, 3]


def test_broken_idx_files_get_clear_errors(tmp_path):
    write_idx(np.zeros((2, 3), dtype=np.uint8), tmp_path / "ok")
    whole = (tmp_path / "ok").read_bytes()
    (tmp_path / "short").write_bytes(whole[:-1])
    with pytest.raises(ValueError, match="header promises shape"):
        read_idx(tmp_path / "short")
    (tmp_path / "magic").write_bytes(b"\x01" + whole[1:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "magic")
    (tmp_path / "code").write_bytes(whole[:2] + b"\x07" + whole[3:])
    with pytest.raises(ValueError, match="type code 0x07"):
        read_idx(tmp_path / "code")
    with pytest.raises(TypeError, match="write_idx"):
        write_idx(np.zeros(2, dtype=np.int64), tmp_path / "int64")


def _write_fake_mnist(folder, m_train=7, m_test=3, gz=True, spelling="-"):
    """Tiny MNIST-shaped IDX files; pixel values encode the example index for checking."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for kind, m in (("train", m_train), ("t10k", m_test)):
        images = rng.integers(0, 256, size=(m, 28, 28), endpoint=False).astype(np.uint8)
        labels = rng.integers(0, 10, size=m).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(images, folder / f"{kind}-images{spelling}idx3-ubyte{suffix}")
        write_idx(labels, folder / f"{kind}-labels{spelling}idx1-ubyte{suffix}")
        made[kind] = (images, labels)
    return made


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("spelling", ["-", "."])
def test_load_mnist_reads_both_kinds_scaled_to_unit_range(tmp_path, gz, spelling):
    made = _write_fake_mnist(tmp_path, gz=gz, spelling=spelling)
    X, y = load_mnist(tmp_path)
    images, labels = made["train"]
    assert X.shape == (7, 784) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(7, 784) / np.float32(255.0), rtol=1e-7)
    np.testing.assert_array_equal(y, labels)
    X_test, y_test = load_mnist(tmp_path, "t10k")
    assert X_test.shape == (3, 784)
    np.testing.assert_array_equal(y_test, made["t10k"][1])


def test_load_mnist_can_keep_raw_pixels_and_image_shape(tmp_path):
    made = _write_fake_mnist(tmp_path)
    X, _ = load_mnist(tmp_path, "test", flatten=False, normalize=False)
    assert X.shape == (3, 28, 28) and X.dtype == np.uint8
    np.testing.assert_array_equal(X, made["t10k"][0])
    X64, _ = load_mnist(tmp_path, flatten=False, dtype=np.float64)
    assert X64.shape == (7, 28, 28) and X64.dtype == np.float64 and X64.max() <= 1.0


def test_load_fashion_mnist_reads_the_same_layout_and_names_ten_classes(tmp_path):
    made = _write_fake_mnist(tmp_path)
    X, y = load_fashion_mnist(tmp_path)
    np.testing.assert_array_equal(y, made["train"][1])
    assert X.shape == (7, 784)
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[0] == "T-shirt/top"


def test_missing_or_inconsistent_mnist_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="download_mnist"):
        load_mnist(tmp_path)
    _write_fake_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        load_mnist(tmp_path, "validation")
    write_idx(np.zeros(5, dtype=np.uint8), tmp_path / "train-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match=r"\(7, 28, 28\) and \(5,\)"):
        load_mnist(tmp_path)


# --------------------------------------------------------------------------- downloads


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served; records request paths; stopped after."""
    root = tmp_path / "served"
    root.mkdir()
    requests = []

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # one call per request: count it, print nothing
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/mnist/", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _serve_fake_files(root):
    """Write the four MNIST-named .gz files under root/mnist and return their md5 and sha256."""
    made = _write_fake_mnist(root / "mnist")
    md5, sha256 = {}, {}
    for name in MNIST_FILES:
        content = (root / "mnist" / name).read_bytes()
        md5[name] = hashlib.md5(content, usedforsecurity=False).hexdigest()
        sha256[name] = hashlib.sha256(content).hexdigest()
    return made, md5, sha256


def test_download_mnist_fetches_and_verifies_the_four_files_then_loads_them(
    tmp_path, local_server
):
    root, base_url, requests = local_server
    made, md5, _ = _serve_fake_files(root)
    dest = download_mnist(tmp_path / "dest", base_url=base_url, checksums=md5, timeout=5)
    assert sorted(p.name for p in dest.iterdir()) == sorted(MNIST_FILES)
    for name in MNIST_FILES:
        assert (dest / name).read_bytes() == (root / "mnist" / name).read_bytes()
    X, y = load_mnist(dest)
    np.testing.assert_array_equal(y, made["train"][1])
    assert len(requests) == 4


def test_files_already_downloaded_with_the_right_checksum_are_not_fetched_again(
    tmp_path, local_server
):
    root, base_url, requests = local_server
    _, _, sha256 = _serve_fake_files(root)
    download_mnist(tmp_path / "dest", base_url=base_url, checksums=sha256, timeout=5)
    download_mnist(tmp_path / "dest", base_url=base_url, checksums=sha256, timeout=5)
    assert len(requests) == 4
    (tmp_path / "dest" / MNIST_FILES[1]).write_bytes(b"corrupted")
    download_mnist(tmp_path / "dest", base_url=base_url, checksums=sha256, timeout=5)
    assert len(requests) == 5 and requests[-1].endswith(MNIST_FILES[1])


def test_a_checksum_mismatch_raises_and_leaves_no_file(tmp_path, local_server):
    root, base_url, _ = local_server
    _, md5, _ = _serve_fake_files(root)
    wrong = dict(md5, **{MNIST_FILES[0]: "0" * 32})
    with pytest.raises(ValueError, match="checksum mismatch .*" + MNIST_FILES[0]):
        download_mnist(tmp_path / "dest", base_url=base_url, checksums=wrong, timeout=5)
    assert list((tmp_path / "dest").iterdir()) == []


def test_the_official_checksums_reject_other_files_and_none_skips_the_check(
    tmp_path, local_server
):
    root, base_url, _ = local_server
    _serve_fake_files(root)
    with pytest.raises(ValueError, match="checksums=None"):
        download_mnist(tmp_path / "a", base_url=base_url, timeout=5)
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_fashion_mnist(tmp_path / "b", base_url=base_url, timeout=5)
    dest = download_fashion_mnist(tmp_path / "c", base_url=base_url, checksums=None, timeout=5)
    assert len(load_fashion_mnist(dest, "t10k")[1]) == 3


def test_official_checksum_tables_cover_the_four_files_as_md5_digests():
    for table in (MNIST_MD5, FASHION_MNIST_MD5):
        assert set(table) == set(MNIST_FILES)
        assert all(len(digest) == 32 and int(digest, 16) >= 0 for digest in table.values())


def test_a_missing_file_on_the_server_names_the_url(tmp_path, local_server):
    _, base_url, _ = local_server
    with pytest.raises(ConnectionError, match=f"{base_url}{MNIST_FILES[0]}.*HTTP 404"):
        download_mnist(tmp_path / "dest", base_url=base_url, checksums=None, timeout=5)


def test_no_network_gives_a_connection_error_naming_the_url(tmp_path):
    # A port that was just free and is now closed: the connection is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/"
    with pytest.raises(ConnectionError, match=f"could not download {base_url}train-images"):
        download_mnist(tmp_path / "dest", base_url=base_url, timeout=2)
    assert not any((tmp_path / "dest").iterdir())


def test_incomplete_checksum_tables_are_refused(tmp_path):
    with pytest.raises(ValueError, match="checksums lacks"):
        download_mnist(tmp_path, base_url="http://127.0.0.1:9/", checksums={"x": "0" * 32})



# ------------------------------------------------------------------- hostile IDX files


def _mnist_with_labels(folder, labels, images=None):
    """A train pair with the given labels (any IDX dtype) and matching blank images."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels)
    images = np.zeros((len(labels), 2, 2), np.uint8) if images is None else images
    write_idx(images, folder / "train-images-idx3-ubyte")
    write_idx(labels, folder / "train-labels-idx1-ubyte")
    return folder / "train-labels-idx1-ubyte"


def test_whole_number_float_labels_are_read_as_classes(tmp_path):
    _mnist_with_labels(tmp_path, np.array([3.0, 0.0, 9.0], np.float32))
    _, y = load_mnist(tmp_path)
    assert y.dtype == np.int64 and y.tolist() == [3, 0, 9]


@pytest.mark.parametrize(("labels", "message"), [
    (np.array([1.0, 3.7], np.float32), r"label 3\.7 at index 1 is not a whole number"),
    (np.array([1.0, np.nan], np.float64), r"label nan at index 1 is not a whole number"),
    (np.array([2, -1], np.int8), r"label -1 at index 1 is outside \[0, 1000\)"),
    (np.array([0, 900000], np.int32), r"label 900000 at index 1 is outside \[0, 1000\)"),
    (np.array([0, 1e30], np.float64), r"label 1e\+30 at index 1 is outside \[0, 1000\)"),
])
def test_labels_that_are_not_class_indices_are_refused_at_load_time(tmp_path, labels, message):
    path = _mnist_with_labels(tmp_path, labels)
    with pytest.raises(DataFileError, match=rf"load_mnist: {path}: {message}"):
        load_mnist(tmp_path)


def test_images_with_a_zero_dimension_or_none_at_all_are_refused(tmp_path):
    _mnist_with_labels(tmp_path, np.array([1, 2], np.uint8), np.zeros((2, 0, 0), np.uint8))
    with pytest.raises(DataFileError, match=r"images of shape \(2, 0, 0\): every dimension "
                                            "must be at least 1"):
        load_mnist(tmp_path)
    _mnist_with_labels(tmp_path, np.zeros(0, np.uint8), np.zeros((0, 28, 28), np.uint8))
    with pytest.raises(DataFileError, match=r"images of shape \(0, 28, 28\)"):
        load_mnist(tmp_path)


def test_non_finite_float_pixels_are_refused(tmp_path):
    images = np.zeros((2, 2, 2), np.float32)
    images[1, 0, 1] = np.inf
    _mnist_with_labels(tmp_path, np.array([1, 2], np.uint8), images)
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte: the images hold NaN or inf"):
        load_mnist(tmp_path)


def test_a_truncated_gzip_file_is_a_clear_error_naming_the_file(tmp_path):
    write_idx(np.arange(100, dtype=np.uint8), tmp_path / "labels.gz")
    whole = (tmp_path / "labels.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(whole[:len(whole) // 2])
    with pytest.raises(DataFileError, match=r"read_idx: .*cut\.gz is a truncated or corrupt "
                                            "gzip file"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "garbled.gz").write_bytes(whole[:10] + b"\xff" * (len(whole) - 10))
    with pytest.raises(DataFileError, match=r"garbled\.gz is a truncated or corrupt gzip file"):
        read_idx(tmp_path / "garbled.gz")


def test_dimensions_whose_product_overflows_int64_fail_the_size_check(tmp_path):
    # 65536**4 = 2**64 wraps to 0 in int64, which matched the 0 data bytes of this file
    header = bytes([0, 0, 0x08, 4]) + np.full(4, 65536, dtype=">u4").tobytes()
    (tmp_path / "huge").write_bytes(header)
    with pytest.raises(DataFileError, match=r"holds 0 data bytes, but its header promises "
                                            r"shape \(65536, 65536, 65536, 65536\)"):
        read_idx(tmp_path / "huge")

"""MNIST and Fashion-MNIST: the IDX file format, loaders for files a user has, a checked download.

Nothing here is shipped: MNIST (Y. LeCun, C. Cortes, C. J. C. Burges; CC BY-SA 3.0) and
Fashion-MNIST (Zalando Research; MIT licence) are fetched by the user with
`download_mnist` / `download_fashion_mnist` (urllib only) or copied in by hand; both use the
same four file names, gzip-compressed or not.

IDX layout (big-endian): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, one uint32 per
dimension, then the values in C order.

`load_mnist` checks what it reads and raises `DataFileError` (a ValueError) naming the file:
every image dimension >= 1, finite pixels, and labels that are class indices: an integer
IDX type or whole-number floats, in [0, MAX_CLASSES).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from urllib.error import HTTPError, URLError

import numpy as np

from ._common import DataFileError, check_float_dtype

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MD5",
    "FASHION_MNIST_URL",
    "MAX_CLASSES",
    "MNIST_FILES",
    "MNIST_MD5",
    "MNIST_URL",
    "download_fashion_mnist",
    "download_mnist",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx",
    "write_idx",
]

# The four files both data sets publish, in download order.
MNIST_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# A mirror of the original files (the original site often refuses scripted downloads).
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_MD5: Mapping[str, str] = MappingProxyType({
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
})
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_MD5: Mapping[str, str] = MappingProxyType({
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
})
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
#: Labels must lie in [0, MAX_CLASSES): MNIST has 10 classes, EMNIST 62; a label of 900000
#: would otherwise build a 900,001-output network.
MAX_CLASSES = 1000


def _read_bytes(path: Path) -> bytes:
    """A file's bytes, gunzipped when it starts with the gzip magic (whatever its name says)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:  # BadGzipFile is an OSError
        raise DataFileError(f"read_idx: {path} is a truncated or corrupt gzip file ({error}); "
                            "download or copy it again") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or not) into a numpy array in native byte order.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory(); p = pathlib.Path(tmp.name) / "x-idx1-ubyte.gz"
    >>> write_idx(np.arange(5, dtype=np.uint8), p); read_idx(p).tolist()
    [0, 1, 2, 3, 4]
    >>> tmp.cleanup()
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataFileError(f"read_idx: {path} is not an IDX file (it must start with two zero "
                            "bytes)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise DataFileError(f"read_idx: {path} has unknown IDX type code 0x{type_code:02X}; "
                         f"expected one of {[f'0x{c:02X}' for c in _IDX_DTYPES]}")
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise DataFileError(f"read_idx: {path} is truncated inside its header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    # NOTE: Python ints, never np.prod: four dimensions of 65536 wrap to 0 in int64
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise DataFileError(f"read_idx: {path} holds {len(raw) - header_end} data bytes, but its "
                         f"header promises shape {shape} of {dtype.name} ({expected} bytes)")
    values = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def write_idx(array: np.ndarray, path: str | os.PathLike) -> None:
    """Write an array as an IDX file; gzip-compressed when the name ends in .gz.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory(); p = pathlib.Path(tmp.name) / "y-idx2-ubyte"
    >>> write_idx(np.eye(2, dtype=np.uint8), p); read_idx(p).shape
    (2, 2)
    >>> tmp.cleanup()
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise TypeError(f"write_idx: IDX cannot store dtype {array.dtype}; use uint8, int8, "
                        "int16, int32, float32 or float64")
    if array.ndim > 255:
        raise ValueError(f"write_idx: IDX stores at most 255 dimensions, got {array.ndim}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, compresslevel=6)
    path.write_bytes(payload)


def _find_idx(folder: Path, kind: str, what: str, ndim: int, where: str) -> Path:
    """Find e.g. train-images-idx3-ubyte(.gz); some copies spell it train-images.idx3-ubyte."""
    names = [f"{kind}-{what}-idx{ndim}-ubyte", f"{kind}-{what}.idx{ndim}-ubyte"]
    candidates = [folder / (name + suffix) for name in names for suffix in (".gz", "")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(c.name for c in candidates)
    raise FileNotFoundError(f"{where}: no {what} file for kind={kind!r} in {folder} "
                            f"(looked for {tried}); fetch them with download_mnist({str(folder)!r})"
                            " or download_fashion_mnist, or copy them there")


def _load_idx_pair(
    path: str | os.PathLike, kind: str, flatten: bool, normalize: bool, dtype: object,
    where: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Shared body of load_mnist and load_fashion_mnist (same file names, same layout)."""
    if kind == "test":
        kind = "t10k"
    if kind not in ("train", "t10k"):
        raise ValueError(f"{where}: kind must be 'train' or 't10k' (or 'test'), got {kind!r}")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{where}: {folder} is not a directory holding the IDX files")
    images_path = _find_idx(folder, kind, "images", 3, where)
    labels_path = _find_idx(folder, kind, "labels", 1, where)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(f"{where}: expected images (m, rows, cols) and labels (m,), "
                            f"got {images.shape} and {labels.shape} in {folder}")
    if min(images.shape) < 1:
        raise DataFileError(f"{where}: {images_path}: images of shape {images.shape}: every "
                            "dimension must be at least 1")
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise DataFileError(f"{where}: {images_path}: the images hold NaN or inf")
    labels = _class_indices(labels, labels_path, where)
    if normalize:
        X = images.astype(check_float_dtype(dtype, where))
        X /= 255.0
    else:
        X = images
    if flatten:
        X = X.reshape(len(X), -1)
    return X, labels


def _class_indices(labels: np.ndarray, path: Path, where: str) -> np.ndarray:
    """Labels as int64 class indices, or a DataFileError naming the first bad one."""
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.floor(labels))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataFileError(f"{where}: {path}: label {labels[i]:g} at index {i} is not a "
                                "whole number; class labels must be integers")
    # compared before the cast, so a float 1e30 cannot wrap into range
    bad = (labels < 0) | (labels >= MAX_CLASSES)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFileError(f"{where}: {path}: label {labels[i]:g} at index {i} is outside "
                            f"[0, {MAX_CLASSES}); class labels must be indices 0, 1, ...")
    return labels.astype(np.int64)


def load_mnist(
    path: str | os.PathLike,
    kind: str = "train",
    *,
    flatten: bool = True,
    normalize: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST from the IDX files in folder `path`: kind 'train' (60,000) or 't10k' (10,000).

    Returns (X, y): X is (m, 784) `dtype` scaled to [0, 1] (`flatten=False` keeps
    (m, 28, 28); `normalize=False` keeps the raw uint8 pixels), y int64 digits 0..9.
    Files may be gzipped or not; get them with `download_mnist(path)`.

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory(); folder = tmp.name
    >>> write_idx(np.zeros((3, 28, 28), np.uint8), f"{folder}/train-images-idx3-ubyte")
    >>> write_idx(np.arange(3, dtype=np.uint8), f"{folder}/train-labels-idx1-ubyte")
    >>> X, y = load_mnist(folder); X.shape, y.tolist()
    ((3, 784), [0, 1, 2])
    >>> tmp.cleanup()
    """
    return _load_idx_pair(path, kind, flatten, normalize, dtype, "load_mnist")


def load_fashion_mnist(
    path: str | os.PathLike,
    kind: str = "train",
    *,
    flatten: bool = True,
    normalize: bool = True,
    dtype: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST from the IDX files in `path`, exactly as `load_mnist` loads MNIST.

    Labels 0..9 name clothes: FASHION_MNIST_CLASSES[label].

    >>> FASHION_MNIST_CLASSES[9]
    'Ankle boot'
    """
    return _load_idx_pair(path, kind, flatten, normalize, dtype, "load_fashion_mnist")


def _new_hash(expected: str, where: str):  # -> a hashlib hash object
    """Pick the hash by the digest's length: 32 hex digits md5, 40 sha1, 64 sha256."""
    algorithms = {32: "md5", 40: "sha1", 64: "sha256"}
    if len(expected) not in algorithms:
        raise ValueError(f"{where}: checksum {expected!r} is not an md5, sha1 or sha256 "
                         "hex digest")
    # usedforsecurity=False: md5 here identifies a file, it does not protect anything.
    return hashlib.new(algorithms[len(expected)], usedforsecurity=False)


def _file_digest(path: Path, expected: str, where: str) -> str:
    digest = _new_hash(expected, where)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, target: Path, expected: str | None, timeout: float, where: str) -> None:
    """Stream url into target via a .part file, checking the digest before the final rename."""
    # Imported here: urllib.request pulls in http.client and ssl (~25 ms at import time),
    # which only a download needs.
    from urllib.request import urlopen

    partial = target.with_name(target.name + ".part")
    digest = _new_hash(expected, where) if expected else None
    try:
        with urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                out.write(chunk)
                if digest is not None:
                    digest.update(chunk)
    except HTTPError as err:
        partial.unlink(missing_ok=True)
        raise ConnectionError(f"{where}: {url} answered HTTP {err.code} ({err.reason}); "
                              "check base_url") from err
    except (URLError, OSError) as err:
        partial.unlink(missing_ok=True)
        reason = getattr(err, "reason", err)
        raise ConnectionError(
            f"{where}: could not download {url} ({reason}). Is this machine offline? Download "
            f"the four files by hand into {target.parent} and load that folder instead"
        ) from err
    if digest is not None and digest.hexdigest() != expected.lower():
        partial.unlink(missing_ok=True)
        raise ValueError(f"{where}: checksum mismatch for {url}: expected {expected}, got "
                         f"{digest.hexdigest()} (a corrupt or different file; pass "
                         "checksums=None to skip the check for a custom mirror)")
    os.replace(partial, target)


def _download_four(
    dest: str | os.PathLike,
    base_url: str,
    checksums: Mapping[str, str] | None,
    timeout: float,
    overwrite: bool,
    where: str,
) -> Path:
    """Fetch MNIST_FILES from base_url into dest, skipping files already present and valid."""
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    if checksums is not None:
        missing = [name for name in MNIST_FILES if name not in checksums]
        if missing:
            raise ValueError(f"{where}: checksums lacks entries for {missing}; give all four "
                             "files or pass checksums=None")
    for name in MNIST_FILES:
        target = folder / name
        expected = None if checksums is None else checksums[name]
        if target.is_file() and not overwrite:
            if expected is None or _file_digest(target, expected, where) == expected.lower():
                continue
        _fetch(base_url.rstrip("/") + "/" + name, target, expected, timeout, where)
    return folder


def download_mnist(
    dest: str | os.PathLike,
    base_url: str = MNIST_URL,
    *,
    checksums: Mapping[str, str] | None = MNIST_MD5,
    timeout: float = 60.0,
    overwrite: bool = False,
) -> Path:
    """Download the four MNIST .gz files into `dest` (urllib only), verifying their checksums.

    `checksums` maps file name to an md5/sha256 hex digest; the default holds the official
    MNIST md5 sums, and None skips the check (a custom mirror with other files). Files
    already present with the right checksum are not fetched again. Without a network it
    raises ConnectionError naming the URL. Returns `dest` as a Path for `load_mnist`.
    """
    return _download_four(dest, base_url, checksums, timeout, overwrite, "download_mnist")


def download_fashion_mnist(
    dest: str | os.PathLike,
    base_url: str = FASHION_MNIST_URL,
    *,
    checksums: Mapping[str, str] | None = FASHION_MNIST_MD5,
    timeout: float = 60.0,
    overwrite: bool = False,
) -> Path:
    """Download the four Fashion-MNIST .gz files into `dest`, as `download_mnist` does for MNIST."""
    return _download_four(dest, base_url, checksums, timeout, overwrite, "download_fashion_mnist")

"""tg.save / tg.load: checkpoints as a JSON manifest plus raw array bytes, never a pickle.

File layout (all integers little-endian):

    magic      16 bytes  b"\\x89TINYGRAD_C2\\r\\n\\x1a\\n"
    version     4 bytes  uint32, currently 1
    header_len  8 bytes  uint64
    header      header_len bytes of UTF-8 JSON: {"root": <node>, "arrays": [...], ...}
    padding     zeros up to a multiple of 64 bytes
    data        the arrays' raw bytes in table order, each starting at a multiple of 64
    digest     32 bytes  SHA-256 of everything before it

A node is plain JSON for None, bools, ints, finite floats, str and lists; otherwise an object
with one tag: {"tuple": [...]}, {"dict": [[key, value], ...]} (keys keep their type, e.g.
the integer parameter ids of an optimizer state), {"odict": ...}, {"float": "nan"},
{"array": i}, {"scalar": i} (a numpy scalar), {"tensor": i, "requires_grad": b},
{"parameter": i, "requires_grad": b}. Arrays are described by dtype string, shape, offset and
size; only bool, integer, float, complex and fixed-width string dtypes exist in the format, so
loading can allocate arrays and copy bytes but never run code. Entries never overlap and each
array is used once, so a loaded state never takes more memory than its file's data.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_VERSION"]

MAGIC = b"\x89TINYGRAD_C2\r\n\x1a\n"  # non-ASCII first byte and CR LF catch text-mode mangling
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<IQ")  # version, header_len
_ALIGN = 64
_DIGEST_SIZE = 32
_CHUNK = 1 << 20
_TMP_STEM_BYTES = 64
# The dtypes a file may declare, spelled as numpy's dtype.str spells them (what `save` writes):
# bool, integers, floats and complex of this platform in either byte order, and non-empty byte
# and unicode strings. Nothing else can reach numpy, so loading never builds objects or voids.
_NUMERIC_DTYPES = frozenset(
    np.dtype(t).newbyteorder(order).str
    for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64, np.float16, np.float32, np.float64, np.longdouble, np.complex64,
              np.complex128, np.clongdouble)
    for order in "<>"
)
_STRING_DTYPE_RE = re.compile(r"\|S[1-9][0-9]{0,9}|[<>]U[1-9][0-9]{0,9}")
_MAX_NDIM = 64  # numpy's limit
_MAX_UNICODE = 0x10FFFF


class CheckpointError(ValueError):
    """A file that is not a valid tinygrad_c2 checkpoint: foreign, truncated or modified."""


# ------------------------------------------------------------------------------------------ save
def save(state: Any, path: str | os.PathLike) -> None:
    """Write `state` (nested dicts/lists/tuples of arrays, Tensors and plain values) to `path`.

    The write is atomic: a temporary file in the same directory is written, flushed and
    fsync'ed, then renamed over `path`, so a crash leaves either the old file or the new one.
    A symlink is written through, as torch.save does: its target is replaced, the link kept.
    Object arrays and other types that would need pickle are refused with a TypeError.

    >>> import os, tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save({"w": np.arange(3.0), "epoch": 3}, os.path.join(d, "ckpt.tgc2"))
    ...     load(os.path.join(d, "ckpt.tgc2"))
    {'w': array([0., 1., 2.]), 'epoch': 3}
    """
    path = os.fspath(path)
    arrays: list[np.ndarray] = []
    root = _encode(state, arrays, "state", set())
    table = []
    offset = 0
    for a in arrays:
        offset = _aligned(offset)
        table.append({"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset,
                      "nbytes": a.nbytes})
        offset += a.nbytes
    manifest = {"format": "tinygrad_c2.checkpoint", "root": root, "arrays": table,
                "data_nbytes": offset}
    header = json.dumps(manifest, allow_nan=False, separators=(",", ":")).encode("utf-8")

    # NOTE: like torch.save (which opens the path for writing), a symlink is written through:
    # its target is replaced and the link stays. The temporary file must sit beside the target
    # for the rename to be atomic.
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops at a loop
        raise OSError(errno.ELOOP, f"tg.save: cannot write {path}: {os.strerror(errno.ELOOP)}")
    if os.path.isdir(target) or path.endswith((os.sep, os.altsep or os.sep)):
        raise IsADirectoryError(errno.EISDIR, f"tg.save: {path} is a directory")
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):  # else the error would name our temporary file
        raise FileNotFoundError(f"tg.save: cannot write {path}: the directory {directory} does "
                                "not exist (create it first, e.g. os.makedirs)")
    tmp = os.path.join(directory, _temporary_name(os.path.basename(target)))
    try:
        # O_EXCL: never clobber another writer's temp file; mode 0o666 lets the umask decide.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as e:
        raise _naming(e, path) from None
    try:
        with open(fd, "wb") as f:
            digest = hashlib.sha256()
            prefix = MAGIC + _PREFIX.pack(FORMAT_VERSION, len(header)) + header
            data_start = _aligned(len(prefix))
            _write_blob(f, digest, prefix + bytes(data_start - len(prefix)))
            position = 0
            for a, entry in zip(arrays, table, strict=True):
                _write_blob(f, digest, bytes(entry["offset"] - position))
                _write_blob(f, digest, a.reshape(-1).view(np.uint8))
                position = entry["offset"] + entry["nbytes"]
            f.write(digest.digest())
            f.flush()
            _keep_mode(f.fileno(), target)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise _naming(e, path) from None
        raise
    _fsync_directory(directory)


def _temporary_name(name: str) -> str:
    """A fresh hidden name for the temporary file: '.NAME.RANDOM.tmp' with NAME cut to 64 bytes,
    so that a name near the 255-byte limit still leaves room for the suffix."""
    stem = name
    while len(os.fsencode(stem)) > _TMP_STEM_BYTES:
        stem = stem[:-1]
    return f".{stem}.{secrets.token_hex(8)}.tmp"


def _keep_mode(fd: int, target: str) -> None:
    """Give the new file the permissions of the one it replaces, as writing in place would."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)


def _naming(error: OSError, path: str) -> OSError:
    """The same kind of OSError, naming the user's path rather than our temporary file."""
    if error.errno is None:
        return error
    return OSError(error.errno, f"tg.save: cannot write {path}: {error.strerror}")


def _write_blob(f: Any, digest: Any, blob: Any) -> None:
    """Write bytes (or a uint8 array) to the file and to the running SHA-256."""
    digest.update(blob)
    f.write(blob)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # NOTE: some filesystems refuse fsync on directories; the data file is synced
    finally:
        os.close(fd)


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _parameter_class() -> type | None:
    """nn.Parameter, imported late (nn imports much of the package)."""
    try:
        from .nn import Parameter  # noqa: PLC0415
    except ImportError:
        return None
    return Parameter


def _encode(value: Any, arrays: list[np.ndarray], where: str, active: set[int]) -> Any:
    """Turn `value` into a JSON node, appending its arrays to `arrays`."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        return {"scalar": _add_array(np.asarray(value), arrays, where)}
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"float": repr(float(value))}
    if isinstance(value, np.ndarray):
        return {"array": _add_array(value, arrays, where)}
    if isinstance(value, Tensor):
        parameter = _parameter_class()
        kind = "parameter" if parameter is not None and isinstance(value, parameter) else "tensor"
        return {kind: _add_array(value.data, arrays, where),
                "requires_grad": bool(value.requires_grad)}
    if isinstance(value, (dict, list, tuple)):
        if id(value) in active:
            raise ValueError(f"tg.save: {where} contains itself (a reference cycle)")
        active.add(id(value))
        try:
            if isinstance(value, dict):
                items = [[_encode_key(k, where), _encode(v, arrays, f"{where}[{k!r}]", active)]
                         for k, v in value.items()]
                return {"odict" if isinstance(value, OrderedDict) else "dict": items}
            nodes = [_encode(v, arrays, f"{where}[{i}]", active) for i, v in enumerate(value)]
            return {"tuple": nodes} if isinstance(value, tuple) else nodes
        finally:
            active.discard(id(value))
    raise TypeError(
        f"tg.save: cannot save {where} of type {type(value).__name__}; checkpoints hold dicts, "
        "lists, tuples, numpy arrays, Tensors, numbers, str, bool and None (save a model's "
        "state_dict(), not the model)"
    )


def _encode_key(key: Any, where: str) -> Any:
    if isinstance(key, np.generic):
        key = key.item()  # numpy ints, floats, str_ keys become the Python ones
    if key is None or isinstance(key, (str, bool, int)):
        return key
    if isinstance(key, float) and math.isfinite(key):
        return float(key)
    raise TypeError(
        f"tg.save: {where} has a key {key!r} of type {type(key).__name__}; dict keys must be "
        "str, int, finite float, bool or None"
    )


def _add_array(a: np.ndarray, arrays: list[np.ndarray], where: str) -> int:
    if a.dtype.hasobject or a.dtype.kind not in "biufcSU" or a.dtype.fields is not None:
        raise TypeError(
            f"tg.save: {where} is an array of dtype {a.dtype}, which cannot be stored without "
            "pickle; convert it to a numeric or string dtype first"
        )
    arrays.append(a if a.flags.c_contiguous else a.copy(order="C"))  # keeps 0-d arrays 0-d
    return len(arrays) - 1


# ------------------------------------------------------------------------------------------ load
def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by `save`, after verifying its SHA-256 digest.

    Arrays come back as numpy arrays, Tensors as Tensors (nn.Parameters as Parameters) with
    their requires_grad flag, tuples as tuples, OrderedDicts as OrderedDicts. Anything that is
    not a valid checkpoint (a pickle, a torch.save file, a truncated or modified file) raises
    CheckpointError naming the file and the problem. The digest detects corruption, not
    forgery: it is not a signature.

    >>> import os, tempfile, tinygrad_c2 as tg
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save({"w": tg.tensor([1.0, 2.0]), "betas": (0.9, 0.999)}, os.path.join(d, "ckpt"))
    ...     load(os.path.join(d, "ckpt"))
    {'w': tensor([1., 2.]), 'betas': (0.9, 0.999)}
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(len(MAGIC) + _PREFIX.size)
        if head and MAGIC.startswith(head) and len(head) < len(MAGIC):
            raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes)")
        if not head.startswith(MAGIC):
            raise CheckpointError(f"tg.load: {path}: not a tinygrad_c2 checkpoint ({_sniff(head)})")
        if len(head) < len(MAGIC) + _PREFIX.size:
            raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes)")
        version, header_len = _PREFIX.unpack_from(head, len(MAGIC))
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"tg.load: {path}: checkpoint format version {version}; this tinygrad_c2 reads "
                f"version {FORMAT_VERSION}"
            )
        _verify_digest(f, path, size, len(head) + header_len)
        f.seek(len(head))
        try:
            manifest = json.loads(f.read(header_len).decode("utf-8"))
        # NOTE: ValueError covers JSONDecodeError and Python's limit on integer digits
        # (a 5000-digit number); RecursionError, nesting deeper than the parser's stack.
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise CheckpointError(f"tg.load: {path}: malformed header ({e})") from None
        data_start = _aligned(len(head) + header_len)
        arrays = _read_arrays(f, path, manifest, data_start, size - _DIGEST_SIZE)
    try:
        return _decode(manifest["root"], arrays)
    except (KeyError, IndexError, TypeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"tg.load: {path}: malformed manifest ({e!r})") from None


def _sniff(head: bytes) -> str:
    """A guess at what a foreign file is, for the error message."""
    if head.startswith(b"PK\x03\x04"):
        return "it is a zip archive, e.g. a torch.save file; tg.load never unpickles"
    if head[:1] == b"\x80" or head.startswith((b"(", b"]", b"}")):
        return "it looks like a pickle, which tg.load refuses to run"
    if head.startswith(b"\x93NUMPY"):
        return "it is a .npy file; use numpy.load(path, allow_pickle=False)"
    if not head:
        return "the file is empty"
    return "bad magic bytes"


def _verify_digest(f: Any, path: str, size: int, header_end: int) -> None:
    """Hash the file up to its last 32 bytes and compare with them."""
    if size < header_end + _DIGEST_SIZE:
        raise CheckpointError(
            f"tg.load: {path}: file is truncated ({size} bytes; its header alone needs "
            f"{header_end + _DIGEST_SIZE})"
        )
    f.seek(0)
    digest = hashlib.sha256()
    remaining = size - _DIGEST_SIZE
    while remaining:
        chunk = f.read(min(_CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    if remaining or f.read(_DIGEST_SIZE) != digest.digest():
        expected = _declared_size(f, header_end)
        if expected is not None and expected != size:
            raise CheckpointError(
                f"tg.load: {path}: file is truncated or has extra bytes ({size} bytes, its "
                f"header declares {expected})"
            )
        raise CheckpointError(
            f"tg.load: {path}: SHA-256 mismatch: the file is corrupted or was modified"
        )


def _declared_size(f: Any, header_end: int) -> int | None:
    """The file size the header declares, or None if the header cannot be read."""
    start = len(MAGIC) + _PREFIX.size
    try:
        f.seek(start)
        manifest = json.loads(f.read(header_end - start).decode("utf-8"))
        return _aligned(header_end) + int(manifest["data_nbytes"]) + _DIGEST_SIZE
    except Exception:  # noqa: BLE001 (any failure just means "no better message")
        return None


def _read_arrays(
    f: Any, path: str, manifest: Any, data_start: int, data_end: int
) -> list[np.ndarray]:
    """Check the whole array table against the file, then read every array.

    Each entry's shape must account for exactly its bytes, and the entries must follow one
    another inside the data without overlapping (as `save` lays them out): together the
    arrays then never take more memory than the file holds.
    """

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"tg.load: {path}: malformed manifest ({what})")

    if not isinstance(manifest, dict) or manifest.get("format") != "tinygrad_c2.checkpoint":
        raise bad("missing format tag")
    table = manifest.get("arrays")
    if not isinstance(table, list) or "root" not in manifest:
        raise bad("missing 'arrays' or 'root'")
    layout = [_check_entry(i, entry, bad) for i, entry in enumerate(table)]
    data_size = data_end - data_start
    end = 0
    for i, (_, _, offset, nbytes) in enumerate(layout):
        if offset + nbytes > data_size:
            raise bad(f"array {i} (bytes {offset} to {offset + nbytes}) extends past the end "
                      f"of the data ({data_size} bytes)")
        if offset < end:
            raise bad(f"array {i} (bytes {offset} to {offset + nbytes}) overlaps array {i - 1} "
                      f"or lies before it (it ends at byte {end}); arrays follow one another")
        end = offset + nbytes
    arrays = []
    for i, (dtype, shape, offset, nbytes) in enumerate(layout):
        buffer = np.empty(nbytes, dtype=np.uint8)
        f.seek(data_start + offset)
        if f.readinto(buffer) != nbytes:
            raise CheckpointError(f"tg.load: {path}: file is truncated inside array {i}")
        _check_values(i, buffer, dtype, bad)
        arrays.append(buffer.view(dtype).reshape(shape))
    return arrays


def _check_entry(i: int, entry: Any, bad: Any) -> tuple[np.dtype, list[int], int, int]:
    """One entry of the array table as (dtype, shape, offset, nbytes), or `bad(...)` raised."""
    try:
        dtype_str, shape = entry["dtype"], entry["shape"]
        offset, nbytes = entry["offset"], entry["nbytes"]
    except (TypeError, KeyError):
        raise bad(f"array {i} lacks dtype/shape/offset/nbytes") from None
    dtype = _allowed_dtype(dtype_str)
    if dtype is None:
        raise bad(f"array {i} has dtype {_brief(dtype_str)}; only bool, integer, float, complex "
                  "and non-empty byte or unicode string dtypes are allowed")
    # NOTE: Python ints cannot overflow; numpy refuses a shape whose product (zeros skipped)
    # times the itemsize exceeds intp, even for an empty array, so refuse it here first.
    if (not isinstance(shape, list) or len(shape) > _MAX_NDIM
            or not all(type(n) is int and n >= 0 for n in shape)
            or math.prod(n or 1 for n in shape) * dtype.itemsize > np.iinfo(np.intp).max):
        raise bad(f"array {i} has shape {_brief(shape)}; expected a list of at most {_MAX_NDIM} "
                  "non-negative integers that numpy can allocate")
    if type(offset) is not int or type(nbytes) is not int or offset < 0:
        raise bad(f"array {i} has offset {_brief(offset)} and nbytes {_brief(nbytes)}")
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise bad(f"array {i}: nbytes {nbytes} does not match shape {shape} of {dtype}")
    return dtype, shape, offset, nbytes


def _allowed_dtype(dtype_str: Any) -> np.dtype | None:
    """The numpy dtype for an allowed dtype string, else None."""
    if not isinstance(dtype_str, str):
        return None
    if dtype_str in _NUMERIC_DTYPES:
        return np.dtype(dtype_str)
    if _STRING_DTYPE_RE.fullmatch(dtype_str):
        try:
            return np.dtype(dtype_str)
        except TypeError:  # longer than numpy's largest itemsize
            return None
    return None


def _check_values(i: int, buffer: np.ndarray, dtype: np.dtype, bad: Any) -> None:
    """Refuse bytes that numpy cannot represent in `dtype` (numpy would misbehave later)."""
    if not buffer.size:
        return
    if dtype.kind == "b" and buffer.max() > 1:
        raise bad(f"array {i} holds bool bytes other than 0 and 1")
    if dtype.kind == "U":
        codes = buffer.view(np.dtype(np.uint32).newbyteorder(dtype.byteorder))
        if codes.max() > _MAX_UNICODE:
            raise bad(f"array {i} holds a code point beyond U+10FFFF")


def _brief(value: Any) -> str:
    """repr(value), shortened for an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TAGS = ("dict", "odict", "tuple", "float", "array", "scalar", "tensor", "parameter")


def _decode(node: Any, arrays: list[np.ndarray | None]) -> Any:
    """Rebuild a value from its JSON node (the inverse of _encode).

    Each array is taken out of `arrays` when a node uses it: `save` writes every array it meets
    (shared or not) separately, so a second use marks a crafted file, and loaded arrays never
    alias one another.
    """
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(n, arrays) for n in node]
    tags = [tag for tag in _TAGS if tag in node] if isinstance(node, dict) else []
    if len(tags) != 1:
        raise ValueError(f"unexpected node {str(node)[:80]}")
    tag = tags[0]
    body = node[tag]
    if tag in ("dict", "odict"):
        items = [(_decode_key(k), _decode(v, arrays)) for k, v in body]
        return OrderedDict(items) if tag == "odict" else dict(items)
    if tag == "tuple":
        return tuple(_decode(n, arrays) for n in body)
    if tag == "float":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError(f"unexpected float {_brief(body)}")
        return float(body)
    if type(body) is not int or not 0 <= body < len(arrays):
        raise ValueError(f"{tag} index {_brief(body)} is not one of the {len(arrays)} arrays")
    array = arrays[body]
    if array is None:
        raise ValueError(f"array {body} is used twice")
    arrays[body] = None
    if tag == "array":
        return array
    if tag == "scalar":
        if array.ndim:
            raise ValueError(f"scalar {body} has shape {array.shape}, expected ()")
        return array[()]
    requires_grad = node["requires_grad"]
    if not isinstance(requires_grad, bool):
        raise ValueError(f"unexpected requires_grad {_brief(requires_grad)}")
    if array.dtype.kind not in "biufc":
        raise ValueError(f"array {body} of dtype {array.dtype.str} cannot be a {tag}")
    parameter = _parameter_class() if tag == "parameter" else None
    if parameter is not None:
        return parameter(array, requires_grad=requires_grad)
    return Tensor(array, requires_grad=requires_grad)


def _decode_key(key: Any) -> Any:
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    raise TypeError(f"unexpected dict key {key!r}")

"""tg.save / tg.load: pickle-free checkpoints (JSON manifest + raw bytes) and safetensors files.

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

The same two functions read and write safetensors files (Hugging Face's format, the one
`safetensors.torch.save_file` writes), so a state_dict moves to and from PyTorch without
pickle. A `.safetensors` path is written in that format; `load` tells the formats apart by
their first bytes. Layout: header_len (uint64 LE), a JSON header {name: {"dtype": "F32",
"shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}} padded with
spaces, then the tensors' little-endian C-order bytes, which must tile the rest of the file
exactly. The reader and writer here are our own (the format is small and documented); the
`safetensors` package, where installed, is what the tests check them against.
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
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "safetensors_metadata", "CheckpointError", "FORMAT_VERSION"]

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

# safetensors dtypes that numpy holds, as numpy spells them (the format is little-endian).
_SAFETENSORS_DTYPES = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
    "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8",
    "C64": "<c8",
}
_SAFETENSORS_NAMES = {np.dtype(v).str: k for k, v in _SAFETENSORS_DTYPES.items()}
# Declared by the format (and by PyTorch) but without a numpy dtype: refused by name.
_SAFETENSORS_WITHOUT_NUMPY = frozenset({
    "BF16", "F8_E4M3", "F8_E4M3FNUZ", "F8_E5M2", "F8_E5M2FNUZ", "F8_E8M0", "F6_E2M3",
    "F6_E3M2", "F4",
})
_SAFETENSORS_SUFFIX = ".safetensors"
_SAFETENSORS_MAX_HEADER = 100_000_000  # the reference implementation's limit
_SAFETENSORS_ENTRY_KEYS = frozenset({"dtype", "shape", "data_offsets"})


class CheckpointError(ValueError):
    """A file that is not a valid tinygrad_c2 checkpoint or safetensors file: foreign,
    truncated, modified or crafted."""


# ------------------------------------------------------------------------------------------ save
def save(state: Any, path: str | os.PathLike, *, format: str | None = None,
         metadata: Mapping[str, str] | None = None) -> None:
    """Write `state` (nested dicts/lists/tuples of arrays, Tensors and plain values) to `path`.

    The format follows the file name unless `format` ("tgc2" or "safetensors") says otherwise:
    a `.safetensors` path gets a safetensors file, which holds a flat dict of names to arrays
    or Tensors (a model's `state_dict()`) and optionally `metadata`, a dict of str to str;
    anything else gets a tinygrad_c2 checkpoint, which holds any nested state.

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
    if format is None:
        format = "safetensors" if path.lower().endswith(_SAFETENSORS_SUFFIX) else "tgc2"
    if format == "safetensors":
        body = _safetensors_body(state, metadata)
    elif format == "tgc2":
        if metadata is not None:
            raise TypeError("tg.save: metadata= is for safetensors files; a tinygrad_c2 "
                            "checkpoint holds strings and numbers in the state itself")
        body = _checkpoint_body(state)
    else:
        raise ValueError(f"tg.save: format={format!r}; expected 'tgc2', 'safetensors' or None "
                         "(None: safetensors for a .safetensors path, else tgc2)")
    _write_atomically(path, body)


def _checkpoint_body(state: Any) -> Callable[[Any], None]:
    """Encode `state` now (so a refusal writes nothing); return what writes the file."""
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

    def write(f: Any) -> None:
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

    return write


def _safetensors_body(state: Any, metadata: Any) -> Callable[[Any], None]:
    """Check `state` and `metadata` now (so a refusal writes nothing); return the writer.

    The data is laid out as the `safetensors` package lays it out, widest dtype first, so
    every tensor starts at a multiple of its itemsize (readers that map the file need this);
    the header lists the tensors in the state's order, which `load` gives back.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"tg.save: a safetensors file holds a dict of names to arrays or "
                        f"Tensors (a model's state_dict()), not a {type(state).__name__}")
    names, arrays = [], []
    for name, value in state.items():
        arrays.append(_safetensors_array(name, value))
        names.append(name)
    header: dict[str, Any] = {}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError(f"tg.save: metadata must be a dict of str to str (safetensors "
                            f"stores nothing else), got {_brief(metadata)}")
        header["__metadata__"] = dict(metadata)
    order = sorted(range(len(arrays)), key=lambda i: -arrays[i].dtype.itemsize)  # stable
    offsets = [(0, 0)] * len(arrays)
    end = 0
    for i in order:
        offsets[i] = (end, end + arrays[i].nbytes)
        end += arrays[i].nbytes
    for name, a, (begin, stop) in zip(names, arrays, offsets, strict=True):
        header[name] = {"dtype": _SAFETENSORS_NAMES[a.dtype.str], "shape": list(a.shape),
                        "data_offsets": [begin, stop]}
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)  # the data starts 8-byte aligned, as the package does

    def write(f: Any) -> None:
        _write_blob(f, None, struct.pack("<Q", len(text)) + text)
        for i in order:
            _write_blob(f, None, arrays[i].reshape(-1).view(np.uint8))

    return write


def _safetensors_array(name: Any, value: Any) -> np.ndarray:
    """`value` as a little-endian C-order array for a safetensors file, or a clear refusal."""
    where = f"state[{name!r}]"
    if not isinstance(name, str):
        raise TypeError(f"tg.save: {where}: a safetensors file names its tensors with str keys, "
                        f"not {type(name).__name__}")
    if name == "__metadata__":
        raise ValueError("tg.save: '__metadata__' is reserved in safetensors files; pass "
                         "metadata=... instead")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"tg.save: {where}: the name is not valid Unicode") from None
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"tg.save: {where} is a {type(value).__name__}; a safetensors file holds only "
            "arrays and Tensors, one per name (a model's state_dict()). Save nested state such "
            "as an optimizer's state_dict() or an epoch number in a .tgc2 checkpoint"
        )
    little = value.dtype.newbyteorder("<")
    if little.str not in _SAFETENSORS_NAMES:
        raise TypeError(
            f"tg.save: {where} has dtype {value.dtype}, which safetensors cannot hold (it holds "
            "bool, int8-64, uint8-64, float16/32/64 and complex64); convert it or save a "
            ".tgc2 checkpoint"
        )
    if value.dtype == little and value.flags.c_contiguous:
        return value
    return value.astype(little, order="C")  # keeps 0-d arrays 0-d


def _write_atomically(path: str, write: Callable[[Any], None]) -> None:
    """Run `write(file)` on a temporary file beside `path`'s target, then rename it over."""
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
            write(f)
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
    """Write bytes (or a uint8 array) to the file and to the running SHA-256, if any."""
    if digest is not None:
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
        return {kind: _add_array(value._data, arrays, where),
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
def load(path: str | os.PathLike, map_location: Any = None, *,
         weights_only: bool | None = None) -> Any:
    """Read a checkpoint written by `save` (after verifying its SHA-256 digest) or a
    safetensors file.

    Arrays come back as numpy arrays, Tensors as Tensors (nn.Parameters as Parameters) with
    their requires_grad flag, tuples as tuples, OrderedDicts as OrderedDicts. A safetensors
    file (told apart by its first bytes, whatever its name) comes back as a dict of numpy
    arrays in the file's order, ready for `load_state_dict`. Anything else (a pickle, a
    torch.save file, a truncated, modified or crafted file) raises CheckpointError naming the
    file and the problem. The digest detects corruption, not forgery: it is not a signature.

    `map_location` and `weights_only` are torch.load's keywords, accepted so that PyTorch code
    runs: everything loads onto the CPU (None, "cpu" or a CPU device; anything else raises),
    and every load is weights-only, since no file is ever unpickled.

    >>> import os, tempfile, tinygrad_c2 as tg
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save({"w": tg.tensor([1.0, 2.0]), "betas": (0.9, 0.999)}, os.path.join(d, "ckpt"))
    ...     load(os.path.join(d, "ckpt"), map_location="cpu", weights_only=True)
    {'w': tensor([1., 2.]), 'betas': (0.9, 0.999)}
    """
    path = os.fspath(path)
    _check_map_location(map_location)
    if weights_only is not None and not isinstance(weights_only, bool):
        raise TypeError(f"tg.load: weights_only must be True, False or None, got "
                        f"{_brief(weights_only)}")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(len(MAGIC) + _PREFIX.size)
        if head and MAGIC.startswith(head) and len(head) < len(MAGIC):
            raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes)")
        if not head.startswith(MAGIC):
            # NOTE: a safetensors file's JSON header starts at byte 8; the name only decides
            # for a file too short to show that (its first 8 bytes can be anything).
            if head[8:9] == b"{" or (head and len(head) <= 8
                                     and path.lower().endswith(_SAFETENSORS_SUFFIX)):
                return _load_safetensors(f, path, size)
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


def _check_map_location(map_location: Any) -> None:
    """Accept torch.load's map_location when it means the CPU; refuse anything else clearly."""
    if map_location is None:
        return
    device = getattr(map_location, "type", map_location)  # torch.device("cpu").type == "cpu"
    if not isinstance(device, str):
        raise TypeError(
            f"tg.load: map_location={_brief(map_location)} is not supported; tinygrad_c2 loads "
            "everything onto the CPU, so pass None or 'cpu'"
        )
    if device not in ("cpu", "cpu:0"):
        raise RuntimeError(
            f"tg.load: map_location={_brief(map_location)}: tinygrad_c2 runs on numpy on the "
            "CPU only; pass map_location='cpu' or None"
        )


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
    labels = [f"array {i}" for i in range(len(layout))]
    return _read_layout(f, path, layout, labels, data_start, bad)


def _read_layout(f: Any, path: str, layout: list[tuple[np.dtype, list[int], int, int]],
                 labels: list[str], data_start: int, bad: Any) -> list[np.ndarray]:
    """Read each checked (dtype, shape, offset, nbytes) entry into a fresh array."""
    arrays = []
    for label, (dtype, shape, offset, nbytes) in zip(labels, layout, strict=True):
        buffer = np.empty(nbytes, dtype=np.uint8)
        f.seek(data_start + offset)
        if f.readinto(buffer) != nbytes:
            raise CheckpointError(f"tg.load: {path}: file is truncated inside {label}")
        _check_values(label, buffer, dtype, bad)
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
    if not _allocatable(shape, dtype):
        raise bad(f"array {i} has shape {_brief(shape)}; expected a list of at most {_MAX_NDIM} "
                  "non-negative integers that numpy can allocate")
    if type(offset) is not int or type(nbytes) is not int or offset < 0:
        raise bad(f"array {i} has offset {_brief(offset)} and nbytes {_brief(nbytes)}")
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise bad(f"array {i}: nbytes {nbytes} does not match shape {shape} of {dtype}")
    return dtype, shape, offset, nbytes


def _allocatable(shape: Any, dtype: np.dtype) -> bool:
    """Whether `shape` is a list of non-negative ints that numpy can allocate in `dtype`."""
    # NOTE: Python ints cannot overflow; numpy refuses a shape whose product (zeros skipped)
    # times the itemsize exceeds intp, even for an empty array, so refuse it here first.
    return (isinstance(shape, list) and len(shape) <= _MAX_NDIM
            and all(type(n) is int and n >= 0 for n in shape)
            and math.prod(n or 1 for n in shape) * dtype.itemsize <= np.iinfo(np.intp).max)


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


def _check_values(label: str, buffer: np.ndarray, dtype: np.dtype, bad: Any) -> None:
    """Refuse bytes that numpy cannot represent in `dtype` (numpy would misbehave later)."""
    if not buffer.size:
        return
    if dtype.kind == "b" and buffer.max() > 1:
        raise bad(f"{label} holds bool bytes other than 0 and 1")
    if dtype.kind == "U":
        codes = buffer.view(np.dtype(np.uint32).newbyteorder(dtype.byteorder))
        if codes.max() > _MAX_UNICODE:
            raise bad(f"{label} holds a code point beyond U+10FFFF")


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


# ----------------------------------------------------------------------------------- safetensors
def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The `__metadata__` strings of a safetensors file ({} if it has none), header checked.

    >>> import os, tempfile, numpy as np
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save({"w": np.ones(2)}, os.path.join(d, "m.safetensors"), metadata={"format": "pt"})
    ...     safetensors_metadata(os.path.join(d, "m.safetensors"))
    {'format': 'pt'}
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _safetensors_header(f, path, os.fstat(f.fileno()).st_size)[2]


def _load_safetensors(f: Any, path: str, size: int) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as native-order numpy arrays, in the header's order."""
    names, layout, _, data_start = _safetensors_header(f, path, size)
    labels = [f"tensor {_brief(name)}" for name in names]
    arrays = _read_layout(f, path, layout, labels, data_start, _safetensors_bad(path))
    state = {}
    for name, a in zip(names, arrays, strict=True):
        if not a.dtype.isnative:  # a big-endian machine: swap the fresh copy in place
            a = a.byteswap(inplace=True).view(a.dtype.newbyteorder("="))
        state[name] = a
    return state


def _safetensors_bad(path: str) -> Callable[[str], CheckpointError]:
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"tg.load: {path}: malformed safetensors header ({what})")

    return bad


def _safetensors_header(
    f: Any, path: str, size: int
) -> tuple[list[str], list[tuple[np.dtype, list[int], int, int]], dict[str, str], int]:
    """Parse and check a safetensors header: (names, layout, metadata, data_start).

    Checked as if forged, before anything is allocated: every entry has an allowed dtype, a
    shape that accounts for exactly its bytes, and the entries tile the data with no gap, no
    overlap and no byte left over (as the format requires), so loading allocates what the
    file holds and no more.
    """
    bad = _safetensors_bad(path)
    f.seek(0)
    prefix = f.read(8)
    if len(prefix) < 8:
        raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes; a safetensors "
                              "file starts with an 8-byte header length)")
    (header_len,) = struct.unpack("<Q", prefix)
    if header_len > _SAFETENSORS_MAX_HEADER:
        raise bad(f"header length {header_len} exceeds the format's limit of "
                  f"{_SAFETENSORS_MAX_HEADER} bytes")
    if 8 + header_len > size:
        raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes; its header "
                              f"alone needs {8 + header_len})")
    raw = f.read(header_len)
    if raw[:1] != b"{":
        raise bad("it does not start with '{'")
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys,
                            parse_constant=_no_constant)
    # NOTE: as in `load`: ValueError covers bad JSON, duplicate keys and 5000-digit numbers.
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise bad(str(e)) from None
    if not isinstance(header, dict):  # e.g. '{}[]' is not JSON, but be sure
        raise bad("it is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad(f"__metadata__ is {_brief(metadata)}; expected an object of strings")
    names = list(header)
    layout = [_safetensors_entry(name, header[name], bad) for name in names]
    data_size = size - 8 - header_len
    end = 0
    for i in sorted(range(len(layout)), key=lambda i: (layout[i][2], layout[i][3])):
        _, _, begin, nbytes = layout[i]
        if begin != end:
            fault = (f"overlaps the tensor before it, which ends at byte {end}" if begin < end
                     else f"leaves bytes {end} to {begin} unused")
            raise bad(f"tensor {_brief(names[i])} (bytes {begin} to {begin + nbytes}) {fault}; "
                      "the tensors must tile the data")
        end = begin + nbytes
    if end > data_size:
        raise CheckpointError(f"tg.load: {path}: file is truncated ({size} bytes; its header "
                              f"declares {8 + header_len + end})")
    if end < data_size:
        raise bad(f"the last {data_size - end} bytes of the file belong to no tensor")
    return names, layout, metadata, 8 + header_len


def _safetensors_entry(name: str, entry: Any, bad: Any) -> tuple[np.dtype, list[int], int, int]:
    """One tensor of a safetensors header as (dtype, shape, offset, nbytes), or `bad` raised."""
    label = f"tensor {_brief(name)}"
    if not isinstance(entry, dict) or entry.keys() != _SAFETENSORS_ENTRY_KEYS:
        raise bad(f"{label} is {_brief(entry)}; expected an object with exactly dtype, shape "
                  "and data_offsets")
    dtype_name, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if isinstance(dtype_name, str) and dtype_name in _SAFETENSORS_WITHOUT_NUMPY:
        raise bad(f"{label} has dtype {dtype_name}, which numpy has no dtype for; convert it "
                  "before saving, e.g. tensor.float() in PyTorch")
    if not isinstance(dtype_name, str) or dtype_name not in _SAFETENSORS_DTYPES:
        raise bad(f"{label} has dtype {_brief(dtype_name)}; expected one of "
                  f"{', '.join(_SAFETENSORS_DTYPES)}")
    dtype = np.dtype(_SAFETENSORS_DTYPES[dtype_name])
    if not _allocatable(shape, dtype):
        raise bad(f"{label} has shape {_brief(shape)}; expected a list of at most {_MAX_NDIM} "
                  "non-negative integers that numpy can allocate")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(n) is int and n >= 0 for n in offsets) and offsets[0] <= offsets[1]):
        raise bad(f"{label} has data_offsets {_brief(offsets)}; expected [begin, end] with "
                  "0 <= begin <= end")
    nbytes = offsets[1] - offsets[0]
    if nbytes != math.prod(shape) * dtype.itemsize:
        raise bad(f"{label}: data_offsets {offsets} hold {nbytes} bytes, but shape {shape} of "
                  f"{dtype_name} needs {math.prod(shape) * dtype.itemsize}")
    return dtype, shape, offsets[0], nbytes


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a repeated key (json keeps the last one silently)."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {_brief(key)}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

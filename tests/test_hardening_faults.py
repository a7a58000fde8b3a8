"""Faults: a training run SIGKILLed at random points and resumed from its last checkpoint ends
bit-equal to an uninterrupted run; SIGKILL in the middle of tg.save never leaves a corrupt file
in place of the previous one; tg.load on truncated, bit-flipped, foreign or maliciously crafted
files (fuzzed with hypothesis) raises tg.CheckpointError and never runs code."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import serialization

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORKER = Path(__file__).with_name("_fault_worker.py")
pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


# ------------------------------------------------------------------ kill and resume training

EPOCHS = "12"
PAUSE = "0.004"  # seconds after each of the ~8 steps of an epoch: room to land a kill mid-epoch


def _run_to_end(out: Path) -> str:
    proc = _start("train", str(out), "--epochs", EPOCHS, "--pause", PAUSE)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    return stdout


def _kill_during(out: Path, rng: random.Random) -> int:
    """Start (or resume) the run, wait for a random epoch to finish, SIGKILL a little later.
    Returns the last epoch reported before the kill."""
    proc = _start("train", str(out), "--epochs", EPOCHS, "--pause", PAUSE)
    target = rng.randint(1, 5)
    seen = 0
    for line in proc.stdout:
        if line.startswith("epoch"):
            seen += 1
            if seen == target:
                break
    time.sleep(rng.uniform(0.0, 0.05))  # anywhere in the next epoch, even inside tg.save
    _kill(proc)
    return seen


def test_a_run_killed_twice_at_random_points_and_resumed_ends_bit_equal(tmp_path):
    _run_to_end(tmp_path / "clean")
    rng = random.Random(20240613)
    killed = tmp_path / "killed"
    reached = [_kill_during(killed, rng) for _ in range(2)]
    assert all(n >= 1 for n in reached)
    assert (killed / "ckpt.tgc2").exists() and not (killed / "final.tgc2").exists()
    stdout = _run_to_end(killed)
    assert "epoch 12" in stdout and "epoch 1\n" not in stdout  # it resumed, not restarted
    clean, resumed = tmp_path / "clean" / "final.tgc2", killed / "final.tgc2"
    assert clean.read_bytes() == resumed.read_bytes()
    assert tg.load(tmp_path / "clean" / "history.tgc2") == tg.load(killed / "history.tgc2")


# ------------------------------------------------------------------ kill in the middle of tg.save


def _check_intact(path: Path) -> None:
    """The file at path loads and is exactly one of the worker's states."""
    sys.path.insert(0, str(WORKER.parent))
    try:
        import _fault_worker as worker
    finally:
        sys.path.pop(0)
    loaded = tg.load(path)
    i = loaded["i"]
    assert 0 <= i < worker.STATES and loaded["meta"] == {"name": f"state {i}"}
    assert loaded["w"].shape == (worker.STATE_SIZE,) and (loaded["w"] == i).all()


def test_sigkill_during_save_never_leaves_a_corrupt_or_half_written_file(tmp_path):
    path = tmp_path / "ckpt.tgc2"
    rng = random.Random(7)
    mid_write = 0
    for _ in range(6):
        temps_before = set(tmp_path.glob(".ckpt.tgc2.*.tmp"))
        proc = _start("save-loop", str(path))
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))  # the loop is almost always inside tg.save
        _kill(proc)
        temps = set(tmp_path.glob(".ckpt.tgc2.*.tmp"))
        mid_write += bool(temps - temps_before)
        _check_intact(path)
    # NOTE: a SIGKILL cannot be caught, so a kill mid-write leaves that write's temporary file
    # next to the checkpoint (never in its place); at least one kill must have hit a write.
    assert mid_write >= 1


# ------------------------------------------------------------------ fuzzing tg.load


class _Exploit:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _valid_checkpoint() -> bytes:
    state = {"model": {"0.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
                       "0.bias": np.zeros(3, np.float64)},
             "step": np.int64(7), "flags": np.array([True, False]),
             "names": np.array(["a", "bc"]), "t": tg.tensor([1.0, 2.0], requires_grad=True),
             "p": tg.nn.Parameter(np.ones(2, np.float32)), "betas": (0.9, 0.999),
             "nan": float("nan"), 3: "int key", "nested": [[], {}, None]}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tg_fuzz_{os.getpid()}.tgc2"
    tg.save(state, path)
    blob = path.read_bytes()
    path.unlink()
    return blob


VALID = _valid_checkpoint()


@contextlib.contextmanager
def _no_code():
    """Fail if tg.load reaches for anything that can run code (unpickling, eval, exec)."""

    def refuse(*args, **kwargs):
        raise AssertionError("tg.load tried to run code")

    with contextlib.ExitStack() as stack:
        for name in ("loads", "load", "Unpickler"):
            stack.enter_context(mock.patch.object(pickle, name, refuse))
        stack.enter_context(mock.patch.object(np, "load", refuse))
        for name in ("eval", "exec", "compile"):
            stack.enter_context(mock.patch.object(builtins, name, refuse))
        yield


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _load_bytes(directory: Path, blob: bytes, name: str = "f.tgc2"):
    path = directory / name
    path.write_bytes(blob)
    with _no_code():
        return tg.load(path)


def _expect_checkpoint_error(tmp_path: Path, blob: bytes) -> None:
    with pytest.raises(tg.CheckpointError, match=r"^tg.load: .*f.tgc2: "):
        _load_bytes(tmp_path, blob)


def test_the_fuzzing_base_file_loads(tmp_path):
    loaded = _load_bytes(tmp_path, VALID)
    assert loaded["step"] == 7 and loaded[3] == "int key" and isinstance(loaded["p"],
                                                                          tg.nn.Parameter)


@settings(max_examples=150)
@given(cut=st.integers(0, len(VALID) - 1))
def test_load_of_a_truncated_file_raises_checkpoint_error(fuzz_dir, cut):
    with pytest.raises(tg.CheckpointError, match=r"truncated|not a tinygrad_c2|malformed"):
        _load_bytes(fuzz_dir, VALID[:cut])


@settings(max_examples=200)
@given(bit=st.integers(0, 8 * len(VALID) - 1))
def test_load_of_a_file_with_one_flipped_bit_raises_checkpoint_error(fuzz_dir, bit):
    blob = bytearray(VALID)
    blob[bit // 8] ^= 1 << (bit % 8)
    _expect_checkpoint_error(fuzz_dir, bytes(blob))


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=16)),
                min_size=1, max_size=4),
       st.binary(max_size=64))
def test_load_of_overwritten_or_extended_files_raises_checkpoint_error(fuzz_dir, edits,
                                                                       tail):
    blob = bytearray(VALID)
    for at, data in edits:
        blob[at:at + len(data)] = data
    blob = bytes(blob) + tail
    if blob == VALID:
        return
    _expect_checkpoint_error(fuzz_dir, blob)


@settings(max_examples=100)
@given(st.binary(max_size=512))
def test_load_of_random_bytes_raises_checkpoint_error(fuzz_dir, blob):
    _expect_checkpoint_error(fuzz_dir, blob)


def test_load_of_a_malicious_pickle_raises_and_never_runs_it(tmp_path):
    marker = tmp_path / "pwned"
    for payload in (pickle.dumps(_Exploit(str(marker)), protocol=p) for p in range(6)):
        _expect_checkpoint_error(tmp_path, payload)
    # a pickle behind a correct magic header and digest still cannot get unpickled
    crafted = serialization.MAGIC + pickle.dumps(_Exploit(str(marker)))
    _expect_checkpoint_error(tmp_path, crafted + hashlib.sha256(crafted).digest())
    assert not marker.exists()


# ------------------------------------------------------------------ self-consistent crafted files


def _craft(manifest: object, data: bytes = b"", version: int = serialization.FORMAT_VERSION,
           raw_header: bytes | None = None) -> bytes:
    """A file with any header and a *correct* digest: the digest is not a signature, so the
    manifest itself must be validated."""
    header = raw_header if raw_header is not None else json.dumps(manifest).encode()
    prefix = serialization.MAGIC + serialization._PREFIX.pack(version, len(header)) + header
    body = prefix + bytes(serialization._aligned(len(prefix)) - len(prefix)) + data
    return body + hashlib.sha256(body).digest()


def _good_manifest() -> dict:
    return {"format": "tinygrad_c2.checkpoint", "data_nbytes": 16,
            "arrays": [{"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 16}],
            "root": {"dict": [["w", {"array": 0}], ["n", 3]]}}


def test_a_crafted_file_with_a_good_digest_loads(tmp_path):
    loaded = _load_bytes(tmp_path, _craft(_good_manifest(), np.arange(2.0).tobytes()))
    assert loaded["n"] == 3 and loaded["w"].tolist() == [0.0, 1.0]


CRAFTED = {
    "object dtype": {"dtype": "|O8"},
    "void dtype": {"dtype": "|V8"},
    "structured dtype": {"dtype": [["a", "<f8"]]},
    "a huge shape": {"shape": [10**12], "nbytes": 8 * 10**12},
    "a negative dim": {"shape": [-2], "nbytes": -16},
    "nbytes not matching": {"nbytes": 8},
    "a negative offset": {"offset": -64},
    "an offset past the end": {"offset": 4096},
    "a float shape": {"shape": [2.0]},
    "a string offset": {"offset": "0"},
}


@pytest.mark.parametrize("field", CRAFTED)
def test_a_crafted_array_table_raises_checkpoint_error_without_allocating(tmp_path,
                                                                          field):
    manifest = _good_manifest()
    manifest["arrays"][0].update(CRAFTED[field])
    _expect_checkpoint_error(tmp_path, _craft(manifest, np.arange(2.0).tobytes()))


ROOTS = {
    "an unknown tag": {"pickle": "gASV"},
    "two tags": {"dict": [], "tuple": []},
    "an index past the arrays": {"array": 5},
    "a float index": {"array": 0.0},
    "a bad float": {"float": "1e999"},
    "a non-bool requires_grad": {"tensor": 0, "requires_grad": "yes"},
    "a dict key that is a list": {"dict": [[["k"], 1]]},
    "a dict item of three": {"dict": [["a", 1, 2]]},
}


@pytest.mark.parametrize("root", ROOTS)
def test_a_crafted_manifest_root_raises_checkpoint_error(tmp_path, root):
    manifest = _good_manifest()
    manifest["root"] = ROOTS[root]
    _expect_checkpoint_error(tmp_path, _craft(manifest, np.arange(2.0).tobytes()))


def _deep(depth: int) -> bytes:
    good = json.dumps({k: v for k, v in _good_manifest().items() if k != "root"})
    return (good[:-1] + ', "root": ' + "[" * depth + "]" * depth + "}").encode()


def test_crafted_headers_raise_checkpoint_error(tmp_path):
    data = np.arange(2.0).tobytes()
    for blob in (_craft(None, data, raw_header=_deep(100_000)),  # json's recursion
                 _craft(None, data, raw_header=_deep(990)),  # json parses it, decoding recurses
                 _craft(None, data, raw_header=b"\xff\xfe not utf-8"),
                 _craft(None, data, raw_header=b"{" * 100_000),
                 _craft(None, data, raw_header=b"[1, 2"),
                 _craft([], data), _craft({"format": "other"}, data),
                 _craft(_good_manifest(), data, version=2)):
        _expect_checkpoint_error(tmp_path, blob)


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.text(max_size=5)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["dict", "tuple", "array", "scalar",
                                                       "tensor", "float", "requires_grad",
                                                       "dtype", "shape", "x"]),
                                      inner, max_size=3),
                    max_leaves=12)


@settings(max_examples=200)
@given(path=st.lists(st.sampled_from(["root", "arrays", 0, "dtype", "shape", "offset",
                                      "nbytes", "dict", 1, "data_nbytes"]), min_size=1,
                     max_size=4),
       value=JSON)
def test_fuzzed_self_consistent_manifests_load_or_raise_checkpoint_error(fuzz_dir, path,
                                                                         value):
    manifest = _good_manifest()
    node = manifest
    for key in path[:-1]:  # walk as far as the drawn path exists, then replace that value
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            break
    try:
        node[path[-1]] = value
    except (IndexError, TypeError):
        return
    try:
        _load_bytes(fuzz_dir, _craft(manifest, np.arange(2.0).tobytes()))
    except tg.CheckpointError as e:
        assert str(e).startswith("tg.load: ")

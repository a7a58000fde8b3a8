"""Checkpoints: round trips, bit-for-bit resume, refusal of pickles, corruption and truncation
detection, and atomic replacement of an existing file."""

import errno
import hashlib
import json
import math
import os
import pathlib
import pickle
import re
import stat
import struct
import tracemalloc
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim, serialization
from tinygrad_c2.optim import lr_scheduler
from tinygrad_c2.serialization import CheckpointError, load, save


def nested_state():
    rng = np.random.default_rng(0)
    return {
        "model": OrderedDict([("0.weight", rng.standard_normal((3, 2))),
                              ("0.bias", rng.standard_normal(3).astype(np.float32))]),
        "optim": {"state": {0: {"step": 7, "exp_avg": rng.standard_normal(3)}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0]}]},
        "tensors": [tg.Tensor(np.arange(4.0), requires_grad=True), tg.tensor([1, 2]),
                    nn.Parameter(np.ones((2, 2)))],
        "dtypes": [np.array(True), np.arange(5, dtype=np.int8), np.arange(3, dtype=np.uint16),
                   np.array([1 + 2j]), np.zeros((0, 3)), np.array(["ab", "cde"]),
                   np.array([b"x", b"yz"]), np.arange(3, dtype=">f8"), np.float16([0.5]),
                   np.arange(12.0).reshape(3, 4)[:, ::2], np.asfortranarray(np.ones((2, 3)))],
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(False)],
        "plain": [None, True, False, 0, -12, 2**100, 0.1, -0.0, 1e-300, math.inf, -math.inf,
                  "naïve ✓", "", (), [], {}],
        1: "int key", 2.5: "float key", None: "None key", False: "bool key",
    }


def assert_same(a, b, where="state"):
    """Deep equality that also checks types, dtypes and Tensor flags."""
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), where
        assert [type(k) for k in a] == [type(k) for k in b], where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, tg.Tensor):
        assert a.requires_grad == b.requires_grad, where
        assert_same(a.numpy(), b.numpy(), where)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


def test_round_trip_of_nested_state_keeps_every_type(tmp_path):
    state = nested_state()
    state["plain"].append(math.nan)
    save(state, tmp_path / "ckpt")
    assert_same(load(tmp_path / "ckpt"), state)


def test_loaded_arrays_are_fresh_writable_copies(tmp_path):
    a = np.arange(3.0)
    save({"a": a}, str(tmp_path / "ckpt"))
    b = load(str(tmp_path / "ckpt"))["a"]
    b += 1
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0])
    assert b.flags.writeable and b.flags.c_contiguous


def test_save_and_load_a_model_and_optimizer_the_pytorch_way(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    loss = nn.CrossEntropyLoss()(model(tg.randn(8, 3)), tg.tensor(np.arange(8) % 2))
    loss.backward()
    opt.step()
    save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 1}, tmp_path / "c")
    ckpt = load(tmp_path / "c")
    assert_same(ckpt["model"], model.state_dict())
    assert_same(ckpt["optim"], opt.state_dict())
    assert ckpt["epoch"] == 1


# ------------------------------------------------------------------------ bit-for-bit resume
def make_run():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if name.endswith("weight") and p.ndim == 2 else no_decay).append(p)
    opt = optim.AdamW([{"params": decay, "weight_decay": 0.01},
                       {"params": no_decay, "weight_decay": 0.0}], lr=0.01)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=7)
    return model, opt, sched


def train(model, opt, sched, epochs):
    data = np.random.default_rng(1)
    x_all = data.standard_normal((40 * 16, 4)).astype(np.float32)  # the model's dtype
    y_all = data.integers(0, 3, 40 * 16)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in epochs:
        for b in range(4):
            i = (epoch * 4 + b) * 16
            opt.zero_grad()
            loss = loss_fn(model(tg.Tensor(x_all[i:i + 16])), tg.Tensor(y_all[i:i + 16]))
            loss.backward()
            opt.step()
        sched.step()


def test_train_save_load_continue_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    model, opt, sched = make_run()
    train(model, opt, sched, range(10))
    uninterrupted = model.state_dict()

    model, opt, sched = make_run()
    train(model, opt, sched, range(4))
    save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(),
          "rng": tg.rng.get_state(), "epoch": 4}, tmp_path / "ckpt")
    del model, opt, sched

    model, opt, sched = make_run()
    tg.manual_seed(123)  # the restored generator state must win over whatever came before
    ckpt = load(tmp_path / "ckpt")
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    tg.rng.set_state(ckpt["rng"])
    train(model, opt, sched, range(ckpt["epoch"], 10))
    resumed = model.state_dict()
    assert list(resumed) == list(uninterrupted)
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)


# ------------------------------------------------------------------------- refusing pickles
class PickleBomb:
    """Unpickling this object creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_the_pickle_payload_is_live(tmp_path):
    """Control: plain pickle.loads does run the payload (so the next test means something)."""
    pickle.loads(pickle.dumps(PickleBomb(tmp_path / "ran")))
    assert (tmp_path / "ran").exists()


def test_a_pickle_file_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"weights": PickleBomb(marker)}))
    with pytest.raises(CheckpointError, match=r"model\.pt.*pickle"):
        load(path)
    assert not marker.exists()


def test_a_torch_save_file_is_refused_and_never_run(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"weights": PickleBomb(marker), "t": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match=r"zip archive.*never unpickles"):
        load(path)
    assert not marker.exists()


def forge(tmp_path, manifest, data=b"", version=serialization.FORMAT_VERSION, name="forged",
          raw_header=None):
    """A file in our layout with a CORRECT digest: what a deliberate forger can produce."""
    header = raw_header if raw_header is not None else json.dumps(manifest).encode()
    prefix = serialization.MAGIC + struct.pack("<IQ", version, len(header)) + header
    body = prefix + bytes(-len(prefix) % 64) + data
    path = tmp_path / name
    path.write_bytes(body + hashlib.sha256(body).digest())
    return path


def test_a_forged_file_with_a_pickle_inside_is_still_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(PickleBomb(marker))
    base = {"format": "tinygrad_c2.checkpoint", "data_nbytes": len(payload)}
    attempts = [
        {**base, "root": {"array": 0},
         "arrays": [{"dtype": "|O8", "shape": [1], "offset": 0, "nbytes": 8}]},
        {**base, "root": {"array": 0},
         "arrays": [{"dtype": "[('a', 'O')]", "shape": [1], "offset": 0, "nbytes": 8}]},
        {**base, "root": {"pickle": 0}, "arrays": []},
        {**base, "root": {"array": 5}, "arrays": []},
        {**base, "root": {"array": 0},
         "arrays": [{"dtype": "<f8", "shape": [10**6], "offset": 0, "nbytes": 8 * 10**6}]},
        {**base, "root": {"array": 0},
         "arrays": [{"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 8}]},
        {**base, "arrays": []},
    ]
    for i, manifest in enumerate(attempts):
        path = forge(tmp_path, manifest, payload, name=f"forged{i}")
        with pytest.raises(CheckpointError, match=f"forged{i}: malformed"):
            load(path)
    assert not marker.exists()


def test_a_newer_format_version_is_refused_with_its_number(tmp_path):
    path = forge(tmp_path, {"format": "tinygrad_c2.checkpoint", "root": 1, "arrays": [],
                            "data_nbytes": 0}, version=2)
    with pytest.raises(CheckpointError, match="format version 2"):
        load(path)


# ---------------------------------------------------------------------- truncation, bit flips
def test_a_truncated_file_gets_a_clear_error_wherever_it_is_cut(tmp_path):
    save(nested_state(), tmp_path / "full")
    blob = (tmp_path / "full").read_bytes()
    header_len = struct.unpack_from("<Q", blob, len(serialization.MAGIC) + 4)[0]
    cuts = [1, 10, len(serialization.MAGIC) + 5, 40, 28 + header_len // 2, 28 + header_len + 1,
            len(blob) // 2, len(blob) - 33, len(blob) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}"
        path.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match=f"cut{cut}: file is truncated"):
            load(path)


def test_trailing_bytes_are_reported(tmp_path):
    save({"a": np.ones(3)}, tmp_path / "ckpt")
    with open(tmp_path / "ckpt", "ab") as f:
        f.write(b"junk")
    with pytest.raises(CheckpointError, match="extra bytes"):
        load(tmp_path / "ckpt")


def test_every_single_bit_flip_is_detected(tmp_path):
    save({"w": np.arange(4.0), "lr": 0.1, "name": "run"}, tmp_path / "ckpt")
    blob = bytearray((tmp_path / "ckpt").read_bytes())
    path = tmp_path / "flipped"
    for position in range(len(blob)):
        flipped = bytearray(blob)
        flipped[position] ^= 1 << (position % 8)
        path.write_bytes(flipped)
        with pytest.raises(CheckpointError, match="flipped: "):
            load(path)


def test_empty_and_foreign_files_are_named_in_the_error(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty: not a tinygrad_c2 checkpoint.*empty"):
        load(tmp_path / "empty")
    np.save(tmp_path / "weights.npy", np.ones(3))
    with pytest.raises(CheckpointError, match=r"weights\.npy.*\.npy file"):
        load(tmp_path / "weights.npy")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing")


# -------------------------------------------------------------------------- refused on save
@pytest.mark.parametrize(("value", "match"), [
    ({"w": np.array([1, "a"], dtype=object)}, r"state\['w'\] is an array of dtype object"),
    ({"w": np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")])}, r"state\['w'\] is an array"),
    ({"opt": [{1, 2}]}, r"state\['opt'\]\[0\] of type set"),
    ({"model": nn.Linear(2, 2)}, "of type Linear.*state_dict"),
    ({"fn": len}, "builtin_function_or_method"),
    ({(1, 2): 3}, "key"),
])
def test_values_that_would_need_pickle_are_refused_on_save(tmp_path, value, match):
    with pytest.raises(TypeError, match=match):
        save(value, tmp_path / "ckpt")
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


def test_a_reference_cycle_is_refused(tmp_path):
    state = {"a": []}
    state["a"].append(state)
    with pytest.raises(ValueError, match="cycle"):
        save(state, tmp_path / "ckpt")


# ------------------------------------------------------------------------------------ atomic
def test_saving_over_an_existing_file_replaces_it_and_leaves_no_temp_file(tmp_path):
    save({"v": 1}, tmp_path / "ckpt")
    save({"v": 2, "w": np.ones(1000)}, tmp_path / "ckpt")
    assert load(tmp_path / "ckpt")["v"] == 2
    assert os.listdir(tmp_path) == ["ckpt"]


@pytest.mark.parametrize("failure", ["mid-write", "fsync", "rename", "interrupt"])
def test_a_crash_during_save_leaves_the_old_file_intact(tmp_path, monkeypatch, failure):
    old = {"w": np.arange(1000.0), "epoch": 1}
    save(old, tmp_path / "ckpt")
    before = (tmp_path / "ckpt").read_bytes()
    calls = []

    def write_half_then_fail(f, digest, blob):
        calls.append(1)
        if len(calls) == 3:  # inside the array data
            f.write(memoryview(blob)[: len(blob) // 2])
            raise (KeyboardInterrupt() if failure == "interrupt" else OSError("disk full"))
        f.write(blob)

    def fail(*args):
        raise OSError("simulated crash")

    if failure in ("mid-write", "interrupt"):
        monkeypatch.setattr(serialization, "_write_blob", write_half_then_fail)
    elif failure == "fsync":
        monkeypatch.setattr(os, "fsync", fail)
    else:
        monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(KeyboardInterrupt if failure == "interrupt" else OSError):
        save({"w": np.zeros(5000), "epoch": 2}, tmp_path / "ckpt")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt"]
    assert (tmp_path / "ckpt").read_bytes() == before
    assert_same(load(tmp_path / "ckpt"), old)


# ----------------------------------------------------- hostile array tables (valid digest)
def table_file(tmp_path, entries, data, root=None, name="hostile"):
    """A forged checkpoint whose array table is `entries` and whose root lists every array."""
    if root is None:
        root = [{"array": i} for i in range(len(entries))]
    manifest = {"format": "tinygrad_c2.checkpoint", "root": root, "arrays": entries,
                "data_nbytes": len(data)}
    return forge(tmp_path, manifest, data, name=name)


def load_peak(path):
    """tg.load(path) under tracemalloc: (result or the exception raised, peak bytes)."""
    tracemalloc.start()
    try:
        result = load(path)
    except Exception as e:  # noqa: BLE001 (the caller asserts on what came back)
        result = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result, peak


def allowance(path):
    """What loading may allocate: about the file's size, plus a small constant."""
    return 2 * os.path.getsize(path) + 64 * 1024


def test_overlapping_entries_are_refused_without_allocating_each_one(tmp_path):
    data = bytes(256 * 1024)
    entries = [{"dtype": "|u1", "shape": [len(data)], "offset": 0, "nbytes": len(data)}] * 200
    path = table_file(tmp_path, entries, data)
    result, peak = load_peak(path)
    assert isinstance(result, CheckpointError), result
    assert re.search(r"hostile: malformed manifest \(array 1 .*overlaps", str(result)), result
    assert peak <= allowance(path), f"peak {peak} bytes for a {os.path.getsize(path)}-byte file"


@pytest.mark.parametrize(("entries", "match"), [
    ([{"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 16},
      {"dtype": "<f8", "shape": [2], "offset": 8, "nbytes": 16}], r"array 1 .*overlaps array 0"),
    ([{"dtype": "<f8", "shape": [1], "offset": 8, "nbytes": 8},
      {"dtype": "<f8", "shape": [1], "offset": 0, "nbytes": 8}], r"array 1 .*overlaps array 0"),
    ([{"dtype": "<f8", "shape": [2], "offset": 24, "nbytes": 16}], r"array 0 .*past the end"),
    ([{"dtype": "<f8", "shape": [2], "offset": 2**64, "nbytes": 16}], r"array 0 .*past the end"),
])
def test_overlapping_and_out_of_range_entries_are_refused(tmp_path, entries, match):
    path = table_file(tmp_path, entries, np.arange(4.0).tobytes())
    with pytest.raises(CheckpointError, match=r"hostile: malformed manifest \(" + match):
        load(path)


def test_empty_arrays_may_share_an_offset_as_the_writer_lays_them_out(tmp_path):
    state = [np.zeros(0), np.ones(3), np.zeros((0, 2**40), np.int8), np.arange(2.0)]
    save(state, tmp_path / "ckpt")
    assert_same(load(tmp_path / "ckpt"), state)


@pytest.mark.parametrize(("dtype", "shape", "nbytes"), [
    ("<f3", [2], 6), ("<U0", [2], 0), ("|S0", [2], 0), ("<i3", [1], 3), ("<b2", [1], 2),
    ("=f8", [2], 16), ("|f8", [2], 16), ("<i1", [16], 16), ("<M8[s]", [2], 16),
    ("<m8", [2], 16), ("|V8", [2], 16), ("|O8", [2], 16), ("<U99999999999", [0], 0),
    ("<f8 ", [2], 16), ("<c4", [4], 16), ("<u16", [1], 16), (["<f8"], [2], 16), (8, [2], 16),
])
def test_a_bad_dtype_is_refused_by_name(tmp_path, dtype, shape, nbytes):
    path = table_file(tmp_path, [{"dtype": dtype, "shape": shape, "offset": 0,
                                  "nbytes": nbytes}], bytes(16))
    with pytest.raises(CheckpointError, match=r"hostile: malformed manifest \(array 0 has dtype"):
        load(path)


@pytest.mark.parametrize(("shape", "dtype"), [
    ([10**30, 0], "<f8"), ([0, 2**62, 2], "|i1"), ([2**31, 2**31, 0], "<f8"), ([0] * 65, "<f8"),
    ([True, 0], "<f8"), ([1e30, 0], "<f8"), ([-1, 0], "<f8"), ("0", "<f8"), ([[0]], "<f8"),
])
def test_a_bad_shape_is_refused_by_name(tmp_path, shape, dtype):
    path = table_file(tmp_path, [{"dtype": dtype, "shape": shape, "offset": 0, "nbytes": 0}],
                      bytes(16))
    with pytest.raises(CheckpointError, match=r"hostile: malformed manifest \(array 0 has shape"):
        load(path)


@pytest.mark.parametrize("field", ["offset", "root", "nbytes"])
def test_a_json_integer_too_long_for_python_is_refused(tmp_path, field):
    entry = {"dtype": "<f8", "shape": [2], "offset": 0, "nbytes": 16, field: "INT"}
    manifest = {"format": "tinygrad_c2.checkpoint", "root": "INT" if field == "root" else
                {"array": 0}, "arrays": [entry], "data_nbytes": 16}
    header = json.dumps(manifest).replace('"INT"', "7" * 5000).encode()
    path = forge(tmp_path, None, bytes(16), raw_header=header)
    with pytest.raises(CheckpointError, match=r"forged: malformed header .*digits"):
        load(path)


@pytest.mark.parametrize(("dtype", "data", "match"), [
    ("|b1", bytes([0, 1, 2, 1]), r"array 0 holds bool bytes other than 0 and 1"),
    ("<U1", struct.pack("<I", 0x110000), r"array 0 holds a code point beyond U\+10FFFF"),
    (">U1", struct.pack(">I", 0xFFFFFFFF), r"array 0 holds a code point beyond U\+10FFFF"),
])
def test_array_bytes_numpy_cannot_represent_are_refused(tmp_path, dtype, data, match):
    itemsize = np.dtype(dtype).itemsize
    path = table_file(tmp_path, [{"dtype": dtype, "shape": [len(data) // itemsize],
                                  "offset": 0, "nbytes": len(data)}], data)
    with pytest.raises(CheckpointError, match=r"hostile: malformed manifest \(" + match):
        load(path)


@pytest.mark.parametrize(("dtype", "root", "match"), [
    ("<U1", {"tensor": 0, "requires_grad": False}, r"array 0 of dtype <U1 cannot be a tensor"),
    ("<U1", {"parameter": 0, "requires_grad": False}, r"array 0 of dtype <U1 cannot be a param"),
    ("<i4", {"parameter": 0, "requires_grad": True}, r"Parameter: expected floating-point"),
    ("<f4", {"scalar": 0}, r"scalar 0 has shape \(4,\)"),
    ("<f4", [{"array": 0}, {"tensor": 0, "requires_grad": False}], r"array 0 is used twice"),
])
def test_a_root_that_misuses_an_array_is_refused(tmp_path, dtype, root, match):
    path = table_file(tmp_path, [{"dtype": dtype, "shape": [4], "offset": 0, "nbytes": 16}],
                      b"a\0\0\0" * 4, root=root)
    with pytest.raises(CheckpointError, match=r"hostile: malformed manifest \(.*" + match):
        load(path)


def test_long_strings_round_trip(tmp_path):
    state = {"s": np.array(["x" * 300_000, "y"]), "b": np.array([b"z" * 200_000])}
    save(state, tmp_path / "ckpt")
    assert_same(load(tmp_path / "ckpt"), state)



# --------------------------------------------------------------------- where tg.save writes
def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "runs").mkdir()
    for name, writer in (("torch", torch.save), ("tg", save)):
        target = tmp_path / "runs" / f"{name}.ckpt"
        writer({"v": 1}, target)
        link = tmp_path / f"{name}-latest"
        link.symlink_to(os.path.join("runs", f"{name}.ckpt"))  # a relative link
        writer({"v": 2}, link)
        assert link.is_symlink() and os.readlink(link) == os.path.join("runs", f"{name}.ckpt")
    assert load(tmp_path / "runs" / "tg.ckpt") == {"v": 2}
    assert sorted(os.listdir(tmp_path / "runs")) == ["tg.ckpt", "torch.ckpt"]


def test_saving_through_a_dangling_symlink_creates_its_target_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    for name, writer in (("torch", torch.save), ("tg", save)):
        link = tmp_path / f"{name}-link"
        link.symlink_to(tmp_path / f"{name}-target")
        writer({"v": 1}, link)
        assert link.is_symlink() and (tmp_path / f"{name}-target").is_file()
    assert load(tmp_path / "tg-target") == {"v": 1}


def test_saving_through_a_symlink_loop_names_the_users_path(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError, match=rf"tg.save: cannot write {tmp_path / 'a'}: .*symbolic link"):
        save({"v": 1}, tmp_path / "a")
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


@pytest.mark.parametrize("name", ["c" * 240, "é" * 127, "ckpt-" + "✓" * 80 + ".tgc2"],
                         ids=["240 ASCII", "254 UTF-8 bytes", "250 UTF-8 bytes"])
def test_a_long_legal_file_name_saves(tmp_path, name):
    assert len(os.fsencode(name)) <= 255
    save({"v": 1}, tmp_path / name)
    save({"v": 2}, tmp_path / name)  # over an existing file, too
    assert load(tmp_path / name) == {"v": 2}
    assert os.listdir(tmp_path) == [name]


def test_saving_to_a_directory_names_the_users_path_and_leaves_nothing_behind(tmp_path):
    (tmp_path / "out").mkdir()
    message = rf"tg.save: {tmp_path / 'out'} is a directory$"
    with pytest.raises(IsADirectoryError, match=message) as e:
        save({"v": 1}, tmp_path / "out")
    assert e.value.errno == errno.EISDIR
    (tmp_path / "to-out").symlink_to(tmp_path / "out")
    with pytest.raises(IsADirectoryError, match=rf"tg.save: {tmp_path / 'to-out'} is a directory"):
        save({"v": 1}, tmp_path / "to-out")
    with pytest.raises(IsADirectoryError, match="tg.save: .*new/ is a directory"):
        save({"v": 1}, f"{tmp_path / 'new'}{os.sep}")  # open(path, "wb") refuses it, too
    assert sorted(os.listdir(tmp_path)) == ["out", "to-out"] and os.listdir(tmp_path / "out") == []


def test_an_os_error_during_save_names_the_users_path_not_the_temporary_file(tmp_path,
                                                                            monkeypatch):
    real_replace = os.replace

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), src)

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match=rf"tg.save: cannot write {tmp_path / 'ckpt'}: No space") as e:
        save({"v": 1}, tmp_path / "ckpt")
    assert e.value.errno == errno.ENOSPC and ".tmp" not in str(e.value)
    monkeypatch.setattr(os, "replace", real_replace)
    assert os.listdir(tmp_path) == []


def test_saving_over_a_file_keeps_its_permissions_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    for name, writer in (("torch", torch.save), ("tg", save)):
        writer({"v": 1}, tmp_path / name)
        os.chmod(tmp_path / name, 0o600)
        writer({"v": 2}, tmp_path / name)
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name

"""safetensors files through tg.save / tg.load: round trips, state_dicts to and from PyTorch
(checked with the `safetensors` package where installed), torch.load's keywords, and crafted
headers, which raise CheckpointError naming the file and never allocate beyond its size."""

import json
import os
import pickle
import struct

import numpy as np
import pytest
from test_serialization import PickleBomb, allowance, assert_same, load_peak

import tinygrad_c2 as tg
from tinygrad_c2 import nn, serialization
from tinygrad_c2.serialization import CheckpointError, load, safetensors_metadata, save


def every_dtype():
    rng = np.random.default_rng(0)
    return {
        "f64": rng.standard_normal((2, 3)), "f32": rng.standard_normal(4).astype(np.float32),
        "f16": np.float16([0.5, -2.0]), "i64": np.arange(-3, 3), "i32": np.int32([7]),
        "i16": np.int16([-5, 5]), "i8": np.int8([-128, 127]), "u64": np.uint64([2**64 - 1]),
        "u32": np.uint32([1]), "u16": np.uint16([65535]), "u8": np.arange(5, dtype=np.uint8),
        "bool": np.array([True, False]), "c64": np.complex64([1 + 2j]),
        "scalar": np.array(3.5), "empty": np.zeros((0, 4), np.float32),
    }


def craft(tmp_path, header, data=b"", name="hostile.safetensors", raw=None):
    """A safetensors file with the given header (a dict, or `raw` bytes) and data."""
    text = raw if raw is not None else json.dumps(header).encode()
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


# ------------------------------------------------------------------------------ round trips
def test_every_dtype_round_trips_in_order_with_its_values(tmp_path):
    state = every_dtype()
    save(state, tmp_path / "all.safetensors")
    loaded = load(tmp_path / "all.safetensors")
    assert type(loaded) is dict and list(loaded) == list(state)
    assert_same(loaded, state)
    assert all(a.flags.writeable and a.flags.c_contiguous for a in loaded.values())


def test_tensors_views_and_big_endian_arrays_are_saved_as_their_values(tmp_path):
    state = {"t": tg.tensor([1.0, 2.0]), "p": nn.Parameter(np.ones((2, 2))),
             "view": np.arange(12.0).reshape(3, 4)[:, ::2], "big": np.arange(3, dtype=">i4"),
             "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "np": np.float32(2.5)}
    save(state, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    for name, value in state.items():
        array = np.asarray(value.data if isinstance(value, tg.Tensor) else value)
        assert loaded[name].dtype == array.dtype.newbyteorder("="), name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


def test_a_models_state_dict_round_trips_into_load_state_dict(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    model(tg.randn(5, 3))  # moves the running statistics
    save(model.state_dict(), tmp_path / "model.safetensors")
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(load(tmp_path / "model.safetensors"))
    assert_same(dict(other.state_dict()), dict(model.state_dict()))


def test_the_format_follows_the_content_not_the_name(tmp_path):
    state = {"w": np.arange(3.0)}
    save(state, tmp_path / "weights", format="safetensors")
    save(state, tmp_path / "ckpt.safetensors", format="tgc2")
    save(state, tmp_path / "UPPER.SAFETENSORS")
    assert (tmp_path / "weights").read_bytes()[8:9] == b"{"
    assert (tmp_path / "ckpt.safetensors").read_bytes().startswith(serialization.MAGIC)
    assert (tmp_path / "UPPER.SAFETENSORS").read_bytes()[8:9] == b"{"
    for name in ("weights", "ckpt.safetensors", "UPPER.SAFETENSORS"):
        assert_same(load(tmp_path / name), state)


def test_metadata_strings_are_written_and_read_back(tmp_path):
    save({"w": np.ones(2)}, tmp_path / "m.safetensors", metadata={"format": "pt", "epoch": "3"})
    assert safetensors_metadata(tmp_path / "m.safetensors") == {"format": "pt", "epoch": "3"}
    save({"w": np.ones(2)}, tmp_path / "n.safetensors")
    assert safetensors_metadata(tmp_path / "n.safetensors") == {}
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.safetensors: file is truncated"):
        safetensors_metadata(tmp_path / "empty.safetensors")


def test_the_header_is_padded_so_the_data_and_every_tensor_are_aligned(tmp_path):
    save(every_dtype(), tmp_path / "all.safetensors")
    blob = (tmp_path / "all.safetensors").read_bytes()
    (header_len,) = struct.unpack_from("<Q", blob)
    assert (8 + header_len) % 8 == 0 and blob[8 + header_len - 1:8 + header_len] in (b" ", b"}")
    header = json.loads(blob[8:8 + header_len])
    for name, entry in header.items():
        itemsize = np.dtype(serialization._SAFETENSORS_DTYPES[entry["dtype"]]).itemsize
        assert entry["data_offsets"][0] % itemsize == 0, name


# --------------------------------------------------------------------- torch.load's keywords
@pytest.mark.parametrize("name", ["ckpt.tgc2", "ckpt.safetensors"])
def test_map_location_cpu_and_weights_only_are_accepted_for_both_formats(tmp_path, name):
    state = {"w": np.arange(3.0)}
    save(state, tmp_path / name)
    for kwargs in ({"weights_only": True}, {"weights_only": False}, {"map_location": "cpu"},
                   {"map_location": None, "weights_only": None}, {"map_location": "cpu:0"}):
        assert_same(load(tmp_path / name, **kwargs), state)
    assert_same(load(tmp_path / name, "cpu"), state)  # positional, as torch.load takes it


def test_map_location_a_torch_cpu_device_is_accepted(tmp_path):
    torch = pytest.importorskip("torch")
    save({"w": np.ones(2)}, tmp_path / "m.safetensors")
    assert_same(load(tmp_path / "m.safetensors", map_location=torch.device("cpu")),
                {"w": np.ones(2)})
    with pytest.raises(RuntimeError, match="map_location=device.*numpy on the CPU only"):
        load(tmp_path / "m.safetensors", map_location=torch.device("meta"))


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"map_location": "cuda"}, RuntimeError,
     r"tg.load: map_location='cuda': tinygrad_c2 runs on numpy on the CPU only; pass "
     r"map_location='cpu' or None"),
    ({"map_location": "cuda:0"}, RuntimeError, "map_location='cuda:0'"),
    ({"map_location": "mps"}, RuntimeError, "map_location='mps'"),
    ({"map_location": lambda storage, loc: storage}, TypeError,
     "map_location=<function.* is not supported; tinygrad_c2 loads everything onto the CPU"),
    ({"map_location": {"cuda:0": "cpu"}}, TypeError, "not supported"),
    ({"weights_only": "yes"}, TypeError, "weights_only must be True, False or None"),
])
def test_other_map_locations_and_weights_only_values_are_refused(tmp_path, kwargs, error,
                                                                 match):
    save({"w": np.ones(2)}, tmp_path / "m.safetensors")
    with pytest.raises(error, match=match):
        load(tmp_path / "m.safetensors", **kwargs)


# ---------------------------------------------------------------------------- refused on save
@pytest.mark.parametrize(("state", "kwargs", "error", "match"), [
    ({"optim": {"state": {}}}, {}, TypeError,
     r"state\['optim'\] is a dict; a safetensors file holds only arrays and Tensors.*\.tgc2"),
    ({"epoch": 3}, {}, TypeError, r"state\['epoch'\] is a int"),
    ([np.ones(2)], {}, TypeError, "holds a dict of names to arrays or Tensors.*not a list"),
    ({1: np.ones(2)}, {}, TypeError, r"state\[1\]: .* str keys"),
    ({"__metadata__": np.ones(2)}, {}, ValueError, "'__metadata__' is reserved"),
    ({"\ud800": np.ones(2)}, {}, ValueError, "not valid Unicode"),
    ({"w": np.ones(2, np.complex128)}, {}, TypeError,
     r"state\['w'\] has dtype complex128, which safetensors cannot hold"),
    ({"w": np.array(["a"])}, {}, TypeError, "dtype <U1, which safetensors cannot hold"),
    ({"w": np.ones(2, np.longdouble)}, {}, TypeError, "which safetensors cannot hold"),
    ({"w": np.ones(2)}, {"metadata": {"epoch": 3}}, TypeError,
     "metadata must be a dict of str to str"),
    ({"w": np.ones(2)}, {"metadata": {"a": "b"}, "format": "tgc2"}, TypeError,
     "metadata= is for safetensors files"),
    ({"w": np.ones(2)}, {"format": "pt"}, ValueError, "format='pt'; expected 'tgc2'"),
])
def test_what_safetensors_cannot_hold_is_refused_and_nothing_written(tmp_path, state, kwargs,
                                                                   error, match):
    with pytest.raises(error, match=match):
        save(state, tmp_path / "m.safetensors", **kwargs)
    assert os.listdir(tmp_path) == []


def test_a_crash_during_a_safetensors_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    save({"w": np.arange(1000.0)}, tmp_path / "m.safetensors")
    before = (tmp_path / "m.safetensors").read_bytes()

    def write_half_then_fail(f, digest, blob):
        f.write(memoryview(blob)[: len(blob) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_blob", write_half_then_fail)
    with pytest.raises(OSError, match=r"disk full"):
        save({"w": np.zeros(5000)}, tmp_path / "m.safetensors")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.safetensors"]
    assert (tmp_path / "m.safetensors").read_bytes() == before


def test_a_safetensors_save_writes_through_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    save({"w": np.ones(2)}, tmp_path / "runs" / "model.safetensors")
    link = tmp_path / "latest.safetensors"
    link.symlink_to(os.path.join("runs", "model.safetensors"))
    save({"w": np.zeros(3)}, link)
    assert link.is_symlink()
    assert_same(load(tmp_path / "runs" / "model.safetensors"), {"w": np.zeros(3)})
    assert os.listdir(tmp_path / "runs") == ["model.safetensors"]


# ----------------------------------------------------------------- the package and PyTorch
def test_files_written_here_read_with_the_safetensors_package_and_back(tmp_path):
    st_numpy = pytest.importorskip("safetensors.numpy")
    safetensors = pytest.importorskip("safetensors")
    state = every_dtype()
    save(state, tmp_path / "ours.safetensors", metadata={"format": "np"})
    theirs = st_numpy.load_file(str(tmp_path / "ours.safetensors"))
    assert_same(dict(sorted(theirs.items())), dict(sorted(state.items())))
    with safetensors.safe_open(str(tmp_path / "ours.safetensors"), "np") as f:
        assert f.metadata() == {"format": "np"}
    st_numpy.save_file(state, str(tmp_path / "theirs.safetensors"), metadata={"k": "v"})
    assert_same(dict(sorted(load(tmp_path / "theirs.safetensors").items())),
                dict(sorted(state.items())))
    assert safetensors_metadata(tmp_path / "theirs.safetensors") == {"k": "v"}


def torch_and_our_mlp(torch):
    """A torch nn.Sequential(Linear, ReLU, Linear) and ours of the same shapes, both fresh."""
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    ours = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    x = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    return theirs, ours, x


def test_a_torch_state_dict_saved_by_safetensors_torch_runs_in_our_model(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    theirs, ours, x = torch_and_our_mlp(torch)
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "torch.safetensors"))
    state = load(tmp_path / "torch.safetensors", map_location="cpu", weights_only=True)
    ours.load_state_dict(state)
    for name, tensor in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], tensor.numpy(), err_msg=name)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(tg.tensor(x)).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_our_state_dict_saved_by_tg_save_runs_in_a_torch_model(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    theirs, ours, x = torch_and_our_mlp(torch)
    save(ours.state_dict(), tmp_path / "ours.safetensors")
    theirs.load_state_dict(st_torch.load_file(str(tmp_path / "ours.safetensors")))
    with torch.no_grad():
        got = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ours(tg.tensor(x)).numpy(), rtol=1e-6, atol=1e-7)


def test_a_bfloat16_file_from_torch_is_refused_by_name(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    st_torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bf.safetensors"))
    with pytest.raises(CheckpointError, match=r"bf\.safetensors: malformed safetensors header "
                       r"\(tensor 'w' has dtype BF16, which numpy has no dtype for; convert it"):
        load(tmp_path / "bf.safetensors")


# ------------------------------------------------------------------------- crafted headers
def entry(dtype="F64", shape=(2,), offsets=(0, 16)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


F64x4 = np.arange(4.0).tobytes()


@pytest.mark.parametrize(("header", "match"), [
    ({"a": entry(), "b": entry(offsets=(8, 24))},
     r"tensor 'b' \(bytes 8 to 24\) overlaps the tensor before it, which ends at byte 16"),
    ({"a": entry(), "b": entry(offsets=(0, 16))}, r"tensor '.' \(bytes 0 to 16\) overlaps"),
    ({"a": entry(offsets=(16, 32))}, r"tensor 'a' \(bytes 16 to 32\) leaves bytes 0 to 16 unused"),
    ({"a": entry(offsets=(2**64, 2**64 + 16))}, r"tensor 'a' .* leaves bytes 0 to"),
    ({"a": entry()}, r"the last 16 bytes of the file belong to no tensor"),
    ({"a": entry(shape=(3,))}, r"tensor 'a': data_offsets \[0, 16\] hold 16 bytes, but shape "
                               r"\[3\] of F64 needs 24"),
    ({"a": entry(offsets=(16, 0))}, r"tensor 'a' has data_offsets \[16, 0\]; expected \[begin"),
    ({"a": entry(offsets=(-8, 8))}, r"has data_offsets \[-8, 8\]"),
    ({"a": entry(offsets=(0.0, 16.0))}, r"has data_offsets \[0.0, 16.0\]"),
    ({"a": entry(offsets=(0, 16, 32))}, r"has data_offsets \[0, 16, 32\]"),
    ({"a": {**entry(), "data_offsets": "0-16"}}, r"has data_offsets '0-16'"),
    ({"a": entry(dtype="F128")}, r"tensor 'a' has dtype 'F128'; expected one of BOOL, U8"),
    ({"a": entry(dtype="f64")}, r"has dtype 'f64'"),
    ({"a": entry(dtype=["F64"])}, r"has dtype \['F64'\]"),
    ({"a": entry(dtype="F8_E5M2")}, r"has dtype F8_E5M2, which numpy has no dtype for"),
    ({"a": entry(shape=(10**30, 0), offsets=(0, 0))}, r"tensor 'a' has shape \[10000"),
    ({"a": entry(shape=(2**62, 2**62, 0), offsets=(0, 0))}, r"has shape \[4611686018427387904"),
    ({"a": entry(shape=[0] * 65, offsets=(0, 0))}, r"has shape \[0, 0, 0,.*at most 64"),
    ({"a": entry(shape=(-2,))}, r"has shape \[-2\]"),
    ({"a": {**entry(), "shape": 2}}, r"has shape 2;"),
    ({"a": {**entry(), "shape": [True, True]}}, r"has shape \[True, True\]"),
    ({"a": {**entry(), "byte_order": "big"}}, r"tensor 'a' is \{.*expected an object with "
                                              r"exactly dtype, shape and data_offsets"),
    ({"a": {"dtype": "F64", "shape": [2]}}, r"tensor 'a' is .*exactly dtype"),
    ({"a": [1, 2]}, r"tensor 'a' is \[1, 2\]"),
    ({"__metadata__": {"epoch": 3}, "a": entry(offsets=(0, 32), shape=(4,))},
     r"__metadata__ is \{'epoch': 3\}; expected an object of strings"),
    ({"__metadata__": ["a"], "a": entry(offsets=(0, 32), shape=(4,))}, r"__metadata__ is"),
])
def test_a_crafted_header_is_refused_naming_the_file_and_the_fault(tmp_path, header, match):
    path = craft(tmp_path, header, F64x4)
    with pytest.raises(CheckpointError, match=r"^tg.load: .*hostile\.safetensors: malformed "
                       r"safetensors header \((tensor 'a' )?" + match):
        load(path)


@pytest.mark.parametrize(("raw", "match"), [
    (b'{"a": ', r"Expecting value"),
    (b'{"a": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]}}}', r"Extra data"),
    (b'{"a": {"dtype": "F64", "shape": [4], "data_offsets": [0, NaN]}}', r"NaN is not JSON"),
    (b'{"a": {"dtype": "F64", "shape": [4], "data_offsets": [0, 32]}, "a": {"dtype": "F64", '
     b'"shape": [4], "data_offsets": [0, 32]}}', r"duplicate key 'a'"),
    (b'{"a": {"dtype": "F64", "dtype": "U8", "shape": [4], "data_offsets": [0, 32]}}',
     r"duplicate key 'dtype'"),
    (b'{"\xff": 1}', r"codec can't decode"),
    (b'{"a": {"dtype": "F64", "shape": [' + b"7" * 5000 + b'], "data_offsets": [0, 32]}}',
     r"digits"),
    (b'{"a": ' * 100_000, r"(recursion|Expecting)"),
])
def test_a_header_that_is_not_valid_json_is_refused(tmp_path, raw, match):
    path = craft(tmp_path, None, F64x4, raw=raw)
    with pytest.raises(CheckpointError, match=r"^tg.load: .*hostile\.safetensors: malformed "
                       r"safetensors header \(.*" + match):
        load(path)


@pytest.mark.parametrize(("raw", "on_load"), [
    (b" {}", r"not a tinygrad_c2 checkpoint \(bad magic bytes\)"),
    (b"[]", r"not a tinygrad_c2 checkpoint \(bad magic bytes\)"),
    (b"", r"malformed safetensors header \(it does not start with '\{'\)"),  # 8 bytes: the name
])
def test_a_header_that_does_not_start_with_a_brace_is_not_a_safetensors_header(tmp_path, raw,
                                                                             on_load):
    path = craft(tmp_path, None, raw=raw)
    with pytest.raises(CheckpointError, match=r"hostile\.safetensors: malformed safetensors "
                       r"header \(it does not start with '\{'\)"):
        safetensors_metadata(path)
    with pytest.raises(CheckpointError, match=r"hostile\.safetensors: " + on_load):
        load(path)


def test_bool_bytes_other_than_zero_and_one_are_refused(tmp_path):
    path = craft(tmp_path, {"mask": entry("BOOL", (4,), (0, 4))}, bytes([0, 1, 2, 1]))
    with pytest.raises(CheckpointError, match=r"hostile\.safetensors: malformed safetensors "
                       r"header \(tensor 'mask' holds bool bytes other than 0 and 1"):
        load(path)


def test_a_header_length_beyond_the_file_or_the_limit_is_refused(tmp_path):
    path = tmp_path / "long.safetensors"
    path.write_bytes(struct.pack("<Q", 1000) + b'{"a": 1}')
    with pytest.raises(CheckpointError, match=r"long\.safetensors: file is truncated \(16 bytes; "
                       r"its header alone needs 1008\)"):
        load(path)
    path.write_bytes(struct.pack("<Q", 2**64 - 1) + b"{}")
    with pytest.raises(CheckpointError, match=r"header length 18446744073709551615 exceeds the "
                       r"format's limit of 100000000 bytes"):
        load(path)


def test_a_truncated_safetensors_file_gets_a_clear_error_wherever_it_is_cut(tmp_path):
    save(every_dtype(), tmp_path / "full.safetensors")
    blob = (tmp_path / "full.safetensors").read_bytes()
    for cut in [1, 7, 8, 9, 40, len(blob) // 2, len(blob) - 1]:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match=rf"cut{cut}\.safetensors: file is truncated"):
            load(path)
    # without the suffix, a file too short to show its header is not recognised
    (tmp_path / "cut").write_bytes(blob[:5])
    with pytest.raises(CheckpointError, match=r"cut: not a tinygrad_c2 checkpoint \(bad magic"):
        load(tmp_path / "cut")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.safetensors: not a .*the file is empty"):
        load(tmp_path / "empty.safetensors")


def test_a_pickle_named_safetensors_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps({"w": PickleBomb(marker)}))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: .*looks like a pickle"):
        load(tmp_path / "model.safetensors")
    assert not marker.exists()


@pytest.mark.parametrize(("blob", "match"), [
    (b"\x80\x04\x95" + bytes(40), "it looks like a pickle"),
    (b"PK\x03\x04" + bytes(40), "it is a zip archive, e.g. a torch.save file"),
    (b"\x93NUMPY" + bytes(40), "it is a .npy file"),
    (bytes(40), r"bad magic bytes\)"),
])
def test_a_foreign_file_named_safetensors_is_named_for_what_it_is(tmp_path, blob, match):
    (tmp_path / "model.safetensors").write_bytes(blob)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a tinygrad_c2 checkpoint "
                       r"\(" + match):
        load(tmp_path / "model.safetensors")


def test_overlapping_tensors_are_refused_without_allocating_each_one(tmp_path):
    data = bytes(256 * 1024)
    header = {f"t{i}": entry("U8", (len(data),), (0, len(data))) for i in range(200)}
    path = craft(tmp_path, header, data)
    result, peak = load_peak(path)
    assert isinstance(result, CheckpointError) and "overlaps" in str(result), result
    assert peak <= allowance(path), f"peak {peak} bytes for a {os.path.getsize(path)}-byte file"


def test_a_huge_declared_tensor_is_refused_without_allocating_it(tmp_path):
    path = craft(tmp_path, {"a": entry("F64", (2**40,), (0, 8 * 2**40))}, F64x4)
    result, peak = load_peak(path)
    assert isinstance(result, CheckpointError), result
    assert "file is truncated" in str(result) and "hostile.safetensors" in str(result)
    assert peak <= allowance(path), f"peak {peak} bytes for a {os.path.getsize(path)}-byte file"


def test_a_valid_load_allocates_about_the_files_size(tmp_path):
    save({f"w{i}": np.ones(20_000) for i in range(5)}, tmp_path / "m.safetensors")
    result, peak = load_peak(tmp_path / "m.safetensors")
    assert isinstance(result, dict) and len(result) == 5
    assert peak <= allowance(tmp_path / "m.safetensors")

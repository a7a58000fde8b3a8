"""A hypothesis fuzz over the array table of checkpoints with a valid digest, and over the
header of safetensors files: every field (dtype strings, shapes, offsets, byte counts) hostile
or not, and the load is either correct or a CheckpointError, never another exception and never
an allocation beyond the file's size."""

import math
import os

import numpy as np
import pytest
from test_serialization import allowance, load_peak, table_file
from test_serialization_safetensors import craft

from tinygrad_c2.serialization import _SAFETENSORS_DTYPES, CheckpointError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# ------------------------------------------------------------------ fuzzing the array table
DTYPES = ["<f8", ">f4", "<f2", "|b1", "|i1", "|u1", "<i2", ">i8", "<u4", "<c8", ">c16", "|S3",
          "<U2", ">U1"]
BAD_DTYPES = ["<f3", "<U0", "|S0", "=f8", "<i1", "|f8", "|O8", "|V4", "<M8[s]", "f8", "",
              "<U99999999999", "|S2147483648"]
ODD = st.sampled_from([True, 1.0, 1e30, "1", None, [1], -1, 2**63, 2**64, 10**30])
HOSTILE = {
    "dtype": st.sampled_from(BAD_DTYPES) | st.text(max_size=6),
    "shape": st.lists(st.integers(0, 5) | ODD, max_size=3) | ODD
    | st.lists(st.sampled_from([0, 2**31, 2**62, 2**63 - 1]), min_size=2, max_size=3),
    "offset": st.integers(0, 300) | ODD,
    "nbytes": st.integers(0, 300) | ODD,
}


@st.composite
def array_tables(draw):
    """(entries, data): a table of up to 5 arrays laid out as `save` lays them, or overlapping,
    with up to two fields replaced by hostile values, and data that may be too short, random
    (bad bools, bad code points) or large (so that re-reading overlapping bytes shows)."""
    entries, end = [], 0
    for _ in range(draw(st.integers(0, 5))):
        dtype = draw(st.sampled_from(DTYPES))
        shape = draw(st.lists(st.integers(0, 5), max_size=3) | st.sampled_from([[8192], [2, 4096]]))
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        offset = draw(st.sampled_from([end, -(-end // 64) * 64, 0]))  # 0: an overlap
        entries.append({"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes})
        end = max(end, offset + nbytes)
    for _ in range(draw(st.integers(0, 2)) if entries else 0):
        field = draw(st.sampled_from(sorted(HOSTILE)))
        entries[draw(st.integers(0, len(entries) - 1))][field] = draw(HOSTILE[field])
    size = max(0, end + draw(st.sampled_from([0, 0, 7, -1])))
    random = size <= 512 and draw(st.booleans())
    data = draw(st.binary(min_size=size, max_size=size)) if random else bytes(size)
    return entries, data


@settings(max_examples=300)
@given(table=array_tables(), tensors=st.booleans())
def test_fuzzed_array_tables_load_correctly_or_raise_checkpoint_error(tmp_path_factory, table,
                                                                     tensors):
    entries, data = table
    root = [{"tensor": i, "requires_grad": False} if tensors else {"array": i}
            for i in range(len(entries))]
    path = table_file(tmp_path_factory.getbasetemp(), entries, data, root=root)
    result, peak = load_peak(path)
    assert peak <= allowance(path), f"peak {peak} bytes for a {os.path.getsize(path)}-byte file"
    if isinstance(result, Exception):
        assert type(result) is CheckpointError, repr(result)
        assert str(result).startswith(f"tg.load: {path}: malformed"), result
        return
    assert len(result) == len(entries)
    for value, entry in zip(result, entries, strict=True):  # a load is a correct load
        array = value.numpy() if tensors else value
        assert array.dtype.str == entry["dtype"] and list(array.shape) == entry["shape"]
        raw = data[entry["offset"]:entry["offset"] + entry["nbytes"]]
        assert array.tobytes() == raw and array.nbytes == entry["nbytes"]


# ------------------------------------------------------------- fuzzing safetensors headers
ST_HOSTILE = {
    "dtype": st.sampled_from(["BF16", "F8_E4M3", "f32", "", "F128", "<f8"]) | st.text(max_size=5)
    | ODD,
    "shape": HOSTILE["shape"],
    "data_offsets": st.lists(st.integers(-1, 300) | ODD, max_size=3) | ODD,
}


@st.composite
def safetensors_headers(draw):
    """(header, data): up to 5 tensors tiling the data, or overlapping or leaving gaps, with
    up to two fields hostile, odd names and metadata, and data that may be short or long."""
    header, end = {}, 0
    if draw(st.integers(0, 3)) == 0:
        strings = st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2)
        header["__metadata__"] = draw(strings | st.dictionaries(st.text(max_size=3), ODD,
                                                                min_size=1, max_size=2) | ODD)
    for i in range(draw(st.integers(0, 5))):
        dtype = draw(st.sampled_from(sorted(_SAFETENSORS_DTYPES)))
        shape = draw(st.lists(st.integers(0, 5), max_size=3) | st.sampled_from([[8192], [2, 4096]]))
        nbytes = math.prod(shape) * np.dtype(_SAFETENSORS_DTYPES[dtype]).itemsize
        begin = draw(st.sampled_from([end, end, end + 8, 0]))  # a gap, an overlap
        name = draw(st.sampled_from([f"t{i}", f"{i}.weight"]) | st.text(max_size=4))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + nbytes]}
        end = max(end, begin + nbytes)
    tensors = [name for name in header if name != "__metadata__"]
    for _ in range(draw(st.integers(0, 2)) if tensors else 0):
        field = draw(st.sampled_from(sorted(ST_HOSTILE)))
        header[draw(st.sampled_from(tensors))][field] = draw(ST_HOSTILE[field])
    size = max(0, end + draw(st.sampled_from([0, 0, 7, -1])))
    random = size <= 512 and draw(st.booleans())
    data = draw(st.binary(min_size=size, max_size=size)) if random else bytes(size)
    return header, data


@settings(max_examples=300)
@given(case=safetensors_headers())
def test_fuzzed_safetensors_headers_load_correctly_or_raise_checkpoint_error(tmp_path_factory,
                                                                             case):
    header, data = case
    path = craft(tmp_path_factory.getbasetemp(), header, data)
    result, peak = load_peak(path)
    assert peak <= allowance(path), f"peak {peak} bytes for a {os.path.getsize(path)}-byte file"
    if isinstance(result, Exception):
        assert type(result) is CheckpointError, repr(result)
        assert str(result).startswith((f"tg.load: {path}: malformed safetensors header (",
                                       f"tg.load: {path}: file is truncated")), result
        return
    header.pop("__metadata__", None)
    assert list(result) == list(header)
    for name, entry in header.items():  # a load is a correct load
        begin, end = entry["data_offsets"]
        assert result[name].dtype == np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]]), name
        assert list(result[name].shape) == entry["shape"]
        assert result[name].tobytes() == data[begin:end]

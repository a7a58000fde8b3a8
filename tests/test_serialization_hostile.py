"""A hypothesis fuzz over the array table of checkpoints with a valid digest: every field
(dtype strings, shapes, offsets, byte counts) hostile or not, and the load is either correct
or a CheckpointError, never another exception and never an allocation beyond the file's size."""

import math
import os

import numpy as np
import pytest
from test_serialization import allowance, load_peak, table_file

from tinygrad_c2.serialization import CheckpointError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# ------------------------------------------------------------------ fuzzing the array table
DTYPES = ["<f8", ">f4", "<f2", "|b1", "|i1", "|u1", "<i2", ">i8", "<u4", "<c8", ">c16", "|S3",
          "<U2", ">U1", "<f3", "<U0", "|S0", "=f8", "<i1", "|O8", "|V4", "<M8[s]", "f8", "",
          "<U99999999999", "|S2147483648"]
EDGE_INTS = [0, 1, 2, 3, 4, 7, 8, 16, 24, 64, 255, 256, 2**31, 2**62, 2**63, 2**64, 10**30, -1]
FIELD = st.sampled_from(EDGE_INTS) | st.integers(0, 300)
ODD = st.sampled_from([True, 1.0, 1e30, "1", None, [1]])


@st.composite
def array_tables(draw):
    """An array table of up to 6 entries, mostly self-consistent, sometimes overlapping, with
    hostile values in any field."""
    entries, offset = [], 0
    for _ in range(draw(st.integers(0, 6))):
        dtype = draw(st.sampled_from(DTYPES) | st.text(max_size=6))
        shape = draw(st.lists(FIELD, max_size=4) | st.lists(FIELD | ODD, max_size=3) | ODD)
        try:
            nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        except Exception:  # noqa: BLE001 (a hostile dtype or shape: any nbytes will do)
            nbytes = draw(FIELD)
        nbytes = draw(st.sampled_from([nbytes, nbytes, draw(FIELD | ODD)]))
        offset = draw(st.sampled_from([offset, 0, draw(FIELD | ODD)]))
        entries.append({"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes})
        if isinstance(offset, int) and isinstance(nbytes, int):
            offset += nbytes
    return entries


@settings(max_examples=300)
@given(entries=array_tables(), data=st.binary(max_size=300), zeros=st.sampled_from([0, 4096]),
       tensors=st.booleans())
def test_fuzzed_array_tables_load_correctly_or_raise_checkpoint_error(tmp_path_factory, entries,
                                                                     data, zeros, tensors):
    data += bytes(zeros)
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
        array = value.data if tensors else value
        assert array.dtype.str == entry["dtype"] and list(array.shape) == entry["shape"]
        raw = data[entry["offset"]:entry["offset"] + entry["nbytes"]]
        assert array.tobytes() == raw and array.nbytes == entry["nbytes"]

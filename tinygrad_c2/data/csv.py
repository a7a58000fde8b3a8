"""Labelled CSV files: one example a row, numeric feature columns, the class label last.

The rules `load_csv` applies (each refusal names the file, the row and the column, counted
from 1 as a spreadsheet shows them, header and blank rows included):

- Encoding: UTF-8, with or without a byte-order mark. Anything else is refused with the
  byte offset and line of the first undecodable byte.
- Header (`header=None`, the default, decides): the first row is a header when one of its
  feature fields is not a number, or when its label is not a number while every other
  row's label is. A header of numbers only (`1,2,3,4`) cannot be told from data: pass
  `header=True` (and `header=False` to read a first row as data whatever it holds).
- Every row has the same number of fields; no field is empty (a trailing comma makes an
  empty last field, and is refused). Blank rows (also `,,,`) are skipped.
- Features are finite numbers that fit the dtype: NaN, inf and 1e39 (beyond float32) are
  refused; fill in or drop missing values first.
- Labels: when every label is a number, labels are whole numbers: `1` and `1.0` are one
  class, spelled `1`, classes sort numerically (2 < 7 < 10), and 0.5 is refused (a
  regression target is not a class). Otherwise labels are text (spaces
  around them stripped) and classes sort as strings. Either way the order does not depend
  on the order of the rows. At least two classes; NaN/inf labels are refused.
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._common import DataFileError, check_float_dtype

__all__ = ["LabelledCSV", "label_keys", "load_csv", "load_csv_features"]

#: What a CSV file must look like, for error messages.
CSV_FORMAT = ("a UTF-8 CSV file with one example per row: numeric feature columns, then the "
              "class label in the last column (an optional header row)")

Rows = list[tuple[int, list[str]]]  # (1-based row number, fields), blank rows left out
_UNCLOSED = 'a quote " that is never closed swallows the rows after it'


class LabelledCSV(NamedTuple):
    """What load_csv returns: features, int64 class indices, and the label of each index."""

    X: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]


def load_csv(
    path: str | os.PathLike, *, header: bool | None = None, dtype: object = None
) -> LabelledCSV:
    """Read a labelled CSV into (X, y, classes): `classes[y[i]]` is row i's label as written.

    `header=None` detects a header row (see the module's rules), True/False forces it.
    X has the default float dtype (float32 unless changed) or `dtype`.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory(); p = pathlib.Path(tmp.name) / "d.csv"
    >>> _ = p.write_text("x,label\\n0.5,10\\n1.5,2\\n2.5,10.0\\n")
    >>> X, y, classes = load_csv(p); X.ravel().tolist(), y.tolist(), classes
    ([0.5, 1.5, 2.5], [1, 0, 1], ('2', '10'))
    >>> tmp.cleanup()
    """
    resolved = check_float_dtype(dtype, "load_csv")
    names, rows = _table(path, header)
    width = _common_width(path, names, rows)
    if width < 2:
        raise DataFileError(f"load_csv: {path}: rows have {width} field; expected {CSV_FORMAT}")
    X = _features(path, names, rows, width - 1, resolved)
    y, classes = _encode_labels(path, names, rows, width - 1)
    return LabelledCSV(X, y, classes)


def load_csv_features(
    path: str | os.PathLike, n_features: int, *, header: bool | None = None,
    dtype: object = None,
) -> tuple[np.ndarray, list[str] | None]:
    """Features to predict on: (X, labels), from n_features columns or n_features + a label.

    `labels` is the last column's text (None when the file has no label column), for
    comparing predictions with known answers.

    >>> import tempfile, pathlib
    >>> tmp = tempfile.TemporaryDirectory(); p = pathlib.Path(tmp.name) / "new.csv"
    >>> _ = p.write_text("0.5,1\\n1.5,2\\n")
    >>> X, labels = load_csv_features(p, 2); X.shape, labels
    ((2, 2), None)
    >>> tmp.cleanup()
    """
    resolved = check_float_dtype(dtype, "load_csv_features")
    names, rows = _table(path, header)
    width = _common_width(path, names, rows)
    if width not in (n_features, n_features + 1):
        raise DataFileError(f"load_csv: {path}: rows have {width} fields; the model expects "
                            f"{n_features} feature columns (optionally followed by the label)")
    X = _features(path, names, rows, n_features, resolved)
    labels = [fields[-1].strip() for _, fields in rows] if width > n_features else None
    return X, labels


def label_keys(texts: list[str]) -> list[str]:
    """Labels as classes are spelled: numbers canonical (`1.0` -> `1`) when all are numbers.

    >>> label_keys(["10", "2.0", "7"]), label_keys(["cat", " dog "])
    (['10', '2', '7'], ['cat', 'dog'])
    """
    stripped = [text.strip() for text in texts]
    numbers = _numbers(stripped)
    if numbers is None:
        return stripped
    return [_spell(value) for value in numbers]


# --------------------------------------------------------------------------------- reading

def _table(path: str | os.PathLike, header: bool | None) -> tuple[list[str] | None, Rows]:
    """(header names or None, data rows) of the file."""
    if header not in (None, True, False):
        raise TypeError(f"load_csv: header must be None (detect), True or False, got {header!r}")
    rows = _rows(path)
    if not rows:
        raise DataFileError(f"load_csv: {path}: the file holds no rows; expected {CSV_FORMAT}")
    if header is None:
        header = _looks_like_header(rows)
    names = rows[0][1] if header else None
    rows = rows[1:] if header else rows
    if not rows:
        raise DataFileError(f"load_csv: {path}: a header row and no data; expected {CSV_FORMAT}")
    return names, rows


def _rows(path: str | os.PathLike) -> Rows:
    """Decode (UTF-8, optional BOM) and split the file; rows of empty fields are dropped."""
    if Path(path).is_dir():
        raise DataFileError(f"load_csv: {path} is a folder; expected {CSV_FORMAT}")
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # NOTE: utf-8-sig drops a leading BOM, plain utf-8 keeps it
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        utf16 = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise DataFileError(
            f"load_csv: {path}: the byte at offset {error.start} (line {line}) is "
            f"0x{raw[error.start]:02X}, not UTF-8{utf16}; re-save the file as UTF-8 (a "
            "spreadsheet's 'CSV UTF-8')"
        ) from None
    rows: Rows = []
    number = 0
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for number, fields in enumerate(reader, start=1):
            if "".join(fields).strip():  # not a blank row (nor ",,,")
                rows.append((number, fields))
    except csv.Error as error:
        # the field limit (128 KiB) is csv's protection against a runaway quoted field
        raise DataFileError(f"load_csv: {path}: row {number + 1}: {error} ({_UNCLOSED}?)"
                            ) from None
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(rows: Rows) -> bool:
    """The auto rule: a feature field that is not a number, or a label column that is numbers
    everywhere below row 1 only."""
    first = rows[0][1]
    if not all(_is_number(field) for field in first[:-1]):
        return True
    return (not _is_number(first[-1]) and len(rows) > 1
            and all(_is_number(fields[-1]) for _, fields in rows[1:]))


def _column(names: list[str] | None, index: int) -> str:
    """'column 3' or 'column 3 (petal_width)' when the header names it."""
    if names is not None and index < len(names) and names[index].strip():
        return f"column {index + 1} ({names[index].strip()})"
    return f"column {index + 1}"


def _shown(field: str) -> str:
    """A field for an error message: quoted, cut at 40 characters."""
    return repr(field if len(field) <= 40 else field[:40] + "...")


def _common_width(path: str | os.PathLike, names: list[str] | None, rows: Rows) -> int:
    """The number of fields every row has (the header's, else the first row's)."""
    width, source = (len(names), "the header") if names is not None else (
        len(rows[0][1]), f"row {rows[0][0]}")
    for number, fields in rows:
        if len(fields) != width:
            hint = ""
            if len(fields) > width and not fields[-1].strip():
                hint = " (the last is empty: a trailing comma?)"
            elif any("\n" in field for field in fields):
                hint = f" ({_UNCLOSED}?)"
            raise DataFileError(f"load_csv: {path}: row {number} has {len(fields)} fields"
                                f"{hint}, {source} has {width}; expected {CSV_FORMAT}")
    return width


def _features(path: str | os.PathLike, names: list[str] | None, rows: Rows, n_features: int,
              dtype: np.dtype) -> np.ndarray:
    """The first n_features columns as finite numbers that fit dtype."""
    try:
        values = np.array([fields[:n_features] for _, fields in rows], dtype=np.float64)
    except ValueError:
        values = None
    if values is None:  # find the first field that is not a number, to name it
        for number, fields in rows:
            for column, field in enumerate(fields[:n_features]):
                if not _is_number(field):
                    what = (f"{_shown(field)} is not a number" if field.strip()
                            else "an empty field")
                    hint = f" ({_UNCLOSED}?)" if "\n" in field else ""
                    raise DataFileError(f"load_csv: {path}: row {number}, "
                                        f"{_column(names, column)}: {what}{hint}; expected "
                                        f"{CSV_FORMAT}")
        raise AssertionError("unreachable: numpy refused a field float() accepts")
    largest = np.finfo(dtype).max
    bad = ~np.isfinite(values) | (np.abs(values) > largest)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        number, field = rows[row][0], rows[row][1][column]
        what = (f"{_shown(field.strip())} is not a finite number (fill in or drop missing "
                "values)" if not np.isfinite(values[row, column])
                else f"{_shown(field.strip())} overflows {dtype.name} (largest {largest:.3g})")
        raise DataFileError(f"load_csv: {path}: row {number}, {_column(names, column)}: {what}")
    return values.astype(dtype)


def _numbers(texts: list[str]) -> list[float] | None:
    """The texts as floats when every one is a number, else None."""
    try:
        return [float(text) for text in texts]
    except ValueError:
        return None


def _spell(value: float) -> str:
    """A numeric label's one spelling: 1.0 -> '1', -0.0 -> '0', 0.5 -> '0.5'."""
    return str(int(value)) if value.is_integer() else repr(value)


def _encode_labels(path: str | os.PathLike, names: list[str] | None, rows: Rows,
                   column: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices of the label column and the sorted classes (numeric or text order)."""
    where = _column(names, column)
    texts = [fields[column].strip() for _, fields in rows]
    for (number, _), text in zip(rows, texts, strict=True):
        if not text:
            raise DataFileError(f"load_csv: {path}: row {number}, {where}: an empty label (a "
                                "trailing comma at the end of the row?)")
        if _is_number(text) and not math.isfinite(float(text)):
            raise DataFileError(f"load_csv: {path}: row {number}, {where}: label {_shown(text)} "
                                "is not a class (a missing value?)")
    keys = label_keys(texts)
    numbers = _numbers(texts)
    fractional = [] if numbers is None else [i for i, v in enumerate(numbers) if v % 1]
    if fractional:
        number, text = rows[fractional[0]][0], texts[fractional[0]]
        raise DataFileError(f"load_csv: {path}: row {number}, {where}: label {_shown(text)} is "
                            "not a whole number; numeric class labels must be integers (is the "
                            "last column a regression target?)")
    if numbers is not None:  # numeric labels sort as numbers: 2 < 7 < 10
        classes = tuple(_spell(value) for value in sorted(set(numbers)))
    else:
        classes = tuple(sorted(set(keys)))
    if len(classes) < 2:
        raise DataFileError(f"load_csv: {path}: every row has the label {classes[0]!r} in "
                            f"{where}; a classifier needs at least 2 classes")
    index = {label: i for i, label in enumerate(classes)}
    return np.array([index[key] for key in keys], dtype=np.int64), classes

"""tg.data.load_csv: every awkward CSV is read correctly or refused naming file, row and column."""

import csv

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import DataFileError, load_csv, load_csv_features


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_a_plain_file_gives_features_labels_and_classes(tmp_path):
    path = write(tmp_path, "0.5,1.5,cat\n2,3,dog\n4,5e-1,cat\n")
    X, y, classes = load_csv(path)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, np.array([[0.5, 1.5], [2, 3], [4, 0.5]], np.float32))
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 0] and classes == ("cat", "dog")
    assert tg.data.load_csv is load_csv


def test_dtype_float64_keeps_every_digit(tmp_path):
    X, _, _ = load_csv(write(tmp_path, "0.1,a\n0.2,b\n"), dtype="float64")
    assert X.dtype == np.float64 and X[0, 0] == 0.1


def test_a_byte_order_mark_without_a_header_keeps_the_first_row(tmp_path):
    path = write(tmp_path, "\ufeff1,2,0\n3,4,1\n5,6,1\n")
    X, y, _ = load_csv(path)
    assert X.tolist() == [[1, 2], [3, 4], [5, 6]] and y.tolist() == [0, 1, 1]


def test_a_byte_order_mark_before_a_header_is_not_part_of_the_first_name(tmp_path):
    path = write(tmp_path, "\ufeffa,label\n1,x\n2,y\n3,z\nq,y\n")
    with pytest.raises(DataFileError, match=r"row 5, column 1 \(a\): 'q' is not a number"):
        load_csv(path)


def test_labels_1_and_1_point_0_are_one_class_spelled_1(tmp_path):
    _, y, classes = load_csv(write(tmp_path, "0,1\n1,1.0\n2,2\n3,1e0\n"))
    assert classes == ("1", "2") and y.tolist() == [0, 0, 1, 0]


def test_numeric_labels_sort_as_numbers_not_as_strings(tmp_path):
    _, y, classes = load_csv(write(tmp_path, "0,10\n1,2\n2,7\n3,-1\n4,0\n"))
    assert classes == ("-1", "0", "2", "7", "10")
    assert y.tolist() == [4, 2, 3, 0, 1]


def test_fractional_numeric_labels_are_refused_as_not_classes(tmp_path):
    with pytest.raises(DataFileError, match=r"row 3, column 2: label '0.37' is not a whole "
                                            "number; numeric class labels must be integers"):
        load_csv(write(tmp_path, "0,1\n1,2\n2,0.37\n"))
    assert load_csv(write(tmp_path, "0,a\n1,0.37\n2,b\n", "text.csv")).classes == ("0.37", "a", "b")


def test_text_labels_sort_as_strings_whatever_the_row_order(tmp_path):
    _, _, forward = load_csv(write(tmp_path, "0,pear\n1, apple \n2,fig\n"))
    _, _, backward = load_csv(write(tmp_path, "0,fig\n1,apple\n2,pear\n", "b.csv"))
    assert forward == backward == ("apple", "fig", "pear")


def test_a_header_with_numeric_feature_names_and_a_text_label_name_is_a_header(tmp_path):
    X, y, classes = load_csv(write(tmp_path, "1,2,3,class\n0.5,0.5,0.5,0\n1,1,1,1\n"))
    assert X.shape == (2, 3) and classes == ("0", "1") and y.tolist() == [0, 1]


def test_a_header_of_text_names_is_a_header(tmp_path):
    X, _, classes = load_csv(write(tmp_path, "a,b,label\n1,2,cat\n3,4,dog\n"))
    assert X.shape == (2, 2) and classes == ("cat", "dog")


def test_text_labels_in_the_first_row_are_data_when_all_labels_are_text(tmp_path):
    X, _, classes = load_csv(write(tmp_path, "1,2,cat\n3,4,dog\n"))
    assert X.shape == (2, 2) and classes == ("cat", "dog")


def test_an_all_number_header_needs_header_true(tmp_path):
    path = write(tmp_path, "1,2,3\n0.5,0.5,0\n1,1,1\n4,4,1\n")
    assert load_csv(path).X.shape == (4, 2)  # indistinguishable from data
    X, _, classes = load_csv(path, header=True)
    assert X.shape == (3, 2) and classes == ("0", "1")


def test_header_false_reads_a_text_first_row_as_data_and_refuses_it(tmp_path):
    path = write(tmp_path, "a,label\n1,x\n2,y\n")
    with pytest.raises(DataFileError, match=r"row 1, column 1: 'a' is not a number"):
        load_csv(path, header=False)
    with pytest.raises(TypeError, match="header must be None"):
        load_csv(path, header="yes")


def test_a_file_with_one_class_is_refused_naming_the_file(tmp_path):
    path = write(tmp_path, "x,label\n1,cat\n2,cat\n")
    with pytest.raises(DataFileError, match=r"data\.csv: every row has the label 'cat' in "
                                            r"column 2 \(label\); a classifier needs at least 2"):
        load_csv(path)


def test_a_trailing_comma_on_every_row_is_refused_as_an_empty_label(tmp_path):
    path = write(tmp_path, "1,2,0,\n3,4,1,\n")
    with pytest.raises(DataFileError, match=r"row 1, column 4: an empty label \(a trailing "
                                            "comma"):
        load_csv(path)


def test_a_trailing_comma_on_one_row_is_refused_naming_that_row(tmp_path):
    path = write(tmp_path, "1,2,0\n3,4,1,\n")
    with pytest.raises(DataFileError, match=r"row 2 has 4 fields \(the last is empty: a "
                                            r"trailing comma\?\), row 1 has 3"):
        load_csv(path)


def test_an_empty_feature_field_is_refused_naming_row_and_column(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2,x\n3,,y\n")
    with pytest.raises(DataFileError, match=r"row 3, column 2 \(b\): an empty field"):
        load_csv(path)


@pytest.mark.parametrize(("value", "what"), [("nan", "'nan' is not a finite number"),
                                             ("-inf", "'-inf' is not a finite number"),
                                             ("1e39", "'1e39' overflows float32"),
                                             ("1e309", "'1e309' is not a finite number")])
def test_nan_inf_and_float32_overflow_are_refused_naming_file_row_and_column(
        tmp_path, value, what):
    path = write(tmp_path, f"a,b,label\n1,2,x\n\n3,{value},y\n")
    with pytest.raises(DataFileError, match=rf"data\.csv: row 4, column 2 \(b\): {what}"):
        load_csv(path)


def test_1e39_fits_float64(tmp_path):
    X, _, _ = load_csv(write(tmp_path, "1e39,x\n2,y\n"), dtype=np.float64)
    assert X[0, 0] == 1e39


@pytest.mark.parametrize("label", ["nan", "inf"])
def test_nan_and_inf_labels_are_refused(tmp_path, label):
    with pytest.raises(DataFileError, match=rf"row 2, column 2: label '{label}' is not a class"):
        load_csv(write(tmp_path, f"1,0\n2,{label}\n3,1\n"))


def test_a_field_over_the_csv_field_limit_is_a_value_error_naming_the_row(tmp_path):
    limit = csv.field_size_limit()
    path = write(tmp_path, "1,a\n2,b\n3," + "x" * (limit + 1) + "\n")
    with pytest.raises(DataFileError, match=r"data\.csv: row 3: field larger than field limit"):
        load_csv(path)


def test_an_unclosed_quote_is_named_when_the_swallowed_rows_are_refused(tmp_path):
    path = write(tmp_path, '1,a\n"2,b\n3,c\n')
    with pytest.raises(DataFileError, match=r"row 2 has 1 fields \(a quote \" that is never "
                                            "closed swallows the rows after it"):
        load_csv(path)
    one_column = write(tmp_path, '1\n"2,b\n3,c\n', "one.csv")
    with pytest.raises(DataFileError, match=r"row 2, column 1: '2,b\\n3,c\\n' is not a number "
                                            r"\(a quote \" that is never closed"):
        load_csv_features(one_column, 1)


def test_a_latin_1_file_is_refused_naming_the_byte_and_line_and_suggesting_utf_8(tmp_path):
    path = write(tmp_path, "x,label\n1,cat\n2,caf\u00e9\n", encoding="latin-1")
    with pytest.raises(DataFileError, match=r"data\.csv: the byte at offset 19 \(line 3\) is "
                                            "0xE9, not UTF-8; re-save the file as UTF-8"):
        load_csv(path)
    path = write(tmp_path, "x,label\n1,cat\n2,dog\n", "u16.csv", encoding="utf-16")
    with pytest.raises(DataFileError, match="looks like UTF-16"):
        load_csv(path)


def test_rows_of_different_widths_and_files_without_data_are_refused(tmp_path):
    with pytest.raises(DataFileError, match="row 3 has 2 fields, the header has 3"):
        load_csv(write(tmp_path, "a,b,label\n1,2,x\n3,y\n"))
    with pytest.raises(DataFileError, match="holds no rows"):
        load_csv(write(tmp_path, "\n\n,,\n"))
    with pytest.raises(DataFileError, match="a header row and no data"):
        load_csv(write(tmp_path, "a,b,label\n"))
    with pytest.raises(DataFileError, match="rows have 1 field"):
        load_csv(write(tmp_path, "1\n2\n"))


def test_blank_rows_are_skipped_but_counted_in_row_numbers(tmp_path):
    path = write(tmp_path, "1,x\n\n,\n2,y\nz,y\n")
    assert load_csv(write(tmp_path, "1,x\n\n,\n2,y\n", "ok.csv")).X.tolist() == [[1], [2]]
    with pytest.raises(DataFileError, match="row 5, column 1: 'z' is not a number"):
        load_csv(path)


def test_windows_line_ends_and_quoted_fields_are_read(tmp_path):
    X, _, classes = load_csv(write(tmp_path, 'a,label\r\n"1.5","big, red"\r\n2,small\r\n'))
    assert X.tolist() == [[1.5], [2.0]] and classes == ("big, red", "small")


def test_data_file_errors_are_value_errors():
    assert issubclass(DataFileError, ValueError)


def test_features_to_predict_on_come_with_or_without_the_label_column(tmp_path):
    X, labels = load_csv_features(write(tmp_path, "a,b,label\n1,2,x\n3,4,y\n"), 2)
    assert X.tolist() == [[1, 2], [3, 4]] and labels == ["x", "y"]
    X, labels = load_csv_features(write(tmp_path, "a,b\n1,2\n3,4\n", "f.csv"), 2)
    assert X.shape == (2, 2) and labels is None
    with pytest.raises(DataFileError, match="rows have 2 fields; the model expects 3 feature"):
        load_csv_features(tmp_path / "f.csv", 3)


def test_a_folder_is_refused_as_not_a_csv_file(tmp_path):
    with pytest.raises(DataFileError, match="is a folder; expected a UTF-8 CSV file"):
        load_csv(tmp_path)

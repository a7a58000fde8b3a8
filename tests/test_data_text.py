"""The shipped names corpus: contents, damage detection, and that a wheel would carry it."""

import fnmatch
import tomllib
from pathlib import Path

import pytest

from tinygrad_c2.data import NAMES_ALPHABET, DataFileError, load_names, text

ROOT = Path(__file__).resolve().parent.parent


def test_load_names_gives_distinct_sorted_lower_case_names():
    names = load_names()
    assert len(names) == 5163 == len(set(names))
    assert names == sorted(names)
    assert {"mary", "james", "linda", "robert"} <= set(names)
    assert set("".join(names)) == set(NAMES_ALPHABET)
    assert min(map(len, names)) == 2 and max(map(len, names)) == 11


def test_the_corpus_stays_small_and_its_licence_is_stated():
    path = text.SHIPPED_FOLDER.joinpath("names.txt")
    assert path.stat().st_size < 100_000
    licences = text.SHIPPED_FOLDER.joinpath("DATA_LICENSES.txt").read_text()
    assert "names.txt" in licences and "public domain" in licences


def test_pyproject_ships_names_txt_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinygrad_c2.data"]
    assert any(fnmatch.fnmatch("names.txt", pattern) for pattern in patterns)


@pytest.mark.parametrize("content, where", [
    ("anna\nbob\n\ncarl\n", "line 3 is ''"),
    ("anna\nJosé\n", "UnicodeDecodeError"),
    ("Anna\n", "line 1 is 'Anna'"),
    ("anna\nbo b\n", "line 2 is 'bo b'"),
])
def test_a_damaged_names_file_names_the_line_and_says_to_reinstall(tmp_path, monkeypatch,
                                                                     content, where):
    (tmp_path / "names.txt").write_text(content, encoding="utf-8")
    monkeypatch.setattr(text, "SHIPPED_FOLDER", tmp_path)
    with pytest.raises(DataFileError, match="reinstall") as error:
        load_names()
    assert where in str(error.value)


def test_a_missing_names_file_says_to_reinstall(tmp_path, monkeypatch):
    monkeypatch.setattr(text, "SHIPPED_FOLDER", tmp_path)
    with pytest.raises(DataFileError, match="names.txt is damaged.*FileNotFoundError"):
        load_names()

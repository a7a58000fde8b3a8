"""Text shipped inside the package: 5,163 US first names (1990 Census, public domain).

The corpus of the character-level language model (examples/char_lm.py, `tinygrad-c2 names`),
the role the dinosaur names play in the course's "Dinosaur Island". Source and licence are in
DATA_LICENSES.txt beside this file.
"""

from __future__ import annotations

import string
from importlib import resources

from ._common import DataFileError

__all__ = ["NAMES_ALPHABET", "load_names"]

#: The characters a name is made of (lower-case ASCII letters).
NAMES_ALPHABET = string.ascii_lowercase
#: Where names.txt lives (tests point it at damaged copies).
SHIPPED_FOLDER = resources.files(__package__)


def load_names() -> list[str]:
    """The 5,163 distinct first names of the 1990 US Census lists, lower case, sorted.

    Raises DataFileError naming the line when the shipped file is damaged (a character
    outside a-z, an empty line), never a silently odd corpus.

    >>> names = load_names(); len(names), names[:3]
    (5163, ['aaron', 'abbey', 'abbie'])
    """
    path = SHIPPED_FOLDER.joinpath("names.txt")
    allowed = set(NAMES_ALPHABET)
    try:
        text = path.read_text(encoding="ascii")
    except (UnicodeDecodeError, FileNotFoundError) as error:
        raise DataFileError(_damaged(path, f"{type(error).__name__}: {error}")) from None
    names = text.splitlines()
    for number, name in enumerate(names, start=1):
        if not name or not set(name) <= allowed:
            raise DataFileError(_damaged(path, f"line {number} is {name!r}, expected a-z only"))
    return names


def _damaged(path: object, why: str) -> str:
    return (f"load_names: the shipped file {path} is damaged ({why}); reinstall tinygrad_c2: "
            "pip install --force-reinstall tinygrad_c2 (in a checkout: "
            "git checkout -- tinygrad_c2/data/names.txt)")

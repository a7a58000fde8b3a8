"""`tinygrad-c2 names`: the character-level language model of names (tinygrad_c2/charlm.py
builds its parser and runs it); this module registers it."""

from __future__ import annotations

from typing import Any


def add_names_command(subparsers: Any) -> None:
    """Register `tinygrad-c2 names`."""
    from ..charlm import add_names_command as register

    register(subparsers)

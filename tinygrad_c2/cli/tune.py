"""`tinygrad-c2 tune`: random / coarse-to-fine search over the train flags (tg.tune).

The command's parser and objective live with the search, in tinygrad_c2/tune/cli.py (process
pools import the objective from there); this module registers it.
"""

from __future__ import annotations

from typing import Any


def add_tune_command(subparsers: Any) -> None:
    """Register `tinygrad-c2 tune` (tinygrad_c2/tune/cli.py builds its parser)."""
    from ..tune.cli import add_tune_command as register

    register(subparsers)

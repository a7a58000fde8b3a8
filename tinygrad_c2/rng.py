"""The one random number generator behind every random thing the library does."""

from __future__ import annotations

import numpy as np

_generator: np.random.Generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed all library randomness (init, dropout masks, shuffling, augmentation).

    >>> import tinygrad_c2 as tg
    >>> _ = tg.manual_seed(0); a = tg.randn(3).numpy()
    >>> _ = tg.manual_seed(0); bool((a == tg.randn(3).numpy()).all())
    True
    """
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: expected an integer seed, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """Return the global generator; call it each time (manual_seed replaces it)."""
    return _generator


def get_state() -> dict:
    """The global generator's state, to replay the same draws (gradient checking, resuming)."""
    return _generator.bit_generator.state


def set_state(state: dict) -> None:
    """Restore a state captured by `get_state`."""
    _generator.bit_generator.state = state

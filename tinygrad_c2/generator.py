"""tg.Generator: PyTorch's torch.Generator on numpy, a private random stream to pass as generator=.

The library's global stream lives in rng.py (`tg.manual_seed`); a Generator is a separate one,
so shuffling a DataLoader or splitting a data set can be made reproducible on its own.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Generator"]

# PyTorch's fixed initial seed of a new torch.Generator: a fresh Generator is deterministic.
_DEFAULT_SEED = 67280421310721
_UINT64 = 2**64


class Generator:
    """A random stream with PyTorch's seeding methods: `manual_seed`, `seed`, `initial_seed`.

    Its numbers come from numpy's default generator (PCG64), so the same seed gives other
    numbers than torch's Mersenne Twister, but the same seed always gives the same numbers.
    `get_state()`/`set_state()` carry numpy's bit-generator state (a dict, where PyTorch uses a
    byte tensor).

    >>> g = Generator().manual_seed(42); g.initial_seed()
    42
    >>> a = g.numpy_generator.permutation(5); _ = g.manual_seed(42)
    >>> bool((a == g.numpy_generator.permutation(5)).all())
    True
    """

    def __init__(self, device: object = "cpu") -> None:
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: device {device!r} is not available: tinygrad_c2 "
                               "runs on numpy on the CPU; use device='cpu'")
        self.device = "cpu"
        self._initial_seed = _DEFAULT_SEED
        self._rng = np.random.default_rng(_DEFAULT_SEED)

    @classmethod
    def _from_numpy(cls, rng: np.random.Generator) -> Generator:
        """Wrap an existing numpy Generator (shared, not copied): the library's seed= arguments."""
        wrapped = cls()
        wrapped._rng = rng
        return wrapped

    @property
    def numpy_generator(self) -> np.random.Generator:
        """The numpy Generator this stream draws from (samplers and random_split use it)."""
        return self._rng

    def manual_seed(self, seed: int) -> Generator:
        """Reseed with an integer (PyTorch's range, negatives wrap to uint64); returns self."""
        if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: expected an int seed, got {seed!r}")
        if not -(2**63) <= seed < _UINT64:
            raise RuntimeError(f"Generator.manual_seed: seed must be within [-2**63, 2**64), "
                               f"got {seed}")
        self._initial_seed = int(seed) % _UINT64
        self._rng = np.random.default_rng(self._initial_seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        new_seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(new_seed)
        return new_seed

    def initial_seed(self) -> int:
        """The seed this stream was last seeded with."""
        return self._initial_seed

    def get_state(self) -> dict:
        """The stream's state (numpy's bit-generator state dict), to replay the same draws."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        """Restore a state from `get_state`; returns self."""
        self._rng.bit_generator.state = state
        return self

    def __repr__(self) -> str:
        return f"Generator(initial_seed={self._initial_seed})"

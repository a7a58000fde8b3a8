"""Seeded data augmentation on whole batches of images: flips, small shifts, Gaussian noise.

The course's cheap way to get more training data: variants of the training images that
keep their labels. Each transform takes a batch `(N, ..., H, W)` (numpy array or Tensor)
and returns a NEW batch of the same shape and kind; flattened images such as MNIST rows
`(N, 784)` need `image_shape=(28, 28)`. Use them as `DataLoader(..., transform=...)` on the
training loader only: dev and test data stay as they are.

Randomness: `seed=None` draws from the library's global generator at every call (so
`tg.manual_seed` governs it); an int seed makes the transform's own generator, whose
sequence of draws repeats whenever the transform is rebuilt.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..rng import generator
from ..tensor import Tensor
from ._common import Seed, check_non_negative, like_input, resolve_rng, to_numpy

__all__ = ["Compose", "GaussianNoise", "RandomHorizontalFlip", "RandomShift"]

Batch = np.ndarray | Tensor


class _RandomTransform:
    """Shared plumbing: the generator to draw from and the batch reshaped to images."""

    def __init__(self, seed: Seed, image_shape: Sequence[int] | None) -> None:
        name = type(self).__name__
        self._rng = None if seed is None else resolve_rng(seed, name)
        if image_shape is not None:
            image_shape = tuple(int(d) for d in image_shape)
            if len(image_shape) < 2 or min(image_shape) < 1:
                raise ValueError(f"{name}: image_shape must be (H, W) or (C, H, W) of positive "
                                 f"sizes, got {image_shape}")
        self.image_shape = image_shape

    def _generator(self) -> np.random.Generator:
        return self._rng if self._rng is not None else generator()

    def _images(self, x: Batch) -> tuple[tuple[int, ...], np.ndarray]:
        """The batch's shape, and the batch as (N, ..., H, W) images (a view, never a copy)."""
        name = type(self).__name__
        array = to_numpy(x, name, "x")
        if self.image_shape is None:
            if array.ndim < 3:
                raise ValueError(f"{name}: expected a batch of images (N, H, W) or (N, C, H, W), "
                                 f"got shape {array.shape}; pass image_shape=(H, W) for "
                                 "flattened images")
            return array.shape, array
        if array.ndim < 1 or int(np.prod(array.shape[1:])) != int(np.prod(self.image_shape)):
            raise ValueError(f"{name}: a batch of shape {array.shape} does not hold images of "
                             f"shape {self.image_shape}")
        return array.shape, array.reshape(len(array), *self.image_shape)


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left-right with probability p (for data whose labels survive a mirror).

    >>> flip = RandomHorizontalFlip(p=1.0)
    >>> flip(np.arange(6.0).reshape(1, 2, 3)).tolist()
    [[[2.0, 1.0, 0.0], [5.0, 4.0, 3.0]]]
    """

    def __init__(
        self, p: float = 0.5, image_shape: Sequence[int] | None = None, seed: Seed = None
    ) -> None:
        if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        super().__init__(seed, image_shape)
        self.p = float(p)

    def __call__(self, x: Batch) -> Batch:
        shape, images = self._images(x)
        flip = self._generator().random(len(images)) < self.p
        out = images.copy()
        out[flip] = images[flip][..., ::-1]
        return like_input(out.reshape(shape), x)


class RandomShift(_RandomTransform):
    """Move each image by a random whole number of pixels in [-max_shift, max_shift] on both axes.

    Pixels shifted in from outside take the value `fill` (0, the background of MNIST-like
    digits). Small shifts teach a network that position does not change the class.

    >>> shift = RandomShift(max_shift=1, seed=0)
    >>> shift(np.ones((4, 5, 5))).shape
    (4, 5, 5)
    """

    def __init__(
        self,
        max_shift: int = 2,
        image_shape: Sequence[int] | None = None,
        fill: float = 0.0,
        seed: Seed = None,
    ) -> None:
        if not isinstance(max_shift, numbers.Integral) or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        super().__init__(seed, image_shape)
        self.max_shift = int(max_shift)
        self.fill = fill

    def __call__(self, x: Batch) -> Batch:
        shape, images = self._images(x)
        height, width = images.shape[-2:]
        if self.max_shift >= min(height, width):
            raise ValueError(f"RandomShift: max_shift={self.max_shift} must be smaller than the "
                             f"image size {height}x{width}")
        k = self.max_shift
        n = len(images)
        if n == 0:
            return like_input(images.reshape(shape).copy(), x)
        shifts = self._generator().integers(-k, k + 1, size=(n, 2))
        # Pad every image by k pixels of fill, then cut each image's window at offset
        # (k - dy, k - dx): the window shows the image moved down by dy and right by dx.
        # One gather for the whole batch instead of a loop over images.
        flat = images.reshape(n, -1, height, width)  # any channel axes folded into one
        padded = np.pad(flat, ((0, 0), (0, 0), (k, k), (k, k)), constant_values=self.fill)
        windows = sliding_window_view(padded, (height, width), axis=(2, 3))
        out = windows[np.arange(n), :, k - shifts[:, 0], k - shifts[:, 1]]
        return like_input(out.reshape(shape), x)


class GaussianNoise:
    """Add independent N(0, std^2) noise to every value (noise injection); optional clipping.

    Works on any float batch shape. `clip=(0.0, 1.0)` keeps pixel intensities in range.

    >>> noisy = GaussianNoise(std=0.1, seed=0)(np.zeros((2, 3), np.float32))
    >>> noisy.shape, str(noisy.dtype)
    ((2, 3), 'float32')
    """

    def __init__(
        self, std: float = 0.1, clip: tuple[float, float] | None = None, seed: Seed = None
    ) -> None:
        self.std = check_non_negative(std, "GaussianNoise", "std")
        if clip is not None and not (len(clip) == 2 and clip[0] <= clip[1]):
            raise ValueError(f"GaussianNoise: clip must be (low, high) with low <= high, "
                             f"got {clip!r}")
        self.clip = clip
        self._rng = None if seed is None else resolve_rng(seed, "GaussianNoise")

    def __call__(self, x: Batch) -> Batch:
        array = to_numpy(x, "GaussianNoise", "x")
        if array.dtype not in (np.float32, np.float64):
            raise TypeError(f"GaussianNoise: expected a float32 or float64 batch, "
                            f"got {array.dtype}")
        rng = self._rng if self._rng is not None else generator()
        out = array + self.std * rng.standard_normal(array.shape, dtype=array.dtype)
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return like_input(out, x)


class Compose:
    """Apply transforms one after the other: Compose([RandomShift(2, (28, 28)), GaussianNoise()]).

    >>> Compose([lambda b: b + 1, lambda b: b * 2])(np.zeros(2)).tolist()
    [2.0, 2.0]
    """

    def __init__(self, transforms: Sequence[Callable[[Batch], Batch]]) -> None:
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")
        self.transforms = transforms

    def __call__(self, x: Batch) -> Batch:
        for transform in self.transforms:
            x = transform(x)
        return x

"""Augmentation: flips, shifts and noise do what they say, are seeded, and work in the loader."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.data import (
    Compose,
    DataLoader,
    GaussianNoise,
    RandomHorizontalFlip,
    RandomShift,
)


def _images(n=16, h=6, w=5):
    """Images whose pixels are all different (1..h*w), so a flip or shift is identifiable."""
    base = np.arange(1, h * w + 1, dtype=np.float32).reshape(h, w)
    return np.stack([base * (k + 1) for k in range(n)])


def test_flip_with_p_one_mirrors_every_image_and_p_zero_none():
    x = _images()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)


def test_flip_mirrors_about_half_the_images_and_leaves_the_input_untouched():
    x = _images(n=2000, h=2, w=3)
    original = x.copy()
    out = RandomHorizontalFlip(p=0.5, seed=0)(x)
    np.testing.assert_array_equal(x, original)
    flipped = np.all(out == x[..., ::-1], axis=(1, 2))
    kept = np.all(out == x, axis=(1, 2))
    assert np.all(flipped ^ kept)
    assert 0.45 < flipped.mean() < 0.55


def test_flattened_images_need_and_use_image_shape():
    x = _images(n=8, h=4, w=4)
    flat = x.reshape(8, 16)
    out = RandomHorizontalFlip(p=1.0, image_shape=(4, 4))(flat)
    assert out.shape == (8, 16)
    np.testing.assert_array_equal(out.reshape(8, 4, 4), x[..., ::-1])
    with pytest.raises(ValueError, match="image_shape"):
        RandomHorizontalFlip()(flat)
    with pytest.raises(ValueError, match="does not hold images"):
        RandomHorizontalFlip(image_shape=(3, 3))(flat)


def test_flip_handles_channels_first_images():
    x = np.stack([_images(n=4), -_images(n=4)], axis=1)  # (N, C, H, W)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])


def _shift_of(original, shifted, k):
    """The (dy, dx) within [-k, k] that turns original into shifted with zero fill, or None."""
    h, w = original.shape
    for dy in range(-k, k + 1):
        for dx in range(-k, k + 1):
            candidate = np.zeros_like(original)
            candidate[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \
                original[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
            if np.array_equal(candidate, shifted):
                return dy, dx
    return None


def test_every_shifted_image_is_its_original_moved_at_most_max_shift_pixels():
    x = _images(n=200)
    out = RandomShift(max_shift=2, seed=0)(x)
    shifts = [_shift_of(x[i], out[i], 2) for i in range(len(x))]
    assert None not in shifts
    assert len(set(shifts)) == 25  # all (dy, dx) pairs occur over 200 images


def test_shift_by_zero_is_the_identity_and_fill_sets_uncovered_pixels():
    x = _images()
    np.testing.assert_array_equal(RandomShift(max_shift=0)(x), x)
    out = RandomShift(max_shift=1, fill=-1.0, seed=1)(x)
    assert np.all((out == -1.0) | (out > 0))
    with pytest.raises(ValueError, match="smaller than the image"):
        RandomShift(max_shift=5)(x)


def test_noise_has_the_requested_standard_deviation_and_keeps_dtype():
    x = np.zeros((200, 500), dtype=np.float32)
    out = GaussianNoise(std=0.3, seed=0)(x)
    assert out.dtype == np.float32 and not np.shares_memory(out, x)
    assert abs(out.mean()) < 0.003 and abs(out.std() - 0.3) < 0.003
    clipped = GaussianNoise(std=1.0, clip=(0.0, 1.0), seed=0)(x + 0.5)
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0
    with pytest.raises(TypeError, match="float32 or float64"):
        GaussianNoise()(np.zeros(3, dtype=np.uint8))


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: RandomHorizontalFlip(seed=seed),
        lambda seed: RandomShift(2, seed=seed),
        lambda seed: GaussianNoise(0.1, seed=seed),
    ],
)
def test_transforms_are_reproducible_by_seed_and_by_manual_seed(make):
    x = _images()
    a, b = make(5), make(5)
    np.testing.assert_array_equal(a(x), b(x))
    np.testing.assert_array_equal(a(x), b(x))  # the second calls agree too
    tg.manual_seed(7)
    c = make(None)(x)
    tg.manual_seed(7)
    np.testing.assert_array_equal(make(None)(x), c)


def test_tensor_batches_come_back_as_tensors():
    out = Compose([RandomShift(1, seed=0), GaussianNoise(0.1, seed=0)])(tg.Tensor(_images()))
    assert isinstance(out, tg.Tensor) and out.shape == (16, 6, 5)


def test_augmentation_inside_the_loader_changes_x_keeps_y_and_is_reproducible():
    X = _images(n=50, h=4, w=4).reshape(50, 16)
    y = np.arange(50)

    def epoch():
        transform = Compose([RandomHorizontalFlip(p=1.0, image_shape=(4, 4)),
                             GaussianNoise(0.01, seed=3)])
        return [(xb.numpy(), yb.numpy()) for xb, yb in
                DataLoader((X, y), batch_size=16, shuffle=True, seed=2, transform=transform)]

    first, second = epoch(), epoch()
    for (xa, ya), (xb, yb) in zip(first, second, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
        mirrored = X[ya].reshape(-1, 4, 4)[..., ::-1].reshape(-1, 16)
        np.testing.assert_allclose(xa, mirrored, atol=0.1)


def test_shift_moves_all_channels_of_an_image_together():
    x = np.stack([_images(n=30), 100.0 + _images(n=30)], axis=1)  # (N, C, H, W)
    out = RandomShift(max_shift=1, seed=4)(x)
    for i in range(30):
        shift = _shift_of(x[i, 0], out[i, 0], 1)
        assert shift is not None
        assert _shift_of(x[i, 1], out[i, 1], 1) == shift


def test_empty_batches_pass_through():
    assert RandomShift(1)(np.zeros((0, 5, 5))).shape == (0, 5, 5)
    assert RandomHorizontalFlip(image_shape=(5, 5))(np.zeros((0, 25))).shape == (0, 25)

"""DataLoader overhead: one epoch of a 60,000 x 784 float32 set at batch 128 vs bare numpy.

The baseline is the course's recipe written by hand: one permutation, then X[p[i:i+b]],
y[p[i:i+b]] per batch. The loader does the same gathering plus its bookkeeping and the
Tensor wrapping; the difference is the loader's overhead (target: well under 50 ms an
epoch). Run: python benchmarks/bench_data.py [--epochs N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinygrad_c2.data import (
    DataLoader,
    Dataset,
    GaussianNoise,
    RandomHorizontalFlip,
    RandomShift,
)

M, FEATURES, BATCH = 60_000, 784, 128


def numpy_batches(X: np.ndarray, y: np.ndarray, rng: np.random.Generator):
    """The hand-written baseline: shuffle, then partition."""
    permutation = rng.permutation(len(X))
    for start in range(0, len(X), BATCH):
        index = permutation[start:start + BATCH]
        yield X[index], y[index]


def consume(batches) -> None:
    """Run through an epoch the way training does: each batch is dropped after its step."""
    for _ in batches:
        pass


def check_agreement(X: np.ndarray, y: np.ndarray) -> None:
    """Same seed, same batches: the loader is the baseline plus Tensors."""
    expected = numpy_batches(X, y, np.random.default_rng(0))
    got = DataLoader((X, y), batch_size=BATCH, shuffle=True, seed=0)
    count = 0
    for (xb, yb), (xe, ye) in zip(got, expected, strict=True):
        assert np.array_equal(yb.numpy(), ye) and np.array_equal(xb.numpy(), xe)
        count += 1
    assert count == len(got) == 469


def time_ms(run, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return times


class RowDataset(Dataset):
    """A map-style data set with one __getitem__ call per example (the slow generic path)."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.int64]:
        return self.X[i], self.y[i]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="timed epochs per variant")
    args = parser.parse_args()

    data_rng = np.random.default_rng(0)
    X = data_rng.random((M, FEATURES), dtype=np.float32)
    y = data_rng.integers(0, 10, size=M)
    check_agreement(X, y)
    print("agreement: DataLoader(shuffle=True, seed=0) yields exactly the numpy baseline's "
          "469 batches")

    baseline_rng = np.random.default_rng(1)
    loader = DataLoader((X, y), batch_size=BATCH, shuffle=True, seed=1)
    baseline, ours = [], []
    for _ in range(args.epochs):  # interleaved, so both see the same machine state
        baseline += time_ms(lambda: consume(numpy_batches(X, y, baseline_rng)), 1)
        ours += time_ms(lambda: consume(loader), 1)
    base_ms, ours_ms = statistics.median(baseline), statistics.median(ours)
    overhead = ours_ms - base_ms

    print(f"\none epoch, {M} x {FEATURES} float32, batch {BATCH} (median of {args.epochs}):")
    print(f"  numpy permutation + slicing   {base_ms:7.1f} ms")
    print(f"  DataLoader (shuffle)          {ours_ms:7.1f} ms   ratio {ours_ms / base_ms:.2f}")
    print(f"  loader overhead               {overhead:7.1f} ms   "
          f"({overhead / len(loader) * 1e3:.1f} us per batch; target < 50 ms: "
          f"{'met' if overhead < 50.0 else 'MISSED'})")

    unshuffled = DataLoader((X, y), batch_size=BATCH, shuffle=False)
    plain = statistics.median(time_ms(lambda: consume(unshuffled), 5))
    print(f"  DataLoader (shuffle=False)    {plain:7.1f} ms   (copies, no gathering)")

    for name, transform in [
        ("+ RandomHorizontalFlip", RandomHorizontalFlip(image_shape=(28, 28), seed=0)),
        ("+ RandomShift(2)", RandomShift(2, image_shape=(28, 28), seed=0)),
        ("+ GaussianNoise(0.05)", GaussianNoise(0.05, seed=0)),
    ]:
        augment = DataLoader((X, y), batch_size=BATCH, shuffle=True, seed=1,
                             transform=transform)
        augmented = statistics.median(time_ms(lambda: consume(augment), 3))  # noqa: B023
        print(f"  {name:<29} {augmented:7.1f} ms   (augmentation included)")

    rows = DataLoader(RowDataset(X, y), batch_size=BATCH, shuffle=True, seed=1)
    generic = statistics.median(time_ms(lambda: consume(rows), 3))
    print(f"  user Dataset, per-example     {generic:7.1f} ms   (why (X, y) arrays are preferred)")


if __name__ == "__main__":
    main()

"""What a `Tensor.__getattr__` would cost: attribute reads and a tiny MLP training step, with and
without a `__getattr__` on the class (installed and removed at run time, blocks interleaved
A B A B ... so machine noise hits both alike; CPU time, medians over blocks).

Why it matters: CPython 3.11 specialises `t._data` (a slot) and `t.shape` (a property) only
for classes whose attribute hook is the generic one; any `__getattr__` swaps in
slot_tp_getattr_hook for every read, found or not.

    python benchmarks/bench_tensor_getattr.py [--blocks 7]
    valgrind --tool=callgrind python benchmarks/bench_tensor_getattr.py --once with --steps N

(--once with|without; the difference in instructions between --steps 300 and 100 is 200
steps' worth, free of the start-up)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn


def _hook(self: tg.Tensor, name: str) -> object:
    raise AttributeError(name)


def install(on: bool) -> None:
    if on:
        tg.Tensor.__getattr__ = _hook  # type: ignore[attr-defined]
    elif "__getattr__" in vars(tg.Tensor):
        del tg.Tensor.__getattr__


def workloads() -> dict[str, tuple[Callable[[], object], int]]:
    """name -> (one call, calls per block)."""
    gen = np.random.default_rng(0)
    t = tg.tensor(gen.standard_normal((4, 4)))

    def read_data() -> None:
        for _ in range(1000):
            t._data  # noqa: B018

    def read_shape() -> None:
        for _ in range(1000):
            t.shape  # noqa: B018

    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = tg.optim.SGD(model.parameters(), lr=0.01)
    X = tg.tensor(gen.standard_normal((16, 20)).astype(np.float32))
    y = tg.tensor(gen.integers(0, 10, 16))
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()

    return {"1000 x t._data": (read_data, 200), "1000 x t.shape": (read_shape, 100),
            "MLP step (20-32-10, batch 16, CE, SGD)": (step, 300)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--once", choices=["with", "without"],
                        help="run only the MLP step, --steps times, in one state (for callgrind)")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    cases = workloads()
    if args.once:
        install(args.once == "with")
        step, _ = cases["MLP step (20-32-10, batch 16, CE, SGD)"]
        for _ in range(args.steps):
            step()
        return
    times: dict[tuple[str, bool], list[float]] = {}
    for _ in range(args.blocks):
        for on in (False, True):
            install(on)
            for name, (fn, n) in cases.items():
                start = time.process_time()
                for _ in range(n):
                    fn()
                times.setdefault((name, on), []).append((time.process_time() - start) / n)
    install(False)
    for name in cases:
        without = statistics.median(times[(name, False)])
        with_hook = statistics.median(times[(name, True)])
        print(f"{name:40s} without {without * 1e6:9.2f} us  with __getattr__ "
              f"{with_hook * 1e6:9.2f} us  ({(with_hook / without - 1) * 100:+.1f}%)")


if __name__ == "__main__":
    main()

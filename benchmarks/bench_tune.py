"""`tinygrad-c2 tune`'s search: in this process vs 2 pool workers, with and without the BLAS limit.

The same random search of the train command's MLP on digits runs three ways: here, one trial
after the other; on the search's own pool of 2 workers (`workers=2`: each worker's BLAS on
one thread); and on a pool of 2 workers whose BLAS keeps its default of one thread per core
(`process_executor(2, blas_threads=None)`), which is what `--workers 2` used to do. The
three tables must be identical (same seed, same configs, same metrics); then the wall-clock
ratios are printed. Without the limit, each worker starts a BLAS thread per core, so two
workers put twice as many busy threads on the cores as there are cores.
Run: python benchmarks/bench_tune.py [--trials N] [--epochs E]
"""

from __future__ import annotations

import argparse
import os
import time

from tinygrad_c2 import cli as main_cli
from tinygrad_c2.tune import process_executor, random_search
from tinygrad_c2.tune.cli import TrainObjective


def objective(epochs: int) -> tuple[TrainObjective, dict]:
    """The tune command's objective on digits and the space it searches (lr and width)."""
    argv = ["tune", "--dataset", "digits", "--epochs", str(epochs), "--early-stopping", "0",
            "--lr", "log:1e-4:1e-1", "--hidden", "int:32:256", "--no-progress", "--no-plots"]
    args = main_cli.build_parser().parse_args(argv)
    return TrainObjective(args), {"lr": args.lr, "hidden": args.hidden}


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def comparable(result) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "duration"} for r in result.records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    flags = parser.parse_args()
    train, space = objective(flags.epochs)
    search = {"objective": train, "space": space, "n_trials": flags.trials, "seed": 0,
              "metric": "dev_accuracy", "mode": "max", "progress": False}

    here_s, here = timed(lambda: random_search(**search))
    limited_s, limited = timed(lambda: random_search(**search, workers=2))
    with process_executor(2, blas_threads=None) as pool:
        unlimited_s, unlimited = timed(lambda: random_search(**search, executor=pool))
    assert comparable(limited) == comparable(here) == comparable(unlimited), "tables differ"
    assert not here.failed

    print(f"{flags.trials} trials of {flags.epochs} epochs on digits (hidden 32..256), "
          f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}); the three tables "
          "are identical")
    print(f"  in this process                    {here_s:6.1f} s   1.00x")
    print(f"  2 workers, 1 BLAS thread each      {limited_s:6.1f} s   "
          f"{here_s / limited_s:.2f}x faster than in-process")
    print(f"  2 workers, BLAS default threads    {unlimited_s:6.1f} s   "
          f"{here_s / unlimited_s:.2f}x")
    print(f"  the limit makes the pool {unlimited_s / limited_s:.2f}x faster")


if __name__ == "__main__":
    main()

"""Objectives for tests and examples, at module level so worker processes can import them.

A process pool or a Dask worker receives the objective by reference (module and name), so
it must live in an importable module, not in a test file or a lambda.
"""

from __future__ import annotations

import math
import os
import signal
import time
from pathlib import Path

import numpy as np

__all__ = ["bowl", "bowl_killing_its_worker", "bowl_sometimes_fails", "lr_only_surface",
           "slow_bowl"]


def bowl(config: dict) -> dict:
    """A noisy bowl with its minimum at lr = 1e-2, x = 0.3; the noise comes from config['seed'].

    The noise proves that each trial receives its own seed: a reproducible search reproduces it.

    >>> bowl({"lr": 1e-2, "x": 0.3, "seed": 0})["dev_loss"] < 1e-2
    True
    """
    noise = np.random.default_rng(config["seed"]).normal(0.0, 1e-3)
    loss = (math.log10(config["lr"]) + 2.0) ** 2 + (config.get("x", 0.3) - 0.3) ** 2
    return {"dev_loss": loss + noise, "train_loss": loss, "noise": noise}


def bowl_sometimes_fails(config: dict) -> dict:
    """`bowl`, but raises for x > 0.7 (a diverged or crashed trial).

    >>> bowl_sometimes_fails({"lr": 1e-2, "x": 0.8, "seed": 0})
    Traceback (most recent call last):
    ...
    FloatingPointError: training diverged at x=0.8
    """
    if config["x"] > 0.7:
        raise FloatingPointError(f"training diverged at x={config['x']}")
    return bowl(config)


def bowl_killing_its_worker(config: dict) -> dict:
    """`bowl`, but the trial whose seed is config['kill_seed'] SIGKILLs its own process, as
    the out-of-memory killer would: every time, or only the first time if config['markers']
    names a folder (the kill leaves a marker file there, so a retry succeeds).

    >>> bowl_killing_its_worker({"lr": 1e-2, "seed": 0, "kill_seed": 1})["dev_loss"] < 1e-2
    True
    """
    if config["seed"] == config["kill_seed"]:
        marker = Path(config["markers"]) / f"killed-{config['seed']}" \
            if config.get("markers") else None
        if marker is None or not marker.exists():
            if marker is not None:
                marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
    return bowl(config)


def slow_bowl(config: dict) -> dict:
    """`bowl` after a short sleep that depends on the trial seed, so parallel trials finish
    out of order (results must not depend on that order)."""
    time.sleep((config["seed"] % 7) * 0.005)
    return bowl(config)


def lr_only_surface(config: dict, best_lr: float = 10**-1.7) -> dict:
    """An analytic dev loss where only the learning rate matters (the course's grid argument).

    dev_loss = (log10 lr - log10 best_lr)^2 + 1e-4 * (log10 eps + 8)^2: Adam's eps (in
    1e-10..1e-6) barely moves it, as in the course's "alpha versus epsilon" picture.

    >>> round(lr_only_surface({"lr": 10**-1.7, "eps": 1e-8})["dev_loss"], 12)
    0.0
    """
    lr_term = (math.log10(config["lr"]) - math.log10(best_lr)) ** 2
    eps_term = 1e-4 * (math.log10(config.get("eps", 1e-8)) + 8.0) ** 2
    return {"dev_loss": lr_term + eps_term}


def report_blas_threads(config: dict) -> dict:
    """The threads of the process that runs the trial (after a matrix product, so BLAS has
    started its pool) and the BLAS thread variables it sees; Linux only (reads /proc)."""
    a = np.ones((256, 256))
    a @ a
    threads = len(os.listdir("/proc/self/task"))
    return {"dev_loss": 0.0, "threads": threads,
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS")}

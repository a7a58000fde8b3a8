"""Where trials run: in the calling process, a local process pool, or a Dask cluster.

A search takes any `concurrent.futures.Executor`; these helpers build the two usual ones.
Objectives sent to other processes must be picklable: a function defined at module level
in a module the workers can import (not a lambda, not a function defined in `__main__` of
an interactive session).
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import SpawnContext, SpawnProcess
from time import perf_counter
from typing import Any

import numpy as np

__all__ = ["BLAS_THREAD_VARIABLES", "dask_executor", "process_executor", "run_trial"]

BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that OpenBLAS, OpenMP and MKL read, once, when numpy loads them."""


def _plain(value: Any) -> Any:
    """numpy scalars and arrays -> Python numbers and lists, so records pickle and serialize."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def run_trial(objective: Callable[[dict], Mapping], config: dict) -> dict:
    """Call `objective(config)` and report metrics, error, traceback and duration.

    This is the function that executors run: module-level so process pools and Dask can
    pickle it by reference. An exception becomes the trial's error instead of propagating,
    so one bad trial never stops a search.

    >>> run_trial(lambda c: {"dev_loss": c["x"] ** 2}, {"x": 3.0})["metrics"]
    {'dev_loss': 9.0}
    >>> run_trial(lambda c: 1 / 0, {})["error"]
    'ZeroDivisionError: division by zero'
    """
    start = perf_counter()
    metrics: dict = {}
    error = trace = None
    try:
        out = objective(dict(config))  # a copy: an objective that edits its config changes nothing
        if not isinstance(out, Mapping):
            raise TypeError("the objective must return a dict of metrics, "
                            f"got {type(out).__name__}")
        metrics = _plain(out)
    except Exception as exc:  # a failing trial is recorded, not fatal
        error = f"{type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
    return {"metrics": metrics, "error": error, "traceback": trace,
            "duration": perf_counter() - start}


_ENVIRON_LOCK = threading.Lock()


class _SpawnProcessWithEnvironment(SpawnProcess):
    """A "spawn" worker process started with extra environment variables."""

    environment: Mapping[str, str] = {}

    @staticmethod
    def _Popen(process_obj: _SpawnProcessWithEnvironment) -> Any:
        # NOTE: a spawned child inherits the environment at the moment it is started, and BLAS
        # reads its thread count when numpy loads, which happens in the worker before any
        # initializer runs (it unpickles its task function, importing tinygrad_c2 and numpy).
        # So the variables are set in this process just while the child is started, then put
        # back; the lock keeps two pools from interleaving their changes.
        with _ENVIRON_LOCK:
            saved = {name: os.environ.get(name) for name in process_obj.environment}
            os.environ.update(process_obj.environment)
            try:
                return SpawnProcess._Popen(process_obj)
            finally:
                for name, value in saved.items():
                    if value is None:
                        del os.environ[name]
                    else:
                        os.environ[name] = value


class _SpawnContextWithEnvironment(SpawnContext):
    """The "spawn" start method, with `environment` set in every worker it starts."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)

    def Process(self, *args: Any, **kwargs: Any) -> _SpawnProcessWithEnvironment:  # noqa: N802
        process = _SpawnProcessWithEnvironment(*args, **kwargs)
        process.environment = self.environment
        return process


def process_executor(workers: int, blas_threads: int | None = 1) -> ProcessPoolExecutor:
    """A pool of `workers` processes on this machine (use it in a `with` block).

    Uses the "spawn" start method on every platform: workers start clean (no copy of the
    parent's threads or locks), as on macOS and Windows; the objective is imported there.
    Each worker's BLAS uses `blas_threads` threads (None: the BLAS default, one per core), so
    N workers keep to N cores instead of each starting a thread per core and fighting over
    them (`BLAS_THREAD_VARIABLES` are set in the workers' environment; this process's are
    left alone).

    >>> with process_executor(1) as pool:
    ...     pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result()
    '1'
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"process_executor: workers must be an integer >= 1, got {workers!r}")
    if blas_threads is not None and (isinstance(blas_threads, bool)
                                     or not isinstance(blas_threads, int) or blas_threads < 1):
        raise ValueError("process_executor: blas_threads must be an integer >= 1 or None, "
                         f"got {blas_threads!r}")
    limits = {} if blas_threads is None else dict.fromkeys(BLAS_THREAD_VARIABLES,
                                                          str(blas_threads))
    return ProcessPoolExecutor(max_workers=workers,
                               mp_context=_SpawnContextWithEnvironment(limits))


@contextmanager
def dask_executor(address: str | None = None, **client_kwargs: Any) -> Iterator[Executor]:
    """Connect to a Dask scheduler and yield its `concurrent.futures` executor.

    `address` is the scheduler's, e.g. "tcp://10.0.0.5:8786" (start one with
    `dask scheduler` and `dask worker tcp://...` on each machine); None starts a local
    cluster. The client is closed when the block ends. Needs the optional extra:
    `pip install "tinygrad_c2[distributed]"`. Tasks are submitted with pure=False, so a
    repeated search runs again instead of reusing cached results.
    """
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError('dask_executor: Dask is not installed; install the optional extra '
                          'with pip install "tinygrad_c2[distributed]"') from exc
    client = Client(address, **client_kwargs)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()

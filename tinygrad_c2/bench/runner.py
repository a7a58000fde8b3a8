"""Running the benchmark: one fresh subprocess per BLAS thread count, its results as JSON.

Every thread count gets its own process with the thread environment (``thread_environment``)
set before numpy, OpenBLAS, torch and OpenMP start: numpy's OpenBLAS pool and torch's intra-op
OpenMP pool (and MKL inside it) get the same number of threads, and OpenMP's idle threads
sleep instead of spinning (see the NOTE there).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .implementation import IMPLEMENTATIONS, LEARNING_RATES, available
from .measure import rss
from .timing import bench_workload, check_blocks
from .workloads import WORKLOADS


def thread_environment(threads: int) -> dict[str, str]:
    """The environment variables that give every thread pool of a benchmark process
    ``threads`` threads, with idle OpenMP threads that sleep.

    NOTE: the worker threads of libgomp (torch's intra-op pool, MKL inside it) busy-wait for
    the next parallel region by default. On 2 cores shared with other processes the spinning
    worker takes the core the main thread needs: measured at load 7-9, torch's lstm step at 2
    threads took 243 ms (86 ms of CPU) with the default policy and 38 ms (12 ms of CPU) with
    PASSIVE, and 476 ms vs 15 ms next to numpy's pool in the same process (1 thread: 31 ms).
    OpenBLAS (numpy) has no such switch that paid: OPENBLAS_THREAD_TIMEOUT=4 (its shortest
    idle spin) made the 2-thread lstm reference step slower, not faster (1.5-3.2 s vs
    0.8-2.9 s at load 11-15), so it is not set. What no setting removes: a 2-thread product
    waits inside the product for its partner thread, so on a busy machine (load average above
    the idle cores) the 2-thread figures measure the scheduler (report.py says so).

    >>> thread_environment(2)["OMP_WAIT_POLICY"]
    'PASSIVE'
    """
    n = str(threads)
    return {"OPENBLAS_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OMP_WAIT_POLICY": "PASSIVE"}


def _worker(config: dict) -> dict:
    """Run every (workload, dtype) of ``config`` in this process; threads are already set."""
    threads = config.get("threads")
    if threads and "torch" in config["implementations"] and available("torch") is None:
        import torch

        torch.set_num_threads(threads)
    rows, load_before = [], _load_average()
    for name in config["workloads"]:
        for dtype in config["dtypes"]:
            if config.get("progress"):
                print(f"bench: {name} {dtype} threads={threads}", file=sys.stderr, flush=True)
            rows += bench_workload(WORKLOADS[name], dtype, config["implementations"],
                                   config["quick"], config["optimizer"], config["blocks"],
                                   threads=threads, block_seconds=config["block_seconds"])
    return {"rows": rows, "process": {"threads": threads, **rss(), "load_before": load_before,
                                      "load_after": _load_average()}}


def worker_main() -> None:
    """Entry point of a benchmark subprocess: config JSON in argv[1], results JSON on stdout."""
    result = _worker(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result))


def _run_in_subprocess(config: dict) -> dict:
    threads = config["threads"]
    env = dict(os.environ, **thread_environment(threads))
    package_parent = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    code = "from tinygrad_c2.bench.runner import worker_main; worker_main()"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(config)], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench: the threads={threads} worker failed (exit {proc.returncode}); "
                           "its error is printed above")
    return json.loads(proc.stdout)


def run(
    workloads: Sequence[str] = tuple(WORKLOADS),
    dtypes: Sequence[str] = ("float32", "float64"),
    threads: Sequence[int] | None = (1, 2),
    quick: bool = False,
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    blocks: int = 5,
    progress: bool = False,
    block_seconds: float | None = None,
) -> dict:
    """Run the benchmark; returns ``{"meta": ..., "rows": [...], "processes": [...]}``.

    ``threads=None`` runs in this process with its current BLAS threads; otherwise each thread
    count gets a fresh subprocess with ``thread_environment`` set before numpy loads.
    ``block_seconds`` is a block's length (default 1 s, 0.1 s for a quick run).
    """
    for name in workloads:
        if name not in WORKLOADS:
            raise ValueError(f"bench: unknown workload {name!r}, expected one of {list(WORKLOADS)}")
    for name in implementations:
        if name not in IMPLEMENTATIONS:
            raise ValueError(f"bench: unknown implementation {name!r}, "
                             f"expected one of {IMPLEMENTATIONS}")
    config = {"workloads": list(workloads), "dtypes": list(dtypes), "quick": quick,
              "implementations": list(implementations), "optimizer": optimizer,
              "blocks": blocks, "progress": progress,
              "block_seconds": check_blocks(blocks, block_seconds, quick)}
    load_before = _load_average()
    if threads is None:
        results = [_worker({**config, "threads": None})]
    else:
        results = [_run_in_subprocess({**config, "threads": n}) for n in threads]
    return {
        "meta": {**_meta(config, threads), "load_before": load_before,
                 "load_after": _load_average()},
        "rows": [row for result in results for row in result["rows"]],
        "processes": [result["process"] for result in results],
    }


def _load_average() -> float | None:
    """The 1-minute load average: above 0.5 or so, other processes share the CPUs."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _meta(config: dict, threads: Sequence[int] | None) -> dict:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        **config,
        "threads": None if threads is None else list(threads),
        "thread_environment": {str(n): thread_environment(n) for n in threads or ()},
        "workload_specs": {name: asdict(WORKLOADS[name]) for name in config["workloads"]},
        "learning_rate": LEARNING_RATES[config["optimizer"]],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "torch": torch_version,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }

"""The timing method: agree first, warm up, then interleaved blocks of steps (A B C A B C).

``bench_workload`` times one workload in this process and returns one row per implementation;
the columns are explained in ``report.format_table``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

from .implementation import IMPLEMENTATIONS, Implementation
from .measure import held_bytes, minor_faults, peak_step_memory, tinygrad_scratch
from .workloads import build_implementations


class AgreementError(AssertionError):
    """An implementation computed a different loss, gradient or update than the reference."""


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1e-300)
    return float(np.linalg.norm(a - b)) / scale


def check_agreement(impls: Sequence[Implementation], dtype: np.dtype, seed: int = 7) -> None:
    """Raise AgreementError unless every implementation matches the reference's step."""
    base = next(impl for impl in impls if impl.name == "reference")
    J, grads, params = base.agree(seed)
    tol = 1e-10 if dtype == np.float64 else 1e-5  # on the loss; 10 * tol on arrays
    for impl in impls:
        if impl is base or not impl.checks_agreement:
            continue
        J2, grads2, params2 = impl.agree(seed)
        problems = []
        if abs(J2 - J) > tol * max(abs(J), 1e-12):
            problems.append(f"loss {J2!r} vs reference {J!r}")
        if len(grads2) != len(grads):
            problems.append(f"{len(grads2)} gradients vs the reference's {len(grads)}")
        for k, (g, g2) in enumerate(zip(grads, grads2, strict=False)):
            if g.shape != g2.shape:
                problems.append(f"gradient {k} has shape {g2.shape}, the reference's {g.shape}")
            elif _relative(g, g2) > 10 * tol:
                problems.append(f"gradient {k} {g.shape}: relative difference "
                                f"{_relative(g, g2):.2e}")
        if dtype == np.float64:  # float32 updates can differ where a gradient is ~0 (Adam)
            for k, (p, p2) in enumerate(zip(params, params2, strict=False)):
                if _relative(p, p2) > 10 * tol:
                    problems.append(f"parameter {k} after the update: relative difference "
                                    f"{_relative(p, p2):.2e}")
        if problems:
            raise AgreementError(f"bench: {impl.name} disagrees with the reference: "
                                 + "; ".join(problems))
    for impl in impls:
        impl.reset()


def time_block(step: Callable[[], None], seconds: float, min_steps: int = 5) -> list[float]:
    """Run ``step`` for at least ``seconds`` and ``min_steps`` steps; the time of each step."""
    clock = time.perf_counter
    times = []
    end = clock() + seconds
    while True:
        t0 = clock()
        step()
        t1 = clock()
        times.append(t1 - t0)
        if t1 >= end and len(times) >= min_steps:
            return times


def default_block_seconds(quick: bool) -> float:
    """A block's length: 1 s, or 0.1 s for a quick run."""
    return 0.1 if quick else 1.0


def check_blocks(blocks: int, block_seconds: float | None, quick: bool) -> float:
    """The block length to use; ValueError unless there is at least one block of some length."""
    if block_seconds is None:
        block_seconds = default_block_seconds(quick)
    if not (isinstance(blocks, int) and blocks >= 1 and block_seconds > 0):
        raise ValueError(f"bench: expected blocks >= 1 and block_seconds > 0, got blocks={blocks} "
                         f"and block_seconds={block_seconds}")
    return block_seconds


def bench_workload(
    workload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    quick: bool = False,
    optimizer: str = "sgd",
    blocks: int = 5,
    seed: int = 0,
    threads: int | None = None,
    timer: Callable[[Callable[[], None], float, int], list[float]] = time_block,
    block_seconds: float | None = None,
) -> list[dict]:
    """Time one workload in this process: agree first, warm up, interleaved blocks.

    Returns one row per implementation (see ``report.format_table`` for the columns);
    ``timer`` times one block (tests pass one that runs a single step and times nothing);
    ``block_seconds`` is a block's length (default ``default_block_seconds(quick)``).
    """
    block_seconds = check_blocks(blocks, block_seconds, quick)
    dtype = np.dtype(dtype)
    # each workload starts without the previous one's kernel buffers: what its steps hold is
    # its own (held KiB), and their first touch falls in the warm-up, not in a timed block
    tinygrad_scratch().clear()
    impls, skipped = build_implementations(workload, dtype, implementations, optimizer, seed)
    check_agreement(impls, dtype)

    # NOTE: a cnn or lstm step takes 10-40 ms, so 5 steps a block would make a quick run's
    # blocks several times their 0.1 s; 2 keep it a smoke run (the full run keeps 5)
    min_steps = 2 if quick else 5
    for impl in impls:
        timer(impl.step, block_seconds / 2, min_steps)
    times: dict[str, list[float]] = {impl.name: [] for impl in impls}
    faults = dict.fromkeys(times, 0)
    block_medians: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for _ in range(blocks):
        for impl in impls:
            impl.reset()
            # NOTE: a full collection costs ~150 ms with torch loaded: a quick run takes only
            # the young generations (what a block's own garbage lives in)
            gc.collect(1 if quick else 2)
            # NOTE: idle BLAS/OpenMP worker threads of the previous implementation may still
            # spin; with 2 threads on 2 cores they would steal this block's CPU time (the
            # subprocess also sets OMP_WAIT_POLICY=PASSIVE, see runner.thread_environment).
            time.sleep(block_seconds / 5)
            before = minor_faults()
            block = timer(impl.step, block_seconds, min_steps)
            faults[impl.name] += minor_faults() - before
            times[impl.name] += block
            block_medians[impl.name].append(statistics.median(block))
    # the peak of a step: what it holds between steps plus what it allocates on top
    held = {impl.name: held_bytes(impl, impl.baseline()) if impl.tracks_memory else None
            for impl in impls}
    memory = {impl.name: peak_step_memory(impl.step) + held[impl.name]
              if impl.tracks_memory else None for impl in impls}
    graph = {impl.name: impl.graph_bytes() for impl in impls}

    medians = {name: statistics.median(t) for name, t in times.items()}
    rows = []
    for impl in impls:
        name = impl.name
        # per round: this block's median over the reference's block of the same round
        ratios = [mine / ref for mine, ref in zip(block_medians[name],
                                                   block_medians["reference"], strict=True)]
        rows.append({
            "workload": workload.name, "dtype": dtype.name, "threads": threads,
            "impl": name, "median_us": medians[name] * 1e6,
            "block_min_us": min(block_medians[name]) * 1e6,
            "block_max_us": max(block_medians[name]) * 1e6,
            "steps": len(times[name]),
            "ratio_to_reference": medians[name] / medians["reference"],
            "ratio_block_min": min(ratios), "ratio_block_max": max(ratios),
            "gflops": workload.gemm_flops / medians[name] / 1e9,
            "ratio_to_gemm": (medians[name] / medians["gemm_floor"]
                              if "gemm_floor" in medians else None),
            "peak_step_kib": None if memory[name] is None else memory[name] / 1024,
            "held_kib": None if held[name] is None else held[name] / 1024,
            "faults_per_step": faults[name] / len(times[name]),
            "graph_kib": None if graph[name] is None else graph[name] / 1024,
        })
    for name, why in skipped.items():
        rows.append({"workload": workload.name, "dtype": dtype.name, "threads": threads,
                     "impl": name, "skipped": why})
    return rows

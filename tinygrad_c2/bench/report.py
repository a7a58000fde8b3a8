"""The benchmark's report: the full markdown table, the summary of ratios, the results files.

``format_table`` renders every row; ``format_summary`` the ratios to the hand-derived step
per workload and thread count (the issue's table); ``write_results`` writes both, with the
command and the machine, to ``results-<date>.md`` and the raw results to ``.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

NOISY_SPREAD = 1.25  # block medians further apart than this mean the machine was busy
SUMMARY_IMPLS = ("tinygrad_c2", "tinygrad_c2_captured", "torch", "gemm_floor")


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _threads(value) -> str:
    return "default" if value is None else str(value)


def _ratio(row: dict) -> str:
    """'1.12 (1.08–1.15)': the ratio of the medians and the min–max of the per-block ratios."""
    text = f"{row['ratio_to_reference']:.2f}"
    low, high = row.get("ratio_block_min"), row.get("ratio_block_max")
    if low is not None and high is not None:
        text += f" ({low:.2f}–{high:.2f})"
    return text


def _noisy(row: dict) -> str:
    return " ⚠" if row["block_max_us"] / row["block_min_us"] > NOISY_SPREAD else ""


def _busy(proc: dict, cpus: int | None) -> str:
    """A warning when other processes wanted the cores a thread count needs idle.

    >>> _busy({"threads": 2, "load_before": 3.1, "load_after": 2.0}, 2)[:40]
    ' ⚠ load average 3.10 before and 2.00 aft'
    """
    threads, loads = proc.get("threads"), [proc.get("load_before"), proc.get("load_after")]
    if threads is None or cpus is None or None in loads:
        return ""
    # NOTE: the benchmark's own process counts about 1 in the load average
    if max(loads) <= cpus - threads + 1:
        return ""
    return (f" ⚠ load average {loads[0]:.2f} before and {loads[1]:.2f} after on {cpus} CPUs: "
            f"other processes wanted the cores {threads} thread(s) need; a multi-threaded "
            f"product waits for its descheduled partner thread, so these figures measure the "
            f"machine's load more than the code (rerun on an idle machine).")


def format_table(results: dict) -> str:
    """The results as a markdown table (one row per workload, dtype, threads, implementation)."""
    header = ("| workload | dtype | threads | implementation | median µs | block medians µs "
              "| × reference | GFLOP/s | × GEMM floor | peak step KiB | held KiB "
              "| page faults/step | graph KiB |")
    lines = [header, "|" + "---|" * 13]
    for row in results["rows"]:
        start = (f"| {row['workload']} | {row['dtype']} | {_threads(row['threads'])} "
                 f"| {row['impl']} |")
        if "skipped" in row:
            lines.append(start + f" skipped: {row['skipped']} |" + " |" * 8)
            continue
        lines.append(
            start + f" {row['median_us']:.1f} | {row['block_min_us']:.1f}–{row['block_max_us']:.1f}"
            f"{_noisy(row)} | {_ratio(row)} | {row['gflops']:.2f}"
            f" | {_fmt(row['ratio_to_gemm'], '.2f')} | {_fmt(row['peak_step_kib'], '.0f')}"
            f" | {_fmt(row.get('held_kib'), '.0f')} | {_fmt(row.get('faults_per_step'), '.1f')}"
            f" | {_fmt(row.get('graph_kib'), '.0f')} |")
    cpus = results["meta"].get("cpus")
    for proc in results["processes"]:
        lines.append(f"\nProcess RSS (threads={_threads(proc['threads'])}): "
                     f"{_fmt(proc.get('rss_mib'), '.0f')} MiB, "
                     f"peak {_fmt(proc.get('peak_rss_mib'), '.0f')} MiB." + _busy(proc, cpus))
    lines.append("\n" + _footnote(results["meta"]))
    return "\n".join(lines)


def _footnote(meta: dict) -> str:
    method = (
        f"One step = forward, loss, backward, {meta['optimizer']} update (lr "
        f"{meta['learning_rate']}). Median of all timed steps over {meta['blocks']} "
        f"interleaved blocks of {meta['block_seconds']} s; 'block medians' is the min–max of "
        "the per-block medians; '× reference' is the ratio of the medians and, in brackets, "
        "the min–max of the per-round ratios (each round times every implementation once, one "
        f"after the other); ⚠ marks a block spread over {NOISY_SPREAD:.2f}× (something else "
        "was using the CPU: rerun on an idle machine). GFLOP/s counts only the matrix products.")
    memory = (
        "Held KiB: the arrays an implementation keeps between steps beyond its parameters and "
        "batch (gradients, optimizer state, running statistics, a captured program's buffers, "
        "caches; found by following its references). Peak step KiB: held plus what a "
        "steady-state step allocates at its peak on top (tracemalloc), i.e. the step's peak "
        "memory beyond parameters and batch; both are n/a for torch, whose allocator neither "
        "tracemalloc nor numpy sees. Page faults: minor faults (getrusage) per timed step. "
        "Graph KiB: the arrays one step's loss keeps alive before backward, leaves not "
        "counted (tinygrad_c2: its graph's saved arrays and held values; PyTorch: its "
        "autograd graph's saved tensors).")
    machine = (
        f"numpy {meta['numpy']} ({meta['blas']}), torch {meta['torch']}, "
        f"{meta.get('cpu') or '?'}, {meta['cpus']} CPUs, load average "
        f"{_fmt(meta.get('load_before'), '.2f')} before and "
        f"{_fmt(meta.get('load_after'), '.2f')} after, {meta['date']}.")
    return " ".join([method, memory, machine])


def format_summary(results: dict) -> str:
    """The ratios to the hand-derived step, one line per workload, dtype and thread count.

    >>> row = {"workload": "tiny", "dtype": "float32", "threads": 1, "block_min_us": 1.0,
    ...        "block_max_us": 1.1, "ratio_block_min": 1.1, "ratio_block_max": 1.3}
    >>> rows = [{**row, "impl": "tinygrad_c2", "ratio_to_reference": 1.2},
    ...         {**row, "impl": "torch", "ratio_to_reference": 4.0}]
    >>> print(format_summary({"rows": rows}).splitlines()[2])
    | tiny | float32 | 1 | 1.20 (1.10–1.30) | n/a | 4.00 (1.10–1.30) | n/a |
    """
    header = ("| workload | dtype | threads | tinygrad_c2 eager | tinygrad_c2 captured | torch "
              "| GEMM floor |")
    lines = [header, "|" + "---|" * 7]
    groups: dict[tuple, dict[str, dict]] = {}
    for row in results["rows"]:
        key = (row["workload"], row["dtype"], _threads(row["threads"]))
        groups.setdefault(key, {})[row["impl"]] = row
    for (workload, dtype, threads), rows in groups.items():
        cells = []
        for impl in SUMMARY_IMPLS:
            row = rows.get(impl)
            if row is None or "skipped" in row:
                cells.append("n/a")
            else:
                cells.append(_ratio(row) + _noisy(row))
        lines.append(f"| {workload} | {dtype} | {threads} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(results: dict, folder: Path | str, command: str, name: str | None = None
                  ) -> tuple[Path, Path]:
    """Write ``results-<date>.md`` (command, machine, summary, full table) and ``.json`` (the
    raw results) into ``folder``; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or f"results-{time.strftime('%Y-%m-%d')}"
    meta = results["meta"]
    threads = ", ".join(_threads(n) for n in meta.get("threads") or [None])
    text = "\n".join([
        f"# Training-step benchmark, {meta['date']}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {meta.get('cpu') or '?'} ({meta['machine']}), {meta['cpus']} CPUs; Python "
        f"{meta['python']}, numpy {meta['numpy']} ({meta['blas']}), torch {meta['torch']}; "
        f"BLAS threads: {threads} (one subprocess each, environment "
        f"{json.dumps(meta.get('thread_environment', {}))}); load average "
        f"{_fmt(meta.get('load_before'), '.2f')} before, {_fmt(meta.get('load_after'), '.2f')} "
        "after.",
        "",
        "## Ratios to the hand-derived numpy step (median; per-round min–max in brackets)",
        "",
        format_summary(results),
        "",
        "## Every implementation",
        "",
        format_table(results),
        "",
    ])
    md, js = folder / f"{stem}.md", folder / f"{stem}.json"
    md.write_text(text, encoding="utf-8")
    js.write_text(json.dumps({**results, "command": command}, indent=2) + "\n", encoding="utf-8")
    return md, js

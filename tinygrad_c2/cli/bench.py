"""`tinygrad-c2 bench`: time one training step of tinygrad_c2 against the hand-derived numpy
step, PyTorch and the GEMM floor (the harness is tinygrad_c2.bench)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DESCRIPTION = ("Time one training step of tinygrad_c2 (eager and captured) against the "
               "hand-derived numpy step, PyTorch and the GEMM floor: every implementation must "
               "agree with the reference first; then interleaved blocks, one subprocess per "
               "BLAS thread count.")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """--workload, --dtype, --threads, --impl, --optimizer, --quick, --blocks, --block-seconds,
    --json, --save."""
    from ..bench import IMPLEMENTATIONS, OPTIMIZERS, WORKLOADS

    parser.add_argument("--workload", action="append", choices=list(WORKLOADS),
                        help="workload to run (repeatable; default: all)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"],
                        help="dtype (repeatable; default: both)")
    parser.add_argument("--threads", type=int, action="append",
                        help="BLAS/torch thread count, one subprocess each (default: 1 and 2)")
    parser.add_argument("--impl", action="append", choices=list(IMPLEMENTATIONS),
                        help="implementation (repeatable; default: all available)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in well under 30 s: 0.1 s blocks instead of 1 s, 3 "
                             "blocks, float32 and 1 thread unless --dtype/--threads say more")
    parser.add_argument("--blocks", type=int, metavar="N",
                        help="interleaved rounds: each implementation's block N times (default: "
                             "5, 3 with --quick)")
    parser.add_argument("--block-seconds", type=float, metavar="S",
                        help="length of one block (default: 1.0, 0.1 with --quick); shorter "
                             "blocks in more rounds pair the implementations more closely in "
                             "time when other processes come and go")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--save", metavar="DIR", nargs="?", const="benchmarks",
                        help="also write DIR/results-<date>.md (the command, the machine, the "
                             "ratio summary, the full table) and .json (default DIR: "
                             "benchmarks)")


def add_bench_command(subparsers: Any) -> None:
    """Register `tinygrad-c2 bench`."""
    parser = subparsers.add_parser(
        "bench", help="time one training step against the hand-derived reference",
        description=DESCRIPTION)
    add_bench_arguments(parser)
    parser.set_defaults(handler=run_bench, command_argv=None)


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark the flags ask for; print the table; write --json / --save files."""
    from .. import bench

    results = bench.run(
        workloads=args.workload or tuple(bench.WORKLOADS),
        dtypes=args.dtype or (("float32",) if args.quick else ("float32", "float64")),
        threads=args.threads or ((1,) if args.quick else (1, 2)),
        quick=args.quick,
        implementations=args.impl or bench.IMPLEMENTATIONS,
        optimizer=args.optimizer,
        blocks=(3 if args.quick else 5) if args.blocks is None else args.blocks,
        progress=True,
        block_seconds=args.block_seconds,
    )
    print(bench.format_summary(results) + "\n")
    print(bench.format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.save:
        argv = getattr(args, "command_argv", None)
        command = "tinygrad-c2 bench" + ("" if argv is None else " " + shlex.join(argv))
        md, js = bench.write_results(results, args.save, command)
        print(f"wrote {md} and {js}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """The bench command on its own: ``python benchmarks/bench_mlp.py [flags]``."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_bench_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.command_argv = argv
    return run_bench(args)

"""Instructions per training step under callgrind: the steady measure of an eager step's Python.

Wall-clock ratios on a shared 2-core machine move by 20-40% between runs on the small
workloads; callgrind's instruction counts do not. This runs valgrind twice, for 0 and for N
steps of one implementation (after the same warm-up), and prints the difference per step, so
imports and set-up cancel out:

    python benchmarks/instructions.py tiny tinygrad_c2 --steps 100
    python benchmarks/instructions.py tiny reference tinygrad_c2 tinygrad_c2_captured

Needs valgrind on PATH. One BLAS thread. Slow: about 20 s per 100 tiny steps.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile


def run_steps(workload: str, implementation: str, steps: int, dtype: str) -> None:
    """The child: build the implementation, warm it up, run `steps` steps."""
    from tinygrad_c2.bench import workloads

    impls, skipped = workloads.build_implementations(
        workloads.WORKLOADS[workload], dtype, implementations=[implementation])
    if implementation in skipped:
        raise SystemExit(f"{implementation}: {skipped[implementation]}")
    step = impls[-1].step
    for _ in range(30 + steps):
        step()


def instructions(workload: str, implementation: str, steps: int, dtype: str) -> int:
    """Instructions per step: callgrind's total for `steps` steps minus its total for 0."""
    totals = []
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, steps):
            out = os.path.join(tmp, f"callgrind.{n}")
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            sys.executable, __file__, "--child", workload, implementation,
                            "--steps", str(n), "--dtype", dtype],
                           env=env, check=True, capture_output=True)
            with open(out) as f:
                totals.append(int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1)))
    return (totals[1] - totals[0]) // steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload")
    parser.add_argument("implementations", nargs="+")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_steps(args.workload, args.implementations[0], args.steps, args.dtype)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions.py needs valgrind on PATH")
    counts = {name: instructions(args.workload, name, args.steps, args.dtype)
              for name in args.implementations}
    base = counts.get("reference")
    for name, count in counts.items():
        ratio = f"  {count / base:.2f}x the reference" if base else ""
        print(f"{args.workload} {args.dtype} {name}: {count:,} instructions a step{ratio}")


if __name__ == "__main__":
    main()

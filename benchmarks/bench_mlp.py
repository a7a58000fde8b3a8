"""Time one MLP training step: tinygrad_c2 vs the hand-derived reference, PyTorch, the GEMM floor.

    python benchmarks/bench_mlp.py                      # everything: ~6 minutes
    python benchmarks/bench_mlp.py --quick --workload mnist --json out.json

The harness is the tinygrad_c2.bench package and this is `tinygrad-c2 bench`
(tinygrad_c2/cli/bench.py): the same flags, the same table.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinygrad_c2.cli.bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())

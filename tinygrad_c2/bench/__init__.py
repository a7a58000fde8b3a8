"""Training-step benchmark: tinygrad_c2 vs the hand-derived reference, PyTorch and a GEMM floor.

One step is forward, loss, backward and the optimizer update on a fixed batch. Method
(``timing.py``):
1. every implementation starts from the same weights and must agree with the reference on the
   loss, every gradient and (float64) the updated weights, with the same dropout masks,
   before anything is timed;
2. warm up, then 5 rounds; each round runs every implementation in turn (A B C A B C) for a
   block of >= 1 s (0.1 s with ``quick``) from the same starting weights, timing each step,
   after a short untimed pause that lets the previous implementation's threads go idle;
3. report the per-step median over all blocks, the min-max of the block medians, the ratio
   to the reference with the min-max of the per-round ratios, GFLOP/s, the ratio to the GEMM
   floor (only the step's matrix products, into preallocated outputs), the peak memory a step
   allocates, the page faults per step, the graph memory a kept loss holds (``measure.py``).
Thread counts run in a subprocess each, with every thread pool set before numpy starts
(``runner.py``); ``report.py`` renders the tables and writes the results files; the command
line is ``tinygrad-c2 bench`` (tinygrad_c2/cli/bench.py).

The package: ``implementation.py`` (the contract, and the PyTorch / tinygrad_c2 / captured
step every workload shares), one module per workload family (``mlp.py``, ``cnn.py``,
``lstm.py``: its spec, its hand-derived step and its GEMM floor), ``workloads.py`` (the table
by name). The names below are the public surface (tests, benchmarks/ and the README use them).
"""

from .cnn import CnnGemmFloor, ConvWorkload, ReferenceCnnStep
from .implementation import (
    IMPLEMENTATIONS,
    LEARNING_RATES,
    OPTIMIZERS,
    CapturedStep,
    Implementation,
    ModuleStep,
    TinygradStep,
    TorchStep,
)
from .lstm import HandLSTMStep, LSTMGemmFloor, LSTMWorkload, lstm_step
from .measure import peak_step_memory, tinygrad_graph_bytes, torch_graph_bytes
from .mlp import GemmFloor, ReferenceStep, Workload
from .report import NOISY_SPREAD, format_summary, format_table, write_results
from .runner import run, thread_environment
from .timing import AgreementError, bench_workload, check_agreement, time_block
from .workloads import WORKLOADS, build_implementations

__all__ = [
    "IMPLEMENTATIONS", "LEARNING_RATES", "NOISY_SPREAD", "OPTIMIZERS", "WORKLOADS",
    "AgreementError", "CapturedStep", "CnnGemmFloor", "ConvWorkload", "GemmFloor",
    "HandLSTMStep", "Implementation", "LSTMGemmFloor", "LSTMWorkload", "ModuleStep",
    "ReferenceCnnStep", "ReferenceStep", "TinygradStep", "TorchStep", "Workload",
    "bench_workload", "build_implementations", "check_agreement", "format_summary",
    "format_table", "lstm_step", "peak_step_memory", "run", "thread_environment",
    "time_block", "tinygrad_graph_bytes", "torch_graph_bytes", "write_results",
]

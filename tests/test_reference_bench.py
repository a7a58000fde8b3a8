"""The benchmark harness (tinygrad_c2.bench) without timing: agreement checks, FLOPs, the table."""

import numpy as np
import pytest

from tinygrad_c2 import bench


@pytest.mark.parametrize("dtype, optimizer", [("float32", "sgd"), ("float64", "adam")])
@pytest.mark.parametrize("workload", list(bench.WORKLOADS))
def test_every_available_implementation_agrees_with_the_reference(workload, dtype, optimizer):
    impls, skipped = bench.build_implementations(bench.WORKLOADS[workload], dtype,
                                                 optimizer=optimizer)
    assert impls[0].name == "reference"
    assert {impl.name for impl in impls} | set(skipped) == set(bench.IMPLEMENTATIONS)
    bench.check_agreement(impls, np.dtype(dtype))  # raises AgreementError on a mismatch


def test_a_wrong_gradient_fails_the_agreement_check_before_timing():
    class Broken(bench.ReferenceStep):
        name = "broken"

        def agree(self, seed):
            J, grads, params = super().agree(seed)
            grads[1] = grads[1] * 1.001
            return J, grads, params

    impls, _ = bench.build_implementations(bench.WORKLOADS["tiny"], "float64",
                                           implementations=["reference"])
    reference = impls[0]
    broken = Broken(reference.initial, reference.X, reference.Y, "sgd", 0.01)
    with pytest.raises(bench.AgreementError, match="broken disagrees.*gradient 1"):
        bench.check_agreement([reference, broken], np.dtype("float64"))


def test_gemm_floor_runs_exactly_the_products_that_gemm_flops_counts():
    workload = bench.WORKLOADS["small"]
    floor = bench.GemmFloor(workload, np.dtype("float64"))
    calls = []
    original = np.matmul

    def counting_matmul(a, b, out):
        calls.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return original(a, b, out=out)

    bench.np.matmul = counting_matmul
    try:
        floor.step()
    finally:
        bench.np.matmul = original
    assert sum(calls) == workload.gemm_flops
    assert len(calls) == 3 * (len(workload.dims) - 1) - 1


def test_format_table_shows_ratios_memory_and_skipped_implementations():
    row = {"workload": "tiny", "dtype": "float32", "threads": 1, "median_us": 50.0,
           "block_min_us": 49.0, "block_max_us": 52.5, "steps": 100, "gflops": 1.6}
    results = {
        "rows": [
            {**row, "impl": "reference", "ratio_to_reference": 1.0, "ratio_to_gemm": 4.0,
             "peak_step_kib": 34.0},
            {**row, "impl": "torch", "ratio_to_reference": 3.1, "ratio_to_gemm": 12.4,
             "peak_step_kib": None},
            {**row, "impl": "gemm_floor", "block_min_us": 10.0, "block_max_us": 30.0,
             "ratio_to_reference": 0.2, "ratio_to_gemm": 1.0, "peak_step_kib": 1.0},
            {"workload": "tiny", "dtype": "float32", "threads": 1, "impl": "tinygrad_c2",
             "skipped": "not importable"},
        ],
        "processes": [{"threads": 1, "rss_mib": 80.0, "peak_rss_mib": 90.0}],
        "meta": {"optimizer": "sgd", "learning_rate": 0.01, "blocks": 5, "block_seconds": 1.0,
                 "numpy": "2", "blas": "openblas", "torch": None, "cpus": 2, "date": "today",
                 "load_before": 0.1, "load_after": None},
    }
    table = bench.format_table(results)
    assert "| tiny | float32 | 1 | reference | 50.0 | 49.0–52.5 | 1.00 | 1.60 | 4.00 | 34 |" in (
        table)
    assert "| torch | 50.0 | 49.0–52.5 | 3.10 | 1.60 | 12.40 | n/a |" in table
    assert "| gemm_floor | 50.0 | 10.0–30.0 ⚠ |" in table  # a busy machine is flagged
    assert table.count("⚠") == 2  # the noisy row and the footnote
    assert "skipped: not importable" in table
    assert "Process RSS (threads=1): 80 MiB, peak 90 MiB." in table


def test_unknown_names_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown workload 'huge'"):
        bench.run(workloads=["huge"])
    with pytest.raises(ValueError, match="unknown implementation 'jax'"):
        bench.run(implementations=["jax"])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        bench.build_implementations(bench.WORKLOADS["tiny"], optimizer="lbfgs")


def test_quick_is_a_smoke_run_float32_one_thread_three_blocks_unless_asked(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(bench, "run", lambda **kw: calls.append(kw) or {"rows": []})
    monkeypatch.setattr(bench, "format_table", lambda results: "")
    bench.main(["--quick"])
    bench.main(["--quick", "--dtype", "float64", "--threads", "2"])
    bench.main([])
    quick, asked, full = calls
    assert (quick["dtypes"], quick["threads"], quick["blocks"], quick["quick"]) == (
        ("float32",), (1,), 3, True)
    assert (asked["dtypes"], asked["threads"]) == (["float64"], [2])
    assert (full["dtypes"], full["threads"], full["blocks"]) == (("float32", "float64"), (1, 2), 5)

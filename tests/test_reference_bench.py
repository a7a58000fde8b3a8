"""The benchmark harness (tinygrad_c2.bench) without timing: agreement, FLOPs, the tables."""

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


def products_counted(floor):
    """The FLOPs of every np.matmul one step of ``floor`` runs, one entry per product."""
    calls = []
    original = np.matmul

    def counting_matmul(a, b, out):
        calls.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return original(a, b, out=out)

    np.matmul = counting_matmul
    try:
        floor.step()
    finally:
        np.matmul = original
    return calls


def test_gemm_floor_runs_exactly_the_products_that_gemm_flops_counts():
    workload = bench.WORKLOADS["small"]
    calls = products_counted(bench.GemmFloor(workload, np.dtype("float64")))
    assert sum(calls) == workload.gemm_flops
    assert len(calls) == 3 * (len(workload.dims) - 1) - 1


def test_format_table_shows_ratios_memory_and_skipped_implementations():
    row = {"workload": "tiny", "dtype": "float32", "threads": 1, "median_us": 50.0,
           "block_min_us": 49.0, "block_max_us": 52.5, "steps": 100, "gflops": 1.6}
    results = {
        "rows": [
            {**row, "impl": "reference", "ratio_to_reference": 1.0, "ratio_to_gemm": 4.0,
             "peak_step_kib": 34.0, "held_kib": 2.0, "ratio_block_min": 1.0,
             "ratio_block_max": 1.0},
            {**row, "impl": "torch", "ratio_to_reference": 3.1, "ratio_to_gemm": 12.4,
             "peak_step_kib": None, "ratio_block_min": 2.9, "ratio_block_max": 3.3},
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
    assert ("| tiny | float32 | 1 | reference | 50.0 | 49.0–52.5 | 1.00 (1.00–1.00) | 1.60 "
            "| 4.00 | 34 | 2 |") in table
    assert "| torch | 50.0 | 49.0–52.5 | 3.10 (2.90–3.30) | 1.60 | 12.40 | n/a | n/a |" in table
    assert "| gemm_floor | 50.0 | 10.0–30.0 ⚠ | 0.20 | 1.60 |" in table  # no per-round spread
    assert "| gemm_floor | 50.0 | 10.0–30.0 ⚠ |" in table  # a busy machine is flagged
    assert table.count("⚠") == 2  # the noisy row and the footnote
    summary = bench.format_summary(results)
    assert "| tiny | float32 | 1 | n/a | n/a | 3.10 (2.90–3.30) | 0.20 ⚠ |" in summary
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
    from tinygrad_c2.cli import bench as bench_command

    calls = []
    monkeypatch.setattr(bench, "run", lambda **kw: calls.append(kw) or {"rows": []})
    monkeypatch.setattr(bench, "format_table", lambda results: "")
    monkeypatch.setattr(bench, "format_summary", lambda results: "")
    bench_command.main(["--quick"])
    bench_command.main(["--quick", "--dtype", "float64", "--threads", "2"])
    bench_command.main([])
    quick, asked, full = calls
    assert (quick["dtypes"], quick["threads"], quick["blocks"], quick["quick"]) == (
        ("float32",), (1,), 3, True)
    assert (asked["dtypes"], asked["threads"]) == (["float64"], [2])
    assert (full["dtypes"], full["threads"], full["blocks"]) == (("float32", "float64"), (1, 2), 5)
def test_blocks_and_block_seconds_reach_the_timer_and_bad_values_are_refused(monkeypatch):
    from tinygrad_c2.bench import runner  # bench.run itself is replaced below
    from tinygrad_c2.cli import bench as bench_command

    calls = []
    monkeypatch.setattr(bench, "run", lambda **kw: calls.append(kw) or {"rows": []})
    monkeypatch.setattr(bench, "format_table", lambda results: "")
    monkeypatch.setattr(bench, "format_summary", lambda results: "")
    bench_command.main(["--blocks", "15", "--block-seconds", "0.25"])
    bench_command.main(["--quick", "--blocks", "0"])
    bench_command.main([])
    assert (calls[0]["blocks"], calls[0]["block_seconds"]) == (15, 0.25)
    assert calls[1]["blocks"] == 0  # passed on, and refused below (not replaced by a default)
    assert (calls[2]["blocks"], calls[2]["block_seconds"]) == (5, None)

    seen = []

    def one_step(step, seconds, min_steps):
        seen.append(seconds)
        step()
        return [1e-3]

    rows = bench.bench_workload(bench.WORKLOADS["tiny"], "float32", ["reference", "tinygrad_c2"],
                                blocks=2, timer=one_step, block_seconds=0.25)
    # warm-up at half a block for both implementations, then 2 rounds of full blocks
    assert seen == [0.125, 0.125, 0.25, 0.25, 0.25, 0.25]
    assert {row["impl"] for row in rows} == {"reference", "tinygrad_c2"}
    for blocks, seconds in ((0, 1.0), (3, 0.0), (3, -1.0), (3, float("nan"))):
        with pytest.raises(ValueError, match="expected blocks >= 1 and block_seconds > 0"):
            bench.bench_workload(bench.WORKLOADS["tiny"], "float32", blocks=blocks,
                                 block_seconds=seconds, timer=one_step)
        with pytest.raises(ValueError, match="expected blocks >= 1 and block_seconds > 0"):
            runner.run(workloads=["tiny"], blocks=blocks, block_seconds=seconds)


def test_cnn_gemm_floor_runs_exactly_the_products_that_gemm_flops_counts():
    from tinygrad_c2.bench import cnn as bench_cnn

    workload = bench.WORKLOADS["cnn"]
    calls = products_counted(bench_cnn.CnnGemmFloor(workload, np.dtype("float32")))
    assert sum(calls) == workload.gemm_flops
    layers = len(workload.convs) + len(workload.hidden) + 1
    assert len(calls) == 3 * layers - 1  # no dA for the input image


def test_a_wrong_cnn_gradient_fails_the_agreement_check():
    from tinygrad_c2.bench import cnn as bench_cnn

    class Broken(bench_cnn.ReferenceCnnStep):
        name = "broken"

        def agree(self, seed):
            J, grads, params = super().agree(seed)
            grads[0] = grads[0] * 1.001  # the first conv layer's weight
            return J, grads, params

    impls, _ = bench.build_implementations(bench.WORKLOADS["cnn"], "float64",
                                           implementations=["reference"])
    reference = impls[0]
    broken = Broken(reference.net, np.ascontiguousarray(reference.X.transpose(0, 3, 1, 2)),
                    reference.y, "sgd", 0.01)
    with pytest.raises(bench.AgreementError, match="broken disagrees.*gradient 0"):
        bench.check_agreement([reference, broken], np.dtype("float64"))


def test_graph_bytes_count_each_kept_array_once_and_no_leaf():
    # x (3, 4) float64 is a leaf: not counted. e = exp(x) is saved by Exp (its output) and by
    # Mul twice (e * e): one 96-byte array. t = tanh(e * e) is saved by Tanh: 96. The nodes
    # hold their inputs made by other ops (e, e * e, t) as stand-ins without values (they all
    # view the process's one float64 zero, function._NO_VALUES, not counted). Total 96 + 96.
    import tinygrad_c2 as tg

    x = tg.Tensor(np.linspace(-1.0, 1.0, 12).reshape(3, 4), requires_grad=True)
    e = x.exp()
    loss = (e * e).tanh().sum()
    assert bench.tinygrad_graph_bytes(loss) == 2 * 96
    view = x.exp()[:, :2]  # a view op holds its input: the whole exp(x), 96 bytes, not 48
    assert bench.tinygrad_graph_bytes(view.tanh().sum()) == 96 + 48
    assert bench.tinygrad_graph_bytes(x.sum()) == 0  # only the leaf


def test_torch_graph_bytes_sums_the_saved_tensors_once_without_leaves():
    torch = pytest.importorskip("torch")
    x = torch.linspace(-1.0, 1.0, 12, dtype=torch.float64).reshape(3, 4).requires_grad_()
    # exp saves its result (96 bytes); e * e saves e twice (the same storage); tanh saves its
    # result (96); mul by x saves x (a leaf: not counted) and e
    assert bench.torch_graph_bytes(lambda: (x.exp() * x.exp()).sum(), [x]) == 2 * 96
    assert bench.torch_graph_bytes(lambda: (x.exp() ** 2).tanh().sum(), [x]) == 2 * 96
    assert bench.torch_graph_bytes(lambda: (x * x).sum(), [x]) == 0


def test_bench_rows_carry_page_faults_and_graph_memory(monkeypatch):
    # no timing asserted: blocks of one step, then only the new columns' presence and sense
    def one_step(step, seconds, min_steps):
        step()
        return [1e-3]

    rows = bench.bench_workload(bench.WORKLOADS["tiny"], "float64", blocks=1, quick=True,
                                timer=one_step)
    by_impl = {row["impl"]: row for row in rows if "skipped" not in row}
    assert all(row["faults_per_step"] >= 0 for row in by_impl.values())
    assert by_impl["tinygrad_c2"]["graph_kib"] > 0
    assert by_impl["reference"]["graph_kib"] is None
    if "torch" in by_impl:
        assert by_impl["torch"]["graph_kib"] > 0


def test_held_memory_counts_what_a_step_keeps_between_steps_not_parameters_or_batch():
    from tinygrad_c2.bench.measure import held_bytes

    impls, _ = bench.build_implementations(bench.WORKLOADS["small"], "float64",
                                           implementations=["tinygrad_c2"])
    reference, tinygrad = impls
    for impl in impls:
        impl.step()
    # tinygrad_c2 keeps each parameter's .grad after the step (PyTorch's semantics) and
    # nothing else; the hand-derived step frees its gradients once it has applied them
    grads = sum(p.grad.numpy().nbytes for p in tinygrad.model.parameters())
    assert held_bytes(tinygrad, tinygrad.baseline()) == grads
    assert held_bytes(reference, reference.baseline()) == 16  # its dropout generator's seed


def test_each_thread_count_runs_in_a_subprocess_with_every_pool_sized_and_passive(monkeypatch):
    from tinygrad_c2.bench import runner

    seen = []

    def fake_run(cmd, env, **kwargs):
        seen.append(env)
        return type("Done", (), {"returncode": 0, "stdout": '{"rows": [], "process": {}}'})()

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    bench.run(workloads=["tiny"], threads=(1, 2))
    assert [env["OPENBLAS_NUM_THREADS"] for env in seen] == ["1", "2"]
    for env in seen:
        n = env["OPENBLAS_NUM_THREADS"]
        assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == n
        assert env["OMP_WAIT_POLICY"] == "PASSIVE"  # idle OpenMP threads sleep, not spin


def _results(load: float) -> dict:
    row = {"workload": "tiny", "dtype": "float32", "threads": 2, "impl": "reference",
           "median_us": 50.0, "block_min_us": 49.0, "block_max_us": 51.0, "steps": 10,
           "gflops": 1.0, "ratio_to_reference": 1.0, "ratio_to_gemm": None,
           "peak_step_kib": 1.0}
    meta = {"optimizer": "sgd", "learning_rate": 0.01, "blocks": 5, "block_seconds": 1.0,
            "numpy": "2", "blas": "openblas", "torch": None, "cpus": 2, "date": "today",
            "load_before": load, "load_after": load, "machine": "x86_64", "python": "3.11",
            "threads": [2], "cpu": "some CPU"}
    return {"rows": [row], "meta": meta,
            "processes": [{"threads": 2, "load_before": load, "load_after": load}]}


def test_a_thread_count_measured_on_a_busy_machine_is_flagged():
    assert "other processes wanted the cores 2 thread(s) need" in bench.format_table(
        _results(3.5))
    assert "other processes wanted" not in bench.format_table(_results(0.9))


def test_write_results_writes_the_markdown_and_json_with_command_and_machine(tmp_path):
    md, js = bench.write_results(_results(0.5), tmp_path, "tinygrad-c2 bench --threads 2",
                                 name="results-test")
    text = md.read_text(encoding="utf-8")
    assert md.name == "results-test.md" and js.name == "results-test.json"
    assert "Command: `tinygrad-c2 bench --threads 2`" in text
    assert "some CPU (x86_64), 2 CPUs" in text and "| tiny | float32 | 2 |" in text
    import json

    assert json.loads(js.read_text())["command"] == "tinygrad-c2 bench --threads 2"


def test_bench_save_flag_writes_the_results_files_named_by_date(tmp_path, monkeypatch, capsys):
    from tinygrad_c2 import cli

    monkeypatch.setattr(bench, "run", lambda **kw: _results(0.5))
    assert cli.main(["bench", "--quick", "--save", str(tmp_path)]) == 0
    (md,) = tmp_path.glob("results-*.md")
    assert f"Command: `tinygrad-c2 bench --quick --save {tmp_path}`" in md.read_text()
    assert (tmp_path / md.name.replace(".md", ".json")).is_file()


def test_held_memory_counts_the_kernels_scratch_buffers_a_conv_step_keeps():
    from tinygrad_c2.bench.measure import held_bytes, tinygrad_scratch

    tinygrad_scratch().clear()
    impls, _ = bench.build_implementations(bench.WORKLOADS["cnn"], "float32",
                                           implementations=["tinygrad_c2"])
    tinygrad = impls[1]
    tinygrad.step()
    scratch = sum(buf.nbytes for buf in tinygrad_scratch().values())
    grads = sum(p.grad.numpy().nbytes for p in tinygrad.model.parameters())
    assert scratch > 0  # im2col columns and friends, kept for the next step
    assert held_bytes(tinygrad, tinygrad.baseline()) == grads + scratch


@pytest.mark.parametrize("workload", ["tiny", "small", "mnist", "mnist_bn", "cnn", "lstm"])
def test_a_kept_loss_holds_no_more_graph_memory_than_pytorchs(workload):
    # issue 18: "graph memory of one step held by a kept loss: no more than PyTorch's,
    # measured"
    pytest.importorskip("torch")
    impls, _ = bench.build_implementations(bench.WORKLOADS[workload], "float32",
                                           implementations=["tinygrad_c2", "torch"])
    ours, torch_step = (i.graph_bytes() for i in impls[1:])
    assert ours <= torch_step

"""The lstm benchmark workload (tinygrad_c2/bench/lstm.py) without timing: the hand-derived
step against the course's reference, the GEMM floor's count, agreement refusing a wrong step."""

import numpy as np
import pytest

from tinygrad_c2 import bench, reference
from tinygrad_c2.bench import lstm as bench_lstm

SMALL = bench.LSTMWorkload("small_lstm", input_size=3, hidden_size=5, steps=6, batch=4)


def test_hand_derived_step_equals_the_course_reference_lstm():
    # the course's per-gate LSTM on [a_prev; x] and the bench's stacked one-GEMM step are the
    # same maths: map the course's weights onto PyTorch's layout and compare in float64
    rng = np.random.default_rng(0)
    n_x, n_a, m, T = 3, 5, 4, 6
    p = {f"W{g}": rng.standard_normal((n_a, n_a + n_x)) for g in "fico"}
    p.update({f"b{g}": rng.standard_normal((n_a, 1)) for g in "fico"})
    p.update(Wy=np.zeros((1, n_a)), by=np.zeros((1, 1)))
    x, Y = rng.standard_normal((n_x, m, T)), rng.uniform(-0.5, 0.5, (n_a, m, T))
    a, _, _, caches = reference.lstm_forward(x, np.zeros((n_a, m)), p)
    J_course = np.mean((a - Y) ** 2)
    course = reference.lstm_backward(2 * (a - Y) / a.size, caches)

    params = reference.to_torch_lstm(p)
    J, grads = bench_lstm.lstm_step(x.transpose(2, 1, 0).copy(), Y.transpose(2, 1, 0).copy(),
                                    params)
    assert J == pytest.approx(J_course, rel=1e-13)
    wanted = reference.to_torch_lstm({**{f"W{g}": course[f"dW{g}"] for g in "fico"},
                                      **{f"b{g}": course[f"db{g}"] for g in "fico"}})
    for name in bench_lstm.PARAMETERS:
        wanted_grad = wanted["bias_ih_l0"] if name == "bias_hh_l0" else wanted[name]
        np.testing.assert_allclose(grads["d" + name], wanted_grad, rtol=1e-12, atol=1e-13,
                                   err_msg=name)


@pytest.mark.parametrize("dtype, optimizer", [("float32", "adam"), ("float64", "sgd")])
def test_small_lstm_workload_agrees_everywhere(dtype, optimizer):
    impls, skipped = bench.build_implementations(SMALL, dtype, optimizer=optimizer)
    assert [impl.name for impl in impls][0] == "reference"
    assert {impl.name for impl in impls} | set(skipped) == set(bench.IMPLEMENTATIONS)
    bench.check_agreement(impls, np.dtype(dtype))


def test_a_wrong_lstm_gradient_fails_the_agreement_check():
    import tinygrad_c2 as tg

    class Broken(bench.TinygradStep):
        name = "broken"

        def agree(self, seed):
            J, grads, params = super().agree(seed)
            grads[1] = grads[1] * 1.001  # weight_hh_l0
            return J, grads, params

    impls, _ = bench.build_implementations(SMALL, "float64", implementations=["tinygrad_c2"])
    hand, tinygrad = impls
    broken = Broken(tg, tinygrad.model, hand.X, hand.Y, "mse_loss", "sgd", 0.01)
    with pytest.raises(bench.AgreementError, match="broken disagrees.*gradient 1"):
        bench.check_agreement([hand, broken], np.dtype("float64"))


def test_lstm_gemm_floor_runs_exactly_the_products_that_gemm_flops_counts():
    floor = bench_lstm.LSTMGemmFloor(SMALL, np.dtype("float64"))
    calls = []
    original = np.matmul

    def counting_matmul(a, b, out):
        calls.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return original(a, b, out=out)

    bench_lstm.np.matmul = counting_matmul
    try:
        floor.step()
    finally:
        bench_lstm.np.matmul = original
    assert sum(calls) == SMALL.gemm_flops
    assert len(calls) == 2 * SMALL.steps + 3


def test_the_lstm_workload_is_the_issue_s_shape():
    w = bench.WORKLOADS["lstm"]
    assert (w.input_size, w.hidden_size, w.steps, w.batch) == (64, 128, 32, 32)


def test_a_kept_lstm_loss_holds_the_gates_and_states_but_not_the_projected_inputs():
    # what backward needs: the four gates (4 T), the cell states with c0 (T + 1), tanh(c) (T),
    # the hidden states with h0 and the last c (T + 2), and the loss's difference (T); no
    # (T, B, 4 H) copy of x W_ih^T + b_ih (it used to be held by the graph as well)
    impls, _ = bench_lstm.build_implementations(SMALL, "float64", ["reference", "tinygrad_c2"])
    T, B, H = SMALL.steps, SMALL.batch, SMALL.hidden_size
    assert impls[1].graph_bytes() <= 8 * B * H * (4 * T + (T + 1) + T + (T + 2) + T)


def test_an_lstm_step_peaks_below_the_hand_derived_step_s_memory():
    # issue 18: peak step memory no more than the reference's: what a step holds between steps
    # (scratch buffers, .grad) plus what it allocates at its peak (the bench's count). It was
    # 7.5 MiB eager against 6.7 until the backward wrote its gate gradients over the saved
    # activations at the graph's last use (no 2 MiB d_gates scratch kept by the workspace)
    from tinygrad_c2.bench.measure import held_bytes, tinygrad_scratch

    # NOTE: the kernels' scratch buffers count as held memory; those earlier tests left in this
    # thread (a conv's) are not this workload's (the bench clears them the same way)
    tinygrad_scratch().clear()
    impls, _ = bench_lstm.build_implementations(
        bench.WORKLOADS["lstm"], "float32", ["reference", "tinygrad_c2", "tinygrad_c2_captured"])
    reference, eager, captured = (
        bench.peak_step_memory(i.step) + (held_bytes(i, i.baseline()) if i.tracks_memory else 0)
        for i in impls)
    assert eager <= reference
    assert captured <= reference

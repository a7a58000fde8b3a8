"""The kernels' scratch arena (nn/functional/workspace.py): arrays of one kernel never overlap,
a nested kernel carves after its caller, and consecutive kernels reuse the same memory, so a
step keeps its largest kernel's scratch, not the sum over every role."""

import numpy as np

from tinygrad_c2.nn.functional import workspace
from tinygrad_c2.nn.functional.workspace import kernel, scratch

F64 = np.dtype(np.float64)


def _fresh_arena():
    workspace._local.buffers = {}


def test_arrays_of_one_kernel_never_overlap_and_the_next_kernel_reuses_the_memory():
    _fresh_arena()

    @kernel
    def step():
        a, b = scratch("a", (100,), F64), scratch("b", (7, 3), F64)
        a[...], b[...] = 1.0, 2.0
        assert not np.shares_memory(a, b) and (a == 1).all() and (b == 2).all()
        return a.__array_interface__["data"][0]

    step()  # the first call sizes the arena
    first, second = step(), step()
    assert first == second  # the same memory, call after call
    arena = workspace._local.buffers[workspace.ARENA]
    assert arena.nbytes >= 100 * 8 + 21 * 8 and list(workspace._local.buffers) == [workspace.ARENA]


def test_a_kernel_called_inside_another_carves_after_its_callers_arrays():
    _fresh_arena()

    @kernel
    def inner():
        c = scratch("c", (50,), F64)
        c[...] = -1.0
        return c.copy()

    @kernel
    def outer():
        a = scratch("a", (50,), F64)
        a[...] = 3.0
        inner()
        return a.copy()  # still 3: inner's array is elsewhere

    for _ in range(3):
        assert (outer() == 3.0).all()


def test_two_different_kernels_share_the_arena_instead_of_one_buffer_each():
    _fresh_arena()

    @kernel
    def big():
        scratch("big.x", (1000,), F64)[...] = 0.0

    @kernel
    def other():
        scratch("other.y", (800,), F64)[...] = 0.0

    for _ in range(2):
        big()
        other()
    held = sum(a.nbytes for a in workspace._local.buffers.values())
    assert held == 1000 * 8  # the larger kernel's need, not 1800 * 8


def test_a_cnn_step_peaks_below_the_hand_derived_step_s_memory():
    # issue 18: peak step memory (kept between steps + allocated on top) no more than the
    # reference's; the per-role buffers kept 13.1 MiB of scratch on LeNet (16.2 MiB in all
    # against the reference's 10.7), the arena keeps the largest kernel's 5.3 MiB
    from tinygrad_c2 import bench
    from tinygrad_c2.bench import cnn as bench_cnn
    from tinygrad_c2.bench.measure import held_bytes

    _fresh_arena()
    impls, _ = bench_cnn.build_implementations(
        bench.WORKLOADS["cnn"], "float32", ["reference", "tinygrad_c2", "tinygrad_c2_captured"])
    reference, eager, captured = (
        bench.peak_step_memory(i.step) + (held_bytes(i, i.baseline()) if i.tracks_memory else 0)
        for i in impls)
    assert eager <= reference and captured <= reference

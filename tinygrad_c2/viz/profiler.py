"""Time a training step per graph node (forward and backward), for the timing overlay of
draw_graph: which ops of a step actually cost time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import profiling
from ..function import Function
from .trace import as_roots, walk


@dataclass(eq=False)
class Profile:
    """Per-node times of one training step (medians over `runs` steps), in seconds.

    `root` is what the last call of the step function returned; its graph is the one the
    times belong to, so draw it: `draw_graph(prof.root, model, profile=prof)`.
    """

    root: Any
    forward: dict[Function, float]
    backward: dict[Function, float]
    step_time: float
    runs: int
    ops_share: float  # median over runs of (time inside ops) / (step time)

    def time(self, node: Function) -> float:
        """Forward plus backward seconds of `node` (0.0 for a node of another graph)."""
        return self.forward.get(node, 0.0) + self.backward.get(node, 0.0)

    def share(self, node: Function) -> float:
        """The fraction of the whole step's wall time spent in `node`."""
        return self.time(node) / self.step_time if self.step_time > 0 else 0.0

    def table(self, top: int = 10) -> str:
        """The `top` most expensive nodes as a text table (name, forward, backward, share)."""
        nodes = sorted(self.forward, key=self.time, reverse=True)[:top]
        lines = [f"{'op':<16}{'fwd ms':>10}{'bwd ms':>10}{'share':>9}"]
        for node in nodes:
            lines.append(f"{node.name():<16}{1e3 * self.forward[node]:>10.3f}"
                         f"{1e3 * self.backward.get(node, 0.0):>10.3f}"
                         f"{100 * self.share(node):>8.1f}%")
        lines.append(f"step {1e3 * self.step_time:.3f} ms (median of {self.runs}), "
                     f"{100 * self.ops_share:.0f}% of it inside ops")
        return "\n".join(lines)


def profile(step_fn: Callable[[], Any], runs: int = 1) -> Profile:
    """Run `step_fn` `runs` times with per-node timing on and return the median times.

    The contract: each call of `step_fn()` builds a fresh graph (forward and loss), calls
    `.backward()` on it and returns its root, the loss, or a tuple/dict of tensors such as
    (loss, logits). Zeroing gradients or an optimizer step inside is fine (they are timed as
    part of the step but belong to no node). With several runs every run must build the same
    graph; the nodes are matched by creation order and the last run's graph is returned.

    >>> import tinygrad_c2 as tg
    >>> from tinygrad_c2 import viz
    >>> w = tg.ones(3, requires_grad=True)
    >>> def step():
    ...     loss = (w * w).sum()
    ...     loss.backward()
    ...     return loss
    >>> prof = viz.profile(step, runs=3)
    >>> sorted(node.name() for node in prof.forward)
    ['Mul', 'Sum']
    """
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"profile: runs must be a positive int, got {runs!r}")
    step_times: list[float] = []
    fwd_runs: list[list[float]] = []
    bwd_runs: list[list[float]] = []
    ops_shares: list[float] = []
    names: list[str] = []
    for run in range(runs):
        with profiling():
            t0 = time.perf_counter()
            root = step_fn()
            step_times.append(time.perf_counter() - t0)
        roots = as_roots(root, "profile: step_fn's result")
        ops, _ = walk([t for _, t in roots])
        if not ops:
            raise ValueError("profile: step_fn returned tensors without a graph (computed under "
                             "no_grad, detached, or leaves); return the loss of the step")
        run_names = [node.name() for node in ops]
        if run and run_names != names:
            raise ValueError(f"profile: run {run} built a different graph ({len(run_names)} ops) "
                             f"than run 0 ({len(names)} ops); every call of step_fn must build "
                             "the same graph for the medians to match node by node")
        names = run_names
        # NOTE: a node that backward did not reach (not on a path to the loss) keeps None.
        fwd_runs.append([node.forward_time or 0.0 for node in ops])
        bwd_runs.append([node.backward_time or 0.0 for node in ops])
        ops_shares.append((sum(fwd_runs[-1]) + sum(bwd_runs[-1])) / max(step_times[-1], 1e-12))
    fwd = np.median(np.array(fwd_runs), axis=0)
    bwd = np.median(np.array(bwd_runs), axis=0)
    return Profile(
        root=root,
        forward={node: float(t) for node, t in zip(ops, fwd, strict=True)},
        backward={node: float(t) for node, t in zip(ops, bwd, strict=True)},
        step_time=float(np.median(step_times)),
        runs=runs,
        ops_share=float(np.median(ops_shares)),
    )

"""The benchmark's workloads by name, and the builder that hands each to its own module."""

from __future__ import annotations

from collections.abc import Sequence

from . import cnn, lstm, mlp
from .cnn import ConvWorkload
from .implementation import IMPLEMENTATIONS, Implementation, check_optimizer
from .lstm import LSTMWorkload
from .mlp import Workload

WORKLOADS = {
    "tiny": Workload("tiny", (2, 20, 7, 5, 1), "sigmoid", 64),
    "small": Workload("small", (64, 128, 64, 10), "softmax", 64),
    "mnist": Workload("mnist", (784, 256, 128, 10), "softmax", 128),
    "mnist_bn": Workload("mnist_bn", (784, 256, 128, 10), "softmax", 128, batch_norm=True,
                         dropout_p=0.2),
    "cnn": ConvWorkload("cnn", (1, 28, 28), ((6, 5), (16, 5)), (120, 84), 10, 64),
    "lstm": LSTMWorkload("lstm", input_size=64, hidden_size=128, steps=32, batch=32),
}
BUILDERS = {Workload: mlp.build_implementations, ConvWorkload: cnn.build_implementations,
            LSTMWorkload: lstm.build_implementations}


def build_implementations(
    workload: Workload | ConvWorkload | LSTMWorkload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    seed: int = 0,
) -> tuple[list[Implementation], dict[str, str]]:
    """Every available implementation of the workload's step, from the same weights and batch.

    Returns (implementations, {skipped name: why}); the reference always comes first.

    >>> impls, skipped = build_implementations(WORKLOADS["tiny"], implementations=["gemm_floor"])
    >>> [impl.name for impl in impls], skipped
    (['reference', 'gemm_floor'], {})
    """
    check_optimizer(optimizer)
    return BUILDERS[type(workload)](workload, dtype, implementations, optimizer, seed)

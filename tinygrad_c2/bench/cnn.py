"""The ``cnn`` workload: a LeNet-style CNN step, hand-derived (tg.reference.ConvNet), the GEMM
floor, and the framework steps of the same nn.Sequential in PyTorch and tinygrad_c2.

Every implementation runs the same step (forward, softmax cross-entropy, backward, update) on
the same NCHW batch from the same weights, and reports its loss, gradients and updated
parameters in PyTorch's layout and order (``check_agreement`` compares them before any
timing). The reference works channels-last (the course's layout): it gets the batch
transposed once, outside the timed step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinygrad_c2 import reference
from tinygrad_c2.reference import ConvNet

from .implementation import (
    IMPLEMENTATIONS,
    LEARNING_RATES,
    Implementation,
    assemble,
    cast,
    check_optimizer,
    load,
)


@dataclass(frozen=True)
class ConvWorkload:
    """A LeNet-style CNN training step: conv blocks (n_C, f) of conv f x f (stride 1, no
    padding) -> ReLU -> 2x2 max pool, then Linear -> ReLU layers and a Linear to the classes,
    softmax cross-entropy, on (C, H, W) images."""

    name: str
    image: tuple[int, int, int]  # (C, H, W)
    convs: tuple[tuple[int, int], ...]
    hidden: tuple[int, ...]
    classes: int
    batch: int

    @property
    def gemm_flops(self) -> int:
        """FLOPs of the step's matrix products: per conv layer Z = cols W, dW = cols^T dZ and
        (not for the input) dcols = dZ W^T; per Linear layer the three MLP products.

        >>> ConvWorkload("cnn", (1, 28, 28), ((6, 5), (16, 5)), (120, 84), 10, 64).gemm_flops
        97090560
        """
        C, H, W = self.image
        total, m = 0, self.batch
        for layer, (n_C, f) in enumerate(self.convs):
            H, W = H - f + 1, W - f + 1
            products = 3 if layer > 0 else 2
            total += products * 2 * m * H * W * f * f * C * n_C
            C, H, W = n_C, H // 2, W // 2
        width = C * H * W
        for size in (*self.hidden, self.classes):
            total += 3 * 2 * m * width * size
            width = size
        return total


class ReferenceCnnStep(Implementation):
    """tg.reference.ConvNet: im2col + GEMM convolutions, hand-derived backward, course updates."""

    name = "reference"

    def __init__(self, initial: ConvNet, X: np.ndarray, y: np.ndarray, optimizer: str, lr: float):
        self.initial = [p.copy() for p in initial.parameters.values()]
        self.net = ConvNet({k: v.copy() for k, v in initial.parameters.items()}, initial.conv,
                           initial.pool, initial.feature_shape)
        self.X = np.ascontiguousarray(X.transpose(0, 2, 3, 1))  # NCHW -> the course's NHWC
        self.y = y
        self.optimizer = reference.GD(lr) if optimizer == "sgd" else reference.Adam(lr)

    def step(self) -> None:
        self.net.train_step(self.X, self.y, self.optimizer)

    def agree(self, seed):
        J, grads = self.net.loss_and_grads(self.X, self.y)
        torch_grads = self.net.torch_grads(grads)
        self.optimizer.step(self.net.parameters, grads)
        return J, torch_grads, self.net.torch_state()

    def reset(self) -> None:
        for p, start in zip(self.net.parameters.values(), self.initial, strict=True):
            np.copyto(p, start)

    def baseline(self) -> list:
        return [self.initial, self.X, self.y, self.net.parameters]


class CnnGemmFloor(Implementation):
    """Only the step's matrix products (the im2col GEMMs and the Linear ones) into preallocated
    outputs; no im2col copy, col2im, pooling or activation: what numpy cannot beat."""

    name = "gemm_floor"
    checks_agreement = False

    def __init__(self, workload: ConvWorkload, dtype: np.dtype):
        rng = np.random.default_rng(0)

        def rand(*shape):
            return rng.standard_normal(shape).astype(dtype)

        m = workload.batch
        C, H, W = workload.image
        # (A, W, Z, dZ, dW, dA or None) per product chain: A (rows, k) @ W (k, n) = Z (rows, n)
        self.layers = []
        for layer, (n_C, f) in enumerate(workload.convs):
            H, W = H - f + 1, W - f + 1
            rows, k = m * H * W, f * f * C
            self.layers.append((rand(rows, k), rand(k, n_C), rand(rows, n_C), rand(rows, n_C),
                                rand(k, n_C), rand(rows, k) if layer > 0 else None))
            C, H, W = n_C, H // 2, W // 2
        width = C * H * W
        for size in (*workload.hidden, workload.classes):
            self.layers.append((rand(m, width), rand(width, size), rand(m, size), rand(m, size),
                                rand(width, size), rand(m, width)))
            width = size

    def step(self) -> None:
        for A, W, Z, _, _, _ in self.layers:
            np.matmul(A, W, out=Z)
        for A, W, _, dZ, dW, dA in reversed(self.layers):
            np.matmul(A.T, dZ, out=dW)
            if dA is not None:
                np.matmul(dZ, W.T, out=dA)


def cnn_modules(nn, workload: ConvWorkload) -> list:
    """The workload as a list of modules (torch.nn or tinygrad_c2.nn: the same names)."""
    C, H, W = workload.image
    layers = []
    for n_C, f in workload.convs:
        layers += [nn.Conv2d(C, n_C, f), nn.ReLU(), nn.MaxPool2d(2)]
        C, H, W = n_C, (H - f + 1) // 2, (W - f + 1) // 2
    layers.append(nn.Flatten())
    width = C * H * W
    for size in workload.hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, workload.classes))
    return layers


def build_implementations(
    workload: ConvWorkload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    seed: int = 0,
) -> tuple[list[Implementation], dict[str, str]]:
    """Every available implementation of the CNN step, from the same weights and batch.

    Returns (implementations, {skipped name: why}); the reference always comes first.

    >>> from tinygrad_c2.bench import WORKLOADS
    >>> impls, _ = build_implementations(WORKLOADS["cnn"], implementations=("gemm_floor",))
    >>> [impl.name for impl in impls]
    ['reference', 'gemm_floor']
    """
    check_optimizer(optimizer)
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    C, H, W = workload.image
    initial = ConvNet.initialize((H, W, C), workload.convs, workload.hidden, workload.classes,
                                 dtype=dtype, rng=rng)
    X = rng.standard_normal((workload.batch, C, H, W)).astype(dtype)
    y = rng.integers(0, workload.classes, size=workload.batch)
    lr = LEARNING_RATES[optimizer]

    def make_model(lib):
        model = cast(lib.nn.Sequential(*cnn_modules(lib.nn, workload)), dtype)
        load(model, initial.torch_state())
        return model

    own = {"reference": lambda: ReferenceCnnStep(initial, X, y, optimizer, lr),
           "gemm_floor": lambda: CnnGemmFloor(workload, dtype)}
    return assemble(implementations, own, make_model, X, y, "cross_entropy", optimizer, lr)

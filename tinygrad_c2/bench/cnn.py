"""The ``cnn`` workload's implementations: hand-derived numpy (tg.reference.ConvNet), PyTorch,
tinygrad_c2 eager and captured, and the GEMM floor, for tinygrad_c2.bench's method.

Every implementation runs the same step (forward, softmax cross-entropy, backward, update) on
the same NCHW batch from the same weights, and reports its loss, gradients and updated
parameters in PyTorch's layout and order (``bench.check_agreement`` compares them before any
timing). The reference works channels-last (the course's layout): it gets the batch
transposed once, outside the timed step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinygrad_c2 import reference
from tinygrad_c2.bench import (
    IMPLEMENTATIONS,
    LEARNING_RATES,
    CapturedTinygradStep,
    ConvWorkload,
    GemmFloor,
    Implementation,
    _available,
    assemble,
    tinygrad_graph_bytes,
    torch_graph_bytes,
)
from tinygrad_c2.reference import ConvNet


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


class CnnGemmFloor(GemmFloor):
    """Only the step's matrix products (the im2col GEMMs and the Linear ones) into preallocated
    outputs; no im2col copy, col2im, pooling or activation: what numpy cannot beat."""

    name = "gemm_floor"

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


class _ModuleStep(Implementation):
    """A framework's step written as a user writes it: Sequential, cross_entropy, backward, optim.
    Subclasses define ``to_tensor``, ``load`` (arrays into the model), ``array`` (to numpy)."""

    def __init__(self, lib, initial: ConvNet, X, y, optimizer: str, lr: float, model):
        self.initial = initial.torch_state()
        self.model = model
        self.load(self.initial)
        self.X, self.Y = self.to_tensor(X), self.to_tensor(y)
        self.loss_fn = lib.nn.functional.cross_entropy
        params = list(self.model.parameters())
        self.optimizer = (lib.optim.SGD(params, lr=lr) if optimizer == "sgd"
                          else lib.optim.Adam(params, lr=lr))

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.X), self.Y).backward()
        self.optimizer.step()

    def agree(self, seed):
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.X), self.Y)
        loss.backward()
        grads = [self.array(p.grad).copy() for p in self.model.parameters()]
        self.optimizer.step()
        return loss.item(), grads, [self.array(p).copy() for p in self.model.parameters()]

    def reset(self) -> None:
        self.load(self.initial)


class TorchCnnStep(_ModuleStep):
    """PyTorch CPU eager."""

    name = "torch"
    tracks_memory = False

    def __init__(self, workload, initial, X, y, optimizer, lr):
        import torch

        self.torch = torch
        dtype = torch.float32 if X.dtype == np.float32 else torch.float64
        model = torch.nn.Sequential(*cnn_modules(torch.nn, workload)).to(dtype)
        super().__init__(torch, initial, X, y, optimizer, lr, model)

    def to_tensor(self, a):
        return self.torch.from_numpy(a)

    def array(self, t):
        return t.detach().numpy()

    def load(self, arrays):
        with self.torch.no_grad():
            for p, value in zip(self.model.parameters(), arrays, strict=True):
                p.copy_(self.torch.from_numpy(value))

    def graph_bytes(self) -> int:
        return torch_graph_bytes(lambda: self.loss_fn(self.model(self.X), self.Y),
                                 [*self.model.parameters(), self.X, self.Y])


class TinygradCnnStep(_ModuleStep):
    """tinygrad_c2 eager: nn.Conv2d/MaxPool2d/Linear in nn.Sequential, F.cross_entropy, optim."""

    name = "tinygrad_c2"

    def __init__(self, workload, initial, X, y, optimizer, lr):
        import tinygrad_c2 as tg

        self.tg = tg
        model = tg.nn.Sequential(*cnn_modules(tg.nn, workload))
        model = model.double() if X.dtype == np.float64 else model.float()
        super().__init__(tg, initial, X, y, optimizer, lr, model)

    def to_tensor(self, a):
        return self.tg.Tensor(a)

    def array(self, t):
        return t.numpy()

    def load(self, arrays):
        for p, value in zip(self.model.parameters(), arrays, strict=True):
            np.copyto(p.numpy(), value)

    def graph_bytes(self) -> int:
        return tinygrad_graph_bytes(self.loss_fn(self.model(self.X), self.Y))


class CapturedTinygradCnnStep(TinygradCnnStep):
    """tinygrad_c2 with the step captured once (tg.capture) and replayed."""

    name = "tinygrad_c2_captured"
    graph_bytes = Implementation.graph_bytes  # a replay keeps no graph after its step

    def __init__(self, workload, initial, X, y, optimizer, lr):
        super().__init__(workload, initial, X, y, optimizer, lr)
        self.captured = self.tg.capture(lambda X, Y: self.loss_fn(self.model(X), Y),
                                        optimizer=self.optimizer)

    # The MLP's captured step and agreement check, unchanged: they only use the attributes
    # both classes share (tg, model, optimizer, captured, X, Y, reset).
    step = CapturedTinygradStep.step
    agree = CapturedTinygradStep.agree


def _build(name: str, workload, initial, X, y, optimizer, lr) -> Implementation:
    if name == "reference":
        return ReferenceCnnStep(initial, X, y, optimizer, lr)
    if name == "gemm_floor":
        return CnnGemmFloor(workload, X.dtype)
    if name == "torch":
        return TorchCnnStep(workload, initial, X, y, optimizer, lr)
    if name == "tinygrad_c2":
        return TinygradCnnStep(workload, initial, X, y, optimizer, lr)
    if name == "tinygrad_c2_captured":
        return CapturedTinygradCnnStep(workload, initial, X, y, optimizer, lr)
    raise ValueError(f"bench: unknown implementation {name!r}, expected one of {IMPLEMENTATIONS}")


def _unavailable(name: str) -> str | None:
    why = _available(name)
    if why is None and name.startswith("tinygrad_c2"):
        from tinygrad_c2 import nn

        if not hasattr(nn, "Conv2d"):
            why = "tinygrad_c2.nn has no Conv2d"
    return why


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
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    C, H, W = workload.image
    initial = ConvNet.initialize((H, W, C), workload.convs, workload.hidden, workload.classes,
                                 dtype=dtype, rng=rng)
    X = rng.standard_normal((workload.batch, C, H, W)).astype(dtype)
    y = rng.integers(0, workload.classes, size=workload.batch)
    lr = LEARNING_RATES[optimizer]
    return assemble(implementations, _unavailable,
                    lambda n: _build(n, workload, initial, X, y, optimizer, lr))


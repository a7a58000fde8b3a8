"""The MLP workloads (tiny, small, mnist, mnist_bn): the hand-derived step (tg.reference.MLP),
the GEMM floor, and the framework steps of an nn.Sequential of Linear, [BatchNorm1d],
activation, [Dropout] layers with softmax or binary cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinygrad_c2 import reference
from tinygrad_c2.reference import MLP

from .implementation import (
    IMPLEMENTATIONS,
    LEARNING_RATES,
    Implementation,
    TorchStep,
    assemble,
    cast,
    check_optimizer,
)


@dataclass(frozen=True)
class Workload:
    """An MLP training step: layer sizes, output, batch size, optional batch norm and dropout."""

    name: str
    dims: tuple[int, ...]
    output: str  # "sigmoid" (binary cross-entropy) or "softmax" (cross-entropy)
    batch: int
    batch_norm: bool = False
    dropout_p: float = 0.0  # drop probability on hidden layers (keep_prob = 1 - p)
    activation: str = "relu"

    @property
    def gemm_flops(self) -> int:
        """FLOPs of the step's matrix products: Z = A W^T, dW = dZ^T A, dA = dZ W (not for X).

        >>> Workload("tiny", (2, 20, 7, 5, 1), "sigmoid", 64).gemm_flops
        79360
        """
        total = 0
        for layer in range(1, len(self.dims)):
            products = 3 if layer > 1 else 2
            total += products * 2 * self.batch * self.dims[layer - 1] * self.dims[layer]
        return total


def _masks(net: MLP, batch: int, seed: int) -> dict[int, np.ndarray]:
    """The dropout masks a forward pass draws from ``default_rng(seed)``, in forward order."""
    rng = np.random.default_rng(seed)
    return {layer: reference.dropout_mask((batch, net.parameters[f"W{layer}"].shape[0]),
                                          net.keep_prob[layer], net.dtype, rng)
            for layer in range(1, net.L) if net.keep_prob[layer] < 1.0}


def _copy_net(net: MLP, rng: np.random.Generator) -> MLP:
    return MLP({k: v.copy() for k, v in net.parameters.items()}, net.activation[1:],
               net.output, net.keep_prob[1:], net.lambd,
               {k: v.copy() for k, v in net.running_mean.items()},
               {k: v.copy() for k, v in net.running_var.items()}, rng=rng)


def _restore(net: MLP, initial: MLP) -> None:
    for name, p in net.parameters.items():
        np.copyto(p, initial.parameters[name])
    for layer in net.running_mean:
        np.copyto(net.running_mean[layer], initial.running_mean[layer])
        np.copyto(net.running_var[layer], initial.running_var[layer])


class ReferenceStep(Implementation):
    """tg.reference: the course's hand-derived numpy forward, backward and update."""

    name = "reference"

    def __init__(self, initial: MLP, X: np.ndarray, Y: np.ndarray, optimizer: str, lr: float):
        self.initial, self.X, self.Y = initial, X, Y
        self.net = _copy_net(initial, np.random.default_rng(1234))
        self.optimizer = reference.GD(lr) if optimizer == "sgd" else reference.Adam(lr)

    def step(self) -> None:
        self.net.train_step(self.X, self.Y, self.optimizer)

    def agree(self, seed):
        J, grads = self.net.loss_and_grads(self.X, self.Y, _masks(self.net, len(self.X), seed))
        grads = [g.copy() for g in grads.values()]
        self.optimizer.step(self.net.parameters, dict(zip(
            ["d" + name for name in self.net.parameters], grads, strict=True)))
        return J, grads, [p.copy() for p in self.net.parameters.values()]

    def reset(self) -> None:
        _restore(self.net, self.initial)

    def baseline(self) -> list:
        return [self.initial, self.X, self.Y, self.net.parameters]


class GemmFloor(Implementation):
    """Only the step's matrix products, into preallocated outputs: what numpy cannot beat."""

    name = "gemm_floor"
    checks_agreement = False

    def __init__(self, workload: Workload, dtype: np.dtype):
        rng = np.random.default_rng(0)
        m, dims = workload.batch, workload.dims

        def rand(*shape):
            return rng.standard_normal(shape).astype(dtype)

        self.A = [rand(m, n) for n in dims]           # A[l] of shape (m, n_l); A[0] = X
        self.W = [None] + [rand(dims[k], dims[k - 1]) for k in range(1, len(dims))]
        self.Z = [None] + [rand(m, n) for n in dims[1:]]
        self.dZ = [None] + [rand(m, n) for n in dims[1:]]
        self.dW = [None] + [np.empty_like(W) for W in self.W[1:]]
        self.dA = [rand(m, n) for n in dims]

    def step(self) -> None:
        L = len(self.W) - 1
        for layer in range(1, L + 1):
            np.matmul(self.A[layer - 1], self.W[layer].T, out=self.Z[layer])
        for layer in range(L, 0, -1):
            np.matmul(self.dZ[layer].T, self.A[layer - 1], out=self.dW[layer])
            if layer > 1:
                np.matmul(self.dZ[layer], self.W[layer], out=self.dA[layer - 1])


def mlp_modules(nn, workload: Workload) -> list:
    """The workload as a list of modules (torch.nn or tinygrad_c2.nn: the same names)."""
    activation = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[workload.activation]
    dims, layers = workload.dims, []
    for layer in range(1, len(dims)):
        hidden = layer < len(dims) - 1
        bn = hidden and workload.batch_norm
        layers.append(nn.Linear(dims[layer - 1], dims[layer], bias=not bn))
        if hidden:
            if bn:
                layers.append(nn.BatchNorm1d(dims[layer]))
            layers.append(activation())
            if workload.dropout_p:
                layers.append(nn.Dropout(workload.dropout_p))
    return layers


class TorchMlpStep(TorchStep):
    """PyTorch eager; its agreement step applies the reference's dropout masks by hand (torch's
    dropout draws from its own generator)."""

    def __init__(self, lib, model, X, Y, loss, optimizer, lr, initial: MLP):
        super().__init__(lib, model, X, Y, loss, optimizer, lr)
        self.initial = initial

    def agreement_loss(self, seed):
        masks = iter(_masks(self.initial, len(self.X), seed).values())
        out = self.X
        for module in self.model:
            if isinstance(module, self.lib.nn.Dropout):
                out = out * self.lib.from_numpy(next(masks))
            else:
                out = module(out)
        return self.loss_fn(out, self.Y)


def build_implementations(
    workload: Workload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    seed: int = 0,
) -> tuple[list[Implementation], dict[str, str]]:
    """Every available implementation of the MLP step, from the same weights and batch.

    Returns (implementations, {skipped name: why}); the reference always comes first.
    """
    check_optimizer(optimizer)
    dtype = np.dtype(dtype)
    lr = LEARNING_RATES[optimizer]
    rng = np.random.default_rng(seed)
    initial = MLP.initialize(workload.dims, workload.activation, workload.output,
                             batch_norm=workload.batch_norm, keep_prob=1.0 - workload.dropout_p,
                             dtype=dtype, rng=rng)
    X = rng.standard_normal((workload.batch, workload.dims[0])).astype(dtype)
    if workload.output == "softmax":
        Y, loss = rng.integers(0, workload.dims[-1], size=workload.batch), "cross_entropy"
    else:
        Y = rng.integers(0, 2, size=(workload.batch, 1)).astype(dtype)
        loss = "binary_cross_entropy_with_logits"

    def make_model(lib):
        model = cast(lib.nn.Sequential(*mlp_modules(lib.nn, workload)), dtype)
        reference.to_model(initial, model)
        return model

    def torch_step():
        import torch

        return TorchMlpStep(torch, make_model(torch), X, Y, loss, optimizer, lr, initial)

    own = {"reference": lambda: ReferenceStep(initial, X, Y, optimizer, lr),
           "gemm_floor": lambda: GemmFloor(workload, dtype), "torch": torch_step}
    return assemble(implementations, own, make_model, X, Y, loss, optimizer, lr)

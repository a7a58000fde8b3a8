"""Training-step benchmark: tinygrad_c2 vs the hand-derived reference, PyTorch and a GEMM floor.

Workloads: MLPs (``Workload``, implemented here) and a LeNet-style CNN (``ConvWorkload``,
implemented in bench_cnn.py with the same method and the same ``Implementation`` contract).

One step is forward, loss, backward and the optimizer update on a fixed batch. Method:
1. every implementation starts from the same weights and must agree with the reference on the
   loss, every gradient and (float64) the updated weights, with the same dropout masks,
   before anything is timed;
2. warm up, then 5 rounds; each round runs every implementation in turn (A B C A B C) for a
   block of >= 1 s (0.1 s with ``quick``) from the same starting weights, timing each step,
   after a short untimed pause that lets the previous implementation's BLAS/OpenMP threads
   go idle;
3. report the per-step median over all blocks, the min-max of the 5 block medians, the ratio
   to the reference, GFLOP/s (the step's matrix-product FLOPs / median time), the ratio to
   the GEMM floor (only the step's matrix products, into preallocated outputs), the peak
   memory a step allocates (tracemalloc; numpy allocations only, so PyTorch shows n/a), the
   minor page faults per timed step (getrusage: fresh memory the OS had to map, which large
   temporaries freed back to the OS cost every step), the graph memory one step's kept loss
   holds before backward (tinygrad_c2 and PyTorch eager: ``graph_bytes``) and the process RSS.
Thread counts run in a subprocess each, with OPENBLAS/OMP/MKL_NUM_THREADS set before numpy
starts. ``run()`` returns the results, ``format_table()`` renders them, ``main()`` is the CLI.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tinygrad_c2 import reference
from tinygrad_c2.reference import MLP


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

        >>> WORKLOADS["tiny"].gemm_flops
        79360
        """
        total = 0
        for layer in range(1, len(self.dims)):
            products = 3 if layer > 1 else 2
            total += products * 2 * self.batch * self.dims[layer - 1] * self.dims[layer]
        return total


@dataclass(frozen=True)
class ConvWorkload:
    """A LeNet-style CNN training step (its implementations live in bench_cnn.py): conv blocks
    (n_C, f) of conv f x f (stride 1, no padding) -> ReLU -> 2x2 max pool, then Linear -> ReLU
    layers and a Linear to the classes, softmax cross-entropy, on (C, H, W) images."""

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

        >>> WORKLOADS["cnn"].gemm_flops
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


@dataclass(frozen=True)
class LSTMWorkload:
    """One LSTM layer's training step (its implementations live in bench_lstm.py): T steps of
    a (batch, input_size) input, hidden_size units, MSE of every h_t against a target."""

    name: str
    input_size: int
    hidden_size: int
    steps: int
    batch: int

    @property
    def gemm_flops(self) -> int:
        """FLOPs of the matrix products: X W_ih^T (all steps at once), h W_hh^T per step, back
        dh = dA W_hh per step, dW_ih = dA^T X, dW_hh = dA^T h.

        >>> WORKLOADS["lstm"].gemm_flops
        536870912
        """
        rows, gates = self.steps * self.batch, 4 * self.hidden_size
        return 2 * rows * gates * (2 * self.input_size + 3 * self.hidden_size)


WORKLOADS = {
    "tiny": Workload("tiny", (2, 20, 7, 5, 1), "sigmoid", 64),
    "small": Workload("small", (64, 128, 64, 10), "softmax", 64),
    "mnist": Workload("mnist", (784, 256, 128, 10), "softmax", 128),
    "mnist_bn": Workload("mnist_bn", (784, 256, 128, 10), "softmax", 128, batch_norm=True,
                         dropout_p=0.2),
    "cnn": ConvWorkload("cnn", (1, 28, 28), ((6, 5), (16, 5)), (120, 84), 10, 64),
    "lstm": LSTMWorkload("lstm", input_size=64, hidden_size=128, steps=32, batch=32),
}
IMPLEMENTATIONS = ("tinygrad_c2", "tinygrad_c2_captured", "reference", "torch", "gemm_floor")
OPTIMIZERS = ("sgd", "adam")
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3}
NOISY_SPREAD = 1.25  # block medians further apart than this mean the machine was busy


class AgreementError(AssertionError):
    """An implementation computed a different loss, gradient or update than the reference."""


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1e-300)
    return float(np.linalg.norm(a - b)) / scale


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


class Implementation:
    """One way to run the step: ``step()`` is timed; ``agree(seed)`` runs one step with the
    dropout masks of ``default_rng(seed)`` and returns (loss, grads, params after the update)."""

    name = ""
    tracks_memory = True  # tracemalloc sees numpy's allocations, not PyTorch's

    def step(self) -> None:
        raise NotImplementedError

    def agree(self, seed: int) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        raise NotImplementedError

    def reset(self) -> None:
        """Put the starting weights back (between blocks, untimed)."""

    def graph_bytes(self) -> int | None:
        """Bytes of arrays one step's loss keeps alive before backward (None: no such graph)."""
        return None


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns a view's memory (what keeping the view keeps alive)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _arrays_in(value, depth: int = 3):
    """The numpy arrays in a node's attribute: itself, or inside tuples, lists and dicts."""
    if isinstance(value, np.ndarray):
        yield value
    elif depth and isinstance(value, (tuple, list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from _arrays_in(item, depth - 1)


def tinygrad_graph_bytes(loss) -> int:
    """Bytes of the distinct arrays a tinygrad_c2 ``loss`` keeps alive through its graph
    before backward: the nodes' saved arrays and attributes, and the non-leaf inputs the nodes
    hold (a node keeps its parent Tensors, so their values too). Leaves (parameters, inputs)
    and the loss's own value are not counted: they live without the graph.

    >>> import tinygrad_c2 as tg
    >>> x = tg.ones(3, 4, dtype=tg.float64, requires_grad=True)
    >>> tinygrad_graph_bytes((x.exp() * 2.0).sum())  # Exp's output, 8: Sum's stand-in
    104
    """
    from tinygrad_c2.tensor import Tensor

    leaves, held = set(), {}
    stack, seen = [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        arrays = list(_arrays_in(node.saved_tensors)) + list(_arrays_in(vars(node)))
        for parent in node.parents:
            if isinstance(parent, Tensor):
                if parent.grad_fn is None:
                    leaves.add(id(_root(parent._data)))
                else:
                    arrays.append(parent._data)
                    stack.append(parent.grad_fn)
            else:
                arrays += _arrays_in(parent)
        for a in arrays:
            root = _root(a)
            held[id(root)] = root.nbytes
    return sum(nbytes for key, nbytes in held.items() if key not in leaves)


def torch_graph_bytes(forward: Callable[[], object], leaves) -> int:
    """Bytes of the distinct storages PyTorch's autograd graph saves while ``forward()``
    builds one loss (torch.autograd.graph.saved_tensors_hooks sees every saved tensor), not
    counting the storages of ``leaves`` (parameters, inputs)."""
    import torch

    leaf_storages = {t.untyped_storage().data_ptr() for t in leaves}
    held: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in leaf_storages:
            held[storage.data_ptr()] = storage.nbytes()
        return t  # NOTE: kept, so no saved storage is freed (and its address reused) meanwhile

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward()
    del loss
    return sum(held.values())


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


class GemmFloor(Implementation):
    """Only the step's matrix products, into preallocated outputs: what numpy cannot beat."""

    name = "gemm_floor"

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


def _torch_modules(nn, workload: Workload) -> list:
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


class TorchStep(Implementation):
    """PyTorch CPU eager: nn.Sequential, the fused loss, loss.backward(), torch.optim."""

    name = "torch"
    tracks_memory = False

    def __init__(self, workload, initial, X, Y, optimizer, lr):
        import torch

        self.torch, self.initial = torch, initial
        dtype = torch.float32 if initial.dtype == np.float32 else torch.float64
        self.model = torch.nn.Sequential(*_torch_modules(torch.nn, workload)).to(dtype)
        reference.to_model(initial, self.model)
        self.X = torch.from_numpy(X)
        if workload.output == "softmax":
            self.Y, self.loss_fn = torch.from_numpy(Y), torch.nn.functional.cross_entropy
        else:
            self.Y = torch.from_numpy(Y)
            self.loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
        params = list(self.model.parameters())
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=lr)
        else:
            self.optimizer = torch.optim.Adam(params, lr=lr)

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.X), self.Y).backward()
        self.optimizer.step()

    def agree(self, seed):
        torch = self.torch
        masks = iter(_masks(self.initial, len(self.X), seed).values())
        self.optimizer.zero_grad()
        out = self.X
        for module in self.model:
            if isinstance(module, torch.nn.Dropout):
                out = out * torch.from_numpy(next(masks))
            else:
                out = module(out)
        loss = self.loss_fn(out, self.Y)
        loss.backward()
        grads = [p.grad.numpy().copy() for p in self.model.parameters()]
        self.optimizer.step()
        return loss.item(), grads, [p.detach().numpy().copy() for p in self.model.parameters()]

    def reset(self) -> None:
        reference.to_model(self.initial, self.model)

    def graph_bytes(self) -> int:
        leaves = [*self.model.parameters(), self.X, self.Y]
        n = torch_graph_bytes(lambda: self.loss_fn(self.model(self.X), self.Y), leaves)
        self.reset()  # batch norm's running statistics saw one more batch
        return n


# --------------------------------------------------------------------------------------------
# tinygrad_c2: the step under test, written with nn and optim exactly as a user writes it.
# --------------------------------------------------------------------------------------------
class TinygradStep(Implementation):
    """tinygrad_c2: nn.Sequential, F.cross_entropy / F.binary_cross_entropy_with_logits,
    loss.backward(), tinygrad_c2.optim."""

    name = "tinygrad_c2"

    def __init__(self, workload, initial, X, Y, optimizer, lr):
        import tinygrad_c2 as tg
        from tinygrad_c2 import nn, optim
        from tinygrad_c2.nn import functional as F

        self.tg, self.initial = tg, initial
        self.model = nn.Sequential(*_torch_modules(nn, workload))
        self.model = self.model.double() if initial.dtype == np.float64 else self.model.float()
        reference.to_model(initial, self.model)
        self.X, self.Y = tg.Tensor(X), tg.Tensor(Y)
        if workload.output == "softmax":
            self.loss_fn = F.cross_entropy
        else:
            self.loss_fn = F.binary_cross_entropy_with_logits
        params = list(self.model.parameters())
        if optimizer == "sgd":
            self.optimizer = optim.SGD(params, lr=lr)
        else:
            self.optimizer = optim.Adam(params, lr=lr)

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.X), self.Y).backward()
        self.optimizer.step()

    def agree(self, seed):
        # nn.Dropout draws from tg.rng.generator() exactly as reference.dropout_mask does, so
        # seeding the library's generator gives the masks _masks(..., seed) hands the others.
        self.tg.manual_seed(seed)
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(self.X), self.Y)
        loss.backward()
        grads = [p.grad.numpy().copy() for p in self.model.parameters()]
        self.optimizer.step()
        return loss.item(), grads, [p._data.copy() for p in self.model.parameters()]

    def reset(self) -> None:
        reference.to_model(self.initial, self.model)

    def graph_bytes(self) -> int:
        n = tinygrad_graph_bytes(self.loss_fn(self.model(self.X), self.Y))
        self.reset()
        return n


class CapturedTinygradStep(TinygradStep):
    """tinygrad_c2 with the step captured once (tg.capture) and replayed: the same model,
    loss and optimizer, with the graph built once instead of every step."""

    name = "tinygrad_c2_captured"
    graph_bytes = Implementation.graph_bytes  # a replay keeps no graph after its step

    def __init__(self, workload, initial, X, Y, optimizer, lr):
        super().__init__(workload, initial, X, Y, optimizer, lr)
        self.captured = self.tg.capture(lambda X, Y: self.loss_fn(self.model(X), Y),
                                        optimizer=self.optimizer)

    def step(self) -> None:
        self.captured(self.X, self.Y)

    def agree(self, seed):
        # Trace once and undo that step (weights and optimizer state), so the agreement check
        # runs the replayed program.
        state = self.optimizer.state_dict()
        self.captured(self.X, self.Y)
        self.reset()
        self.optimizer.load_state_dict(state)
        self.tg.manual_seed(seed)
        loss = self.captured(self.X, self.Y)
        grads = [p.grad.numpy().copy() for p in self.model.parameters()]
        return loss.item(), grads, [p._data.copy() for p in self.model.parameters()]


def _build(name, workload, initial, X, Y, optimizer, lr) -> Implementation:
    if name == "reference":
        return ReferenceStep(initial, X, Y, optimizer, lr)
    if name == "gemm_floor":
        return GemmFloor(workload, initial.dtype)
    if name == "torch":
        return TorchStep(workload, initial, X, Y, optimizer, lr)
    if name == "tinygrad_c2":
        return TinygradStep(workload, initial, X, Y, optimizer, lr)
    if name == "tinygrad_c2_captured":
        return CapturedTinygradStep(workload, initial, X, Y, optimizer, lr)
    raise ValueError(f"bench: unknown implementation {name!r}, expected one of {IMPLEMENTATIONS}")


def check_agreement(impls: Sequence[Implementation], dtype: np.dtype, seed: int = 7) -> None:
    """Raise AgreementError unless every implementation matches the reference's step."""
    base = next(impl for impl in impls if impl.name == "reference")
    J, grads, params = base.agree(seed)
    tol = 1e-10 if dtype == np.float64 else 1e-5  # on the loss; 10 * tol on arrays
    for impl in impls:
        if impl is base or isinstance(impl, GemmFloor):
            continue
        J2, grads2, params2 = impl.agree(seed)
        problems = []
        if abs(J2 - J) > tol * max(abs(J), 1e-12):
            problems.append(f"loss {J2!r} vs reference {J!r}")
        if len(grads2) != len(grads):
            problems.append(f"{len(grads2)} gradients vs the reference's {len(grads)}")
        for k, (g, g2) in enumerate(zip(grads, grads2, strict=False)):
            if g.shape != g2.shape:
                problems.append(f"gradient {k} has shape {g2.shape}, the reference's {g.shape}")
            elif _relative(g, g2) > 10 * tol:
                problems.append(f"gradient {k} {g.shape}: relative difference "
                                f"{_relative(g, g2):.2e}")
        if dtype == np.float64:  # float32 updates can differ where a gradient is ~0 (Adam)
            for k, (p, p2) in enumerate(zip(params, params2, strict=False)):
                if _relative(p, p2) > 10 * tol:
                    problems.append(f"parameter {k} after the update: relative difference "
                                    f"{_relative(p, p2):.2e}")
        if problems:
            raise AgreementError(f"bench: {impl.name} disagrees with the reference: "
                                 + "; ".join(problems))
    for impl in impls:
        impl.reset()


def _time_block(step: Callable[[], None], seconds: float, min_steps: int = 5) -> list[float]:
    clock = time.perf_counter
    times = []
    end = clock() + seconds
    while True:
        t0 = clock()
        step()
        t1 = clock()
        times.append(t1 - t0)
        if t1 >= end and len(times) >= min_steps:
            return times


def _peak_step_memory(impl: Implementation) -> int | None:
    """Bytes a step allocates at its peak, above what was allocated before it (tracemalloc)."""
    if not impl.tracks_memory:
        return None
    tracemalloc.start()
    try:
        impl.step()  # first traced step: lazily created state is not the steady state
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        impl.step()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def _minor_faults() -> int:
    """Minor page faults of this process so far (getrusage ru_minflt)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _rss() -> dict[str, float]:
    """Current and peak resident set size of this process, in MiB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key = "rss_mib" if line.startswith("VmRSS") else "peak_rss_mib"
                    out[key] = int(line.split()[1]) / 1024
    except OSError:
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _available(name: str) -> str | None:
    """None if the implementation can run here, else why not."""
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            return "torch is not installed"
    if name.startswith("tinygrad_c2"):
        try:
            from tinygrad_c2 import nn, optim  # noqa: F401
        except ImportError as e:
            return f"tinygrad_c2.nn/optim are not importable ({e})"
    return None


def build_implementations(
    workload: Workload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    seed: int = 0,
) -> tuple[list[Implementation], dict[str, str]]:
    """Every available implementation of the workload's step, from the same weights and batch.

    Returns (implementations, {skipped name: why}); the reference always comes first.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"bench: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if isinstance(workload, ConvWorkload):
        from tinygrad_c2 import bench_cnn

        return bench_cnn.build_implementations(workload, dtype, implementations, optimizer, seed)
    if isinstance(workload, LSTMWorkload):
        from tinygrad_c2 import bench_lstm

        return bench_lstm.build_implementations(workload, dtype, implementations, optimizer, seed)
    dtype = np.dtype(dtype)
    lr = LEARNING_RATES[optimizer]
    rng = np.random.default_rng(seed)
    initial = MLP.initialize(workload.dims, workload.activation, workload.output,
                             batch_norm=workload.batch_norm, keep_prob=1.0 - workload.dropout_p,
                             dtype=dtype, rng=rng)
    X = rng.standard_normal((workload.batch, workload.dims[0])).astype(dtype)
    if workload.output == "softmax":
        Y = rng.integers(0, workload.dims[-1], size=workload.batch)
    else:
        Y = rng.integers(0, 2, size=(workload.batch, 1)).astype(dtype)
    return assemble(implementations, _available,
                    lambda n: _build(n, workload, initial, X, Y, optimizer, lr))


def assemble(implementations: Sequence[str], unavailable: Callable[[str], str | None],
             build: Callable[[str], Implementation]
             ) -> tuple[list[Implementation], dict[str, str]]:
    """The reference first, then each asked implementation that is available, built; and
    {skipped name: why} for the others (every workload's builder ends this way)."""
    names = ["reference"] + [n for n in implementations if n != "reference"]
    skipped = {n: why for n in names if (why := unavailable(n))}
    return [build(n) for n in names if n not in skipped], skipped


def bench_workload(
    workload: Workload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    quick: bool = False,
    optimizer: str = "sgd",
    blocks: int = 5,
    seed: int = 0,
    threads: int | None = None,
) -> list[dict]:
    """Time one workload in this process: agree first, warm up, interleaved blocks.

    Returns one row per implementation (see ``format_table`` for the columns).
    """
    dtype = np.dtype(dtype)
    impls, skipped = build_implementations(workload, dtype, implementations, optimizer, seed)
    check_agreement(impls, dtype)

    block_seconds = 0.1 if quick else 1.0
    # NOTE: a cnn or lstm step takes 10-40 ms, so 5 steps a block would make a quick run's
    # blocks several times their 0.1 s; 2 keep it a smoke run (the full run keeps 5)
    min_steps = 2 if quick else 5
    for impl in impls:
        _time_block(impl.step, block_seconds / 2, min_steps)
    times: dict[str, list[float]] = {impl.name: [] for impl in impls}
    faults = dict.fromkeys(times, 0)
    block_medians: dict[str, list[float]] = {impl.name: [] for impl in impls}
    for _ in range(blocks):
        for impl in impls:
            impl.reset()
            # NOTE: a full collection costs ~150 ms with torch loaded: a quick run takes only
            # the young generations (what a block's own garbage lives in)
            gc.collect(1 if quick else 2)
            # NOTE: idle BLAS/OpenMP worker threads of the previous implementation spin for a
            # while; with 2 threads on 2 cores they would steal this block's CPU time.
            time.sleep(block_seconds / 5)
            before = _minor_faults()
            block = _time_block(impl.step, block_seconds, min_steps)
            faults[impl.name] += _minor_faults() - before
            times[impl.name] += block
            block_medians[impl.name].append(statistics.median(block))
    memory = {impl.name: _peak_step_memory(impl) for impl in impls}
    graph = {impl.name: impl.graph_bytes() for impl in impls}

    medians = {name: statistics.median(t) for name, t in times.items()}
    rows = []
    for impl in impls:
        name = impl.name
        rows.append({
            "workload": workload.name, "dtype": dtype.name, "threads": threads,
            "impl": name, "median_us": medians[name] * 1e6,
            "block_min_us": min(block_medians[name]) * 1e6,
            "block_max_us": max(block_medians[name]) * 1e6,
            "steps": len(times[name]),
            "ratio_to_reference": medians[name] / medians["reference"],
            "gflops": workload.gemm_flops / medians[name] / 1e9,
            "ratio_to_gemm": (medians[name] / medians["gemm_floor"]
                              if "gemm_floor" in medians else None),
            "peak_step_kib": None if memory[name] is None else memory[name] / 1024,
            "faults_per_step": faults[name] / len(times[name]),
            "graph_kib": None if graph[name] is None else graph[name] / 1024,
        })
    for name, why in skipped.items():
        rows.append({"workload": workload.name, "dtype": dtype.name, "threads": threads,
                     "impl": name, "skipped": why})
    return rows


def _worker(config: dict) -> dict:
    """Run every (workload, dtype) of ``config`` in this process; threads are already set."""
    threads = config.get("threads")
    if threads and "torch" in config["implementations"] and _available("torch") is None:
        import torch

        torch.set_num_threads(threads)
    rows = []
    for name in config["workloads"]:
        for dtype in config["dtypes"]:
            if config.get("progress"):
                print(f"bench: {name} {dtype} threads={threads}", file=sys.stderr, flush=True)
            rows += bench_workload(WORKLOADS[name], dtype, config["implementations"],
                                   config["quick"], config["optimizer"], config["blocks"],
                                   threads=threads)
    return {"rows": rows, "process": {"threads": threads, **_rss()}}


def _worker_main() -> None:
    """Entry point of a benchmark subprocess: config JSON in argv[1], results JSON on stdout."""
    result = _worker(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result))


def _run_in_subprocess(config: dict) -> dict:
    threads = str(config["threads"])
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    code = "from tinygrad_c2.bench import _worker_main; _worker_main()"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(config)], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench: the threads={threads} worker failed (exit {proc.returncode}); "
                           "its error is printed above")
    return json.loads(proc.stdout)


def run(
    workloads: Sequence[str] = tuple(WORKLOADS),
    dtypes: Sequence[str] = ("float32", "float64"),
    threads: Sequence[int] | None = (1, 2),
    quick: bool = False,
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    blocks: int = 5,
    progress: bool = False,
) -> dict:
    """Run the benchmark; returns ``{"meta": ..., "rows": [...], "processes": [...]}``.

    ``threads=None`` runs in this process with its current BLAS threads; otherwise each thread
    count gets a fresh subprocess with the thread environment variables set before numpy loads.
    """
    for name in workloads:
        if name not in WORKLOADS:
            raise ValueError(f"bench: unknown workload {name!r}, expected one of {list(WORKLOADS)}")
    for name in implementations:
        if name not in IMPLEMENTATIONS:
            raise ValueError(f"bench: unknown implementation {name!r}, "
                             f"expected one of {IMPLEMENTATIONS}")
    config = {"workloads": list(workloads), "dtypes": list(dtypes), "quick": quick,
              "implementations": list(implementations), "optimizer": optimizer,
              "blocks": blocks, "progress": progress}
    load_before = _load_average()
    if threads is None:
        results = [_worker({**config, "threads": None})]
    else:
        results = [_run_in_subprocess({**config, "threads": n}) for n in threads]
    return {
        "meta": {**_meta(config), "load_before": load_before, "load_after": _load_average()},
        "rows": [row for result in results for row in result["rows"]],
        "processes": [result["process"] for result in results],
    }


def _load_average() -> float | None:
    """The 1-minute load average: above 0.5 or so, other processes share the CPUs."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _meta(config: dict) -> dict:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    return {
        **config,
        "workload_specs": {name: asdict(WORKLOADS[name]) for name in config["workloads"]},
        "learning_rate": LEARNING_RATES[config["optimizer"]],
        "block_seconds": 0.1 if config["quick"] else 1.0,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "torch": torch_version,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def format_table(results: dict) -> str:
    """The results as a markdown table (one row per workload, dtype, threads, implementation)."""
    header = ("| workload | dtype | threads | implementation | median µs | block medians µs "
              "| × reference | GFLOP/s | × GEMM floor | peak step KiB | page faults/step "
              "| graph KiB |")
    lines = [header, "|" + "---|" * 12]
    for row in results["rows"]:
        threads = row["threads"] if row["threads"] is not None else "default"
        start = f"| {row['workload']} | {row['dtype']} | {threads} | {row['impl']} |"
        if "skipped" in row:
            lines.append(start + f" skipped: {row['skipped']} |" + " |" * 7)
            continue
        spread = row["block_max_us"] / row["block_min_us"]
        noisy = " ⚠" if spread > NOISY_SPREAD else ""
        lines.append(
            start + f" {row['median_us']:.1f} | {row['block_min_us']:.1f}–{row['block_max_us']:.1f}"
            f"{noisy} | {row['ratio_to_reference']:.2f} | {row['gflops']:.2f}"
            f" | {_fmt(row['ratio_to_gemm'], '.2f')} | {_fmt(row['peak_step_kib'], '.0f')}"
            f" | {_fmt(row.get('faults_per_step'), '.1f')} | {_fmt(row.get('graph_kib'), '.0f')} |")
    for proc in results["processes"]:
        threads = proc["threads"] if proc["threads"] is not None else "default"
        lines.append(f"\nProcess RSS (threads={threads}): {_fmt(proc.get('rss_mib'), '.0f')} MiB, "
                     f"peak {_fmt(proc.get('peak_rss_mib'), '.0f')} MiB.")
    meta = results["meta"]
    lines.append(
        f"\nOne step = forward, loss, backward, {meta['optimizer']} update (lr "
        f"{meta['learning_rate']}). Median of all timed steps over {meta['blocks']} interleaved "
        f"blocks of {meta['block_seconds']} s; 'block medians' is the min–max of the per-block "
        f"medians; ⚠ marks a spread over {NOISY_SPREAD:.2f}× (something else was using the "
        f"CPU: rerun on an idle machine). GFLOP/s counts only the matrix products. Page "
        f"faults: minor faults (getrusage) per timed step. Graph KiB: the arrays one step's "
        f"loss keeps alive before backward, leaves not counted (tinygrad_c2: its graph's saved "
        f"arrays and held values; PyTorch: its autograd graph's saved tensors). "
        f"numpy {meta['numpy']} ({meta['blas']}), torch {meta['torch']}, {meta['cpus']} CPUs, "
        f"load average {_fmt(meta.get('load_before'), '.2f')} before and "
        f"{_fmt(meta.get('load_after'), '.2f')} after, {meta['date']}.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """CLI: ``python benchmarks/bench_mlp.py [--workload tiny ...] [--quick] [--json PATH]``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS),
                        help="workload to run (repeatable; default: all)")
    parser.add_argument("--dtype", action="append", choices=["float32", "float64"],
                        help="dtype (repeatable; default: both)")
    parser.add_argument("--threads", type=int, action="append",
                        help="BLAS/torch thread count, one subprocess each (default: 1 and 2)")
    parser.add_argument("--impl", action="append", choices=list(IMPLEMENTATIONS),
                        help="implementation (repeatable; default: all available)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in well under 30 s: 0.1 s blocks instead of 1 s, 3 "
                             "blocks, float32 and 1 thread unless --dtype/--threads say more")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    results = run(
        workloads=args.workload or tuple(WORKLOADS),
        dtypes=args.dtype or (("float32",) if args.quick else ("float32", "float64")),
        threads=args.threads or ((1,) if args.quick else (1, 2)),
        quick=args.quick,
        implementations=args.impl or IMPLEMENTATIONS,
        optimizer=args.optimizer,
        blocks=3 if args.quick else 5,
        progress=True,
    )
    print(format_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0

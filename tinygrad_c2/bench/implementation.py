"""The contract every benchmarked step follows, and the one framework step all workloads share.

``Implementation``: ``step()`` is timed, ``agree(seed)`` runs one step and returns (loss,
gradients, parameters after the update) for the agreement check, ``reset()`` puts the starting
weights back between blocks. ``ModuleStep`` is a step written as a user writes it in PyTorch or
tinygrad_c2 (the same names): model, loss, ``loss.backward()``, ``optimizer.step()``; its
subclasses ``TorchStep``, ``TinygradStep`` and ``CapturedStep`` (the same step through
``tg.capture``) serve the mlp, cnn and lstm workloads alike: a workload only builds the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .measure import tinygrad_graph_bytes, tinygrad_scratch, torch_graph_bytes

IMPLEMENTATIONS = ("tinygrad_c2", "tinygrad_c2_captured", "reference", "torch", "gemm_floor")
OPTIMIZERS = ("sgd", "adam")
LEARNING_RATES = {"sgd": 0.01, "adam": 1e-3}


class Implementation:
    """One way to run the step: ``step()`` is timed; ``agree(seed)`` runs one step with the
    dropout masks of ``default_rng(seed)`` and returns (loss, grads, params after the update)."""

    name = ""
    tracks_memory = True  # tracemalloc sees numpy's allocations, not PyTorch's
    checks_agreement = True  # False: computes nothing to compare (the GEMM floor)

    def step(self) -> None:
        raise NotImplementedError

    def agree(self, seed: int) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        raise NotImplementedError

    def reset(self) -> None:
        """Put the starting weights back (between blocks, untimed)."""

    def graph_bytes(self) -> int | None:
        """Bytes of arrays one step's loss keeps alive before backward (None: no such graph)."""
        return None

    def held_roots(self) -> list:
        """Where ``held_bytes`` looks for the arrays kept between steps: the implementation,
        and memory its library keeps outside it."""
        return [self]

    def baseline(self) -> list:
        """What ``held_bytes`` does not count: the parameters and the batch (every
        implementation holds them alike) and the starting weights kept for ``reset``."""
        return []


class ModuleStep(Implementation):
    """A framework's step as a user writes it: ``loss_fn(model(X), Y).backward()`` and the
    optimizer (SGD or Adam); ``lib`` is torch or tinygrad_c2, which spell all of it the same.

    ``model`` comes with the starting weights loaded; they (and its buffers, such as batch
    norm's running statistics) are copied once and written back in place by ``reset()``.
    """

    def __init__(self, lib, model, X: np.ndarray, Y: np.ndarray, loss: str, optimizer: str,
                 lr: float):
        self.lib, self.model = lib, model
        self.X, self.Y = self.tensor(X), self.tensor(Y)
        self.loss_fn = getattr(lib.nn.functional, loss)
        params = list(model.parameters())
        self.optimizer = (lib.optim.SGD(params, lr=lr) if optimizer == "sgd"
                          else lib.optim.Adam(params, lr=lr))
        self._start = [(t, t.detach().numpy().copy())
                       for t in (*model.parameters(), *model.buffers())]

    def tensor(self, a: np.ndarray):
        """A framework tensor sharing ``a``'s memory."""
        raise NotImplementedError

    def loss(self, X, Y):
        out = self.model(X)
        # NOTE: recurrent modules return (output, final states), as PyTorch's do; the loss
        # is of the output
        return self.loss_fn(out[0] if isinstance(out, tuple) else out, Y)

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss(self.X, self.Y).backward()
        self.optimizer.step()

    def agreement_loss(self, seed: int):
        """The loss of the agreement step, with the dropout masks of ``default_rng(seed)``."""
        return self.loss(self.X, self.Y)

    def agree(self, seed):
        self.optimizer.zero_grad()
        loss = self.agreement_loss(seed)
        loss.backward()
        return self._outcome(loss)

    def _outcome(self, loss):
        """(loss, gradients, parameters after the optimizer's step), in the model's order."""
        params = list(self.model.parameters())
        grads = [p.grad.numpy().copy() for p in params]
        self.optimizer.step()
        return loss.item(), grads, [p.detach().numpy().copy() for p in params]

    def baseline(self) -> list:
        tensors = (self.X, self.Y, *self.model.parameters())
        return [*(start for _, start in self._start), *(t.detach().numpy() for t in tensors)]

    def reset(self) -> None:
        for t, start in self._start:
            np.copyto(t.detach().numpy(), start)

    def graph_bytes(self) -> int:
        n = self.measure_graph()
        self.reset()  # batch norm's running statistics saw one more batch
        return n

    def measure_graph(self) -> int:
        raise NotImplementedError


class TorchStep(ModuleStep):
    """PyTorch CPU eager."""

    name = "torch"
    tracks_memory = False

    def tensor(self, a):
        return self.lib.from_numpy(a)

    def measure_graph(self) -> int:
        return torch_graph_bytes(lambda: self.loss(self.X, self.Y),
                                 [*self.model.parameters(), self.X, self.Y])


class TinygradStep(ModuleStep):
    """tinygrad_c2 eager: the step under test, written with nn and optim as a user writes it."""

    name = "tinygrad_c2"

    def tensor(self, a):
        return self.lib.Tensor(a)

    def agreement_loss(self, seed):
        # NOTE: nn.Dropout draws from tg.rng.generator() exactly as reference.dropout_mask
        # does, so seeding the library's generator gives the masks the others are handed.
        self.lib.manual_seed(seed)
        return self.loss(self.X, self.Y)

    def measure_graph(self) -> int:
        return tinygrad_graph_bytes(self.loss(self.X, self.Y))

    def held_roots(self) -> list:
        # the kernels' scratch buffers serve every tinygrad_c2 model of the process (eager
        # and captured alike); each would need them alone, so each counts them
        return [self, tinygrad_scratch()]


class CapturedStep(TinygradStep):
    """tinygrad_c2 with the step captured once (tg.capture) and replayed: the same model,
    loss and optimizer, with the graph built once instead of every step."""

    name = "tinygrad_c2_captured"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.captured = self.lib.capture(self.loss, optimizer=self.optimizer)

    def step(self) -> None:
        self.captured(self.X, self.Y)

    def agree(self, seed):
        # Trace once and undo that step (weights and optimizer state), so the agreement check
        # runs the replayed program.
        state = self.optimizer.state_dict()
        self.captured(self.X, self.Y)
        self.reset()
        self.optimizer.load_state_dict(state)
        self.lib.manual_seed(seed)
        loss = self.captured(self.X, self.Y)
        params = list(self.model.parameters())
        return (loss.item(), [p.grad.numpy().copy() for p in params],
                [p.detach().numpy().copy() for p in params])

    def graph_bytes(self) -> None:
        return None  # a replay keeps no graph after its step


FRAMEWORK_STEPS = {step.name: step for step in (TorchStep, TinygradStep, CapturedStep)}


def framework_step(name: str, make_model: Callable[[object], object], X: np.ndarray,
                   Y: np.ndarray, loss: str, optimizer: str, lr: float) -> ModuleStep:
    """The ``name`` step ("torch", "tinygrad_c2" or "tinygrad_c2_captured") of the model
    ``make_model(lib)`` builds (torch or tinygrad_c2, starting weights loaded, X's dtype)."""
    step = FRAMEWORK_STEPS[name]
    if name == "torch":
        import torch as lib
    else:
        import tinygrad_c2 as lib
    return step(lib, make_model(lib), X, Y, loss, optimizer, lr)


def cast(model, dtype: np.dtype):
    """``model`` in float64 or float32 (torch's and tinygrad_c2's modules say it the same)."""
    return model.double() if dtype == np.float64 else model.float()


def load(model, arrays: Sequence[np.ndarray]) -> None:
    """Copy ``arrays`` into the model's parameters in order, in place."""
    params = list(model.parameters())
    if len(params) != len(arrays):
        raise ValueError(f"bench: {len(arrays)} arrays for {len(params)} parameters")
    for p, value in zip(params, arrays, strict=True):
        np.copyto(p.detach().numpy(), value)


def check_optimizer(optimizer: str) -> None:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"bench: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")


def available(name: str) -> str | None:
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


def assemble(implementations: Sequence[str], own: dict[str, Callable[[], Implementation]],
             make_model: Callable[[object], object], X: np.ndarray, Y: np.ndarray, loss: str,
             optimizer: str, lr: float) -> tuple[list[Implementation], dict[str, str]]:
    """Every workload's builder ends here: the reference first, then each asked
    implementation that is available, built by ``own[name]()`` (the workload's own steps:
    reference, GEMM floor) or else as the ``framework_step`` of ``make_model``; and
    {skipped name: why} for the others."""
    for name in implementations:
        if name not in IMPLEMENTATIONS:
            raise ValueError(f"bench: unknown implementation {name!r}, "
                             f"expected one of {IMPLEMENTATIONS}")
    names = ["reference"] + [n for n in implementations if n != "reference"]
    skipped = {n: why for n in names if (why := available(n))}
    return [own[n]() if n in own else framework_step(n, make_model, X, Y, loss, optimizer, lr)
            for n in names if n not in skipped], skipped

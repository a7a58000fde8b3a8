"""Callbacks for `fit`: early stopping, resumable checkpoints, scheduler stepping, gradient norms.

A callback overrides any of the hooks below; each receives the `TrainState`. Hooks run in
ascending `order`: the scheduler first (0), user callbacks (50), the checkpoint last (100) so
that it saves what the others did in the same epoch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import rng
from ..engine import no_grad
from ..nn.modules.container import Sequential
from ..nn.modules.linear import Linear
from ..nn.modules.module import Module
from ..optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from ..optim.optimizer import Optimizer
from ..serialization import load, save
from ..tensor import Tensor
from ..utils.data import TensorDataset
from .history import History, resolve_mode


@dataclass
class TrainState:
    """What callbacks see and may change during `fit` (set `stop_training` to end the run)."""

    model: Module
    loss_fn: Callable[[Any, Any], Tensor]
    optimizer: Optimizer
    history: History
    epochs: int
    train_loader: Any
    dev_batches: Callable[[], Any] | None = None
    callbacks: list[Callback] = field(default_factory=list)
    epoch: int = 0          # 0-based index of the current epoch
    start_epoch: int = 0    # > 0 when a checkpoint resumed the run
    global_step: int = 0    # optimizer steps taken so far, over all epochs
    loss: float = math.nan  # the last mini-batch loss
    logs: dict[str, Any] = field(default_factory=dict)  # the epoch's row, at on_epoch_end
    stop_training: bool = False
    log: Callable[[str], None] = print


class Callback:
    """Base class: every hook does nothing. `state_dict` is what a Checkpoint saves of it."""

    order = 50

    def on_train_begin(self, state: TrainState) -> None: ...
    def on_epoch_begin(self, state: TrainState) -> None: ...
    def on_after_backward(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState) -> None: ...
    def on_epoch_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _copy_weights(model: Module) -> dict[str, np.ndarray]:
    return {name: np.array(value, copy=True) for name, value in model.state_dict().items()}


def _check_monitor(state: TrainState, monitor: str, owner: str) -> float:
    if monitor not in state.logs:
        raise KeyError(f"{owner}: monitor {monitor!r} is not in the epoch's logs "
                       f"{sorted(state.logs)}; pass a dev set to fit for 'dev_*' values")
    return float(state.logs[monitor])


class EarlyStopping(Callback):
    """The course's early stopping: stop when `monitor` has not improved for `patience` epochs.

    An improvement is a change beyond `min_delta` in the right direction (mode 'auto': lower
    for losses, higher for accuracies). With `restore_best=True` the model gets back the
    weights (and batch-norm statistics) of its best epoch when training ends, which is what
    the course means by stopping "at" the best dev error, not `patience` epochs after it.

    >>> EarlyStopping("dev_loss", patience=3)
    EarlyStopping(monitor='dev_loss', patience=3, restore_best=True)
    """

    def __init__(self, monitor: str = "dev_loss", patience: int = 5, restore_best: bool = True,
                 min_delta: float = 0.0, mode: str = "auto") -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self.min_delta = float(min_delta)
        self.mode = resolve_mode(monitor, mode, "EarlyStopping")
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None
        self.best_weights: dict[str, np.ndarray] | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, state: TrainState) -> None:
        self._reset()

    def on_epoch_end(self, state: TrainState) -> None:
        value = _check_monitor(state, self.monitor, "EarlyStopping")
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.logs["epoch"], 0
            if self.restore_best:
                self.best_weights = _copy_weights(state.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.logs["epoch"]
            state.stop_training = True
            state.log(f"early stopping at epoch {self.stopped_epoch}: {self.monitor} has not "
                      f"improved for {self.wait} epochs (best {self.best:.4g} at epoch "
                      f"{self.best_epoch})")

    def on_train_end(self, state: TrainState) -> None:
        state.history.stopped_epoch = self.stopped_epoch
        state.history.best_epoch = self.best_epoch
        if self.restore_best and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
            if self.best_epoch != len(state.history):
                state.log(f"restored the weights of epoch {self.best_epoch} "
                          f"({self.monitor} {self.best:.4g})")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = float(state["best"]), state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        self.best_weights = state["best_weights"]

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"restore_best={self.restore_best})")


class SchedulerStep(Callback):
    """Step an lr scheduler once per epoch (the course's decays) or once per optimizer step.

    ReduceLROnPlateau is stepped with the epoch's `monitor` value. `fit(scheduler=...)` adds
    this callback for you; it runs before the other callbacks.
    """

    order = 0

    def __init__(self, scheduler: LRScheduler, interval: str = "epoch",
                 monitor: str = "dev_loss") -> None:
        if interval not in ("epoch", "step"):
            raise ValueError(f"SchedulerStep: interval must be 'epoch' or 'step', got {interval!r}")
        if isinstance(scheduler, ReduceLROnPlateau) and interval != "epoch":
            raise ValueError("SchedulerStep: ReduceLROnPlateau needs interval='epoch'")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def on_step_end(self, state: TrainState) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, state: TrainState) -> None:
        if self.interval != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            monitor = self.monitor if self.monitor in state.logs else "train_loss"
            self.scheduler.step(_check_monitor(state, monitor, "SchedulerStep"))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])


class Checkpoint(Callback):
    """Save the whole training state with tg.save every `every` epochs; resume from it.

    The file at `path` holds the model, optimizer, the other callbacks (scheduler, early
    stopping...), the history and the random state (global generator and the train loader's
    own one), so a run killed after epoch k and started again with `resume=True` continues
    at epoch k + 1 and ends with the same weights, bit for bit, as an uninterrupted run.
    `keep_best=True` also writes the model of the best epoch by `monitor` to `best_path`
    ('run/ckpt.tgc2' -> 'run/ckpt.best.tgc2').

    >>> Checkpoint("run/ckpt.tgc2").best_path.as_posix()
    'run/ckpt.best.tgc2'
    """

    order = 100

    def __init__(self, path: str | os.PathLike, every: int = 1, keep_best: bool = False,
                 monitor: str = "dev_loss", mode: str = "auto", resume: bool = True) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint: every must be an int >= 1, got {every!r}")
        self.path = Path(path)
        self.best_path = self.path.with_name(f"{self.path.stem}.best{self.path.suffix}")
        self.every, self.keep_best, self.resume = every, keep_best, resume
        self.monitor, self.mode = monitor, resolve_mode(monitor, mode, "Checkpoint")
        self.best = math.inf if self.mode == "min" else -math.inf
        self.resumed_from: int | None = None

    def _others(self, state: TrainState) -> list[Callback]:
        return [cb for cb in state.callbacks if cb is not self]

    def _save(self, state: TrainState) -> None:
        loader_rng = getattr(state.train_loader, "generator", None)
        payload = {
            "kind": "tinygrad_c2.train.checkpoint",
            "epoch": state.epoch + 1,
            "global_step": state.global_step,
            "stop_training": state.stop_training,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "callbacks": [cb.state_dict() for cb in self._others(state)],
            "callback_types": [type(cb).__name__ for cb in self._others(state)],
            "history": state.history.state_dict(),
            "rng": rng.get_state(),
            "loader_rng": None if loader_rng is None else loader_rng.get_state(),
            "best": self.best,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save(payload, self.path)

    @staticmethod
    def read(path: str | os.PathLike) -> dict[str, Any]:
        """The training state saved at `path` (e.g. its "epoch"), checked to be a Checkpoint's
        file: a ValueError (tg.CheckpointError when the file is damaged) otherwise."""
        saved = load(path)
        if not isinstance(saved, dict) or saved.get("kind") != "tinygrad_c2.train.checkpoint":
            raise ValueError(f"Checkpoint: {path} is not a training checkpoint written by "
                             "tg.train.Checkpoint")
        return saved

    def on_train_begin(self, state: TrainState) -> None:
        if not (self.resume and self.path.exists()):
            return
        saved = self.read(self.path)
        types = [type(cb).__name__ for cb in self._others(state)]
        if types != saved["callback_types"]:
            raise ValueError(f"Checkpoint: {self.path} was saved with callbacks "
                             f"{saved['callback_types']}, this run has {types}; resume with the "
                             "same callbacks (in the same order)")
        state.model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        for cb, cb_state in zip(self._others(state), saved["callbacks"], strict=True):
            cb.load_state_dict(cb_state)
        state.history.load_state_dict(saved["history"])
        rng.set_state(saved["rng"])
        loader_rng = getattr(state.train_loader, "generator", None)
        if loader_rng is not None and saved["loader_rng"] is not None:
            loader_rng.set_state(saved["loader_rng"])
        self.best = float(saved["best"])
        state.start_epoch = state.epoch = int(saved["epoch"])
        state.global_step = int(saved["global_step"])
        state.stop_training = bool(saved["stop_training"])
        self.resumed_from = state.start_epoch
        state.log(f"resumed from {self.path} after epoch {state.start_epoch}")

    def on_epoch_end(self, state: TrainState) -> None:
        if self.keep_best:
            value = _check_monitor(state, self.monitor, "Checkpoint")
            better = value < self.best if self.mode == "min" else value > self.best
            if better:
                self.best = value
                self.best_path.parent.mkdir(parents=True, exist_ok=True)
                save({"model": state.model.state_dict(), "epoch": state.logs["epoch"],
                      self.monitor: value}, self.best_path)
        last = state.epoch + 1 == state.epochs or state.stop_training
        if (state.epoch + 1) % self.every == 0 or last:
            self._save(state)


class GradientMonitor(Callback):
    """Per-layer gradient norms (and activation spreads) each epoch, flagging vanishing/exploding.

    For every Linear layer it records the mean over the epoch's steps of ||dW[l]||_F in the
    history as 'grad_norm[<name>]', and, for a Sequential model, the standard deviation of
    each Linear layer's output on a fixed probe batch (eval mode, so training is not
    disturbed) as 'act_std[<name>]'. In a deep network with poor initialization these shrink
    or grow geometrically with depth (the course's W^L argument); a flag is logged when a
    norm is not finite, above `explode`, below `vanish`, or when the first layer's gradient is
    below `ratio` times the last layer's.
    """

    def __init__(self, vanish: float = 1e-7, explode: float = 1e3, ratio: float = 1e-3,
                 probe_size: int = 256) -> None:
        self.vanish, self.explode, self.ratio, self.probe_size = vanish, explode, ratio, probe_size
        self.flags: list[tuple[int, str]] = []

    def on_train_begin(self, state: TrainState) -> None:
        self._layers = [(name, m) for name, m in state.model.named_modules()
                        if isinstance(m, Linear)]
        self._sums = {name: 0.0 for name, _ in self._layers}
        self._steps = 0
        self._probe = _first_examples(state.train_loader, self.probe_size)

    def on_epoch_begin(self, state: TrainState) -> None:
        self._sums = dict.fromkeys(self._sums, 0.0)
        self._steps = 0

    def on_after_backward(self, state: TrainState) -> None:
        for name, layer in self._layers:
            grad = layer.weight.grad
            if grad is not None:
                self._sums[name] += float(np.linalg.norm(grad._data))
        self._steps += 1

    def on_epoch_end(self, state: TrainState) -> None:
        epoch = state.logs["epoch"]
        norms = {name: total / max(self._steps, 1) for name, total in self._sums.items()}
        for name, value in norms.items():
            state.logs[f"grad_norm[{name}]"] = value
        for name, value in self._activation_stds(state.model).items():
            state.logs[f"act_std[{name}]"] = value
        for message in self._check(norms):
            self.flags.append((epoch, message))
            state.log(f"epoch {epoch}: {message}")

    def _check(self, norms: dict[str, float]) -> list[str]:
        messages = []
        for name, value in norms.items():
            if not math.isfinite(value):
                messages.append(f"exploding gradients: ||dW|| of layer {name} is {value}")
            elif value > self.explode:
                messages.append(f"exploding gradients: ||dW|| of layer {name} is {value:.3g}")
            elif value < self.vanish:
                messages.append(f"vanishing gradients: ||dW|| of layer {name} is {value:.3g}")
        values = list(norms.values())
        if len(values) >= 2 and all(map(math.isfinite, values)) and values[-1] > 0:
            if values[0] < self.ratio * values[-1]:
                first, last = self._layers[0][0], self._layers[-1][0]
                messages.append(f"vanishing gradients: ||dW|| of the first layer ({first}) is "
                                f"{values[0] / values[-1]:.2g} x the last layer's ({last})")
        return messages

    def _activation_stds(self, model: Module) -> dict[str, float]:
        if self._probe is None or not isinstance(model, Sequential):
            return {}
        stds = {}
        was_training = model.training
        model.eval()
        try:
            with no_grad():
                x = self._probe
                for name, module in model.named_children():
                    x = module(x)
                    if isinstance(module, Linear):
                        stds[name] = float(x._data.std())
        finally:
            model.train(was_training)
        return stds

    def state_dict(self) -> dict[str, Any]:
        return {"flags": [[epoch, message] for epoch, message in self.flags]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.flags = [(int(epoch), str(message)) for epoch, message in state["flags"]]


def _first_examples(loader: Any, n: int) -> Tensor | None:
    """The first n training inputs (unshuffled), or None when the loader does not expose them."""
    data = getattr(loader, "dataset", None)
    if isinstance(data, TensorDataset):  # what an (X, y) pair becomes inside DataLoader
        return Tensor(np.array(data.arrays[0][:n]))
    return None


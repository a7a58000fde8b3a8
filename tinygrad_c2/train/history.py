"""History: what `fit` recorded, one row per epoch (and optionally per step); CSV output."""

from __future__ import annotations

import csv
import math
import os
from typing import Any

from .diagnose import Diagnosis


class History:
    """Per-epoch rows (dicts) of losses, metrics, learning rate and time, plus optional steps.

    Row keys: 'epoch' (1-based), 'train_loss', 'train_<metric>', 'dev_loss', 'dev_<metric>'
    (with a dev set), 'batch_loss' (the mean mini-batch loss the optimizer saw, dropout on),
    'lr' (param group 0's, at the epoch's start), 'time' (seconds), and whatever callbacks add
    (GradientMonitor's 'grad_norm[...]'). `history['dev_loss']` is one column as a list.
    After fit: `final` (the returned model evaluated on train/dev), `diagnosis`,
    `stopped_epoch` (set by early stopping), `best_epoch` and `stop_reason` (why fit stopped
    early on a NaN/inf loss, else None).

    >>> h = History()
    >>> h.append({"epoch": 1, "train_loss": 0.5}); h.append({"epoch": 2, "train_loss": 0.25})
    >>> h["train_loss"], len(h)
    ([0.5, 0.25], 2)
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.final: dict[str, float] = {}
        self.diagnosis: Diagnosis | None = None
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None
        self.stop_reason: str | None = None

    def append(self, row: dict[str, Any]) -> None:
        """Add one epoch's row."""
        self.epochs.append(row)

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, key: str) -> list[Any]:
        if not any(key in row for row in self.epochs):
            raise KeyError(f"History: no column {key!r}; columns are {self.columns}")
        return [row.get(key, math.nan) for row in self.epochs]

    def __contains__(self, key: object) -> bool:
        return any(key in row for row in self.epochs)

    @property
    def columns(self) -> list[str]:
        """Every key seen in any row, in first-seen order."""
        seen: dict[str, None] = {}
        for row in self.epochs:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def best(self, monitor: str, mode: str = "auto") -> dict[str, Any]:
        """The row where `monitor` is lowest ('min'; losses) or highest ('max'; accuracies).

        >>> h = History()
        >>> h.append({"epoch": 1, "dev_loss": 0.3}); h.append({"epoch": 2, "dev_loss": 0.2})
        >>> h.best("dev_loss")["epoch"]
        2
        """
        values = self[monitor]
        mode = resolve_mode(monitor, mode, "History.best")
        finite = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not finite:
            raise ValueError(f"History.best: column {monitor!r} holds no numbers")
        pick = min(finite) if mode == "min" else max(finite, key=lambda pair: (pair[0], -pair[1]))
        return self.epochs[pick[1]]

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the epoch rows as CSV, one column per key (empty where a row lacks it)."""
        columns = self.columns
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(self.epochs)

    def state_dict(self) -> dict[str, Any]:
        """Plain data (for checkpoints and metrics.json); `load_state_dict` restores it."""
        return {"epochs": [dict(r) for r in self.epochs], "steps": [dict(r) for r in self.steps],
                "stopped_epoch": self.stopped_epoch, "best_epoch": self.best_epoch,
                "stop_reason": self.stop_reason}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore rows saved by `state_dict` (numbers come back as Python floats/ints)."""
        self.epochs = [dict(r) for r in state["epochs"]]
        self.steps = [dict(r) for r in state["steps"]]
        self.stopped_epoch = state.get("stopped_epoch")
        self.best_epoch = state.get("best_epoch")
        self.stop_reason = state.get("stop_reason")

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items()
                          if isinstance(v, float) and k != "time")
        return f"History({len(self)} epochs{': ' + shown if shown else ''})"


def resolve_mode(monitor: str, mode: str, where: str) -> str:
    """'min' or 'max' for a monitored quantity; 'auto' means min for losses/errors, else max."""
    if mode == "auto":
        return "min" if ("loss" in monitor or "error" in monitor) else "max"
    if mode not in ("min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode

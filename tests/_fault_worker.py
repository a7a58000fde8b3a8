"""Subprocess side of the determinism and fault tests (run by path: tests/ is not a package).

    python tests/_fault_worker.py train OUT [--seed S] [--epochs E] [--pause SECONDS]
        Train a small MLP (batch norm, dropout, Adam, lr decay, early stopping) with fit and a
        Checkpoint every epoch in OUT/ckpt.tgc2; resumes from it when it exists. Prints
        "epoch k" after each epoch (after its checkpoint) and writes OUT/final.tgc2 (weights
        only, so equal runs give equal bytes) and OUT/history.tgc2 at the end. --pause sleeps
        after every step so that a parent can kill the run mid-epoch.

    python tests/_fault_worker.py save-loop PATH
        Save large states to PATH forever, cycling through STATES; prints "ready" once PATH
        holds the first one. The parent SIGKILLs it at random times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.optim.lr_scheduler import InverseTimeDecay
from tinygrad_c2.train import Callback, Checkpoint, EarlyStopping, fit

#: save-loop: 4 states of 2M float64 (16 MB) each, told apart by "i" and by every value
STATES = 4
STATE_SIZE = 2_000_000


def make_state(i: int) -> dict:
    return {"i": i, "w": np.full(STATE_SIZE, float(i)), "meta": {"name": f"state {i}"}}


class Report(Callback):
    """Prints each finished epoch (after the checkpoint) and can slow the steps down."""

    order = 200  # after Checkpoint (100): "epoch k" means epoch k's checkpoint is on disk

    def __init__(self, pause: float) -> None:
        self.pause = pause

    def on_step_end(self, state) -> None:
        if self.pause:
            time.sleep(self.pause)

    def on_epoch_end(self, state) -> None:
        print(f"epoch {state.epoch + 1}", flush=True)


def train(out: Path, seed: int, epochs: int, pause: float) -> None:
    tg.manual_seed(seed)
    X, y = make_moons(300, noise=0.25, seed=seed)
    train_set, dev_set = (X[:240], y[:240]), (X[240:], y[240:])
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    callbacks = [EarlyStopping("dev_loss", patience=50), Checkpoint(out / "ckpt.tgc2"),
                 Report(pause)]
    history = fit(model, nn.CrossEntropyLoss(), opt, train_set, dev_set, epochs=epochs,
                  scheduler=InverseTimeDecay(opt, decay_rate=0.05), callbacks=callbacks,
                  batch_size=32, progress=False, verbose=False)
    tg.save(model.state_dict(), out / "final.tgc2")
    columns = ["train_loss", "dev_loss", "batch_loss", "lr"]
    tg.save({c: history[c] for c in columns}, out / "history.tgc2")
    print("done", flush=True)


def save_loop(path: Path) -> None:
    states = [make_state(i) for i in range(STATES)]
    tg.save(states[0], path)
    print("ready", flush=True)
    i = 0
    while True:
        i = (i + 1) % STATES
        tg.save(states[i], path)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("out", type=Path)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=12)
    t.add_argument("--pause", type=float, default=0.0)
    s = sub.add_parser("save-loop")
    s.add_argument("path", type=Path)
    args = parser.parse_args()
    if args.command == "train":
        args.out.mkdir(parents=True, exist_ok=True)
        train(args.out, args.seed, args.epochs, args.pause)
    else:
        save_loop(args.path)


if __name__ == "__main__":
    sys.exit(main())

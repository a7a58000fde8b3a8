"""Determinism: the same seed gives a bit-identical run, in separate processes (whatever
PYTHONHASHSEED is), through fit and through the tinygrad-c2 CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.train import fit

WORKER = Path(__file__).with_name("_fault_worker.py")


def _env(hash_seed: str) -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = hash_seed  # set and dict orders differ between the two processes
    return env


def _worker(out: Path, *args: str, hash_seed: str = "0") -> None:
    subprocess.run([sys.executable, str(WORKER), "train", str(out), *args], check=True,
                   env=_env(hash_seed), capture_output=True, timeout=120)


def test_the_same_seed_gives_bit_identical_weights_in_two_processes(tmp_path):
    _worker(tmp_path / "a", "--seed", "3", hash_seed="1")
    _worker(tmp_path / "b", "--seed", "3", hash_seed="2")
    _worker(tmp_path / "c", "--seed", "4", hash_seed="1")
    a, b, c = ((tmp_path / d / "final.tgc2").read_bytes() for d in "abc")
    assert a == b  # the whole file: manifest, every weight and buffer, bit for bit
    assert a != c  # ...and the seed matters
    ha, hb = tg.load(tmp_path / "a" / "history.tgc2"), tg.load(tmp_path / "b" / "history.tgc2")
    assert ha == hb  # every epoch's losses and learning rates


def test_the_cli_with_the_same_seed_writes_identical_models(tmp_path):
    def run(out: Path, hash_seed: str) -> None:
        subprocess.run([sys.executable, "-m", "tinygrad_c2", "train", "--epochs", "4",
                        "--no-plots", "--no-progress", "--seed", "5", "--out", str(out)],
                       check=True, env=_env(hash_seed), capture_output=True, timeout=120)

    run(tmp_path / "a", "1")
    run(tmp_path / "b", "2")
    a, b = tg.load(tmp_path / "a" / "model.tgc2"), tg.load(tmp_path / "b" / "model.tgc2")
    assert list(a["model"]) == list(b["model"])
    for key in a["model"]:
        assert a["model"][key].tobytes() == b["model"][key].tobytes(), key
    ca, cb = (tg.load(tmp_path / d / "checkpoint.tgc2") for d in "ab")
    assert ca["rng"] == cb["rng"] and ca["global_step"] == cb["global_step"]


def test_manual_seed_replays_a_fit_in_process_bit_for_bit():
    def run() -> list[bytes]:
        tg.manual_seed(7)
        X, y = make_moons(200, noise=0.2, seed=1)
        model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                              nn.Linear(8, 2))
        fit(model, nn.CrossEntropyLoss(), optim.RMSprop(model.parameters(), lr=0.01), (X, y),
            epochs=3, batch_size=16, progress=False, verbose=False)
        return [v.tobytes() for v in model.state_dict().values()]

    assert run() == run()


def test_the_same_seed_gives_the_same_init_dropout_masks_and_shuffles():
    def draws() -> list[np.ndarray]:
        tg.manual_seed(11)
        layer = nn.Linear(5, 4)
        mask = nn.functional.dropout(tg.ones(3, 4), p=0.5).numpy()
        loader = tg.data.DataLoader((np.arange(10.0)[:, None], np.arange(10)), batch_size=10,
                                     shuffle=True)
        (_, order), = list(loader)
        return [layer.weight.numpy().copy(), mask, order.numpy()]

    for a, b in zip(draws(), draws(), strict=True):
        assert a.tobytes() == b.tobytes()

"""`tinygrad-c2 tune`: space flags, an end-to-end search on a tiny data set, and the plot."""

import argparse
import csv
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_c2.tune import (
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    SearchResult,
    Uniform,
    coarse_to_fine,
    random_search,
    sample_config,
)
from tinygrad_c2.tune._testing import bowl_sometimes_fails
from tinygrad_c2.tune.cli import TrainObjective, add_tune_command

TINY = ["tune", "--dataset", "moons", "--samples", "150", "--layers", "8", "--epochs", "3",
        "--no-batchnorm", "--dropout", "0", "--no-progress", "--no-plots"]


def parse(argv):
    parser = argparse.ArgumentParser(prog="tinygrad-c2")
    add_tune_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_tunable_flags_take_spaces_or_plain_values():
    args = parse(["tune", "--lr", "log:1e-4:1e-1", "--beta1", "one-minus-log:0.9:0.999",
                  "--hidden", "int:32:256", "--activation", "choice:relu,tanh",
                  "--batch-size", "choice:32,64", "--dropout", "0.1", "--optimizer", "adam"])
    assert args.lr == LogUniform(1e-4, 1e-1)
    assert args.beta1 == OneMinusLogUniform(0.9, 0.999)
    assert args.hidden == IntUniform(32, 256)
    assert args.activation == Choice(["relu", "tanh"])
    assert args.batch_size == Choice([32, 64])
    assert args.dropout == 0.1 and args.optimizer == "adam"
    assert (args.trials, args.rounds, args.workers, args.scheduler) == (20, 1, 1, None)


@pytest.mark.parametrize("argv, message", [
    (["--lr", "log:1e-4"], "expected log:LO:HI"),
    (["--dropout", "uniform:0:1.5"], "expected a drop probability"),
    (["--activation", "choice:relu,gelu"], "'gelu' is not one of"),
    (["--activation", "log:1:2"], "--activation takes choice:A,B,C"),
    (["--batch-size", "log:16:256"], "--batch-size takes int:LO:HI or choice:A,B,C"),
    (["--beta2", "uniform:0.9:1.0"], "expected a beta in"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with argument"),
])
def test_bad_space_flags_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse(["tune", *argv])
    assert message in capsys.readouterr().err


def test_a_tune_run_writes_a_reproducible_results_table(tmp_path, capsys):
    argv = [*TINY, "--lr", "log:1e-3:1", "--hidden", "int:4:16", "--trials", "3",
            "--rounds", "2", "--seed", "1"]
    args_a = parse([*argv, "--out", str(tmp_path / "a")])
    assert args_a.handler(args_a) == 0
    out = capsys.readouterr().out
    assert "tuning lr, hidden on moons: 2 rounds x 3 trials, dev_accuracy (max)" in out
    assert "best: lr=" in out
    args_b = parse([*argv, "--out", str(tmp_path / "b")])
    assert args_b.handler(args_b) == 0
    a = SearchResult.from_json(tmp_path / "a" / "results.json")
    b = SearchResult.from_json(tmp_path / "b" / "results.json")
    assert len(a) == 6 and a.method == "coarse-to-fine" and not a.failed
    assert [r["metrics"] for r in a.records] == [r["metrics"] for r in b.records]
    assert {"dev_loss", "dev_accuracy", "train_loss", "epochs"} <= set(a.records[0]["metrics"])
    with open(tmp_path / "a" / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header[:5] == ["trial", "round", "seed", "lr", "hidden"]


def test_the_trial_seed_and_hyperparameters_reach_the_model():
    objective = TrainObjective(parse([*TINY, "--lr", "log:1e-3:1"]))
    objective = pickle.loads(pickle.dumps(objective))  # what a process pool or Dask sends
    config = {"lr": 0.05, "seed": 5}
    again = objective(dict(config))
    assert objective(config) == again
    assert objective({"lr": 0.05, "seed": 6}) != again
    assert objective({"lr": 0.3, "seed": 5}) != again


def test_beta_flags_set_the_optimizer_hyperparameters():
    from tinygrad_c2 import nn, optim
    from tinygrad_c2.tune.cli import _set_betas

    model = nn.Linear(2, 2)
    adam = optim.Adam(model.parameters(), lr=0.1)
    _set_betas(adam, argparse.Namespace(optimizer="adam", beta1=0.8, beta2=0.99))
    assert adam.param_groups[0]["betas"] == (0.8, 0.99)
    rmsprop = optim.RMSprop(model.parameters(), lr=0.1)
    _set_betas(rmsprop, argparse.Namespace(optimizer="rmsprop", beta1=None, beta2=0.95))
    assert rmsprop.param_groups[0]["alpha"] == 0.95


def test_tune_without_a_space_or_with_a_beta_the_optimizer_lacks_is_an_error(tmp_path):
    args = parse([*TINY, "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="nothing to tune: give at least one flag a space"):
        args.handler(args)
    args = parse([*TINY, "--optimizer", "sgd", "--beta1", "uniform:0.8:0.9"])
    with pytest.raises(ValueError, match="--beta1 applies to --optimizer momentum, adam"):
        args.handler(args)


def test_the_plot_puts_each_hyperparameter_on_its_own_scale(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_c2.tune.plots import plot_search

    space = {"lr": LogUniform(1e-4, 1e-1), "beta": OneMinusLogUniform(0.9, 0.999),
             "x": Uniform(0, 1), "act": Choice(["relu", "tanh"])}

    def objective(config):  # fails for x > 0.7, diverges (NaN) for x < 0.1
        metrics = bowl_sometimes_fails(config)
        return {"dev_loss": math.nan} if config["x"] < 0.1 else metrics

    result = coarse_to_fine(objective, space, 2, 8, seed=0, metric="dev_loss", mode="min",
                            progress=False)
    assert result.failed
    fig = plot_search(result, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    axes = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_visible()}
    assert axes["lr (log scale)"].get_xscale() == "log"
    assert axes["beta (one-minus-log scale)"].get_xscale() == "function"
    assert axes["x (linear scale)"].get_xscale() == "linear"
    assert [t.get_text() for t in axes["act (categorical scale)"].get_xticklabels()] == \
        ["relu", "tanh"]
    # 0.9, 0.99 and 0.999 are evenly spaced along the one-minus-log axis
    to_display = axes["beta (one-minus-log scale)"].transData.transform
    xs = [to_display((b, 0.0))[0] for b in (0.9, 0.99, 0.999)]
    assert xs[2] - xs[1] == pytest.approx(xs[1] - xs[0], rel=1e-6)


def test_plot_search_names_a_missing_hyperparameter():
    pytest.importorskip("matplotlib")
    from tinygrad_c2.tune.plots import plot_search

    result = random_search(bowl_sometimes_fails, {"lr": LogUniform(1e-3, 1e-1),
                                                  "x": Uniform(0, 0.5)}, 2, seed=0,
                           metric="dev_loss", mode="min", progress=False)
    with pytest.raises(ValueError, match=r"plot_search: no searched hyperparameter named \['y'\]"):
        plot_search(result, names=["y"])


def test_json_round_trip_keeps_nan_metrics_as_nan(tmp_path):
    def objective(config):
        return {"dev_loss": math.nan if config["x"] > 0.5 else config["x"]}

    result = random_search(objective, {"x": Uniform(0, 1)}, 6, seed=0, metric="dev_loss",
                           mode="min", progress=False)
    again = SearchResult.from_json(result.to_json(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["best_trial"] == result.best["trial"]
    assert [math.isnan(r["metrics"]["dev_loss"]) for r in again.records] == \
        [r["config"]["x"] > 0.5 for r in result.records]
    assert again.best == result.best


# --------------------------------------------------------------- killed searches (subprocesses)

ROOT = Path(__file__).resolve().parent.parent
SLOW = [*TINY, "--epochs", "60", "--early-stopping", "0", "--batch-size", "16",
        "--lr", "log:1e-3:1", "--trials", "8", "--seed", "1"]


def command(*argv):
    return [sys.executable, "-m", "tinygrad_c2", *argv]


def environment(*paths):
    """This worktree first on the path (also in the workers), then `paths`."""
    parts = [*map(str, paths), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in parts if p)}


def comparable(result):
    return [{k: v for k, v in r.items() if k != "duration"} for r in result.records]


def test_a_killed_tune_command_resumes_to_the_uninterrupted_result(tmp_path):
    args = parse([*SLOW, "--out", str(tmp_path / "whole")])
    assert args.handler(args) == 0
    expected = SearchResult.from_json(tmp_path / "whole" / "results.json")
    out = tmp_path / "killed"
    journal = out / "trials.jsonl"
    process = subprocess.Popen(command(*SLOW, "--out", str(out)), env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (journal.exists() and journal.read_text().count("\n") >= 1 + 2):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no trial finished in 120 s"
            time.sleep(0.01)
        assert process.poll() is None, "the search ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.stderr.close()
    finished = journal.read_text().count("\n") - 1  # complete lines after the header
    assert 2 <= finished < 8 and not (out / "results.json").exists()
    resumed = subprocess.run(command(*SLOW, "--out", str(out), "--resume"), env=environment(),
                             capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    got = SearchResult.from_json(out / "results.json")
    assert comparable(got) == comparable(expected)
    trials = [json.loads(line)["trial"] for line in journal.read_text().splitlines()[1:]]
    assert sorted(trials) == list(range(8))  # each trial ran once: none ran again on resume


KILLER = '''
"""Test helper: trial {trial} of the tune command SIGKILLs the worker process that runs it."""
import os
import signal

from tinygrad_c2.tune import cli

_train = cli.TrainObjective.__call__


def _call(self, config):
    if config["seed"] == {seed}:
        os.kill(os.getpid(), signal.SIGKILL)
    return _train(self, config)


cli.TrainObjective.__call__ = _call
'''


def test_tune_exits_non_zero_and_names_the_trial_whose_worker_always_dies(tmp_path):
    site = tmp_path / "site"
    site.mkdir()  # sitecustomize runs at the start of every Python process: the workers too
    kill_seed = sample_config({}, 1, 3)[1]
    (site / "sitecustomize.py").write_text(KILLER.format(trial=3, seed=kill_seed))
    out = tmp_path / "out"
    run = subprocess.run(command(*TINY, "--lr", "log:1e-3:1", "--trials", "6", "--seed", "1",
                                 "--workers", "2", "--retries", "1", "--out", str(out)),
                         env=environment(site), capture_output=True, text=True, timeout=180)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 of 6 trials lost, never finished:\n  trial 3: lr=" in run.stderr
    assert "BrokenProcessPool" in run.stderr and f"--resume --out {out}" in run.stderr
    result = SearchResult.from_json(out / "results.json")
    assert [r["trial"] for r in result.lost] == [3] and len(result.failed) == 1
    assert "lost 2 times, the last time running alone" in result.lost[0]["error"]


def test_resume_needs_the_folder_and_the_same_flags(tmp_path):
    argv = [*TINY, "--lr", "log:1e-3:1", "--trials", "2", "--out", str(tmp_path)]
    args = parse(argv)
    assert args.handler(args) == 0
    args = parse(argv)
    with pytest.raises(ValueError, match=r"already holds a search \(trials.jsonl\): pass "
                                         "--resume"):
        args.handler(args)
    args = parse([*argv, "--resume", "--epochs", "4"])
    with pytest.raises(ValueError, match=r"holds a search with other flags \(--epochs 3 -> 4\)"):
        args.handler(args)
    args = parse([*argv[:-2], "--resume"])
    with pytest.raises(ValueError, match="--resume needs --out DIR"):
        args.handler(args)
    args = parse([*argv, "--resume", "--workers", "2"])  # where it runs may change
    assert args.handler(args) == 0


def test_a_trial_batches_like_the_train_command_under_batch_norm():
    # NOTE: 150 moons split 0.6 give 90 training examples: --batch-size 89 leaves a last batch
    # of one, which batch norm cannot train on; train drops it, and a trial must do the same.
    flags = [f for f in TINY if f != "--no-batchnorm"]
    objective = TrainObjective(parse([*flags, "--batch-size", "89", "--lr", "log:1e-3:1"]))
    result = objective({"lr": 0.05, "seed": 0})
    assert np.isfinite(result["train_loss"]) and result["epochs"] == 3
    single = TrainObjective(parse([*flags, "--batch-size", "1", "--lr", "log:1e-3:1"]))
    with pytest.raises(ValueError, match="--batch-size 1 with batch norm"):
        single({"lr": 0.05, "seed": 0})

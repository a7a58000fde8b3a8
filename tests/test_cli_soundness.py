"""`tinygrad-c2 train` refuses what it cannot do honestly, in one line and before writing anything:
a --resume that would run other settings than the run's config.json, a missing checkpoint, an
unusable --out, a batch of one under batch norm, a split with an empty set, bad numbers."""

import json
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_c2 as tg

SMALL = ["--dataset", "moons", "--samples", "200", "--layers", "8", "--epochs", "3",
         "--no-progress", "--no-plots"]


def train(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinygrad_c2", "train", *flags],
                          capture_output=True, text=True, timeout=120)


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def one_line_error(done: subprocess.CompletedProcess, code: int = 2) -> str:
    """The refusal's only stderr line (no traceback, no usage block)."""
    assert done.returncode == code, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith("tinygrad-c2 train: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 3-epoch moons run (its folder is only read by the tests that share it)."""
    out = tmp_path_factory.mktemp("run")
    done = train(*SMALL, "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


# ------------------------------------------------------------------------------------- resume

@pytest.mark.parametrize(
    ("flags", "differences"),
    [
        (["--lr", "0.01"], ["--lr: saved 0.003 vs given 0.01"]),
        (["--optimizer", "sgd"], ["--optimizer: saved adam vs given sgd"]),
        (["--layers", "16,4", "--dataset", "circles"],
         ["--dataset: saved moons vs given circles", "--layers: saved 8 vs given 16,4"]),
        (["--no-batchnorm", "--seed", "3"],
         ["--seed: saved 0 vs given 3", "--batchnorm: saved True vs given False"]),
        (["--early-stopping", "0"], ["--early-stopping: saved 20 vs given 0"]),
    ],
)
def test_resume_with_other_settings_is_refused_and_writes_nothing(finished_run, flags,
                                                                  differences):
    before = snapshot(finished_run)
    done = train(*SMALL, "--out", str(finished_run), "--resume", *flags)
    line = one_line_error(done)
    for difference in differences:
        assert difference in line
    assert "start a new run" in line and "--out" in line
    assert snapshot(finished_run) == before  # config.json, checkpoint and outputs untouched
    assert done.stdout == ""


def test_resume_takes_the_saved_config_and_ends_like_an_uninterrupted_run(tmp_path):
    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    assert train(*SMALL, "--out", str(resumed)).returncode == 0
    # Only the run folder and more epochs: the layers, data and optimizer come from config.json;
    # a flag given with its saved value (--layers 8) is no difference.
    done = train("--out", str(resumed), "--resume", "--epochs", "5", "--layers", "8",
                 "--no-progress", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "changed --epochs 5 (was 3)" in done.stdout
    assert "training MLP 2-8-1" in done.stdout
    assert "on moons: 120 train / 40 dev / 40 test" in done.stdout
    assert "resumed from" in done.stdout and "after epoch 3" in done.stdout
    config = json.loads((resumed / "config.json").read_text())
    assert config["epochs"] == 5 and config["layers"] == [8] and config["dataset"] == "moons"
    assert json.loads((resumed / "metrics.json").read_text())["epochs_run"] == 5

    assert train(*SMALL, "--epochs", "5", "--out", str(straight)).returncode == 0
    a, b = tg.load(resumed / "model.tgc2")["model"], tg.load(straight / "model.tgc2")["model"]
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def copy_of(run, folder):
    folder.mkdir()
    for name, data in snapshot(run).items():
        (folder / name).write_bytes(data)
    return folder


def test_resume_may_change_the_early_stopping_patience_and_says_so(finished_run, tmp_path):
    out = copy_of(finished_run, tmp_path / "copy")
    done = train("--out", str(out), "--resume", "--early-stopping", "30", "--no-progress",
                 "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "changed --early-stopping 30 (was 20)" in done.stdout
    assert json.loads((out / "config.json").read_text())["early_stopping"] == 30


def test_resume_of_a_finished_run_says_nothing_is_left_to_train(finished_run, tmp_path):
    out = copy_of(finished_run, tmp_path / "copy")
    done = train("--out", str(out), "--resume", "--no-progress", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "the run ended at epoch 3: nothing is left to train" in done.stdout
    assert "epoch 1/3" not in done.stdout and "epoch 3/3" not in done.stdout
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 3


def test_resume_on_a_changed_csv_file_is_refused(tmp_path):
    path, out = tmp_path / "data.csv", tmp_path / "run"
    rows = [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    flags = ["--dataset", f"csv:{path}", "--layers", "4", "--epochs", "2", "--no-progress",
             "--no-plots", "--out", str(out)]
    assert train(*flags).returncode == 0
    path.write_text("\n".join(rows + rows[:10]) + "\n")  # 10 more examples
    before = snapshot(out)
    line = one_line_error(train(*flags, "--resume", "--epochs", "4"))
    assert "the data set csv:" in line and "changed since the run started" in line
    assert "sizes: saved {'train': 24, 'dev': 8, 'test': 8} vs now" in line
    assert snapshot(out) == before


def test_resume_from_a_damaged_checkpoint_is_one_line_and_writes_nothing(finished_run,
                                                                         tmp_path):
    out = copy_of(finished_run, tmp_path / "copy")
    (out / "checkpoint.tgc2").write_bytes(b"junk")
    before = snapshot(out)
    done = train("--out", str(out), "--resume", "--no-progress", "--no-plots")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"tinygrad-c2 train: tg.load: {out}/checkpoint.tgc2: not a tinygrad_c2 checkpoint "
        "(bad magic bytes)"]
    assert snapshot(out) == before


def test_resume_to_fewer_epochs_than_the_checkpoint_holds_is_refused(finished_run):
    before = snapshot(finished_run)
    line = one_line_error(train("--out", str(finished_run), "--resume", "--epochs", "2"))
    assert "--epochs 2" in line and "after epoch 3" in line
    assert snapshot(finished_run) == before


def test_resume_without_a_checkpoint_says_so_and_creates_nothing(tmp_path):
    out = tmp_path / "new"
    line = one_line_error(train(*SMALL, "--out", str(out), "--resume"))
    assert "--resume: no checkpoint" in line and "checkpoint.tgc2" in line
    assert not out.exists()
    out.mkdir()
    (out / "config.json").write_text("{}\n")  # a run killed before its first checkpoint
    one_line_error(train(*SMALL, "--out", str(out), "--resume"))
    assert snapshot(out) == {"config.json": b"{}\n"}


def test_resume_without_out_names_the_flag():
    line = one_line_error(train(*SMALL, "--resume"))
    assert "--resume needs --out" in line


# ---------------------------------------------------------------------------------------- --out

@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_unusable_out_is_one_line_and_no_traceback(tmp_path, where):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine\n")
    out = blocker if where == "a file" else blocker / "run"
    line = one_line_error(train(*SMALL, "--out", str(out)))
    assert f"--out {out}" in line
    assert blocker.read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [blocker]


# ----------------------------------------------------------------------------------- batch norm

def test_batch_size_one_with_batch_norm_is_refused_upfront_naming_both_flags(tmp_path):
    out = tmp_path / "run"
    line = one_line_error(train(*SMALL, "--batch-size", "1", "--out", str(out)))
    assert "--batch-size 1" in line and "--no-batchnorm" in line
    assert not out.exists()
    done = train(*SMALL, "--batch-size", "1", "--no-batchnorm", "--epochs", "1",
                 "--out", str(out))
    assert done.returncode == 0, done.stderr  # stochastic gradient descent without batch norm


def test_a_last_batch_of_one_is_dropped_with_batch_norm_and_training_ends(tmp_path):
    out = tmp_path / "run"
    # 120 training examples = 17 batches of 7 + 1
    done = train(*SMALL, "--batch-size", "7", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "epoch 3/3" in done.stdout and "accuracy: train" in done.stdout
    assert "the last mini-batch of each epoch holds 1 example" in done.stdout
    assert "dropped" in done.stdout
    assert json.loads((out / "metrics.json").read_text())["epochs_run"] == 3


def test_gradcheck_of_one_example_with_batch_norm_is_refused():
    done = subprocess.run([sys.executable, "-m", "tinygrad_c2", "gradcheck", "--dataset", "moons",
                           "--samples", "40", "--examples", "1"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--examples 1" in lines[0] and "--no-batchnorm" in lines[0]


# ---------------------------------------------------------------------------------------- split

@pytest.mark.parametrize(
    ("flags", "sizes"),
    [
        (["--samples", "2"], "2 train / 0 dev / 0 test"),
        (["--split", "1,0,0"], "200 train / 0 dev / 0 test"),
    ],
)
def test_a_split_with_an_empty_set_is_refused_before_training(tmp_path, flags, sizes):
    out = tmp_path / "run"
    line = one_line_error(train(*SMALL, *flags, "--out", str(out)))
    assert sizes in line and "--split" in line
    assert not out.exists()


def test_a_split_without_a_test_set_is_allowed(tmp_path):
    done = train(*SMALL, "--split", "0.8,0.2,0", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert "160 train / 40 dev / 0 test" in done.stdout


# -------------------------------------------------------------------------------- numeric flags

@pytest.mark.parametrize(
    ("command", "flags", "message"),
    [
        ("train", ["--seed", "-1"], "argument --seed: '-1': expected an integer >= 0"),
        ("train", ["--samples", "0"], "argument --samples: '0': expected a positive integer"),
        ("train", ["--noise", "-0.1"], "argument --noise: '-0.1': expected a number >= 0"),
        ("train", ["--noise", "nan"], "argument --noise: 'nan': expected a number >= 0"),
        ("train", ["--decay-rate", "x"], "argument --decay-rate: 'x': expected a number >= 0"),
        ("train", ["--batch-size", "2.5"],
         "argument --batch-size: '2.5': expected a positive integer"),
        ("gradcheck", ["--eps", "0"], "argument --eps: '0': expected a number > 0"),
        ("gradcheck", ["--seed", "1e3"], "argument --seed: '1e3': expected an integer >= 0"),
    ],
)
def test_a_bad_number_names_its_flag_in_one_error_line(command, flags, message):
    done = subprocess.run([sys.executable, "-m", "tinygrad_c2", command, *flags],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == f"tinygrad-c2 {command}: error: {message}"

"""The `tinygrad-c2` command: train end to end in a subprocess, gradcheck, graph, flag errors."""

import argparse
import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import cli, nn

SMALL = ["--dataset", "moons", "--samples", "200", "--layers", "8", "--epochs", "3",
         "--no-progress"]


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_train_runs_end_to_end_and_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "tinygrad_c2", "train", *SMALL, "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for line in ("training MLP 2-8-1", "epoch 3/3", "diagnosis: train error", "accuracy: train"):
        assert line in done.stdout
    expected = {"config.json", "metrics.json", "history.csv", "checkpoint.tgc2", "model.tgc2"}
    if has_matplotlib():
        expected |= {"curves.png", "gradients.png"}
    if shutil.which("dot"):
        expected.add("graph.svg")
    assert expected <= {p.name for p in out.iterdir()}
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"train", "dev", "test", "diagnosis", "epochs_run"}
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and metrics["epochs_run"] == 3
    assert metrics["diagnosis"]["verdict"]
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "moons" and config["layers"] == [8]
    assert config["sizes"] == {"train": 120, "dev": 40, "test": 40}
    with (out / "history.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    saved = tg.serialization.load(out / "model.tgc2")
    assert set(saved) == {"model", "standardizer", "config"}
    assert saved["model"]["0.weight"].shape == (8, 2)


@pytest.mark.skipif(shutil.which("tinygrad-c2") is None, reason="console script not installed")
def test_the_console_script_is_installed():
    done = subprocess.run(["tinygrad-c2", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "train" in done.stdout and "gradcheck" in done.stdout


def test_train_resumes_from_the_checkpoint_in_the_run_folder(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli.main(["train", *SMALL, "--out", out, "--no-plots"]) == 0
    assert cli.main(["train", *SMALL, "--out", out, "--no-plots", "--resume",
                     "--epochs", "5"]) == 0
    text = capsys.readouterr().out
    assert "resumed from" in text and "after epoch 3" in text and "epoch 5/5" in text
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs_run"] == 5


def test_train_degrades_with_a_note_without_matplotlib_and_graphviz(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr("tinygrad_c2.viz.render.dot_available", lambda: False)
    assert cli.main(["train", *SMALL, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert 'note: no PNG curves: plotting needs matplotlib: pip install "tinygrad_c2[plot]"' in text
    assert "note: no graph.svg" in text and "Graphviz" in text
    assert (tmp_path / "metrics.json").exists() and not (tmp_path / "curves.png").exists()


def test_train_reads_a_csv_file_with_a_header_and_text_labels(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.csv"
    with path.open("w") as handle:
        handle.write("a,b,c,label\n")
        for i in range(60):
            x = rng.normal(size=3) + (2 if i % 3 == 0 else 0)
            handle.write(f"{x[0]},{x[1]},{x[2]},{['cat', 'dog', 'eel'][i % 3]}\n")
    assert cli.main(["train", "--dataset", f"csv:{path}", "--epochs", "2", "--layers", "4",
                     "--no-progress", "--no-plots", "--out", str(tmp_path / "r")]) == 0
    assert "MLP 3-4-3" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--layers", "64,x"], "argument --layers: '64,x': expected hidden-layer sizes"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["--dropout", "1.5"], "expected a drop probability in [0, 1)"),
        (["--split", "0.5,0.5"], "expected train,dev,test fractions adding up to 1"),
        (["--epochs", "0"], "argument --epochs: '0': expected a positive integer"),
        (["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (["--dataset", "mnist:/no/such/folder"], "expected a folder holding the MNIST IDX files"),
        (["--dataset", "csv:/no/such.csv"], "no file '/no/such.csv'; expected a CSV file"),
        (["--lr", "fast"], "argument --lr: 'fast': expected a number >= 0"),
    ],
)
def test_bad_flags_get_argparse_errors_that_say_what_was_expected(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *flags])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: tinygrad-c2 train" in err and message in err


def test_a_missing_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "required: COMMAND" in capsys.readouterr().err


def test_gradcheck_prints_the_per_parameter_table_and_the_verdict(capsys):
    code = cli.main(["gradcheck", "--dataset", "moons", "--samples", "60", "--layers", "5",
                     "--examples", "8"])
    text = capsys.readouterr().out
    assert code == 0
    assert "gradient check PASSED" in text and "great" in text
    for name in ("0.weight", "1.weight", "1.bias", "4.weight", "4.bias"):
        assert f"  {name} " in text   # batch norm is layer 1, the output Linear is layer 4
    assert "  0.bias " not in text    # no bias before batch norm: its gradient would be 0


def test_gradcheck_fails_with_exit_code_1_when_backward_is_wrong(capsys, monkeypatch):
    from tinygrad_c2.function import Function

    class BadTanh(Function):
        """tanh with the derivative off by a factor of 2 (a planted bug)."""

        @staticmethod
        def forward(ctx, x):
            y = np.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return 2 * g * (1 - y * y)

    monkeypatch.setattr(nn.Tanh, "forward", lambda self, x: BadTanh.apply(x))
    code = cli.main(["gradcheck", "--dataset", "moons", "--samples", "60", "--layers", "4",
                     "--activation", "tanh", "--no-batchnorm", "--dropout", "0",
                     "--examples", "8"])
    assert code == 1
    assert "gradient check FAILED" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_writes_an_svg_of_one_training_step(tmp_path, capsys):
    path = tmp_path / "step.svg"
    assert cli.main(["graph", "--dataset", "moons", "--samples", "40", "-o", str(path)]) == 0
    assert path.read_text().lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "wrote" in capsys.readouterr().out


def test_graph_without_graphviz_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("tinygrad_c2.viz.render.dot_available", lambda: False)
    code = cli.main(["graph", "--dataset", "moons", "--samples", "40",
                     "-o", str(tmp_path / "g.svg")])
    assert code == 1
    assert "install Graphviz" in capsys.readouterr().err


def test_model_flags_are_reusable_by_other_sub_commands():
    parser = argparse.ArgumentParser()
    cli.add_model_arguments(parser)
    args = parser.parse_args(["--layers", "6,3", "--no-batchnorm", "--dropout", "0",
                              "--activation", "tanh", "--init", "xavier"])
    model = cli.build_model(args, 4, 2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [6, 3, 2]
    assert np.all(model[0].bias.data == 0)   # the course's init zeroes the biases
    # xavier (course): N(0, 1) * sqrt(1 / fan_in); the sample std is close to 0.5 for fan_in 4
    assert 0.2 < model[0].weight.data.std() < 0.9


def test_bench_subcommand_hands_its_flags_to_the_benchmark(capsys):
    from tinygrad_c2 import cli

    with pytest.raises(SystemExit) as done:
        cli.main(["bench", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tinygrad-c2 bench") and "--workload" in out


def test_train_with_a_huge_learning_rate_saves_the_last_finite_model_and_says_so(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "tinygrad_c2", "train", *SMALL, "--batchnorm",
                           "--lr", "1e308", "--no-plots", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "epoch 1, step 1: the update made 0.weight" in done.stdout
    assert "not finite" in done.stdout and "those from before training" in done.stdout
    saved = tg.serialization.load(out / "model.tgc2")
    for name, value in saved["model"].items():
        assert np.isfinite(value).all(), name
    # "before training" is exactly true: the saved weights are the seed's initial ones
    tg.manual_seed(0)
    initial = cli.build_model(cli.build_parser().parse_args(
        ["train", *SMALL, "--batchnorm"]), 2, 1).state_dict()
    for name, value in initial.items():
        np.testing.assert_array_equal(saved["model"][name], value, err_msg=name)

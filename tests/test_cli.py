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
from tinygrad_c2.cli.predict import saved_model

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


def _run(*argv, timeout=120):
    return subprocess.run([sys.executable, "-m", "tinygrad_c2", *argv], capture_output=True,
                          text=True, timeout=timeout)


def _three_clusters(path, labels=(10, 2, 7), m=150):
    """Well-separated 2-D clusters with the given labels, in row order 10, 2, 7, 10, ..."""
    rng = np.random.default_rng(0)
    centres = {label: (4 * np.cos(2 * k), 4 * np.sin(2 * k)) for k, label in enumerate(labels)}
    truth = [labels[i % len(labels)] for i in range(m)]
    with path.open("w") as handle:
        handle.write("x1,x2,label\n")
        for label in truth:
            x = rng.normal(size=2) * 0.3 + centres[label]
            handle.write(f"{x[0]},{x[1]},{label}\n")
    return [str(label) for label in truth]


def test_csv_labels_round_trip_from_train_to_predict_in_their_own_spelling(tmp_path):
    path = tmp_path / "clusters.csv"
    truth = _three_clusters(path)
    out = tmp_path / "run"
    done = _run("train", "--dataset", f"csv:{path}", "--layers", "8", "--epochs", "30", "--lr",
                "0.05", "--batch-size", "16",
                "--no-progress", "--no-plots", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "MLP 2-8-3" in done.stdout
    # class index -> original label, numeric order (not "10" < "2"), in both saved places
    assert json.loads((out / "config.json").read_text())["classes"] == ["2", "7", "10"]
    assert tg.load(out / "model.tgc2")["config"]["classes"] == ["2", "7", "10"]
    done = _run("predict", "--model", str(out / "model.tgc2"), "--data", str(path))
    assert done.returncode == 0, done.stderr
    predicted = done.stdout.split()
    assert len(predicted) == len(truth) and set(predicted) == {"2", "7", "10"}
    right = sum(p == t for p, t in zip(predicted, truth, strict=True))
    assert right >= 0.9 * len(truth)
    assert f"({right} of {len(truth)} rows of" in done.stderr
    # the same rows without labels, written to a file
    unlabelled = tmp_path / "new.csv"
    unlabelled.write_text("".join(",".join(line.split(",")[:2]) + "\n"
                                  for line in path.read_text().splitlines()[1:]))
    written = tmp_path / "predictions.csv"
    done = _run("predict", "--model", str(out / "model.tgc2"), "--data", str(unlabelled),
                "--output", str(written))
    assert done.returncode == 0, done.stderr
    assert written.read_text().split() == ["label", *predicted] and done.stderr == ""


def test_predict_refuses_a_file_that_is_not_a_model_and_data_of_the_wrong_width(tmp_path):
    path = tmp_path / "clusters.csv"
    _three_clusters(path, m=30)
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", f"csv:{path}", "--layers", "4", "--epochs", "1",
                     "--no-progress", "--no-plots", "--out", str(out)]) == 0
    done = _run("predict", "--model", str(out / "checkpoint.tgc2"), "--data", str(path))
    assert done.returncode == 1 and "not a model.tgc2 written by tinygrad-c2 train" in done.stderr
    done = _run("predict", "--model", str(out / "model.tgc2"), "--data", str(path),
                "--output", str(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"cannot write --output {tmp_path}: Is a directory" in done.stderr
    wide = tmp_path / "wide.csv"
    wide.write_text("1,2,3,4\n5,6,7,8\n")
    done = _run("predict", "--model", str(out / "model.tgc2"), "--data", str(wide))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "rows have 4 fields; the model expects 2 feature columns" in done.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b,label\n1,2,x\n3,nan,y\n", "row 3, column 2 (b): 'nan' is not a finite number"),
        ("a,label\n1,cat\n2,cat\n", "every row has the label 'cat'"),
        ("1,2,0,\n3,4,1,\n", "row 1, column 4: an empty label (a trailing comma"),
        (b"a,label\n1,caf\xe9\n2,x\n", "(line 2) is 0xE9, not UTF-8; re-save the file as UTF-8"),
    ],
)
def test_train_refuses_a_bad_csv_in_one_line_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    done = _run("train", "--dataset", f"csv:{path}", "--epochs", "1", "--no-progress",
                "--no-plots", "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"tinygrad-c2 train: load_csv: {path}: ")
    assert message in done.stderr and len(done.stderr.splitlines()) == 1


def test_train_on_a_csv_with_a_bom_keeps_every_row_and_merges_1_and_1_point_0(tmp_path, capsys):
    path = tmp_path / "bom.csv"
    rows = [f"{i},{i % 2},{['1', '1.0', '2'][i % 3]}" for i in range(30)]
    path.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", f"csv:{path}", "--layers", "4", "--epochs", "1",
                     "--no-progress", "--no-plots", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert sum(config["sizes"].values()) == 30
    assert config["classes"] == ["1", "2"] and config["n_outputs"] == 1


def test_train_refuses_mnist_labels_that_are_not_class_indices_before_building_a_model(
        tmp_path):
    images = np.zeros((40, 28, 28), np.uint8)
    labels = np.arange(40, dtype=np.int32) % 2
    labels[7] = 900000
    tg.data.write_idx(images, tmp_path / "train-images-idx3-ubyte.gz")
    tg.data.write_idx(labels, tmp_path / "train-labels-idx1-ubyte.gz")
    done = _run("train", "--dataset", f"mnist:{tmp_path}", "--epochs", "1", "--no-progress",
                "--no-plots", "--out", str(tmp_path / "run"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "train-labels-idx1-ubyte.gz: label 900000 at index 7 is outside [0, 1000)" in done.stderr
    assert not (tmp_path / "run").exists()


def test_csv_header_yes_drops_an_all_number_header_that_auto_reads_as_data(tmp_path):
    path = tmp_path / "numbered.csv"
    path.write_text("1,2,3\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30)))
    sizes = {}
    for header in ("auto", "yes"):
        out = tmp_path / header
        assert cli.main(["train", "--dataset", f"csv:{path}", "--csv-header", header,
                         "--layers", "4", "--epochs", "1", "--no-progress", "--no-plots",
                         "--out", str(out)]) == 0
        sizes[header] = sum(json.loads((out / "config.json").read_text())["sizes"].values())
        assert cli.main(["predict", "--model", str(out / "model.tgc2"), "--data", str(path),
                         "--csv-header", header]) == 0
    assert sizes == {"auto": 31, "yes": 30}


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
    assert np.all(model[0].bias.numpy() == 0)   # the course's init zeroes the biases
    # xavier (course): N(0, 1) * sqrt(1 / fan_in); the sample std is close to 0.5 for fan_in 4
    assert 0.2 < model[0].weight.numpy().std() < 0.9


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


CNN_SMALL = ["--model", "cnn", "--conv", "4:3:1,8:3:1", "--layers", "16", "--epochs", "2",
             "--no-progress", "--no-plots"]


def test_train_model_cnn_on_the_digits_builds_conv_blocks_and_saves_a_predictable_model(
        tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *CNN_SMALL, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert ("training CNN 1x8x8-conv4k3p1-pool-conv8k3p1-pool-16-10 (he init, relu, batch norm"
            in printed)
    assert "epoch 2/2" in printed and "diagnosis: train error" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "cnn" and config["conv"] == "4:3:1,8:3:1"
    saved = tg.serialization.load(out / "model.tgc2")
    # 0 is the Unflatten to (1, 8, 8); the conv before batch norm has no bias
    assert saved["model"]["1.weight"].shape == (4, 1, 3, 3) and "1.bias" not in saved["model"]
    model, _, _ = saved_model(out / "model.tgc2")
    assert [type(m).__name__ for m in model][:5] == ["Unflatten", "Conv2d", "BatchNorm2d",
                                                      "ReLU", "MaxPool2d"]
    np.testing.assert_array_equal(model[1].weight.numpy(), saved["model"]["1.weight"])


def test_train_model_cnn_on_mnist_idx_defaults_to_lenet(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for prefix, m in (("train", 60), ("t10k", 20)):
        tg.data.write_idx(rng.integers(0, 256, (m, 28, 28)).astype(np.uint8),
                          tmp_path / f"{prefix}-images-idx3-ubyte")
        tg.data.write_idx((np.arange(m) % 10).astype(np.uint8),
                          tmp_path / f"{prefix}-labels-idx1-ubyte")
    out = tmp_path / "run"
    assert cli.main(["train", "--dataset", f"mnist:{tmp_path}", "--model", "cnn", "--layers",
                     "120,84", "--epochs", "1", "--no-progress", "--no-plots",
                     "--out", str(out)]) == 0
    assert "training CNN 1x28x28-conv6k5-pool-conv16k5-pool-120-84-10" in capsys.readouterr().out
    saved = tg.serialization.load(out / "model.tgc2")["model"]
    shapes = [saved[name].shape for name in ("1.weight", "5.weight", "10.weight")]
    assert shapes == [(6, 1, 5, 5), (16, 6, 5, 5), (120, 256)]


@pytest.mark.parametrize("argv, message", [
    (["--model", "cnn", "--dataset", "moons"], "needs the features of a square one-channel "
                                               "image (8x8 digits: 64, MNIST 28x28: 784), got 2"),
    (["--model", "cnn", "--conv", "4:9"], "--conv 4:9: the 9x9 conv (padding 0) leaves a 0x0 "
                                          "image"),
    (["--model", "cnn", "--conv", "4:5,8:3"], "the 3x3 conv (padding 0) leaves a 0x0 image"),
])
def test_train_model_cnn_refuses_data_and_convs_that_do_not_fit_before_writing(
        tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    assert cli.main(["train", *argv, "--epochs", "1", "--no-progress", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_conv_flag_rejects_a_malformed_spec():
    with pytest.raises(argparse.ArgumentTypeError, match="CHANNELS:KERNEL"):
        cli.parse_conv("16x3")
    with pytest.raises(argparse.ArgumentTypeError, match="CHANNELS:KERNEL"):
        cli.parse_conv("16:0")
    assert cli.parse_conv("6:5,16:5") == "6:5,16:5"


def test_gradcheck_model_cnn_names_and_passes_every_parameter(capsys):
    assert cli.main(["gradcheck", "--model", "cnn", "--conv", "2:3:1", "--layers", "4",
                     "--examples", "6"]) == 0
    printed = capsys.readouterr().out
    assert "gradient check of CNN 1x8x8-conv2k3p1-pool-4-10" in printed
    for name in ("1.weight", "2.weight", "2.bias", "6.weight", "7.weight", "10.weight"):
        assert f"  {name} " in printed

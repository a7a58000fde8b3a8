"""tg.train: fit, History, callbacks (early stopping, resumable checkpoints, schedulers,
gradient monitor), accuracy/evaluate and the progress bar."""

import io
import math
import os

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import DataLoader, make_moons
from tinygrad_c2.train import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    History,
    Progress,
    accuracy,
    evaluate,
    fit,
)


def moons(n=200, noise=0.2, seed=0):
    X, y = make_moons(n, noise=noise, seed=seed)
    return X, y


def mlp(hidden=16, dropout=0.0, batchnorm=False, n_out=2):
    layers = [nn.Linear(2, hidden)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(hidden))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


class RecordWeights(Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, state):
        weights = state.model.state_dict()
        self.weights[state.logs["epoch"]] = {k: v.copy() for k, v in weights.items()}


def test_fit_records_one_row_per_epoch_and_learns():
    tg.manual_seed(0)
    X, y = moons()
    model = mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y),
                  (X[:50], y[:50]), epochs=8, progress=False, verbose=False)
    assert len(history) == 8 and history["epoch"] == list(range(1, 9))
    for column in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "batch_loss",
                   "lr", "time"):
        assert column in history.columns
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["train_accuracy"][-1] > 0.9
    # train_* is an eval-mode pass over the whole training set: recompute it
    again = evaluate(model, nn.CrossEntropyLoss(), [(tg.Tensor(X), tg.Tensor(y))])
    assert again["loss"] == pytest.approx(history.final["train_loss"], rel=1e-5)
    assert history.final["train_accuracy"] == again["accuracy"]


def test_fit_prints_the_diagnosis_when_a_dev_set_is_given(capsys):
    tg.manual_seed(0)
    X, y = moons()
    model = mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y),
                  (X[:40], y[:40]), epochs=3, progress=False)
    out = capsys.readouterr().out
    assert "diagnosis: train error" in out and "epoch 3/3" in out
    assert history.diagnosis is not None
    assert history.diagnosis.train_error == pytest.approx(1 - history.final["train_accuracy"])


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    tg.manual_seed(1)
    X, y = moons(30, noise=0.45, seed=1)      # a tiny noisy training set: the net overfits
    X_dev, y_dev = moons(400, noise=0.45, seed=2)
    model = nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                          nn.Linear(128, 2))
    recorder = RecordWeights()
    stopper = EarlyStopping("dev_loss", patience=4)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02), (X, y),
                  (X_dev, y_dev), epochs=300, batch_size=30, callbacks=[stopper, recorder],
                  progress=False, verbose=False)
    best = int(np.argmin(history["dev_loss"])) + 1
    assert best > 1 and len(history) < 300
    assert stopper.best_epoch == history.best_epoch == best
    assert history.stopped_epoch == len(history) == best + 4
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, recorder.weights[best][name])
    assert history.final["dev_loss"] == min(history["dev_loss"])


def test_early_stopping_without_restore_keeps_the_last_weights():
    tg.manual_seed(1)
    X, y = moons(30, noise=0.45, seed=1)
    recorder = RecordWeights()
    model = mlp(64)
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y),
                  moons(200, 0.45, 2), epochs=200,
                  callbacks=[EarlyStopping(patience=2, restore_best=False), recorder],
                  progress=False, verbose=False)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, recorder.weights[len(history)][name])


class Crash(Exception):
    """A simulated crash in the middle of training."""


def crashing_loss(model, after_steps):
    """Cross-entropy that raises on training step number `after_steps` + 1 (a simulated crash)."""
    calls = {"n": 0}

    def loss_fn(out, target):
        if model.training:
            calls["n"] += 1
            if calls["n"] > after_steps:
                raise Crash
        return nn.functional.cross_entropy(out, target)

    return loss_fn


def build_run(seed, loader_seed):
    tg.manual_seed(seed)
    model = mlp(16, dropout=0.3, batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.03)
    sched = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=0.5)
    X, y = moons(100, seed=3)
    train = (DataLoader((X, y), batch_size=16, shuffle=True, seed=loader_seed) if loader_seed
             else (X, y))
    return model, opt, sched, train


@pytest.mark.parametrize("loader_seed", [None, 7])
def test_checkpoint_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, loader_seed):
    dev = moons(60, seed=4)
    epochs = 6

    def callbacks(path):
        return [EarlyStopping(patience=50), GradientMonitor(),
                Checkpoint(path, every=1, keep_best=True)]

    model, opt, sched, train = build_run(0, loader_seed)
    straight = fit(model, nn.CrossEntropyLoss(), opt, train, dev, epochs, sched,
                   callbacks(tmp_path / "a.tgc2"), progress=False, verbose=False, batch_size=16)
    expected = model.state_dict()

    model, opt, sched, train = build_run(0, loader_seed)
    with pytest.raises(Crash):   # dies in the middle of epoch 4
        fit(model, crashing_loss(model, after_steps=3 * 7 + 2), opt, train, dev, epochs, sched,
            callbacks(tmp_path / "b.tgc2"), progress=False, verbose=False, batch_size=16)

    model, opt, sched, train = build_run(99, loader_seed)   # other init: the checkpoint restores
    checkpoint = callbacks(tmp_path / "b.tgc2")
    resumed = fit(model, nn.CrossEntropyLoss(), opt, train, dev, epochs, sched, checkpoint,
                  progress=False, verbose=False, batch_size=16)
    assert checkpoint[-1].resumed_from == 3
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    assert len(resumed) == len(straight) == epochs
    for a, b in zip(straight.epochs, resumed.epochs, strict=True):
        assert {k: v for k, v in a.items() if k != "time"} == \
               {k: v for k, v in b.items() if k != "time"}
    assert (tmp_path / "b.best.tgc2").exists()
    best = tg.serialization.load(tmp_path / "b.best.tgc2")
    assert best["epoch"] == straight.best("dev_loss")["epoch"]


def test_checkpoint_refuses_a_run_with_different_callbacks(tmp_path):
    model, opt, sched, train = build_run(0, None)
    fit(model, nn.CrossEntropyLoss(), opt, train, epochs=1, callbacks=[Checkpoint(tmp_path / "c")],
        progress=False, verbose=False)
    with pytest.raises(ValueError, match="same callbacks"):
        fit(model, nn.CrossEntropyLoss(), opt, train, epochs=2, progress=False, verbose=False,
            callbacks=[EarlyStopping("train_loss"), Checkpoint(tmp_path / "c")])


def test_scheduler_steps_once_per_epoch_or_once_per_step():
    X, y = moons(64)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.2)
    sched = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=4, scheduler=sched,
                  progress=False, verbose=False)
    # the course's table: 0.2 in epoch 1, then 0.1, 0.0667, 0.05
    assert history["lr"] == pytest.approx([0.2, 0.1, 0.2 / 3, 0.05])

    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 / math.sqrt(t + 1))
    history = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=2, scheduler=sched,
                  scheduler_interval="step", batch_size=16, record_steps=True,
                  progress=False, verbose=False)
    lrs = [row["lr"] for row in history.steps]   # the lr each step used: alpha0 / sqrt(t)
    assert lrs == pytest.approx([1 / math.sqrt(t) for t in range(1, 9)])


def test_reduce_lr_on_plateau_is_stepped_with_the_dev_loss():
    X, y = moons(64)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=1e-12)  # the dev loss cannot improve by 1e-4
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.0)
    history = fit(model, nn.CrossEntropyLoss(), opt, (X, y), (X, y), epochs=4, scheduler=sched,
                  progress=False, verbose=False)
    assert history["lr"] == pytest.approx([1e-12, 1e-12, 1e-13, 1e-14])


def test_gradient_monitor_flags_vanishing_gradients_in_a_deep_sigmoid_network():
    tg.manual_seed(0)
    X, y = moons(128)
    layers = [nn.Linear(2, 16), nn.Sigmoid()]
    for _ in range(10):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(16, 2))
    nn.init.apply_(model, "xavier")
    monitor = GradientMonitor()
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
                  epochs=2, callbacks=[monitor], progress=False, verbose=False)
    first, last = history["grad_norm[0]"][0], history["grad_norm[22]"][0]
    assert first < 1e-3 * last
    assert monitor.flags and "vanishing" in monitor.flags[0][1]
    assert "act_std[0]" in history.columns


def test_gradient_monitor_is_quiet_on_a_healthy_network():
    tg.manual_seed(0)
    X, y = moons(128)
    model = nn.init.apply_(mlp(), "he")
    monitor = GradientMonitor()
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.01), (X, y), epochs=2,
        callbacks=[monitor], progress=False, verbose=False)
    assert monitor.flags == []


def test_a_diverging_run_stops_with_a_hint(capsys):
    X, y = moons(64)
    X = X * 1e4
    model = mlp()
    with np.errstate(all="ignore"):   # the overflow is the point of this test
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e6),
                      (X, y), epochs=20, progress=False)
    assert len(history) < 20
    assert "smaller learning rate" in capsys.readouterr().out


def test_accuracy_reads_labels_one_hot_and_binary_outputs():
    logits = np.array([[2.0, 0.0, 1.0], [0.0, 0.1, 3.0], [1.0, 2.0, 0.0]])
    assert accuracy(logits, np.array([0, 2, 0])) == pytest.approx(2 / 3)
    assert accuracy(logits, np.eye(3)[[0, 2, 0]]) == pytest.approx(2 / 3)
    assert accuracy(np.array([0.2, -0.1]), np.array([1, 1])) == 0.5
    assert accuracy(np.array([[0.7], [0.4]]), np.array([[1.0], [0.0]]), threshold=0.5) == 1.0
    with pytest.raises(ValueError, match="do not match"):
        accuracy(logits, np.array([0, 1]))


def test_binary_outputs_with_bce_loss_use_a_half_threshold():
    tg.manual_seed(0)
    X, y = moons(128)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1), nn.Sigmoid())
    targets = y.reshape(-1, 1).astype(np.float32)
    history = fit(model, nn.BCELoss(), optim.Adam(model.parameters(), lr=0.05), (X, targets),
                  epochs=15, progress=False, verbose=False)
    with tg.no_grad():
        model.eval()
        p = model(tg.Tensor(X)).numpy().reshape(-1)
    assert history["train_accuracy"][-1] == pytest.approx(((p > 0.5) == y).mean())


def test_evaluate_restores_the_training_mode_and_records_no_graph():
    model = mlp(dropout=0.5)
    X, y = moons(32)
    model.train()
    result = evaluate(model, nn.CrossEntropyLoss(), [(tg.Tensor(X), tg.Tensor(y))])
    assert model.training and set(result) == {"loss", "accuracy"}
    assert all(p.grad is None for p in model.parameters())


def test_fit_rejects_bad_arguments_with_clear_messages():
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    X, y = moons(16)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=-1)
    with pytest.raises(TypeError, match="DataLoader or an"):
        fit(model, nn.CrossEntropyLoss(), opt, X, epochs=1)
    with pytest.raises(ValueError, match="unknown metric"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=1, metrics=("f1",))
    with pytest.raises(KeyError, match="pass a dev set"):
        fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=1, callbacks=[EarlyStopping()],
            progress=False, verbose=False)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_custom_metric_functions_become_columns():
    def error(out, target):
        return 1.0 - accuracy(out, target)

    X, y = moons(64)
    model = mlp()
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), (X, y),
                  (X, y), epochs=2, metrics=("loss", "accuracy", error), progress=False,
                  verbose=False)
    assert history["train_error"][-1] == pytest.approx(1 - history["train_accuracy"][-1])


def test_history_writes_csv_with_every_column(tmp_path):
    history = History()
    history.append({"epoch": 1, "train_loss": 0.5})
    history.append({"epoch": 2, "train_loss": 0.25, "grad_norm[0]": 1.5})
    history.to_csv(tmp_path / "h.csv")
    lines = (tmp_path / "h.csv").read_text().splitlines()
    assert lines == ["epoch,train_loss,grad_norm[0]", "1,0.5,", "2,0.25,1.5"]
    assert history.best("train_loss")["epoch"] == 2
    with pytest.raises(KeyError, match="no column"):
        history["dev_loss"]


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_redraws_fit_an_80_column_terminal():
    # NOTE: at 80 columns a wider line wraps, and every redraw then leaves a stale copy behind;
    # a real pseudo-terminal set to 80x24, so the bar measures it as it would a user's
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with open(slave, "w", closefd=True) as terminal:
        bar = Progress(total=600, stream=terminal)
        assert bar.enabled
        for epoch in range(60):
            bar.set(f"epoch {epoch + 1}/60", "train 0.7885 84.3%  dev 0.8938 82.8%")
            bar.update(10)
        bar.close()
        terminal.flush()
        out = b""
        while True:  # the pty buffer holds all of it: a few KB
            os.set_blocking(master, False)
            try:
                chunk = os.read(master, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            out += chunk
    os.close(master)
    drawn = [line for line in out.decode().replace("\n", "\r").split("\r") if line.strip()]
    assert drawn and max(len(line.rstrip()) for line in drawn) <= 80
    assert "epoch 60/60" in drawn[-1] and "100%" in drawn[-1]


def test_progress_shows_in_a_notebook_although_stderr_is_no_terminal(monkeypatch):
    monkeypatch.setattr("tinygrad_c2.train.progress.in_notebook", lambda: True)
    bar = Progress(total=4, stream=io.StringIO())
    assert bar.enabled
    bar.close()


def test_epoch_lines_fit_80_columns_even_for_long_runs_and_large_losses():
    from tinygrad_c2.train.loop import _format_row

    row = {"epoch": 1000, "train_loss": 123.456789, "train_accuracy": 1.0,
           "dev_loss": 0.000123, "dev_accuracy": 0.9999, "lr": 0.000123456}
    line = _format_row(row, 1000)
    assert line == ("epoch 1000/1000  train loss 123.46 100.00%  dev loss 0.0001 99.99%  "
                    "lr 0.000123")
    assert len(line) <= 80


def test_progress_is_off_when_not_on_a_terminal():
    stream = io.StringIO()
    bar = Progress(total=4, stream=stream)
    bar.update(4)
    bar.close()
    assert not bar.enabled and stream.getvalue() == ""


# ---------------------------------------------------------------- the non-finite guard


class RecordSteps(Callback):
    """Copies of the model's state (parameters and buffers) and the optimizer's after every step."""

    def __init__(self):
        self.models, self.optimizers = [], []

    def on_train_begin(self, state):
        self.on_step_end(state)  # step 0: the state training starts from

    def on_step_end(self, state):
        self.models.append({k: v.copy() for k, v in state.model.state_dict().items()})
        self.optimizers.append(state.optimizer.state_dict())


class RaiseLr(Callback):
    """Sets every group's lr to `lr` after step `after` (a run that diverges mid-way)."""

    def __init__(self, after, lr):
        self.after, self.lr = after, lr

    def on_step_end(self, state):
        if state.global_step == self.after:
            for group in state.optimizer.param_groups:
                group["lr"] = self.lr


def assert_states_equal(got, expected):
    assert got.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def assert_optimizer_states_equal(got, expected):
    assert got["state"].keys() == expected["state"].keys()
    for pid, buffers in expected["state"].items():
        assert got["state"][pid].keys() == buffers.keys()
        for key, value in buffers.items():
            np.testing.assert_array_equal(got["state"][pid][key], value, err_msg=f"{pid} {key}")


def bn_run(nan_batch):
    """fit on moons with batch norm, unshuffled batches of 20, one NaN in batch `nan_batch`."""
    tg.manual_seed(0)
    X, y = moons(200)
    X = X.astype(np.float32)
    X[20 * nan_batch + 3, 1] = np.nan
    model = mlp(batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.01)
    record = RecordSteps()
    loader = DataLoader((X, y), batch_size=20, shuffle=False)
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, callbacks=[record],
                  progress=False, verbose=False)
    return model, opt, record, history, X


def test_a_nan_in_the_data_leaves_batch_norm_statistics_as_after_the_last_finite_step():
    model, opt, record, history, X = bn_run(nan_batch=4)
    assert len(record.models) == 1 + 4  # start + four finite steps, then the NaN batch
    assert "loss is nan" in history.stop_reason and "step 5" in history.stop_reason
    # parameters, running statistics, num_batches_tracked and Adam's state: all of step 4
    assert_states_equal(model.state_dict(), record.models[-1])
    assert_optimizer_states_equal(opt.state_dict(), record.optimizers[-1])
    clean = np.isfinite(X).all(axis=1)
    model.eval()
    with tg.no_grad():
        out = model(tg.tensor(X[clean])).numpy()
    reference = mlp(batchnorm=True)
    reference.load_state_dict(record.models[-1])
    reference.eval()
    with tg.no_grad():
        expected = reference(tg.tensor(X[clean])).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, expected)


def test_a_step_with_a_finite_loss_that_writes_inf_into_the_weights_is_undone():
    tg.manual_seed(0)
    X, y = moons(200)
    model = mlp(batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.01)
    record = RecordSteps()
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is the point of this test
        history = fit(model, nn.CrossEntropyLoss(), opt, DataLoader((X, y), batch_size=20),
                      epochs=3, callbacks=[RaiseLr(after=3, lr=1e308), record],
                      progress=False, verbose=False)
    assert len(record.models) == 1 + 3 and len(history) == 1
    reason = history.stop_reason
    assert "step 4" in reason and "not finite" in reason and "0.weight" in reason
    assert "was finite" in reason and "step 3" in reason
    for name, value in model.state_dict().items():
        assert np.isfinite(value).all(), name
    assert_states_equal(model.state_dict(), record.models[-1])
    assert_optimizer_states_equal(opt.state_dict(), record.optimizers[-1])


def test_a_first_step_that_overflows_leaves_the_initial_weights_and_no_optimizer_state():
    tg.manual_seed(0)
    X, y = moons(64)
    model = mlp()
    initial = {k: v.copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=1e308, momentum=0.9)
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, nn.CrossEntropyLoss(), opt, (X, y), epochs=5, progress=False,
                      verbose=False)
    assert "step 1" in history.stop_reason and "before training" in history.stop_reason
    assert_states_equal(model.state_dict(), initial)
    assert opt.state_dict()["state"] == {}
    assert np.isfinite(history.final["train_loss"])


def test_weights_that_were_not_finite_before_the_step_are_named_in_the_message():
    X, y = moons(64)
    model = mlp()
    model[0].weight.data[0, 0] = np.inf  # broken before training: nothing finite to go back to
    with np.errstate(over="ignore", invalid="ignore"):
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      (X, y), epochs=2, progress=False, verbose=False)
    reason = history.stop_reason
    assert "loss is nan" in reason and "not finite either: 0.weight" in reason


def test_an_overflowing_update_is_reported_by_fit_not_by_a_numpy_warning():
    # the guard checks every step's result and says what broke, so numpy's raw RuntimeWarning
    # from inside the optimizer is noise (pytest turns warnings into errors here)
    tg.manual_seed(0)
    X, y = moons(64)
    X = np.concatenate([X, np.zeros_like(X[:, :1])], axis=1)  # a zero gradient: Adam's inf * 0
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    initial = {k: v.copy() for k, v in model.state_dict().items()}
    history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e308),
                  (X, y), epochs=3, progress=False, verbose=False)
    assert "not finite" in history.stop_reason and "before training" in history.stop_reason
    assert_states_equal(model.state_dict(), initial)


# ---------------------------------------------------------------- figures in a notebook


def test_a_figure_shows_itself_as_a_png_where_a_notebook_cell_returns_it():
    # NOTE: IPython displays an object's _repr_png_ without `%matplotlib inline`; a bare
    # matplotlib Figure would print only "<Figure size 920x340 with 2 Axes>"
    pytest.importorskip("matplotlib")
    from tinygrad_c2.train.plots import plot_history
    from tinygrad_c2.tune.plots import plot_search

    history = History()
    for epoch in range(1, 4):
        history.append({"epoch": epoch, "train_loss": 1.0 / epoch, "dev_loss": 1.2 / epoch,
                        "train_accuracy": 0.5 + 0.1 * epoch, "dev_accuracy": 0.4 + 0.1 * epoch})
    search = tg.tune.random_search(lambda c: {"dev_loss": c["lr"]},
                                   {"lr": tg.tune.LogUniform(1e-4, 1e-1)}, 4, seed=0,
                                   metric="dev_loss", mode="min", progress=False)
    for fig in (plot_history(history), plot_search(search)):
        png = fig._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = np.frombuffer(png[16:24], dtype=">u4")
        assert width > 300 and height > 200


def test_the_gradient_picture_numbers_layers_as_the_course_and_renders_non_blank(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from tinygrad_c2.train.plots import plot_gradient_norms

    history = History()
    for epoch in range(1, 6):  # a vanishing pattern: the first layer's norm falls by decades
        history.append({"epoch": epoch, "train_loss": 1.0, "grad_norm[0]": 10.0 ** -epoch,
                        "grad_norm[2]": 0.5, "act_std[0]": 1.0, "act_std[2]": 0.9})
    fig = plot_gradient_norms(history, tmp_path / "g.png")
    grads, acts = fig.axes
    assert [t.get_text() for t in grads.get_legend().get_texts()][:2] == [
        "l = 1 (module 0)", "l = 2 (module 2)"]
    assert "Vanishing or exploding" in fig._suptitle.get_text()
    low, high = grads.get_ylim()
    assert low == pytest.approx(1e-6) and high == pytest.approx(5.0)  # a decade either side
    assert len([t for t in grads.get_yticks() if low <= t <= high]) >= 6  # not sparse
    image = imread(tmp_path / "g.png")
    assert image.shape[0] > 300 and image.shape[1] > 800 and image[..., :3].std() > 0.05

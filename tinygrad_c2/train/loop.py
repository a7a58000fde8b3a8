"""`fit`: the training loop: mini-batches, callbacks, evaluation each epoch, the diagnosis."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..nn.modules.loss import BCELoss
from ..nn.modules.module import Module
from ..optim.lr_scheduler import LRScheduler
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from ..utils.data import DataLoader, TensorDataset
from .callbacks import Callback, SchedulerStep, TrainState
from .diagnose import diagnose
from .guard import StepGuard
from .history import History
from .metrics import MetricFn, evaluate, resolve_metrics
from .progress import Progress

EVAL_BATCH_SIZE = 1024


def _as_loader(train: Any, batch_size: int) -> DataLoader:
    if isinstance(train, DataLoader):
        return train
    if isinstance(train, (tuple, list)) and len(train) == 2:
        dataset = TensorDataset(*train)
        # NOTE: RandomSampler refuses no examples (as PyTorch's does); fit's check says more.
        return DataLoader(dataset, batch_size=batch_size, shuffle=len(dataset) > 0)
    raise TypeError(f"fit: train must be a DataLoader or an (X, y) pair, "
                    f"got {type(train).__name__}")


def _eval_batches(data: Any, where: str) -> Callable[[], Iterable[Sequence[Tensor]]] | None:
    """A function giving the unshuffled (X, y) batches of `data` for evaluation.

    A DataLoader is re-read from its dataset without shuffling or augmentation, so evaluating
    never draws from the random generator that training uses.
    """
    if data is None:
        return None
    if isinstance(data, DataLoader):
        loader = DataLoader(data.dataset, batch_size=EVAL_BATCH_SIZE)  # unshuffled, no transform
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        loader = DataLoader(tuple(data), batch_size=EVAL_BATCH_SIZE, shuffle=False)
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        loader = DataLoader(data, batch_size=EVAL_BATCH_SIZE, shuffle=False)
    else:
        raise TypeError(f"fit: {where} must be a DataLoader or an (X, y) pair, "
                        f"got {type(data).__name__}")
    return lambda: loader


def _number(value: float) -> str:
    """A loss in at most 6 characters where it can be (0.7885, 12.346, 123.46)."""
    for digits, bound in ((4, 10), (3, 100), (2, 1000)):
        if abs(value) < bound:
            return f"{value:.{digits}f}"
    return f"{value:.3g}"


def _split_texts(row: dict[str, Any], loss: str, accuracy_digits: int) -> list[str]:
    """'train loss 0.4125 92.21%'-style texts, one per split in the row."""
    parts = []
    for split in ("train", "dev"):
        if f"{split}_loss" in row:
            text = f"{split}{loss} {_number(row[f'{split}_loss'])}"
            if f"{split}_accuracy" in row:
                text += f" {100 * row[f'{split}_accuracy']:.{accuracy_digits}f}%"
            parts.append(text)
    return parts


def _format_row(row: dict[str, Any], epochs: int) -> str:
    """One epoch as a line that fits 80 columns: 'epoch 3/60  train loss 0.4125 92.21%  ...'."""
    width = len(str(epochs))
    parts = [f"epoch {row['epoch']:>{width}}/{epochs}", *_split_texts(row, " loss", 2)]
    return "  ".join([*parts, f"lr {row['lr']:.3g}"])


def _postfix(row: dict[str, Any]) -> str:
    """The bar's postfix: the latest losses and accuracies, short (the bar has the rest)."""
    return "  ".join(_split_texts(row, "", 1))


def fit(
    model: Module,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: Optimizer,
    train: DataLoader | tuple[Any, Any],
    dev: DataLoader | tuple[Any, Any] | None = None,
    epochs: int = 10,
    scheduler: LRScheduler | None = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str | MetricFn] = ("loss", "accuracy"),
    progress: bool = True,
    *,
    scheduler_interval: str = "epoch",
    batch_size: int = 64,
    eval_train: bool = True,
    record_steps: bool = False,
    verbose: bool = True,
    log_every: int | None = None,
    bayes_error: float = 0.0,
) -> History:
    """Train `model` for `epochs` passes over `train`; return the History.

    Each step: zero_grad, forward, loss, backward, optimizer.step (callbacks in between).
    After each epoch the model is evaluated in eval mode on the whole training set (with
    `eval_train=True`; else the running mean of the epoch's mini-batches is used) and on
    `dev`. `train` is a DataLoader or (X, y), batched by `batch_size` with shuffling.
    `scheduler` is stepped per epoch or per step (`scheduler_interval`). `progress` shows a
    bar on a terminal (tqdm if installed); `verbose` prints an epoch line every `log_every`
    epochs (about ten lines by default) and, when a dev set and accuracy are given, the
    bias/variance diagnosis of the returned model (after early stopping's restore).

    >>> import numpy as np, tinygrad_c2 as tg; from tinygrad_c2 import nn, optim
    >>> _ = tg.manual_seed(0); X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64); model = nn.Linear(2, 2)
    >>> h = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.1), (X, y),
    ...         epochs=20, progress=False, verbose=False)
    >>> h["train_accuracy"][-1] > 0.9
    True
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: optimizer must be a tg.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (output, target) -> Tensor, e.g. "
                        f"nn.CrossEntropyLoss(), got {type(loss_fn).__name__}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: callbacks[{i}] is a {type(cb).__name__}, not a "
                            "tg.train.Callback")
    own = {id(p) for p in model.parameters()}
    if own and not own & {id(p) for g in optimizer.param_groups for p in g["params"]}:
        raise ValueError("fit: the optimizer holds none of the model's parameters, so training "
                         "would change nothing (was it built for another model, or before the "
                         "model was re-created?)")
    loader = _as_loader(train, batch_size)
    if len(loader) == 0:
        raise ValueError("fit: the training data gives no mini-batches (it holds no examples, "
                         "or fewer than batch_size with drop_last=True)")
    threshold = 0.5 if isinstance(loss_fn, BCELoss) else 0.0  # probabilities vs logits
    metric_fns = resolve_metrics(metrics, threshold)
    train_batches = _eval_batches(loader, "train") if eval_train else None
    dev_batches = _eval_batches(dev, "dev")

    all_callbacks = list(callbacks)
    if scheduler is not None:
        all_callbacks.append(SchedulerStep(scheduler, scheduler_interval))
    all_callbacks.sort(key=lambda cb: cb.order)  # stable: user order kept within a level

    history = History()
    steps_per_epoch = len(loader)
    bar = Progress(total=epochs * steps_per_epoch, enabled=progress)
    state = TrainState(model=model, loss_fn=loss_fn, optimizer=optimizer, history=history,
                       epochs=epochs, train_loader=loader, dev_batches=dev_batches,
                       callbacks=all_callbacks,
                       log=bar.write if verbose else (lambda text: None))
    every = log_every if log_every is not None else max(1, epochs // 10)

    for cb in all_callbacks:
        cb.on_train_begin(state)
    guard = StepGuard(model, optimizer)
    bar.update(state.start_epoch * steps_per_epoch)
    for epoch in range(state.start_epoch, epochs):
        if state.stop_training:
            break
        state.epoch = epoch
        for cb in all_callbacks:
            cb.on_epoch_begin(state)
        lr = optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        model.train()
        sums = dict.fromkeys(metric_fns, 0.0)
        seen = 0
        bad_step = None  # why the step at state.global_step + 1 was undone
        for xb, yb in loader:
            # NOTE: saved before the forward, because a batch-norm forward already updates its
            # running statistics; the loss check comes after it.
            guard.save()
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            value = loss.item()
            if not math.isfinite(value):
                # stop before backward and step: a NaN gradient would overwrite every weight
                bad_step = f"the mini-batch loss is {value}; stopped before that update"
                guard.restore()
                break
            loss.backward()
            for cb in all_callbacks:
                cb.on_after_backward(state)
            # NOTE: the guard checks what the step wrote and says what broke, so numpy's own
            # overflow/invalid warning from inside the optimizer would only be noise before it
            with np.errstate(over="ignore", invalid="ignore"):
                optimizer.step()
            broken = guard.bad()  # a finite loss can still give an update that overflows
            if broken:
                bad_step = (f"the update made {_list(broken)} not finite (the mini-batch loss, "
                            f"{value:.6g}, was finite); stopped and undid that update")
                guard.restore()
                break
            state.global_step += 1
            state.loss = value
            n = len(yb)
            seen += n
            sums["loss"] += state.loss * n
            if train_batches is None:
                for name, fn in metric_fns.items():
                    if fn is not None:
                        sums[name] += fn(out, yb) * n
            if record_steps:
                history.steps.append({"epoch": epoch + 1, "step": state.global_step,
                                      "loss": state.loss,
                                      "lr": optimizer.param_groups[0]["lr"]})
            for cb in all_callbacks:
                cb.on_step_end(state)
            bar.update()

        row: dict[str, Any] = {"epoch": epoch + 1}
        if train_batches is not None:
            train_values = evaluate(model, loss_fn, train_batches(), metric_fns)
        else:
            train_values = {name: total / max(seen, 1) for name, total in sums.items()}
        row.update({f"train_{name}": value for name, value in train_values.items()})
        if dev_batches is not None:
            dev_values = evaluate(model, loss_fn, dev_batches(), metric_fns)
            row.update({f"dev_{name}": value for name, value in dev_values.items()})
        row["batch_loss"] = sums["loss"] / max(seen, 1) if bad_step is None else value
        row["lr"] = lr
        row["time"] = time.perf_counter() - started
        history.append(row)
        state.logs = row
        if bad_step is not None:
            state.stop_training = True
            history.stop_reason = _stop_reason(epoch + 1, state.global_step + 1, bad_step,
                                               guard.bad())
            state.log(history.stop_reason)
        for cb in all_callbacks:
            cb.on_epoch_end(state)
        bar.set(f"epoch {epoch + 1}/{epochs}", _postfix(row))
        if verbose and ((epoch + 1) % every == 0 or epoch + 1 == epochs or state.stop_training):
            state.log(_format_row(row, epochs))
    for cb in all_callbacks:
        cb.on_train_end(state)
    bar.close()

    _finish(history, model, loss_fn, metric_fns, loader, train_batches, dev_batches,
            bayes_error, verbose)
    return history


def _list(names: list[str], most: int = 4) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _stop_reason(epoch: int, step: int, what: str, still_bad: list[str]) -> str:
    """Why fit stopped at a non-finite step, and what the model now holds (exactly)."""
    last = "from before training" if step == 1 else f"after step {step - 1}, the last finite step"
    reason = (f"epoch {epoch}, step {step}: {what}: the parameters, buffers (batch-norm "
              f"statistics) and optimizer state are those {last}")
    if still_bad:
        reason += (f", but these are not finite either: {_list(still_bad)} (they were not "
                   "finite before that step)")
    return reason + (" (try a smaller learning rate, input normalization or a better "
                     "initialization, and check the data for NaN/inf; tg.detect_anomaly() names "
                     "the first op that produced it)")


def _finish(history: History, model: Module, loss_fn: Callable[[Any, Any], Tensor],
            metric_fns: dict[str, MetricFn | None], loader: DataLoader,
            train_batches: Callable[[], Any] | None, dev_batches: Callable[[], Any] | None,
            bayes_error: float, verbose: bool) -> None:
    """Evaluate the returned model (best weights after early stopping) and diagnose it."""
    if len(history) == 0:
        return
    batches = train_batches or _eval_batches(loader, "train")
    if batches is not None:
        final = evaluate(model, loss_fn, batches(), metric_fns)
        history.final.update({f"train_{name}": value for name, value in final.items()})
    if dev_batches is not None:
        final = evaluate(model, loss_fn, dev_batches(), metric_fns)
        history.final.update({f"dev_{name}": value for name, value in final.items()})
    if "train_accuracy" in history.final and "dev_accuracy" in history.final:
        train_error = float(np.clip(1.0 - history.final["train_accuracy"], 0.0, 1.0))
        dev_error = float(np.clip(1.0 - history.final["dev_accuracy"], 0.0, 1.0))
        history.diagnosis = diagnose(train_error, dev_error, bayes_error)
        if verbose:
            print(f"diagnosis: {history.diagnosis}", flush=True)

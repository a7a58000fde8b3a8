"""`tinygrad-c2 train`: train an MLP or CNN from flags and write a run folder (--resume
continues one)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.modules.module import Module
from ..rng import manual_seed
from ..serialization import save
from .dataset import (
    Dataset,
    add_data_arguments,
    check_batch_norm_batch,
    load_dataset,
    targets,
    training_loader,
)
from .flags import FlagError, given_flags
from .model import add_model_arguments, build_model, describe_model, make_loss, output_units
from .optimization import DEFAULT_LR, add_optimizer_arguments, build_optimizer, build_scheduler


def add_train_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="train an MLP (or a CNN: --model cnn) and write a run folder",
        description="Train an MLP or a CNN from flags: split train/dev/test, standardize, "
                    "train with mini-batches, print train/dev/test accuracy and the bias/variance "
                    "diagnosis, and write a run folder. With no flags: the shipped digits with "
                    "the course's defaults (He init, Adam, mini-batch 64, batch norm, dropout, "
                    "learning-rate decay, early stopping).")
    add_train_arguments(parser)
    parser.set_defaults(handler=run_train, given=None, command_argv=None)


def train_parser() -> argparse.ArgumentParser:
    """A parser of the train flags alone (what `given_flags` re-parses)."""
    parser = argparse.ArgumentParser(prog="tinygrad-c2 train", add_help=False)
    add_train_arguments(parser)
    return parser


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The data, model and optimizer flags, then --out, --resume, --no-progress, --no-plots."""
    add_data_arguments(parser)
    add_model_arguments(parser)
    add_optimizer_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="run folder (default runs/<dataset>-<date>-<time>)")
    group.add_argument("--resume", action="store_true",
                       help="continue the run in --out DIR from its checkpoint.tgc2 with the "
                            "settings of its config.json; only --epochs and the patience of "
                            "--early-stopping may change, other differing flags are refused")
    group.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bar")
    group.add_argument("--no-plots", dest="plots", action="store_false",
                       help="skip the PNG curves and the graph SVG")


def _run_folder(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return args.out
    tag = args.dataset.split(":")[0]
    return Path("runs") / f"{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


#: Train flags that say where and how to show a run, not what it is: never compared on --resume.
RUN_FLAGS = frozenset({"out", "resume", "progress", "plots"})
#: Flags a resumed run may change safely: train for longer, wait longer (early stopping stays on).
RESUMABLE_FLAGS = ("epochs", "early_stopping")


def _flag_text(dest: str, value: Any) -> str:
    """A flag's value as one would type it: 16,4 for --layers, 0.6,0.2,0.2 for --split."""
    if dest in ("layers", "split"):
        return ",".join(f"{v:g}" for v in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _resume(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Make `args` the settings of the run in --out (its config.json) for --resume.

    The saved config wins for everything that defines the data, the model and the optimizer:
    flags left out take the saved values, and a flag given with another value is refused
    (FlagError listing each one), because the checkpoint holds weights and optimizer state
    of the saved settings. Only RESUMABLE_FLAGS may differ; they are applied. Returns the
    saved config and the lines reporting the applied changes. Nothing is written here.
    """
    from ..train import Checkpoint

    if args.out is None:
        raise FlagError("--resume needs --out DIR, the run folder to continue")
    checkpoint, config_path = args.out / "checkpoint.tgc2", args.out / "config.json"
    if not checkpoint.is_file():
        raise FlagError(f"--resume: no checkpoint {checkpoint} (a run saves one every 5 "
                        "epochs and at its end); run without --resume to start a new run")
    try:
        saved = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FlagError(f"--resume: cannot read the run's settings from {config_path} "
                        f"({error}); start a new run with another --out") from None
    dests = [dest for dest in vars(train_parser().parse_args([])) if dest not in RUN_FLAGS]
    if isinstance(saved, dict):  # runs from before --model/--conv were MLPs
        saved.setdefault("model", "mlp")
        saved.setdefault("conv", "auto")
    missing = [dest for dest in dests if not isinstance(saved, dict) or dest not in saved]
    if missing:
        raise FlagError(f"--resume: {config_path} lacks {', '.join(missing)}: it was not "
                        "written by this version of tinygrad-c2 train; start a new run with "
                        "another --out")
    given = set(dests) if args.given is None else args.given  # called directly: check all
    state = Checkpoint.read(checkpoint)
    at_epoch = int(state["epoch"])
    conflicts, notes = [], []
    for dest in dests:
        value = tuple(saved[dest]) if dest in ("layers", "split") else saved[dest]
        mine = getattr(args, dest)
        flag = "--" + dest.replace("_", "-")
        if dest not in given or mine == value:
            setattr(args, dest, value)
        elif dest in RESUMABLE_FLAGS and not (dest == "early_stopping" and 0 in (mine, value)):
            notes.append(f"changed {flag} {_flag_text(dest, mine)} (was "
                         f"{_flag_text(dest, value)})")
        else:
            conflicts.append(f"{flag}: saved {_flag_text(dest, value)} vs given "
                             f"{_flag_text(dest, mine)}")
    if conflicts:
        raise FlagError(f"--resume: {args.out} was trained with other settings ("
                        f"{'; '.join(conflicts)}); --resume continues the saved config.json "
                        f"(only --epochs and the --early-stopping patience may change): drop "
                        f"those flags, or start a new run with another --out")
    if args.epochs < at_epoch:
        raise FlagError(f"--resume --epochs {args.epochs}: {checkpoint} is after epoch "
                        f"{at_epoch} already; give --epochs {at_epoch} or more")
    if state["stop_training"] or at_epoch == args.epochs:
        notes.append(f"the run ended at epoch {at_epoch}"
                     f"{' (it stopped early)' if state['stop_training'] else ''}: nothing is "
                     "left to train, the outputs are written again")
    return saved, notes


def _check_resumed_data(saved: dict[str, Any], data: Dataset) -> None:
    """Refuse a resume whose data set no longer matches the saved one (an edited CSV file)."""
    now = {"n_features": data.n_features, "n_classes": data.n_classes,
           "classes": list(data.classes),
           "sizes": {"train": len(data.train[1]), "dev": len(data.dev[1]),
                     "test": len(data.test[1])}}
    changed = [f"{key}: saved {saved.get(key)} vs now {value}" for key, value in now.items()
               if saved.get(key) != value]
    if changed:
        raise FlagError(f"--resume: the data set {data.name} changed since the run started "
                        f"({'; '.join(changed)}); start a new run with another --out")


def check_split_sizes(data: Dataset, split: Sequence[float]) -> None:
    """Refuse a split that leaves the train or dev set (or a test set asked for) empty: the
    dev set drives early stopping and the bias/variance diagnosis."""
    wanted = {"train": data.train, "dev": data.dev}
    if split[2] > 0:
        wanted["test"] = data.test
    empty = [name for name, (_, labels) in wanted.items() if len(labels) == 0]
    if empty:
        raise FlagError(f"{data.name} is too small for --split {_flag_text('split', split)}: "
                        f"it gives {data.sizes()}, an empty {' and '.join(empty)} set; the "
                        "train and dev sets (and the test set, unless its fraction is 0) need "
                        "at least one example each: use more examples (--samples for a "
                        "synthetic set) or other --split fractions")



def _start_run_folder(out: Path, config: dict[str, Any]) -> None:
    """Create the run folder and write config.json: the run's first write, before training."""
    if out.exists() and not out.is_dir():
        raise FlagError(f"--out {out} is a file, not a folder; give a new or existing folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise FlagError(f"--out {out}: cannot write the run folder there: "
                        f"{error.strerror or error} ({error.filename})") from None


def _config(args: argparse.Namespace, data: Dataset, n_out: int) -> dict[str, Any]:
    config = {key: value for key, value in vars(args).items()
              if key not in ("handler", "given", "command_argv")}
    config["out"] = str(config["out"]) if config["out"] is not None else None
    config["layers"] = list(args.layers)
    config["split"] = list(args.split)
    config["lr"] = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    config.update(n_features=data.n_features, n_classes=data.n_classes, n_outputs=n_out,
                  classes=list(data.classes),
                  sizes={"train": len(data.train[1]), "dev": len(data.dev[1]),
                         "test": len(data.test[1])})
    from .. import __version__
    config["tinygrad_c2"] = __version__
    return config


def run_train(args: argparse.Namespace) -> int:
    if getattr(args, "command_argv", None) is not None:
        # --resume compares the flags typed (main hands each command its argv) with the saved
        args.given = given_flags(train_parser(), args.command_argv)
    from ..train import Checkpoint, EarlyStopping, GradientMonitor, evaluate, fit

    started = time.perf_counter()
    # Every refusal comes before the first write (config.json), so a refused command leaves
    # the run folder as it was.
    saved, resumed = _resume(args) if args.resume else ({}, [])
    manual_seed(args.seed)
    data = load_dataset(args)
    check_split_sizes(data, args.split)
    if args.resume:
        _check_resumed_data(saved, data)
    m_train = len(data.train[1])
    check_batch_norm_batch(args, args.batch_size, m_train, "--batch-size")
    n_out = output_units(data.n_classes)
    model = build_model(args, data.n_features, n_out)
    loss_fn = make_loss(data.n_classes)
    optimizer = build_optimizer(args, model, m_train)
    scheduler = build_scheduler(args, optimizer)
    out = _run_folder(args)
    config = _config(args, data, n_out)
    _start_run_folder(out, config)

    if args.resume:
        print(f"resuming {out}/ with the settings of its config.json"
              + "".join(f"; {note}" for note in resumed))
    print(f"training {describe_model(args, data.n_features, n_out)} on {data.name}: "
          f"{data.sizes()}")
    print(f"  {args.optimizer} lr {config['lr']:g}, decay {args.decay}"
          f"{f' {args.decay_rate:g}' if args.decay != 'none' else ''}, batch {args.batch_size}"
          f"{f', L2 {args.l2:g}' if args.l2 else ''}, up to {args.epochs} epochs"
          f"{f', early stopping patience {args.early_stopping}' if args.early_stopping else ''}",
          flush=True)
    from ..data import DataLoader

    train = (data.train[0], targets(data.train[1], data.n_classes))
    loader, note = training_loader(args, data)
    if note:
        print(note)
    dev = (data.dev[0], targets(data.dev[1], data.n_classes))
    test = (data.test[0], targets(data.test[1], data.n_classes))
    callbacks: list[Any] = [GradientMonitor()]
    if args.early_stopping > 0:
        callbacks.append(EarlyStopping("dev_loss", patience=args.early_stopping))
    callbacks.append(Checkpoint(out / "checkpoint.tgc2", every=5, resume=args.resume))
    history = fit(model, loss_fn, optimizer, loader, dev, epochs=args.epochs,
                  scheduler=scheduler, callbacks=callbacks, progress=args.progress)
    seconds = time.perf_counter() - started

    results = {"train": {k.removeprefix("train_"): v for k, v in history.final.items()
                         if k.startswith("train_")},
               "dev": {k.removeprefix("dev_"): v for k, v in history.final.items()
                       if k.startswith("dev_")}}
    if len(test[1]):
        results["test"] = evaluate(model, loss_fn, DataLoader(test, 1024, shuffle=False))
    print("accuracy: " + "  ".join(f"{split} {100 * r['accuracy']:.2f}%"
                                   for split, r in results.items()) + f"   ({seconds:.1f} s)")

    metrics = {**results, "epochs_run": len(history), "best_epoch": history.best_epoch,
               "stopped_epoch": history.stopped_epoch, "seconds": seconds,
               "diagnosis": history.diagnosis.to_dict() if history.diagnosis else None}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    history.to_csv(out / "history.csv")
    save({"model": model.state_dict(), "standardizer": data.standardizer.state_dict(),
          "config": config}, out / "model.tgc2")
    written = ["config.json", "metrics.json", "history.csv", "checkpoint.tgc2", "model.tgc2"]
    notes = []
    if args.plots:
        written += _write_pictures(out, history, model, loss_fn, train, notes)
    print(f"run folder: {out}/ ({', '.join(written)})")
    for note in notes:
        print(f"note: {note}")
    return 0


def _write_pictures(out: Path, history: Any, model: Module, loss_fn: Any,
                    train: tuple[np.ndarray, np.ndarray], notes: list[str]) -> list[str]:
    """curves.png and gradients.png (matplotlib) and graph.svg (Graphviz); a note when missing."""
    written = []
    try:
        from ..train import plots

        plots.plot_history(history, out / "curves.png", title=(
            "learning curves, train vs dev: a widening gap is variance, a high plateau bias;\n"
            "the dotted line is the best dev epoch (early stopping keeps those weights)"))
        written.append("curves.png")
        plots.plot_gradient_norms(history, out / "gradients.png")
        written.append("gradients.png")
    except ImportError as error:
        notes.append(f"no PNG curves: {error}")
    try:
        from .. import viz

        viz.draw_training_step(model, train[0][:4], train[1][:4], loss_fn, out / "graph.svg")
        written.append("graph.svg")
    except (ImportError, RuntimeError) as error:  # GraphvizNotFoundError is a RuntimeError
        notes.append(f"no graph.svg: {str(error).splitlines()[0]}")
    return written

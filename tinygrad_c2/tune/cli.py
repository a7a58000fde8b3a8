"""`tinygrad-c2 tune`: the train command's flags, where any tunable flag may hold a space.

    tinygrad-c2 tune --dataset digits --lr log:1e-4:1e-1 --beta1 one-minus-log:0.9:0.999 \\
        --hidden int:32:256 --trials 20 --rounds 2 --workers 4

Each trial trains the MLP of the train command (same data split for every trial: the split
uses --seed; the model's initialization, dropout and shuffling use the trial seed) and
reports its dev loss and accuracy. The search runs in this process, on --workers processes
(one BLAS thread each; a trial whose worker dies is retried --retries times on a fresh pool)
or on a Dask cluster (--scheduler ADDRESS). Every finished trial is appended to
trials.jsonl at once, so `--resume --out DIR` continues a killed search; at the end it
writes results.csv, results.json and search.png (the dev metric against each
hyperparameter, on its own scale). The exit code is 1 if trials stayed lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..rng import manual_seed
from .executors import dask_executor
from .search import SEED_KEY, SearchResult, coarse_to_fine, format_config, random_search
from .spaces import Choice, Grid, IntUniform, Space, parse_space

__all__ = ["TrainObjective", "add_tune_arguments", "add_tune_command", "cli_tune"]

SPACE_HELP = ("a value, or a space: log:LO:HI, one-minus-log:LO:HI, uniform:LO:HI, "
              "int:LO:HI, choice:A,B,C")
# The train command's flags that may hold a space, by kind of value.
REAL_FLAGS = ("lr", "beta1", "beta2", "dropout", "l2", "decay_rate")
INTEGER_FLAGS = ("hidden", "batch_size")
CATEGORICAL_FLAGS = ("activation", "optimizer", "init", "decay")
TUNABLE = REAL_FLAGS + INTEGER_FLAGS + CATEGORICAL_FLAGS
JOURNAL = "trials.jsonl"  # one line per finished trial, written as it finishes
FLAGS_FILE = "tune-flags.json"  # the flags a resumed search must share with the first run
# Flags that change where or how the search runs, not what it computes.
RUN_FLAGS = ("out", "resume", "retries", "workers", "scheduler", "progress", "plots")
# Which optimizer hyperparameter each beta flag sets (the course's names -> PyTorch's).
BETA_TARGETS = {"beta1": {"momentum": "beta", "adam": "betas[0]", "adamw": "betas[0]"},
                "beta2": {"rmsprop": "alpha", "adam": "betas[1]", "adamw": "betas[1]"}}


def _parse_beta(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a beta in [0, 1)")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer >= 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive integer")
    return value


def _space_or_value(flag: str, kind: str, convert: Callable[[str], Any] | None,
                    choices: Any) -> Callable[[str], Any]:
    """An argparse type: a space spec checked against the flag's own rules, or a plain value.

    Bounds and options of a space must themselves be valid values of the flag (so
    `--dropout uniform:0:1.5` and `--activation choice:relu,gelu` are refused up front).
    """
    convert = convert or str

    def value(text: str) -> Any:
        converted = convert(text)
        if choices is not None and converted not in choices:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {sorted(choices)}")
        return converted

    def parse(text: str) -> Any:
        if ":" not in text:
            return value(text)
        try:
            space = parse_space(text)
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        if isinstance(space, (Choice, Grid)):
            options = [value(str(o)) for o in (space.grid(None).values)]
            return Choice(options)
        if kind == "categorical" or (kind == "integer" and not isinstance(space, IntUniform)):
            wanted = "choice:A,B,C" if kind == "categorical" else "int:LO:HI or choice:A,B,C"
            raise argparse.ArgumentTypeError(f"{flag} takes {wanted}, got {text!r}")
        for bound in (space.lo, space.hi):
            value(repr(bound))
        return space

    parse.__name__ = f"{flag} value or space"  # argparse names the type in its error messages
    return parse


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Make the train flags tunable, add --hidden/--beta1/--beta2 and the search flags.

    Call it after the cli's add_data/model/optimizer_arguments on the same parser.
    """
    group = parser.add_argument_group("extra hyperparameters (tune only)")
    group.add_argument("--hidden", type=_positive_int, default=None, metavar="UNITS",
                       help="units in every hidden layer (keeps the number of --layers)")
    group.add_argument("--beta1", type=_parse_beta, default=None,
                       help="momentum's beta, Adam's beta1 (default: the optimizer's)")
    group.add_argument("--beta2", type=_parse_beta, default=None,
                       help="RMSprop's beta (PyTorch's alpha), Adam's beta2 (default: the "
                            "optimizer's)")
    kinds = {**dict.fromkeys(REAL_FLAGS, "real"), **dict.fromkeys(INTEGER_FLAGS, "integer"),
             **dict.fromkeys(CATEGORICAL_FLAGS, "categorical")}
    # NOTE: argparse has no public way to change an added argument, so the flags that the
    # train command defined are wrapped through the parser's action list.
    for action in parser._actions:
        if action.dest in kinds:
            flag = action.option_strings[0]
            action.type = _space_or_value(flag, kinds[action.dest], action.type, action.choices)
            action.choices = None
            action.metavar = "SPACE"
            action.help = f"{action.help or ''}; {SPACE_HELP}"
    missing = [name for name in TUNABLE if name not in {a.dest for a in parser._actions}]
    if missing:
        raise ValueError(f"add_tune_arguments: add the train flags first (missing {missing})")

    search = parser.add_argument_group("search")
    search.add_argument("--trials", type=_positive_int, default=20, metavar="N",
                        help="trials per round (default 20)")
    search.add_argument("--rounds", type=_positive_int, default=1, metavar="R",
                        help="coarse-to-fine rounds; 1 = plain random search (default 1)")
    search.add_argument("--zoom", type=float, default=0.5,
                        help="share of each range kept per round, on its own scale "
                             "(default 0.5)")
    search.add_argument("--metric", choices=("dev_accuracy", "dev_loss"),
                        default="dev_accuracy", help="what to optimize (default dev_accuracy)")
    search.add_argument("--retries", type=_non_negative_int, default=2, metavar="N",
                        help="times a trial whose worker process died is run again, the last "
                             "time alone (default 2; a trial that raises is not retried)")
    where = search.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="processes on this machine, one BLAS thread each (default 1: in "
                            "this process)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="a Dask scheduler, e.g. tcp://10.0.0.5:8786 (needs "
                            'pip install "tinygrad_c2[distributed]")')
    search.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="results folder (default runs/tune-<dataset>-<date>-<time>)")
    search.add_argument("--resume", action="store_true",
                        help=f"continue the search in --out DIR from DIR/{JOURNAL}: its "
                             "finished trials are not run again")
    search.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no line per finished trial")
    search.add_argument("--no-plots", dest="plots", action="store_false",
                        help="skip search.png")


def add_tune_command(subparsers: Any) -> None:
    """Register `tune` on the `tinygrad-c2` parser (for the cli's COMMANDS list)."""
    from .. import cli as main_cli  # NOTE: imported here, the cli module imports this one

    parser = subparsers.add_parser(
        "tune", help="search hyperparameters (random, coarse-to-fine; processes or Dask)",
        description="Random search of the train command's hyperparameters, the course's way: "
                    "give any tunable flag a space (--lr log:1e-4:1e-1 --beta1 "
                    "one-minus-log:0.9:0.999 --hidden int:32:256 --activation choice:relu,tanh)"
                    ", optionally several coarse-to-fine --rounds, on --workers processes or a "
                    "Dask --scheduler. Writes results.csv, results.json and search.png.")
    main_cli.add_data_arguments(parser)
    main_cli.add_model_arguments(parser)
    main_cli.add_optimizer_arguments(parser)
    add_tune_arguments(parser)
    parser.set_defaults(handler=cli_tune)


# ----------------------------------------------------------------------------- the objective

_DATASETS: dict[tuple, Any] = {}  # per process: every trial of a search shares one split


def _dataset(args: argparse.Namespace) -> Any:
    from .. import cli as main_cli

    key = (args.dataset, args.samples, args.noise, tuple(args.split), args.seed)
    if key not in _DATASETS:
        _DATASETS[key] = main_cli.load_dataset(args)
    return _DATASETS[key]


def _set_betas(optimizer: Any, args: argparse.Namespace) -> None:
    """Write --beta1/--beta2 into the optimizer's param groups (the flag names are the course's)."""
    for flag in ("beta1", "beta2"):
        beta = getattr(args, flag)
        target = BETA_TARGETS[flag].get(args.optimizer)
        if beta is None or target is None:
            continue
        for group in optimizer.param_groups:
            if target.startswith("betas"):
                betas = list(group["betas"])
                betas[int(target[-2])] = beta
                group["betas"] = tuple(betas)
            else:
                group[target] = beta


class TrainObjective:
    """One trial: train the command's MLP with the trial's hyperparameters and seed.

    A picklable object (module-level class holding plain flag values), so process pools and
    Dask workers can run it; each worker process loads the data set once.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.flags = {k: v for k, v in vars(args).items() if k != "handler"}

    def __call__(self, config: dict) -> dict:
        from .. import cli as main_cli
        from ..train import EarlyStopping, fit

        args = argparse.Namespace(**{**self.flags, **config})
        data = _dataset(args)
        if args.hidden is not None:
            args.layers = (int(args.hidden),) * max(1, len(args.layers))
        manual_seed(config[SEED_KEY])  # initialization, dropout masks, shuffling
        n_out = main_cli.output_units(data.n_classes)
        model = main_cli.build_model(args, data.n_features, n_out)
        optimizer = main_cli.build_optimizer(args, model, len(data.train[1]))
        _set_betas(optimizer, args)
        callbacks = []
        if args.early_stopping > 0:
            callbacks.append(EarlyStopping("dev_loss", patience=args.early_stopping))
        # the train command's batching: a batch size of 1 under batch norm is refused, a last
        # batch of one dropped
        main_cli.check_batch_norm_batch(args, args.batch_size, len(data.train[1]),
                                        "--batch-size")
        train, _ = main_cli.training_loader(args, data)
        dev = (data.dev[0], main_cli.targets(data.dev[1], data.n_classes))
        history = fit(model, main_cli.make_loss(data.n_classes), optimizer, train, dev,
                      epochs=args.epochs, scheduler=main_cli.build_scheduler(args, optimizer),
                      callbacks=callbacks, progress=False, verbose=False)
        return {**history.final, "epochs": len(history)}


# ------------------------------------------------------------------------------- the command


def _check_betas(args: argparse.Namespace) -> None:
    optimizers = args.optimizer.options if isinstance(args.optimizer, Choice) else (args.optimizer,)
    for flag in ("beta1", "beta2"):
        if getattr(args, flag) is not None and not any(o in BETA_TARGETS[flag] for o in optimizers):
            raise ValueError(f"--{flag} applies to --optimizer {', '.join(BETA_TARGETS[flag])}, "
                             f"not {', '.join(optimizers)}")


def _executor(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """A Dask executor for --scheduler; otherwise the search runs here or on its own pool."""
    if args.scheduler:
        return dask_executor(args.scheduler)
    return contextlib.nullcontext(None)


def _flags_of(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that decide the search's results, as JSON values (spaces in their spelling)."""
    flags = {}
    for name, value in vars(args).items():
        if name in RUN_FLAGS or callable(value):
            continue
        flags[name] = value.spec() if isinstance(value, Space) else \
            str(value) if isinstance(value, Path) else value
    return json.loads(json.dumps(flags))


def _prepare_folder(args: argparse.Namespace, out: Path) -> None:
    """Check that --resume continues a search with the same flags, or that none is there."""
    flags, saved = _flags_of(args), out / FLAGS_FILE
    if not args.resume:
        if (out / JOURNAL).exists():
            raise ValueError(f"{out} already holds a search ({JOURNAL}): pass --resume to "
                             "continue it, or choose another --out")
    elif saved.exists():
        before = json.loads(saved.read_text())
        changed = [f"--{k.replace('_', '-')} {before.get(k)!r} -> {flags.get(k)!r}"
                   for k in sorted(set(before) | set(flags)) if before.get(k) != flags.get(k)]
        if changed:
            raise ValueError(f"--resume: {out} holds a search with other flags "
                             f"({'; '.join(changed)}); resume with the same flags")
    saved.write_text(json.dumps(flags, indent=1) + "\n")


def _write_plot(result: SearchResult, path: Path) -> str | None:
    try:
        from .plots import plot_search
        plot_search(result, path)
    except ImportError:
        return "matplotlib is not installed: no search.png (pip install matplotlib)"
    return None


def cli_tune(args: argparse.Namespace) -> int:
    """Run `tinygrad-c2 tune` from parsed flags; returns the exit code."""
    space = {name: getattr(args, name) for name in TUNABLE
             if isinstance(getattr(args, name, None), Space)}
    if not space:
        raise ValueError(f"nothing to tune: give at least one flag a space, e.g. --lr "
                         f"log:1e-4:1e-1 ({SPACE_HELP}); tunable flags: "
                         + ", ".join("--" + n.replace("_", "-") for n in TUNABLE))
    if not 0 < args.zoom <= 1:
        raise ValueError(f"--zoom must be in (0, 1], got {args.zoom}")
    _check_betas(args)
    mode = "min" if args.metric.endswith("loss") else "max"
    if args.resume and args.out is None:
        raise ValueError("--resume needs --out DIR, the folder of the search to continue")
    out = args.out or Path("runs") / f"tune-{args.dataset.split(':')[0]}-" \
                                     f"{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    _prepare_folder(args, out)
    where = (f"Dask scheduler {args.scheduler}" if args.scheduler else
             f"{args.workers} processes" if args.workers > 1 else "this process")
    rounds = f"{args.rounds} rounds x " if args.rounds > 1 else ""
    print(f"tuning {', '.join(space)} on {args.dataset}: {rounds}{args.trials} trials, "
          f"{args.metric} ({mode}), on {where}", flush=True)
    for name, s in space.items():
        print(f"  {name}: {s!r}")
    objective = TrainObjective(args)
    options = {"metric": args.metric, "mode": mode, "progress": args.progress,
               "workers": args.workers if args.workers > 1 and not args.scheduler else None,
               "retries": args.retries, "journal": out / JOURNAL, "resume": args.resume}
    started = time.perf_counter()
    with _executor(args) as executor:
        if args.rounds == 1:
            result = random_search(objective, space, args.trials, seed=args.seed,
                                   executor=executor, **options)
        else:
            result = coarse_to_fine(objective, space, args.rounds, args.trials, seed=args.seed,
                                    zoom=args.zoom, executor=executor, **options)
    print(result)
    written = [result.to_csv(out / "results.csv").name, result.to_json(out / "results.json").name]
    note = None
    if args.plots and any(math.isfinite(r["metrics"].get(args.metric, math.nan))
                          for r in result.records):
        note = _write_plot(result, out / "search.png")
        written += [] if note else ["search.png"]
    print(f"results folder: {out}/ ({', '.join(written)}; "
          f"{time.perf_counter() - started:.1f} s)")
    if note:
        print(f"note: {note}")
    code = 0
    if result.lost:  # the search is incomplete: say which trials, and how to finish it
        print(f"{len(result.lost)} of {len(result)} trials lost, never finished:",
              file=sys.stderr)
        for r in result.lost:
            print(f"  trial {r['trial']}: {format_config(r['config'])}: "
                  f"{r['error'].splitlines()[0]}", file=sys.stderr)
        print(f"run it again with --resume --out {out} to run only those", file=sys.stderr)
        code = 1
    if result.failed and len(result.failed) == len(result.records):
        print("every trial failed; first traceback:\n" + result.failed[0]["traceback"],
              file=sys.stderr)
        return 1
    try:
        best = result.best
    except RuntimeError as error:  # every metric NaN: all trials diverged
        print(error, file=sys.stderr)
        return 1
    print(f"best: {format_config(best['config'])}  (trial {best['trial']}, seed {best['seed']})")
    return code

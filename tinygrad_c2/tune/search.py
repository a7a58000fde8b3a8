"""Random, grid and coarse-to-fine search over a dict of spaces, with a table of results.

Reproducibility: trial i's randomness comes from `np.random.SeedSequence(seed).spawn(...)[i]`
(the same as `SeedSequence(seed, spawn_key=(i,))`), split in two: one stream samples the
trial's hyperparameters, here in the calling process before anything is submitted, the
other gives the trial seed, an integer in [0, 2**32) passed to the objective as
`config["seed"]` (seed your model with it: `tg.manual_seed(config["seed"])`). So the same
search seed gives the same configs, seeds and results whatever the executor and whatever
the order in which trials finish, and trial i is the same in a search of 10 or of 100 trials.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .spaces import Choice, Grid, Space, parse_space
from .trials import (
    SEED_KEY,
    Job,
    Journal,
    Objective,
    Progress,
    Runner,
    format_config,
    format_value,
    is_lost,
)

__all__ = [
    "SEED_KEY",
    "SearchResult",
    "coarse_to_fine",
    "format_config",
    "grid_search",
    "random_search",
    "sample_config",
    "trial_seed_sequence",
]

_CONSTANTS = (numbers.Number, str, bool, type(None))


def trial_seed_sequence(seed: int, trial: int) -> np.random.SeedSequence:
    """Trial `trial`'s SeedSequence: child `trial` of `SeedSequence(seed)`.

    >>> a = trial_seed_sequence(0, 3).generate_state(1)
    >>> bool((a == np.random.SeedSequence(0).spawn(4)[3].generate_state(1)).all())
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(trial,))


def sample_config(space: Mapping[str, Any], seed: int, trial: int) -> tuple[dict, int]:
    """Trial `trial`'s hyperparameters (constants pass through) and its trial seed.

    >>> from tinygrad_c2.tune import LogUniform
    >>> config, trial_seed = sample_config({"lr": LogUniform(1e-4, 1e-1), "epochs": 5}, 0, 0)
    >>> sorted(config), 1e-4 <= config["lr"] <= 1e-1, 0 <= trial_seed < 2**32
    (['epochs', 'lr'], True, True)
    """
    config_seq, run_seq = trial_seed_sequence(seed, trial).spawn(2)
    rng = np.random.default_rng(config_seq)
    config = {name: s.sample(rng, 1)[0] if isinstance(s, Space) else s
              for name, s in space.items()}
    return config, int(run_seq.generate_state(1, dtype=np.uint32)[0])


# ---------------------------------------------------------------------------------------------
# argument checks


def _check_space(space: object, where: str, lists_as_grid: bool = False) -> dict[str, Any]:
    if not isinstance(space, Mapping) or not space:
        raise TypeError(f"{where}: space must be a non-empty dict of name -> space, e.g. "
                        f"{{'lr': LogUniform(1e-4, 1e-1)}}, got {space!r}")
    checked: dict[str, Any] = {}
    for name, s in space.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: hyperparameter names must be strings, got {name!r}")
        if name == SEED_KEY:
            raise ValueError(f"{where}: {SEED_KEY!r} is reserved for the trial seed that the "
                             "search passes in config; rename the hyperparameter")
        if lists_as_grid and isinstance(s, (list, tuple)):
            s = Grid(s)
        if isinstance(s, (list, tuple)):
            raise TypeError(f"{where}: {name!r} is a list; wrap it in Choice([...]) to sample "
                            "from it (lists are grids only in grid_search)")
        if not isinstance(s, (Space, *_CONSTANTS)):
            raise TypeError(f"{where}: {name!r} must be a Space or a fixed number/string, "
                            f"got {type(s).__name__}")
        checked[name] = s
    return checked


def _check_common(metric: object, mode: object, where: str) -> None:
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"{where}: metric must be the name of the dev metric that the objective "
                        f"returns, e.g. 'dev_loss', got {metric!r}")
    if mode not in ("max", "min"):
        raise ValueError(f"{where}: mode must be 'max' or 'min', got {mode!r}")


def _check_count(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def _resolve_seed(seed: object, where: str) -> int:
    if seed is None:  # fresh entropy, recorded in the result so the search can be replayed
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{where}: seed must be an integer >= 0 or None, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------------------------
# trials


def _sampled_jobs(space: Mapping[str, Any], seed: int, trials: range, round_index: int
                  ) -> list[Job]:
    jobs = []
    for trial in trials:
        config, trial_seed = sample_config(space, seed, trial)
        jobs.append((trial, round_index, trial_seed, config))
    return jobs


# ---------------------------------------------------------------------------------------------
# results


def _metric_value(record: dict, metric: str) -> float:
    return float(record["metrics"][metric])


def _ranked(records: Sequence[dict], metric: str, mode: str) -> list[dict]:
    """Succeeded trials, best first; NaN/inf-free ones before the rest; ties by trial id."""
    sign = -1.0 if mode == "max" else 1.0

    def key(record: dict) -> tuple:
        value = _metric_value(record, metric)
        finite = math.isfinite(value)
        return (not finite, sign * value if finite else 0.0, record["trial"])

    return sorted((r for r in records if r["error"] is None), key=key)


def _json_safe(value: Any) -> Any:
    """Strict JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _describe_space(space: Mapping[str, Any]) -> dict[str, Any]:
    return {name: s.spec() if isinstance(s, Space) else s for name, s in space.items()}


@dataclass
class SearchResult:
    """The table of a search: one record per trial, in trial order.

    Each record is a dict: `trial` (id), `round` (coarse-to-fine round, else 0), `seed` (the
    trial seed given to the objective), `config` (the sampled hyperparameters), `metrics`
    (what the objective returned), `error` (None, or "Type: message" for a failed trial),
    `traceback` (text, for failed trials) and `duration` (seconds). `spaces` holds the space
    searched in each round; `seed` is the search seed (drawn and kept when None was given).
    """

    method: str
    metric: str
    mode: str
    seed: int
    spaces: list[dict[str, Any]]
    records: list[dict]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def failed(self) -> list[dict]:
        """The records of trials that raised (or returned no usable metric)."""
        return [r for r in self.records if r["error"] is not None]

    @property
    def lost(self) -> list[dict]:
        """The failed trials that never ran to the end: their worker process died (after the
        retries) or the executor could not send them. Not results: `resume` runs them again."""
        return [r for r in self.records if is_lost(r)]

    def ranked(self) -> list[dict]:
        """Succeeded trials, best first (NaN metrics, such as diverged runs, last)."""
        return _ranked(self.records, self.metric, self.mode)

    @property
    def best(self) -> dict:
        """The best trial's record (highest metric for mode 'max', lowest for 'min')."""
        ranked = self.ranked()
        if not ranked or not math.isfinite(_metric_value(ranked[0], self.metric)):
            first = self.failed[0]["error"] if self.failed else "every metric was NaN or inf"
            raise RuntimeError(f"SearchResult.best: no trial out of {len(self.records)} gave a "
                               f"finite {self.metric!r} (first problem: {first})")
        return ranked[0]

    @property
    def best_config(self) -> dict:
        """The best trial's hyperparameters plus its seed, ready to train the final model."""
        best = self.best
        return {**best["config"], SEED_KEY: best["seed"]}

    def columns(self) -> tuple[list[str], list[list[Any]]]:
        """The flat table: trial, round, seed, hyperparameters, metrics, error, duration.

        A metric whose name clashes with another column is prefixed with 'metric:'.
        Non-scalar metrics (lists such as a loss history) are written as JSON text.
        """
        params = list(dict.fromkeys(k for r in self.records for k in r["config"]))
        metric_names = list(dict.fromkeys(k for r in self.records for k in r["metrics"]))
        taken = {"trial", "round", "seed", "error", "duration", *params}
        metric_columns = [f"metric:{m}" if m in taken else m for m in metric_names]
        header = ["trial", "round", "seed", *params, *metric_columns, "error", "duration"]
        rows = []
        for r in self.records:
            metrics = [r["metrics"].get(m, "") for m in metric_names]
            metrics = [json.dumps(_json_safe(v)) if isinstance(v, (list, dict)) else v
                       for v in metrics]
            rows.append([r["trial"], r["round"], r["seed"],
                         *[r["config"].get(p, "") for p in params], *metrics,
                         r["error"] or "", r["duration"]])
        return header, rows

    def to_csv(self, path: str | Path) -> Path:
        """Write the flat table (see `columns`) as CSV; returns the path."""
        path = Path(path)
        header, rows = self.columns()
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> SearchResult:
        """Read back a result written by `to_json` (null metrics become NaN again).

        >>> import tempfile, os; from tinygrad_c2.tune import Uniform
        >>> result = random_search(lambda c: {"acc": c["x"]}, {"x": Uniform(0, 1)}, 3, seed=0,
        ...                        metric="acc", mode="max", progress=False)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     again = SearchResult.from_json(result.to_json(os.path.join(folder, "r.json")))
        >>> again.records == result.records and again.spaces == result.spaces
        True
        """
        document = json.loads(Path(path).read_text())
        spaces = [{name: parse_space(v) if isinstance(v, str) else v for name, v in s.items()}
                  for s in document["spaces"]]
        records = document["records"]
        for record in records:
            if record["metrics"].get(document["metric"], 0.0) is None:
                record["metrics"][document["metric"]] = math.nan
            if record["duration"] is None:
                record["duration"] = math.nan
        return cls(document["method"], document["metric"], document["mode"], document["seed"],
                   spaces, records)

    def to_json(self, path: str | Path) -> Path:
        """Write the whole result (records with tracebacks, spaces, best trial) as JSON.

        Spaces are written in `parse_space`'s spelling; NaN and infinity become null.
        """
        path = Path(path)
        ranked = self.ranked()
        has_best = bool(ranked) and math.isfinite(_metric_value(ranked[0], self.metric))
        document = {
            "method": self.method, "metric": self.metric, "mode": self.mode, "seed": self.seed,
            "best_trial": ranked[0]["trial"] if has_best else None,
            "spaces": [_describe_space(s) for s in self.spaces],
            "records": self.records,
        }
        path.write_text(json.dumps(_json_safe(document), indent=1, allow_nan=False) + "\n")
        return path

    def table(self, limit: int | None = 10) -> str:
        """The trials ranked best first (at most `limit` rows), then the failed ones."""
        ranked = self.ranked()
        shown = ranked if limit is None else ranked[:limit]
        params = list(dict.fromkeys(k for r in self.records for k in r["config"]))
        with_rounds = any(r["round"] for r in self.records)
        header = ["rank", "trial", *(["round"] if with_rounds else []), self.metric, *params]
        rows = [[str(i), str(r["trial"]), *([str(r["round"])] if with_rounds else []),
                 format_value(_metric_value(r, self.metric)),
                 *[format_value(r["config"].get(p, "")) for p in params]]
                for i, r in enumerate(shown, start=1)]
        widths = [max(len(line[j]) for line in [header, *rows]) for j in range(len(header))]
        lines = ["  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True))
                 for line in [header, *rows]]
        if len(shown) < len(ranked):
            lines.append(f"... {len(ranked) - len(shown)} more")
        for r in self.failed:
            lines.append(f"failed: trial {r['trial']}: {r['error'].splitlines()[0][:100]}")
        return "\n".join(lines)

    def __str__(self) -> str:
        n_failed = len(self.failed)
        title = (f"{self.method} search: {len(self.records)} trials ({n_failed} failed), "
                 f"{self.metric} ({self.mode}), seed {self.seed}")
        try:
            best = self.best
            best_line = (f"best: trial {best['trial']}: {self.metric}="
                         f"{format_value(_metric_value(best, self.metric))}  "
                         f"{format_config(best['config'])}")
        except RuntimeError as exc:
            best_line = f"best: none ({exc})"
        return "\n".join([title, best_line, self.table()])


def _open_runner(where: str, objective: Objective, method: str, space: Mapping[str, Any],
                 seed: object, search: dict, *, metric: str, mode: str,
                 executor: Executor | None, workers: int | None, retries: int,
                 progress: Progress, journal: str | Path | None, resume: bool
                 ) -> tuple[int, Runner]:
    """Check the arguments every search shares; return the search seed and its runner."""
    if executor is not None and workers is not None:
        raise ValueError(f"{where}: give executor or workers, not both")
    if workers is not None:
        workers = _check_count(workers, "workers", where)
    if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or retries < 0:
        raise ValueError(f"{where}: retries must be an integer >= 0, got {retries!r}")
    if resume and journal is None:
        raise ValueError(f"{where}: resume=True needs the journal file of the search to continue")
    if seed is None and resume and Path(journal).exists():  # the journal knows the seed drawn
        try:
            seed = json.loads(Path(journal).read_text().split("\n", 1)[0])["seed"]
        except (ValueError, KeyError, TypeError):
            pass  # Journal reports the bad file below
    seed = _resolve_seed(seed, where)
    log = None
    if journal is not None:
        header = {"journal": "tinygrad_c2.tune", "method": method, "metric": metric,
                  "mode": mode, "seed": seed, "space": _describe_space(space), **search}
        log = Journal(journal, header, resume, where)
    return seed, Runner(objective, metric, executor, workers, int(retries), progress, log)


# ---------------------------------------------------------------------------------------------
# searches


def random_search(
    objective: Objective,
    space: Mapping[str, Any],
    n_trials: int,
    seed: int | None = None,
    *,
    metric: str,
    mode: str,
    executor: Executor | None = None,
    workers: int | None = None,
    retries: int = 2,
    journal: str | Path | None = None,
    resume: bool = False,
    progress: Progress = True,
) -> SearchResult:
    """Run `n_trials` trials at random points of `space` and tabulate them.

    `objective(config)` gets the sampled hyperparameters plus `config["seed"]` and returns a
    dict holding at least `metric` (a dev-set number; `mode` 'max' or 'min' says which way
    is better). The course's point: a grid of k x k tries only k values of the
    hyperparameter that matters; k*k random trials try k*k of them.

    Where trials run: here, one after the other (the default); on `workers` processes of a
    pool the search owns (each worker's BLAS on one thread, the pool re-created when a worker
    dies); or on `executor`, any concurrent.futures.Executor (a Dask cluster's, your own
    pool). A trial whose worker process died is run again up to `retries` times (the last
    time alone); a trial whose objective raised is a result and is not re-run. Still-lost
    trials are in `result.lost`.
    `journal` is a file to which every finished trial is appended as it completes; with
    `resume=True` a search continues from it: recorded trials are not run again and the
    result equals an uninterrupted search's. `progress` prints a line per finished trial to
    stdout (or give a callable `(record, done, total)`).

    >>> from tinygrad_c2.tune import LogUniform
    >>> result = random_search(lambda c: {"dev_loss": (math.log10(c["lr"]) + 2) ** 2},
    ...                        {"lr": LogUniform(1e-4, 1e-1)}, 20, seed=0,
    ...                        metric="dev_loss", mode="min", progress=False)
    >>> len(result), round(result.best["config"]["lr"], 5)
    (20, 0.00496)
    """
    where = "random_search"
    _check_common(metric, mode, where)
    space = _check_space(space, where)
    n_trials = _check_count(n_trials, "n_trials", where)
    seed, runner = _open_runner(where, objective, "random", space, seed, {"n_trials": n_trials},
                                metric=metric, mode=mode, executor=executor, workers=workers,
                                retries=retries, progress=progress, journal=journal,
                                resume=resume)
    with runner:
        records = runner.run(_sampled_jobs(space, seed, range(n_trials), 0))
    return SearchResult("random", metric, mode, seed, [space], records)


def grid_search(
    objective: Objective,
    space: Mapping[str, Any],
    seed: int | None = None,
    *,
    metric: str,
    mode: str,
    executor: Executor | None = None,
    workers: int | None = None,
    retries: int = 2,
    journal: str | Path | None = None,
    resume: bool = False,
    progress: Progress = True,
) -> SearchResult:
    """Try every combination of the Grid / Choice / list values in `space` (for comparison).

    Continuous spaces give evenly spaced points on their own scale with `.grid(k)`, e.g.
    `{"lr": LogUniform(1e-4, 1e-1).grid(4), "act": ["relu", "tanh"]}`: 8 trials. Trial
    seeds come from `seed`, and `executor`, `workers`, `retries`, `journal` and `resume`
    work, as in `random_search`.

    >>> from tinygrad_c2.tune import Uniform
    >>> result = grid_search(lambda c: {"acc": c["a"] * c["b"]},
    ...                      {"a": Uniform(0, 1).grid(3), "b": [1, 2]}, seed=0,
    ...                      metric="acc", mode="max", progress=False)
    >>> len(result), result.best["config"]
    (6, {'a': 1.0, 'b': 2})
    """
    where = "grid_search"
    _check_common(metric, mode, where)
    space = _check_space(space, where, lists_as_grid=True)
    axes: list[list[Any]] = []
    for name, s in space.items():
        if isinstance(s, (Grid, Choice)):
            axes.append(list(s.grid(None).values))
        elif isinstance(s, Space):
            raise TypeError(f"{where}: {name!r} is {s!r}; grid search needs explicit points: "
                            f"use {type(s).__name__}(...).grid(k) or a list")
        else:
            axes.append([s])
    seed, runner = _open_runner(where, objective, "grid", space, seed, {}, metric=metric,
                                mode=mode, executor=executor, workers=workers, retries=retries,
                                progress=progress, journal=journal, resume=resume)
    jobs = []
    for i, values in enumerate(itertools.product(*axes)):
        _, trial_seed = sample_config({}, seed, i)
        jobs.append((i, 0, trial_seed, dict(zip(space, values, strict=True))))
    with runner:
        records = runner.run(jobs)
    return SearchResult("grid", metric, mode, seed, [space], records)


def _in_space(record: dict, space: Mapping[str, Any]) -> bool:
    return all(s.contains(record["config"][name])
               for name, s in space.items() if isinstance(s, Space))


def coarse_to_fine(
    objective: Objective,
    space: Mapping[str, Any],
    rounds: int = 3,
    trials_per_round: int = 10,
    seed: int | None = None,
    *,
    metric: str,
    mode: str,
    zoom: float = 0.5,
    keep: float = 0.25,
    executor: Executor | None = None,
    workers: int | None = None,
    retries: int = 2,
    journal: str | Path | None = None,
    resume: bool = False,
    progress: Progress = True,
) -> SearchResult:
    """Random search in rounds, each zoomed in around the best trials so far.

    After each round the best `keep` share of a round's worth of trials (at least one), among
    all trials so far that lie in the current space, narrow every hyperparameter with
    `Space.narrow(values, zoom, best)`: continuous ranges keep `zoom` of their width on their
    own scale, centred on those trials and always containing the best one; choices keep the
    options those trials used. So each round's space lies inside the previous one and holds
    the best point found so far. Trial ids run on across rounds (round r has ids
    r*trials_per_round ...), so seeds never repeat. `result.spaces[r]` is round r's space.
    `executor`, `workers`, `retries`, `journal` and `resume` work as in `random_search`; a
    round with lost trials (see `SearchResult.lost`) ends the search early, since the next
    round's zoom needs its results: resuming runs them, then the remaining rounds.

    >>> from tinygrad_c2.tune import LogUniform
    >>> result = coarse_to_fine(lambda c: {"dev_loss": (math.log10(c["lr"]) + 2) ** 2},
    ...                         {"lr": LogUniform(1e-4, 1e-1)}, rounds=3, trials_per_round=8,
    ...                         seed=0, metric="dev_loss", mode="min", progress=False)
    >>> len(result), [s["lr"].contains(result.best["config"]["lr"]) for s in result.spaces]
    (24, [True, True, True])
    """
    where = "coarse_to_fine"
    _check_common(metric, mode, where)
    current = _check_space(space, where)
    rounds = _check_count(rounds, "rounds", where)
    per_round = _check_count(trials_per_round, "trials_per_round", where)
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or not 0 < keep <= 1:
        raise ValueError(f"{where}: keep must be a fraction in (0, 1], got {keep!r}")
    if isinstance(zoom, bool) or not isinstance(zoom, numbers.Real) or not 0 < zoom <= 1:
        raise ValueError(f"{where}: zoom must be a fraction in (0, 1], got {zoom!r}")
    search = {"rounds": rounds, "trials_per_round": per_round, "zoom": zoom, "keep": keep}
    seed, runner = _open_runner(where, objective, "coarse-to-fine", current, seed, search,
                                metric=metric, mode=mode, executor=executor, workers=workers,
                                retries=retries, progress=progress, journal=journal,
                                resume=resume)
    n_keep = max(1, math.ceil(keep * per_round))
    records: list[dict] = []
    spaces: list[dict[str, Any]] = []
    with runner:
        for round_index in range(rounds):
            if round_index > 0:
                # NaN metrics (diverged runs) never steer the zoom; the best point is always in
                # the current space, so `top` is never empty once any trial has succeeded.
                candidates = [r for r in _ranked(records, metric, mode)
                              if math.isfinite(_metric_value(r, metric))
                              and _in_space(r, current)]
                top = candidates[:n_keep]
                if top:
                    current = {name: s.narrow([r["config"][name] for r in top], zoom=zoom)
                               if isinstance(s, Space) else s for name, s in current.items()}
            spaces.append(current)
            if progress is True:
                print(f"round {round_index + 1}/{rounds}: " + "  ".join(
                    f"{n}={s!r}" for n, s in current.items() if isinstance(s, Space)),
                    flush=True)
            trials = range(round_index * per_round, (round_index + 1) * per_round)
            records += runner.run(_sampled_jobs(current, seed, trials, round_index))
            lost = [r["trial"] for r in records if is_lost(r)]
            if lost and round_index + 1 < rounds:
                # NOTE: the next round would zoom on incomplete results, and a resumed search
                # (which runs the lost trials first) would then sample other points: stop here.
                if progress is True:
                    print(f"stopping after round {round_index + 1}: trials {lost} were lost; "
                          "resume the search to run them and the remaining rounds",
                          flush=True)
                break
    return SearchResult("coarse-to-fine", metric, mode, seed, spaces, records)

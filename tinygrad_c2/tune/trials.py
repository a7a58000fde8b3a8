"""Running a search's trials: here or on an executor, retries after a dead worker, the journal.

`Runner` runs the trials of one search (all its rounds) and hands back records; `Journal`
appends each finished record to a file at once, which is what `resume=` reads back. The
searches in search.py decide which trials to run; this file decides how they run.
"""

from __future__ import annotations

import json
import numbers
import os
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, Executor, Future, as_completed
from pathlib import Path
from typing import Any

from .executors import process_executor, run_trial

__all__ = ["LOST_PREFIX", "SEED_KEY", "Journal", "Runner", "format_config", "format_value",
           "is_lost"]

SEED_KEY = "seed"
"""The key under which the objective finds its trial seed in `config`."""
LOST_PREFIX = "executor: "
"""How the error of a trial that the executor never ran to the end begins."""

Objective = Callable[[dict], Mapping[str, Any]]
Progress = bool | Callable[[dict, int, int], None]
Job = tuple[int, int, int, dict]  # (trial id, round, trial seed, config)


def format_value(value: Any) -> str:
    """A float to 4 significant digits, anything else as str()."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_config(config: Mapping[str, Any]) -> str:
    """'lr=0.001234  beta1=0.9' for progress lines and tables."""
    return "  ".join(f"{name}={format_value(v)}" for name, v in config.items())


def _print_progress(metric: str) -> Callable[[dict, int, int], None]:
    def report(record: dict, done: int, total: int) -> None:
        width = len(str(total))
        if record["error"] is None:
            outcome = f"{metric}={format_value(record['metrics'][metric])}"
        else:
            outcome = "FAILED " + record["error"].splitlines()[0][:80]
        print(f"[{done:>{width}}/{total}] trial {record['trial']}: {outcome}  "
              f"{format_config(record['config'])}  ({record['duration']:.1f}s)",
              flush=True)
    return report


def _make_record(job: Job, outcome: dict, metric: str) -> dict:
    trial, round_index, trial_seed, config = job
    metrics, error, trace = outcome["metrics"], outcome["error"], outcome["traceback"]
    if error is None:  # the objective ran; check that it reported the dev metric as a number
        value = metrics.get(metric)
        if metric not in metrics:
            error = f"KeyError: the objective returned no {metric!r} (got {sorted(metrics)})"
        elif isinstance(value, bool) or not isinstance(value, numbers.Real):
            error = f"TypeError: the objective's {metric!r} must be a number, got {value!r}"
    return {"trial": trial, "round": round_index, "seed": trial_seed, "config": config,
            "metrics": metrics, "error": error, "traceback": trace,
            "duration": outcome["duration"]}


def _failed_outcome(exc: BaseException, note: str = "") -> dict:
    """A trial the executor itself could not run (pickling, a dead worker, ...)."""
    trace = "".join(traceback.format_exception(exc))
    return {"metrics": {}, "error": f"{LOST_PREFIX}{type(exc).__name__}: {exc}{note}",
            "traceback": trace, "duration": float("nan")}


def _submit(executor: Executor, objective: Objective, config: dict) -> Future:
    try:
        return executor.submit(run_trial, objective, config)
    except Exception as exc:  # e.g. a lambda that cannot be pickled, a closed pool
        future: Future = Future()
        future.set_exception(exc)
        return future


class Journal:
    """The trials of a search as JSON lines, one appended (flushed and fsynced) per finished
    trial, so a killed search loses at most the trials that were running.

    The first line describes the search; resuming checks it against the search being run
    and takes the trials recorded there instead of running them again. Lines are Python's
    JSON (NaN allowed), so a restored record equals the one written.
    """

    def __init__(self, path: str | Path, header: dict, resume: bool, where: str) -> None:
        self.path, self.where = Path(path), where
        self.done: dict[int, dict] = {}
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise ValueError(f"{where}: the journal {self.path} already holds a search; pass "
                             "resume=True to continue it, or give another file")
        if exists:
            self._read(header, where)
            self.file = self.path.open("a")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open("w")
            self._append(header)

    def _read(self, header: dict, where: str) -> None:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = len(data) - len(lines[-1])  # bytes up to the last newline
        # NOTE: a kill in the middle of a write leaves a partial last line: it is dropped
        # (that trial runs again) and cut off, so the next line does not run into it.
        if lines[-1]:
            with self.path.open("r+b") as f:
                f.truncate(complete)
        rows = []
        for number, line in enumerate(lines[:-1], start=1):
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{where}: {self.path} line {number} is not a JSON record "
                                 f"({exc}); it is not a journal written by tg.tune") from None
        if not rows:
            raise ValueError(f"{where}: {self.path} has no complete header line")
        found = rows[0]
        for key, value in header.items():
            if json.loads(json.dumps(value)) != found.get(key):
                raise ValueError(f"{where}: {self.path} holds another search ({key} "
                                 f"{found.get(key)!r} there, {value!r} here); resume with "
                                 "the same arguments or give another file")
        self.done = {record["trial"]: record for record in rows[1:]}

    def _append(self, row: dict) -> None:
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def write(self, record: dict) -> None:
        try:
            self._append(record)
        except TypeError as exc:
            raise TypeError(f"journal {self.path}: trial {record['trial']}'s record cannot be "
                            f"written as JSON ({exc}); return plain numbers, strings and lists"
                            ) from None

    def restore(self, job: Job) -> dict | None:
        """The journal's record of this job, or None if the trial has not finished yet."""
        trial, round_index, trial_seed, config = job
        record = self.done.get(trial)
        if record is None:
            return None
        if (record["round"], record["seed"]) != (round_index, trial_seed) or \
                record["config"] != json.loads(json.dumps(config)):
            raise ValueError(f"{self.where}: trial {trial} in {self.path} has config "
                             f"{record['config']} (round {record['round']}), but this search "
                             f"samples {config} (round {round_index}); the journal belongs to "
                             "another search")
        return {**record, "config": config}  # the sampled values keep their Python types

    def close(self) -> None:
        self.file.close()


class Runner:
    """Runs the jobs of one search: here, on the executor given, or on a process pool of its
    own; journals every finished trial and retries trials whose worker process died.

    Retry policy: a trial whose objective raised is a result (recorded, never re-run: with
    its seed it would raise again). A trial lost because its worker process died (the
    executor raises BrokenExecutor: killed, out of memory, a crash in native code) is run
    again on a fresh pool, up to `retries` times; the last retry runs the lost trials one at
    a time, so a trial that kills its worker every time cannot take the others with it. An
    executor given by the caller cannot be re-created: its lost trials are recorded failed.
    """

    def __init__(self, objective: Objective, metric: str, executor: Executor | None,
                 workers: int | None, retries: int, progress: Progress,
                 journal: Journal | None) -> None:
        self.objective, self.metric, self.retries = objective, metric, retries
        self.workers, self.journal = workers, journal
        self.executor = process_executor(workers) if workers is not None else executor
        self.report = _print_progress(metric) if progress is True else (progress or None)
        self.say = progress is True

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.workers is not None and self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
        if self.journal is not None:
            self.journal.close()

    def _renew_pool(self) -> None:
        assert self.workers is not None and self.executor is not None
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = process_executor(self.workers)

    def run(self, jobs: list[Job]) -> list[dict]:
        """Run the jobs (trial, round, seed, config) and return their records in trial order."""
        records: list[dict] = []

        def finish(job: Job, outcome: dict) -> None:
            records.append(_make_record(job, outcome, self.metric))
            if self.journal is not None and not is_lost(records[-1]):
                self.journal.write(records[-1])  # a lost trial has no result: resume reruns it
            if self.report is not None:
                self.report(records[-1], len(records), len(jobs))

        todo = []
        for job in jobs:
            restored = self.journal.restore(job) if self.journal is not None else None
            if restored is None:
                todo.append(job)
            else:
                records.append(restored)
        if self.say and len(todo) < len(jobs):
            print(f"resumed {len(jobs) - len(todo)} finished trials from {self.journal.path}",
                  flush=True)
        if self.executor is None:
            for job in todo:
                finish(job, run_trial(self.objective, {**job[3], SEED_KEY: job[2]}))
        else:
            self._run_on_executor(todo, finish)
        return sorted(records, key=lambda r: r["trial"])

    def _run_on_executor(self, todo: list[Job], finish: Callable[[Job, dict], None]) -> None:
        """Run the jobs on the executor, re-running those lost to a dead worker (see above)."""
        lost = self._together(todo, finish)
        if self.workers is None:  # the caller's executor: tune cannot make a new one
            note = (" (a worker process died and broke the executor; tune cannot re-create an "
                    "executor it was given: pass workers=N instead, so that tune retries such "
                    "trials on a fresh pool)")
        else:
            for retry in range(1, self.retries + 1):
                if not lost:
                    break
                alone = retry == self.retries
                todo = [job for job, _ in lost]
                if self.say:
                    print(f"{len(todo)} trials lost to a dead worker process "
                          f"({', '.join(str(job[0]) for job in todo)}): running them again "
                          f"{'one at a time' if alone else 'on a fresh pool'} (retry {retry} "
                          f"of {self.retries})", flush=True)
                self._renew_pool()
                lost = self._one_at_a_time(todo, finish) if alone else \
                    self._together(todo, finish)
            note = (f" (its worker process died; lost {self.retries + 1} times, the last time "
                    "running alone)" if self.retries else " (its worker process died; retries=0)")
        for job, exc in lost:
            finish(job, _failed_outcome(exc, note))

    def _outcome(self, future: Future) -> dict | BrokenExecutor:
        try:
            return future.result()
        except BrokenExecutor as exc:  # the worker died: the trial never finished
            return exc
        except Exception as exc:  # cannot be pickled, cancelled, ...: would fail again
            return _failed_outcome(exc)

    def _together(self, todo: list[Job], finish: Callable[[Job, dict], None]
                  ) -> list[tuple[Job, BrokenExecutor]]:
        assert self.executor is not None
        futures = {_submit(self.executor, self.objective, {**job[3], SEED_KEY: job[2]}): job
                   for job in todo}
        lost = []
        try:
            for future in as_completed(futures):
                outcome = self._outcome(future)
                if isinstance(outcome, BrokenExecutor):
                    lost.append((futures[future], outcome))
                else:
                    finish(futures[future], outcome)
        except BaseException:  # Ctrl-C: do not leave the rest of the search queued
            for future in futures:
                future.cancel()
            raise
        return sorted(lost, key=lambda pair: pair[0][0])

    def _one_at_a_time(self, todo: list[Job], finish: Callable[[Job, dict], None]
                       ) -> list[tuple[Job, BrokenExecutor]]:
        lost = []
        for job in todo:
            outcome = self._outcome(_submit(self.executor, self.objective,
                                            {**job[3], SEED_KEY: job[2]}))
            if isinstance(outcome, BrokenExecutor):  # this trial, alone, killed its worker
                lost.append((job, outcome))
                self._renew_pool()
            else:
                finish(job, outcome)
        return lost


def is_lost(record: dict) -> bool:
    """Whether a record is of a trial the executor never ran to the end (no result)."""
    return record["error"] is not None and record["error"].startswith(LOST_PREFIX)

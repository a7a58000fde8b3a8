"""Random, grid and coarse-to-fine search: seeding, records, failures, exports, progress."""

import csv
import json
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tinygrad_c2.tune import (
    SEED_KEY,
    Choice,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    coarse_to_fine,
    grid_search,
    random_search,
    sample_config,
)
from tinygrad_c2.tune._testing import bowl, bowl_sometimes_fails, lr_only_surface

SPACE = {"lr": LogUniform(1e-4, 1e-1), "x": Uniform(0.0, 1.0), "act": Choice(["relu", "tanh"]),
         "epochs": 3}
QUIET = {"metric": "dev_loss", "mode": "min", "progress": False}


def without_durations(records):
    return [{k: v for k, v in r.items() if k != "duration"} for r in records]


def test_each_trial_gets_its_config_and_seed_from_the_search_seed_and_its_index():
    result = random_search(bowl, SPACE, 6, seed=11, **QUIET)
    assert [r["trial"] for r in result.records] == list(range(6))
    child = np.random.SeedSequence(11).spawn(6)[4]  # trial 4's sequence, as documented
    config_seq, run_seq = child.spawn(2)
    assert result.records[4]["seed"] == int(run_seq.generate_state(1, dtype=np.uint32)[0])
    rng = np.random.default_rng(config_seq)
    expected = {"lr": SPACE["lr"].sample(rng, 1)[0], "x": SPACE["x"].sample(rng, 1)[0],
                "act": SPACE["act"].sample(rng, 1)[0], "epochs": 3}
    assert result.records[4]["config"] == expected
    # the objective saw the trial seed under config["seed"]: bowl's noise is drawn from it
    for r in result.records:
        noise = np.random.default_rng(r["seed"]).normal(0.0, 1e-3)
        assert r["metrics"]["noise"] == noise


def test_same_seed_same_results_and_trial_i_does_not_depend_on_the_number_of_trials():
    a = random_search(bowl, SPACE, 8, seed=3, **QUIET)
    b = random_search(bowl, SPACE, 8, seed=3, **QUIET)
    longer = random_search(bowl, SPACE, 12, seed=3, **QUIET)
    other = random_search(bowl, SPACE, 8, seed=4, **QUIET)
    assert without_durations(a.records) == without_durations(b.records)
    assert without_durations(longer.records[:8]) == without_durations(a.records)
    assert [r["config"] for r in other.records] != [r["config"] for r in a.records]


def test_a_thread_pool_gives_exactly_the_in_process_results():
    expected = random_search(bowl_sometimes_fails, SPACE, 10, seed=5, **QUIET)
    with ThreadPoolExecutor(4) as pool:
        threaded = random_search(bowl_sometimes_fails, SPACE, 10, seed=5, executor=pool, **QUIET)
    assert without_durations(threaded.records) == without_durations(expected.records)


def test_a_failing_trial_is_recorded_with_its_error_and_traceback_and_the_rest_run():
    result = random_search(bowl_sometimes_fails, SPACE, 20, seed=0, **QUIET)
    failed = [r for r in result.records if r["config"]["x"] > 0.7]
    assert failed and result.failed == failed and len(result) == 20
    for r in failed:
        assert r["error"] == f"FloatingPointError: training diverged at x={r['config']['x']}"
        assert "bowl_sometimes_fails" in r["traceback"] and r["metrics"] == {}
    for r in result.records:
        if r not in failed:
            assert r["error"] is None and r["traceback"] is None and "dev_loss" in r["metrics"]
    assert result.best["config"]["x"] <= 0.7


def test_a_missing_or_non_numeric_metric_fails_that_trial_only():
    def objective(config):
        if config["x"] < 0.3:
            return {"dev_acc": 0.5}
        if config["x"] < 0.6:
            return {"dev_loss": "low"}
        return {"dev_loss": config["x"]}

    result = random_search(objective, {"x": Uniform(0, 1)}, 20, seed=1, **QUIET)
    for r in result.records:
        x = r["config"]["x"]
        if x < 0.3:
            assert r["error"].startswith("KeyError: the objective returned no 'dev_loss'")
        elif x < 0.6:
            assert r["error"].startswith("TypeError: the objective's 'dev_loss' must be a number")
        else:
            assert r["error"] is None
    assert result.best["metrics"]["dev_loss"] == min(r["config"]["x"] for r in result.records
                                                     if r["config"]["x"] >= 0.6)


def test_nan_metrics_rank_last_and_never_win():
    def objective(config):
        return {"dev_acc": math.nan if config["x"] > 0.5 else config["x"]}

    result = random_search(objective, {"x": Uniform(0, 1)}, 16, seed=2, metric="dev_acc",
                           mode="max", progress=False)
    ranked = result.ranked()
    finite = [r for r in ranked if not math.isnan(r["metrics"]["dev_acc"])]
    assert ranked[:len(finite)] == finite
    assert result.best["metrics"]["dev_acc"] == max(r["config"]["x"] for r in finite)


def test_best_follows_the_mode():
    low = random_search(bowl, SPACE, 10, seed=0, **QUIET)
    high = random_search(bowl, SPACE, 10, seed=0, metric="dev_loss", mode="max", progress=False)
    losses = [r["metrics"]["dev_loss"] for r in low.records]
    assert low.best["metrics"]["dev_loss"] == min(losses)
    assert high.best["metrics"]["dev_loss"] == max(losses)
    assert low.best_config == {**low.best["config"], SEED_KEY: low.best["seed"]}


def test_best_raises_a_clear_error_when_every_trial_failed():
    result = random_search(bowl_sometimes_fails, {"lr": LogUniform(1e-3, 1e-2),
                                                  "x": Uniform(0.8, 0.9)}, 3, seed=0, **QUIET)
    with pytest.raises(RuntimeError, match="no trial out of 3 gave a finite 'dev_loss'.*"
                                           "FloatingPointError"):
        _ = result.best
    assert "best: none" in str(result)


def test_grid_search_tries_every_combination_in_order():
    seen = []

    def objective(config):
        seen.append((config["lr"], config["act"]))
        return {"dev_loss": lr_only_surface(config)["dev_loss"]}

    result = grid_search(objective, {"lr": LogUniform(1e-4, 1e-1).grid(4),
                                     "act": ["relu", "tanh"], "epochs": 2}, seed=0, **QUIET)
    expected = [(lr, act) for lr in (1e-4, 1e-3, 1e-2, 1e-1) for act in ("relu", "tanh")]
    assert seen == expected and len(result) == 8
    assert [r["config"]["epochs"] for r in result.records] == [2] * 8
    assert result.best["config"]["lr"] == 1e-2  # the grid point nearest 10**-1.7
    assert len({r["seed"] for r in result.records}) == 8


def test_grid_search_asks_for_explicit_points():
    with pytest.raises(TypeError, match=r"use LogUniform\(...\).grid\(k\)"):
        grid_search(bowl, {"lr": LogUniform(1e-4, 1e-1)}, seed=0, **QUIET)


def test_random_search_beats_a_grid_of_the_same_budget_when_one_hyperparameter_matters():
    # The course's argument: a 5 x 5 grid tries 5 learning rates, 25 random trials try 25.
    grid = {"lr": LogUniform(1e-4, 1.0).grid(5), "eps": LogUniform(1e-10, 1e-6).grid(5)}
    grid_best = grid_search(lr_only_surface, grid, seed=0, **QUIET).best["metrics"]["dev_loss"]
    space = {"lr": LogUniform(1e-4, 1.0), "eps": LogUniform(1e-10, 1e-6)}
    wins = sum(random_search(lr_only_surface, space, 25, seed=s, **QUIET).best["metrics"]
               ["dev_loss"] < grid_best for s in range(40))
    assert wins >= 36  # the chance that 25 log-uniform lrs all miss the better window: ~3%


def test_coarse_to_fine_rounds_are_nested_and_hold_the_best_point_so_far():
    space = {"lr": LogUniform(1e-5, 1.0), "beta": OneMinusLogUniform(0.8, 0.9999),
             "hidden": IntUniform(8, 512), "act": Choice(["relu", "tanh", "sigmoid"])}

    def objective(config):
        penalty = 0.0 if config["act"] == "tanh" else 0.5
        return {"dev_loss": (math.log10(config["lr"]) + 2.5) ** 2 + penalty
                + (math.log10(1 - config["beta"]) + 2) ** 2 + (config["hidden"] - 100) ** 2 / 1e4}

    result = coarse_to_fine(objective, space, rounds=4, trials_per_round=12, seed=0, zoom=0.5,
                            **QUIET)
    assert len(result) == 48 and len(result.spaces) == 4
    assert [r["trial"] for r in result.records] == list(range(48))
    assert [r["round"] for r in result.records] == [k for k in range(4) for _ in range(12)]
    for k in range(1, 4):
        before, after = result.spaces[k - 1], result.spaces[k]
        best_so_far = min((r for r in result.records if r["round"] < k),
                          key=lambda r: r["metrics"]["dev_loss"])
        for name in ("lr", "beta", "hidden"):
            assert before[name].lo <= after[name].lo <= after[name].hi <= before[name].hi
            assert after[name].contains(best_so_far["config"][name])
        assert math.log10(after["lr"].hi / after["lr"].lo) == pytest.approx(
            0.5 * math.log10(before["lr"].hi / before["lr"].lo))
        assert set(after["act"].options) <= set(before["act"].options)
        assert best_so_far["config"]["act"] in after["act"].options
        for r in result.records:
            if r["round"] == k:
                assert all(after[n].contains(r["config"][n]) for n in space)


def test_records_export_to_csv_and_strict_json(tmp_path):
    def objective(config):
        if config["x"] > 0.8:
            raise ValueError("boom")
        return {"dev_loss": math.nan if config["x"] < 0.1 else config["x"],
                "x": 2 * config["x"], "curve": [1.0, 0.5]}

    result = random_search(objective, {"x": Uniform(0, 1), "act": "relu"}, 25, seed=0, **QUIET)
    with open(result.to_csv(tmp_path / "r.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["trial", "round", "seed", "x", "act", "dev_loss", "metric:x",
                             "curve", "error", "duration"]
    assert len(rows) == 25
    for row, record in zip(rows, result.records, strict=True):
        assert float(row["x"]) == record["config"]["x"] and int(row["seed"]) == record["seed"]
        assert row["error"] == (record["error"] or "")
    document = json.loads((result.to_json(tmp_path / "r.json")).read_text())
    assert document["best_trial"] == result.best["trial"]
    assert document["spaces"] == [{"x": "uniform:0.0:1.0", "act": "relu"}]
    assert document["metric"] == "dev_loss" and document["seed"] == 0
    nan_trials = [r["trial"] for r in result.records
                  if math.isnan(r["metrics"].get("dev_loss", 0.0))]
    assert nan_trials and all(document["records"][t]["metrics"]["dev_loss"] is None
                              for t in nan_trials)
    assert "ValueError: boom" in document["records"][result.failed[0]["trial"]]["traceback"]


def test_the_text_table_ranks_trials_and_lists_failures():
    result = random_search(bowl_sometimes_fails, SPACE, 12, seed=0, **QUIET)
    text = str(result)
    lines = text.splitlines()
    assert lines[0] == (f"random search: 12 trials ({len(result.failed)} failed), "
                        "dev_loss (min), seed 0")
    assert lines[1].startswith(f"best: trial {result.best['trial']}: dev_loss=")
    assert lines[2].split() == ["rank", "trial", "dev_loss", "lr", "x", "act", "epochs"]
    assert lines[3].split()[:2] == ["1", str(result.best["trial"])]
    assert sum(line.startswith("failed: trial") for line in lines) == len(result.failed)


def test_progress_reports_every_finished_trial(capsys):
    calls = []
    random_search(bowl, SPACE, 5, seed=0, metric="dev_loss", mode="min",
                  progress=lambda record, done, total: calls.append((record["trial"], done, total)))
    assert calls == [(i, i + 1, 5) for i in range(5)]
    random_search(bowl_sometimes_fails, SPACE, 4, seed=0, metric="dev_loss", mode="min")
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert captured.err == ""  # progress goes to stdout, which Jupyter does not paint as errors
    assert len(lines) == 4 and lines[0].startswith("[1/4] trial 0: ")
    assert any("FAILED FloatingPointError" in line for line in lines)


def test_a_search_with_no_seed_records_the_one_it_drew_and_replays_from_it():
    first = random_search(bowl, SPACE, 4, seed=None, **QUIET)
    again = random_search(bowl, SPACE, 4, seed=first.seed, **QUIET)
    assert without_durations(again.records) == without_durations(first.records)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"space": {"seed": Uniform(0, 1)}}, ValueError, "'seed' is reserved"),
    ({"space": {"act": ["relu", "tanh"]}}, TypeError, r"wrap it in Choice\(\[...\]\)"),
    ({"space": {}}, TypeError, "space must be a non-empty dict"),
    ({"metric": None}, TypeError, "metric must be the name of the dev metric"),
    ({"mode": "best"}, ValueError, "mode must be 'max' or 'min'"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0 or None"),
    ({"n_trials": 0}, ValueError, "n_trials must be an integer >= 1"),
])
def test_random_search_rejects_bad_arguments_clearly(kwargs, error, message):
    arguments = {"objective": bowl, "space": SPACE, "n_trials": 2, "seed": 0, **QUIET, **kwargs}
    with pytest.raises(error, match=f"random_search: .*{message}"):
        random_search(**arguments)


def test_coarse_to_fine_rejects_bad_zoom_and_keep():
    with pytest.raises(ValueError, match="coarse_to_fine: zoom must be a fraction"):
        coarse_to_fine(bowl, SPACE, 2, 2, seed=0, zoom=1.5, **QUIET)
    with pytest.raises(ValueError, match="coarse_to_fine: keep must be a fraction"):
        coarse_to_fine(bowl, SPACE, 2, 2, seed=0, keep=0, **QUIET)


def test_sample_config_passes_constants_through():
    config, seed = sample_config({"lr": LogUniform(1e-3, 1e-2), "act": "relu"}, 0, 7)
    assert config["act"] == "relu" and 1e-3 <= config["lr"] <= 1e-2
    assert (config, seed) == sample_config({"lr": LogUniform(1e-3, 1e-2), "act": "relu"}, 0, 7)


class StopAfter:
    """An objective that stops the search (Ctrl-C) when it is called for the `n`-th time,
    and counts the trials it ran."""

    def __init__(self, n=None):
        self.n, self.calls = n, []

    def __call__(self, config):
        self.calls.append(config["seed"])
        if len(self.calls) == self.n:
            raise KeyboardInterrupt
        return bowl_sometimes_fails(config)


C2F = {"rounds": 3, "trials_per_round": 5, "seed": 1, **QUIET}


def test_a_search_stopped_midway_resumes_to_the_uninterrupted_result(tmp_path):
    journal = tmp_path / "trials.jsonl"
    expected = coarse_to_fine(StopAfter(), SPACE, **C2F)
    assert expected.failed, "objective errors are results and must be journaled too"
    with pytest.raises(KeyboardInterrupt):  # in round 2: the zoom needs round 1 from the journal
        coarse_to_fine(StopAfter(8), SPACE, journal=journal, **C2F)
    assert len(journal.read_text().splitlines()) == 1 + 7  # the header, then 7 finished trials
    again = StopAfter()
    got = coarse_to_fine(again, SPACE, journal=journal, resume=True, **C2F)
    assert len(again.calls) == 15 - 7  # the recorded trials did not run again
    assert without_durations(got.records) == without_durations(expected.records)
    assert got.spaces == expected.spaces
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert sorted(r["trial"] for r in lines[1:]) == list(range(15))


def test_resume_drops_a_half_written_last_line(tmp_path):
    journal = tmp_path / "trials.jsonl"
    expected = random_search(bowl, SPACE, 4, seed=2, journal=journal, **QUIET)
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:3]) + lines[3][:20])  # killed while writing trial 2
    again = StopAfter()
    got = random_search(again, SPACE, 4, seed=2, journal=journal, resume=True, **QUIET)
    assert again.calls == [r["seed"] for r in expected.records[2:]]
    assert without_durations(got.records) == without_durations(expected.records)
    assert [json.loads(line)["trial"] for line in journal.read_text().splitlines()[1:]] == \
        [0, 1, 2, 3]


def test_resume_takes_the_seed_from_the_journal_and_keeps_nan_metrics(tmp_path):
    journal = tmp_path / "trials.jsonl"

    def objective(config):
        return {"dev_loss": math.nan if config["x"] > 0.5 else config["x"]}

    first = random_search(objective, SPACE, 5, journal=journal, **QUIET)  # a drawn seed
    again = StopAfter()
    got = random_search(again, SPACE, 5, journal=journal, resume=True, **QUIET)
    assert got.seed == first.seed and again.calls == []
    assert [math.isnan(r["metrics"]["dev_loss"]) for r in got.records] == \
        [r["config"]["x"] > 0.5 for r in first.records]


def test_a_journal_of_another_search_is_refused(tmp_path):
    journal = tmp_path / "trials.jsonl"
    random_search(bowl, SPACE, 3, seed=2, journal=journal, **QUIET)
    with pytest.raises(ValueError, match=r"already holds a search; pass resume=True"):
        random_search(bowl, SPACE, 3, seed=2, journal=journal, **QUIET)
    with pytest.raises(ValueError, match=r"holds another search \(seed 2 there, 3 here\)"):
        random_search(bowl, SPACE, 3, seed=3, journal=journal, resume=True, **QUIET)
    with pytest.raises(ValueError, match=r"holds another search \(method 'random' there"):
        grid_search(bowl, {"lr": [0.1, 0.01]}, seed=2, journal=journal, resume=True, **QUIET)
    with pytest.raises(ValueError, match="resume=True needs the journal file"):
        random_search(bowl, SPACE, 3, seed=2, resume=True, **QUIET)
    journal.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1 is not a JSON record"):
        random_search(bowl, SPACE, 3, seed=2, journal=journal, resume=True, **QUIET)

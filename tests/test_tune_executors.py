"""The same search gives the same table in-process, on a process pool and on a Dask cluster,
also when worker processes die; the pool's workers run BLAS on one thread."""

import os

import pytest

from tinygrad_c2.tune import (
    Choice,
    IntUniform,
    LogUniform,
    Uniform,
    coarse_to_fine,
    dask_executor,
    process_executor,
    random_search,
    run_trial,
    sample_config,
)
from tinygrad_c2.tune._testing import (
    bowl,
    bowl_killing_its_worker,
    bowl_sometimes_fails,
    report_blas_threads,
    slow_bowl,
)
from tinygrad_c2.tune.executors import BLAS_THREAD_VARIABLES

# slow_bowl sleeps a seed-dependent time, so parallel trials finish out of order;
# bowl_sometimes_fails raises for x > 0.7, so failures must travel back from workers too.
SPACE = {"lr": LogUniform(1e-4, 1e-1), "x": Uniform(0.0, 1.0), "hidden": IntUniform(8, 64),
         "act": Choice(["relu", "tanh"])}
QUIET = {"metric": "dev_loss", "mode": "min", "progress": False}


def comparable(result):
    """Everything but the wall-clock durations."""
    return [{k: v for k, v in r.items() if k != "duration"} for r in result.records]


@pytest.fixture(scope="module")
def expected():
    """The in-process results every executor must reproduce exactly."""
    return {
        "slow": random_search(slow_bowl, SPACE, 12, seed=7, **QUIET),
        "failing": random_search(bowl_sometimes_fails, SPACE, 12, seed=8, **QUIET),
        "zoom": coarse_to_fine(slow_bowl, SPACE, rounds=2, trials_per_round=6, seed=9, **QUIET),
    }


def run_all(executor):
    return {
        "slow": random_search(slow_bowl, SPACE, 12, seed=7, executor=executor, **QUIET),
        "failing": random_search(bowl_sometimes_fails, SPACE, 12, seed=8, executor=executor,
                                 **QUIET),
        "zoom": coarse_to_fine(slow_bowl, SPACE, rounds=2, trials_per_round=6, seed=9,
                               executor=executor, **QUIET),
    }


def assert_same_tables(got, expected):
    assert expected["failing"].failed, "the failing search must contain failures"
    for name in expected:
        assert comparable(got[name]) == comparable(expected[name]), name
        assert got[name].spaces == expected[name].spaces


def test_a_process_pool_reproduces_the_in_process_search(expected):
    with process_executor(2) as pool:
        got = run_all(pool)
    assert_same_tables(got, expected)


def test_an_objective_that_cannot_be_pickled_fails_its_trials_not_the_search():
    with process_executor(1) as pool:
        result = random_search(lambda config: {"dev_loss": 0.0}, SPACE, 2, seed=0,
                               executor=pool, **QUIET)
    assert len(result.failed) == 2
    assert all(r["error"].startswith("executor: ") for r in result.failed)
    assert "pickle" in result.failed[0]["error"].lower()


def killer_space(markers=None, seed=3, trial=1):
    """A space whose trial `trial` (of search seed `seed`) SIGKILLs its worker process: once,
    leaving a marker in `markers`, or every time when `markers` is None."""
    return {"lr": LogUniform(1e-4, 1e-1), "x": Uniform(0.0, 1.0),
            "kill_seed": sample_config({}, seed, trial)[1], "markers": markers}


def test_a_trial_whose_worker_is_killed_once_is_retried_on_a_fresh_pool(tmp_path, capsys):
    space = killer_space(str(tmp_path))
    got = random_search(bowl_killing_its_worker, space, 8, seed=3, workers=2,
                        metric="dev_loss", mode="min", progress=True)
    assert (tmp_path / f"killed-{space['kill_seed']}").exists(), "trial 1 must have killed"
    assert "lost to a dead worker process" in capsys.readouterr().out  # stdout: not red in Jupyter
    assert not got.failed and not got.lost
    # the marker is there now, so the same search runs in this process without a kill
    expected = random_search(bowl_killing_its_worker, space, 8, seed=3, **QUIET)
    assert comparable(got) == comparable(expected)


def test_a_trial_that_always_kills_its_worker_is_lost_after_the_retries_alone():
    space = killer_space()
    got = random_search(bowl_killing_its_worker, space, 8, seed=3, workers=2, retries=2,
                        **QUIET)
    assert [r["trial"] for r in got.lost] == [1] and got.failed == got.lost
    error = got.lost[0]["error"]
    assert error.startswith("executor: BrokenProcessPool: ")
    assert error.endswith("(its worker process died; lost 3 times, the last time running alone)")
    # the last retry runs each lost trial alone, so the other seven all finished
    for r in got.records[:1] + got.records[2:]:
        assert r["metrics"] == bowl({**r["config"], "seed": r["seed"]})


def test_a_broken_executor_given_by_the_caller_is_reported_not_recreated():
    with process_executor(2) as pool:
        got = random_search(bowl_killing_its_worker, killer_space(), 8, seed=3, executor=pool,
                            **QUIET)
    assert any(r["trial"] == 1 for r in got.lost)
    for r in got.lost:
        assert r["error"].startswith("executor: BrokenProcessPool: ")
        assert "tune cannot re-create an executor it was given: pass workers=N" in r["error"]
    for r in got.records:
        if r not in got.lost:
            assert r["metrics"] == bowl({**r["config"], "seed": r["seed"]})


def test_retries_zero_gives_up_at_the_first_death_and_bad_retries_are_refused():
    got = random_search(bowl_killing_its_worker, killer_space(), 3, seed=3, workers=1,
                        retries=0, **QUIET)
    assert got.lost[0]["trial"] == 1
    assert got.lost[0]["error"].endswith("(its worker process died; retries=0)")
    with pytest.raises(ValueError, match="random_search: retries must be an integer >= 0"):
        random_search(bowl, SPACE, 2, seed=0, workers=1, retries=-1, **QUIET)
    with pytest.raises(ValueError, match="random_search: give executor or workers, not both"):
        with process_executor(1) as pool:
            random_search(bowl, SPACE, 2, seed=0, executor=pool, workers=1, **QUIET)


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_search_pool_runs_blas_on_one_thread_per_worker():
    before = {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES}
    got = random_search(report_blas_threads, {"x": Uniform(0, 1)}, 2, seed=0, workers=2,
                        **QUIET)
    assert [r["metrics"]["OPENBLAS_NUM_THREADS"] for r in got.records] == ["1", "1"]
    assert [r["metrics"]["threads"] for r in got.records] == [1, 1]  # no BLAS threads at all
    assert {name: os.environ.get(name) for name in BLAS_THREAD_VARIABLES} == before
    if len(os.sched_getaffinity(0)) > 1 and not any(before.values()):  # what the limit does
        with process_executor(1, blas_threads=None) as pool:
            unlimited = pool.submit(report_blas_threads, {}).result()
        assert unlimited["threads"] > 1 and unlimited["OPENBLAS_NUM_THREADS"] is None


def test_run_trial_turns_a_non_dict_result_into_an_error():
    assert run_trial(lambda config: 0.5, {})["error"] == (
        "TypeError: the objective must return a dict of metrics, got float")


@pytest.fixture(scope="module")
def dask_cluster():
    """A real scheduler and two single-threaded worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    # NOTE: dashboard_address=None still binds port 8787 (Dask's default), which another
    # process may hold (a warning, an error here); port 0 takes any free port.
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       worker_dashboard_address=None, timeout="60s")
    try:
        yield cluster
    finally:
        cluster.close(timeout=30)


def test_a_dask_cluster_reproduces_the_in_process_search(expected, dask_cluster):
    distributed = pytest.importorskip("distributed")
    with dask_executor(dask_cluster.scheduler_address, timeout="30s") as executor:
        with distributed.get_task_stream() as stream:  # the client dask_executor opened
            got = run_all(executor)
    assert_same_tables(got, expected)
    # every trial ran as a task on one of the cluster's worker processes
    tasks = [t for t in stream.data if str(t["key"]).startswith("run_trial")]
    assert len(tasks) == 12 + 12 + 12
    assert {t["worker"] for t in tasks} <= set(dask_cluster.scheduler_info["workers"])


def test_a_dask_cluster_survives_a_worker_killed_mid_search(tmp_path, dask_cluster):
    """Dask reschedules the task of a dead worker itself: the table is the in-process one."""
    space = killer_space(str(tmp_path), seed=5, trial=2)
    with dask_executor(dask_cluster.scheduler_address, timeout="30s") as executor:
        got = random_search(bowl_killing_its_worker, space, 6, seed=5, executor=executor,
                            **QUIET)
    assert (tmp_path / f"killed-{space['kill_seed']}").exists(), "trial 2 must have killed"
    expected = random_search(bowl_killing_its_worker, space, 6, seed=5, **QUIET)
    assert not got.failed and comparable(got) == comparable(expected)


def test_coarse_to_fine_stops_at_a_round_with_lost_trials_and_resume_completes_it(tmp_path):
    space = killer_space(str(tmp_path / "markers"), seed=6, trial=2)
    (tmp_path / "markers").mkdir()
    search = {"rounds": 2, "trials_per_round": 4, "seed": 6, "workers": 1, "retries": 0,
              "journal": tmp_path / "trials.jsonl", **QUIET}
    first = coarse_to_fine(bowl_killing_its_worker, space, **search)
    assert [r["trial"] for r in first.lost] == [2, 3]  # 3 was queued on the one worker
    assert len(first.spaces) == 1 and len(first) == 4  # round 2 would zoom on 2 of 4 results
    got = coarse_to_fine(bowl_killing_its_worker, space, resume=True, **search)
    expected = coarse_to_fine(bowl_killing_its_worker, space, rounds=2, trials_per_round=4,
                              seed=6, **QUIET)  # trial 2's marker is there: no kill
    assert not got.failed and comparable(got) == comparable(expected)
    assert got.spaces == expected.spaces

"""The same search gives the same table in-process, on a process pool and on a Dask cluster."""

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
)
from tinygrad_c2.tune._testing import bowl_sometimes_fails, slow_bowl

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


def test_run_trial_turns_a_non_dict_result_into_an_error():
    assert run_trial(lambda config: 0.5, {})["error"] == (
        "TypeError: the objective must return a dict of metrics, got float")


@pytest.fixture(scope="module")
def dask_cluster():
    """A real scheduler and two single-threaded worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       host="127.0.0.1", dashboard_address=None,
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

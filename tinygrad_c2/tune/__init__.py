"""tg.tune: hyperparameter search the course's way (week 3): random rather than a grid, each
hyperparameter on its own scale, coarse-to-fine, and many models in parallel ("caviar") on
a process pool or a Dask cluster.

>>> from tinygrad_c2.tune import LogUniform, OneMinusLogUniform, random_search
"""

from .cli import add_tune_arguments, cli_tune
from .executors import dask_executor, process_executor, run_trial
from .plots import plot_search
from .search import (
    SEED_KEY,
    SearchResult,
    coarse_to_fine,
    format_config,
    grid_search,
    random_search,
    sample_config,
    trial_seed_sequence,
)
from .spaces import (
    Choice,
    Grid,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
    parse_space,
)

__all__ = [
    "Choice",
    "Grid",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "SEED_KEY",
    "SearchResult",
    "Space",
    "Uniform",
    "add_tune_arguments",
    "cli_tune",
    "coarse_to_fine",
    "dask_executor",
    "format_config",
    "grid_search",
    "parse_space",
    "plot_search",
    "process_executor",
    "random_search",
    "run_trial",
    "sample_config",
    "trial_seed_sequence",
]

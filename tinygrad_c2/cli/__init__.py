"""The `tinygrad-c2` command: ``main.py`` parses and dispatches; one module per sub-command
(train, gradcheck, graph, predict, tune, bench, names); ``flags``, ``dataset``, ``model`` and
``optimization`` hold the flags several commands share and the objects they build.

The names below are what other modules (tinygrad_c2.tune, benchmarks/) and tests use.
"""

# NOTE: ``main`` is the function; importing the submodule ``tinygrad_c2.cli.main`` first sets
# the attribute to the module, and the line below then rebinds it to the function.
from .dataset import (
    CSV_HEADER,
    Dataset,
    add_csv_header_argument,
    add_data_arguments,
    check_batch_norm_batch,
    load_dataset,
    parse_dataset,
    parse_ratios,
    targets,
    training_loader,
)
from .flags import FlagError, given_flags
from .main import COMMANDS, build_parser, main
from .model import (
    add_model_arguments,
    build_model,
    describe_model,
    make_loss,
    output_units,
    parse_conv,
    parse_layers,
)
from .optimization import add_optimizer_arguments, build_optimizer, build_scheduler

__all__ = [
    "COMMANDS", "CSV_HEADER", "Dataset", "FlagError", "add_csv_header_argument",
    "add_data_arguments", "add_model_arguments", "add_optimizer_arguments", "build_model",
    "build_optimizer", "build_parser", "build_scheduler", "check_batch_norm_batch",
    "describe_model", "given_flags", "load_dataset", "main", "make_loss", "output_units",
    "parse_conv", "parse_dataset", "parse_layers", "parse_ratios", "targets",
    "training_loader",
]

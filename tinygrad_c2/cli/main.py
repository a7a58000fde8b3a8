"""The `tinygrad-c2` command (`python -m tinygrad_c2`): the parser and the dispatch.

Each sub-command lives in its own module as one ``add_<name>_command(subparsers)`` that builds
its parser and sets ``handler``; COMMANDS lists them. ``main`` parses, hands the command its
own part of the command line when its parser asks for it (``command_argv=None`` among its
defaults: train compares the flags typed with a saved run's) and maps the errors every
command may raise to exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .bench import add_bench_command
from .flags import FlagError
from .gradcheck import add_gradcheck_command
from .graph import add_graph_command
from .names import add_names_command
from .predict import add_predict_command
from .train import add_train_command
from .tune import add_tune_command

#: One registration per sub-command.
COMMANDS: list[Callable[[Any], None]] = [add_train_command, add_gradcheck_command,
                                         add_graph_command, add_predict_command,
                                         add_tune_command, add_bench_command, add_names_command]


def build_parser() -> argparse.ArgumentParser:
    """The `tinygrad-c2` parser with every registered sub-command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="tinygrad-c2",
        description="tinygrad_c2: train and inspect small networks the way deeplearning.ai "
                    "Course 2 teaches. Start with `tinygrad-c2 train`.")
    parser.add_argument("--version", action="version", version=f"tinygrad_c2 {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tinygrad-c2` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if hasattr(args, "command_argv"):  # a command that asks for it (set_defaults) gets the
        args.command_argv = argv[argv.index(args.command) + 1:]  # flags typed after its name
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except FlagError as error:
        print(f"tinygrad-c2 {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"tinygrad-c2 {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

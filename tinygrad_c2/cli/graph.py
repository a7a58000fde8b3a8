"""`tinygrad-c2 graph`: draw the computation graph of one training step."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .dataset import add_data_arguments
from .flags import parse_positive_int
from .model import add_model_arguments, describe_model, make_loss, model_and_batch, output_units


def add_graph_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "graph", help="render the computation graph of one training step (SVG/PNG)",
        description="Run one forward and backward pass of an MLP built from the flags on a few "
                    "examples and draw the graph: ops, tensors with shapes, parameters by "
                    "name, and their gradients. Needs Graphviz's `dot` for SVG/PNG.")
    add_data_arguments(parser)
    add_model_arguments(parser, layers="8", dropout=0.0, batchnorm=False)
    parser.add_argument("--output", "-o", type=Path, default=Path("graph.svg"),
                        help="picture to write; format from the suffix (default graph.svg)")
    parser.add_argument("--format", choices=("svg", "png", "pdf", "dot"), default=None,
                        help="override the format given by the suffix")
    parser.add_argument("--examples", type=parse_positive_int, default=4,
                        help="examples in the drawn batch (default 4)")
    parser.add_argument("--no-grads", dest="show_grads", action="store_false",
                        help="leave the gradients out of the picture")
    parser.add_argument("--profile", action="store_true",
                        help="colour ops by their share of the step's time")
    parser.set_defaults(handler=run_graph)


def run_graph(args: argparse.Namespace) -> int:
    from .. import viz

    data, model, X, y = model_and_batch(args)
    n_out = output_units(data.n_classes)
    try:
        path = viz.draw_training_step(model, X, y, make_loss(data.n_classes), args.output,
                                      fmt=args.format, show_grads=args.show_grads,
                                      profile=args.profile)
    except viz.GraphvizNotFoundError as error:
        print(f"tinygrad-c2 graph: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}: one training step of {describe_model(args, data.n_features, n_out)}")
    return 0

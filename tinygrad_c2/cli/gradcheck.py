"""`tinygrad-c2 gradcheck`: the course's gradient check of a model built from the flags."""

from __future__ import annotations

import argparse
from typing import Any

from ..gradcheck import check_gradients
from .dataset import add_data_arguments
from .flags import parse_positive, parse_positive_int
from .model import add_model_arguments, describe_model, make_loss, model_and_batch, output_units


def add_gradcheck_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gradcheck", help="the course's gradient check on an MLP/CNN built from the same flags",
        description="Flatten every parameter into theta, perturb each component by +-eps, and "
                    "compare the centered differences of J with backprop (float64): prints "
                    "the relative difference per parameter and the verdict (~1e-7 great, "
                    "~1e-5 suspect, ~1e-3 bug). Exit code 1 when the check fails.")
    add_data_arguments(parser)
    add_model_arguments(parser, layers="16,8", conv="4:3:1,8:3:1")
    parser.add_argument("--examples", type=parse_positive_int, default=16,
                        help="training examples in the checked batch (default 16)")
    parser.add_argument("--eps", type=parse_positive, default=1e-7,
                        help="the perturbation (default 1e-7)")
    parser.set_defaults(handler=run_gradcheck)



def run_gradcheck(args: argparse.Namespace) -> int:
    data, model, X, y = model_and_batch(args)
    n_out = output_units(data.n_classes)
    n_params = sum(p._data.size for p in model.parameters())
    print(f"gradient check of {describe_model(args, data.n_features, n_out)} on {len(y)} "
          f"{data.name} examples: {n_params} parameters, {2 * n_params} evaluations of J")
    result = check_gradients(model, make_loss(data.n_classes), X, y, eps=args.eps)
    print(result)
    return 0 if result.passed else 1

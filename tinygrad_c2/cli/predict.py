"""`tinygrad-c2 predict`: label the rows of a CSV file with a model written by train."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.modules.module import Module
from .dataset import CSV_HEADER, add_csv_header_argument, index_names
from .model import build_model


def add_predict_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict", help="label each row of a CSV file with a model written by train",
        description="Load RUN/model.tgc2 (the model, its standardizer and the label of each "
                    "class), read FILE.csv (the training file's feature columns, with or "
                    "without the label column) and print one predicted label per row, spelled "
                    "as in the training file. When the file has labels, the accuracy goes to "
                    "stderr.")
    parser.add_argument("--model", type=Path, required=True, metavar="RUN/model.tgc2",
                        help="the model file of a run folder")
    parser.add_argument("--data", type=Path, required=True, metavar="FILE.csv",
                        help="rows to label (load_csv's rules: UTF-8, optional header)")
    add_csv_header_argument(parser)
    parser.add_argument("--output", "-o", type=Path, default=None, metavar="FILE.csv",
                        help="write a one-column CSV (label) instead of printing")
    parser.set_defaults(handler=run_predict)


def saved_model(path: Path) -> tuple[Module, Any, dict[str, Any]]:
    """(model in eval mode, fitted standardizer, config) from a model.tgc2 written by train."""
    from ..data import Standardizer
    from ..serialization import load

    saved = load(path)
    try:
        config = saved["config"]
        shape = argparse.Namespace(**{key: config[key] for key in
                                      ("activation", "init", "dropout", "batchnorm")},
                                   layers=tuple(config["layers"]),
                                   model=config.get("model", "mlp"),  # runs before --model
                                   conv=config.get("conv", "auto"))
        model = build_model(shape, config["n_features"], config["n_outputs"])
        model.load_state_dict(saved["model"])
        scaler = Standardizer().load_state_dict(saved["standardizer"])
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"{path}: not a model.tgc2 written by tinygrad-c2 train "
                         f"({type(error).__name__}: {error})") from None
    return model.eval(), scaler, config


def run_predict(args: argparse.Namespace) -> int:
    from ..data.csv import label_keys, load_csv_features
    from ..engine import no_grad
    from ..tensor import Tensor

    model, scaler, config = saved_model(args.model)
    classes = config.get("classes") or index_names(config["n_classes"])
    X, known = load_csv_features(args.data, config["n_features"],
                                 header=CSV_HEADER[args.csv_header])
    with no_grad():
        logits = model(Tensor(scaler.transform(X).astype(np.float32))).numpy()
    # one sigmoid unit for two classes (output_units), else one unit per class
    index = (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else logits.argmax(1)
    predicted = [classes[i] for i in index]
    if args.output is not None:
        try:
            args.output.write_text("label\n" + "".join(f"{label}\n" for label in predicted),
                                   encoding="utf-8")
        except OSError as error:  # a folder, a missing parent, no permission
            raise ValueError(f"cannot write --output {args.output}: {error.strerror}") from None
        print(f"wrote {args.output}: {len(predicted)} predicted labels")
    else:
        print("\n".join(predicted))
    if known is not None:
        right = sum(p == k for p, k in zip(predicted, label_keys(known), strict=True))
        print(f"accuracy {100 * right / len(known):.2f}% ({right} of {len(known)} rows of "
              f"{args.data})", file=sys.stderr)
    return 0

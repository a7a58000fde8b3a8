"""The data flags (--dataset, --samples, --noise, --split, --seed, --csv-header), loading
and splitting them into a Dataset, and the training loader built from it."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .flags import FlagError, parse_non_negative, parse_non_negative_int, parse_positive_int

BUILTIN_DATASETS = ("digits", "breast_cancer", "moons", "circles", "flower", "spirals")
DATASET_HELP = ("digits (UCI 8x8 digits, shipped), breast_cancer (shipped), moons, circles, "
                "flower, spirals (synthetic 2-D), mnist:FOLDER (IDX files), csv:FILE "
                "(numeric features, class label in the last column)")
MNIST_EXPECTED = ("a folder holding the MNIST IDX files train-images-idx3-ubyte and "
                  "train-labels-idx1-ubyte (optionally .gz; t10k-* files become the test set); "
                  "get them with tinygrad_c2.data.download_mnist(FOLDER)")
CSV_EXPECTED = ("a CSV file with one example per row: numeric feature columns, then the class "
                "label in the last column (an optional header row is skipped)")


def parse_dataset(text: str) -> str:
    """argparse type for --dataset: a built-in name, mnist:FOLDER or csv:FILE that exists."""
    if text in BUILTIN_DATASETS:
        return text
    kind, sep, path = text.partition(":")
    if sep and kind == "mnist":
        if not Path(path).is_dir():
            raise argparse.ArgumentTypeError(f"{text}: no folder {path!r}; expected "
                                             f"{MNIST_EXPECTED}")
        return text
    if sep and kind == "csv":
        if not Path(path).is_file():
            raise argparse.ArgumentTypeError(f"{text}: no file {path!r}; expected {CSV_EXPECTED}")
        return text
    raise argparse.ArgumentTypeError(f"unknown dataset {text!r}; choose from {DATASET_HELP}")


def parse_ratios(text: str) -> tuple[float, float, float]:
    """argparse type for --split: three non-negative numbers adding up to 1, e.g. 0.6,0.2,0.2."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6 or values[0] == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected train,dev,test fractions adding up "
                                         "to 1, e.g. 0.6,0.2,0.2 (or 0.98,0.01,0.01 for big data)")
    return values  # type: ignore[return-value]


def add_data_arguments(parser: argparse.ArgumentParser, default: str = "digits") -> None:
    """--dataset, --samples, --noise, --split, --seed."""
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", type=parse_dataset, default=default, metavar="NAME",
                       help=f"{DATASET_HELP} (default {default})")
    add_csv_header_argument(group)
    group.add_argument("--samples", type=parse_positive_int, default=1000,
                       help="examples drawn for a synthetic set (default 1000)")
    group.add_argument("--noise", type=parse_non_negative, default=None,
                       help="noise of a synthetic set (default: the generator's)")
    group.add_argument("--split", type=parse_ratios, default=(0.6, 0.2, 0.2), metavar="T,D,S",
                       help="train,dev,test fractions (default 0.6,0.2,0.2, the course's "
                            "choice for small data)")
    group.add_argument("--seed", type=parse_non_negative_int, default=0,
                       help="seeds everything (default 0)")


CSV_HEADER = {"auto": None, "yes": True, "no": False}  # --csv-header -> load_csv(header=...)


def add_csv_header_argument(parser: Any) -> None:
    """--csv-header auto|yes|no for the commands that read a CSV file."""
    parser.add_argument("--csv-header", choices=tuple(CSV_HEADER), default="auto",
                        help="is the CSV's first row a header? auto: yes when one of its "
                             "feature fields, or only its label, is not a number; an "
                             "all-number header needs yes (default auto)")


@dataclass
class Dataset:
    """Standardized train/dev/test splits and what the model needs to know about them."""

    name: str
    train: tuple[np.ndarray, np.ndarray]
    dev: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    n_features: int
    n_classes: int
    standardizer: Any
    classes: tuple[str, ...]  # classes[i]: the original label of class index i

    def sizes(self) -> str:
        return f"{len(self.train[1])} train / {len(self.dev[1])} dev / {len(self.test[1])} test"


def _raw_dataset(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, Any, tuple[str, ...]]:
    """(X, y, official test set or None, the label of each class index) for --dataset."""
    from .. import data

    name = args.dataset
    noise = {} if args.noise is None else {"noise": args.noise}
    seed = args.seed
    classes = None  # None: the classes are the indices themselves
    if name in ("digits", "breast_cancer"):
        shipped = data.load_digits() if name == "digits" else data.load_breast_cancer()
        X, y, classes = shipped.data, shipped.target, shipped.target_names
    elif name == "moons":
        X, y = data.make_moons(args.samples, seed=seed, **{"noise": 0.2, **noise})
    elif name == "circles":
        X, y = data.make_circles(args.samples, seed=seed, **{"noise": 0.08, **noise})
    elif name == "flower":
        X, y = data.make_planar_flower(args.samples, seed=seed, **noise)
    elif name == "spirals":
        X, y = data.make_spirals(args.samples, seed=seed, **noise)
    elif name.startswith("mnist:"):
        folder = name.partition(":")[2]
        X, y = data.load_mnist(folder, "train")
        try:
            test = data.load_mnist(folder, "t10k")
        except FileNotFoundError:
            test = None
        top = max(int(y.max()), int(test[1].max()) if test is not None else 0)
        return X, y, test, index_names(top + 1)
    else:
        X, y, classes = data.load_csv(name.partition(":")[2],  # labels in the file's spelling
                                      header=CSV_HEADER[args.csv_header])
    return (X.astype(np.float32, copy=False), y, None,
            classes or index_names(int(y.max()) + 1))


def index_names(n_classes: int) -> tuple[str, ...]:
    """Classes that are their own index: '0', '1', ..."""
    return tuple(str(label) for label in range(n_classes))


def load_dataset(args: argparse.Namespace) -> Dataset:
    """Load --dataset, split it (stratified) by --split, standardize with training statistics."""
    from ..data import Standardizer, train_dev_test_split

    X, y, official_test, classes = _raw_dataset(args)
    ratios = args.split
    if official_test is not None:  # MNIST's own test set: split the rest into train/dev only
        share = ratios[0] / (ratios[0] + ratios[1])
        (X_tr, y_tr), (X_dev, y_dev), _ = train_dev_test_split(
            X, y, (share, 1 - share, 0.0), seed=args.seed, stratify=True)
        X_te, y_te = official_test
    else:
        (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(
            X, y, ratios, seed=args.seed, stratify=True)
    # The course: normalize with the TRAINING set's mu and sigma, and use the same for dev/test.
    scaler = Standardizer().fit(X_tr)
    splits = [(scaler.transform(part).astype(np.float32), labels)
              for part, labels in ((X_tr, y_tr), (X_dev, y_dev), (X_te, y_te))]
    return Dataset(args.dataset, *splits, n_features=X.shape[1], n_classes=len(classes),
                   standardizer=scaler, classes=classes)


def targets(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Labels as the loss wants them: (m, 1) float 0/1 for a binary output, else int labels."""
    return y.reshape(-1, 1).astype(np.float32) if n_classes == 2 else y



def check_batch_norm_batch(args: argparse.Namespace, batch_size: int, m_train: int,
                           flag: str) -> None:
    """Refuse training batches of one example under batch norm: the batch variance of one
    value is 0, so PyTorch (and we) raise in train mode; name the flags that fix it."""
    if not args.batchnorm:
        return
    if batch_size == 1:
        raise FlagError(f"{flag} 1 with batch norm: batch norm needs at least 2 examples per "
                        f"training batch; give {flag} 2 or more, or --no-batchnorm (e.g. for "
                        "stochastic gradient descent)")
    if m_train == 1:
        raise FlagError("the training set holds 1 example and batch norm needs at least 2 per "
                        "training batch; use more examples or --no-batchnorm")


def training_loader(args: argparse.Namespace, data: Dataset) -> tuple[Any, str | None]:
    """The shuffled mini-batches of the training set, and a note when one is dropped.

    NOTE: batch norm cannot train on a batch of one, so when m_train = k * batch + 1 the last
    batch is dropped (drop_last); the data is reshuffled each epoch, so it is a different
    example each time. Any other last batch is kept, as it always was.
    """
    from ..data import DataLoader

    m_train = len(data.train[1])
    drop_last = args.batchnorm and m_train % args.batch_size == 1
    note = None
    if drop_last:
        note = (f"note: the last mini-batch of each epoch holds 1 example ({m_train} = "
                f"{m_train // args.batch_size} x {args.batch_size} + 1) and batch norm needs 2: "
                "it is dropped (a different example each epoch, as the data is reshuffled)")
    train = (data.train[0], targets(data.train[1], data.n_classes))
    return DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=drop_last), note

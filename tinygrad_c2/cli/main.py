"""The `tinygrad-c2` command (`python -m tinygrad_c2`): train, predict, gradcheck, graph, tune.

Each sub-command is one `add_<name>_command(subparsers)` function that builds its parser
and sets `handler`, listed in COMMANDS. The flags that describe data, model and optimizer
are added by reusable functions (`add_data_arguments`, `add_model_arguments`,
`add_optimizer_arguments`) and turned into objects by `load_dataset`, `build_model`,
`build_optimizer` and `build_scheduler`, so a new sub-command (tune, bench) reuses them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import nn, optim
from .gradcheck import check_gradients
from .nn.modules.module import Module
from .optim.lr_scheduler import LRScheduler
from .rng import manual_seed
from .serialization import save

# ------------------------------------------------------------------------------------ data

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
    from . import data

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
        return X, y, test, _index_names(top + 1)
    else:
        X, y, classes = data.load_csv(name.partition(":")[2],  # labels in the file's spelling
                                      header=CSV_HEADER[args.csv_header])
    return (X.astype(np.float32, copy=False), y, None,
            classes or _index_names(int(y.max()) + 1))


def _index_names(n_classes: int) -> tuple[str, ...]:
    """Classes that are their own index: '0', '1', ..."""
    return tuple(str(label) for label in range(n_classes))


def load_dataset(args: argparse.Namespace) -> Dataset:
    """Load --dataset, split it (stratified) by --split, standardize with training statistics."""
    from .data import Standardizer, train_dev_test_split

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


# ------------------------------------------------------------------------------ flag types

def parse_number(text: str, convert: Callable[[str], Any], low: float, high: float,
                 expected: str) -> Any:
    """argparse type helper: `convert(text)` if it lies in [low, high), else a clear error.

    >>> parse_number("0.5", float, 0.0, 1.0, "a probability")
    0.5
    """
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not low <= value < high:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
    return value


def parse_probability(text: str) -> float:
    """argparse type for --dropout: a drop probability in [0, 1)."""
    return parse_number(text, float, 0.0, 1.0,
                        "a drop probability in [0, 1) (the course's keep_prob is 1 - p)")


def parse_non_negative(text: str) -> float:
    """argparse type: a finite number >= 0 (learning rate, decay rate, lambda)."""
    return parse_number(text, float, 0.0, math.inf, "a number >= 0")


def parse_positive(text: str) -> float:
    """argparse type: a finite number > 0 (the gradient check's eps)."""
    value = parse_number(text, float, 0.0, math.inf, "a number > 0")
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0")
    return value


def parse_non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (a seed; patience, where 0 turns early stopping off)."""
    return parse_number(text, int, 0, math.inf, "an integer >= 0")


def parse_positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (epochs, batch size, examples)."""
    return parse_number(text, int, 1, math.inf, "a positive integer")


# ----------------------------------------------------------------------------------- model

ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU,
}


def parse_layers(text: str) -> tuple[int, ...]:
    """argparse type for --layers: hidden-layer sizes such as 64,32 ('' or 0 for none)."""
    if text.strip() in ("", "0", "none"):
        return ()
    try:
        sizes = tuple(int(v) for v in text.split(","))
    except ValueError:
        sizes = (0,)
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: expected hidden-layer sizes as positive "
                                         "integers separated by commas, e.g. 64,32")
    return sizes


MODELS = ("mlp", "cnn")


def parse_conv(text: str) -> str:
    """argparse type for --conv: 'auto' or conv blocks CHANNELS:KERNEL[:PADDING],... (kept as
    text, so config.json holds what was typed; ``conv_blocks`` reads it)."""
    if text == "auto":
        return text
    try:
        blocks = [tuple(int(v) for v in block.split(":")) for block in text.split(",")]
    except ValueError:
        blocks = []
    if not blocks or any(len(b) not in (2, 3) or min(b[:2]) < 1 or b[-1] < 0 for b in blocks):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected 'auto' or conv blocks CHANNELS:KERNEL[:PADDING] separated by "
            "commas, e.g. 6:5,16:5 (LeNet) or 16:3:1,32:3:1")
    return text


def add_model_arguments(parser: argparse.ArgumentParser, layers: str = "128,64",
                        dropout: float = 0.2, batchnorm: bool = True,
                        conv: str = "auto") -> None:
    """--model, --conv, --layers, --activation, --init, --dropout, --batchnorm (defaults
    overridable)."""
    group = parser.add_argument_group("model (an MLP, or a CNN with --model cnn)")
    group.add_argument("--model", choices=MODELS, default="mlp",
                       help="mlp: Linear layers on the feature vector; cnn: conv blocks "
                            "(Conv2d -> [BatchNorm2d] -> activation -> MaxPool2d(2)) on the "
                            "image (the features of a square one-channel image: digits 8x8, "
                            "MNIST 28x28), then Flatten and the --layers (default mlp)")
    group.add_argument("--conv", type=parse_conv, default=conv, metavar="C:K[:P],...",
                       help="the cnn's conv blocks: output channels, kernel size and zero "
                            "padding (default 0) of each; auto: LeNet's 6:5,16:5 for images "
                            "of side 20 or more, 16:3:1,32:3:1 for smaller ones such as the "
                            f"8x8 digits (default {conv})")
    group.add_argument("--layers", type=parse_layers, default=parse_layers(layers),
                       metavar="N,N", help=f"hidden-layer sizes (default {layers})")
    group.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                       help="hidden activation (default relu)")
    group.add_argument("--init", choices=nn.init.SCHEMES, default="he",
                       help="the course's initializations: he = N(0,1)*sqrt(2/fan_in), "
                            "xavier = N(0,1)*sqrt(1/fan_in), random = N(0,1)*10 (too large), "
                            "zeros (symmetry never broken) (default he)")
    group.add_argument("--dropout", type=parse_probability, default=dropout, metavar="P",
                       help=f"drop probability after each hidden layer (default {dropout})")
    group.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=batchnorm,
                       help=f"batch norm before each activation (default {batchnorm})")


def build_model(args: argparse.Namespace, n_in: int, n_out: int) -> nn.Sequential:
    """Linear -> [BatchNorm1d] -> activation -> [Dropout] per hidden layer, then Linear(n_out);
    with ``args.model == "cnn"`` the conv blocks of ``build_conv_blocks`` come first.

    Hidden Linear layers have no bias when batch norm follows them (beta replaces it).

    >>> args = argparse.Namespace(layers=(8,), activation="relu", init="he", dropout=0.1,
    ...                           batchnorm=True)
    >>> [type(m).__name__ for m in build_model(args, 4, 3)]
    ['Linear', 'BatchNorm1d', 'ReLU', 'Dropout', 'Linear']
    """
    modules: list[Module] = []
    width = n_in
    if getattr(args, "model", "mlp") == "cnn":
        modules, width = build_conv_blocks(args, n_in)
    for size in args.layers:
        # NOTE: batch norm subtracts the batch mean, so a bias before it has no effect (the
        # course: "b[l] can be eliminated"; its gradient is exactly 0); beta takes its role.
        modules.append(nn.Linear(width, size, bias=not args.batchnorm))
        if args.batchnorm:
            modules.append(nn.BatchNorm1d(size))
        modules.append(ACTIVATIONS[args.activation]())
        if args.dropout > 0:
            modules.append(nn.Dropout(args.dropout))
        width = size
    modules.append(nn.Linear(width, n_out))
    return nn.init.apply_(nn.Sequential(*modules), args.init)


def image_shape(n_features: int) -> tuple[int, int, int]:
    """(1, side, side): the one-channel square image whose pixels are the n features.

    >>> image_shape(64)
    (1, 8, 8)
    """
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise FlagError(f"--model cnn needs the features of a square one-channel image (8x8 "
                        f"digits: 64, MNIST 28x28: 784), got {n_features} features; use "
                        "--model mlp for this data set")
    return 1, side, side


def conv_blocks(spec: str, image: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """(channels, kernel, padding) per conv block of --conv for an image (C, H, W).

    >>> conv_blocks("auto", (1, 28, 28)), conv_blocks("auto", (1, 8, 8))
    ([(6, 5, 0), (16, 5, 0)], [(16, 3, 1), (32, 3, 1)])
    """
    if spec == "auto":
        # LeNet's two 5x5 convs for MNIST-sized images (28 -> 24 -> 12 -> 8 -> 4); an 8x8 image
        # would shrink to nothing under them, so small ones get 3x3 "same" convs (8 -> 4 -> 2).
        spec = "6:5,16:5" if min(image[1:]) >= 20 else "16:3:1,32:3:1"
    return [(*map(int, block.split(":")), 0)[:3] for block in spec.split(",")]


def build_conv_blocks(args: argparse.Namespace, n_in: int) -> tuple[list[Module], int]:
    """Unflatten(1, (1, H, W)), then Conv2d -> [BatchNorm2d] -> activation -> MaxPool2d(2) per
    --conv block, then Flatten: the modules and the number of features they hand on.

    The convs keep PyTorch's default init; --init applies to the Linear layers.

    >>> args = argparse.Namespace(conv="6:5,16:5", activation="relu", batchnorm=False)
    >>> modules, width = build_conv_blocks(args, 784)
    >>> [type(m).__name__ for m in modules][:5], width
    (['Unflatten', 'Conv2d', 'ReLU', 'MaxPool2d', 'Conv2d'], 256)
    """
    channels, H, W = image_shape(n_in)
    modules: list[Module] = [nn.Unflatten(1, (channels, H, W))]
    for out_channels, kernel, padding in conv_blocks(args.conv, (channels, H, W)):
        H, W = H + 2 * padding - kernel + 1, W + 2 * padding - kernel + 1
        if min(H, W) < 2:
            raise FlagError(f"--conv {args.conv}: the {kernel}x{kernel} conv (padding "
                            f"{padding}) leaves a {H}x{W} image, too small for the 2x2 max "
                            f"pool after it; use smaller kernels, more padding or fewer blocks")
        modules.append(nn.Conv2d(channels, out_channels, kernel, padding=padding,
                                 bias=not args.batchnorm))
        if args.batchnorm:
            modules.append(nn.BatchNorm2d(out_channels))
        modules += [ACTIVATIONS[args.activation](), nn.MaxPool2d(2)]
        channels, H, W = out_channels, H // 2, W // 2
    modules.append(nn.Flatten())
    return modules, channels * H * W


def output_units(n_classes: int) -> int:
    """One sigmoid unit for two classes (the course's binary output), else one per class."""
    return 1 if n_classes == 2 else n_classes


def make_loss(n_classes: int) -> Module:
    """BCEWithLogitsLoss for two classes, CrossEntropyLoss (softmax) otherwise."""
    return nn.BCEWithLogitsLoss() if n_classes == 2 else nn.CrossEntropyLoss()


def targets(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Labels as the loss wants them: (m, 1) float 0/1 for a binary output, else int labels."""
    return y.reshape(-1, 1).astype(np.float32) if n_classes == 2 else y


def describe_model(args: argparse.Namespace, n_in: int, n_out: int) -> str:
    """'MLP 64-128-64-10 (he init, relu, batch norm, dropout 0.2)', or for a CNN
    'CNN 1x8x8-conv16k3p1-pool-conv32k3p1-pool-128-64-10 (...)'."""
    sizes = "-".join(str(s) for s in (n_in, *args.layers, n_out))
    kind = "MLP"
    if getattr(args, "model", "mlp") == "cnn":
        image = image_shape(n_in)
        convs = "".join(f"-conv{c}k{k}{f'p{p}' if p else ''}-pool"
                        for c, k, p in conv_blocks(args.conv, image))
        sizes = "x".join(map(str, image)) + convs + "-" + "-".join(
            str(s) for s in (*args.layers, n_out))
        kind = "CNN"
    extras = [f"{args.init} init", args.activation]
    if args.batchnorm:
        extras.append("batch norm")
    if args.dropout:
        extras.append(f"dropout {args.dropout:g}")
    return f"{kind} {sizes} ({', '.join(extras)})"


# ------------------------------------------------------------------------------- optimizer

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
DECAYS = ("inverse_time", "exponential", "step", "none")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.001, "adam": 0.003, "adamw": 0.003}


def add_optimizer_arguments(parser: argparse.ArgumentParser) -> None:
    """--optimizer, --lr, --decay, --decay-rate, --l2, --batch-size, --epochs, --early-stopping."""
    group = parser.add_argument_group("optimization")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="sgd (plain), momentum (the course's, beta 0.9), rmsprop, adam, "
                            "adamw (decoupled weight decay) (default adam)")
    group.add_argument("--lr", type=parse_non_negative, default=None,
                       help="learning rate alpha0 (default: 0.1 for sgd/momentum, 0.001 for "
                            "rmsprop, 0.003 for adam/adamw)")
    group.add_argument("--decay", choices=DECAYS, default="inverse_time",
                       help="learning-rate decay per epoch: inverse_time alpha0/(1+rate*epoch), "
                            "exponential alpha0*(1-rate)^epoch, step (halve every 1/rate "
                            "epochs) or none (default inverse_time)")
    group.add_argument("--decay-rate", type=parse_non_negative, default=0.05,
                       help="the decay rate (default 0.05)")
    group.add_argument("--l2", type=parse_non_negative, default=0.0, metavar="LAMBDA",
                       help="the course's L2 lambda: adds lambda/(2m)*sum||W||^2 to the cost, "
                            "i.e. weight decay lambda/m on weight matrices only (default 0)")
    group.add_argument("--batch-size", type=parse_positive_int, default=64,
                       help="mini-batch size (default 64; the training-set size = batch GD, "
                            "1 = stochastic, which needs --no-batchnorm)")
    group.add_argument("--epochs", type=parse_positive_int, default=100,
                       help="maximum number of epochs (default 100)")
    group.add_argument("--early-stopping", type=parse_non_negative_int, default=20,
                       metavar="PATIENCE",
                       help="stop when the dev loss has not improved for PATIENCE epochs and "
                            "restore the best weights; 0 turns it off (default 20)")


def build_optimizer(args: argparse.Namespace, model: Module, m_train: int) -> optim.Optimizer:
    """The --optimizer with --lr; --l2 becomes weight decay lambda/m on Linear weights only."""
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    params: Any = model.parameters()
    if args.l2 > 0:
        params = nn.param_groups_for_weight_decay(model, args.l2 / m_train)
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr)
    if args.optimizer == "momentum":
        return optim.Momentum(params, lr=lr, beta=0.9)
    if args.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=lr)
    # AdamW's decoupled decay: PyTorch's default 0.01 on every parameter, or the --l2 groups
    return optim.AdamW(params, lr=lr)


def build_scheduler(args: argparse.Namespace, optimizer: optim.Optimizer) -> LRScheduler | None:
    """The --decay schedule (stepped once per epoch), or None."""
    rate = args.decay_rate
    if args.decay == "none" or rate == 0:
        return None
    if args.decay == "inverse_time":
        return optim.lr_scheduler.InverseTimeDecay(optimizer, decay_rate=rate)
    if args.decay == "exponential":
        return optim.lr_scheduler.ExponentialLR(optimizer, gamma=max(1.0 - rate, 1e-6))
    return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, round(1 / rate)), gamma=0.5)


# ----------------------------------------------------------------------------------- train

class FlagError(ValueError):
    """The command line asks for something the command refuses to do (conflicting flags, an
    unusable --out, too little data): one line on stderr, exit code 2 like argparse's own
    errors, and nothing written."""


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The dests of the flags written in `argv`, told apart from defaults (even a flag given
    with its default value counts); `parser` must accept an empty command line.

    argparse leaves an attribute the namespace already has alone instead of setting its
    default, so every dest starts as a marker and only the given ones are overwritten.

    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--lr", type=float, default=0.1)
    >>> _ = parser.add_argument("--epochs", type=int, default=10)
    >>> sorted(given_flags(parser, ["--lr", "0.1"]))
    ['lr']
    """
    marker = object()
    namespace = argparse.Namespace(**dict.fromkeys(vars(parser.parse_args([])), marker))
    parser.parse_args(argv, namespace)
    return {dest for dest, value in vars(namespace).items() if value is not marker}


def add_train_command(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train", help="train an MLP (or a CNN: --model cnn) and write a run folder",
        description="Train an MLP or a CNN from flags: split train/dev/test, standardize, "
                    "train with mini-batches, print train/dev/test accuracy and the bias/variance "
                    "diagnosis, and write a run folder. With no flags: the shipped digits with "
                    "the course's defaults (He init, Adam, mini-batch 64, batch norm, dropout, "
                    "learning-rate decay, early stopping).")
    add_train_arguments(parser)
    parser.set_defaults(handler=run_train, given=None)


def train_parser() -> argparse.ArgumentParser:
    """A parser of the train flags alone (what `given_flags` re-parses)."""
    parser = argparse.ArgumentParser(prog="tinygrad-c2 train", add_help=False)
    add_train_arguments(parser)
    return parser


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The data, model and optimizer flags, then --out, --resume, --no-progress, --no-plots."""
    add_data_arguments(parser)
    add_model_arguments(parser)
    add_optimizer_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="run folder (default runs/<dataset>-<date>-<time>)")
    group.add_argument("--resume", action="store_true",
                       help="continue the run in --out DIR from its checkpoint.tgc2 with the "
                            "settings of its config.json; only --epochs and the patience of "
                            "--early-stopping may change, other differing flags are refused")
    group.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bar")
    group.add_argument("--no-plots", dest="plots", action="store_false",
                       help="skip the PNG curves and the graph SVG")


def _run_folder(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return args.out
    tag = args.dataset.split(":")[0]
    return Path("runs") / f"{tag}-{time.strftime('%Y%m%d-%H%M%S')}"


#: Train flags that say where and how to show a run, not what it is: never compared on --resume.
RUN_FLAGS = frozenset({"out", "resume", "progress", "plots"})
#: Flags a resumed run may change safely: train for longer, wait longer (early stopping stays on).
RESUMABLE_FLAGS = ("epochs", "early_stopping")


def _flag_text(dest: str, value: Any) -> str:
    """A flag's value as one would type it: 16,4 for --layers, 0.6,0.2,0.2 for --split."""
    if dest in ("layers", "split"):
        return ",".join(f"{v:g}" for v in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _resume(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """Make `args` the settings of the run in --out (its config.json) for --resume.

    The saved config wins for everything that defines the data, the model and the optimizer:
    flags left out take the saved values, and a flag given with another value is refused
    (FlagError listing each one), because the checkpoint holds weights and optimizer state
    of the saved settings. Only RESUMABLE_FLAGS may differ; they are applied. Returns the
    saved config and the lines reporting the applied changes. Nothing is written here.
    """
    from .train import Checkpoint

    if args.out is None:
        raise FlagError("--resume needs --out DIR, the run folder to continue")
    checkpoint, config_path = args.out / "checkpoint.tgc2", args.out / "config.json"
    if not checkpoint.is_file():
        raise FlagError(f"--resume: no checkpoint {checkpoint} (a run saves one every 5 "
                        "epochs and at its end); run without --resume to start a new run")
    try:
        saved = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FlagError(f"--resume: cannot read the run's settings from {config_path} "
                        f"({error}); start a new run with another --out") from None
    dests = [dest for dest in vars(train_parser().parse_args([])) if dest not in RUN_FLAGS]
    if isinstance(saved, dict):  # runs from before --model/--conv were MLPs
        saved.setdefault("model", "mlp")
        saved.setdefault("conv", "auto")
    missing = [dest for dest in dests if not isinstance(saved, dict) or dest not in saved]
    if missing:
        raise FlagError(f"--resume: {config_path} lacks {', '.join(missing)}: it was not "
                        "written by this version of tinygrad-c2 train; start a new run with "
                        "another --out")
    given = set(dests) if args.given is None else args.given  # called directly: check all
    state = Checkpoint.read(checkpoint)
    at_epoch = int(state["epoch"])
    conflicts, notes = [], []
    for dest in dests:
        value = tuple(saved[dest]) if dest in ("layers", "split") else saved[dest]
        mine = getattr(args, dest)
        flag = "--" + dest.replace("_", "-")
        if dest not in given or mine == value:
            setattr(args, dest, value)
        elif dest in RESUMABLE_FLAGS and not (dest == "early_stopping" and 0 in (mine, value)):
            notes.append(f"changed {flag} {_flag_text(dest, mine)} (was "
                         f"{_flag_text(dest, value)})")
        else:
            conflicts.append(f"{flag}: saved {_flag_text(dest, value)} vs given "
                             f"{_flag_text(dest, mine)}")
    if conflicts:
        raise FlagError(f"--resume: {args.out} was trained with other settings ("
                        f"{'; '.join(conflicts)}); --resume continues the saved config.json "
                        f"(only --epochs and the --early-stopping patience may change): drop "
                        f"those flags, or start a new run with another --out")
    if args.epochs < at_epoch:
        raise FlagError(f"--resume --epochs {args.epochs}: {checkpoint} is after epoch "
                        f"{at_epoch} already; give --epochs {at_epoch} or more")
    if state["stop_training"] or at_epoch == args.epochs:
        notes.append(f"the run ended at epoch {at_epoch}"
                     f"{' (it stopped early)' if state['stop_training'] else ''}: nothing is "
                     "left to train, the outputs are written again")
    return saved, notes


def _check_resumed_data(saved: dict[str, Any], data: Dataset) -> None:
    """Refuse a resume whose data set no longer matches the saved one (an edited CSV file)."""
    now = {"n_features": data.n_features, "n_classes": data.n_classes,
           "classes": list(data.classes),
           "sizes": {"train": len(data.train[1]), "dev": len(data.dev[1]),
                     "test": len(data.test[1])}}
    changed = [f"{key}: saved {saved.get(key)} vs now {value}" for key, value in now.items()
               if saved.get(key) != value]
    if changed:
        raise FlagError(f"--resume: the data set {data.name} changed since the run started "
                        f"({'; '.join(changed)}); start a new run with another --out")


def check_split_sizes(data: Dataset, split: Sequence[float]) -> None:
    """Refuse a split that leaves the train or dev set (or a test set asked for) empty: the
    dev set drives early stopping and the bias/variance diagnosis."""
    wanted = {"train": data.train, "dev": data.dev}
    if split[2] > 0:
        wanted["test"] = data.test
    empty = [name for name, (_, labels) in wanted.items() if len(labels) == 0]
    if empty:
        raise FlagError(f"{data.name} is too small for --split {_flag_text('split', split)}: "
                        f"it gives {data.sizes()}, an empty {' and '.join(empty)} set; the "
                        "train and dev sets (and the test set, unless its fraction is 0) need "
                        "at least one example each: use more examples (--samples for a "
                        "synthetic set) or other --split fractions")


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
    from .data import DataLoader

    m_train = len(data.train[1])
    drop_last = args.batchnorm and m_train % args.batch_size == 1
    note = None
    if drop_last:
        note = (f"note: the last mini-batch of each epoch holds 1 example ({m_train} = "
                f"{m_train // args.batch_size} x {args.batch_size} + 1) and batch norm needs 2: "
                "it is dropped (a different example each epoch, as the data is reshuffled)")
    train = (data.train[0], targets(data.train[1], data.n_classes))
    return DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=drop_last), note


def _start_run_folder(out: Path, config: dict[str, Any]) -> None:
    """Create the run folder and write config.json: the run's first write, before training."""
    if out.exists() and not out.is_dir():
        raise FlagError(f"--out {out} is a file, not a folder; give a new or existing folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise FlagError(f"--out {out}: cannot write the run folder there: "
                        f"{error.strerror or error} ({error.filename})") from None


def _config(args: argparse.Namespace, data: Dataset, n_out: int) -> dict[str, Any]:
    config = {key: value for key, value in vars(args).items()
              if key not in ("handler", "given")}
    config["out"] = str(config["out"]) if config["out"] is not None else None
    config["layers"] = list(args.layers)
    config["split"] = list(args.split)
    config["lr"] = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    config.update(n_features=data.n_features, n_classes=data.n_classes, n_outputs=n_out,
                  classes=list(data.classes),
                  sizes={"train": len(data.train[1]), "dev": len(data.dev[1]),
                         "test": len(data.test[1])})
    from . import __version__
    config["tinygrad_c2"] = __version__
    return config


def run_train(args: argparse.Namespace) -> int:
    from .train import Checkpoint, EarlyStopping, GradientMonitor, evaluate, fit

    started = time.perf_counter()
    # Every refusal comes before the first write (config.json), so a refused command leaves
    # the run folder as it was.
    saved, resumed = _resume(args) if args.resume else ({}, [])
    manual_seed(args.seed)
    data = load_dataset(args)
    check_split_sizes(data, args.split)
    if args.resume:
        _check_resumed_data(saved, data)
    m_train = len(data.train[1])
    check_batch_norm_batch(args, args.batch_size, m_train, "--batch-size")
    n_out = output_units(data.n_classes)
    model = build_model(args, data.n_features, n_out)
    loss_fn = make_loss(data.n_classes)
    optimizer = build_optimizer(args, model, m_train)
    scheduler = build_scheduler(args, optimizer)
    out = _run_folder(args)
    config = _config(args, data, n_out)
    _start_run_folder(out, config)

    if args.resume:
        print(f"resuming {out}/ with the settings of its config.json"
              + "".join(f"; {note}" for note in resumed))
    print(f"training {describe_model(args, data.n_features, n_out)} on {data.name}: "
          f"{data.sizes()}")
    print(f"  {args.optimizer} lr {config['lr']:g}, decay {args.decay}"
          f"{f' {args.decay_rate:g}' if args.decay != 'none' else ''}, batch {args.batch_size}"
          f"{f', L2 {args.l2:g}' if args.l2 else ''}, up to {args.epochs} epochs"
          f"{f', early stopping patience {args.early_stopping}' if args.early_stopping else ''}",
          flush=True)
    from .data import DataLoader

    train = (data.train[0], targets(data.train[1], data.n_classes))
    loader, note = training_loader(args, data)
    if note:
        print(note)
    dev = (data.dev[0], targets(data.dev[1], data.n_classes))
    test = (data.test[0], targets(data.test[1], data.n_classes))
    callbacks: list[Any] = [GradientMonitor()]
    if args.early_stopping > 0:
        callbacks.append(EarlyStopping("dev_loss", patience=args.early_stopping))
    callbacks.append(Checkpoint(out / "checkpoint.tgc2", every=5, resume=args.resume))
    history = fit(model, loss_fn, optimizer, loader, dev, epochs=args.epochs,
                  scheduler=scheduler, callbacks=callbacks, progress=args.progress)
    seconds = time.perf_counter() - started

    results = {"train": {k.removeprefix("train_"): v for k, v in history.final.items()
                         if k.startswith("train_")},
               "dev": {k.removeprefix("dev_"): v for k, v in history.final.items()
                       if k.startswith("dev_")}}
    if len(test[1]):
        results["test"] = evaluate(model, loss_fn, DataLoader(test, 1024, shuffle=False))
    print("accuracy: " + "  ".join(f"{split} {100 * r['accuracy']:.2f}%"
                                   for split, r in results.items()) + f"   ({seconds:.1f} s)")

    metrics = {**results, "epochs_run": len(history), "best_epoch": history.best_epoch,
               "stopped_epoch": history.stopped_epoch, "seconds": seconds,
               "diagnosis": history.diagnosis.to_dict() if history.diagnosis else None}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    history.to_csv(out / "history.csv")
    save({"model": model.state_dict(), "standardizer": data.standardizer.state_dict(),
          "config": config}, out / "model.tgc2")
    written = ["config.json", "metrics.json", "history.csv", "checkpoint.tgc2", "model.tgc2"]
    notes = []
    if args.plots:
        written += _write_pictures(out, history, model, loss_fn, train, notes)
    print(f"run folder: {out}/ ({', '.join(written)})")
    for note in notes:
        print(f"note: {note}")
    return 0


def _write_pictures(out: Path, history: Any, model: Module, loss_fn: Any,
                    train: tuple[np.ndarray, np.ndarray], notes: list[str]) -> list[str]:
    """curves.png and gradients.png (matplotlib) and graph.svg (Graphviz); a note when missing."""
    written = []
    try:
        from .train import plots

        plots.plot_history(history, out / "curves.png", title=(
            "learning curves, train vs dev: a widening gap is variance, a high plateau bias;\n"
            "the dotted line is the best dev epoch (early stopping keeps those weights)"))
        written.append("curves.png")
        plots.plot_gradient_norms(history, out / "gradients.png")
        written.append("gradients.png")
    except ImportError as error:
        notes.append(f"no PNG curves: {error}")
    try:
        from . import viz

        viz.draw_training_step(model, train[0][:4], train[1][:4], loss_fn, out / "graph.svg")
        written.append("graph.svg")
    except (ImportError, RuntimeError) as error:  # GraphvizNotFoundError is a RuntimeError
        notes.append(f"no graph.svg: {str(error).splitlines()[0]}")
    return written


# ------------------------------------------------------------------------------- gradcheck

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


def _model_and_batch(args: argparse.Namespace) -> tuple[Dataset, Module, np.ndarray, np.ndarray]:
    """The data, a model built from the flags, and the first --examples training examples."""
    manual_seed(args.seed)
    data = load_dataset(args)
    check_batch_norm_batch(args, args.examples, len(data.train[1]), "--examples")
    model = build_model(args, data.n_features, output_units(data.n_classes))
    X = data.train[0][:args.examples]
    y = targets(data.train[1][:args.examples], data.n_classes)
    return data, model, X, y


def run_gradcheck(args: argparse.Namespace) -> int:
    data, model, X, y = _model_and_batch(args)
    n_out = output_units(data.n_classes)
    n_params = sum(p._data.size for p in model.parameters())
    print(f"gradient check of {describe_model(args, data.n_features, n_out)} on {len(y)} "
          f"{data.name} examples: {n_params} parameters, {2 * n_params} evaluations of J")
    result = check_gradients(model, make_loss(data.n_classes), X, y, eps=args.eps)
    print(result)
    return 0 if result.passed else 1


# ----------------------------------------------------------------------------------- graph

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
    from . import viz

    data, model, X, y = _model_and_batch(args)
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


# --------------------------------------------------------------------------------- predict

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


def _saved_model(path: Path) -> tuple[Module, Any, dict[str, Any]]:
    """(model in eval mode, fitted standardizer, config) from a model.tgc2 written by train."""
    from .data import Standardizer
    from .serialization import load

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
    from .data.csv import label_keys, load_csv_features
    from .engine import no_grad
    from .tensor import Tensor

    model, scaler, config = _saved_model(args.model)
    classes = config.get("classes") or _index_names(config["n_classes"])
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


# ------------------------------------------------------------------------------------ main

def add_tune_command(subparsers: Any) -> None:
    """`tinygrad-c2 tune`: random / coarse-to-fine search over the train flags (tg.tune)."""
    from .tune.cli import add_tune_command as register

    register(subparsers)


def add_names_command(subparsers: Any) -> None:
    """`tinygrad-c2 names`: the character-level language model of names (tinygrad_c2/charlm.py)."""
    from .charlm import add_names_command as register

    register(subparsers)


def add_bench_command(subparsers: Any) -> None:
    """`tinygrad-c2 bench`: the training-step benchmark (tinygrad_c2 vs the hand-derived
    reference, PyTorch and the GEMM floor); the flags are tinygrad_c2.bench's."""
    parser = subparsers.add_parser(
        "bench", add_help=False, help="time one training step against the hand-derived reference",
        description="Time one training step; see `tinygrad-c2 bench --help`.")
    parser.set_defaults(handler=_run_bench, bench_argv=[])


def _run_bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.main(args.bench_argv, prog="tinygrad-c2 bench")


#: One registration per sub-command.
COMMANDS: list[Callable[[Any], None]] = [add_train_command, add_gradcheck_command,
                                         add_graph_command, add_predict_command,
                                         add_tune_command, add_bench_command, add_names_command]


def build_parser() -> argparse.ArgumentParser:
    """The `tinygrad-c2` parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="tinygrad-c2",
        description="tinygrad_c2: train and inspect small networks the way deeplearning.ai "
                    "Course 2 teaches. Start with `tinygrad-c2 train`.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"tinygrad_c2 {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tinygrad-c2` console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # the benchmark parses its own flags (tinygrad_c2.bench.main)
        args = argparse.Namespace(command="bench", handler=_run_bench, bench_argv=argv[1:])
    else:
        args = parser.parse_args(argv)
    if args.command == "train":  # --resume compares the flags written out with the saved ones
        args.given = given_flags(train_parser(), argv[argv.index("train") + 1:])
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

"""The model flags (--model, --conv, --layers, --activation, --init, --dropout, --batchnorm),
the model they build, its loss, and its one-line description."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import numpy as np

from .. import nn
from ..nn.modules.module import Module
from ..rng import manual_seed
from .dataset import Dataset, check_batch_norm_batch, load_dataset, targets
from .flags import FlagError, parse_probability

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


def model_and_batch(args: argparse.Namespace) -> tuple[Dataset, Module, np.ndarray, np.ndarray]:
    """The data, a model built from the flags, and the first --examples training examples."""
    manual_seed(args.seed)
    data = load_dataset(args)
    check_batch_norm_batch(args, args.examples, len(data.train[1]), "--examples")
    model = build_model(args, data.n_features, output_units(data.n_classes))
    X = data.train[0][:args.examples]
    y = targets(data.train[1][:args.examples], data.n_classes)
    return data, model, X, y

"""Draw one training step of a small MLP with batch norm and dropout.

Writes examples/images/mlp_graph.svg and .png (the README shows the PNG): the forward graph
from the input batch to the loss, each layer in its own cluster, parameters by name with
the norm of their gradient after backward, and the shape of every tensor on the edges.
Needs Graphviz's `dot` for the pictures (`apt-get install graphviz` / `brew install graphviz`);
without it the DOT source is written and the error says so.
Run: python examples/draw_mlp.py
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, viz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: it is quick")
    add_images_argument(parser)
    args = parser.parse_args()
    args.images = images_folder(args)
    args.images.mkdir(parents=True, exist_ok=True)
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(32, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(16, 10),
    )
    X = tg.randn(128, 64)  # a mini-batch of 8x8 images, flattened
    y = tg.tensor(np.arange(128) % 10)  # their class labels
    graph = viz.draw_model(model, X, y, nn.CrossEntropyLoss(), backward=True)
    for suffix in (".svg", ".png"):
        print("wrote", viz.save(graph, args.images / f"mlp_graph{suffix}"))


if __name__ == "__main__":
    main()

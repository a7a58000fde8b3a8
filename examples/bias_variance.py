"""Bias and variance (Course 2, week 1): the course's four cases, then three real models.

With Bayes (optimal) error ~0, the course reads train and dev error this way:
    train 1%,   dev 11%   high variance
    train 15%,  dev 16%   high bias
    train 15%,  dev 30%   high bias and high variance
    train 0.5%, dev 1%    low bias and low variance
and the basic recipe: fix high bias first (bigger network, train longer), then high
variance (more data, regularization). `tg.train.diagnose` does both; then the same reading
of three models trained on moons: too simple, too big for its data, and about right.
Run: python examples/bias_variance.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.train import diagnose, fit

CASES = [(0.01, 0.11), (0.15, 0.16), (0.15, 0.30), (0.005, 0.01)]


def mlp(*widths):
    layers, n_in = [], 2
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        n_in = width
    return nn.init.apply_(nn.Sequential(*layers, nn.Linear(n_in, 1)), "he")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    scale = 0.15 if args.quick else 1.0

    print("the course's cases (Bayes error 0):")
    for train_error, dev_error in CASES:
        result = diagnose(train_error, dev_error)
        print(f"   train {train_error:5.1%}  dev {dev_error:5.1%}  -> {result.verdict:<36} "
              f"next: {result.recipe[0]}")
    human = diagnose(0.08, 0.10, bayes_error=0.075)
    print(f"   Course 3: human 7.5%, train 8%, dev 10% -> {human.verdict} (avoidable bias "
          f"{human.avoidable_bias:.1%} < variance {human.variance:.1%})")

    X_dev, y_dev = make_moons(1000, noise=0.15, seed=1)
    X_big, y_big = make_moons(600, noise=0.15, seed=0)
    X_small, y_small = make_moons(24, noise=0.15, seed=2)
    experiments = [
        ("logistic regression", mlp(), X_big, y_big, 300),
        ("3x128 network, 24 examples", mlp(128, 128, 128), X_small, y_small, 600),
        ("2x16 network, 600 examples", mlp(16, 16), X_big, y_big, 300),
    ]
    print("three models on moons (dev set: 1000 points):")
    shown = []
    for name, model, X, y, epochs in experiments:
        tg.manual_seed(0)
        Y, Y_dev = y.reshape(-1, 1).astype(np.float32), y_dev.reshape(-1, 1).astype(np.float32)
        history = fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.01),
                      (X, Y), (X_dev, Y_dev), epochs=max(int(epochs * scale), 5),
                      batch_size=64, progress=False, verbose=False)
        result = history.diagnosis
        shown.append((name, model, X, y, result))
        print(f"   {name:<28} train error {result.train_error:5.1%}  dev error "
              f"{result.dev_error:5.1%}  -> {result.verdict}")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 3, size=(13, 3.9))
        for ax, (name, model, X, y, result) in zip(axes[0], shown, strict=True):
            plots.plot_decision_boundary(model, X, y, ax=ax,
                                         title=f"{name}\n{result.verdict.split(':')[0]}")
        path = args.images / "bias_variance.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

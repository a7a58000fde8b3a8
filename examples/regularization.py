"""Regularization (Course 2, week 1): no regularization vs L2 vs dropout on a small noisy set.

The course's 3-layer network on 211 "football" points (batch gradient descent, lr 0.3,
30,000 iterations) reported:
    no regularization      train 94.8%   test 91.5%   (overfits the noise)
    L2, lambda = 0.7       train 93.8%   test 93%
    dropout, keep 0.86     train 92.9%   test 95%
Here: 150 noisy moons to train on, 300 more as the dev set; the train/dev gap is the
variance that regularization removes. L2 is the course's cost term lambda/(2m) sum ||W||^2
(`nn.l2_penalty`); dropout is inverted dropout with p = 1 - keep_prob = 0.14.
Run: python examples/regularization.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons

COURSE = {"none": (0.948, 0.915), "L2": (0.938, 0.93), "dropout": (0.929, 0.95)}


def build(dropout):
    layers = [nn.Linear(2, 40), nn.ReLU()]
    layers += [nn.Dropout(dropout)] if dropout else []
    layers += [nn.Linear(40, 20), nn.ReLU()]
    layers += [nn.Dropout(dropout)] if dropout else []
    return nn.init.apply_(nn.Sequential(*layers, nn.Linear(20, 1)), "he")


def accuracy(model, X, y):
    model.eval()   # dropout is a training-time tool: at test time every unit is used
    with tg.no_grad():
        return float(((model(tg.Tensor(X)).numpy().ravel() > 0) == y).mean())


def train(kind, X, y, iterations, lambd=0.7, keep_prob=0.86):
    tg.manual_seed(3)
    model = build(1 - keep_prob if kind == "dropout" else 0.0)
    opt = optim.SGD(model.parameters(), lr=0.3)
    loss_fn = nn.BCEWithLogitsLoss()
    X_t, y_t = tg.Tensor(X), tg.Tensor(y.reshape(-1, 1).astype(np.float32))
    model.train()
    for _ in range(iterations):
        opt.zero_grad()
        cost = loss_fn(model(X_t), y_t)
        if kind == "L2":
            cost = cost + nn.l2_penalty(model, lambd, m=len(y))   # backward adds lambd/m * W
        cost.backward()
        opt.step()
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    iterations = 1500 if args.quick else 20000

    X, y = make_moons(150, noise=0.35, seed=0)
    X_dev, y_dev = make_moons(300, noise=0.35, seed=1)
    print(f"batch gradient descent, lr 0.3, {iterations} iterations")
    print(f"{'':<18} {'train':>6} {'dev':>6} {'gap':>6}  sum||W||^2   (course: train / test)")
    models = {}
    for kind in ("none", "L2", "dropout"):
        model = models[kind] = train(kind, X, y, iterations)
        a, b = accuracy(model, X, y), accuracy(model, X_dev, y_dev)
        norm = sum(float((w.numpy() ** 2).sum()) for _, w in nn.penalized_weights(model))
        ref = COURSE[kind]
        print(f"{kind:<18} {a:6.1%} {b:6.1%} {a - b:6.1%}  {norm:10.1f}   "
              f"({ref[0]:.1%} / {ref[1]:.1%})")
    print("L2 shrinks the weights (weight decay) and smooths the boundary; dropout spreads "
          "the weights over units that may vanish at any step")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 3, size=(13, 3.8))
        titles = {"none": "no regularization", "L2": "L2 (lambda 0.7)",
                  "dropout": "dropout (keep_prob 0.86)"}
        for ax, kind in zip(axes[0], models, strict=True):
            model = models[kind]
            title = (f"{titles[kind]}: train {accuracy(model, X, y):.0%}, "
                     f"dev {accuracy(model, X_dev, y_dev):.0%}")
            plots.plot_decision_boundary(model, X, y, ax=ax, title=title)
        path = args.images / "regularization.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

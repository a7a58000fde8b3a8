"""Initialization (Course 2, week 1): zeros vs large random vs He on the circles data set.

The course's 3-layer ReLU network [2, 10, 5, 1] with a sigmoid output, trained by batch
gradient descent (lr 0.01) on 300 circle points, reported:
    zeros         train 50%   test 50%   (the units of a layer stay identical: symmetry)
    random * 10   train 83%   test 86%   (huge initial cost, slow start)
    He            train 99%   test 96%
Run: python examples/initialization.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_circles

COURSE = {"zeros": (0.50, 0.50), "random": (0.83, 0.86), "he": (0.99, 0.96)}
LABELS = {"zeros": "zeros", "random": "large random (N(0,1) * 10)", "he": "He (N(0,1) * sqrt(2/n))"}


def accuracy(model, X, y):
    with tg.no_grad():
        return float(((model(tg.Tensor(X)).numpy().ravel() > 0) == y).mean())


def train(scheme, X, y, iterations):
    tg.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(),
                          nn.Linear(5, 1))
    nn.init.apply_(model, scheme)
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.BCEWithLogitsLoss()  # sigmoid + cross-entropy, fused: finite even at init * 10
    X_t, y_t = tg.Tensor(X), tg.Tensor(y.reshape(-1, 1).astype(np.float32))
    costs = []
    for _ in range(iterations):   # batch gradient descent: one step on all 300 examples
        opt.zero_grad()
        loss = loss_fn(model(X_t), y_t)
        loss.backward()
        opt.step()
        costs.append(loss.item())
    return model, costs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    iterations = 2000 if args.quick else 15000

    X, y = make_circles(300, noise=0.05, seed=1, factor=0.8)
    X_test, y_test = make_circles(100, noise=0.05, seed=2, factor=0.8)
    print(f"batch gradient descent, lr 0.01, {iterations} iterations"
          + (" (--quick: too few for He to separate the circles)" if args.quick else ""))
    print(f"{'initialization':<28} {'train':>6} {'test':>6}   first cost -> last cost"
          f"   (course: train / test)")
    results = {}
    for scheme in ("zeros", "random", "he"):
        model, costs = train(scheme, X, y, iterations)
        results[scheme] = (model, costs)
        ref = COURSE[scheme]
        print(f"{LABELS[scheme]:<28} {accuracy(model, X, y):6.1%} "
              f"{accuracy(model, X_test, y_test):6.1%}   {costs[0]:9.3f} -> {costs[-1]:.3f}"
              f"   ({ref[0]:.0%} / {ref[1]:.0%})")
    spread = np.ptp(results["zeros"][0][0].weight.numpy(), axis=0).max()
    print(f"zeros: the rows of W[1] differ by at most {spread:.1e} after training (symmetric)")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 4, size=(17, 3.8))
        for ax, scheme in zip(axes[0, :3], ("zeros", "random", "he"), strict=True):
            plots.plot_decision_boundary(results[scheme][0], X, y, ax=ax, title=LABELS[scheme])
        for scheme in ("zeros", "random", "he"):
            axes[0, 3].plot(results[scheme][1], label=scheme)
        axes[0, 3].set(yscale="log", xlabel="iteration", ylabel="cost", title="cost")
        axes[0, 3].legend()
        path = args.images / "initialization.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

"""Optimization (Course 2, week 2): gradient descent vs momentum vs Adam on moons, and
batch vs mini-batch vs stochastic gradient descent.

The course's 3-layer network [2, 5, 2, 1] on 300 moons (mini-batches of 64, lr 0.0007,
10,000 epochs) reported:
    mini-batch gradient descent   79.7%
    with momentum (beta 0.9)      79.7%   (the lr is too small for momentum to show)
    with Adam                     94%
Run: python examples/optimization.py [--quick] [--images DIR]
"""

import argparse
import time

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.train import fit

COURSE = {"gradient descent": 0.797, "momentum": 0.797, "Adam": 0.94}


def build():
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU(), nn.Linear(2, 1))
    return nn.init.apply_(model, "he")


def make_optimizer(name, params, lr):
    if name == "gradient descent":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.Momentum(params, lr=lr, beta=0.9)     # the course's v = bv + (1-b)g
    return optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    epochs = 300 if args.quick else 10000

    X, y = make_moons(300, noise=0.2, seed=3)
    Y = y.reshape(-1, 1).astype(np.float32)
    loss_fn = nn.BCEWithLogitsLoss()
    quiet = {"progress": False, "verbose": False}

    print(f"1. optimizers: mini-batch 64, lr 0.0007, {epochs} epochs")
    curves = {}
    for name in COURSE:
        tg.manual_seed(1)   # same init and same mini-batches for every optimizer
        model = build()
        history = fit(model, loss_fn, make_optimizer(name, model.parameters(), 7e-4), (X, Y),
                      epochs=epochs, batch_size=64, **quiet)
        curves[name] = history["train_loss"]
        print(f"   {name:<18} accuracy {history['train_accuracy'][-1]:6.1%}   cost "
              f"{history['train_loss'][-1]:.4f}   (course: {COURSE[name]:.1%})")

    sweeps = 5 if args.quick else 60
    print(f"2. batch vs mini-batch vs stochastic: plain gradient descent, lr 0.3, "
          f"{sweeps} epochs")
    steps = {}
    for label, size in (("batch (m = 300)", 300), ("mini-batch 64", 64), ("stochastic (1)", 1)):
        tg.manual_seed(1)
        model = build()
        started = time.perf_counter()
        history = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.3), (X, Y),
                      epochs=sweeps, batch_size=size, record_steps=True, **quiet)
        seconds = time.perf_counter() - started
        steps[label] = ([row["loss"] for row in history.steps], len(history.steps) / sweeps)
        print(f"   {label:<17} {len(history.steps):6d} steps in {seconds:5.2f} s   cost "
              f"{history['train_loss'][-1]:.4f}   accuracy {history['train_accuracy'][-1]:.1%}")
    print("   per epoch: 1 step (batch, slow progress), 5 (mini-batch), 300 (stochastic: "
          "noisy, no vectorization); a well-chosen mini-batch size usually wins")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(11, 3.8))
        for name, curve in curves.items():
            axes[0, 0].plot(range(1, len(curve) + 1), curve, label=name)
        axes[0, 0].set(xlabel="epoch", ylabel="cost", title="optimizers (lr 0.0007)")
        for label, (curve, per_epoch) in reversed(steps.items()):   # noisiest underneath
            epoch_of_step = np.arange(1, len(curve) + 1) / per_epoch
            noisy = per_epoch > 100
            axes[0, 1].plot(epoch_of_step, curve, label=label, alpha=0.25 if noisy else 1.0,
                            lw=0.5 if noisy else 1.5)
        axes[0, 1].set(ylim=(0, 1.5), xlabel="epoch", ylabel="cost of each mini-batch",
                       title="batch vs mini-batch vs stochastic (lr 0.3)")
        for ax in axes[0]:
            ax.legend()
            ax.grid(alpha=0.3)
        path = args.images / "optimization.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

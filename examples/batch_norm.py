"""Batch normalization (Course 2, week 3): a deep network with and without it, and the
running statistics it uses at test time.

Batch norm normalizes each hidden unit's z over the mini-batch, z_norm = (z - mu) /
sqrt(sigma^2 + eps) (a square root: one course note divides by sigma^2 + eps, which does
not give unit variance), then z~ = gamma * z_norm + beta. At test time there is no batch:
mu and sigma^2 come from exponentially weighted averages kept during training (the
running statistics), so one example can be classified alone.
Run: python examples/batch_norm.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import Standardizer, load_digits, train_dev_test_split
from tinygrad_c2.train import fit


def deep_network(batchnorm, depth=10, width=64):
    layers, n_in = [], 64
    for _ in range(depth):
        layers.append(nn.Linear(n_in, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid())
        n_in = width
    layers.append(nn.Linear(n_in, 10))
    return nn.init.apply_(nn.Sequential(*layers), "xavier")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    epochs = 4 if args.quick else 30

    X, y = load_digits(return_X_y=True)
    (X_tr, y_tr), (X_dev, y_dev), _ = train_dev_test_split(X, y, (0.6, 0.2, 0.2), seed=0,
                                                          stratify=True)
    scaler = Standardizer().fit(X_tr)
    X_tr, X_dev = scaler.transform(X_tr), scaler.transform(X_dev)

    print(f"10 sigmoid hidden layers of 64 on digits, momentum SGD lr 0.1, batch 64, "
          f"{epochs} epochs")
    histories, models = {}, {}
    for label, batchnorm in (("without batch norm", False), ("with batch norm", True)):
        tg.manual_seed(0)
        model = models[label] = deep_network(batchnorm)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        histories[label] = fit(model, nn.CrossEntropyLoss(), opt, (X_tr, y_tr),
                               (X_dev, y_dev), epochs=epochs, progress=False, verbose=False)
        h = histories[label]
        print(f"   {label:<20} train cost {h['train_loss'][0]:.3f} -> {h['train_loss'][-1]:.3f}"
              f"   dev accuracy {h['dev_accuracy'][-1]:6.1%}")

    model = models["with batch norm"]
    bn = model[1]
    with tg.no_grad():
        z1 = model[0](tg.Tensor(X_tr)).numpy()   # layer 1's z over the whole training set
    print("test time: running statistics (momentum 0.1 EWA over the mini-batches) vs the "
          "training set's own")
    print(f"   layer 1: max |running_mean - mean(z)| = "
          f"{np.abs(bn.running_mean.numpy() - z1.mean(0)).max():.3f}, "
          f"mean |running_var / var(z) - 1| = "
          f"{np.abs(bn.running_var.numpy() / z1.var(0, ddof=1) - 1).mean():.3f}")
    model.eval()
    with tg.no_grad():
        batch = model(tg.Tensor(X_dev)).numpy()
        alone = np.concatenate([model(tg.Tensor(X_dev[i:i + 1])).numpy() for i in range(20)])
    print(f"   eval mode: the first 20 dev examples classified one at a time match the batch: "
          f"{np.allclose(alone, batch[:20], atol=1e-5)}")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(11, 3.8))
        for label, h in histories.items():
            axes[0, 0].plot(h["epoch"], h["train_loss"], label=label)
            axes[0, 1].plot(h["epoch"], h["dev_accuracy"], label=label)
        axes[0, 0].set(yscale="log", xlabel="epoch", ylabel="train cost",
                       title="10-layer sigmoid network")
        axes[0, 1].set(xlabel="epoch", ylabel="dev accuracy", title="dev accuracy")
        for ax in axes[0]:
            ax.legend()
            ax.grid(alpha=0.3)
        path = args.images / "batch_norm.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

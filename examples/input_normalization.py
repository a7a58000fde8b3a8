"""Normalizing inputs (Course 2, week 1): cost contours with and without, and what they do
to gradient descent.

With features on very different scales (x1 ~ 1, x2 ~ 5) the cost J(w1, w2) of a linear
model is a long thin valley: the largest stable learning rate is set by the steep direction,
so progress along the flat one is slow. Subtracting the mean and dividing by the standard
deviation (of the TRAINING set, reused for dev/test) makes the contours round and gradient
descent converges in a few steps. Both runs start from the same model (w' = w * sigma).
Run: python examples/input_normalization.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import Standardizer


def cost(X, y, W1, W2):
    """J(w1, w2) = mean((w1 x1 + w2 x2 - y)^2) on a grid of weights."""
    pred = W1[..., None] * X[:, 0] + W2[..., None] * X[:, 1]
    return ((pred - y) ** 2).mean(axis=-1)


def descend(X, y, w0, max_steps):
    """Gradient descent at lr = 1 / lambda_max(Hessian) until J is within 1e-6 of its minimum."""
    hessian = 2 * X.T @ X / len(X)
    eigenvalues = np.linalg.eigvalsh(hessian)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    j_star = float(((X @ w_star - y) ** 2).mean())
    model = nn.Linear(2, 1, bias=False, dtype=np.float64)  # X is float64, as numpy makes it
    model.weight.data[...] = np.asarray(w0, dtype=np.float64).reshape(1, 2)
    opt = optim.SGD(model.parameters(), lr=1.0 / eigenvalues[-1])
    X_t, y_t = tg.Tensor(X), tg.Tensor(y.reshape(-1, 1))
    path = [model.weight.numpy().ravel().copy()]
    steps = max_steps
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X_t), y_t)
        loss.backward()
        opt.step()
        path.append(model.weight.numpy().ravel().copy())
        if loss.item() - j_star < 1e-6 * max(j_star, 1.0):
            steps = step
            break
    return np.array(path), steps, eigenvalues


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)
    max_steps = 300 if args.quick else 3000

    rng = np.random.default_rng(0)
    X = np.stack([rng.normal(0.0, 1.0, 200), rng.normal(0.0, 5.0, 200)], axis=1)
    y = X @ np.array([2.0, 0.3]) + rng.normal(0.0, 0.3, 200)
    scaler = Standardizer().fit(X)
    Z = scaler.transform(X)
    w0_normalized = np.array([-2.0, -3.0])
    w0 = w0_normalized / np.sqrt(scaler.var_)   # the same starting model in raw units

    runs = {}
    for label, data, start in (("raw inputs", X, w0), ("normalized inputs", Z, w0_normalized)):
        path, steps, eig = descend(data, y, start, max_steps)
        runs[label] = (data, path)
        reached = "reached" if steps < max_steps else "not reached after"
        print(f"{label:<18} Hessian eigenvalues {eig[0]:8.3f} .. {eig[-1]:8.3f} (condition "
              f"{eig[-1] / eig[0]:6.1f}); lr 1/lambda_max = {1 / eig[-1]:.4f}; "
              f"J* + 1e-6 {reached} {steps} steps")
    print("the steep direction caps the learning rate; the flat one then needs condition-number "
          "times more steps")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 2, size=(11, 4.4))
        for ax, (label, (data, path)) in zip(axes[0], runs.items(), strict=True):
            w_star = np.linalg.lstsq(data, y, rcond=None)[0]
            span = np.abs(path - w_star).max() * 1.2   # a square window: true proportions
            w1 = np.linspace(w_star[0] - span, w_star[0] + span, 300)
            w2 = np.linspace(w_star[1] - span, w_star[1] + span, 300)
            W1, W2 = np.meshgrid(w1, w2)
            J = cost(data, y, W1, W2)
            ax.contour(W1, W2, J, levels=np.geomspace(J.min() + 1e-3, J.max(), 14),
                       cmap="viridis")
            ax.plot(path[:, 0], path[:, 1], ".-", color="tab:red", ms=3, lw=0.8)
            ax.set_aspect("equal")
            ax.set(xlabel="w1", ylabel="w2", title=f"{label}: {len(path) - 1} steps")
        path = args.images / "input_normalization.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

"""Gradient checking (Course 2, week 1): centered differences vs backprop, and a planted bug.

difference = ||grad_approx - grad|| / (||grad_approx|| + ||grad||), with
grad_approx = (J(theta + eps) - J(theta - eps)) / (2 eps), eps = 1e-7.
The course's figures: the 1-D J(theta) = theta * x check gives about 3e-10 ("correct");
its 3-layer network [4, 5, 3, 1] with two planted bugs (dW2 doubled, db1 = 4/m * ...)
gives 0.285 ("there is a mistake in the backward propagation") and about 1.2e-7 once fixed.
Here the same bugs are planted in a custom op's backward; the check finds them and names
the parameters.
Run: python examples/gradient_checking.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, images_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn


class PlantedBugLinear(tg.Function):
    """y = x W^T + b with a backward that can scale dW and db wrongly (the course's bugs)."""

    @staticmethod
    def forward(ctx, x, w, b, w_factor, b_factor):
        ctx.save_for_backward(x, w)
        ctx.factors = (float(w_factor), float(b_factor))
        return x @ w.T + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        w_factor, b_factor = ctx.factors
        return g @ w, w_factor * (g.T @ x), b_factor * g.sum(axis=0), None, None


class BuggyLinear(nn.Linear):
    def __init__(self, n_in, n_out, w_factor=1.0, b_factor=1.0):
        super().__init__(n_in, n_out)
        self.w_factor, self.b_factor = w_factor, b_factor

    def forward(self, x):
        return PlantedBugLinear.apply(x, self.weight, self.bias, self.w_factor, self.b_factor)


def network(bugs):
    """The course's [4, 5, 3, 1] ReLU network; bugs=True doubles dW2 and scales db1 by 4."""
    tg.manual_seed(1)
    return nn.Sequential(
        BuggyLinear(4, 5, b_factor=4.0 if bugs else 1.0), nn.ReLU(),
        BuggyLinear(5, 3, w_factor=2.0 if bugs else 1.0), nn.ReLU(),
        BuggyLinear(3, 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(already fast; same as without)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    args.images = images_folder(args)

    x = tg.tensor(2.0, dtype=tg.float64)
    theta = tg.tensor(4.0, dtype=tg.float64, requires_grad=True)
    one_d = tg.gradcheck(lambda t: t * x, theta)
    print(f"1-D, J = theta * x: difference {one_d.difference:.2e}   (course: ~3e-10, correct)")

    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 4))
    y = np.array([[1.0], [1.0], [0.0]])
    loss_fn = nn.BCEWithLogitsLoss()
    results = {}
    for label, bugs in (("with the planted bugs", True), ("bugs fixed", False)):
        result = results[label] = tg.check_gradients(network(bugs), loss_fn, X, y)
        verdict = "PASSED" if result.passed else "FAILED"
        print(f"[4, 5, 3, 1] network, {label}: difference {result.difference:.3e} -> {verdict}"
              f" (course: {'0.285, a mistake' if bugs else '~1.2e-7, correct'})")
    print("per-parameter table with the bugs:")
    print(results["with the planted bugs"])
    wrong = [n for n, d in results["with the planted bugs"].per_input.items() if d > 1e-3]
    print(f"the check names the broken gradients: {', '.join(wrong)}")

    try:
        from tinygrad_c2.train import plots
        fig, axes = plots.new_figure(1, 1, size=(7.5, 3.6))
        ax = axes[0, 0]
        names = list(results["bugs fixed"].per_input)
        positions = np.arange(len(names))
        for offset, (label, result) in zip((-0.2, 0.2), results.items(), strict=True):
            values = [max(result.per_input[n], 1e-16) for n in names]
            ax.bar(positions + offset, values, width=0.4, label=label)
        ax.axhline(result.threshold, color="k", linestyle=":", label="pass line")
        ax.set(yscale="log", ylabel="relative difference", title="gradient check per parameter")
        ax.set_xticks(positions, names)
        ax.legend(fontsize="small")
        path = args.images / "gradient_checking.png"
        plots.save_figure(fig, path)
        print(f"wrote {path}")
    except ImportError as error:
        print(f"note: no picture ({error})")


if __name__ == "__main__":
    main()

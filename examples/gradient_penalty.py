"""A gradient penalty trained end to end ("double backpropagation", Drucker and LeCun, 1992).

The cost adds mu * mean_i ||d loss_i / d x_i||^2 to the cross-entropy: it asks the network to
be flat around each training point, so a small change of the input changes the prediction
little (another regularizer, beside L2 and dropout). Its gradient with respect to the weights
goes through the input gradient, a derivative of a derivative: the input gradient is taken
with create_graph=True, and the cost's backward then differentiates it again.
The two-moons set with label noise; the same network trained with mu = 0 and mu > 0.
Run: python examples/gradient_penalty.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, pyplot_and_folder

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_moons
from tinygrad_c2.nn import functional as F

MU = 0.05


def build(dtype=tg.float32):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 1))
    return model.to(dtype)


def penalized_cost(model, X, y, mu):
    """(cross-entropy + mu * mean squared input-gradient norm, that mean)."""
    X = X.detach().requires_grad_()
    losses = F.binary_cross_entropy_with_logits(model(X).reshape(-1), y, reduction="none")
    # row i of d(sum of losses)/dX is d loss_i / d x_i: no example sees another's input
    (gx,) = tg.autograd.grad(losses.sum(), X, create_graph=True)
    norms = (gx * gx).sum(dim=1)
    return losses.mean() + mu * norms.mean(), norms.mean()


def input_gradient_norm(model, X, y):
    """The root mean squared norm of d loss_i / d x_i over a set."""
    X = X.detach().requires_grad_()
    losses = F.binary_cross_entropy_with_logits(model(X).reshape(-1), y, reduction="none")
    (gx,) = tg.autograd.grad(losses.sum(), X)
    return float(np.sqrt((gx.numpy() ** 2).sum(axis=1).mean()))


def accuracy(model, X, y):
    with tg.no_grad():
        return float(((model(X).numpy().ravel() > 0) == y.numpy()).mean())


def train(mu, X, y, iterations):
    model = build()
    opt = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(iterations):
        opt.zero_grad()
        cost, _ = penalized_cost(model, X, y, mu)
        cost.backward()
        opt.step()
    return model


def check_second_order_gradient():
    """gradcheck of the penalized cost with respect to the first layer's weights (float64):
    the gradient of a gradient against centered differences."""
    model = build(tg.float64)
    X, y = make_moons(16, noise=0.2, seed=3, dtype=np.float64)
    X, y = tg.tensor(X), tg.tensor(y.astype(np.float64))
    first, rest = model[0], model[1:]

    def cost(w):  # the model with its first weight matrix replaced by w
        def forward(x):
            return rest(F.linear(x, w, first.bias))

        return penalized_cost(forward, X, y, MU)[0]

    return tg.gradcheck(cost, first.weight.detach().clone().requires_grad_())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    check = check_second_order_gradient()
    print(f"gradcheck of the penalized cost (a gradient of a gradient): difference "
          f"{check.difference:.1e} -> {'PASSED' if check.passed else 'FAILED'}")
    X, y = make_moons(300, noise=0.3, seed=0)
    Xd, yd = make_moons(600, noise=0.3, seed=1)
    X, y, Xd, yd = tg.tensor(X), tg.tensor(y.astype(np.float32)), tg.tensor(Xd), tg.tensor(
        yd.astype(np.float32))
    iterations = 60 if args.quick else 2000
    models = {}
    print(f"\n{'':22s} {'train':>7s} {'dev':>7s}  {'rms ||dloss/dx|| on dev':>24s}")
    for name, mu in (("no penalty", 0.0), (f"penalty, mu = {MU}", MU)):
        models[name] = model = train(mu, X, y, iterations)
        print(f"{name:22s} {accuracy(model, X, y):7.1%} {accuracy(model, Xd, yd):7.1%}  "
              f"{input_gradient_norm(model, Xd, yd):24.3f}")
    plt, folder = pyplot_and_folder(args)
    if plt is None:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained", sharey=True)
    u, v = np.meshgrid(np.linspace(-1.6, 2.6, 200), np.linspace(-1.2, 1.7, 150))
    grid = tg.tensor(np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float32))
    for ax, (name, model) in zip(axes, models.items()):  # noqa: B905
        with tg.no_grad():
            p = model(grid).sigmoid().numpy().reshape(u.shape)
        ax.contourf(u, v, p, levels=20, cmap="RdBu", alpha=0.6)
        ax.contour(u, v, p, levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter(*X.numpy().T, c=y.numpy(), cmap="RdBu", edgecolors="k", s=14)
        ax.set(title=f"{name}: dev {accuracy(model, Xd, yd):.1%}", xlabel="x1")
    axes[0].set_ylabel("x2")
    fig.suptitle("P(class 1), moons with noise: the penalty flattens the network around the data")
    fig.savefig(folder / "gradient_penalty.png", dpi=110)
    print(f"wrote {folder / 'gradient_penalty.png'}")


if __name__ == "__main__":
    main()

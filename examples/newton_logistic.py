"""Newton's method against gradient descent on logistic regression (the breast-cancer set).

Gradient descent steps along -grad J with one learning rate for every direction, so it crawls
along the directions of small curvature (the condition number of the Hessian sets its pace).
Newton's method rescales each direction by its curvature, w -= H^-1 grad J, and converges
quadratically near the optimum: the digits of accuracy double at each step.
The Hessian is autograd's (tg.autograd.functional.hessian: the gradient differentiated
again), checked against the closed form X^T diag(p(1-p)) X / m + lambda I.
Run: python examples/newton_logistic.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, pyplot_and_folder

import tinygrad_c2 as tg
from tinygrad_c2.autograd.functional import hessian
from tinygrad_c2.data import load_breast_cancer
from tinygrad_c2.nn import functional as F

LAMBD = 1e-2  # a little L2 keeps the optimum finite (the set is almost separable)


def problem():
    """The cost of logistic regression (weights and bias in one vector) on standardized data."""
    X, y = load_breast_cancer(return_X_y=True, dtype=np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X = np.hstack([X, np.ones((len(X), 1))])  # the bias as a last, constant feature
    y = y.astype(np.float64)
    Xt, yt = tg.tensor(X), tg.tensor(y)

    def cost(w):
        return F.binary_cross_entropy_with_logits(Xt @ w, yt) + LAMBD / 2 * (w * w).sum()

    return cost, X, y


def gradient(cost, w):
    w = tg.tensor(w, requires_grad=True)
    (g,) = tg.autograd.grad(cost(w), w)
    return g.numpy()


def run(cost, n, steps, method, lr):
    """The cost after each step of `method` ("newton" or "gd"), from w = 0."""
    w, costs = np.zeros(n), []
    for _ in range(steps):
        with tg.no_grad():
            costs.append(cost(tg.tensor(w)).item())
        g = gradient(cost, w)
        if method == "newton":
            w = w - np.linalg.solve(hessian(cost, tg.tensor(w)).numpy(), g)
        else:
            w = w - lr * g
    return np.array(costs), w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    cost, X, y = problem()
    n = X.shape[1]
    # autograd's Hessian against the closed form, at a point away from the optimum
    w0 = np.linspace(-0.1, 0.1, n)
    p = 1 / (1 + np.exp(-(X @ w0)))
    closed = X.T @ (X * (p * (1 - p))[:, None]) / len(y) + LAMBD * np.eye(n)
    H = hessian(cost, tg.tensor(w0)).numpy()
    print(f"Hessian ({n}x{n}) against X^T diag(p(1-p)) X / m + lambda I: max difference "
          f"{np.abs(H - closed).max():.1e}")
    eig = np.linalg.eigvalsh(H)
    lr = 1 / eig[-1]  # the largest step gradient descent takes without diverging, about
    print(f"its eigenvalues run from {eig[0]:.2e} to {eig[-1]:.2e}: condition number "
          f"{eig[-1] / eig[0]:.0f}; gradient descent with lr = 1/lambda_max = {lr:.2f}")
    newton_costs, w_newton = run(cost, n, 8, "newton", lr)
    gd_costs, _ = run(cost, n, 200 if args.quick else 3000, "gd", lr)
    best = newton_costs[-1]
    print(f"\n{'step':>5s}  {'Newton: J - J*':>16s}  {'gradient descent: J - J*':>26s}")
    for k in (0, 1, 2, 3, 4, 5, 6, 7, 50, 199, 999, 2999):
        if k < len(gd_costs):
            newton = f"{newton_costs[k] - best:16.3e}" if k < len(newton_costs) else " " * 16
            print(f"{k:5d}  {newton}  {gd_costs[k] - best:26.3e}")
    print(f"Newton reaches J* = {best:.10f} in {len(newton_costs) - 1} steps; the gradient "
          f"there has norm {np.linalg.norm(gradient(cost, w_newton)):.1e}")
    plt, folder = pyplot_and_folder(args)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    floor = 1e-16
    ax.semilogy(np.maximum(gd_costs - best, floor), label=f"gradient descent, lr = {lr:.2f}")
    ax.semilogy(np.maximum(newton_costs - best, floor), "o-", label="Newton's method")
    ax.set(xscale="symlog", xlabel="step", ylabel="J - J*  (log scale)",
           title="Logistic regression on the breast-cancer set (31 parameters)")
    ax.legend()
    fig.savefig(folder / "newton_logistic.png", dpi=110)
    print(f"wrote {folder / 'newton_logistic.png'}")


if __name__ == "__main__":
    main()

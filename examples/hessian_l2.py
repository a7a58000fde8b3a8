"""L2 regularization through the Hessian (Course 2, week 1; the weight-decay figure of the notes).

Near the unregularized optimum w*, the cost is about J(w*) + 1/2 (w - w*)^T H (w - w*). Adding
alpha/2 ||w||^2 moves the optimum to w~ = Q (Lambda + alpha I)^-1 Lambda Q^T w*, with
H = Q Lambda Q^T: along an eigenvector of H with eigenvalue lambda, the component of w* is
scaled by lambda / (lambda + alpha). Where the curvature is small (lambda << alpha) the
regularizer pulls the weight to zero; where it is large, it barely moves it.

Here the Hessian comes from autograd (tg.autograd.functional.hessian, a gradient
differentiated again), for
  1. logistic regression with two weights on data whose two features have very different
     spreads (so the two curvatures differ): w*, w~ and the prediction, drawn as the notes'
     picture (contours of J, circles of the regularizer);
  2. a small tanh network (2-4-1, 17 parameters) on the moons, trained without and with L2:
     the eigenvalues of each one's Hessian at its own optimum.
Run: python examples/hessian_l2.py [--quick] [--images DIR]
"""

import argparse

import numpy as np
from _common import add_images_argument, pyplot_and_folder

import tinygrad_c2 as tg
from tinygrad_c2.autograd.functional import hessian
from tinygrad_c2.data import make_moons
from tinygrad_c2.nn import functional as F

ALPHA = 0.08  # the L2 strength: alpha/2 ||w||^2 added to the mean cross-entropy
MLP_ALPHA = 0.05  # the same for the small network


def two_feature_data(m=400, seed=0):
    """Two features with spreads 0.2 and 2.0 and labels drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 2)) * np.array([0.2, 2.0])
    p = 1 / (1 + np.exp(-(X @ np.array([3.0, 1.0]))))
    y = (rng.random(m) < p).astype(np.float64)
    return tg.tensor(X), tg.tensor(y)


def newton(cost, w, steps=20):
    """Minimize a smooth convex cost by Newton's method: w -= H^-1 grad."""
    for _ in range(steps):
        w = w.detach().requires_grad_()
        (g,) = tg.autograd.grad(cost(w), w)
        H = hessian(cost, w)
        w = tg.tensor(w.numpy() - np.linalg.solve(H.numpy(), g.numpy()))
    return w.numpy()


def logistic_picture(X, y):
    """w*, w~ and the quadratic model's prediction for the two-weight logistic regression."""
    def J(w):
        return F.binary_cross_entropy_with_logits(X @ w, y)

    def J_l2(w):
        return J(w) + ALPHA / 2 * (w * w).sum()

    w_star = newton(J, tg.zeros(2, dtype=tg.float64))
    w_tilde = newton(J_l2, tg.zeros(2, dtype=tg.float64))
    H = hessian(J, tg.tensor(w_star)).numpy()
    lam, Q = np.linalg.eigh(H)
    predicted = Q @ np.diag(lam / (lam + ALPHA)) @ Q.T @ w_star
    print(f"logistic regression, two weights, alpha = {ALPHA}")
    print(f"  w*  (no L2)             = [{w_star[0]:+.4f}, {w_star[1]:+.4f}]")
    print(f"  w~  (with L2)           = [{w_tilde[0]:+.4f}, {w_tilde[1]:+.4f}]")
    print(f"  Q (L + aI)^-1 L Q^T w*  = [{predicted[0]:+.4f}, {predicted[1]:+.4f}]"
          "   (the quadratic model's prediction)")
    for i in range(2):
        star, tilde = Q[:, i] @ w_star, Q[:, i] @ w_tilde
        print(f"  eigenvalue {lam[i]:.4f}: lambda/(lambda+alpha) = {lam[i] / (lam[i] + ALPHA):.3f},"
              f" measured w~/w* along it = {tilde / star:.3f}")
    return J, J_l2, w_star, w_tilde, lam, Q


def mlp_cost(X, y, alpha):
    """The 2-4-1 tanh network's cost as a function of its 17 parameters in one vector."""
    def cost(theta):
        W1, b1 = theta[0:8].reshape(4, 2), theta[8:12]
        W2, b2 = theta[12:16].reshape(1, 4), theta[16:17]
        logits = (X @ W1.T + b1).tanh() @ W2.T + b2
        J = F.binary_cross_entropy_with_logits(logits.reshape(-1), y)
        return J + alpha / 2 * (theta * theta).sum() if alpha else J

    return cost


def mlp_spectra(iterations):
    """Eigenvalues of the Hessian at each trained network's own optimum, without and with L2."""
    X, y = make_moons(200, noise=0.25, seed=1, dtype=np.float64)
    X, y = tg.tensor(X), tg.tensor(y.astype(np.float64))
    spectra = {}
    for name, alpha in (("no L2", 0.0), (f"L2, alpha = {MLP_ALPHA}", MLP_ALPHA)):
        cost = mlp_cost(X, y, alpha)
        tg.manual_seed(0)
        theta = (tg.randn(17, dtype=tg.float64) * 0.5).requires_grad_()
        opt = tg.optim.Adam([theta], lr=0.05)
        for _ in range(iterations):
            opt.zero_grad()
            cost(theta).backward()
            opt.step()
        spectra[name] = np.linalg.eigvalsh(hessian(cost, theta.detach()).numpy())
        s = spectra[name]
        print(f"  {name:16s} eigenvalues from {s[0]:+.2e} to {s[-1]:+.2e};"
              f" {int((s < 1e-3).sum())} of 17 below 1e-3")
    return spectra


def draw(path, picture, spectra):
    import matplotlib.pyplot as plt

    J, J_l2, w_star, w_tilde, lam, Q = picture
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    a = np.linspace(-0.4, w_star[0] + 0.8, 80)
    b = np.linspace(-0.4, w_star[1] + 0.8, 80)
    with tg.no_grad():
        grid = np.array([[J(tg.tensor([u, v], dtype=tg.float64)).item() for u in a] for v in b])
    best = grid.min()
    left.contour(a, b, grid, levels=best + np.array([0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16]),
                 colors="tab:blue", linewidths=1)
    t = np.linspace(0, 2 * np.pi, 200)
    for r in np.linspace(0.3, 3.0, 10):
        left.plot(r * np.cos(t), r * np.sin(t), ":", color="tab:orange", linewidth=1)
    left.plot(*w_star, "o", color="tab:blue", label="w*: no L2")
    left.plot(*w_tilde, "o", color="tab:red", label=f"w~: L2, alpha = {ALPHA}")
    for i in range(2):
        tip = w_star - 0.5 * Q[:, i] * np.sign(Q[0, i] + Q[1, i])
        left.annotate("", tip, w_star, arrowprops={"arrowstyle": "->", "color": "gray"})
        left.text(tip[0], tip[1] + 0.06, f"lambda = {lam[i]:.3f}", color="dimgray", fontsize=9)
    left.set(xlabel="w1", ylabel="w2", aspect="equal", xlim=(a[0], a[-1]), ylim=(b[0], b[-1]))
    left.set_title("solid: cost J, dotted: alpha/2 ||w||^2, arrows: eigenvectors of H\n"
                   "flat direction (small lambda): w1 pulled to 0; steep: w2 kept", fontsize=10)
    left.legend(loc="lower right")
    for name, s in spectra.items():
        right.plot(range(1, 18), s, "o-", label=name)
    right.set_yscale("symlog", linthresh=1e-3)
    right.set(xlabel="eigenvalue index (sorted)", ylabel="eigenvalue of the Hessian")
    right.set_title("2-4-1 tanh network on the moons, Hessian at each optimum:\n"
                    "L2 lifts the flat directions", fontsize=10)
    right.axhline(0, color="gray", linewidth=0.5)
    right.legend()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (CI smoke run)")
    add_images_argument(parser)
    args = parser.parse_args(argv)
    X, y = two_feature_data()
    picture = logistic_picture(X, y)
    print("small network, Hessian at each optimum")
    spectra = mlp_spectra(60 if args.quick else 1500)
    plt, folder = pyplot_and_folder(args)
    if plt is None:
        return
    draw(folder / "hessian_l2.png", picture, spectra)


if __name__ == "__main__":
    main()

# Source of initialization.ipynb (build.py writes the notebook from this file).

# %% [markdown]
# # Initialization (Course 2, week 1), with tinygrad_c2
#
# The course's first assignment of week 1 trains the same 3-layer network three times and
# changes only how the weights start:
#
# | initialization | the course's `W[l]` | what goes wrong or right |
# |---|---|---|
# | zeros | `np.zeros((n_l, n_{l-1}))` | all units of a layer stay equal: symmetry |
# | large random | `np.random.randn(n_l, n_{l-1}) * 10` | huge first cost, slow start |
# | He | `np.random.randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})` | made for ReLU networks: trains well |
#
# Biases start at zero in all three. The network is LINEAR -> RELU -> LINEAR -> RELU ->
# LINEAR -> SIGMOID with layer sizes [2, 10, 5, 1], trained by batch gradient descent
# (learning rate 0.01, 15,000 iterations) on 300 points of two noisy circles.
#
# Here the same experiment is written with tinygrad_c2, which has PyTorch's API: the model
# is an `nn.Sequential`, `loss.backward()` computes every gradient, and `optim.SGD` takes the
# step. The course's schemes are `nn.init.apply_(model, "zeros" | "random" | "he")`.
#
# The course's notebooks start with `%matplotlib inline`; these do not need it. The
# `tinygrad_c2.train.plots` functions return a matplotlib Figure that displays itself as a
# picture when a cell ends with it (`fig`).

# %%
import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import make_circles
from tinygrad_c2.train import plots

# %% [markdown]
# `QUICK` shortens the training so the whole notebook runs in seconds. The test suite
# (`tests/test_notebooks.py`) runs every notebook headless and inserts `QUICK = True` right
# after the next cell (the cell tagged `parameters`, the papermill convention). Leave it
# `False` to get the course's figures: the full run takes well under a minute.

# %% tags=["parameters"]
QUICK = False

# %%
ITERATIONS = 2000 if QUICK else 15000
print(f"QUICK = {QUICK}: {ITERATIONS} iterations of batch gradient descent")

# %% [markdown]
# ## The data
#
# `tg.data.make_circles` draws the course's data set: an inner and an outer noisy circle,
# one class each. The course keeps examples in columns, `X` of shape (2, m); tinygrad_c2,
# like PyTorch, keeps them in rows, `X` of shape (m, 2). The labels `y` are 0 or 1.

# %%
X, y = make_circles(300, noise=0.05, seed=1, factor=0.8)
X_test, y_test = make_circles(100, noise=0.05, seed=2, factor=0.8)
print("train", X.shape, y.shape, " test", X_test.shape, " classes", np.bincount(y))

fig, axes = plots.new_figure(1, 1, size=(4.2, 3.8))
axes[0, 0].scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=10, edgecolors="k",
                   linewidths=0.3)
axes[0, 0].set(title="the circles: 300 training points", xlabel="x1", ylabel="x2")
fig

# %% [markdown]
# ## The model and the three initializations
#
# `nn.Linear(n_{l-1}, n_l)` holds the course's `W[l]` as `.weight`, with the same shape
# (n_l, n_{l-1}), and `b[l]` as `.bias`. The network's last layer has no sigmoid: the loss
# `nn.BCEWithLogitsLoss` applies the sigmoid and the cross-entropy together, which stays
# finite even when the large random initialization makes the output saturate (the course's
# separate `sigmoid` then `log` gives `inf` there; its `compute_loss` uses `np.nansum`).
#
# `nn.init.apply_(model, scheme)` refills every Linear layer's weight with the course's
# scheme and sets the biases to zero. Look at the spread of the first layer's weights:

# %%
def build(scheme):
    """The course's [2, 10, 5, 1] ReLU network with `scheme`'s initial weights."""
    tg.manual_seed(1)   # the same random numbers for every scheme
    model = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(),
                          nn.Linear(5, 1))
    return nn.init.apply_(model, scheme)


SCHEMES = {"zeros": "zeros", "random": "large random (N(0,1) * 10)",
           "he": "He (N(0,1) * sqrt(2/n))"}
for scheme, label in SCHEMES.items():
    W1 = build(scheme)[0].weight.numpy()
    print(f"{label:<28} W1 {W1.shape}: std {W1.std():6.3f}")

# %% [markdown]
# ## Training: the course's `model()` as a PyTorch-style loop
#
# One iteration of batch gradient descent is one step on all 300 examples: forward, cost,
# backward, update. `opt.zero_grad()` clears the gradients of the last step (PyTorch
# accumulates them otherwise); `opt.step()` does the course's `W = W - learning_rate * dW`
# for every parameter.

# %%
def accuracy(model, X, y):
    """Fraction of points whose predicted class (logit > 0, i.e. sigmoid > 0.5) is right."""
    with tg.no_grad():
        return float(((model(tg.Tensor(X)).numpy().ravel() > 0) == y).mean())


def train(scheme, iterations=ITERATIONS, lr=0.01):
    model = build(scheme)
    opt = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    X_t, y_t = tg.Tensor(X), tg.Tensor(y.reshape(-1, 1).astype(np.float32))
    costs = []
    for _ in range(iterations):
        opt.zero_grad()
        cost = loss_fn(model(X_t), y_t)
        cost.backward()
        opt.step()
        costs.append(cost.item())
    return model, costs


results = {scheme: train(scheme) for scheme in SCHEMES}
for scheme, (model, costs) in results.items():
    print(f"{SCHEMES[scheme]:<28} cost {costs[0]:9.3f} -> {costs[-1]:.3f}   "
          f"train {accuracy(model, X, y):6.1%}   test {accuracy(model, X_test, y_test):6.1%}")

# %% [markdown]
# ## Why zeros fail: symmetry
#
# With every weight zero, every unit of a layer gets the same gradient, so after any number
# of steps the rows of `W1` are still identical (here they even stay zero, because a ReLU
# of 0 passes no gradient). The network predicts 0.5 everywhere: the cost stays at
# ln 2 = 0.693 and the accuracy at 50%.

# %%
W1_zeros = results["zeros"][0][0].weight.numpy()
spread = np.ptp(W1_zeros, axis=0).max()
print(f"zeros: the rows of W1 differ by at most {spread:.1e} after training (symmetric)")
print(f"zeros: final cost {results['zeros'][1][-1]:.4f}, ln 2 = {np.log(2):.4f}")

# %% [markdown]
# ## The decision boundaries and the costs
#
# `plots.plot_decision_boundary(model, X, y, ax=...)` colours the plane by the class the
# model predicts. The cost plot is on a log scale: the large random start begins near 190.

# %%
fig, axes = plots.new_figure(1, 4, size=(17, 3.8))
for ax, scheme in zip(axes[0, :3], SCHEMES, strict=True):
    model = results[scheme][0]
    plots.plot_decision_boundary(
        model, X, y, ax=ax,
        title=f"{SCHEMES[scheme]}: train {accuracy(model, X, y):.0%}")
for scheme, (_, costs) in results.items():
    axes[0, 3].plot(costs, label=scheme)
axes[0, 3].set(yscale="log", xlabel="iteration", ylabel="cost", title="cost per iteration")
axes[0, 3].legend()
fig

# %% [markdown]
# ## The course's figures and ours
#
# The course's published table (train and test accuracy after 15,000 iterations) beside the
# ones this notebook gets. The numbers differ somewhat because the data and the random
# weights come from different random generators (tinygrad_c2 does not reproduce numpy's
# legacy `np.random.seed` stream), but the story is the same: zeros stay at 50%, large
# random weights start with a huge cost and learn slowly, He trains best. With
# `QUICK = True` the run is too short for He to separate the circles.

# %%
COURSE = {"zeros": (0.50, 0.50), "random": (0.83, 0.86), "he": (0.9933, 0.96)}
print(f"{'initialization':<28} {'course train':>12} {'course test':>11}"
      f" {'here train':>10} {'here test':>9}")
for scheme, (model, _) in results.items():
    ours = accuracy(model, X, y), accuracy(model, X_test, y_test)
    print(f"{SCHEMES[scheme]:<28} {COURSE[scheme][0]:12.1%} {COURSE[scheme][1]:11.1%}"
          f" {ours[0]:10.1%} {ours[1]:9.1%}")

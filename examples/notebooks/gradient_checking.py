# Source of gradient_checking.ipynb (build.py writes the notebook from this file).

# %% [markdown]
# # Gradient checking (Course 2, week 1), with tinygrad_c2
#
# Backpropagation written by hand is easy to get subtly wrong. The course checks it against
# the definition of the derivative, with centered differences:
#
# $$\frac{\partial J}{\partial \theta} \approx
# \frac{J(\theta + \varepsilon) - J(\theta - \varepsilon)}{2 \varepsilon},
# \qquad \varepsilon = 10^{-7},$$
#
# and compares the whole vector of approximations with the vector backprop gives through
# the relative difference
#
# $$\text{difference} = \frac{\lVert \text{grad} - \text{gradapprox} \rVert_2}
# {\lVert \text{grad} \rVert_2 + \lVert \text{gradapprox} \rVert_2}.$$
#
# Below 2e-7 the backward pass is right (1e-7 and smaller: great); around 1e-5 it is
# suspect; 1e-3 and more is a bug. The assignment does it twice: for the 1-D function
# J(θ) = θx, and for a 3-layer network whose hand-written backward has two bugs planted
# in it, which the check must find.
#
# In tinygrad_c2 the check is one call: `tg.gradcheck(fn, inputs)` perturbs every entry of
# every input (in float64) and reports the course's difference overall and per input;
# `tg.check_gradients(model, loss_fn, X, y)` does it for every parameter of a model.
# This notebook is fast: it has no `QUICK` switch to speed up, but it has the
# `parameters` cell like the others.

# %%
import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn
from tinygrad_c2.train import plots

# %% tags=["parameters"]
QUICK = False   # nothing here is slow; the test runner sets it anyway

# %%
print(f"QUICK = {QUICK}")

# %% [markdown]
# ## 1. The 1-D check, by hand and with `tg.gradcheck`
#
# J(θ) = θx, so dJ/dθ = x. The course's `forward_propagation` returns θx and its
# `backward_propagation` returns x; `gradient_check` computes the centered difference and
# the relative difference. Here it is written out once in numpy, the course's way:

# %%
x, theta, eps = 3.0, 4.0, 1e-7
grad = x                                                    # backward: dJ/dθ = x
gradapprox = ((theta + eps) * x - (theta - eps) * x) / (2 * eps)
by_hand = abs(grad - gradapprox) / (abs(grad) + abs(gradapprox))
print(f"by hand: gradapprox {gradapprox:.10f}, difference {by_hand:.3e}")

# %% [markdown]
# The library version takes the forward function only: the backward it checks is the one
# autograd builds from the ops. `tg.gradcheck` returns a result with `.difference`,
# `.passed` and a readable table.

# %%
x_t = tg.tensor(x, dtype=tg.float64)
theta_t = tg.tensor(theta, dtype=tg.float64, requires_grad=True)
one_d = tg.gradcheck(lambda t: t * x_t, theta_t)
print(f"tg.gradcheck, J = theta * x: difference {one_d.difference:.3e} -> "
      f"{'PASSED' if one_d.passed else 'FAILED'}")

# %% [markdown]
# ## 2. The N-D check: the course's network with its two planted bugs
#
# The network is LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID, sizes [4, 5, 3, 1],
# on 3 examples, with the cross-entropy cost. The course's `gradient_check_n_test_case`
# draws X, Y and the parameters from `np.random.seed(1)`; numpy's legacy generator
# (`np.random.RandomState(1)`) still gives the same numbers, so we use the course's very
# parameters. The course keeps examples in columns: X has shape (4, 3).

# %%
rs = np.random.RandomState(1)
X = rs.randn(4, 3)
Y = np.array([[1.0, 1.0, 0.0]])
course_params = {"W1": rs.randn(5, 4), "b1": rs.randn(5, 1), "W2": rs.randn(3, 5),
                 "b2": rs.randn(3, 1), "W3": rs.randn(1, 3), "b3": rs.randn(1, 1)}
print({name: value.shape for name, value in course_params.items()})

# %% [markdown]
# The course's `backward_propagation_n` is a hand-written backward pass. To check it with the
# library we make it the backward of a custom op: a `tg.Function` subclass whose `forward`
# is the course's `forward_propagation_n` (numpy in, the cost out) and whose `backward` is
# the course's hand-derived gradients, bugs included when `bugs=True`:
#
# * `dW2 = 1/m * dZ2 @ A1.T * 2` (the `* 2` is wrong),
# * `db1 = 4/m * sum(dZ1)` (should be `1/m`).
#
# This is also how you add your own op to tinygrad_c2 (PyTorch's `torch.autograd.Function`
# pattern): `forward(ctx, *arrays)`, `backward(ctx, grad)` returning one gradient per input
# (`None` for inputs without one), `ctx.save_for_backward(...)` for what backward needs.

# %%
class CourseNetwork(tg.Function):
    """The course's 3-layer network: cost = forward_propagation_n, gradients by hand."""

    @staticmethod
    def forward(ctx, X, Y, W1, b1, W2, b2, W3, b3, bugs):
        m = X.shape[1]
        A1 = np.maximum(0, W1 @ X + b1)
        A2 = np.maximum(0, W2 @ A1 + b2)
        A3 = 1 / (1 + np.exp(-(W3 @ A2 + b3)))
        cost = np.sum(-np.log(A3) * Y - np.log(1 - A3) * (1 - Y)) / m
        ctx.save_for_backward(X, Y, A1, A2, A3, W2, W3)
        ctx.bugs = bugs
        return np.asarray(cost)

    @staticmethod
    def backward(ctx, g):
        X, Y, A1, A2, A3, W2, W3 = ctx.saved_tensors
        m = X.shape[1]
        dZ3 = A3 - Y
        dW3, db3 = dZ3 @ A2.T / m, dZ3.sum(axis=1, keepdims=True) / m
        dZ2 = (W3.T @ dZ3) * (A2 > 0)
        dW2 = dZ2 @ A1.T / m * (2 if ctx.bugs else 1)             # bug 1
        db2 = dZ2.sum(axis=1, keepdims=True) / m
        dZ1 = (W2.T @ dZ2) * (A1 > 0)
        dW1 = dZ1 @ X.T / m
        db1 = (4 if ctx.bugs else 1) / m * dZ1.sum(axis=1, keepdims=True)   # bug 2
        grads = [g * d for d in (dW1, db1, dW2, db2, dW3, db3)]
        return None, None, *grads, None   # no gradient for X, Y and the flag


X_t, Y_t = tg.tensor(X), tg.tensor(Y)
params = {name: tg.tensor(value, requires_grad=True) for name, value in course_params.items()}


def course_cost(bugs):
    """The cost as a function of the named parameters (what tg.gradcheck perturbs)."""
    return lambda **p: CourseNetwork.apply(X_t, Y_t, *p.values(), bugs)


checks = {}
for bugs in (True, False):
    checks[bugs] = tg.gradcheck(course_cost(bugs), params)
    print(f"hand-written backward, bugs={bugs}: difference {checks[bugs].difference:.10g} -> "
          f"{'PASSED' if checks[bugs].passed else 'FAILED'}")

# %% [markdown]
# The course's procedure flattens all parameters into one vector θ
# (`dictionary_to_vector`) and reports one number; the result does that too, and it also
# keeps the difference of each parameter, so it says *which* gradients are wrong: `b1` and
# `W2`, exactly the two planted bugs. (The course's notebook hints "check dW2 and db1" and
# leaves the fix to you.)

# %%
print(checks[True])
wrong = [name for name, difference in checks[True].per_input.items() if difference > 1e-3]
print(f"the check names the broken gradients: {', '.join(wrong)}")

# %% [markdown]
# ## 3. The library way: the same network as layers, checked by `tg.check_gradients`
#
# With autograd there is no hand-written backward to get wrong. Load the course's parameters
# into an `nn.Sequential` (the course's `W1` is `0.weight` with the same shape; its column
# biases `b1` of shape (5, 1) become the vector `0.bias`) and check every parameter. The data
# turns from the course's columns (4, 3) to rows (3, 4): `X.T`.
#
# The difference is about 1e-9 here against the hand-written version's 1.2e-7 even without
# bugs: the loss `BCEWithLogitsLoss` computes log(sigmoid(z)) in one stable step, so the
# centered differences of the cost lose fewer digits to rounding than the course's
# `log(A3)` of a separately computed sigmoid.

# %%
model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
model.load_state_dict({
    "0.weight": course_params["W1"], "0.bias": course_params["b1"].ravel(),
    "2.weight": course_params["W2"], "2.bias": course_params["b2"].ravel(),
    "4.weight": course_params["W3"], "4.bias": course_params["b3"].ravel()})
library = tg.check_gradients(model, nn.BCEWithLogitsLoss(), X.T, Y.T)
print(library)

# %% [markdown]
# ## A picture: the difference per parameter
#
# The dotted line is the pass threshold (2e-7). Only the two planted bugs stand out.

# %%
fig, axes = plots.new_figure(1, 1, size=(7.5, 3.6))
ax = axes[0, 0]
names = list(course_params)
positions = np.arange(len(names))
for offset, (label, result) in zip((-0.2, 0.2), (("with the bugs", checks[True]),
                                                 ("bugs fixed", checks[False])), strict=True):
    ax.bar(positions + offset, [max(result.per_input[n], 1e-16) for n in names], width=0.4,
           label=label)
ax.axhline(checks[True].threshold, color="k", linestyle=":", label="pass line (2e-7)")
ax.set(yscale="log", ylabel="relative difference", title="gradient check per parameter")
ax.set_xticks(positions, names)
ax.legend(fontsize="small")
fig

# %% [markdown]
# ## The course's figures and ours
#
# Because the inputs are the course's own, the differences match the course's to the
# digits the rounding allows. The 1-D figure is the course's current version (x = 3,
# θ = 4); an older version used x = 2 and printed 2.9e-10.

# %%
rows = [("1-D, J = theta * x", "7.8e-11 (correct)", one_d),
        ("N-D, with the two bugs", "0.2850931568 (a mistake)", checks[True]),
        ("N-D, bugs fixed", "~1.2e-07 (correct)", checks[False]),
        ("N-D, autograd (check_gradients)", "(not in the course)", library)]
print(f"{'check':<32} {'course':>26} {'here':>16}")
for label, course, result in rows:
    verdict = "PASSED" if result.passed else "FAILED"
    print(f"{label:<32} {course:>26} {result.difference:16.10g}  {verdict}")

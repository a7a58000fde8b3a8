# Source of conv_step_by_step.ipynb (build.py writes the notebook from this file).

# %% [markdown]
# # "Convolutional Neural Networks: Step by Step" (Course 4, week 1), with tinygrad_c2
#
# The assignment writes, in numpy loops, the pieces of a convolutional network: zero
# padding, one convolution step, the forward and backward pass of a convolution layer,
# max and average pooling forward, and pooling backward through a mask
# (`create_mask_from_window`) or an even share (`distribute_value`).
#
# `tg.reference` (tinygrad_c2/reference/cnn.py) has these functions under the course's
# names, in the course's layout, written to be read. This notebook runs them on the
# notebook's own `np.random.seed(1)` inputs, so they print the course's published figures;
# then it computes the same numbers with tinygrad_c2's autograd (`F.conv2d`,
# `F.max_pool2d`, `F.avg_pool2d` and `backward()`), shows the one place the two rules
# differ (max-pool ties), and trains a small LeNet-style network on the shipped digits.

# %%
import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2 import reference as ref
from tinygrad_c2.nn import functional as F
from tinygrad_c2.train import evaluate, fit, plots

# %% [markdown]
# `QUICK = True` trains the CNN for 2 epochs instead of 20 (a second instead of about
# ten); the test suite sets it by inserting a cell after the `parameters` cell.

# %% tags=["parameters"]
QUICK = False

# %%
EPOCHS = 2 if QUICK else 20
print(f"QUICK = {QUICK}: {EPOCHS} epochs for the CNN")

# %% [markdown]
# ## Two layouts: the course's NHWC, PyTorch's NCHW
#
# The course keeps a batch of images as (m, n_H, n_W, n_C): channels **last**, TensorFlow's
# default. Its filters are W (f, f, n_C_prev, n_C) and its biases b (1, 1, 1, n_C).
# tinygrad_c2, like PyTorch, keeps (m, n_C, n_H, n_W): channels **first** ("NCHW"), with a
# conv weight (n_C, n_C_prev, f, f) and a bias (n_C,). `A.transpose(0, 3, 1, 2)` turns
# the course's images into ours, and `ref.to_torch_layout(W, b)` the course's filters.

# %%
def nchw(A):
    """The course's (m, n_H, n_W, n_C) as PyTorch's (m, n_C, n_H, n_W)."""
    return np.ascontiguousarray(A.transpose(0, 3, 1, 2))


W_course, b_course = np.zeros((2, 2, 3, 8)), np.zeros((1, 1, 1, 8))
weight, bias = ref.to_torch_layout(W_course, b_course)
print("images:  course (10, 4, 4, 3)   ->  ours", nchw(np.zeros((10, 4, 4, 3))).shape)
print("filters: course", W_course.shape, "->  ours", weight.shape,
      "  biases: course", b_course.shape, "->  ours", bias.shape)

# %% [markdown]
# ## 1. Zero padding
#
# `zero_pad(X, pad)` adds `pad` zeros around the height and width of every image. The
# course pads x (4, 3, 3, 2) by 2 and gets (4, 7, 7, 2); x[1, 1] is the course's
# [[0.90085595, -0.68372786], [-0.12289023, -0.93576943], [-0.26788808, 0.53035547]], and
# x_pad[1, 1] is all zeros (row 1 lies in the padding).

# %%
np.random.seed(1)
x = np.random.randn(4, 3, 3, 2)
x_pad = ref.zero_pad(x, 2)
print("x.shape =", x.shape, "  x_pad.shape =", x_pad.shape)
print("x[1, 1] =", np.round(x[1, 1], 8).tolist())
print("x_pad[1, 1] is all zeros:", not x_pad[1, 1].any())

fig, axes = plots.new_figure(1, 2, size=(7, 3.4))
axes[0, 0].imshow(x[0, :, :, 0])
axes[0, 0].set_title("x[0], channel 0")
axes[0, 1].imshow(x_pad[0, :, :, 0])
axes[0, 1].set_title("zero_pad(x, 2)[0], channel 0")
fig

# %% [markdown]
# ## 2. One step of convolution
#
# `conv_single_step(a_slice_prev, W, b)` multiplies a window by a filter element by element,
# sums, and adds the bias. The course's expected output: Z = -6.99908945068.

# %%
np.random.seed(1)
a_slice_prev = np.random.randn(4, 4, 3)
W1 = np.random.randn(4, 4, 3)
b1 = np.random.randn(1, 1, 1)
print(f"conv_single_step: Z = {ref.conv_single_step(a_slice_prev, W1, b1):.11f}")

# %% [markdown]
# ## 3. The convolution forward pass, and 5.1 its backward pass
#
# 10 images 4×4×3, 8 filters 2×2, pad 2, stride 2: each output side is
# floor((4 + 2·2 − 2) / 2) + 1 = 4. The course prints Z's mean 0.0489952035289 and
# Z[3, 2, 1] = [-0.61490741, -6.7439236, -2.55153897, 1.75698377, 3.56208902, 0.53036437,
# 5.18531798, 8.75898442]. Its backward cell feeds Z itself back as dZ and prints
# dA_mean = 1.45243777754, dW_mean = 1.72699145831, db_mean = 7.83923256462.

# %%
np.random.seed(1)
A_prev = np.random.randn(10, 4, 4, 3)
W = np.random.randn(2, 2, 3, 8)
b = np.random.randn(1, 1, 1, 8)
hparameters = {"pad": 2, "stride": 2}
Z, cache_conv = ref.conv_forward(A_prev, W, b, hparameters)
dA_conv, dW, db = ref.conv_backward(Z, cache_conv)
print("Z.shape =", Z.shape)
print(f"Z's mean = {Z.mean():.13f}")
print("Z[3, 2, 1] =", np.round(Z[3, 2, 1], 8).tolist())
print(f"dA_mean = {dA_conv.mean():.11f}   dW_mean = {dW.mean():.11f}   db_mean = {db.mean():.11f}")

# %% [markdown]
# ### The same with autograd
#
# `F.conv2d(x, weight, bias, stride=2, padding=2)` is the course's `conv_forward` in NCHW;
# `backward(dZ)` runs its backward with the same upstream gradient (dZ = Z, detached so
# it is a constant). The gradients land in `.grad` of each leaf, in our layout: the same
# numbers, transposed.

# %%
weight, bias = ref.to_torch_layout(W, b)
x_t, w_t, b_t = (tg.tensor(a, requires_grad=True) for a in (nchw(A_prev), weight, bias))
Z_t = F.conv2d(x_t, w_t, b_t, stride=2, padding=2)
Z_t.backward(Z_t.detach())
print("autograd Z.shape =", Z_t.shape, " (m, n_C, n_H, n_W)")
print(f"autograd: Z's mean = {Z_t.numpy().mean():.13f}")
print("autograd: Z[3, :, 2, 1] =", np.round(Z_t.numpy()[3, :, 2, 1], 8).tolist())
print(f"autograd: dA_mean = {x_t.grad.numpy().mean():.11f}   "
      f"dW_mean = {w_t.grad.numpy().mean():.11f}   db_mean = {b_t.grad.numpy().mean():.11f}")
print("largest difference from the loops: Z",
      f"{np.abs(Z_t.numpy() - nchw(Z)).max():.1e}, dA",
      f"{np.abs(x_t.grad.numpy() - nchw(dA_conv)).max():.1e}, dW",
      f"{np.abs(w_t.grad.numpy() - ref.to_torch_layout(dW, db)[0]).max():.1e}")

# %% [markdown]
# ## 4. Pooling forward
#
# 2 images 4×4×3, a 3×3 window, stride 2: one window per image and channel. The course's
# max pool gives A[0] = [1.74481176, 0.86540763, 1.13376944] and
# A[1] = [1.13162939, 1.51981682, 2.18557541]; its average pool A[0] =
# [0.02105773, -0.20328806, -0.40389855] and A[1] = [-0.22154621, 0.51716526, 0.48155844].

# %%
np.random.seed(1)
A_prev = np.random.randn(2, 4, 4, 3)
for mode, pool in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
    A, _ = ref.pool_forward(A_prev, {"stride": 2, "f": 3}, mode)
    A_t = pool(tg.tensor(nchw(A_prev)), kernel_size=3, stride=2)
    print(f"{mode:7} pool: A.shape = {A.shape}  A[0] = {np.round(A[0, 0, 0], 8).tolist()}"
          f"  A[1] = {np.round(A[1, 0, 0], 8).tolist()}")
    print(f"{'':13} autograd: A[0] = {np.round(A_t.numpy()[0, :, 0, 0], 8).tolist()}"
          f"  A[1] = {np.round(A_t.numpy()[1, :, 0, 0], 8).tolist()}")

# %% [markdown]
# ## 5.2 Pooling backward
#
# Max pooling passes each window's gradient to the window's maximum:
# `create_mask_from_window(x)` is `x == np.max(x)` (the course: [[True, False, False],
# [False, False, False]]). Average pooling shares it evenly: `distribute_value(2, (2, 2))`
# is [[0.5, 0.5], [0.5, 0.5]].

# %%
np.random.seed(1)
window = np.random.randn(2, 3)
print("x =", np.round(window, 8).tolist())
print("create_mask_from_window(x) =", ref.create_mask_from_window(window).tolist())
print("distribute_value(2, (2, 2)) =", ref.distribute_value(2, (2, 2)).tolist())

# %% [markdown]
# 5 images 5×3×2, a 2×2 window, stride 1 (the windows overlap, so gradients add up). The
# course prints the mean of dA, 0.145713902729, and dA_prev[1, 1] =
# [[0, 0], [5.05844394, -1.68282702], [0, 0]] (max) and [[0.08485462, 0.2787552],
# [1.26461098, -0.25749373], [1.17975636, -0.53624893]] (average). Autograd gets the same
# from `pool(x).backward(dA)`.

# %%
np.random.seed(1)
A_prev = np.random.randn(5, 5, 3, 2)
_, cache_pool = ref.pool_forward(A_prev, {"stride": 1, "f": 2})
dA = np.random.randn(5, 4, 2, 2)
print(f"mean of dA = {dA.mean():.12f}")
pool_backward = {}
for mode, pool in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
    pool_backward[mode] = ref.pool_backward(dA, cache_pool, mode)
    x_t = tg.tensor(nchw(A_prev), requires_grad=True)
    pool(x_t, kernel_size=2, stride=1).backward(tg.tensor(nchw(dA)))
    print(f"{mode:7} dA_prev[1, 1] = {np.round(pool_backward[mode][1, 1], 8).tolist()}")
    print(f"{'':7} autograd, the same entries: "
          f"{np.round(x_t.grad.numpy()[1, :, 1].T, 8).tolist()}")

# %% [markdown]
# ## Where the two rules differ: ties in a max-pool window
#
# The course's mask `x == np.max(x)` gives **every** tied maximum the whole gradient, so a
# tie passes it on twice. PyTorch's rule, which `F.max_pool2d` follows, gives it to the
# **first** maximum in row-major order only (the gradient of the one value the forward pass
# picked). With real-valued data a tie is rare; after a ReLU, a window of zeros is common,
# but there the ReLU's zero derivative hides the difference.

# %%
tied = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
_, cache_tied = ref.pool_forward(tied, {"stride": 2, "f": 2})
course_rule = ref.pool_backward(np.ones((1, 1, 1, 1)), cache_tied)[0, :, :, 0]
x_t = tg.tensor(nchw(tied), requires_grad=True)
F.max_pool2d(x_t, 2).sum().backward()
print("window [[1, 3], [3, 2]], upstream gradient 1:")
print("  the course's mask      ->", course_rule.tolist())
print("  autograd (PyTorch's)   ->", x_t.grad.numpy()[0, 0].tolist())

# %% [markdown]
# ## A small LeNet-style network on the digits
#
# The next assignment of the week builds CONV -> RELU -> MAXPOOL -> CONV -> RELU -> MAXPOOL
# -> FLATTEN -> DENSE in TensorFlow on the SIGNS photos (not shipped). Here the same shape,
# sized for the shipped 8×8 digits (1,797 images, ten classes), is an `nn.Sequential` of
# `nn.Conv2d`, `nn.ReLU`, `nn.MaxPool2d`, `nn.Flatten` and `nn.Linear`: 1×8×8 -> 16×8×8
# -> 16×4×4 -> 32×4×4 -> 32×2×2 -> 128 -> 10 (3×3 filters with "same" padding, 2×2 pools).
# Split 60/20/20, Adam at 0.003, mini-batches of 64; `fit` records the train and dev loss
# and accuracy every epoch.

# %%
images, digits = tg.data.load_digits(return_X_y=True)
splits = tg.data.train_dev_test_split(images / 16.0, digits, (0.6, 0.2, 0.2), seed=0,
                                      stratify=True)
(X_train, y_train), (X_dev, y_dev), (X_test, y_test) = (
    (X.reshape(-1, 1, 8, 8).astype(np.float32), y) for X, y in splits)
print("train", X_train.shape, " dev", X_dev.shape, " test", X_test.shape)

tg.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 16 x 4 x 4
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 x 2 x 2
    nn.Flatten(), nn.Linear(128, 10))
print(model)
history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3),
              (X_train, y_train), (X_dev, y_dev), epochs=EPOCHS, batch_size=64,
              progress=False, verbose=False)
test = evaluate(model, nn.CrossEntropyLoss(), [(tg.Tensor(X_test), tg.Tensor(y_test))])
print(f"after {len(history)} epochs: train {history.final['train_accuracy']:.1%}   "
      f"dev {history.final['dev_accuracy']:.1%}   test {test['accuracy']:.1%}")

# %%
plots.plot_history(history, title="LeNet-style CNN on the 8x8 digits: train vs dev")

# %% [markdown]
# What the first layer learned: its sixteen 3×3 filters (`model[0].weight`, (16, 1, 3, 3)).

# %%
filters = model[0].weight.numpy()
fig, axes = plots.new_figure(2, 8, size=(11, 3.2))
for k, ax in enumerate(axes.ravel()):
    ax.imshow(filters[k, 0], cmap="RdBu_r")
    ax.set_title(f"filter {k}", fontsize="small")
    ax.axis("off")
fig

# %% [markdown]
# ## The course's figures and ours
#
# The reference's loops are the course's functions on the course's inputs, so they print
# the course's figures to every printed digit; autograd agrees to rounding (about 1e-15).
# The step-by-step assignment trains no network, so the CNN has no published figure beside
# it.

# %%
z_single = ref.conv_single_step(a_slice_prev, W1, b1)
rows = [
    ("conv_single_step Z", "-6.99908945068", f"{z_single:.11f}"),
    ("conv_forward Z's mean", "0.0489952035289", f"{Z.mean():.13f}"),
    ("conv_forward Z[3,2,1][0]", "-0.61490741", f"{Z[3, 2, 1, 0]:.8f}"),
    ("conv_backward dA_mean", "1.45243777754", f"{dA_conv.mean():.11f}"),
    ("conv_backward dW_mean", "1.72699145831", f"{dW.mean():.11f}"),
    ("conv_backward db_mean", "7.83923256462", f"{db.mean():.11f}"),
    ("pool_backward mean of dA", "0.145713902729", f"{dA.mean():.12f}"),
    ("pool_backward max dA_prev[1,1][1]", "[5.05844394, -1.68282702]",
     str(np.round(pool_backward["max"][1, 1, 1], 8).tolist())),
    ("pool_backward avg dA_prev[1,1][1]", "[1.26461098, -0.25749373]",
     str(np.round(pool_backward["average"][1, 1, 1], 8).tolist())),
    ("max-pool tie [[1, 3], [3, 2]]", "[[0, 1], [1, 0]] (mask)",
     f"{course_rule.astype(int).tolist()} (reference), "
     f"{x_t.grad.numpy()[0, 0].astype(int).tolist()} (autograd)"),
    (f"CNN test accuracy, {len(history)} epochs", "(none: no network)", f"{test['accuracy']:.1%}"),
]
print(f"{'figure':<36} {'course':>27}   here")
for name, course, here in rows:
    print(f"{name:<36} {course:>27}   {here}")

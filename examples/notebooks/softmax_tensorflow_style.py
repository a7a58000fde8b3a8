# Source of softmax_tensorflow_style.ipynb (build.py writes the notebook from this file).

# %% [markdown]
# # The "Introduction to TensorFlow" assignment (Course 2, week 3), with tinygrad_c2
#
# Week 3 of the course leaves numpy for a framework. Its assignment builds, in TensorFlow,
# the pieces of a classifier one by one (a linear function, the sigmoid, one-hot labels,
# Glorot initialization, the forward pass, the total loss) and then trains a 3-layer
# network, LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SOFTMAX with sizes
# [12288, 25, 12, 6], on the SIGNS data set: 64×64 colour photos of hands showing 0 to 5
# fingers, 1,080 to train and 120 to test. Adam (learning rate 0.0001), mini-batches of 32.
#
# tinygrad_c2 plays TensorFlow's part here: `tf.GradientTape` becomes `loss.backward()`,
# `tf.Variable` a Tensor with `requires_grad=True` (or a layer's parameters),
# `optimizer.apply_gradients` becomes `opt.step()`.
#
# **The data here is not SIGNS.** SIGNS is not shipped with tinygrad_c2. We use the
# shipped UCI handwritten digits (`tg.data.load_digits`): 1,797 grey 8×8 images of the
# digits 0 to 9. The network keeps the course's hidden sizes and changes only the ends to
# fit the data: [64, 25, 12, 10]. Like the course, we hold out 10% as the test set.

# %%
import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2.data import DataLoader, load_digits, one_hot, train_dev_test_split
from tinygrad_c2.nn import functional as F
from tinygrad_c2.train import plots

# %% [markdown]
# `QUICK = True` trains 20 epochs instead of 300 (seconds instead of about a minute); the
# test suite sets it by inserting a cell after the `parameters` cell.

# %% tags=["parameters"]
QUICK = False

# %%
EPOCHS = 20 if QUICK else 300
print(f"QUICK = {QUICK}: {EPOCHS} epochs")

# %% [markdown]
# ## 1. A linear function, Y = WX + b
#
# The course draws X (3, 1), W (4, 3) and b (4, 1) from `np.random.seed(1)` and computes
# WX + b with the framework's ops. numpy's legacy generator (`np.random.RandomState(1)`)
# still gives the course's numbers, so we can check our result against its expected
# output [[-2.15657382], [2.95891446], [-1.08926781], [-0.84538042]].

# %%
rs = np.random.RandomState(1)
X_lin, W_lin, b_lin = (tg.tensor(rs.randn(*shape)) for shape in ((3, 1), (4, 3), (4, 1)))
print("W @ X + b =", (W_lin @ X_lin + b_lin).numpy().ravel())

# %% [markdown]
# ## 2. The sigmoid, and 3. one-hot labels
#
# `Tensor.sigmoid()` (or `tg.sigmoid`) is TensorFlow's `tf.keras.activations.sigmoid`.
# `tg.data.one_hot(labels, C)` is `tf.one_hot`. One difference of layout runs through the
# whole course: it keeps one example per **column**, so its one-hot matrix is (C, m);
# tinygrad_c2, like PyTorch, keeps one example per **row**, so `one_hot` gives (m, C).

# %%
print("sigmoid(-1), sigmoid(0), sigmoid(12) =", tg.tensor([-1.0, 0.0, 12.0]).sigmoid().numpy())
print("one_hot(1, C=4) =", one_hot(np.array([1]), 4)[0])
print("one_hot(2, C=5) =", one_hot(np.array([2]), 5)[0])
print("one_hot([1, 0, 3], C=4) =\n", one_hot(np.array([1, 0, 3]), 4))

# %% [markdown]
# ## 4. Glorot (Xavier) initialization
#
# The course initializes each W[l] with `tf.keras.initializers.GlorotNormal`: a normal
# distribution truncated at two standard deviations, std = sqrt(2 / (fan_in + fan_out)),
# and the biases with zeros. `nn.init.xavier_normal_` is PyTorch's version, the same std
# but not truncated. `nn.Linear(fan_in, fan_out).weight` has the course's shape
# (fan_out, fan_in); its bias is a vector rather than the course's (fan_out, 1) column.

# %%
def build():
    """[64, 25, 12, 10]: LINEAR -> RELU -> LINEAR -> RELU -> LINEAR (softmax is in the loss)."""
    model = nn.Sequential(nn.Linear(64, 25), nn.ReLU(), nn.Linear(25, 12), nn.ReLU(),
                          nn.Linear(12, 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


tg.manual_seed(1)
for name, p in build().named_parameters():
    values = f"std {p.numpy().std():.3f}" if p.ndim == 2 else "zeros"
    print(f"{name:<9} {str(p.shape):<9} {values}")
print(f"Glorot std of W1: sqrt(2 / (64 + 25)) = {np.sqrt(2 / (64 + 25)):.3f}")

# %% [markdown]
# ## 5. The forward pass and 6. the total loss
#
# The course's `forward_propagation` stops at Z3, the last linear output ("logits"), and
# its `compute_total_loss` applies softmax and the cross-entropy together,
# `tf.reduce_sum(tf.keras.losses.categorical_crossentropy(labels, logits, from_logits=True))`:
# the **sum** over the mini-batch. Here that is `F.cross_entropy(logits, labels,
# reduction="sum")`. It takes integer labels (PyTorch's way) or one-hot rows (the course's)
# and gives the same number; by hand it is −Σ log softmax(z)[label]:

# %%
logits = tg.tensor([[5.0, 2.0, -1.0, 3.0], [0.5, 0.5, 2.0, 0.0]])
labels = np.array([0, 2])
print("softmax([5, 2, -1, 3]) =", np.round(logits.softmax(dim=1).numpy()[0], 3),
      "  (the course's lecture example: 0.842, 0.042, 0.002, 0.114)")
with_labels = F.cross_entropy(logits, tg.tensor(labels), reduction="sum").item()
with_one_hot = F.cross_entropy(logits, tg.tensor(one_hot(labels, 4)), reduction="sum").item()
by_hand = -np.log(logits.softmax(dim=1).numpy()[np.arange(2), labels]).sum()
print(f"total loss: integer labels {with_labels:.6f}, one-hot {with_one_hot:.6f}, "
      f"by hand {by_hand:.6f}")

# %% [markdown]
# ## The data: 8×8 digits instead of SIGNS
#
# The course divides the pixels by 255; the digits' pixels run from 0 to 16, so we divide by
# 16. `train_dev_test_split(..., stratify=True)` keeps the ten classes in proportion; the
# course has no dev set, so its share is 0.

# %%
images, digits = load_digits(return_X_y=True)
(X_train, y_train), _, (X_test, y_test) = train_dev_test_split(
    images / 16.0, digits, (0.9, 0.0, 0.1), seed=1, stratify=True)
print("train", X_train.shape, " test", X_test.shape, " classes", np.bincount(y_train))

fig, axes = plots.new_figure(2, 8, size=(11, 3.2))
for ax, image, label in zip(axes.ravel(), X_train, y_train, strict=False):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"y = {label}", fontsize="small")
    ax.axis("off")
fig

# %% [markdown]
# ## Training: the course's `model()`
#
# The course's loop, with tinygrad_c2 doing the gradient tape's work: for each mini-batch,
# the forward pass and the total loss, `loss.backward()` for the gradients, `opt.step()` to
# apply them. Its printed cost is the epoch's total loss divided by m. Like the course's
# TensorFlow version we record the cost and the train and test accuracy every 10 epochs
# (the accuracies here are measured on the whole set after the epoch).

# %%
def accuracy(model, X, y):
    with tg.no_grad():
        return float((model(tg.Tensor(X)).numpy().argmax(axis=1) == y).mean())


tg.manual_seed(1)
model = build()
opt = optim.Adam(model.parameters(), lr=1e-4)
loader = DataLoader((X_train, y_train), batch_size=32, shuffle=True)
log = []   # (epoch, cost, train accuracy, test accuracy)
for epoch in range(EPOCHS):
    total = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    if epoch % 10 == 0 or epoch == EPOCHS - 1:
        log.append((epoch, total / len(y_train), accuracy(model, X_train, y_train),
                    accuracy(model, X_test, y_test)))
        if epoch % 50 == 0 or epoch == EPOCHS - 1:
            print(f"cost after epoch {epoch}: {log[-1][1]:.6f}   train accuracy {log[-1][2]:.4f}"
                  f"   test accuracy {log[-1][3]:.4f}")

# %%
epochs, costs, train_acc, test_acc = (np.array(column) for column in zip(*log, strict=True))
fig, axes = plots.new_figure(1, 2, size=(11, 3.6))
axes[0, 0].plot(epochs, costs)
axes[0, 0].set(xlabel="epoch", ylabel="cost", title="cost (learning rate 0.0001)")
axes[0, 1].plot(epochs, train_acc, label="train")
axes[0, 1].plot(epochs, test_acc, label="test")
axes[0, 1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
axes[0, 1].legend()
fig

# %% [markdown]
# A few test images with the class the network predicts (softmax's largest probability):

# %%
with tg.no_grad():
    probabilities = model(tg.Tensor(X_test[:16])).softmax(dim=1).numpy()
fig, axes = plots.new_figure(2, 8, size=(11, 3.4))
for ax, image, p, label in zip(axes.ravel(), X_test, probabilities, y_test, strict=False):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    guess = int(p.argmax())
    ax.set_title(f"{guess} ({p[guess]:.0%})", fontsize="small",
                 color="black" if guess == label else "red")
    ax.axis("off")
fig

# %% [markdown]
# ## The course's figures and ours
#
# The course's published figures are on SIGNS, ours on the digits, so they cannot agree
# in value: the digits are smaller images and an easier task. The course's TensorFlow 1
# version trained 1,500 epochs and reported train 99.9%, test 71.7% (it overfits: "add L2
# or dropout"); its TensorFlow 2 version trains 100 epochs and publishes only the start
# of the run (after epoch 0: train 17.0%, test 20.0%; after epoch 10: 35.9%, 30.8%).

# %%
first, tenth, last = log[0], log[min(1, len(log) - 1)], log[-1]
print(f"{'figure':<28} {'course (SIGNS)':>16} {'here (digits)':>14}")
print(f"{'after epoch 0: train/test':<28} {'17.0% / 20.0%':>16} "
      f"{first[2]:6.1%} / {first[3]:.1%}")
print(f"{'after epoch 10: train/test':<28} {'35.9% / 30.8%':>16} "
      f"{tenth[2]:6.1%} / {tenth[3]:.1%}")
print(f"{f'final (epoch {last[0]}): train/test':<28} {'99.9% / 71.7%':>16} "
      f"{last[2]:6.1%} / {last[3]:.1%}")

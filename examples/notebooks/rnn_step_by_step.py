# Source of rnn_step_by_step.ipynb (build.py writes the notebook from this file).

# %% [markdown]
# # "Building your Recurrent Neural Network - Step by Step" (Course 5, week 1), with tinygrad_c2
#
# The assignment writes, in numpy, one step of a basic RNN cell and of an LSTM cell, runs
# each over a sequence, and then (optional in the course) derives their backward passes
# through time. The week's next assignment, "Dinosaur Island", trains a character-level
# language model with gradient clipping and samples new names from it.
#
# `tg.reference` (tinygrad_c2/reference/rnn.py) has these functions under the course's
# names and in its layout. This notebook runs them on the notebook's own
# `np.random.seed(1)` inputs, so they print the course's published figures; shows that
# the reference's `lstm_backward` is the gradient autograd computes (some published
# versions of the course's is not); loads the course's weights into `nn.RNN` and `nn.LSTM`;
# and trains a small character-level model on the shipped names.

# %%
import numpy as np

import tinygrad_c2 as tg
from tinygrad_c2 import nn, optim
from tinygrad_c2 import reference as ref
from tinygrad_c2.charlm import CharLM, Vocabulary, batches, dev_loss, sample, split_names
from tinygrad_c2.nn import functional as F
from tinygrad_c2.train import plots

# %% [markdown]
# `QUICK = True` trains the language model for 150 steps instead of 1,500 (a few seconds
# instead of about a minute); the test suite sets it by inserting a cell after the
# `parameters` cell.

# %% tags=["parameters"]
QUICK = False

# %%
STEPS = 150 if QUICK else 1500
print(f"QUICK = {QUICK}: {STEPS} training steps for the language model")
n_x, n_a, n_y, m = 3, 5, 2, 10   # the course's sizes: input, hidden state, output, examples

# %% [markdown]
# ## Two layouts: the course's (n_x, m, T_x), PyTorch's (T_x, m, n_x)
#
# The course keeps one example per **column** and time on the **last** axis: a batch of
# sequences x is (n_x, m, T_x), the hidden states a are (n_a, m, T_x), and a weight
# multiplies from the left (`Wax @ xt`). `nn.RNN` and `nn.LSTM`, like PyTorch's, take
# (T_x, m, n_x): time first, one example per row (or (m, T_x, n_x) with
# `batch_first=True`), and a state (num_layers, m, n_a).

# %%
def torch_layout(x):
    """The course's (n, m, T_x) as PyTorch's (T_x, m, n)."""
    return np.ascontiguousarray(x.transpose(2, 1, 0))


print("x: course (3, 10, 4) -> ours", torch_layout(np.zeros((n_x, m, 4))).shape,
      "   a0: course (5, 10) -> ours", np.zeros((n_a, m)).T[None].shape)

# %% [markdown]
# ## 1. The basic RNN
#
# a⟨t⟩ = tanh(Wax x⟨t⟩ + Waa a⟨t−1⟩ + ba), ŷ⟨t⟩ = softmax(Wya a⟨t⟩ + by).
# The course's expected output of `rnn_cell_forward`: a_next[4] = [0.59584544, 0.18141802,
# 0.61311866, 0.99808218, 0.85016201, 0.99980978, -0.18887155, 0.99815551, 0.6531151,
# 0.82872037] and yt_pred[1] = [0.9888161, 0.01682021, 0.21140899, 0.36817467, 0.98988387,
# 0.88945212, 0.36920224, 0.9966312, 0.9982559, 0.17746526]. Of `rnn_forward` over 4 steps:
# a[4][1] = [-0.99999375, 0.77911235, -0.99861469, -0.99833267] and y_pred[1][3] =
# [0.79560373, 0.86224861, 0.11118257, 0.81515947].

# %%
def rnn_parameters(waa_first):
    """The course's RNN weights in the order its cell draws them (the forward cells draw Waa
    first, the backward cell Wax first)."""
    names = ("Waa", "Wax") if waa_first else ("Wax", "Waa")
    shapes = {"Waa": (n_a, n_a), "Wax": (n_a, n_x), "Wya": (n_y, n_a), "ba": (n_a, 1),
              "by": (n_y, 1)}
    return {name: np.random.randn(*shapes[name]) for name in (*names, "Wya", "ba", "by")}


np.random.seed(1)
xt, a_prev = np.random.randn(n_x, m), np.random.randn(n_a, m)
a_next, yt_pred, _ = ref.rnn_cell_forward(xt, a_prev, rnn_parameters(waa_first=True))
figures = {"rnn_cell_forward a_next[4][0]": ("0.59584544", f"{a_next[4][0]:.8f}")}
print("rnn_cell_forward: a_next[4] =", np.round(a_next[4], 8).tolist())
print("                  yt_pred[1] =", np.round(yt_pred[1], 8).tolist())

np.random.seed(1)
x, a0 = np.random.randn(n_x, m, 4), np.random.randn(n_a, m)
a, y_pred, _ = ref.rnn_forward(x, a0, rnn_parameters(waa_first=True))
print("rnn_forward: a.shape =", a.shape, " a[4][1] =", np.round(a[4][1], 8).tolist())
print("             y_pred[1][3] =", np.round(y_pred[1][3], 8).tolist())
figures["rnn_forward y_pred[1][3][0]"] = ("0.79560373", f"{y_pred[1][3][0]:.8f}")

# %% [markdown]
# ## 2. The LSTM
#
# On concat = [a⟨t−1⟩; x⟨t⟩]: the forget gate f = σ(Wf concat + bf), the update gate
# i = σ(Wi concat + bi), the candidate c̃ = tanh(Wc concat + bc), the output gate
# o = σ(Wo concat + bo); then c⟨t⟩ = f ∗ c⟨t−1⟩ + i ∗ c̃ and a⟨t⟩ = o ∗ tanh(c⟨t⟩).
# The course's expected output of `lstm_cell_forward`: a_next[4] = [-0.66408471, 0.0036921,
# 0.02088357, 0.22834167, -0.85575339, 0.00138482, 0.76566531, 0.34631421, -0.00215674,
# 0.43827275], c_next[2] = [0.63267805, 1.00570849, 0.35504474, 0.20690913, -1.64566718,
# 0.11832942, 0.76449811, -0.0981561, -0.74348425, -0.26810932]. Of `lstm_forward` over 7
# steps: a[4][3][6] = 0.172117767533, y[1][4][3] = 0.95087346185, c[1][2][1] =
# -0.855544916718.

# %%
def lstm_parameters():
    """The course's LSTM weights in the order its cells draw them."""
    shapes = {"Wf": (n_a, n_a + n_x), "bf": (n_a, 1), "Wi": (n_a, n_a + n_x), "bi": (n_a, 1),
              "Wo": (n_a, n_a + n_x), "bo": (n_a, 1), "Wc": (n_a, n_a + n_x), "bc": (n_a, 1),
              "Wy": (n_y, n_a), "by": (n_y, 1)}
    return {name: np.random.randn(*shape) for name, shape in shapes.items()}


np.random.seed(1)
xt, a_prev, c_prev = np.random.randn(n_x, m), np.random.randn(n_a, m), np.random.randn(n_a, m)
a_next, c_next, yt, _ = ref.lstm_cell_forward(xt, a_prev, c_prev, lstm_parameters())
print("lstm_cell_forward: a_next[4] =", np.round(a_next[4], 8).tolist())
print("                   c_next[2] =", np.round(c_next[2], 8).tolist())
figures["lstm_cell_forward c_next[2][0]"] = ("0.63267805", f"{c_next[2][0]:.8f}")

np.random.seed(1)
x, a0 = np.random.randn(n_x, m, 7), np.random.randn(n_a, m)
a, y, c, _ = ref.lstm_forward(x, a0, lstm_parameters())
print(f"lstm_forward: a[4][3][6] = {a[4][3][6]:.12f}   y[1][4][3] = {y[1][4][3]:.11f}   "
      f"c[1][2][1] = {c[1][2][1]:.12f}")
figures["lstm_forward a[4][3][6]"] = ("0.172117767533", f"{a[4][3][6]:.12f}")

# %% [markdown]
# ## 3. Backpropagation through time
#
# `rnn_backward(da, caches)` takes da, the gradient reaching every hidden state from above
# (n_a, m, T_x), and walks back in time: step t receives da[:, :, t] **plus** the da_prev
# that step t + 1 hands back. The course's expected output: dx[1][2] = [-2.07101689,
# -0.59255627, 0.02466855, 0.01483317], da0[2][3] = -0.314942375127, dWax[3][1] =
# 11.2641044965, dWaa[1][2] = 2.30333312658, dba[4] = [-0.74747722].
# Of `lstm_cell_backward`: dxt[1][2] = 3.23055911511, da_prev[2][3] = -0.0639621419711,
# dc_prev[2][3] = 0.797522038797, dWf[3][1] = -0.147954838164, dbf[4] = [0.18864637].

# %%
np.random.seed(1)
x, a0 = np.random.randn(n_x, m, 4), np.random.randn(n_a, m)
_, _, rnn_caches = ref.rnn_forward(x, a0, rnn_parameters(waa_first=False))
rnn_grads = ref.rnn_backward(np.random.randn(n_a, m, 4), rnn_caches)
print("rnn_backward: dx[1][2] =", np.round(rnn_grads["dx"][1][2], 8).tolist())
print(f"  da0[2][3] = {rnn_grads['da0'][2][3]:.12f}   dWax[3][1] = {rnn_grads['dWax'][3][1]:.10f}"
      f"   dWaa[1][2] = {rnn_grads['dWaa'][1][2]:.11f}   dba[4] = {rnn_grads['dba'][4]}")
figures["rnn_backward dWax[3][1]"] = ("11.2641044965", f"{rnn_grads['dWax'][3][1]:.10f}")

np.random.seed(1)   # the course's lstm_cell_backward cell redraws the lstm_cell_forward inputs
xt, a_prev, c_prev = np.random.randn(n_x, m), np.random.randn(n_a, m), np.random.randn(n_a, m)
_, _, _, cell_cache = ref.lstm_cell_forward(xt, a_prev, c_prev, lstm_parameters())
cell_grads = ref.lstm_cell_backward(np.random.randn(n_a, m), np.random.randn(n_a, m), cell_cache)
print(f"lstm_cell_backward: dxt[1][2] = {cell_grads['dxt'][1][2]:.11f}   "
      f"da_prev[2][3] = {cell_grads['da_prev'][2][3]:.13f}")
print(f"  dc_prev[2][3] = {cell_grads['dc_prev'][2][3]:.12f}   "
      f"dWf[3][1] = {cell_grads['dWf'][3][1]:.12f}   dbf[4] = {cell_grads['dbf'][4]}")
figures["lstm_cell_backward dxt[1][2]"] = ("3.23055911511", f"{cell_grads['dxt'][1][2]:.11f}")

# %% [markdown]
# ### `lstm_backward`: the recurrence must be carried back
#
# Some published versions of the course's `lstm_backward` call the cell backward with
# da[:, :, t] alone and never pass da_prev and dc_prev back into step t − 1, so the
# figures printed under them are the gradient of a network whose time steps do not talk
# to each other. `ref.lstm_backward` carries both back. Autograd has no such choice to
# make: `nn.LSTM` with the same weights (`ref.to_torch_lstm` maps the course's gates
# f, i, c, o onto PyTorch's stacked i, f, g, o) and `backward(da)` gives the true
# gradient. Below, in float64, on the lstm_forward inputs above and a random da:

# %%
np.random.seed(1)
x, a0 = np.random.randn(n_x, m, 7), np.random.randn(n_a, m)
p_lstm = lstm_parameters()
a, _, _, lstm_caches = ref.lstm_forward(x, a0, p_lstm)
da = np.random.randn(n_a, m, 7)
right = ref.lstm_backward(da, lstm_caches)
# the published variant: each step on its own, nothing handed back
cut_dWf = sum(ref.lstm_cell_backward(da[:, :, t], np.zeros((n_a, m)), lstm_caches[0][t])["dWf"]
              for t in range(7))

lstm = nn.LSTM(n_x, n_a).double()
lstm.load_state_dict(ref.to_torch_lstm(p_lstm))
X = tg.tensor(torch_layout(x), requires_grad=True)
h0 = tg.tensor(a0.T[None].copy(), requires_grad=True)
out, _ = lstm(X, (h0, tg.zeros(1, m, n_a, dtype=tg.float64)))
out.backward(tg.tensor(torch_layout(da)))
# PyTorch's weight_hh holds the a_prev columns of each gate, i, f, g, o stacked: f is rows n_a:2n_a
autograd_dWf = np.concatenate([lstm.weight_hh_l0.grad.numpy()[n_a:2 * n_a],
                               lstm.weight_ih_l0.grad.numpy()[n_a:2 * n_a]], axis=1)
print(f"forward: |nn.LSTM - lstm_forward| = {np.abs(out.numpy() - torch_layout(a)).max():.1e}")
print(f"dWf: |autograd - ref.lstm_backward| = {np.abs(autograd_dWf - right['dWf']).max():.1e}")
print(f"dWf: |autograd - the cut version|   = {np.abs(autograd_dWf - cut_dWf).max():.2f}")
print(f"dx:  |autograd - ref.lstm_backward| = "
      f"{np.abs(X.grad.numpy() - torch_layout(right['dx'])).max():.1e}")
print(f"da0: |autograd - ref.lstm_backward| = "
      f"{np.abs(h0.grad.numpy()[0].T - right['da0']).max():.1e}")

# %% [markdown]
# ## 4. `nn.RNN` with the course's weights
#
# `ref.to_torch_rnn` puts Wax, Waa, ba under `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`
# (PyTorch has two biases; `bias_hh_l0` is zero). The layer's output is the course's a,
# transposed; the output layer ŷ = softmax(Wya a + by) is an `nn.Linear` and a softmax.
# The gradients from `backward(da)` are `rnn_backward`'s (one course bias ba feeds both of
# PyTorch's, so each gets dba).

# %%
np.random.seed(1)
x, a0 = np.random.randn(n_x, m, 4), np.random.randn(n_a, m)
p_rnn = rnn_parameters(waa_first=False)
a, y_pred, rnn_caches = ref.rnn_forward(x, a0, p_rnn)
da = np.random.randn(n_a, m, 4)
rnn_grads = ref.rnn_backward(da, rnn_caches)

rnn = nn.RNN(n_x, n_a).double()   # tanh, PyTorch's default nonlinearity
rnn.load_state_dict(ref.to_torch_rnn(p_rnn))
head = nn.Linear(n_a, n_y).double()
head.load_state_dict({"weight": p_rnn["Wya"], "bias": p_rnn["by"][:, 0]})
print(rnn, head)
X = tg.tensor(torch_layout(x), requires_grad=True)
out, h_n = rnn(X, tg.tensor(a0.T[None].copy()))
y_t = head(out).softmax(dim=-1)
out.backward(tg.tensor(torch_layout(da)))
print("a[4][1]: nn.RNN", np.round(out.numpy()[:, 1, 4], 8).tolist(),
      "  rnn_forward", np.round(a[4][1], 8).tolist())
print(f"|nn.RNN - rnn_forward| = {np.abs(out.numpy() - torch_layout(a)).max():.1e}   "
      f"|softmax(Linear) - y_pred| = {np.abs(y_t.numpy() - torch_layout(y_pred)).max():.1e}")
print(f"dWax: |weight_ih_l0.grad - rnn_backward| = "
      f"{np.abs(rnn.weight_ih_l0.grad.numpy() - rnn_grads['dWax']).max():.1e}   "
      f"dx: {np.abs(X.grad.numpy() - torch_layout(rnn_grads['dx'])).max():.1e}")

# %% [markdown]
# ## 5. A character-level language model on names ("Dinosaur Island")
#
# The course reads dinosaur names one character at a time and learns to predict the next.
# The shipped corpus is the 5,163 distinct first names of the 1990 US Census
# (`tg.data.load_names()`); `split_names` keeps 10% of them aside as dev names. As in the
# course, a name is framed by the end token "\n" (index 0): the input is ["\n", c1, ..., cn]
# and the target [c1, ..., cn, "\n"]. `CharLM` feeds one-hot characters to an `nn.LSTM`
# (batch first) and a `Linear` giving 27 logits per step; the loss is the mean cross-entropy
# per character (a uniform guess costs ln 27 = 3.30 nats). `batches` pads a batch's shorter
# names with targets −100, which `F.cross_entropy` ignores.
#
# The course clips each gradient element to [−5, 5] before its SGD step (its `clip`, which
# is `nn.utils.clip_grad_value_`); here `nn.utils.clip_grad_norm_` rescales the whole
# gradient when its norm passes 1 (PyTorch's usual choice), and Adam takes the step.

# %%
train_names, dev_names = split_names(seed=0)
vocab = Vocabulary()
print(f"{len(train_names)} training names, {len(dev_names)} dev names; e.g.",
      ", ".join(train_names[:5]))
X_b, Y_b = next(batches(train_names[:2], vocab, 2, np.random.default_rng(0)))
print("a batch of two: inputs", X_b.tolist(), " targets", Y_b.tolist())

tg.manual_seed(0)
model = CharLM(len(vocab), hidden_size=64, cell="lstm")
params = list(model.parameters())
opt = optim.Adam(params, lr=0.01)
stream = batches(train_names, vocab, 32, np.random.default_rng(0))
losses, norms = [], []
for step in range(1, STEPS + 1):
    X_b, Y_b = next(stream)
    logits, _ = model(X_b)
    loss = F.cross_entropy(logits.reshape(-1, len(vocab)), tg.tensor(Y_b.reshape(-1)))
    opt.zero_grad()
    loss.backward()
    norms.append(nn.utils.clip_grad_norm_(params, max_norm=1.0).item())   # the norm before
    opt.step()
    losses.append(loss.item())
    if step % (STEPS // 5) == 0:
        print(f"step {step:5d}   loss {np.mean(losses[-STEPS // 5:]):.3f} nats/char")
final_dev_loss = dev_loss(model, dev_names, vocab)
print(f"dev loss {final_dev_loss:.3f} nats/char (uniform guess {np.log(27):.3f});   "
      f"largest gradient norm {max(norms):.2f}, {np.mean(np.asarray(norms) > 1.0):.0%} of "
      "steps clipped")

# %%
window = 25
fig, axes = plots.new_figure(1, 2, size=(11, 3.6))
axes[0, 0].plot(np.arange(window, len(losses) + 1),
                np.convolve(losses, np.ones(window) / window, mode="valid"), label="train")
axes[0, 0].axhline(np.log(27), color="0.6", linestyle=":", label="uniform guess")
axes[0, 0].axhline(final_dev_loss, color="C1", linestyle="--", label="dev, at the end")
axes[0, 0].set(title=f"LSTM, Adam: loss (running mean of {window} steps)", xlabel="step",
               ylabel="cross-entropy, nats/char")
axes[0, 0].legend(fontsize="small")
axes[0, 1].plot(norms, linewidth=0.7)
axes[0, 1].axhline(1.0, color="0.3", linestyle="--", label="max_norm")
axes[0, 1].set(title="gradient norm before clipping", xlabel="step", yscale="log")
axes[0, 1].legend(fontsize="small")
fig

# %% [markdown]
# With Adam at this step size the gradient norm seldom reaches the threshold: clipping
# here is a guard against the rare spike, not part of every step. The course's model, a
# basic RNN with plain SGD and a large step, is where it matters: `examples/char_lm.py`
# trains it with and without `clip_grad_norm_` from the same weights, and without it the
# loss climbs above the uniform guess.
#
# ### Sampling new names
#
# `sample` feeds "\n", draws the next character from softmax(logits / temperature), feeds
# it back with the LSTM's state, and stops at "\n". A seeded `tg.Generator` makes the draw
# repeatable (the course reseeds numpy per name for the same reason).

# %%
known = set(train_names) | set(dev_names)
generator = tg.Generator().manual_seed(1)
names = [sample(model, vocab, generator, temperature=0.8) for _ in range(10)]
print("sampled:", ", ".join(f"{name}{'' if name in known else '*'}" for name in names),
      f"  (* not in the list: {sum(name not in known for name in names)} of 10)")

# %% [markdown]
# ## The course's figures and ours
#
# The reference's functions on the course's inputs print the course's figures to every
# printed digit. The course's `lstm_backward` figures are left out: some published
# versions drop the recurrence (above). The language model has no figure to compare with:
# the course's runs on dinosaur names (not shipped) print a loss summed over a name, ours
# is a mean per character on first names.

# %%
dWf_error = np.abs(autograd_dWf - right["dWf"]).max()
figures["lstm_backward |ours - autograd| dWf"] = ("(left out)", f"{dWf_error:.0e}")
figures[f"char LM dev loss, {STEPS} steps"] = ("(dinosaurs)", f"{final_dev_loss:.3f} nats/char")
print(f"{'figure':<34} {'course':>16}   here")
for name, (course, here) in figures.items():
    print(f"{name:<34} {course:>16}   {here}")

"""Shared builders for the tg.reference tests: small float64 nets, data, masks, comparisons."""

import numpy as np

from tinygrad_c2.reference import MLP, dropout_mask

# The configurations every comparison runs: each activation, both outputs, L2, dropout,
# batch norm, and all of them at once.
FEATURES = {
    "relu+softmax": {},
    "tanh+sigmoid": {"dims": (5, 8, 6, 1), "activation": "tanh", "output": "sigmoid"},
    "sigmoid+softmax": {"activation": "sigmoid"},
    "l2": {"activation": "tanh", "lambd": 0.8},
    "dropout": {"keep_prob": [0.8, 0.6]},
    "batch_norm": {"batch_norm": True, "activation": "tanh"},
    "everything": {"batch_norm": True, "keep_prob": 0.8, "lambd": 0.2},
}


def make_net(
    dims=(5, 8, 6, 3),
    activation="relu",
    output="softmax",
    batch_norm=False,
    bias_before_bn=False,
    keep_prob=1.0,
    lambd=0.0,
    seed=0,
):
    """A small float64 net with non-zero biases and gamma/beta away from 1/0."""
    rng = np.random.default_rng(seed)
    net = MLP.initialize(list(dims), activation, output, batch_norm=batch_norm,
                         keep_prob=keep_prob, lambd=lambd, rng=rng)
    for name, p in net.parameters.items():
        if name.startswith(("b", "beta")):
            p[...] = rng.normal(0, 0.5, p.shape)
        if name.startswith("gamma"):
            p[...] = rng.uniform(0.5, 1.5, p.shape)
    if bias_before_bn:  # a bias that batch norm cancels: its true gradient is 0
        for layer in range(1, net.L):
            net.parameters[f"b{layer}"] = rng.normal(0, 0.5, dims[layer])
        net.parameters = dict(sorted(net.parameters.items(), key=_course_order))
    return net


def _course_order(item):
    name = item[0]
    kind = name.rstrip("0123456789")
    return int(name[len(kind):]), ["W", "b", "gamma", "beta"].index(kind)


def make_data(net, m=16, seed=1):
    """Standard-normal X and labels: integers for softmax, 0/1 floats (m, 1) for sigmoid."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, net.parameters["W1"].shape[1]))
    n_out = net.parameters[f"W{net.L}"].shape[0]
    if net.output == "softmax":
        return X, rng.integers(0, n_out, size=m)
    return X, rng.integers(0, 2, size=(m, 1)).astype(np.float64)


def draw_masks(net, m, rng):
    """The dropout masks one forward pass draws from ``rng``, in forward order."""
    return {layer: dropout_mask((m, net.parameters[f"W{layer}"].shape[0]),
                                net.keep_prob[layer], net.dtype, rng)
            for layer in range(1, net.L) if net.keep_prob[layer] < 1.0}


def relative(a, b):
    """||a - b|| / max(||a||, ||b||)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)

"""Hand-derived forward and backward of a basic RNN and an LSTM in numpy, the course's way.

Course 5, week 1 ("Building your Recurrent Neural Network - Step by Step"): examples are
columns and time is the last axis, so a sequence ``x`` is (n_x, m, T_x) and the hidden states
``a`` are (n_a, m, T_x). The RNN's parameters are ``Wax`` (n_a, n_x), ``Waa`` (n_a, n_a),
``ba`` (n_a, 1) and the output layer ``Wya`` (n_y, n_a), ``by`` (n_y, 1):

    a<t> = tanh(Wax x<t> + Waa a<t-1> + ba),      y<t> = softmax(Wya a<t> + by).

The LSTM's gates act on the concatenation ``concat = [a<t-1>; x<t>]`` of shape
(n_a + n_x, m), each with a weight (n_a, n_a + n_x) and a bias (n_a, 1):

    f = sigmoid(Wf concat + bf)    (forget)       i = sigmoid(Wi concat + bi)   (update)
    cc = tanh(Wc concat + bc)      (candidate)    o = sigmoid(Wo concat + bo)   (output)
    c<t> = f * c<t-1> + i * cc,    a<t> = o * tanh(c<t>),    y<t> = softmax(Wy a<t> + by).

The forward functions return the course's caches; the backward functions take ``da``, the
gradient of the loss with respect to every hidden state, (n_a, m, T_x) (what the layer above
sends back), and return the course's ``gradients`` dict.

NOTE: some published versions of the course's ``lstm_backward`` call the cell backward with
``da[:, :, t]`` alone and never carry ``da_prev``/``dc_prev`` back into the previous step, so
their expected figures are the gradient of a network whose time steps do not talk to each
other. ``lstm_backward`` here carries both back (``da[:, :, t] + da_prev`` and ``dc_prev``):
the mathematically right gradient, which agrees with autograd (nn.LSTM) and with torch to
1e-10 in float64 (tests/test_reference_rnn.py).

``to_torch_rnn``/``to_torch_lstm`` map the course's parameters onto PyTorch's
``weight_ih_l0``/``weight_hh_l0``/``bias_ih_l0``/``bias_hh_l0`` (gate order i, f, g, o; the
course's is f, i, c, o), which is how the reference is compared with nn.RNN and nn.LSTM.
"""

from __future__ import annotations

import numpy as np

from tinygrad_c2.reference.mlp import sigmoid

__all__ = [
    "clip",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "softmax",
    "to_torch_lstm",
    "to_torch_rnn",
]

LSTM_GATES = ("f", "i", "c", "o")  # the course's order; PyTorch stacks i, f, g (= c), o
TORCH_GATE_ORDER = ("i", "f", "c", "o")


def softmax(Z: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 (the course's columns are examples), shifted by each column's max.

    >>> softmax(np.array([[0.0, 1000.0], [0.0, 1000.0]])).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _check_sequence(where: str, x: np.ndarray, a0: np.ndarray, n_a: int, n_x: int) -> None:
    if x.ndim != 3 or x.shape[0] != n_x:
        raise ValueError(f"{where}: x must be (n_x={n_x}, m, T_x), got {x.shape}")
    if a0.shape != (n_a, x.shape[1]):
        raise ValueError(f"{where}: a0 must be (n_a={n_a}, m={x.shape[1]}), got {a0.shape}")


# ------------------------------------------------------------------------------------ RNN
def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, parameters: dict) -> tuple:
    """One RNN step: returns (a_next, yt_pred, cache), cache = (a_next, a_prev, xt, parameters).

    >>> p = {"Wax": np.ones((2, 3)), "Waa": np.zeros((2, 2)), "Wya": np.ones((1, 2)),
    ...      "ba": np.zeros((2, 1)), "by": np.zeros((1, 1))}
    >>> a_next, yt, cache = rnn_cell_forward(np.zeros((3, 4)), np.zeros((2, 4)), p)
    >>> a_next.shape, yt.tolist()
    ((2, 4), [[1.0, 1.0, 1.0, 1.0]])
    """
    a_next = np.tanh(parameters["Wax"] @ xt + parameters["Waa"] @ a_prev + parameters["ba"])
    yt_pred = softmax(parameters["Wya"] @ a_next + parameters["by"])
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_forward(x: np.ndarray, a0: np.ndarray, parameters: dict) -> tuple:
    """The RNN over T_x steps: returns (a, y_pred, caches), caches = (list of cell caches, x).

    ``a`` is (n_a, m, T_x), ``y_pred`` (n_y, m, T_x).
    """
    n_y, n_a = parameters["Wya"].shape
    _check_sequence("rnn_forward", x, a0, n_a, parameters["Wax"].shape[1])
    _, m, T_x = x.shape
    a = np.zeros((n_a, m, T_x), dtype=np.result_type(x, a0, parameters["Wax"]))
    y_pred = np.zeros((n_y, m, T_x), dtype=a.dtype)
    cell_caches = []
    a_next = a0
    for t in range(T_x):
        a_next, y_pred[:, :, t], cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        cell_caches.append(cache)
    return a, y_pred, (cell_caches, x)


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict:
    """One RNN step backward, from da_next = dL/da<t> (all paths that reach a<t>).

    With dz = da_next * (1 - a_next^2) (tanh' from the saved output):
    dxt = Wax^T dz, da_prev = Waa^T dz, dWax = dz xt^T, dWaa = dz a_prev^T, dba = sum_m dz.
    """
    a_next, a_prev, xt, parameters = cache
    dz = da_next * (1.0 - a_next * a_next)
    return {
        "dxt": parameters["Wax"].T @ dz,
        "da_prev": parameters["Waa"].T @ dz,
        "dWax": dz @ xt.T,
        "dWaa": dz @ a_prev.T,
        "dba": dz.sum(axis=1, keepdims=True),
    }


def rnn_backward(da: np.ndarray, caches: tuple) -> dict:
    """Backprop through time: returns dx (n_x, m, T_x), da0, dWax, dWaa, dba.

    ``da[:, :, t]`` is the gradient reaching a<t> from above; the step's own input is that
    plus ``da_prev`` handed back by step t + 1 (the recurrence).
    """
    cell_caches, x = caches
    parameters = cell_caches[0][3]
    n_a, m, T_x = da.shape
    dx = np.zeros_like(x, dtype=np.result_type(x, da))
    grads = {name: np.zeros_like(parameters[name[1:]], dtype=dx.dtype)
             for name in ("dWax", "dWaa", "dba")}
    da_prev = np.zeros((n_a, m), dtype=dx.dtype)
    for t in reversed(range(T_x)):
        step = rnn_cell_backward(da[:, :, t] + da_prev, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_prev = step["da_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": dx, "da0": da_prev, **grads}


# ----------------------------------------------------------------------------------- LSTM
def lstm_cell_forward(xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray,
                      parameters: dict) -> tuple:
    """One LSTM step: returns (a_next, c_next, yt_pred, cache), the course's cache
    (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters).

    >>> n_a, n_x = 2, 3
    >>> p = {f"W{g}": np.zeros((n_a, n_a + n_x)) for g in "fico"}
    >>> p.update({f"b{g}": np.zeros((n_a, 1)) for g in "fico"})
    >>> p.update(Wy=np.zeros((1, n_a)), by=np.zeros((1, 1)))
    >>> a, c, y, cache = lstm_cell_forward(np.ones((3, 4)), np.ones((2, 4)), np.ones((2, 4)), p)
    >>> c[0, 0], len(cache)
    (np.float64(0.5), 10)
    """
    concat = np.concatenate([a_prev, xt], axis=0)
    ft = sigmoid(parameters["Wf"] @ concat + parameters["bf"])
    it = sigmoid(parameters["Wi"] @ concat + parameters["bi"])
    cct = np.tanh(parameters["Wc"] @ concat + parameters["bc"])
    ot = sigmoid(parameters["Wo"] @ concat + parameters["bo"])
    c_next = ft * c_prev + it * cct
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(parameters["Wy"] @ a_next + parameters["by"])
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


def lstm_forward(x: np.ndarray, a0: np.ndarray, parameters: dict,
                 c0: np.ndarray | None = None) -> tuple:
    """The LSTM over T_x steps: returns (a, y, c, caches), caches = (list of cell caches, x).

    The course starts from c0 = 0; ``c0`` may be given (PyTorch's initial cell state).
    """
    n_y, n_a = parameters["Wy"].shape
    n_x = parameters["Wf"].shape[1] - n_a
    _check_sequence("lstm_forward", x, a0, n_a, n_x)
    _, m, T_x = x.shape
    dtype = np.result_type(x, a0, parameters["Wf"])
    a = np.zeros((n_a, m, T_x), dtype=dtype)
    c = np.zeros((n_a, m, T_x), dtype=dtype)
    y = np.zeros((n_y, m, T_x), dtype=dtype)
    a_next = a0
    c_next = np.zeros((n_a, m), dtype=dtype) if c0 is None else c0
    cell_caches = []
    for t in range(T_x):
        a_next, c_next, y[:, :, t], cache = lstm_cell_forward(x[:, :, t], a_next, c_next,
                                                              parameters)
        a[:, :, t], c[:, :, t] = a_next, c_next
        cell_caches.append(cache)
    return a, y, c, (cell_caches, x)


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple) -> dict:
    """One LSTM step backward from da_next = dL/da<t> and dc_next = dL/dc<t> (from step t+1).

    With tc = tanh(c_next), the cell state's total gradient is
    dc = dc_next + da_next * o * (1 - tc^2); the gates' pre-activation gradients are
    dot = da_next * tc * o(1-o), dcct = dc * i * (1-cc^2), dit = dc * cc * i(1-i),
    dft = dc * c_prev * f(1-f); then dW_g = d_g concat^T, db_g = sum_m d_g,
    [da_prev; dxt] = sum_g W_g^T d_g and dc_prev = dc * f.
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
    n_a = a_next.shape[0]
    tc = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1.0 - tc * tc)
    gate_grads = {
        "f": dc * c_prev * ft * (1.0 - ft),
        "i": dc * cct * it * (1.0 - it),
        "c": dc * it * (1.0 - cct * cct),
        "o": da_next * tc * ot * (1.0 - ot),
    }
    concat = np.concatenate([a_prev, xt], axis=0)
    gradients = {}
    dconcat = 0.0
    for g in LSTM_GATES:
        d = gate_grads[g]
        gradients[f"dW{g}"] = d @ concat.T
        gradients[f"db{g}"] = d.sum(axis=1, keepdims=True)
        dconcat = dconcat + parameters[f"W{g}"].T @ d
    gradients["da_prev"] = dconcat[:n_a]
    gradients["dc_prev"] = dc * ft
    gradients["dxt"] = dconcat[n_a:]
    return gradients


def lstm_backward(da: np.ndarray, caches: tuple) -> dict:
    """Backprop through time for the LSTM: dx, da0, dc0, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo.

    Step t gets ``da[:, :, t] + da_prev`` and ``dc_prev`` from step t + 1 (see the module's
    NOTE: the right gradient, not the published figures that drop both).
    """
    cell_caches, x = caches
    parameters = cell_caches[0][9]
    n_a, m, T_x = da.shape
    dtype = np.result_type(x, da)
    dx = np.zeros(x.shape, dtype=dtype)
    grads = {f"{d}{g}": np.zeros(parameters[f"{d[1]}{g}"].shape, dtype=dtype)
             for g in LSTM_GATES for d in ("dW", "db")}
    da_prev = np.zeros((n_a, m), dtype=dtype)
    dc_prev = np.zeros((n_a, m), dtype=dtype)
    for t in reversed(range(T_x)):
        step = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, cell_caches[t])
        dx[:, :, t] = step["dxt"]
        da_prev, dc_prev = step["da_prev"], step["dc_prev"]
        for name in grads:
            grads[name] += step[name]
    return {"dx": dx, "da0": da_prev, "dc0": dc_prev, **grads}


# ------------------------------------------------------------------------ clipping, layout
def clip(gradients: dict, maxValue: float) -> dict:  # noqa: N803 (the course's name)
    """The course's clip ("Dinosaur Island"): every gradient array to [-maxValue, maxValue],
    element-wise and in place; returns the same dict. (nn.utils.clip_grad_value_ is this for
    parameters; clip_grad_norm_ rescales by the total norm instead.)

    >>> g = {"dWaa": np.array([-10.0, 0.5, 7.0])}
    >>> clip(g, 5)["dWaa"].tolist()
    [-5.0, 0.5, 5.0]
    """
    if not maxValue > 0:
        raise ValueError(f"clip: maxValue must be positive, got {maxValue!r}")
    for gradient in gradients.values():
        np.clip(gradient, -maxValue, maxValue, out=gradient)
    return gradients


def to_torch_rnn(parameters: dict) -> dict:
    """The course's RNN weights under PyTorch's nn.RNN names (bias_hh is zero: one bias, ba).

    >>> p = {"Wax": np.ones((2, 3)), "Waa": np.eye(2), "ba": np.ones((2, 1))}
    >>> {k: v.shape for k, v in to_torch_rnn(p).items()}
    {'weight_ih_l0': (2, 3), 'weight_hh_l0': (2, 2), 'bias_ih_l0': (2,), 'bias_hh_l0': (2,)}
    """
    ba = parameters["ba"].reshape(-1)
    return {"weight_ih_l0": parameters["Wax"], "weight_hh_l0": parameters["Waa"],
            "bias_ih_l0": ba, "bias_hh_l0": np.zeros_like(ba)}


def to_torch_lstm(parameters: dict) -> dict:
    """The course's LSTM weights under PyTorch's nn.LSTM names: each gate's W on [a_prev; x]
    splits into its a_prev columns (weight_hh) and x columns (weight_ih), stacked in PyTorch's
    gate order i, f, g, o; bias_ih holds the course's biases and bias_hh is zero.

    >>> p = {f"W{g}": np.ones((2, 5)) for g in "fico"}
    >>> p.update({f"b{g}": np.ones((2, 1)) for g in "fico"})
    >>> {k: v.shape for k, v in to_torch_lstm(p).items()}
    {'weight_ih_l0': (8, 3), 'weight_hh_l0': (8, 2), 'bias_ih_l0': (8,), 'bias_hh_l0': (8,)}
    """
    n_a = parameters["bf"].shape[0]
    weights = [parameters[f"W{g}"] for g in TORCH_GATE_ORDER]
    bias = np.concatenate([parameters[f"b{g}"].reshape(-1) for g in TORCH_GATE_ORDER])
    return {"weight_ih_l0": np.concatenate([W[:, n_a:] for W in weights]),
            "weight_hh_l0": np.concatenate([W[:, :n_a] for W in weights]),
            "bias_ih_l0": bias, "bias_hh_l0": np.zeros_like(bias)}

"""The `lstm` workload of `tinygrad-c2 bench`: one LSTM layer's training step, five ways.

One step: h_t over T steps from zero states, the mean squared error of every h_t against a
fixed target, backward to the four parameters (PyTorch's weight_ih_l0, weight_hh_l0,
bias_ih_l0, bias_hh_l0; gates i, f, g, o), and the optimizer's update. The implementations
follow implementation.py's contract, timed by timing.py's method (agreement first):
- ``reference``: the hand-derived step in numpy, vectorized (`lstm_step`): the input part of
  all four gates for all T steps in one GEMM, then per time step one GEMM h W_hh^T for the
  four gates and the element-wise gate maths; backward per step one GEMM for dh, then the
  weight gradients as two GEMMs over all steps. No autograd. (tg.reference.lstm_forward is
  the course's per-gate form of the same maths, tested equal to this in tests/test_bench_lstm.py.)
- ``torch``: torch.nn.LSTM, eager, on the CPU; ``tinygrad_c2``: nn.LSTM eager;
  ``tinygrad_c2_captured``: the same step through tg.capture;
- ``gemm_floor``: only the step's matrix products, into preallocated outputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinygrad_c2 import reference

from .implementation import (
    IMPLEMENTATIONS,
    LEARNING_RATES,
    Implementation,
    assemble,
    cast,
    check_optimizer,
    load,
)

__all__ = ["LSTMWorkload", "build_implementations", "lstm_step"]

PARAMETERS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


@dataclass(frozen=True)
class LSTMWorkload:
    """One LSTM layer's training step: T steps of a (batch, input_size) input, hidden_size
    units, MSE of every h_t against a target."""

    name: str
    input_size: int
    hidden_size: int
    steps: int
    batch: int

    @property
    def gemm_flops(self) -> int:
        """FLOPs of the matrix products: X W_ih^T (all steps at once), h W_hh^T per step, back
        dh = dA W_hh per step, dW_ih = dA^T X, dW_hh = dA^T h.

        >>> LSTMWorkload("lstm", input_size=64, hidden_size=128, steps=32, batch=32).gemm_flops
        536870912
        """
        rows, gates = self.steps * self.batch, 4 * self.hidden_size
        return 2 * rows * gates * (2 * self.input_size + 3 * self.hidden_size)


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """sigma(a) = (1 + tanh(a / 2)) / 2 in place: exact, never overflows, no exp."""
    # NOTE: nn/functional/recurrent.py uses the same identity; the baseline keeps its own copy
    # so that it shares no code with the implementation it checks.
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def lstm_step(X: np.ndarray, Y: np.ndarray, params: dict[str, np.ndarray]
              ) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of the bench step, derived by hand: returns (J, {"d" + name: grad}).

    Forward (zero initial states): A_t = X_t W_ih^T + h_{t-1} W_hh^T + b_ih + b_hh, split
    into i, f, g, o = sig, sig, tanh, sig; c_t = f c_{t-1} + i g; h_t = o tanh(c_t);
    J = mean((h - Y)^2). Backward from dh_t = 2 (h_t - Y_t) / N + dh_{t+1}:
    dc = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c_t)^2); dA = [dc g i(1-i), dc c_{t-1} f(1-f),
    dc i (1-g^2), dh_t tanh(c_t) o(1-o)]; dh_{t-1} = dA W_hh; then dW_ih = sum_t dA_t^T X_t,
    dW_hh = sum_t dA_t^T h_{t-1}, db_ih = db_hh = sum_t dA_t.

    >>> rng = np.random.default_rng(0)
    >>> p = dict(zip(PARAMETERS, [rng.standard_normal(s) for s in [(8, 3), (8, 2), 8, 8]]))
    >>> J, grads = lstm_step(rng.standard_normal((4, 5, 3)), np.zeros((4, 5, 2)), p)
    >>> J > 0, sorted(g.shape for g in grads.values())
    (True, [(8,), (8,), (8, 2), (8, 3)])
    """
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    T, B, n_in = X.shape
    H = W_hh.shape[1]
    X2 = X.reshape(T * B, n_in)
    # one GEMM for the input part of all four gates at every step; becomes the activations
    acts = (X2 @ W_ih.T).reshape(T, B, 4 * H)
    acts += params["bias_ih_l0"] + params["bias_hh_l0"]
    hs = np.zeros((T + 1, B, H), dtype=X.dtype)  # hs[t + 1] = h_t; hs[0] = h0 = 0
    cs = np.zeros((T + 1, B, H), dtype=X.dtype)
    tanh_cs = np.empty((T, B, H), dtype=X.dtype)
    W_hh_T = W_hh.T
    g_part = np.empty((B, H), dtype=X.dtype)
    for t in range(T):
        a = acts[t]
        a += hs[t] @ W_hh_T  # one GEMM per time step for the four gates
        np.tanh(a[:, 2 * H:3 * H], out=g_part)
        _sigmoid_(a)  # all four columns blocks, then g's tanh put back: fewer numpy calls
        a[:, 2 * H:3 * H] = g_part
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=g_part)
        cs[t + 1] += g_part
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])
    diff = hs[1:] - Y
    J = float(np.mean(diff * diff))

    dH = diff
    dH *= 2.0 / diff.size
    dA = np.empty_like(acts)
    dh = np.zeros((B, H), dtype=X.dtype)
    dc = np.zeros((B, H), dtype=X.dtype)
    local = np.empty((B, 4 * H), dtype=X.dtype)  # the gates' local derivatives at step t
    through_c = np.empty((B, H), dtype=X.dtype)
    for t in reversed(range(T)):
        s, d = acts[t], dA[t]
        i, f, g, o = s[:, :H], s[:, H:2 * H], s[:, 2 * H:3 * H], s[:, 3 * H:]
        dh += dH[t]
        tc = tanh_cs[t]
        np.multiply(tc, tc, out=through_c)  # dc += dh o (1 - tanh(c)^2)
        np.subtract(1.0, through_c, out=through_c)
        through_c *= dh
        through_c *= o
        dc += through_c
        # sigma' = s (1 - s) for i, f, o and tanh' = 1 - g^2 for g, then the four gates'
        # gradients (dc g, dc c_prev, dc i, dh tanh(c)) times them in one pass
        np.subtract(1.0, s, out=local)
        local *= s
        np.multiply(g, g, out=local[:, 2 * H:3 * H])
        np.subtract(1.0, local[:, 2 * H:3 * H], out=local[:, 2 * H:3 * H])
        np.multiply(dc, g, out=d[:, :H])
        np.multiply(dc, cs[t], out=d[:, H:2 * H])
        np.multiply(dc, i, out=d[:, 2 * H:3 * H])
        np.multiply(dh, tc, out=d[:, 3 * H:])
        d *= local
        dh = d @ W_hh  # one GEMM per step back to h_{t-1}
        dc *= f
    dA2 = dA.reshape(T * B, 4 * H)
    db = dA2.sum(axis=0)
    return J, {"dweight_ih_l0": dA2.T @ X2,
               "dweight_hh_l0": dA2.T @ hs[:-1].reshape(T * B, H),
               "dbias_ih_l0": db, "dbias_hh_l0": db.copy()}


def _initial(workload: LSTMWorkload, dtype: np.dtype, seed: int):
    """PyTorch's LSTM init U(-1/sqrt(H), 1/sqrt(H)), an input batch and a target in (-0.5, 0.5)."""
    rng = np.random.default_rng(seed)
    n_in, H, T, B = workload.input_size, workload.hidden_size, workload.steps, workload.batch
    bound = 1.0 / np.sqrt(H)
    shapes = {"weight_ih_l0": (4 * H, n_in), "weight_hh_l0": (4 * H, H),
              "bias_ih_l0": (4 * H,), "bias_hh_l0": (4 * H,)}
    params = {name: rng.uniform(-bound, bound, shape).astype(dtype)
              for name, shape in shapes.items()}
    X = rng.standard_normal((T, B, n_in)).astype(dtype)
    Y = rng.uniform(-0.5, 0.5, (T, B, H)).astype(dtype)
    return params, X, Y


class HandLSTMStep(Implementation):
    """The hand-derived numpy step (`lstm_step`) and tg.reference's update rules."""

    name = "reference"

    def __init__(self, initial: dict, X, Y, optimizer: str, lr: float):
        self.initial, self.X, self.Y = initial, X, Y
        self.params = {k: v.copy() for k, v in initial.items()}
        self.optimizer_name, self.lr = optimizer, lr
        self.reset()

    def step(self) -> None:
        _, grads = lstm_step(self.X, self.Y, self.params)
        self.optimizer.step(self.params, grads)

    def agree(self, seed):
        J, grads = lstm_step(self.X, self.Y, self.params)
        self.optimizer.step(self.params, grads)
        return J, [grads["d" + name].copy() for name in PARAMETERS], \
            [self.params[name].copy() for name in PARAMETERS]

    def reset(self) -> None:
        for name, p in self.params.items():
            np.copyto(p, self.initial[name])
        self.optimizer = (reference.GD(self.lr) if self.optimizer_name == "sgd"
                          else reference.Adam(self.lr))

    def baseline(self) -> list:
        return [self.initial, self.X, self.Y, self.params]


class LSTMGemmFloor(Implementation):
    """Only the step's matrix products (forward, dh, dW_ih, dW_hh), into preallocated outputs."""

    name = "gemm_floor"
    checks_agreement = False

    def __init__(self, workload: LSTMWorkload, dtype: np.dtype):
        rng = np.random.default_rng(0)
        n_in, H, T, B = workload.input_size, workload.hidden_size, workload.steps, workload.batch

        def rand(*shape):
            return rng.standard_normal(shape).astype(dtype)

        self.X2, self.W_ih, self.W_hh = rand(T * B, n_in), rand(4 * H, n_in), rand(4 * H, H)
        self.hs, self.A = rand(T * B, H), rand(T, B, 4 * H)
        self.step_out, self.dh = np.empty((B, 4 * H), dtype), np.empty((B, H), dtype)
        self.G = np.empty((T * B, 4 * H), dtype)
        self.dW_ih, self.dW_hh = np.empty_like(self.W_ih), np.empty_like(self.W_hh)
        self.T, self.B = T, B

    def step(self) -> None:
        np.matmul(self.X2, self.W_ih.T, out=self.G)
        W_hh_T, B = self.W_hh.T, self.B
        for t in range(self.T):
            np.matmul(self.hs[t * B:(t + 1) * B], W_hh_T, out=self.step_out)
        for t in range(self.T):
            np.matmul(self.A[t], self.W_hh, out=self.dh)
        A2 = self.A.reshape(self.T * B, -1)
        np.matmul(A2.T, self.X2, out=self.dW_ih)
        np.matmul(A2.T, self.hs, out=self.dW_hh)


def build_implementations(
    workload: LSTMWorkload,
    dtype="float32",
    implementations: Sequence[str] = IMPLEMENTATIONS,
    optimizer: str = "sgd",
    seed: int = 0,
) -> tuple[list[Implementation], dict[str, str]]:
    """Every available implementation of the LSTM step from the same weights and batch;
    returns (implementations, {skipped name: why}), the hand-derived reference first."""
    check_optimizer(optimizer)
    dtype = np.dtype(dtype)
    lr = LEARNING_RATES[optimizer]
    initial, X, Y = _initial(workload, dtype, seed)

    def make_model(lib):
        model = cast(lib.nn.LSTM(workload.input_size, workload.hidden_size), dtype)
        load(model, [initial[name] for name in PARAMETERS])  # nn.LSTM's parameter order
        return model

    own = {"reference": lambda: HandLSTMStep(initial, X, Y, optimizer, lr),
           "gemm_floor": lambda: LSTMGemmFloor(workload, dtype)}
    return assemble(implementations, own, make_model, X, Y, "mse_loss", optimizer, lr)

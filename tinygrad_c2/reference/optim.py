"""The course's parameter-update rules on dicts of numpy arrays, updated in place.

Each optimizer's ``step(parameters, grads)`` takes the course's dicts (``parameters["W1"]``,
``grads["dW1"]``) and keeps its state (``v``, ``s``, ``t``) under the parameter's name, the
way the course's ``initialize_velocity``/``initialize_adam`` do (lazily, on the first step).
The maths is the correct one (PyTorch's and the papers'): the course notes' slips (bias
correction without ``^t``, RMSprop/Adam without the square root) are fixed and noted below.
"""

from __future__ import annotations

import math

import numpy as np


def _check_lr(name: str, lr: float) -> None:
    if not lr >= 0.0:
        raise ValueError(f"{name}: learning rate must be >= 0, got {lr}")


def _check_beta(name: str, which: str, beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"{name}: {which} must be in [0, 1), got {beta}")


class GD:
    """Gradient descent: W -= lr * dW.

    >>> W = {"W1": np.ones(2)}; GD(lr=0.5).step(W, {"dW1": np.ones(2)}); W["W1"].tolist()
    [0.5, 0.5]
    """

    def __init__(self, lr: float) -> None:
        _check_lr("GD", lr)
        self.lr = lr

    def step(self, parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for name, p in parameters.items():
            p -= self.lr * grads["d" + name]


class Momentum:
    """The course's momentum: v = beta v + (1 - beta) dW; W -= lr * v  (v starts at 0).

    Not PyTorch's ``SGD(momentum=beta)`` (buf = beta buf + g, first buf = g): the two are
    equal when PyTorch's learning rate is ``lr * (1 - beta)`` (v = (1 - beta) buf at every
    step). ``SGD(momentum=beta, dampening=beta)`` is NOT the same: PyTorch's first step
    skips the dampening.

    >>> W = {"W1": np.ones(1)}; Momentum(lr=1.0, beta=0.9).step(W, {"dW1": np.ones(1)})
    >>> W["W1"].round(6).tolist()
    [0.9]
    """

    def __init__(self, lr: float, beta: float = 0.9) -> None:
        _check_lr("Momentum", lr)
        _check_beta("Momentum", "beta", beta)
        self.lr, self.beta = lr, beta
        self.v: dict[str, np.ndarray] = {}

    def step(self, parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for name, p in parameters.items():
            g = grads["d" + name]
            v = self.v.get(name)
            if v is None:
                v = self.v[name] = np.zeros_like(p)
            v *= self.beta
            v += (1.0 - self.beta) * g
            p -= self.lr * v


class RMSprop:
    """RMSprop (PyTorch's form): s = alpha s + (1 - alpha) dW^2; W -= lr * dW / (sqrt(s) + eps).

    The course writes alpha as beta (or beta2); its notes drop the square root: it belongs.

    >>> W = {"W1": np.ones(1)}; RMSprop(lr=0.1, alpha=0.0).step(W, {"dW1": np.full(1, 4.0)})
    >>> W["W1"].round(6).tolist()
    [0.9]
    """

    def __init__(self, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8) -> None:
        _check_lr("RMSprop", lr)
        _check_beta("RMSprop", "alpha", alpha)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.s: dict[str, np.ndarray] = {}

    def step(self, parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for name, p in parameters.items():
            g = grads["d" + name]
            s = self.s.get(name)
            if s is None:
                s = self.s[name] = np.zeros_like(p)
            s *= self.alpha
            s += (1.0 - self.alpha) * (g * g)
            denom = np.sqrt(s)
            denom += self.eps
            update = g / denom
            update *= self.lr
            p -= update


class Adam:
    """Adam: v = b1 v + (1-b1) dW; s = b2 s + (1-b2) dW^2; W -= lr * v_hat / (sqrt(s_hat) + eps).

    Bias corrections divide by ``1 - b^t`` (t = step count from 1; the course notes miss the
    ``^t``). As in PyTorch, eps is added outside the square root of the corrected ``s``:
    ``denom = sqrt(s) / sqrt(1 - b2^t) + eps`` and ``W -= lr / (1 - b1^t) * v / denom``.

    >>> W = {"W1": np.ones(1)}; Adam(lr=0.1).step(W, {"dW1": np.full(1, 3.0)})
    >>> W["W1"].round(6).tolist()
    [0.9]
    """

    def __init__(
        self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        _check_lr("Adam", lr)
        _check_beta("Adam", "beta1", beta1)
        _check_beta("Adam", "beta2", beta2)
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.v: dict[str, np.ndarray] = {}
        self.s: dict[str, np.ndarray] = {}

    def step(self, parameters: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1.0 - b1**self.t)
        sqrt_correction2 = math.sqrt(1.0 - b2**self.t)
        for name, p in parameters.items():
            g = grads["d" + name]
            v = self.v.get(name)
            if v is None:
                v = self.v[name] = np.zeros_like(p)
                self.s[name] = np.zeros_like(p)
            s = self.s[name]
            v *= b1
            v += (1.0 - b1) * g
            s *= b2
            s += (1.0 - b2) * (g * g)
            denom = np.sqrt(s)
            denom /= sqrt_correction2
            denom += self.eps
            update = v / denom
            update *= step_size
            p -= update

"""EWA: the course's exponentially weighted average of a stream of numbers or arrays."""

from __future__ import annotations

from typing import Any

import numpy as np


class EWA:
    """Exponentially weighted average: v_t = beta*v_{t-1} + (1-beta)*theta_t, v_0 = 0.

    It averages roughly the last 1/(1-beta) values. Because v_0 = 0 the first averages are
    pulled towards 0; with `bias_correction=True` (default) `value` is v_t / (1 - beta^t),
    which removes that pull exactly. The raw average is `raw`; only the output is corrected,
    v itself stays raw (dividing v in place each step, as one course note writes, compounds).
    It works on Python numbers (`value` is a float) and on numpy arrays of one fixed shape
    (`value` is a new array).
    Momentum (v), RMSprop and Adam (m, v) and batch norm's running statistics are averages of
    this kind; the optimizers inline the formula in PyTorch's order of operations for speed.

    >>> avg = EWA(beta=0.5)
    >>> avg.update(10.0), avg.raw        # raw 0.5*10 = 5, corrected 5 / (1 - 0.5)
    (10.0, 5.0)
    >>> avg.update(16.0), avg.raw        # raw 0.5*5 + 0.5*16 = 10.5, corrected 10.5 / 0.75
    (14.0, 10.5)
    """

    def __init__(self, beta: float = 0.9, bias_correction: bool = True) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EWA: invalid beta {beta!r} (expected 0 <= beta < 1)")
        self.beta = float(beta)
        self.bias_correction = bool(bias_correction)
        self.reset()

    def reset(self) -> None:
        """Forget every value seen: v = 0, t = 0."""
        self.t = 0
        self._v: Any = 0.0

    def update(self, theta: Any) -> Any:
        """Fold in the next value and return the (corrected) average."""
        if isinstance(theta, (int, float, np.number)) and not isinstance(theta, bool):
            if isinstance(self._v, np.ndarray):
                raise ValueError(
                    f"EWA.update: got a scalar after arrays of shape {self._v.shape}"
                )
            self._v = self.beta * self._v + (1.0 - self.beta) * float(theta)
        else:
            theta = np.asarray(theta)
            if theta.dtype.kind not in "iuf":
                raise TypeError(f"EWA.update: expected numbers, got dtype {theta.dtype}")
            if self.t == 0 or not isinstance(self._v, np.ndarray):
                if self.t > 0:
                    raise ValueError(f"EWA.update: got shape {theta.shape} after scalars")
                dtype = theta.dtype if theta.dtype.kind == "f" else np.float64
                self._v = np.zeros(theta.shape, dtype=dtype)
            if theta.shape != self._v.shape:
                raise ValueError(
                    f"EWA.update: got shape {theta.shape}, the average has shape {self._v.shape}"
                )
            self._v *= self.beta
            self._v += (1.0 - self.beta) * theta
        self.t += 1
        return self.value

    @property
    def raw(self) -> Any:
        """v_t without bias correction (a copy for arrays)."""
        return self._v.copy() if isinstance(self._v, np.ndarray) else self._v

    @property
    def value(self) -> Any:
        """The average: v_t / (1 - beta^t) with bias correction, else v_t."""
        if self.t == 0:
            raise RuntimeError("EWA.value: no values averaged yet; call update() first")
        if not self.bias_correction:
            return self.raw
        return self._v / (1.0 - self.beta**self.t)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the average (checkpoint with tg.save)."""
        return {"beta": self.beta, "bias_correction": self.bias_correction, "t": self.t,
                "v": self.raw}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict()`."""
        beta = state["beta"]
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EWA.load_state_dict: invalid beta {beta!r} (expected 0 <= beta < 1)")
        self.beta, self.bias_correction = float(beta), bool(state["bias_correction"])
        self.t = int(state["t"])
        v = state["v"]
        self._v = np.array(v) if isinstance(v, np.ndarray) else float(v)

    def __repr__(self) -> str:
        return f"EWA(beta={self.beta}, bias_correction={self.bias_correction}, t={self.t})"

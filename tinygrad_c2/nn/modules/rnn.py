"""Recurrent layers: RNN, LSTM, GRU and their cells (PyTorch's names, shapes, gate order, init)."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ...function import OpError
from ...tensor import Tensor, cat, stack, zeros
from .. import functional as F
from .. import init
from ..functional import recurrent as R
from ..parameter import Parameter
from .module import Module
from .utils import _check_device, _check_input, _float_dtype

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_size(value: Any, layer: str, name: str, positive: bool = True) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: {name} should be of type int, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{layer}: {name} must be greater than zero, got {value}")
    return int(value)


def _nonlinearity_mode(nonlinearity: Any) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class RNNBase(Module):
    """The multi-layer recurrent layer behind RNN, LSTM and GRU (PyTorch's RNNBase).

    Parameters per layer k and direction, in PyTorch's order (a torch state_dict loads):
    `weight_ih_l{k}` (gates * hidden, input of the layer), `weight_hh_l{k}` (gates * hidden,
    hidden), `bias_ih_l{k}`, `bias_hh_l{k}`, then the same with `_reverse` when bidirectional;
    all drawn from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). Layer k > 0 reads the
    outputs of layer k - 1 (both directions concatenated), after dropout in training mode.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        _check_device(device, name)
        input_size = _check_size(input_size, name, "input_size", positive=False)
        hidden_size = _check_size(hidden_size, name, "hidden_size")
        num_layers = _check_size(num_layers, name, "num_layers")
        if (isinstance(dropout, bool) or not isinstance(dropout, numbers.Number)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size={proj_size} (LSTM with projections) "
                                      "is not implemented; use proj_size=0")
        dtype = _float_dtype(dtype, name)
        self.mode, self._name = mode, name
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bool(bidirectional), 0
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        self._all_weights: list[list[str]] = []  # parameter names per layer and direction
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.bias else [])
                self._all_weights.append([f"{n}_l{layer}{suffix}" for n in names])
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        Parameter(np.empty((gates, layer_input), dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        Parameter(np.empty((gates, hidden_size), dtype)))
                if self.bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}",
                                            Parameter(np.empty(gates, dtype)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}",
                                            Parameter(np.empty(gates, dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch's)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters per layer and direction, in PyTorch's order."""
        return [[self._parameters[name] for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN weight packing: nothing to do on numpy (kept for ported code)."""

    def _weights(self, layer: int, suffix: str) -> tuple:
        # NOTE: read from the registry at each call, so a replaced parameter is used
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{suffix}"), get(f"weight_hh_l{layer}{suffix}"),
                get(f"bias_ih_l{layer}{suffix}"), get(f"bias_hh_l{layer}{suffix}"))

    def _check_sequence(self, x: Any) -> bool:
        """The input's layout; returns whether it is batched (3-D)."""
        _check_input(x, self._name)
        if x.ndim not in (2, 3):
            raise OpError(f"{self._name}: Expected input to be 2D or 3D, got {x.ndim}D instead "
                          f"(input shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise OpError(f"{self!r}: input.size(-1) must be equal to input_size. Expected "
                          f"{self.input_size}, got {x.shape[-1]} (input shape {x.shape}; "
                          f"expected {self._layout()})")
        if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
            raise OpError(f"{self._name}: Expected sequence length to be larger than 0 in RNN "
                          f"(input shape {x.shape})")
        return x.ndim == 3

    def _layout(self) -> str:
        i = self.input_size
        if self.batch_first:
            return f"(batch, seq, {i}) with batch_first=True, or unbatched (seq, {i})"
        return f"(seq, batch, {i}), or unbatched (seq, {i})"

    def _check_state(self, h: Any, x: Tensor, batched: bool, what: str) -> Tensor:
        """An initial state as (layers * directions, batch, hidden), with the message PyTorch
        gives and, when the shapes point to it, the batch_first mix-up spelled out."""
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._name}: expected {what} to be a Tensor, got "
                            f"{type(h).__name__}")
        if h.ndim != (3 if batched else 2):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise OpError(f"{self._name}: For {kind} input, {what} should also be "
                          f"{3 if batched else 2}-D but got {h.ndim}-D tensor (shape {h.shape})")
        if h.dtype != x.dtype:
            raise OpError(f"{self._name}: {what} is {h.dtype} but the input is {x.dtype}; "
                          "convert one of them")
        states = self.num_layers * (2 if self.bidirectional else 1)
        if not batched:
            expected: tuple = (states, self.hidden_size)
            if h.shape != expected:
                raise OpError(f"{self!r}: Expected {what} size {expected}, got {h.shape}")
            return h.unsqueeze(1)
        batch = x.shape[0 if self.batch_first else 1]
        expected = (states, batch, self.hidden_size)
        if h.shape != expected:
            msg = f"{self!r}: Expected {what} size {expected}, got {h.shape}"
            other = x.shape[1 if self.batch_first else 0]
            if h.shape == (states, other, self.hidden_size):
                layout = "(seq, batch, feature)" if self.batch_first else "(batch, seq, feature)"
                msg += (f"; the state fits input of shape {x.shape} read the other way: is the "
                        f"input {layout}? then pass batch_first={not self.batch_first}")
            elif h.shape == (batch, states, self.hidden_size):
                msg += ("; initial states stay (num_layers * num_directions, batch, hidden) even "
                        "with batch_first=True, as in PyTorch: pass h.transpose(0, 1)")
            raise OpError(msg)
        return h

    def _states(self, hx: Any, x: Tensor, batched: bool) -> list[Tensor | None]:
        """The initial states (h_0, or h_0 and c_0 for the LSTM) as 3-D tensors, or None."""
        names = ("hx", "cx") if self.mode == "LSTM" else ("hx",)
        if hx is None:
            return [None] * len(names)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: expected hx to be a tuple (h_0, c_0), got "
                                f"{type(hx).__name__}")
            return [self._check_state(h, x, batched, f"hidden[{k}]") for k, h in enumerate(hx)]
        return [self._check_state(hx, x, batched, "hidden")]

    def forward(self, input: Tensor, hx: Any = None) -> tuple:  # noqa: A002
        batched = self._check_sequence(input)
        x = input if batched else input.unsqueeze(1)
        batch_first = self.batch_first and batched
        batch = x.shape[0 if batch_first else 1]
        states = self._states(hx, x, batched)
        directions = 2 if self.bidirectional else 1
        last: list[list[Tensor]] = [[] for _ in states]  # h_n (and c_n), one per layer+direction
        for layer in range(self.num_layers):
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                init_states = [zeros(batch, self.hidden_size, dtype=x.dtype) if s is None
                               else s[k] for s in states]
                result = self._run(x, init_states, self._weights(layer, suffix), d == 1,
                                   batch_first)
                outs.append(result[0])
                for j, state in enumerate(result[1:]):
                    last[j].append(state)
            x = outs[0] if directions == 1 else cat(outs, dim=2)
            batch_first = False  # the layers' outputs are (T, B, H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        output = x.transpose(0, 1) if self.batch_first and batched else x
        # one layer and direction: a view, not a Stack node's copy
        finals = [s[0].unsqueeze(0) if len(s) == 1 else stack(s) for s in last]
        if not batched:
            output, finals = output.squeeze(1), [s.squeeze(1) for s in finals]
        if self.mode == "LSTM":
            return output, (finals[0], finals[1])
        return output, finals[0]

    def _run(self, x: Tensor, init_states: list[Tensor], weights: tuple, reverse: bool,
             batch_first: bool) -> tuple:
        w_ih, w_hh, b_ih, b_hh = weights
        if self.mode == "LSTM":
            return R.lstm_layer(x, init_states[0], init_states[1], w_ih, w_hh, b_ih, b_hh,
                                reverse, batch_first)
        if self.mode == "GRU":
            return R.gru_layer(x, init_states[0], w_ih, w_hh, b_ih, b_hh, reverse, batch_first)
        return R.rnn_layer(x, init_states[0], w_ih, w_hh, b_ih, b_hh, reverse,
                           "relu" if self.mode == "RNN_RELU" else "tanh", batch_first)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act tanh or relu.

    `forward(input, h_0=None)` returns (output, h_n): output (seq, batch, D * hidden) (batch
    first with batch_first=True), h_n (num_layers * D, batch, hidden) in every layout;
    unbatched (seq, input_size) input gives unbatched results.

    >>> import tinygrad_c2 as tg
    >>> rnn = RNN(3, 5, num_layers=2)
    >>> out, h = rnn(tg.randn(7, 2, 3))
    >>> out.shape, h.shape
    ((7, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(_nonlinearity_mode(nonlinearity), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order i, f, g, o in the rows of weight_ih / weight_hh:
    i, f, o = sigmoid(.), g = tanh(.), c_t = f c_{t-1} + i g, h_t = o tanh(c_t).

    `forward(input, (h_0, c_0)=None)` returns (output, (h_n, c_n)); shapes as in RNN.

    >>> import tinygrad_c2 as tg
    >>> lstm = LSTM(3, 5, batch_first=True, bidirectional=True)
    >>> out, (h, c) = lstm(tg.randn(2, 7, 3))
    >>> out.shape, h.shape, c.shape
    ((2, 7, 10), (2, 2, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)


class GRU(RNNBase):
    """GRU with PyTorch's gate order r, z, n: r, z = sigmoid(.), n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn)), h_t = (1 - z) n + z h_{t-1}.

    `forward(input, h_0=None)` returns (output, h_n); shapes as in RNN.

    >>> import tinygrad_c2 as tg
    >>> out, h = GRU(3, 5)(tg.randn(7, 3))   # unbatched
    >>> out.shape, h.shape
    ((7, 5), (1, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """One step of a recurrent layer: parameters weight_ih (gates * hidden, input),
    weight_hh (gates * hidden, hidden), bias_ih, bias_hh, all from U(-1/sqrt(hidden),
    1/sqrt(hidden)). Input (batch, input_size) or unbatched (input_size,)."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        _check_device(device, name)
        self.input_size = _check_size(input_size, name, "input_size", positive=False)
        self.hidden_size = _check_size(hidden_size, name, "hidden_size")
        self.bias = bool(bias)
        dtype = _float_dtype(dtype, name)
        gates = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((gates, self.input_size), dtype))
        self.weight_hh = Parameter(np.empty((gates, self.hidden_size), dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(gates, dtype))
            self.bias_hh = Parameter(np.empty(gates, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, x: Any, hx: Any) -> tuple[Tensor, list[Tensor], bool]:
        """(input as (1, batch, input_size), states as (batch, hidden), batched)."""
        name = type(self).__name__
        _check_input(x, name)
        if x.ndim not in (1, 2):
            raise OpError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead "
                          f"(input shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise OpError(f"{self!r}: input has inconsistent input_size: got {x.shape[-1]} "
                          f"expected {self.input_size} (input shape {x.shape}; expected "
                          f"(batch, {self.input_size}) or ({self.input_size},))")
        batched = x.ndim == 2
        x2 = x if batched else x.unsqueeze(0)
        count = 2 if self._gates == 4 else 1
        if hx is None:
            states = [zeros(x2.shape[0], self.hidden_size, dtype=x.dtype) for _ in range(count)]
        else:
            given = list(hx) if count == 2 else [hx]
            if count == 2 and len(given) != 2:
                raise TypeError(f"{name}: expected hx to be a tuple (h_0, c_0)")
            states = []
            for k, h in enumerate(given):
                what = f"hx[{k}]" if count == 2 else "hx"
                if not isinstance(h, Tensor):
                    raise TypeError(f"{name}: expected {what} to be a Tensor, got "
                                    f"{type(h).__name__}")
                expected = (x2.shape[0], self.hidden_size) if batched else (self.hidden_size,)
                if h.shape != expected:
                    raise OpError(f"{self!r}: Expected {what} size {expected}, got {h.shape} "
                                  f"(input shape {x.shape})")
                if h.dtype != x.dtype:
                    raise OpError(f"{name}: {what} is {h.dtype} but the input is {x.dtype}; "
                                  "convert one of them")
                states.append(h if batched else h.unsqueeze(0))
        return x2.unsqueeze(0), states, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu; returns h'.

    >>> import tinygrad_c2 as tg
    >>> RNNCell(3, 4)(tg.randn(2, 3)).shape
    (2, 4)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        _nonlinearity_mode(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._prepare(input, hx)
        _, h = R.rnn_layer(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                           nonlinearity=self.nonlinearity)
        return h if batched else h[0]


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o); returns (h', c').

    >>> import tinygrad_c2 as tg
    >>> h, c = LSTMCell(3, 4)(tg.randn(2, 3))
    >>> h.shape, c.shape
    ((2, 4), (2, 4))
    """

    _gates = 4

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, (h, c), batched = self._prepare(input, hx)
        _, h, c = R.lstm_layer(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                               self.bias_hh)
        return (h, c) if batched else (h[0], c[0])


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n, PyTorch's n with b_hn inside the reset product); returns h'.

    >>> import tinygrad_c2 as tg
    >>> GRUCell(3, 4)(tg.randn(3)).shape
    (4,)
    """

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, (h,), batched = self._prepare(input, hx)
        _, h = R.gru_layer(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h[0]

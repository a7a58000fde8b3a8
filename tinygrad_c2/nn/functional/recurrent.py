"""Recurrences of RNN, LSTM and GRU layers: one primitive a layer and direction, BPTT backward.

A layer first projects its whole input sequence in one GEMM, gx = x W_ih^T + b_ih (F.linear,
shape (T, B, gates * H)); the primitives below then run the recurrence over the T steps, one
small GEMM h W_hh^T a step, and their backward is back-propagation through time in closed form:
one GEMM a step for dh_prev, then dW_hh and db_hh for all steps at once (one large GEMM).

NOTE: one primitive for the whole sequence, not one node a step: the graph of a sequence is a
handful of nodes, the per-step Python is a few numpy calls, and the weight gradients are one
GEMM over T*B rows instead of T small ones. A cell (nn.LSTMCell) is the same primitive with
T = 1. The Function mechanism returns one array, so the LSTM returns h for every step with the
final cell state stacked after them; the layer splits them with views.
"""

from __future__ import annotations

import numpy as np

from ...function import Function, OpError
from ...tensor import Tensor, cat, stack
from .workspace import scratch


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) in place as 0.5 * tanh(a / 2) + 0.5: no overflow for large |a|, one ufunc."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _check(name: str, gx: np.ndarray, h0: np.ndarray, w_hh: np.ndarray, gates: int) -> None:
    """The shapes a recurrence needs (the layers check first, with their own messages)."""
    hidden = w_hh.shape[1] if w_hh.ndim == 2 else -1
    if gx.ndim != 3 or w_hh.shape != (gates * hidden, hidden) or gx.shape[2] != gates * hidden:
        raise OpError(f"{name}: expected gates_x (T, B, {gates} * H) and weight_hh "
                      f"({gates} * H, H), got {gx.shape} and {w_hh.shape}")
    if gx.shape[0] == 0:
        raise OpError(f"{name}: expected a sequence length larger than 0, got gates_x of shape "
                      f"{gx.shape}")
    if h0.shape != (gx.shape[1], hidden):
        raise OpError(f"{name}: expected an initial hidden state of shape "
                      f"{(gx.shape[1], hidden)}, got {h0.shape}")


def _steps(n: int, reverse: bool) -> range:
    return range(n - 1, -1, -1) if reverse else range(n)


def _previous(hs: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """The hidden state each step started from, (T, B, H), in time order."""
    if reverse:
        return np.concatenate([hs[1:], h0[None]])
    return np.concatenate([h0[None], hs[:-1]])


def _weight_grads(d: np.ndarray, hs: np.ndarray, h0: np.ndarray, reverse: bool,
                  needs_w: bool, needs_b: bool) -> tuple:
    """dW_hh = sum_t d_t^T h_{t-1} (one GEMM over all steps) and db_hh = sum_t d_t."""
    rows = d.reshape(-1, d.shape[-1])
    gw = rows.T @ _previous(hs, h0, reverse).reshape(-1, hs.shape[-1]) if needs_w else None
    gb = rows.sum(axis=0) if needs_b else None
    return gw, gb


class RNNRecurrence(Function):
    """h_t = act(gx_t + h_{t-1} W_hh^T + b_hh), act tanh or relu, for t = 1..T (or T..1)

    Returns (T, B, H), h for every step in time order. Backward: da_t = (g_t + dh_t) * act',
    dh_{t-1} = da_t W_hh, dgx = da, dW_hh = sum da_t^T h_{t-1}, db_hh = sum da_t.
    """

    @staticmethod
    def forward(ctx, gx, h0, w_hh, b_hh, reverse, nonlinearity):
        _check("rnn", gx, h0, w_hh, 1)
        a_all = gx + b_hh if b_hh is not None else gx
        hs = np.empty(gx.shape, dtype=np.result_type(gx, h0))
        w_t, h = np.ascontiguousarray(w_hh.T), h0
        relu = nonlinearity == "relu"
        for t in _steps(gx.shape[0], reverse):
            a = h @ w_t
            a += a_all[t]
            h = hs[t]
            if relu:
                np.maximum(a, 0, out=h)
            else:
                np.tanh(a, out=h)
        ctx.reverse, ctx.relu = reverse, relu
        # NOTE: gx and b_hh too (references, no copies), for backward_graph, which recomputes
        # the pre-activations as graph Tensors (tanh's derivative alone would not give them)
        ctx.save_for_backward(hs, h0, w_hh, gx, b_hh)
        return hs

    @staticmethod
    def backward(ctx, g):
        hs, h0, w_hh = ctx.saved_tensors[:3]
        # act' for every step at once (1 - h^2, or h > 0): the loop multiplies it in place
        da = (hs > 0).astype(hs.dtype) if ctx.relu else 1.0 - hs * hs
        dh = None
        for t in reversed(_steps(hs.shape[0], ctx.reverse)):
            da[t] *= g[t] if dh is None else g[t] + dh
            dh = da[t] @ w_hh
        needs = ctx.needs_input_grad
        gw, gb = _weight_grads(da, hs, h0, ctx.reverse, needs[2], needs[3])
        return da, dh, gw, gb, None, None

    @staticmethod
    def backward_graph(ctx, g):
        hs, h0, w_hh, gx, b_hh = ctx.saved_tensors
        gxt, h, w, b = _graph_inputs(ctx, gx, h0, w_hh, b_hh)
        steps = _steps(hs.shape[0], ctx.reverse)
        prev, states = {}, {}  # the forward again, as graph Tensors of the inputs
        for t in steps:
            a = h @ w.transpose(0, 1) + gxt[t]
            if b is not None:
                a = a + b
            prev[t] = h
            # relu as a product with its (constant) mask: the same values, and it is linear
            h = states[t] = a * (hs[t] > 0).astype(hs.dtype) if ctx.relu else a.tanh()
        da, dh = {}, None
        for t in reversed(steps):  # back-propagation through time, the backward's formulas
            d = g[t] if dh is None else g[t] + dh
            da[t] = d * (hs[t] > 0).astype(hs.dtype) if ctx.relu else d * (
                1.0 - states[t] * states[t])
            dh = da[t] @ w
        return (*_bptt_sums(ctx, da, prev, (2, 3), dh), None, None)


def _graph_inputs(ctx: Function, *saved: np.ndarray | None) -> list[Tensor | None]:
    """The forward inputs 0, 1, ... as graph Tensors around the arrays saved of them (None
    stays None: a layer without a bias)."""
    return [None if a is None else ctx.graph_input(i, a) for i, a in enumerate(saved)]


def _sigmoid(a: Tensor) -> Tensor:
    """sigmoid(a) = 0.5 tanh(a / 2) + 0.5, the forward's form, with Tensor ops."""
    return (a * 0.5).tanh() * 0.5 + 0.5


def _bptt_sums(ctx: Function, d: dict, prev: dict, weight_slots: tuple[int, int],
               dh0: Tensor) -> tuple:
    """The differentiable backward's results from the per-step pre-activation gradients d[t]
    and the hidden states each step started from, prev[t]: (dgx stacked in time order, dh0,
    dW_hh = sum_t d_t^T h_{t-1}, db_hh = sum_t d_t), None where no gradient is needed."""
    needs = ctx.needs_input_grad
    order = sorted(d)
    dgx = stack([d[t] for t in order])
    rows = dgx.reshape(-1, dgx.shape[-1])
    gw = gb = None
    if needs[weight_slots[0]]:
        h_prev = stack([prev[t] for t in order])
        gw = rows.transpose(0, 1) @ h_prev.reshape(-1, h_prev.shape[-1])
    if needs[weight_slots[1]]:
        gb = rows.sum(0)
    return (dgx if needs[0] else None), (dh0 if needs[1] else None), gw, gb


def _one_minus_times(a: np.ndarray, out: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """a (1 - a) into out, or 1 - a b: the gates' derivative factors without temporaries
    (the same roundings as the plain expressions)."""
    if b is None:
        np.subtract(1.0, a, out=out)
        return np.multiply(out, a, out=out)
    np.multiply(a, b, out=out)
    return np.subtract(1.0, out, out=out)


class LSTMRecurrence(Function):
    """i, f, g, o = sig, sig, tanh, sig of (gx_t + h W_hh^T + b_hh); c = f c + i g; h = o tanh(c)

    Returns (T + 1, B, H): h for every step in time order, then the final cell state. Backward,
    from the last step processed to the first: dh = g_t + dh_next, dc = dc_next + dh o (1 -
    tanh(c)^2), pre-activation grads di i(1-i) = dc g i(1-i), df f(1-f) = dc c_prev f(1-f),
    dg (1-g^2) = dc i (1-g^2), do o(1-o) = dh tanh(c) o(1-o); dh_prev = dG W_hh, dc_prev = dc f;
    dgx = dG, dW_hh = sum dG_t^T h_{t-1}, db_hh = sum dG_t.
    """

    @staticmethod
    def forward(ctx, gx, h0, c0, w_hh, b_hh, reverse):
        _check("lstm", gx, h0, w_hh, 4)
        if c0.shape != h0.shape:
            raise OpError(f"lstm: expected an initial cell state of shape {h0.shape}, got "
                          f"{c0.shape}")
        steps, batch, hidden = gx.shape[0], gx.shape[1], w_hh.shape[1]
        dtype = np.result_type(gx, h0, c0)
        # NOTE: sigmoid(a) = 0.5 tanh(a / 2) + 0.5, so one tanh serves all four gates: the
        # pre-activations of i, f, o are halved (exact: a power of two) by halving their rows
        # of W_hh and of gx + b_hh once, and after the tanh the sigmoid rows get * 0.5 + 0.5.
        g_gate = slice(2 * hidden, 3 * hidden)
        half = np.full(4 * hidden, 0.5, dtype=dtype)
        half[g_gate] = 1.0
        shift = np.full(4 * hidden, 0.5, dtype=dtype)
        shift[g_gate] = 0.0
        # a scratch buffer (workspace.py): a fresh 4H x T x B temporary faults in every step
        a_all = scratch("lstm.a_all", gx.shape, dtype)
        np.multiply(gx if b_hh is None else np.add(gx, b_hh, out=a_all), half, out=a_all)
        w_t = np.ascontiguousarray(w_hh.T) * half  # contiguous: twice the GEMM speed of .T
        out = np.empty((steps + 1, batch, hidden), dtype=dtype)
        acts = np.empty((steps, batch, 4 * hidden), dtype=dtype)  # i, f, g, o of every step
        cs = np.empty((steps, batch, hidden), dtype=dtype)
        tanh_cs = np.empty_like(cs)
        ig = np.empty((batch, hidden), dtype=dtype)
        h, c = h0, c0
        for t in _steps(steps, reverse):
            s = acts[t]
            np.matmul(h, w_t, out=s)
            s += a_all[t]
            np.tanh(s, out=s)
            s *= half
            s += shift
            np.multiply(s[:, hidden:2 * hidden], c, out=cs[t])  # c = f c_prev + i g
            np.multiply(s[:, :hidden], s[:, g_gate], out=ig)
            c = cs[t]
            c += ig
            np.tanh(c, out=tanh_cs[t])
            h = out[t]
            np.multiply(s[:, 3 * hidden:], tanh_cs[t], out=h)
        out[steps] = c
        ctx.reverse = reverse
        ctx.save_for_backward(acts, cs, tanh_cs, out, h0, c0, w_hh, gx, b_hh)  # gx: as the RNN's
        return out

    @staticmethod
    def backward(ctx, g):
        acts, cs, tanh_cs, out, h0, c0, w_hh = ctx.saved_tensors[:7]
        steps, batch, hidden = cs.shape
        reverse = ctx.reverse
        i, f, gg, o = (acts[..., :hidden], acts[..., hidden:2 * hidden],
                       acts[..., 2 * hidden:3 * hidden], acts[..., 3 * hidden:])
        # NOTE: everything but dh and dc is known for all steps at once: the factors that turn
        # dc (for i, f, g) and dh (for o) into pre-activation gradients are computed in four
        # vectorized passes, so the loop below is five small numpy calls and one GEMM a step.
        d_gates = np.empty_like(acts)
        tmp = scratch("lstm.backward", cs.shape, cs.dtype)  # the factors' temporaries
        np.multiply(gg, _one_minus_times(i, tmp), out=d_gates[..., :hidden])
        np.multiply(_previous(cs, c0, reverse), _one_minus_times(f, tmp),
                    out=d_gates[..., hidden:2 * hidden])
        np.multiply(i, _one_minus_times(gg, tmp, gg), out=d_gates[..., 2 * hidden:3 * hidden])
        np.multiply(tanh_cs, _one_minus_times(o, tmp), out=d_gates[..., 3 * hidden:])
        dc_dh = np.multiply(o, _one_minus_times(tanh_cs, tmp, tanh_cs), out=tmp)  # dc_t / dh_t
        dh, dc = None, g[steps].copy()
        for t in reversed(_steps(steps, reverse)):
            dh_t = g[t] if dh is None else g[t] + dh
            dc += dh_t * dc_dh[t]
            d = d_gates[t]
            d.reshape(batch, 4, hidden)[:, :3] *= dc[:, None]
            d[:, 3 * hidden:] *= dh_t
            dh = d @ w_hh
            dc *= f[t]
        needs = ctx.needs_input_grad
        gw, gb = _weight_grads(d_gates, out[:steps], h0, reverse, needs[3], needs[4])
        return d_gates, dh, dc, gw, gb, None

    @staticmethod
    def backward_graph(ctx, g):
        _, _, _, out, h0, c0, w_hh, gx, b_hh = ctx.saved_tensors
        gxt, h, c, w, b = _graph_inputs(ctx, gx, h0, c0, w_hh, b_hh)
        n = out.shape[0] - 1
        hidden = w_hh.shape[1]
        steps = _steps(n, ctx.reverse)
        prev, cells, gates = {}, {}, {}  # the forward again, as graph Tensors of the inputs
        for t in steps:
            a = h @ w.transpose(0, 1) + gxt[t]
            if b is not None:
                a = a + b
            i, f = _sigmoid(a[:, :hidden]), _sigmoid(a[:, hidden:2 * hidden])
            gg, o = a[:, 2 * hidden:3 * hidden].tanh(), _sigmoid(a[:, 3 * hidden:])
            prev[t] = (h, c)
            c = f * c + i * gg
            tc = c.tanh()
            h = o * tc
            cells[t], gates[t] = tc, (i, f, gg, o)
        dgates, dh, dc = {}, None, g[n]
        for t in reversed(steps):  # back-propagation through time, the backward's formulas
            i, f, gg, o = gates[t]
            dh_t = g[t] if dh is None else g[t] + dh
            dc = dc + dh_t * o * (1.0 - cells[t] * cells[t])
            dgates[t] = cat([dc * gg * i * (1.0 - i), dc * prev[t][1] * f * (1.0 - f),
                             dc * i * (1.0 - gg * gg), dh_t * cells[t] * o * (1.0 - o)], 1)
            dh = dgates[t] @ w
            dc = dc * f
        hidden_prev = {t: prev[t][0] for t in steps}
        d_gx, dh, gw, gb = _bptt_sums(ctx, dgates, hidden_prev, (3, 4), dh)
        return d_gx, dh, (dc if ctx.needs_input_grad[2] else None), gw, gb, None


class GRURecurrence(Function):
    """r, z = sig(gx_rz + gh_rz), n = tanh(gx_n + r * gh_n), h = (1 - z) n + z h_prev,
    with gh = h_prev W_hh^T + b_hh (PyTorch's GRU: b_hn inside the reset product)

    Returns (T, B, H). Backward: dn = dh (1-z), dz = dh (h_prev - n), da_n = dn (1-n^2),
    da_r = da_n gh_n r(1-r), da_z = dz z(1-z); dgx = [da_r, da_z, da_n], dgh = [da_r, da_z,
    r da_n]; dh_prev = dh z + dgh W_hh, dW_hh = sum dgh_t^T h_{t-1}, db_hh = sum dgh_t.
    """

    @staticmethod
    def forward(ctx, gx, h0, w_hh, b_hh, reverse):
        _check("gru", gx, h0, w_hh, 3)
        steps, hidden = gx.shape[0], w_hh.shape[1]
        dtype = np.result_type(gx, h0)
        hs = np.empty((steps, gx.shape[1], hidden), dtype=dtype)
        acts = np.empty(gx.shape, dtype=dtype)  # r, z, n of every step
        gh_ns = np.empty_like(hs)  # (h_prev W_hn^T + b_hn), which the reset gate multiplies
        w_t, h = np.ascontiguousarray(w_hh.T), h0
        for t in _steps(steps, reverse):
            gh = h @ w_t
            if b_hh is not None:
                gh += b_hh
            s = acts[t]
            np.add(gx[t, :, :2 * hidden], gh[:, :2 * hidden], out=s[:, :2 * hidden])
            _sigmoid_(s[:, :2 * hidden])
            r, z, n = s[:, :hidden], s[:, hidden:2 * hidden], s[:, 2 * hidden:]
            gh_ns[t] = gh[:, 2 * hidden:]
            np.multiply(r, gh_ns[t], out=n)
            n += gx[t, :, 2 * hidden:]
            np.tanh(n, out=n)
            h_new = hs[t]
            np.subtract(h, n, out=h_new)  # h = n + z (h_prev - n)
            h_new *= z
            h_new += n
            h = h_new
        ctx.reverse = reverse
        ctx.save_for_backward(acts, gh_ns, hs, h0, w_hh, gx, b_hh)  # gx: as the RNN's
        return hs

    @staticmethod
    def backward(ctx, g):
        acts, gh_ns, hs, h0, w_hh = ctx.saved_tensors[:5]
        steps, batch, hidden = hs.shape
        reverse = ctx.reverse
        r, z, n = acts[..., :hidden], acts[..., hidden:2 * hidden], acts[..., 2 * hidden:]
        # NOTE: as in the LSTM, what does not depend on dh is computed for all steps at once:
        # d_gx_t = dh_t * [a gh_n r(1-r), (h_prev - n) z(1-z), a] with a = (1-z)(1-n^2)
        d_gx = np.empty_like(acts)
        a = d_gx[..., 2 * hidden:]
        np.multiply(1.0 - z, 1.0 - n * n, out=a)
        np.multiply(a, gh_ns * (r * (1.0 - r)), out=d_gx[..., :hidden])
        np.multiply(_previous(hs, h0, reverse) - n, z * (1.0 - z), out=d_gx[..., hidden:2 * hidden])
        d_gh = np.empty_like(acts)
        dh = None
        for t in reversed(_steps(steps, reverse)):
            dh_t = g[t] if dh is None else g[t] + dh
            dx, dg = d_gx[t], d_gh[t]
            dx.reshape(batch, 3, hidden)[...] *= dh_t[:, None]
            dg[:, :2 * hidden] = dx[:, :2 * hidden]
            np.multiply(dx[:, 2 * hidden:], r[t], out=dg[:, 2 * hidden:])  # gh_n sits inside r *
            dh = dg @ w_hh
            dh += dh_t * z[t]
        needs = ctx.needs_input_grad
        gw, gb = _weight_grads(d_gh, hs, h0, reverse, needs[2], needs[3])
        return d_gx, dh, gw, gb, None

    @staticmethod
    def backward_graph(ctx, g):
        _, _, hs, h0, w_hh, gx, b_hh = ctx.saved_tensors
        gxt, h, w, b = _graph_inputs(ctx, gx, h0, w_hh, b_hh)
        hidden = w_hh.shape[1]
        rz, ngate = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        steps = _steps(hs.shape[0], ctx.reverse)
        prev, parts = {}, {}  # the forward again, as graph Tensors of the inputs
        for t in steps:
            gh = h @ w.transpose(0, 1)
            if b is not None:
                gh = gh + b
            s = _sigmoid(gxt[t][:, rz] + gh[:, rz])
            r, z = s[:, :hidden], s[:, hidden:]
            n = (gxt[t][:, ngate] + r * gh[:, ngate]).tanh()
            prev[t], parts[t] = h, (r, z, n, gh[:, ngate])
            h = (1.0 - z) * n + z * h
        d_gx, d_gh, dh = {}, {}, None
        for t in reversed(steps):  # back-propagation through time, the backward's formulas
            r, z, n, gh_n = parts[t]
            dh_t = g[t] if dh is None else g[t] + dh
            da_n = dh_t * (1.0 - z) * (1.0 - n * n)
            da_r = da_n * gh_n * r * (1.0 - r)
            da_z = dh_t * (prev[t] - n) * z * (1.0 - z)
            d_gx[t] = cat([da_r, da_z, da_n], 1)
            d_gh[t] = cat([da_r, da_z, r * da_n], 1)
            dh = dh_t * z + d_gh[t] @ w
        dgx = stack([d_gx[t] for t in range(hs.shape[0])])
        _, dh, gw, gb = _bptt_sums(ctx, d_gh, prev, (2, 3), dh)
        return (dgx if ctx.needs_input_grad[0] else None), dh, gw, gb, None


# ---------------------------------------------------------------- one layer, one direction


def _project(x: Tensor, w_ih: Tensor, b_ih: Tensor | None, batch_first: bool) -> Tensor:
    """gx = x W_ih^T + b_ih for every step in one GEMM, as (T, B, gates * H)."""
    from .linear import linear

    a, b = x.shape[0], x.shape[1]
    gx = linear(x.reshape(a * b, x.shape[2]), w_ih, b_ih).reshape(a, b, w_ih.shape[0])
    return gx.transpose(0, 1) if batch_first else gx


def rnn_layer(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
              b_hh: Tensor | None, reverse: bool = False, nonlinearity: str = "tanh",
              batch_first: bool = False) -> tuple[Tensor, Tensor]:
    """One direction of one Elman RNN layer over (T, B, I) input (or (B, T, I) batch_first):
    returns the hidden states of every step (T, B, H) and the last one processed (B, H).

    >>> import tinygrad_c2 as tg
    >>> out, h = rnn_layer(tg.ones(5, 2, 3), tg.zeros(2, 4), tg.ones(4, 3), tg.ones(4, 4),
    ...                    None, None)
    >>> out.shape, h.shape
    ((5, 2, 4), (2, 4))
    """
    hs = RNNRecurrence.apply(_project(x, w_ih, b_ih, batch_first), h0, w_hh, b_hh, reverse,
                             nonlinearity)
    return hs, hs[0 if reverse else hs.shape[0] - 1]


def lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor,
               b_ih: Tensor | None, b_hh: Tensor | None, reverse: bool = False,
               batch_first: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One direction of one LSTM layer: (hidden states (T, B, H), h_n (B, H), c_n (B, H)).

    >>> import tinygrad_c2 as tg
    >>> out, h, c = lstm_layer(tg.ones(5, 2, 3), tg.zeros(2, 4), tg.zeros(2, 4),
    ...                        tg.ones(16, 3), tg.ones(16, 4), None, None)
    >>> out.shape, h.shape, c.shape
    ((5, 2, 4), (2, 4), (2, 4))
    """
    y = LSTMRecurrence.apply(_project(x, w_ih, b_ih, batch_first), h0, c0, w_hh, b_hh, reverse)
    steps = y.shape[0] - 1
    return y[:steps], y[0 if reverse else steps - 1], y[steps]


def gru_layer(x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None,
              b_hh: Tensor | None, reverse: bool = False,
              batch_first: bool = False) -> tuple[Tensor, Tensor]:
    """One direction of one GRU layer: (hidden states (T, B, H), h_n (B, H)).

    >>> import tinygrad_c2 as tg
    >>> out, h = gru_layer(tg.ones(5, 2, 3), tg.zeros(2, 4), tg.ones(12, 3), tg.ones(12, 4),
    ...                    None, None)
    >>> out.shape, h.shape
    ((5, 2, 4), (2, 4))
    """
    hs = GRURecurrence.apply(_project(x, w_ih, b_ih, batch_first), h0, w_hh, b_hh, reverse)
    return hs, hs[0 if reverse else hs.shape[0] - 1]

"""Recurrences of RNN, LSTM and GRU layers: one primitive a layer and direction, BPTT backward.

The input part of every step is one GEMM over all T * B rows, gx = x W_ih^T + b_ih (the RNN and
GRU layers call F.linear for it, shape (T, B, gates * H); the LSTM primitive does it itself, see
its NOTE); the primitives then run the recurrence over the T steps, one small GEMM h W_hh^T a
step, and their backward is back-propagation through time in closed form: one GEMM a step for
dh_prev, then dW_hh and db_hh for all steps at once (one large GEMM).

NOTE: one primitive for the whole sequence, not one node a step: the graph of a sequence is a
handful of nodes, the per-step Python is a few numpy calls, and the weight gradients are one
GEMM over T*B rows instead of T small ones. A cell (nn.LSTMCell) is the same primitive with
T = 1. The Function mechanism returns one array, so the LSTM returns h for every step with the
final cell state stacked after them; the layer splits them with views.

The LSTM and GRU declare `reuses_saved`: when the engine says the backward is the last use of
the saved arrays (`ctx.saved_last_use`: the graph is freed after it), their backward writes
its gate gradients over the saved gate activations instead of new (or kept scratch) arrays,
with the same ufuncs on the same operands, so the same bits as with retain_graph=True.
"""

from __future__ import annotations

import numpy as np

from ...engine import _FREED
from ...function import Function, OpError
from ...tensor import Tensor, cat, stack
from .workspace import kernel, scratch


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
    @kernel
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
    @kernel
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


def _gate_major(w: np.ndarray) -> np.ndarray:
    """(4 H, n) weight rows in PyTorch's gate order i, f, g, o as the (4, n, H) W_k^T blocks of
    the LSTM's buffers, gates i, f, o, g (see LSTMRecurrence), the sigmoid gates' halved."""
    blocks = w.reshape(4, -1, w.shape[1]).transpose(0, 2, 1)
    out = np.empty((4, w.shape[1], w.shape[0] // 4), dtype=w.dtype)
    np.multiply(blocks[:2], 0.5, out=out[:2])  # i, f (exact: a power of two)
    np.multiply(blocks[3], 0.5, out=out[2])  # o
    np.copyto(out[3], blocks[2])  # g
    return out


def _lstm_check(x: np.ndarray, w_ih: np.ndarray, h0: np.ndarray, c0: np.ndarray,
                w_hh: np.ndarray) -> None:
    """The shapes and dtypes the LSTM needs (the layers check first, with their own messages)."""
    from .linear import _dtype_error

    hidden = w_hh.shape[1] if w_hh.ndim == 2 else -1
    if (x.ndim != 3 or w_hh.shape != (4 * hidden, hidden) or w_ih.ndim != 2
            or w_ih.shape != (4 * hidden, x.shape[2])):
        raise OpError(f"lstm: expected input (T, B, I), weight_ih (4 * H, I) and weight_hh "
                      f"(4 * H, H), got {x.shape}, {w_ih.shape} and {w_hh.shape}")
    if x.shape[0] == 0:
        raise OpError(f"lstm: expected a sequence length larger than 0, got input of shape "
                      f"{x.shape}")
    if x.dtype != w_ih.dtype:
        raise _dtype_error("lstm", x.dtype, w_ih.dtype)
    for name, state in (("hidden", h0), ("cell", c0)):
        if state.shape != (x.shape[1], hidden):
            raise OpError(f"lstm: expected an initial {name} state of shape "
                          f"{(x.shape[1], hidden)}, got {state.shape}")


class LSTMRecurrence(Function):
    """i, f, g, o = sig, sig, tanh, sig of (x_t W_ih^T + h W_hh^T + b_ih + b_hh);
    c = f c + i g; h = o tanh(c), for t = 1..T (or T..1)

    Returns (T + 1, B, H): h for every step in time order, then the final cell state. Backward,
    from the last step processed to the first: dh = g_t + dh_next, dc = dc_next + dh o (1 -
    tanh(c)^2), pre-activation grads dA = [dc g i(1-i), dc c_prev f(1-f), dc i (1-g^2),
    dh tanh(c) o(1-o)]; dh_prev = dA W_hh, dc_prev = dc f; dx = dA W_ih, dW_ih = sum dA_t^T
    x_t, dW_hh = sum dA_t^T h_{t-1}, db_ih = db_hh = sum dA_t.
    """

    # NOTE: the layout is gate-major, (4, T, B, H): gate k of step t is one contiguous (B, H)
    # block, so every element-wise pass (per step, or over all steps in backward) runs over
    # contiguous memory, and the step's GEMMs are one batched matmul of the four gates' (B, H)
    # @ (H, H) products (faster here than one (B, H) @ (H, 4 H) GEMM whose gate columns are
    # strided). The input projection is part of the primitive for the same reason: it is
    # computed straight into that layout (the buffer of the activations), and its weight
    # gradient is one GEMM over all T * B rows of the same gradient buffer.
    # NOTE: the buffers' gate order is not PyTorch's i, f, g, o (the parameters' rows keep
    # theirs): the forward keeps i, f, o, g, so the three sigmoid gates are one block that
    # `* 0.5 + 0.5` runs over with scalar operands, and the backward's gradients come out as
    # o, i, f, g (the order that needs no copy when they go over the activations; see
    # _lstm_gate_factors): dc multiplies one block of three, and the results go back to
    # PyTorch's order as the weight gradients are computed.

    #: at the graph's last use backward writes its gate gradients over the saved activations
    #: (acts, 4 T B H numbers), dc/dh over tanh(c): no scratch buffer of that size, which the
    #: workspace would keep between steps (see _lstm_gate_factors)
    reuses_saved = True

    @staticmethod
    @kernel
    def forward(ctx, x, w_ih, b_ih, h0, c0, w_hh, b_hh, reverse):
        _lstm_check(x, w_ih, h0, c0, w_hh)
        steps, batch, hidden = x.shape[0], x.shape[1], w_hh.shape[1]
        dtype = np.result_type(x, h0, c0)
        rows = steps * batch
        x2 = x.reshape(rows, x.shape[2])
        # NOTE: sigmoid(a) = 0.5 tanh(a / 2) + 0.5, so one tanh serves all four gates: the
        # pre-activations of i, f, o are halved (exact: a power of two) by halving their rows
        # of the weights and biases, and after the tanh the sigmoid gates get * 0.5 + 0.5.
        # (4, I, H) and (4, H, H), C-contiguous (or each gate's GEMM runs at half speed)
        w_ih4 = _gate_major(w_ih)
        w_hh4 = _gate_major(w_hh)
        # NOTE: the input projection goes straight into the buffer of the gates' activations
        # (saved anyway): each step adds h W_hh^T to its slice and applies the nonlinearity in
        # place, so no second (4, T, B, H) array
        # NOTE: tanh(c) of every step and the gates i, f, o, g of every step, one buffer: the
        # backward's gradients go over it with dc/dh (over tanh(c)) beside the o gate's, so a
        # step multiplies both by dh in one call
        buf = np.empty((5, steps, batch, hidden), dtype=dtype)
        tanh_cs, acts = buf[0], buf[1:]
        a_x = acts.reshape(4, rows, hidden)
        np.matmul(x2, w_ih4, out=a_x)  # x W_ih^T for every step, gate-major
        # x W_ih^T + (b_ih + b_hh), as the hand-derived step sums them: one pass, not two
        bias = b_ih if b_hh is None else b_hh if b_ih is None else b_ih + b_hh
        if bias is not None:
            a_x += _gate_major(bias.reshape(4 * hidden, 1)).reshape(4, 1, hidden)
        # out[:T] are the hidden states in time order, out[T] the last cell state; going forwards
        # the buffer starts with h0, so that the steps' inputs h_{t-1} are hs[:T] (for dW_hh)
        hs = np.empty((steps + (1 if reverse else 2), batch, hidden), dtype=dtype)
        if not reverse:
            hs[0] = h0
        out = hs if reverse else hs[1:]
        # cells[1:] are the states in time order and cells[:-1] what each step started from
        # (cells[T] is c0 going backwards)
        cells = np.empty((steps + 1, batch, hidden), dtype=dtype)
        cells[steps if reverse else 0] = c0
        c_new = cells[:-1] if reverse else cells[1:]
        ig = np.empty((batch, hidden), dtype=dtype)
        hw = np.empty((4, batch, hidden), dtype=dtype)  # one step's h W_hh^T, gate-major
        h, c = h0, c0
        for t in _steps(steps, reverse):
            s = acts[:, t]
            s += np.matmul(h, w_hh4, out=hw)
            np.tanh(s, out=s)
            sig = s[:3]  # i, f, o
            sig *= 0.5
            sig += 0.5
            c = c_new[t]
            np.multiply(s[1], cells[t + 1 if reverse else t], out=c)  # c = f c_prev + i g
            np.multiply(s[0], s[3], out=ig)
            c += ig
            np.tanh(c, out=tanh_cs[t])
            h = out[t]
            np.multiply(s[2], tanh_cs[t], out=h)
        out[steps] = c
        ctx.reverse = reverse
        # NOTE: b_ih and b_hh too (references, no copies), for backward_graph, which computes
        # the layer again from its inputs (c0 is in cells)
        ctx.save_for_backward(x2, w_ih, w_hh, buf, cells, hs, h0, b_ih, b_hh)
        return out

    @staticmethod
    @kernel
    def backward(ctx, g):
        x2, w_ih, w_hh, buf, cells, hs, h0 = ctx.saved_tensors[:7]
        steps, batch, hidden = buf.shape[1:]
        reverse = ctx.reverse
        last_use = ctx.saved_last_use
        if last_use:
            # NOTE: buf and cells are overwritten below: from here on the graph is
            # freed (the engine frees it after this call anyway), so that a second walk after
            # an error inside this backward (or anomaly mode's check) raises, never reads them
            ctx.saved_tensors = _FREED
        # NOTE: everything but dh and dc is known for all steps at once: the factors that turn
        # dc (for i, f, g) and dh (for o) into pre-activation gradients are computed in a few
        # vectorized passes, so the loop below is a few small numpy calls and one batched GEMM
        # a step. factors is scratch or buf: nothing returned is a view of it.
        factors, f = _lstm_gate_factors(buf, cells[1:] if reverse else cells[:-1], last_use)
        d_gates = factors[1:]
        # W_hh's gate blocks in the gradients' slot order o, i, f, g
        w_hh4 = w_hh.reshape(4, hidden, hidden)
        w_hh4 = np.concatenate((w_hh4[3:], w_hh4[:3]))
        parts = np.empty((4, batch, hidden), dtype=d_gates.dtype)  # each gate's share of dh
        needs = ctx.needs_input_grad
        first = steps - 1 if reverse else 0  # the step that started from h0 and c0
        dh, dc = None, g[steps].copy()
        for t in reversed(_steps(steps, reverse)):
            dh_t = g[t] if dh is None else np.add(g[t], dh, out=dh)
            step = factors[:, t]
            through_h = step[:2]  # dh o (1 - tanh(c)^2) and the o gate's gradient
            through_h *= dh_t
            dc += step[0]
            d = step[1:]
            d[1:] *= dc  # i, f, g
            if t == first:  # dh0 and dc0 only when asked for (not for zero initial states)
                dh = np.add.reduce(np.matmul(d, w_hh4, out=parts), axis=0) if needs[3] else None
                dc = dc * f[t] if needs[4] else None
                break
            np.matmul(d, w_hh4, out=parts)  # dh_prev = sum over the gates of dA_k W_hh_k
            dh = np.add.reduce(parts, axis=0, out=dh)
            dc *= f[t]
        rows = d_gates.reshape(4, steps * batch, hidden)
        gx = gw_ih = gb_ih = gw_hh = gb_hh = None
        if needs[0]:  # NOTE: skipped for the input layer: nobody needs dX
            # one GEMM over the 4 H gate columns (the (T B, 4 H) layout, a scratch copy)
            flat = scratch("lstm.d_rows", (steps * batch, 4, hidden), d_gates.dtype)
            np.copyto(flat[:, :3], rows[1:].transpose(1, 0, 2))
            np.copyto(flat[:, 3], rows[0])
            gx = (flat.reshape(steps * batch, 4 * hidden) @ w_ih).reshape(steps, batch, -1)
        if needs[1]:
            gw_ih = _gate_rows(rows, x2)
        if needs[5]:
            prev = hs[:steps]  # going forwards h0, h_1, ..., h_{T-1}; backwards a copy
            if reverse:
                prev = scratch("lstm.h_prev", (steps, batch, hidden), hs.dtype)
                np.copyto(prev, _previous(hs[:steps], h0, reverse))
            gw_hh = _gate_rows(rows, prev.reshape(-1, hidden))
        if needs[2] or needs[6]:
            # sum over the T B rows as a matrix-vector product (a third of the time of the
            # row-by-row reduction over a middle axis)
            gb = _gate_rows(rows, np.ones(steps * batch, dtype=rows.dtype)).reshape(4 * hidden)
            gb_ih = gb if needs[2] else None
            gb_hh = (gb.copy() if needs[2] else gb) if needs[6] else None
        return gx, gw_ih, gb_ih, dh, dc, gw_hh, gb_hh, None

    @staticmethod
    def backward_graph(ctx, g):
        # The layer again, from graph Tensors of its inputs (the same maths as forward, with
        # Tensor ops), then its gradient along g with create_graph: exact to any order.
        from ...autograd import grad

        x2, w_ih, w_hh, buf, cells, _, h0, b_ih, b_hh = ctx.saved_tensors
        steps, batch, hidden = buf.shape[1:]
        c0 = cells[steps if ctx.reverse else 0]
        saved = (x2.reshape(steps, batch, -1), w_ih, b_ih, h0, c0, w_hh, b_hh)
        inputs = [None if a is None else ctx.graph_input(i, a) for i, a in enumerate(saved)]
        x, wi, bi, h, c, wh, bh = inputs
        hs = {}
        for t in _steps(steps, ctx.reverse):
            a = x[t] @ wi.transpose(0, 1) + h @ wh.transpose(0, 1)
            for b in (bi, bh):
                if b is not None:
                    a = a + b
            i, f = _sigmoid(a[:, :hidden]), _sigmoid(a[:, hidden:2 * hidden])
            gg, o = a[:, 2 * hidden:3 * hidden].tanh(), _sigmoid(a[:, 3 * hidden:])
            c = f * c + i * gg
            h = hs[t] = o * c.tanh()
        y = stack([hs[t] for t in range(steps)] + [c])
        wanted = [k for k, need in enumerate(ctx.needs_input_grad[:7]) if need]
        grads = grad(y, [inputs[k] for k in wanted], g, create_graph=True, allow_unused=True)
        out: list = [None] * 8
        for k, gk in zip(wanted, grads):  # noqa: B905
            out[k] = gk
        return tuple(out)


def _gate_rows(rows: np.ndarray, other: np.ndarray) -> np.ndarray:
    """sum over the T B rows of each gate's gradient times `other` (T B, n), or times a vector
    (T B,), as PyTorch's gate-stacked (4 H, n) or (4 H,) result: `rows` (4, T B, H) is in the
    backward's slot order o, i, f, g, so gates i, f, g are one batched product and o is one."""
    hidden = rows.shape[2]
    out = np.empty((4, hidden, *other.shape[1:]), dtype=np.result_type(rows, other))
    rows_t = rows.transpose(0, 2, 1)
    np.matmul(rows_t[1:], other, out=out[:3])
    np.matmul(rows_t[0], other, out=out[3])
    return out.reshape(4 * hidden, *other.shape[1:])


def _lstm_gate_factors(buf: np.ndarray, c_prev: np.ndarray,
                       last_use: bool) -> tuple[np.ndarray, np.ndarray]:
    """The LSTM backward's per-step factors for all steps at once: (factors, f) with factors =
    [o (1 - tanh(c)^2), tanh(c) o(1-o), g i(1-i), c_prev f(1-f), i (1-g^2)] (5, T, B, H): dc/dh,
    then the gates o, i, f, g, which the loop turns into pre-activation gradients in place (times
    dh for dc/dh and o, dc for i, f, g), and the forget gate f that carries dc back a step.
    `buf` holds the forward's tanh(c) and gates i, f, o, g.

    At the saved arrays' last use (`last_use`) the results go over buf, and only f (which the
    loop still reads, but whose slot the gradients take) is copied out to scratch. Otherwise
    buf is not touched and the results go to scratch. NOTE: the same ufuncs on the same
    operands either way, so both give the same bits.
    """
    tanh_cs, i, f, o, gg = buf
    if last_use:
        out = buf
        f = scratch("lstm.forget", f.shape, f.dtype)
        np.copyto(f, buf[2])
    else:
        out = scratch("lstm.factors", buf.shape, buf.dtype)
    # NOTE: the order matters at the last use: each result goes over an array that no later
    # pass reads (out[k] is buf[k]): g i(1-i) over f (read from the copy from now on),
    # i (1-g^2) over g itself, tanh(c) o(1-o) over i, o (1-tanh(c)^2) over tanh(c) itself,
    # c_prev f(1-f) over o: no copies
    np.multiply(gg, _one_minus_times(i, out[2]), out=out[2])
    np.multiply(i, _one_minus_times(gg, out[4], gg), out=out[4])
    np.multiply(tanh_cs, _one_minus_times(o, out[1]), out=out[1])
    np.multiply(o, _one_minus_times(tanh_cs, out[0], tanh_cs), out=out[0])
    np.multiply(c_prev, _one_minus_times(f, out[3]), out=out[3])
    return out, f


class GRURecurrence(Function):
    """r, z = sig(gx_rz + gh_rz), n = tanh(gx_n + r * gh_n), h = (1 - z) n + z h_prev,
    with gh = h_prev W_hh^T + b_hh (PyTorch's GRU: b_hn inside the reset product)

    Returns (T, B, H). Backward: dn = dh (1-z), dz = dh (h_prev - n), da_n = dn (1-n^2),
    da_r = da_n gh_n r(1-r), da_z = dz z(1-z); dgx = [da_r, da_z, da_n], dgh = [da_r, da_z,
    r da_n]; dh_prev = dh z + dgh W_hh, dW_hh = sum dgh_t^T h_{t-1}, db_hh = sum dgh_t.
    """

    reuses_saved = True  # at the graph's last use dgh goes over the saved gates r, z, n

    @staticmethod
    @kernel
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
    @kernel
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
        if ctx.saved_last_use:  # d_gh over acts: step t's gates are read before it is written
            ctx.saved_tensors = _FREED  # (as the LSTM's: a retry after an error must raise)
            d_gh = acts
        else:
            d_gh = np.empty_like(acts)
        dh = None
        for t in reversed(_steps(steps, reverse)):
            dh_t = g[t] if dh is None else g[t] + dh
            dx, dg = d_gx[t], d_gh[t]
            dx.reshape(batch, 3, hidden)[...] *= dh_t[:, None]
            through_z = dh_t * z[t]
            np.multiply(dx[:, 2 * hidden:], r[t], out=dg[:, 2 * hidden:])  # gh_n sits inside r *
            dg[:, :2 * hidden] = dx[:, :2 * hidden]  # NOTE: last, over r and z at the last use
            dh = dg @ w_hh
            dh += through_z
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
    y = LSTMRecurrence.apply(x.transpose(0, 1) if batch_first else x, w_ih, b_ih, h0, c0, w_hh,
                             b_hh, reverse)
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

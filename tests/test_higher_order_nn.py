"""Double backward of the fused primitives of tg.nn.functional against torch's in float64.

Each case builds y = f(inputs) in both libraries, takes g = dy/dinputs . u with
create_graph=True (u a random cotangent that requires grad too), then the gradient of
sum_i (g_i * v_i).sum() for random v_i with respect to every input and u: second-order values
(Hessian-vector products) and the derivative with respect to the seed. Linear primitives are
followed by a tanh so that their gradient's dependence on g is exercised too.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2.function import PRIMITIVES
from tinygrad_c2.nn.functional.linear import LinearRun

torch = pytest.importorskip("torch")
F = tg.nn.functional
TF = torch.nn.functional
RNG = np.random.default_rng(19)


@dataclass
class Case:
    prim: str  # the primitive this case covers (the coverage check below reads it)
    name: str
    fn: Callable  # (*tg tensors) -> tg tensor
    fn_torch: Callable  # (*torch tensors) -> torch tensor
    arrays: list = field(default_factory=list)  # float64 inputs, all differentiated
    rtol: float = 1e-9


def rand(*shape, low=-1.5, high=1.5):
    return RNG.uniform(low, high, size=shape)


def second_order(case: Case):
    """(first-order grads, second-order grads) of `case` in tinygrad_c2 and in torch."""
    results = []
    for lib in ("tg", "torch"):
        rng = np.random.default_rng(7)
        if lib == "tg":
            xs = [tg.tensor(a.copy(), dtype=tg.float64, requires_grad=True) for a in case.arrays]
            y = case.fn(*xs)
            u = tg.tensor(rng.standard_normal(y.shape), dtype=tg.float64, requires_grad=True)
            gs = tg.autograd.grad(y, xs, u, create_graph=True, allow_unused=True)
        else:
            xs = [torch.tensor(a.copy(), dtype=torch.float64, requires_grad=True)
                  for a in case.arrays]
            y = case.fn_torch(*xs)
            u = torch.tensor(rng.standard_normal(tuple(y.shape)), dtype=torch.float64,
                             requires_grad=True)
            gs = torch.autograd.grad(y, xs, u, create_graph=True, allow_unused=True)
        total = None
        for x, gi in zip(xs, gs, strict=True):
            v = rng.standard_normal(tuple(x.shape))
            if gi is None or not gi.requires_grad:
                continue
            term = (gi * (tg.tensor(v) if lib == "tg" else torch.tensor(v))).sum()
            total = term if total is None else total + term
        first = [None if gi is None else np.array(gi.detach().numpy()) for gi in gs]
        if total is None:
            results.append((first, [None] * (len(xs) + 1)))
            continue
        grad = tg.autograd.grad if lib == "tg" else torch.autograd.grad
        hs = grad(total, [*xs, u], allow_unused=True)
        results.append((first, [None if h is None else np.array(h.numpy()) for h in hs]))
    return results


def assert_matches(case: Case):
    (first, second), (first_t, second_t) = second_order(case)
    for what, ours, theirs in (("first", first, first_t), ("second", second, second_t)):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if a is None and b is None:
                continue
            a = np.zeros_like(b) if a is None else a
            b = np.zeros_like(a) if b is None else b
            np.testing.assert_allclose(a, b, rtol=case.rtol, atol=1e-10,
                                       err_msg=f"{case.prim} {case.name}: {what}-order "
                                               f"gradient of input {i}")


def t(a):
    return torch.tensor(a)


CASES: list[Case] = []


def case(prim, name, fn, fn_torch, *arrays, rtol=1e-9):
    CASES.append(Case(prim, name, fn, fn_torch, list(arrays), rtol))


# ---------------------------------------------------------------- linear, activations

case("Linear", "bias", lambda x, w, b: F.linear(x, w, b).tanh(),
     lambda x, w, b: TF.linear(x, w, b).tanh(), rand(4, 3), rand(5, 3), rand(5))
case("Linear", "3d-no-bias", lambda x, w: F.linear(x, w).tanh(),
     lambda x, w: TF.linear(x, w).tanh(), rand(2, 4, 3), rand(5, 3))
case("LinearRun", "tanh-relu-sigmoid-bias",
     lambda x, w1, b1, w2, w3, b3: LinearRun.apply(x, ("tanh", "relu", "sigmoid"), w1, b1, w2,
                                                   None, w3, b3),
     lambda x, w1, b1, w2, w3, b3: torch.sigmoid(TF.linear(torch.relu(TF.linear(torch.tanh(
         TF.linear(x, w1, b1)), w2)), w3, b3)),
     rand(4, 3), rand(5, 3), rand(5), rand(6, 5), rand(2, 6), rand(2))
case("LinearRun", "3d-last-linear", lambda x, w1, w2: LinearRun.apply(x, ("tanh", None), w1,
                                                                      None, w2, None),
     lambda x, w1, w2: TF.linear(torch.tanh(TF.linear(x, w1)), w2), rand(2, 4, 3), rand(5, 3),
     rand(2, 5))
case("GELU", "erf", lambda x: F.gelu(x), lambda x: TF.gelu(x), rand(3, 4, low=-3, high=3))
case("GELU", "tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: TF.gelu(x, approximate="tanh"), rand(3, 4, low=-3, high=3))
case("Softplus", "default", lambda x: F.softplus(x), lambda x: TF.softplus(x), rand(3, 4))
case("Softplus", "beta-threshold", lambda x: F.softplus(x, beta=2.0, threshold=1.5),
     lambda x: TF.softplus(x, beta=2.0, threshold=1.5), rand(3, 4))
case("ELU", "alpha", lambda x: F.elu(x, alpha=1.3), lambda x: TF.elu(x, alpha=1.3), rand(3, 4))
case("Hardtanh", "range", lambda x: F.hardtanh(x, -0.7, 0.9).tanh(),
     lambda x: TF.hardtanh(x, -0.7, 0.9).tanh(), rand(3, 4))

# ---------------------------------------------------------------- losses

_Y = np.array([0, 2, 1, 2, 3])
_W = np.array([0.3, 1.0, 2.0, 0.7])
_IGN = np.array([0, 2, -100, 1, 3])
for red in ("mean", "sum", "none"):
    case("CrossEntropy", f"labels-{red}", lambda z, r=red: F.cross_entropy(z, _Y, reduction=r),
         lambda z, r=red: TF.cross_entropy(z, t(_Y), reduction=r), rand(5, 4))
    case("CrossEntropy", f"weight-ignore-smooth-{red}",
         lambda z, r=red: F.cross_entropy(z, _IGN, weight=_W, reduction=r, label_smoothing=0.2),
         lambda z, r=red: TF.cross_entropy(z, t(_IGN), weight=t(_W), reduction=r,
                                           label_smoothing=0.2), rand(5, 4))
case("CrossEntropy", "smoothing", lambda z: F.cross_entropy(z, _Y, label_smoothing=0.3),
     lambda z: TF.cross_entropy(z, t(_Y), label_smoothing=0.3), rand(5, 4))
case("CrossEntropy", "weight", lambda z: F.cross_entropy(z, _Y, weight=_W),
     lambda z: TF.cross_entropy(z, t(_Y), weight=t(_W)), rand(5, 4))
case("CrossEntropy", "ignore-index", lambda z: F.cross_entropy(z, _Y, ignore_index=2),
     lambda z: TF.cross_entropy(z, t(_Y), ignore_index=2), rand(5, 4))
_FAR = rand(5, 4)
_FAR[0, 0], _FAR[1, 2] = 800.0, -900.0  # probabilities that underflow to 0 (log p = -inf)
case("CrossEntropy", "underflowed-probabilities",
     lambda z: F.cross_entropy(z, _Y, label_smoothing=0.1, weight=_W),
     lambda z: TF.cross_entropy(z, t(_Y), label_smoothing=0.1, weight=t(_W)), _FAR)
case("CrossEntropy", "4d", lambda z: F.cross_entropy(z, _Y.reshape(1, 5, 1)),
     lambda z: TF.cross_entropy(z, t(_Y.reshape(1, 5, 1))), rand(1, 4, 5, 1))
case("CrossEntropy", "probabilities-with-grad",
     lambda z, y: F.cross_entropy(z, y.softmax(1), weight=_W, label_smoothing=0.1),
     lambda z, y: TF.cross_entropy(z, y.softmax(1), weight=t(_W), label_smoothing=0.1),
     rand(5, 4), rand(5, 4))
case("CrossEntropy", "probabilities-sum", lambda z, y: F.cross_entropy(
    z, y.softmax(1), reduction="sum"), lambda z, y: TF.cross_entropy(
    z, y.softmax(1), reduction="sum"), rand(5, 4), rand(5, 4))
for red in ("mean", "sum", "none"):
    case("NLLLoss", f"log-softmax-{red}",
         lambda z, r=red: F.nll_loss(z.log_softmax(1), _Y, reduction=r),
         lambda z, r=red: TF.nll_loss(z.log_softmax(1), t(_Y), reduction=r), rand(5, 4))
    case("NLLLoss", f"weight-ignore-{red}",
         lambda z, r=red: F.nll_loss(z.tanh(), _IGN, weight=_W, reduction=r),
         lambda z, r=red: TF.nll_loss(z.tanh(), t(_IGN), weight=t(_W), reduction=r), rand(5, 4))
for red in ("mean", "sum", "none"):
    case("BCE", red, lambda p, y, r=red: F.binary_cross_entropy(p, y, reduction=r),
         lambda p, y, r=red: TF.binary_cross_entropy(p, y, reduction=r),
         rand(3, 4, low=0.1, high=0.9), rand(3, 4, low=0.0, high=1.0))
    case("BCEWithLogits", red,
         lambda z, y, r=red: F.binary_cross_entropy_with_logits(z, y, reduction=r),
         lambda z, y, r=red: TF.binary_cross_entropy_with_logits(z, y, reduction=r),
         rand(3, 4, low=-3, high=3), rand(3, 4, low=0.0, high=1.0))
    case("MSELoss", red, lambda a, b, r=red: F.mse_loss(a, b, reduction=r),
         lambda a, b, r=red: TF.mse_loss(a, b, reduction=r), rand(3, 4), rand(3, 4))
    case("L1Loss", red, lambda a, b, r=red: F.l1_loss(a.tanh(), b, reduction=r),
         lambda a, b, r=red: TF.l1_loss(a.tanh(), b, reduction=r), rand(3, 4), rand(3, 4))
    case("SmoothL1Loss", red, lambda a, b, r=red: F.smooth_l1_loss(a, b, reduction=r),
         lambda a, b, r=red: TF.smooth_l1_loss(a, b, reduction=r), rand(3, 4), rand(3, 4))
case("BCE", "weight", lambda p, y: F.binary_cross_entropy(p, y, weight=np.array([1., 2, 3, 4])),
     lambda p, y: TF.binary_cross_entropy(p, y, weight=t(np.array([1., 2, 3, 4]))),
     rand(3, 4, low=0.1, high=0.9), rand(3, 4, low=0.0, high=1.0))
case("BCEWithLogits", "pos-weight",
     lambda z, y: F.binary_cross_entropy_with_logits(z, y, pos_weight=tg.tensor(
         [1.0, 2.0, 0.5, 3.0], dtype=tg.float64)),
     lambda z, y: TF.binary_cross_entropy_with_logits(z, y, pos_weight=t(
         np.array([1.0, 2.0, 0.5, 3.0]))),
     rand(3, 4, low=-3, high=3), rand(3, 4, low=0.0, high=1.0))
case("SmoothL1Loss", "beta-0.5", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
     lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5), rand(3, 4), rand(3, 4))
case("SmoothL1Loss", "beta-0-is-l1", lambda a, b: F.smooth_l1_loss(a.tanh(), b, beta=0.0),
     lambda a, b: TF.smooth_l1_loss(a.tanh(), b, beta=0.0), rand(3, 4), rand(3, 4))
case("SmoothL1Loss", "huber", lambda a, b: F.huber_loss(a, b, delta=0.8, reduction="sum"),
     lambda a, b: TF.huber_loss(a, b, delta=0.8, reduction="sum"), rand(3, 4), rand(3, 4))
for red in ("batchmean", "sum", "none"):
    case("KLDivLoss", red, lambda x, y, r=red: F.kl_div(x.log_softmax(1), y, reduction=r),
         lambda x, y, r=red: TF.kl_div(x.log_softmax(1), y, reduction=r),
         rand(3, 4), rand(3, 4, low=0.05, high=1.0))
    case("KLDivLoss", f"log-target-{red}",
         lambda x, y, r=red: F.kl_div(x.log_softmax(1), y, reduction=r, log_target=True),
         lambda x, y, r=red: TF.kl_div(x.log_softmax(1), y, reduction=r, log_target=True),
         rand(3, 4), rand(3, 4))

# ---------------------------------------------------------------- normalization


def _bn(train, affine, shape):
    c = shape[1]
    rm, rv = rand(c), rand(c, low=0.5, high=2.0)

    def ours(x, *wb):
        w, b = wb if affine else (None, None)
        return F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=train).tanh()

    def theirs(x, *wb):
        w, b = wb if affine else (None, None)
        return TF.batch_norm(x, t(rm.copy()), t(rv.copy()), w, b, training=train).tanh()

    arrays = [rand(*shape)] + ([rand(c), rand(c)] if affine else [])
    case("BatchNorm", f"{'train' if train else 'eval'}-{'affine' if affine else 'plain'}-"
         f"{len(shape)}d", ours, theirs, *arrays)


for train in (True, False):
    _bn(train, True, (4, 3))
    _bn(train, True, (2, 3, 2, 3))
    _bn(train, False, (3, 2, 4))
case("LayerNorm", "last-dim", lambda x, w, b: F.layer_norm(x, 4, w, b).tanh(),
     lambda x, w, b: TF.layer_norm(x, (4,), w, b).tanh(), rand(3, 4), rand(4), rand(4))
case("LayerNorm", "two-dims-no-affine", lambda x: F.layer_norm(x, (2, 3)).tanh(),
     lambda x: TF.layer_norm(x, (2, 3)).tanh(), rand(2, 2, 3))
case("LayerNorm", "whole-input", lambda x, w: F.layer_norm(x, (2, 3), w).tanh(),
     lambda x, w: TF.layer_norm(x, (2, 3), w).tanh(), rand(2, 3), rand(2, 3))

# ---------------------------------------------------------------- dropout, embedding, pad


def _masked(drop, shape, p):
    """A dropout function and torch's with the same mask (read off one forward of ours)."""
    tg.manual_seed(5)
    mask = drop(tg.ones(*shape, dtype=tg.float64), p=p).numpy().copy()

    def ours(x):
        tg.manual_seed(5)  # the same draw as the mask's
        return (drop(x, p=p) * x).sum(1)

    return ours, lambda x: (x * t(mask) * x).sum(1)


case("Dropout", "p-0.4", *_masked(F.dropout, (4, 5), 0.4), rand(4, 5))
case("Dropout", "dropout2d", *_masked(F.dropout2d, (2, 3, 2, 2), 0.5), rand(2, 3, 2, 2))

_IDX = np.array([[1, 3, 1], [0, 3, 3]])
case("Embedding", "repeated", lambda w: F.embedding(_IDX, w).tanh(),
     lambda w: TF.embedding(t(_IDX), w).tanh(), rand(4, 2))
case("Embedding", "padding-scale-by-freq",
     lambda w: F.embedding(_IDX, w, padding_idx=0, scale_grad_by_freq=True).tanh(),
     lambda w: TF.embedding(t(_IDX), w, padding_idx=0, scale_grad_by_freq=True).tanh(),
     rand(4, 2))
case("Pad", "constant-crop", lambda x: F.pad(x, (1, -1, 2, 0), value=0.5).tanh(),
     lambda x: TF.pad(x, (1, -1, 2, 0), value=0.5).tanh(), rand(2, 3, 4))
for mode in ("reflect", "replicate", "circular"):
    case("Pad", mode, lambda x, m=mode: F.pad(x, (2, 1, 1, 2), mode=m).tanh(),
         lambda x, m=mode: TF.pad(x, (2, 1, 1, 2), mode=m).tanh(), rand(1, 2, 3, 4))

# ---------------------------------------------------------------- pooling, convolution

for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
           {"kernel_size": 2, "stride": 1, "dilation": 2, "ceil_mode": True},
           {"kernel_size": 3, "stride": 2, "ceil_mode": True}):
    name = "-".join(f"{k}={v}" for k, v in kw.items())
    case("MaxPool2d", name, lambda x, kw=kw: F.max_pool2d(x, **kw).tanh(),
         lambda x, kw=kw: TF.max_pool2d(x, **kw).tanh(), rand(2, 2, 5, 6))
for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
           {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
           {"kernel_size": 2, "ceil_mode": True, "divisor_override": 3}):
    name = "-".join(f"{k}={v}" for k, v in kw.items())
    case("AvgPool2d", name, lambda x, kw=kw: F.avg_pool2d(x, **kw).tanh(),
         lambda x, kw=kw: TF.avg_pool2d(x, **kw).tanh(), rand(2, 2, 5, 6))
case("MaxPool2dIndices", "return-indices",
     lambda x: F.max_pool2d(x, 2, return_indices=True)[0].tanh(),
     lambda x: TF.max_pool2d(x, 2, return_indices=True)[0].tanh(), rand(1, 2, 4, 4))

for kw in ({}, {"stride": 2, "padding": 1}, {"padding": "same"}, {"dilation": 2, "padding": 2},
           {"groups": 2, "stride": (2, 1)}):
    name = "-".join(f"{k}={v}" for k, v in kw.items()) or "plain"
    k = 2 if kw.get("padding") == "same" else 3  # "same" with an even kernel: asymmetric
    # torch warns on "same" with an even kernel: its padding given explicitly (0 before, 1 after)
    theirs = (lambda x, w, b: TF.conv2d(TF.pad(x, (0, 1, 0, 1)), w, b).tanh()) if k == 2 else (
        lambda x, w, b, kw=kw: TF.conv2d(x, w, b, **kw).tanh())
    case("Conv2d", name, lambda x, w, b, kw=kw: F.conv2d(x, w, b, **kw).tanh(), theirs,
         rand(2, 4, 6, 5), rand(6, 4 // kw.get("groups", 1), k, k), rand(6), rtol=1e-8)
case("Conv2d", "conv1d-no-bias", lambda x, w: F.conv1d(x, w, padding=1).tanh(),
     lambda x, w: TF.conv1d(x, w, padding=1).tanh(), rand(2, 3, 7), rand(4, 3, 3))
for kw in ({}, {"stride": 2, "padding": 1, "output_padding": 1},
           {"groups": 2, "dilation": 2}, {"stride": 2, "dilation": 3, "output_padding": 2}):
    name = "-".join(f"{k}={v}" for k, v in kw.items()) or "plain"
    case("ConvTranspose2d", name,
         lambda x, w, b, kw=kw: F.conv_transpose2d(x, w, b, **kw).tanh(),
         lambda x, w, b, kw=kw: TF.conv_transpose2d(x, w, b, **kw).tanh(),
         rand(2, 4, 3, 4), rand(4, 6 // kw.get("groups", 1), 3, 2), rand(6), rtol=1e-8)
case("Unfold", "padding-stride", lambda x: F.unfold(x, (2, 3), padding=1, stride=2).tanh(),
     lambda x: TF.unfold(x, (2, 3), padding=1, stride=2).tanh(), rand(2, 3, 5, 6))
case("Fold", "overlap", lambda c: F.fold(c, (4, 5), 2, dilation=(1, 2)).tanh(),
     lambda c: TF.fold(c, (4, 5), 2, dilation=(1, 2)).tanh(), rand(2, 8, 9))


# ---------------------------------------------------------------- recurrent layers


def _recurrent(kind, nonlinearity=None, **kw):
    """A case differentiating a tg and a torch recurrent layer with the same weights with
    respect to its input, initial states and every parameter (PyTorch's names and order)."""
    extra = {"nonlinearity": nonlinearity} if nonlinearity else {}
    torch.manual_seed(3)
    theirs = getattr(torch.nn, kind)(3, 2, **extra, **kw).double()
    ours = getattr(tg.nn, kind)(3, 2, **extra, **kw).double()
    names = [name for name, _ in theirs.named_parameters()]
    assert names == [name for name, _ in ours.named_parameters()]
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    states = 2 if kind == "LSTM" else 1
    x = rand(2, 4, 3) if kw.get("batch_first") else rand(4, 2, 3)
    arrays = [x] + [rand(layers, 2, 2) for _ in range(states)] + [
        p.detach().numpy().copy() for p in theirs.parameters()]

    def flat(out, h):
        h = h if isinstance(h, tuple) else (h,)
        return (out, *h)

    def run_ours(x, *rest):
        for name, p in zip(names, rest[states:], strict=True):
            ours._parameters[name] = p  # the case's leaves as the layer's weights
        h = tuple(rest[:states]) if states == 2 else rest[0]
        return tg.cat([a.reshape(-1) for a in flat(*ours(x, h))])

    def run_theirs(x, *rest):
        h = tuple(rest[:states]) if states == 2 else rest[0]
        params = dict(zip(names, rest[states:], strict=True))
        out = torch.func.functional_call(theirs, params, (x, h))
        return torch.cat([a.reshape(-1) for a in flat(*out)])

    prim = {"RNN": "RNNRecurrence", "LSTM": "LSTMRecurrence", "GRU": "GRURecurrence"}[kind]
    name = "-".join([nonlinearity or ""] + [f"{k}={v}" for k, v in kw.items()]).strip("-")
    case(prim, name or "one-layer", run_ours, run_theirs, *arrays, rtol=1e-8)


for kind in ("RNN", "LSTM", "GRU"):
    _recurrent(kind)
    _recurrent(kind, num_layers=2, bidirectional=True)
_recurrent("RNN", "relu")
_recurrent("GRU", bias=False, batch_first=True)


def _cell(kind):
    """A recurrent cell (the recurrence primitive with T = 1) against torch's."""
    torch.manual_seed(4)
    theirs = getattr(torch.nn, kind)(3, 2).double()
    ours = getattr(tg.nn, kind)(3, 2).double()
    names = [name for name, _ in theirs.named_parameters()]
    states = 2 if kind == "LSTMCell" else 1

    def run_ours(x, *rest):
        for name, p in zip(names, rest[states:], strict=True):
            # the case's leaves as the cell's weights (a cell reads them as attributes)
            ours._parameters[name] = p
            object.__setattr__(ours, name, p)
        out = ours(x, tuple(rest[:states]) if states == 2 else rest[0])
        return tg.cat(list(out), 1) if states == 2 else out

    def run_theirs(x, *rest):
        params = dict(zip(names, rest[states:], strict=True))
        out = torch.func.functional_call(
            theirs, params, (x, tuple(rest[:states]) if states == 2 else rest[0]))
        return torch.cat(list(out), 1) if states == 2 else out

    prim = {"RNNCell": "RNNRecurrence", "LSTMCell": "LSTMRecurrence", "GRUCell": "GRURecurrence"}
    case(prim[kind], kind, run_ours, run_theirs, rand(2, 3), *[rand(2, 2) for _ in range(states)],
         *[p.detach().numpy().copy() for p in theirs.parameters()], rtol=1e-8)


for kind in ("RNNCell", "LSTMCell", "GRUCell"):
    _cell(kind)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.prim}-{c.name}" for c in CASES])
def test_double_backward_matches_torch(case):
    assert_matches(case)


# ---------------------------------------------------------------- the ops without a gradient


def test_one_hot_targets_go_through_create_graph_as_constants():
    z = tg.tensor(rand(5, 4), dtype=tg.float64, requires_grad=True)
    zt = torch.tensor(z.numpy(), requires_grad=True)
    y = F.one_hot(tg.tensor(_Y), 4).double()
    assert not y.requires_grad
    (g,) = tg.autograd.grad(F.cross_entropy(z, y), z, create_graph=True)
    (gt,) = torch.autograd.grad(TF.cross_entropy(zt, TF.one_hot(t(_Y), 4).double()), zt,
                                create_graph=True)
    (h,) = tg.autograd.grad((g * g).sum(), z)
    (ht,) = torch.autograd.grad((gt * gt).sum(), zt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-9, atol=1e-12)


NON_DIFFERENTIABLE = {"OneHot", "MaxPool2dIndices"}


def nn_primitives() -> set[str]:
    return {name for name, cls in PRIMITIVES.items()
            if cls.__module__.startswith("tinygrad_c2.nn.functional")}


def test_every_fused_primitive_of_nn_functional_has_a_double_backward_case():
    covered = {c.prim for c in CASES} | {"OneHot"}
    missing = nn_primitives() - covered
    assert not missing, f"nn.functional primitives without a double-backward case: {missing}"


def test_every_differentiable_nn_primitive_has_a_backward_graph():
    for name in nn_primitives() - NON_DIFFERENTIABLE:
        assert PRIMITIVES[name].backward_graph is not None, name



# ---------------------------------------------------------------- third order, float32, checks

THIRD = ["Linear-bias", "GELU-erf", "Softplus-beta-threshold", "ELU-alpha",
         "CrossEntropy-weight-ignore-smooth-mean", "CrossEntropy-probabilities-with-grad",
         "BCEWithLogits-pos-weight", "MSELoss-mean", "KLDivLoss-log-target-batchmean",
         "BatchNorm-train-affine-4d", "LayerNorm-last-dim", "Conv2d-stride=2-padding=1",
         "ConvTranspose2d-groups=2-dilation=2", "MaxPool2d-kernel_size=2",
         "LSTMRecurrence-one-layer", "GRURecurrence-one-layer", "RNNRecurrence-one-layer"]
BY_ID = {f"{c.prim}-{c.name}": c for c in CASES}


def _torch_norm(x, axes, w=None, b=None):
    """Batch or layer normalization composed of torch ops.

    NOTE: torch's fused layer_norm and batch_norm get the THIRD derivative wrong (their double
    backward is not differentiated exactly: 4.06 against 4.06e-15 for its own composite on a
    3x4 layer norm), so third order is checked against the composite.
    """
    xc = x - x.mean(axes, keepdim=True)
    y = xc * ((xc * xc).mean(axes, keepdim=True) + 1e-5) ** -0.5
    return y if w is None else y * w + b


THIRD_TORCH = {
    "BatchNorm-train-affine-4d": lambda x, w, b: _torch_norm(
        x, (0, 2, 3), w.reshape(1, -1, 1, 1), b.reshape(1, -1, 1, 1)).tanh(),
    "LayerNorm-last-dim": lambda x, w, b: _torch_norm(x, (-1,), w, b).tanh(),
}


def third_order(case: Case, lib: str) -> list:
    """d/dx of sum((d/dx sum(g . v)) . w): the third derivative contracted with u, v, w."""
    rng = np.random.default_rng(11)
    mod = tg if lib == "tg" else torch
    new = ((lambda a: tg.tensor(a, dtype=tg.float64, requires_grad=True)) if lib == "tg" else
           (lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)))
    grad = tg.autograd.grad if lib == "tg" else torch.autograd.grad
    xs = [new(a.copy()) for a in case.arrays]
    fn_torch = THIRD_TORCH.get(f"{case.prim}-{case.name}", case.fn_torch)
    y = (case.fn if lib == "tg" else fn_torch)(*xs)
    u = new(rng.standard_normal(tuple(y.shape)))
    gs = grad(y, xs, u, create_graph=True)
    s = sum((gi * mod.tensor(rng.standard_normal(tuple(gi.shape)))).sum() for gi in gs)
    hs = grad(s, xs, create_graph=True, allow_unused=True)
    s2 = sum((h * mod.tensor(rng.standard_normal(tuple(h.shape)))).sum() for h in hs
             if h is not None and h.requires_grad)
    return [None if d is None else np.array(d.detach().numpy())
            for d in grad(s2, [*xs, u], allow_unused=True)]


@pytest.mark.parametrize("name", THIRD)
def test_third_order_matches_torch(name):
    case = BY_ID[name]
    for i, (a, b) in enumerate(zip(third_order(case, "tg"), third_order(case, "torch"),
                                   strict=True)):
        if a is None and b is None:
            continue
        a = np.zeros_like(b) if a is None else a
        b = np.zeros_like(a) if b is None else b
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=f"{name}: input {i}")


@pytest.mark.parametrize("name", ["Linear-bias", "GELU-tanh", "CrossEntropy-weight",
                                  "BatchNorm-train-affine-2d", "LayerNorm-last-dim",
                                  "AvgPool2d-kernel_size=2", "Conv2d-groups=2-stride=(2, 1)",
                                  "LSTMRecurrence-one-layer", "Embedding-repeated"])
def test_float32_gradients_of_gradients_stay_float32_and_match_float64(name):
    case = BY_ID[name]
    xs = [tg.tensor(a.astype(np.float32), requires_grad=True) for a in case.arrays]
    y = case.fn(*xs)
    gs = tg.autograd.grad(y, xs, tg.ones(*y.shape, dtype=tg.float32), create_graph=True)
    total = sum((g * g).sum() for g in gs if g.requires_grad)
    hs = tg.autograd.grad(total, xs, allow_unused=True)
    xs64 = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in case.arrays]
    y64 = case.fn(*xs64)
    gs64 = tg.autograd.grad(y64, xs64, tg.ones(*y64.shape, dtype=tg.float64), create_graph=True)
    hs64 = tg.autograd.grad(sum((g * g).sum() for g in gs64 if g.requires_grad), xs64,
                            allow_unused=True)
    for g, h, h64 in zip(gs, hs, hs64, strict=True):
        assert g.dtype == np.float32
        if h64 is not None:
            assert h.dtype == np.float32
            np.testing.assert_allclose(h.numpy(), h64.numpy(), rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("name", ["Softplus-default", "CrossEntropy-probabilities-sum",
                                  "SmoothL1Loss-huber", "BatchNorm-train-plain-3d",
                                  "Pad-reflect", "Fold-overlap", "Unfold-padding-stride",
                                  "GRURecurrence-one-layer"])
def test_gradgradcheck_passes_on_fused_primitives(name):
    case = BY_ID[name]
    xs = [tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in case.arrays]
    assert tg.gradgradcheck(case.fn, xs)


def test_a_wrong_second_derivative_is_caught():
    # the check can fail: a Linear whose differentiable backward forgets dW's dependence on x
    from tinygrad_c2.nn.functional.linear import Linear

    right = Linear.backward_graph

    def wrong(ctx, g):
        gx, gw, gb = right(ctx, g)
        return gx, (None if gw is None else gw.detach()), gb

    case = BY_ID["Linear-bias"]
    Linear.backward_graph = staticmethod(wrong)
    try:
        with pytest.raises(AssertionError, match="second-order gradient of input 0"):
            assert_matches(case)
    finally:
        Linear.backward_graph = staticmethod(right)

"""The bad-input table: every wrong call a user is likely to make gets an exception of the right
type whose message names the op or layer, the values at fault and what was expected, raised
from tinygrad_c2's own code, never a bare numpy traceback from deep inside.

Each row is (what the user did, the call, the exception type, a regex the message must match).
A row may carry `core_gap=...`: an xfail naming the fix a core file still needs (none now).
"""

from __future__ import annotations

import pickle
import re
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import data, nn, optim, train
from tinygrad_c2.optim import lr_scheduler as sched

F = nn.functional
T = tg.tensor
PACKAGE = Path(tg.__file__).resolve().parent


@dataclass
class Bad:
    what: str
    call: Callable[[], object]
    exc: type[BaseException] | tuple[type[BaseException], ...]
    match: str
    core_gap: str | None = None  # set: an xfail, with the fix the core needs

    def param(self):  # noqa: ANN201
        marks = ()
        if self.core_gap:
            marks = (pytest.mark.xfail(strict=True, reason=self.core_gap),)
        return pytest.param(self, id=self.what, marks=marks)


def m23() -> tg.Tensor:
    return T(np.ones((2, 3)))


def w(*shape) -> tg.Tensor:  # a parameter-like leaf
    return T(np.ones(shape, np.float32), requires_grad=True)


def P():  # noqa: N802
    return [nn.Parameter(np.ones(3, np.float32))]


def sgd():
    return optim.SGD(P(), lr=0.1)


LOGITS = np.zeros((4, 3), np.float32)
X10, Y10 = np.ones((10, 2), np.float32), np.zeros(10, np.int64)


def _twice():
    x = w(2)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _no_grad_backward():
    x = w(1)
    with tg.no_grad():
        y = x * 2
    y.backward()


def _setitem():
    x = w(2)
    x[0] = 2.0


def _nonleaf_off():
    (w(1) * 2).requires_grad_(False)


def _bad_grad_step():
    p = P()[0]
    opt = optim.SGD([p], lr=0.1)
    p.grad = T(np.ones(4, np.float32))
    opt.step()


def _model():
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))


def _state(**changes):
    model = _model()
    state = dict(model.state_dict())
    for k, v in changes.items():
        if v is None:
            del state[k.replace("_", ".")]
        else:
            state[k.replace("_", ".")] = v
    return model, state


def _optim_groups():
    a = optim.Adam(P(), lr=0.1)
    b = optim.Adam(P() + P(), lr=0.1)
    b.load_state_dict(a.state_dict())


def _optim_state_shape():
    p = P()[0]
    a = optim.Adam([p], lr=0.1)
    p.grad = T(np.ones(3, np.float32))
    a.step()
    state = a.state_dict()
    state["state"][0]["exp_avg"] = np.zeros(5)
    optim.Adam(P(), lr=0.1).load_state_dict(state)


def _fit(model=None, opt=None, loss=None, train_data=(X10, Y10), **kw):
    model = model or nn.Linear(2, 2)
    opt = opt or optim.SGD(model.parameters(), lr=0.1)
    loss = loss if loss is not None else nn.CrossEntropyLoss()
    return train.fit(model, loss, opt, train_data, progress=False, verbose=False, **kw)


def _resume_with_other_callbacks(tmp: Path):
    path = tmp / "ckpt.tgc2"
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    train.fit(model, nn.CrossEntropyLoss(), opt, (X10, Y10), epochs=1, progress=False,
              verbose=False, callbacks=[train.Checkpoint(path)])
    train.fit(model, nn.CrossEntropyLoss(), opt, (X10, Y10), epochs=2, progress=False,
              verbose=False,
              callbacks=[train.EarlyStopping("train_loss"), train.Checkpoint(path)])


_TMP: list[Path] = []


def tmp() -> Path:
    """A scratch directory for the rows that touch files, made on first use."""
    if not _TMP:
        _TMP.append(Path(tempfile.mkdtemp(prefix="tg_hardening_")))
    return _TMP[0]


@pytest.fixture(autouse=True, scope="module")
def _remove_scratch_directory():
    yield
    for directory in _TMP:
        shutil.rmtree(directory, ignore_errors=True)


TENSOR_AND_OPS = [
    *[Bad(f"{name} of shapes (2, 3) and (3, 2)", fn, ValueError,
          rf"^{name}: .*broadcast.*\(input shapes: \(2, 3\), \(3, 2\)")
      for name, fn in [
          ("Add", lambda: m23() + T(np.ones((3, 2)))),
          ("Sub", lambda: m23() - T(np.ones((3, 2)))),
          ("Mul", lambda: m23() * T(np.ones((3, 2)))),
          ("Div", lambda: m23() / T(np.ones((3, 2)))),
          ("Pow", lambda: m23() ** T(np.ones((3, 2)))),
          ("Maximum", lambda: m23().maximum(T(np.ones((3, 2))))),
          ("Minimum", lambda: m23().minimum(T(np.ones((3, 2))))),
      ]],
    Bad("where with unbroadcastable branches", lambda: tg.where(np.ones((2, 3), bool), m23(),
                                                               T(np.ones((3, 2)))),
        ValueError, r"^Where: .*broadcast"),
    Bad("matmul (2, 3) @ (2, 3)", lambda: m23() @ m23(), ValueError,
        r"^MatMul: shapes \(2, 3\) @ \(2, 3\) do not match: the inner dimensions 3 and 2"),
    Bad("matmul with a 0-d operand", lambda: m23() @ T(np.float64(2.0)), ValueError,
        r"^MatMul: both operands need at least 1 dimension"),
    Bad("reshape (2, 3) to (4, 2)", lambda: m23().reshape(4, 2), ValueError,
        r"^Reshape: cannot view a tensor of shape \(2, 3\) \(6 elements\) as shape \(4, 2\)"),
    Bad("permute with a repeated dim", lambda: m23().permute(0, 0), ValueError,
        r"^permute: \(0, 0\) is not a permutation of the 2 dims"),
    Bad("expand (2, 3) to (4, 3)", lambda: m23().expand(4, 3), ValueError,
        r"^Expand: cannot expand shape \(2, 3\) to \(4, 3\)"),
    Bad("index past the end", lambda: m23()[5], IndexError,
        r"^Index: index 5 is out of bounds for axis 0 with size 2"),
    Bad("too many indices", lambda: m23()[0, 0, 0], IndexError, r"^Index: too many indices"),
    Bad("cat of mismatched shapes", lambda: tg.cat([m23(), T(np.ones((2, 4)))]), ValueError,
        r"^Cat: .*dimension 1.*size 3.*size 4"),
    Bad("cat of nothing", lambda: tg.cat([]), ValueError, r"^cat: expected a non-empty"),
    Bad("stack of mismatched shapes", lambda: tg.stack([m23(), T(np.ones((2, 4)))]),
        ValueError, r"^stack: all tensors need the same shape, got \[\(2, 3\), \(2, 4\)\]"),
    Bad("sum over dim 5 of a 2-D tensor", lambda: m23().sum(5), IndexError,
        r"^Sum: axis 5 is out of bounds"),
    Bad("mean over dim 5", lambda: m23().mean(5), IndexError,
        r"^mean: dim 5 is out of range for a tensor of shape \(2, 3\)"),
    Bad("var over dim 5", lambda: m23().var(5), IndexError, r"^var: dim 5 is out of range"),
    Bad("var of one element", lambda: T([1.0]).var(), ValueError,
        r"^var: 1 element\(s\) .* too few for correction=1"),
    Bad("max over dim 5", lambda: m23().max(5), IndexError, r"^Max: axis 5 is out of bounds"),
    Bad("max of an empty tensor", lambda: T(np.ones((0, 3))).max(), ValueError,
        r"^Max: cannot reduce an empty tensor of shape \(0, 3\)"),
    Bad("softmax over dim 5", lambda: m23().softmax(5), IndexError,
        r"^Softmax: axis 5 is out of bounds"),
    Bad("log_softmax over dim 5", lambda: m23().log_softmax(5), IndexError,
        r"^LogSoftmax: axis 5 is out of bounds"),
    Bad("unsqueeze at dim 5", lambda: m23().unsqueeze(5), IndexError,
        r"^unsqueeze: dim 5 out of range for a tensor of shape \(2, 3\)"),
    Bad("clamp without bounds", lambda: m23().clamp(), ValueError,
        r"^Clamp: at least one of min and max"),
    Bad("item of a 2-element tensor", lambda: T([1.0, 2.0]).item(), ValueError,
        r"^item: only a one-element tensor .* shape \(2,\)"),
    Bad("a tensor from None", lambda: T(None), TypeError,
        r"^Tensor: cannot make a tensor from NoneType"),
    Bad("requires_grad on an integer tensor", lambda: T([1, 2], requires_grad=True), TypeError,
        r"^requires_grad: only floating-point tensors .* int64"),
    Bad("transpose with dim 5", lambda: m23().transpose(0, 5), IndexError,
        r"^transpose: dim 5 .*out of range.*\(2, 3\)"),
    Bad("squeeze with dim 5 (silently squeezes dim 1)", lambda: T(np.ones((3, 1))).squeeze(5),
        IndexError, r"^squeeze: dim 5 .*out of range"),
    Bad("flatten from dim 5 (silently wraps)", lambda: m23().flatten(5), IndexError,
        r"^flatten: .*5.*out of range"),
    Bad("logsumexp over dim 5", lambda: m23().logsumexp(5), IndexError,
        r"^logsumexp: dim 5"),
    Bad("argmax over dim 5", lambda: m23().argmax(5), IndexError, r"^argmax: dim 5"),
    Bad("a tensor from a string", lambda: T("abc"), TypeError, r"^Tensor: .*str"),
    Bad("a tensor from a ragged list", lambda: T([[1.0, 2.0], [3.0]]), ValueError,
        r"^Tensor: .*ragged|^Tensor: .*same length"),
    Bad("tensor + a string", lambda: m23() + "a", TypeError, r"^Add: .*str"),
    Bad("tensor + None", lambda: m23() + None, TypeError, r"^Add: .*NoneType"),
    Bad("tensor @ a Python list", lambda: m23() @ [[1.0]], (TypeError, ValueError),
        r"^MatMul: "),
    Bad("cat along dim 3 of 2-D tensors", lambda: tg.cat([m23(), m23()], dim=3),
        (IndexError, ValueError), r"^[Cc]at: dim 3 .*out of range"),
    Bad("flatten with start_dim after end_dim", lambda: m23().flatten(1, 0), ValueError,
        r"^flatten: start_dim 1 comes after end_dim 0 for a tensor of shape \(2, 3\)"),
    Bad("sum over a float dim", lambda: m23().sum(dim=1.0), TypeError,
        r"^sum: dim must be an int or a tuple of ints, got 1.0"),
    Bad("argmax of an empty tensor", lambda: T(np.ones((0, 3))).argmax(), IndexError,
        r"^argmax: cannot take the argmax of an empty tensor of shape \(0, 3\)"),
    Bad("max over an empty dim", lambda: T(np.ones((0, 3))).max(0), IndexError,
        r"^Max: cannot reduce dim 0 of size 0"),
    Bad("cat of plain lists", lambda: tg.cat([[1.0, 2.0], [3.0]]), TypeError,
        r"^cat: expected a sequence of Tensors, element 0 is a list"),
    Bad("randn of a float size", lambda: tg.randn(2.5), TypeError,
        r"^randn: size must be ints, got 2.5 \(float\)"),
    Bad("zeros of a negative size", lambda: tg.zeros(2, -1), ValueError,
        r"^zeros: size must be non-negative, got \(2, -1\)"),
    Bad("arange with step 0", lambda: tg.arange(0, 5, 0), ValueError,
        r"^arange: step must be nonzero"),
    Bad("arange from 5 to 0 with step 1", lambda: tg.arange(5, 0), ValueError,
        r"^arange: the range 5 to 0 is inconsistent with step 1"),
    Bad("backward with a string gradient", lambda: (w(2) * 2).backward("ab"),
        (TypeError, ValueError), r"^backward: "),
]

LAYERS = [
    Bad("Linear(3, 4) on input of width 5", lambda: nn.Linear(3, 4)(T(np.ones((2, 5)))),
        ValueError, r"^linear: input of shape \(2, 5\) does not fit weight of shape \(4, 3\): "
                    r"expected \(\.\.\., 3\)"),
    Bad("Linear on a 0-d input", lambda: nn.Linear(3, 4)(T(np.float32(1.0))), ValueError,
        r"^linear: input of shape \(\) does not fit"),
    Bad("Linear on a Python list", lambda: nn.Linear(3, 4)([[1.0, 2.0, 3.0]]), TypeError,
        r"^Linear: expected a Tensor input, got list"),
    Bad("F.linear with a wrong bias", lambda: F.linear(m23(), T(np.ones((4, 3))),
                                                       T(np.ones(5))),
        ValueError, r"^linear: bias of shape \(5,\) does not fit weight \(4, 3\): expected \(4,\)"),
    # the bias test counts dimensions and lengths: a one-element, 0-d or (1, out) bias that
    # numpy would broadcast is refused the same way
    *(Bad(f"F.linear with a bias of shape {shape}",
          lambda shape=shape: F.linear(m23(), T(np.ones((4, 3))), T(np.ones(shape))),
          ValueError, rf"^linear: bias of shape {re.escape(str(shape))} does not fit weight "
                      r"\(4, 3\): expected \(4,\)")
      for shape in [(1,), (), (1, 4), (4, 1)]),
    Bad("Sequential whose layers do not chain",
        lambda: nn.Sequential(nn.Linear(2, 3), nn.Linear(4, 2))(T(np.ones((5, 2), np.float32))),
        ValueError, r"^linear: input of shape \(5, 3\) does not fit weight of shape \(2, 4\)"),
    Bad("Linear(-1, 3)", lambda: nn.Linear(-1, 3), ValueError,
        r"^Linear: in_features must be a non-negative int, got -1"),
    Bad("Linear(2.5, 3)", lambda: nn.Linear(2.5, 3), ValueError,
        r"^Linear: in_features must be a non-negative int, got 2.5"),
    Bad("Linear with an integer dtype", lambda: nn.Linear(2, 3, dtype=np.int64), TypeError,
        r"^Linear: dtype must be a floating-point dtype .* got int64"),
    Bad("Linear on device cuda", lambda: nn.Linear(2, 3, device="cuda"), ValueError,
        r"^Linear: only device='cpu' exists"),
    Bad("BatchNorm1d(3) on 4 channels", lambda: nn.BatchNorm1d(3)(T(np.ones((2, 4)))),
        ValueError, r"^BatchNorm1d\(3\): input has 4 channels in dimension 1 \(shape \(2, 4\)\), "
                    r"expected 3"),
    Bad("BatchNorm1d on 1-D input", lambda: nn.BatchNorm1d(3)(T(np.ones(3))), ValueError,
        r"^BatchNorm1d: expected 2-D \(N, C\) or 3-D \(N, C, L\) input, got shape \(3,\)"),
    Bad("BatchNorm1d training on a batch of 1", lambda: nn.BatchNorm1d(3)(T(np.ones((1, 3)))),
        ValueError, r"^batch_norm: expected more than 1 value per channel when training, got "
                    r"input of shape \(1, 3\)"),
    Bad("BatchNorm1d training on an empty batch", lambda: nn.BatchNorm1d(3)(T(np.ones((0, 3)))),
        ValueError, r"^batch_norm: expected more than 1 value per channel .* \(0, 3\)"),
    Bad("BatchNorm1d on a list", lambda: nn.BatchNorm1d(3)([[1.0, 2.0, 3.0]]), TypeError,
        r"^BatchNorm1d: expected a Tensor input, got list"),
    Bad("BatchNorm1d(0)", lambda: nn.BatchNorm1d(0), ValueError,
        r"^BatchNorm1d: num_features must be a positive int, got 0"),
    Bad("BatchNorm1d(eps=0)", lambda: nn.BatchNorm1d(3, eps=0), ValueError,
        r"^BatchNorm1d: eps must be positive, got 0"),
    Bad("BatchNorm1d(eps='a')", lambda: nn.BatchNorm1d(3, eps="a"), TypeError,
        r"^BatchNorm1d: eps must be a number, got 'a'"),
    Bad("BatchNorm1d(momentum=2)", lambda: nn.BatchNorm1d(3, momentum=2), ValueError,
        r"^BatchNorm1d: momentum must be in \[0, 1\] or None, got 2"),
    Bad("BatchNorm1d with an integer dtype", lambda: nn.BatchNorm1d(3, dtype=np.int32),
        TypeError, r"^BatchNorm1d: dtype must be a floating-point dtype .* got int32"),
    Bad("Dropout(p=1.5)", lambda: nn.Dropout(1.5), ValueError,
        r"^Dropout: p \(drop probability\) must be in \[0, 1\], got 1.5"),
    Bad("Dropout(p='0.5')", lambda: nn.Dropout("0.5"), ValueError,
        r"^Dropout: p \(drop probability\) must be in \[0, 1\], got '0.5'"),
    Bad("F.dropout(p=-0.1)", lambda: F.dropout(T([1.0]), p=-0.1), ValueError,
        r"^dropout: p is a drop probability in \[0, 1\], got -0.1"),
    Bad("Softmax(dim=3) on 2-D input", lambda: nn.Softmax(dim=3)(m23()), IndexError,
        r"^Softmax: axis 3 is out of bounds"),
    Bad("Softmax(dim='a')", lambda: nn.Softmax(dim="a"), TypeError,
        r"^Softmax: dim must be an int or None, got 'a'"),
    Bad("LogSoftmax(dim=1.0)", lambda: nn.LogSoftmax(dim=1.0), TypeError,
        r"^LogSoftmax: dim must be an int or None, got 1.0"),
    Bad("LeakyReLU('a')", lambda: nn.LeakyReLU("a"), TypeError,
        r"^LeakyReLU: negative_slope must be a number, got 'a'"),
    Bad("GELU(approximate='erf')", lambda: nn.GELU("erf"), ValueError,
        r"^GELU: approximate must be 'none' or 'tanh', got 'erf'"),
    Bad("F.gelu(approximate=True)", lambda: F.gelu(m23(), approximate=True), ValueError,
        r"^gelu: approximate must be 'none' or 'tanh', got True"),
    Bad("Softplus(beta=0)", lambda: nn.Softplus(beta=0), ValueError,
        r"^Softplus: beta must be nonzero"),
    Bad("Softplus(threshold='a')", lambda: nn.Softplus(threshold="a"), TypeError,
        r"^Softplus: threshold must be a number, got 'a'"),
    Bad("ELU(alpha=None)", lambda: nn.ELU(alpha=None), TypeError,
        r"^ELU: alpha must be a number, got None"),
    Bad("Hardtanh(1, -1)", lambda: nn.Hardtanh(1.0, -1.0), ValueError,
        r"^Hardtanh: max_val must be >= min_val, got min_val=1.0, max_val=-1.0"),
    Bad("Hardtanh(min_val='a')", lambda: nn.Hardtanh("a"), TypeError,
        r"^Hardtanh: min_val must be a number, got 'a'"),
    Bad("ModuleDict of a non-module", lambda: nn.ModuleDict({"fc": "linear"}), TypeError,
        r"^ModuleDict: 'fc' must be an nn.Module, got str"),
    Bad("ModuleDict key with a dot", lambda: nn.ModuleDict({"a.b": nn.ReLU()}), KeyError,
        r"module name can.{1,2}t be empty or contain"),
    Bad("ParameterList of a string", lambda: nn.ParameterList(["w"]), TypeError,
        r"^ParameterList: expected an nn.Parameter or a tensor, got str"),
    Bad("ParameterList index 2 of 1", lambda: nn.ParameterList([np.ones(1)])[2], IndexError,
        r"^ParameterList index 2 is out of range for length 1"),
    Bad("ParameterDict of a number", lambda: nn.ParameterDict({"w": 1.0}), TypeError,
        r"^ParameterDict: expected an nn.Parameter or a tensor, got float"),
    Bad("vector_to_parameters of the wrong length",
        lambda: nn.utils.vector_to_parameters(T(np.ones(3)), nn.Linear(2, 2).parameters()),
        ValueError, r"^vector_to_parameters: vec has shape \(3,\), expected \(6,\)"),
    Bad("Flatten(5) on 2-D input", lambda: nn.Flatten(5)(m23()), IndexError,
        r"^Flatten\(start_dim=5, end_dim=-1\): invalid for input of shape \(2, 3\)"),
    Bad("Flatten('1')", lambda: nn.Flatten("1"), TypeError,
        r"^Flatten: start_dim must be an int, got '1'"),
    Bad("Sequential of a string", lambda: nn.Sequential(nn.Linear(2, 3), "relu"), TypeError,
        r"^Sequential: argument 1 is str, expected an nn.Module"),
    Bad("Sequential of a function", lambda: nn.Sequential(nn.Linear(2, 3), F.relu), TypeError,
        r"^Sequential: argument 1 is function, expected an nn.Module"),
    Bad("an array assigned to a parameter slot",
        lambda: setattr(nn.Linear(2, 3), "weight", np.ones((3, 2))), TypeError,
        r"cannot assign ndarray as parameter 'weight' of Linear \(nn.Parameter or None "
        r"expected\)"),
    Bad("Parameter of integers", lambda: nn.Parameter(np.ones(3, np.int64)), TypeError,
        r"^Parameter: expected floating-point data, got dtype int64"),
    Bad("Parameter of booleans", lambda: nn.Parameter(np.ones(3, bool)), TypeError,
        r"^Parameter: expected floating-point data, got dtype bool"),
]

LOSSES = [
    Bad("cross_entropy label 3 with 3 classes", lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2, 3])),
        ValueError, r"^cross_entropy: class labels must be in \[0, 3\), got values from 0 to 3"),
    Bad("cross_entropy label -1", lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2, -1])),
        ValueError, r"^cross_entropy: class labels must be in \[0, 3\), got values from -1 to 2"),
    Bad("cross_entropy with 3 labels for 4 rows", lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2])),
        ValueError, r"^cross_entropy: integer targets must have shape \(4,\) for logits \(4, 3\), "
                    r"got \(3,\)"),
    Bad("cross_entropy with boolean labels",
        lambda: F.cross_entropy(T(LOGITS), T(np.array([True, False, True, False]))), ValueError,
        r"^cross_entropy: target must be integer class labels or float class probabilities, "
        r"got dtype bool"),
    Bad("cross_entropy with string labels",
        lambda: F.cross_entropy(T(LOGITS), np.array(["a", "b", "c", "d"])), ValueError,
        r"^cross_entropy: target must be integer class labels .* got dtype <U1"),
    Bad("cross_entropy on (N, C, d) logits with (N,) labels",
        lambda: F.cross_entropy(T(np.zeros((4, 3, 2))), T([0, 1, 2, 1])), ValueError,
        r"^cross_entropy: for input of shape \(4, 3, 2\) the target must have shape \(4, 2\), "
        r"got \(4,\)"),
    Bad("cross_entropy reduction='avg'", lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2, 1]),
                                                                reduction="avg"),
        ValueError, r"^cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    Bad("cross_entropy label_smoothing=2",
        lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2, 1]), label_smoothing=2), ValueError,
        r"^cross_entropy: label_smoothing must be in \[0, 1\], got 2"),
    Bad("cross_entropy with float labels of shape (N,)",
        lambda: F.cross_entropy(T(LOGITS), T([0.0, 1.0, 2.0, 1.0])), ValueError,
        r"^cross_entropy: .*integer.*float32"),
    Bad("nll_loss label out of range", lambda: F.nll_loss(T(LOGITS), T([0, 1, 2, 3])),
        ValueError, r"^nll_loss: class labels must be in \[0, 3\), got values from 0 to 3"),
    Bad("nll_loss with float labels", lambda: F.nll_loss(T(LOGITS), T([0.0, 1.0, 2.0, 1.0])),
        ValueError, r"^nll_loss: expected \(N, C\) log-probabilities and \(N,\) integer labels, "
                    r"got \(4, 3\) and \(4,\) float32"),
    Bad("binary_cross_entropy on a probability of 1.5",
        lambda: F.binary_cross_entropy(T([0.5, 1.5]), T([0.0, 1.0])), ValueError,
        r"^binary_cross_entropy: inputs must be probabilities in \[0, 1\], got values from 0.5 "
        r"to 1.5 \(use binary_cross_entropy_with_logits"),
    *[Bad(f"{name} of shapes (2,) and (2, 1)", fn, ValueError,
          rf"^{name}: input shape \(2,\) and target shape \(2, 1\) differ")
      for name, fn in [
          ("binary_cross_entropy", lambda: F.binary_cross_entropy(T([0.5, 0.5]),
                                                                  T([[0.0], [1.0]]))),
          ("binary_cross_entropy_with_logits",
           lambda: F.binary_cross_entropy_with_logits(T([0.5, 0.5]), T([[0.0], [1.0]]))),
          ("mse_loss", lambda: F.mse_loss(T([0.5, 0.5]), T([[0.0], [1.0]]))),
          ("l1_loss", lambda: F.l1_loss(T([0.5, 0.5]), T([[0.0], [1.0]]))),
      ]],
    Bad("pos_weight of the wrong length",
        lambda: F.binary_cross_entropy_with_logits(T([[0.5, 0.5]]), T([[0.0, 1.0]]),
                                                   pos_weight=T([1.0, 2.0, 3.0])),
        ValueError, r"^BCEWithLogits: .*broadcast"),
    Bad("BCEWithLogitsLoss(pos_weight='a')", lambda: nn.BCEWithLogitsLoss(pos_weight="a"),
        TypeError, r"^BCEWithLogitsLoss: pos_weight must be a number or a 1-D tensor"),
    Bad("CrossEntropyLoss(reduction='avg')", lambda: nn.CrossEntropyLoss(reduction="avg"),
        ValueError, r"^CrossEntropyLoss: reduction must be one of \('mean', 'sum', 'none'\), "
                    r"got 'avg'"),
    Bad("CrossEntropyLoss(label_smoothing=-1)",
        lambda: nn.CrossEntropyLoss(label_smoothing=-1), ValueError,
        r"^CrossEntropyLoss: label_smoothing must be in \[0, 1\], got -1"),
    Bad("MSELoss(reduction=None)", lambda: nn.MSELoss(reduction=None), ValueError,
        r"^MSELoss: reduction must be one of"),
    Bad("cross_entropy weight of the wrong length",
        lambda: F.cross_entropy(T(LOGITS), T([0, 1, 2, 1]), weight=T([1.0, 2.0])), ValueError,
        r"^cross_entropy: weight must hold one value per class, shape \(3,\), got shape "
        r"\(2,\)"),
    Bad("nll_loss weight of the wrong length",
        lambda: F.nll_loss(T(LOGITS), T([0, 1, 2, 1]), weight=T(np.ones((3, 1)))), ValueError,
        r"^nll_loss: weight must hold one value per class, shape \(3,\), got shape \(3, 1\)"),
    Bad("nll_loss on (N, C, d) with (N,) labels",
        lambda: F.nll_loss(T(np.zeros((4, 3, 2))), T([0, 1, 2, 1])), ValueError,
        r"^nll_loss: for input of shape \(4, 3, 2\) the target must have shape \(4, 2\)"),
    Bad("CrossEntropyLoss(size_average=False)",
        lambda: nn.CrossEntropyLoss(size_average=False), ValueError,
        r"^CrossEntropyLoss: size_average and reduce are deprecated in PyTorch"),
    Bad("CrossEntropyLoss(weight=['a'])", lambda: nn.CrossEntropyLoss(weight=["a"]), TypeError,
        r"^CrossEntropyLoss: weight must be a float tensor, got dtype <U1"),
    Bad("BCELoss weight that broadcasts the loss",
        lambda: F.binary_cross_entropy(T([0.5, 0.5]), T([0.0, 1.0]), weight=T(np.ones((3, 2)))),
        ValueError, r"^binary_cross_entropy: weight of shape \(3, 2\) would broadcast"),
    Bad("SmoothL1Loss(beta=-1)", lambda: nn.SmoothL1Loss(beta=-1.0), ValueError,
        r"^SmoothL1Loss: beta must be >= 0, got -1.0"),
    Bad("F.smooth_l1_loss shapes differ",
        lambda: F.smooth_l1_loss(T([0.5, 0.5]), T([[0.0], [1.0]])), ValueError,
        r"^smooth_l1_loss: input shape \(2,\) and target shape \(2, 1\) differ"),
    Bad("HuberLoss(delta=0)", lambda: nn.HuberLoss(delta=0), ValueError,
        r"^HuberLoss: delta must be > 0, got 0"),
    Bad("F.huber_loss(delta=-1)", lambda: F.huber_loss(T([0.5]), T([0.0]), delta=-1), ValueError,
        r"^huber_loss: delta must be > 0, got -1"),
    Bad("KLDivLoss(reduction='batch')", lambda: nn.KLDivLoss(reduction="batch"), ValueError,
        r"^KLDivLoss: reduction must be one of \('mean', 'sum', 'none', 'batchmean'\)"),
    Bad("F.kl_div shapes differ",
        lambda: F.kl_div(T([0.5, 0.5]), T([[0.0], [1.0]]), reduction="sum"), ValueError,
        r"^kl_div: input shape \(2,\) and target shape \(2, 1\) differ"),
    Bad("F.one_hot of float labels", lambda: F.one_hot(T([0.0, 1.0]), 2), TypeError,
        r"^one_hot: labels must be integers, got dtype float32"),
    Bad("F.one_hot label 5 of 2 classes", lambda: F.one_hot(T([0, 5]), 2), ValueError,
        r"^one_hot: labels must be in \[0, 2\), got values from 0 to 5"),
    Bad("data.one_hot of float labels", lambda: data.one_hot(np.array([0.5, 1.0]), 2), TypeError,
        r"^one_hot: y must hold integer class labels, got dtype float64"),
    Bad("mse_loss with a list target of the wrong shape",
        lambda: F.mse_loss(T([0.5, 0.5]), [[0.0], [1.0]]), ValueError,
        r"^mse_loss: input shape \(2,\) and target shape \(2, 1\) differ"),
]

OPTIMIZERS = {
    "SGD": optim.SGD, "Momentum": optim.Momentum, "RMSprop": optim.RMSprop,
    "Adam": optim.Adam, "AdamW": optim.AdamW, "Adagrad": optim.Adagrad,
    "Adadelta": optim.Adadelta, "Adamax": optim.Adamax, "NAdam": optim.NAdam,
}

HYPERPARAMETERS = [
    *[Bad(f"{name}(lr={lr!r})", (lambda c=cls, v=lr: c(P(), lr=v)), exc,
          rf"^{name}: .*lr .*{msg}")
      for name, cls in OPTIMIZERS.items()
      for lr, exc, msg in [(-1, ValueError, r"-1 .*expected lr >= 0"),
                           (float("nan"), ValueError, r"nan .*expected a finite number"),
                           (float("inf"), ValueError, r"inf .*expected a finite number"),
                           ("0.1", TypeError, r"must be a number .*'0.1' \(str\)"),
                           (None, TypeError, r"must be a number .*None")]],
    Bad("SGD(momentum=-1)", lambda: optim.SGD(P(), lr=0.1, momentum=-1), ValueError,
        r"^SGD: invalid momentum -1 in defaults \(expected momentum >= 0\)"),
    Bad("SGD(nesterov=True) without momentum", lambda: optim.SGD(P(), lr=0.1, nesterov=True),
        ValueError, r"^SGD: invalid nesterov True .*momentum > 0 and dampening == 0"),
    Bad("SGD(weight_decay=nan)", lambda: optim.SGD(P(), lr=0.1, weight_decay=float("nan")),
        ValueError, r"^SGD: invalid weight_decay nan"),
    Bad("Momentum(beta=1)", lambda: optim.Momentum(P(), lr=0.1, beta=1), ValueError,
        r"^Momentum: invalid beta 1 in defaults \(expected 0 <= beta < 1\)"),
    Bad("RMSprop(alpha=2)", lambda: optim.RMSprop(P(), lr=0.1, alpha=2), ValueError,
        r"^RMSprop: invalid alpha 2 .*0 <= alpha <= 1"),
    Bad("RMSprop(eps=-1)", lambda: optim.RMSprop(P(), lr=0.1, eps=-1), ValueError,
        r"^RMSprop: invalid eps -1"),
    Bad("Adam(betas=(0.9, 1.0))", lambda: optim.Adam(P(), betas=(0.9, 1.0)), ValueError,
        r"^Adam: invalid betas\[1\] 1.0 in defaults \(expected 0 <= beta < 1\)"),
    Bad("Adam(betas=0.9)", lambda: optim.Adam(P(), betas=0.9), ValueError,
        r"^Adam: invalid betas 0.9 .*a pair"),
    Bad("Adam(betas=('0.9', 0.99))", lambda: optim.Adam(P(), betas=("0.9", 0.99)), TypeError,
        r"^Adam: betas\[0\] must be a number"),
    Bad("Adam(eps=-1)", lambda: optim.Adam(P(), eps=-1), ValueError, r"^Adam: invalid eps -1"),
    Bad("a param group with lr=-1",
        lambda: optim.SGD([{"params": P(), "lr": -1}], lr=0.1), ValueError,
        r"^SGD: invalid lr -1 in param_groups\[0\]"),
    Bad("an optimizer of no parameters", lambda: optim.Adam([]), ValueError,
        r"^Adam: got an empty parameter list"),
    Bad("an optimizer of a bare tensor", lambda: optim.Adam(P()[0]), TypeError,
        r"^Adam: params should be an iterable .* got a single Tensor"),
    Bad("an optimizer of an integer tensor", lambda: optim.Adam([T([1, 2])]), TypeError,
        r"^Adam: param_groups\[0\] params\[0\] has dtype int64; only floating-point"),
    Bad("an optimizer of a non-leaf", lambda: optim.Adam([P()[0] * 2]), ValueError,
        r"^Adam: param_groups\[0\] params\[0\] is not a leaf tensor"),
    Bad("an optimizer of numpy arrays", lambda: optim.Adam([np.ones(3)]), TypeError,
        r"^Adam: param_groups\[0\] params\[0\] is a ndarray, not Tensor"),
    Bad("a parameter listed twice", lambda: optim.Adam(P() * 2), ValueError,
        r"^Adam: a parameter appears twice"),
    Bad("EWA(beta=1)", lambda: optim.EWA(beta=1), ValueError,
        r"^EWA: invalid beta 1 \(expected 0 <= beta < 1\)"),
    Bad("StepLR(step_size=0)", lambda: sched.StepLR(sgd(), step_size=0), ValueError,
        r"^StepLR: step_size must be a positive integer, got 0"),
    Bad("StepLR(gamma=-1)", lambda: sched.StepLR(sgd(), step_size=1, gamma=-1), ValueError,
        r"^StepLR: gamma must be a finite number > 0.0, got -1"),
    Bad("StepLR of a string", lambda: sched.StepLR("opt", step_size=1), TypeError,
        r"^StepLR: str is not an Optimizer"),
    Bad("MultiStepLR(milestones=[1.5])", lambda: sched.MultiStepLR(sgd(), milestones=[1.5]),
        ValueError, r"^MultiStepLR: milestones must be integers, got 1.5"),
    Bad("ExponentialLR(gamma=nan)", lambda: sched.ExponentialLR(sgd(), gamma=float("nan")),
        ValueError, r"^ExponentialLR: gamma must be a finite number > 0.0, got nan"),
    Bad("CosineAnnealingLR(T_max=0)", lambda: sched.CosineAnnealingLR(sgd(), T_max=0),
        ValueError, r"^CosineAnnealingLR: T_max must be a positive integer, got 0"),
    Bad("CosineAnnealingLR(eta_min=-1)",
        lambda: sched.CosineAnnealingLR(sgd(), T_max=3, eta_min=-1), ValueError,
        r"^CosineAnnealingLR: eta_min must be a finite number >= 0.0, got -1"),
    Bad("LambdaLR of a number", lambda: sched.LambdaLR(sgd(), lr_lambda=3), TypeError,
        r"^LambdaLR: lr_lambda must be a function of the epoch, got int"),
    Bad("LambdaLR with two lambdas for one group",
        lambda: sched.LambdaLR(sgd(), lr_lambda=[lambda e: 1, lambda e: 1]), ValueError,
        r"^LambdaLR: expected 1 lr_lambdas \(one per group\), got 2"),
    Bad("ReduceLROnPlateau(factor=2)", lambda: sched.ReduceLROnPlateau(sgd(), factor=2),
        ValueError, r"^ReduceLROnPlateau: factor must be < 1.0, got 2"),
    Bad("ReduceLROnPlateau(factor=-1)", lambda: sched.ReduceLROnPlateau(sgd(), factor=-1),
        ValueError, r"^ReduceLROnPlateau: factor must be a finite number >= 0.0, got -1"),
    Bad("ReduceLROnPlateau(patience=-1)", lambda: sched.ReduceLROnPlateau(sgd(), patience=-1),
        ValueError, r"^ReduceLROnPlateau: patience must be an int >= 0, got -1"),
    Bad("ReduceLROnPlateau(mode='avg')", lambda: sched.ReduceLROnPlateau(sgd(), mode="avg"),
        ValueError, r"^ReduceLROnPlateau: mode must be 'min' or 'max', got 'avg'"),
    Bad("ReduceLROnPlateau.step('a')", lambda: sched.ReduceLROnPlateau(sgd()).step("a"),
        TypeError, r"^ReduceLROnPlateau.step: metrics must be a number .* got 'a'"),
    Bad("InverseTimeDecay(decay_rate=-1)",
        lambda: sched.InverseTimeDecay(sgd(), decay_rate=-1), ValueError,
        r"^InverseTimeDecay: decay_rate must be a finite number >= 0.0, got -1"),
    Bad("InverseTimeDecay(decay_rate='1')",
        lambda: sched.InverseTimeDecay(sgd(), decay_rate="1"), TypeError,
        r"^InverseTimeDecay: decay_rate must be a number, got '1'"),
    Bad("InverseTimeDecay(time_interval=0)",
        lambda: sched.InverseTimeDecay(sgd(), decay_rate=1, time_interval=0), ValueError,
        r"^InverseTimeDecay: time_interval must be a positive integer, got 0"),
    Bad("InverseSqrtDecay(k=0)", lambda: sched.InverseSqrtDecay(sgd(), k=0), ValueError,
        r"^InverseSqrtDecay: k must be a finite number > 0.0, got 0"),
    Bad("ExponentialDecay(base=2)", lambda: sched.ExponentialDecay(sgd(), base=2), ValueError,
        r"^ExponentialDecay: base must be in \(0, 1\], got 2"),
    Bad("LinearDecay(tau=0)", lambda: sched.LinearDecay(sgd(), tau=0), ValueError,
        r"^LinearDecay: tau must be a positive integer, got 0"),
    Bad("Adagrad(lr_decay=-1)", lambda: optim.Adagrad(P(), lr_decay=-1), ValueError,
        r"^Adagrad: invalid lr_decay -1 in defaults \(expected lr_decay >= 0\)"),
    Bad("Adadelta(rho=2)", lambda: optim.Adadelta(P(), rho=2), ValueError,
        r"^Adadelta: invalid rho 2 in defaults \(expected 0 <= rho <= 1\)"),
    Bad("Adamax(betas=(1.0, 0.9))", lambda: optim.Adamax(P(), betas=(1.0, 0.9)), ValueError,
        r"^Adamax: invalid betas\[0\] 1.0 in defaults \(expected 0 <= beta < 1\)"),
    Bad("NAdam(momentum_decay=-1)", lambda: optim.NAdam(P(), momentum_decay=-1), ValueError,
        r"^NAdam: invalid momentum_decay -1 in defaults \(expected momentum_decay >= 0\)"),
    Bad("ConstantLR(factor=2)", lambda: sched.ConstantLR(sgd(), factor=2), ValueError,
        r"^ConstantLR: factor must be a finite number in \[0.0, 1.0\], got 2"),
    Bad("LinearLR(start_factor=0)", lambda: sched.LinearLR(sgd(), start_factor=0), ValueError,
        r"^LinearLR: start_factor must be a finite number in \(0.0, 1.0\], got 0"),
    Bad("PolynomialLR(total_iters=0)", lambda: sched.PolynomialLR(sgd(), total_iters=0),
        ValueError, r"^PolynomialLR: total_iters must be a positive integer, got 0"),
    Bad("CosineAnnealingWarmRestarts(T_mult=0)",
        lambda: sched.CosineAnnealingWarmRestarts(sgd(), T_0=2, T_mult=0), ValueError,
        r"^CosineAnnealingWarmRestarts: T_mult must be a positive integer, got 0"),
    Bad("OneCycleLR without total_steps", lambda: sched.OneCycleLR(sgd(), max_lr=0.1),
        ValueError, r"^OneCycleLR: give total_steps, or both epochs and steps_per_epoch"),
    Bad("OneCycleLR stepped past total_steps",
        lambda: [s.step() for s in [sched.OneCycleLR(sgd(), 0.1, total_steps=2)] * 3],
        ValueError, r"^OneCycleLR: tried to step 3 times, but total_steps is 2"),
    Bad("SequentialLR with too few milestones",
        lambda: (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 1)] * 2, milestones=[]))(sgd()),
        ValueError, r"^SequentialLR: expected 1 milestones \(one fewer than the 2 schedulers\)"),
    Bad("ChainedScheduler of another optimizer's scheduler",
        lambda: sched.ChainedScheduler([sched.StepLR(sgd(), 1)], optimizer=sgd()), ValueError,
        r"^ChainedScheduler: schedulers\[0\] \(StepLR\) belongs to another optimizer"),
    Bad("a scheduler resumed without initial_lr",
        lambda: sched.StepLR(sgd(), step_size=1, last_epoch=5), KeyError,
        r"StepLR: param_groups\[0\] has no 'initial_lr', needed to resume at last_epoch=5"),
    Bad("DataLoader(batch_size=0)", lambda: data.DataLoader((X10, Y10), batch_size=0),
        ValueError, r"^DataLoader: batch_size must be an int >= 1, got 0"),
    Bad("DataLoader(batch_size=2.5)", lambda: data.DataLoader((X10, Y10), batch_size=2.5),
        ValueError, r"^DataLoader: batch_size must be an int >= 1, got 2.5"),
    Bad("DataLoader of X and y of different lengths",
        lambda: data.DataLoader((X10, Y10[:5])), ValueError,
        r"^TensorDataset: all arrays need the same first dimension .* \(10, 2\), \(5,\)"),
    Bad("DataLoader(seed='a')", lambda: data.DataLoader((X10, Y10), seed="a"), TypeError,
        r"^DataLoader: seed must be None, an int or a numpy Generator, got str"),
    Bad("DataLoader(seed=-1)", lambda: data.DataLoader((X10, Y10), seed=-1), ValueError,
        r"^DataLoader: seed must be a non-negative integer, got -1"),
    Bad("DataLoader(transform=3)", lambda: data.DataLoader((X10, Y10), transform=3), TypeError,
        r"^DataLoader: transform must be callable"),
    Bad("DataLoader of a number", lambda: data.DataLoader(3), TypeError,
        r"^DataLoader: data must be \(X, y\) arrays/Tensors, an array or a Dataset, got int"),
    Bad("split ratios summing to 1.5",
        lambda: data.train_dev_test_split(X10, Y10, ratios=(0.5, 0.5, 0.5)), ValueError,
        r"^train_dev_test_split: ratios must sum to 1, got \(0.5, 0.5, 0.5\) \(sum 1.5\)"),
    Bad("split with a negative ratio",
        lambda: data.train_dev_test_split(X10, Y10, ratios=(1.2, -0.1, -0.1)), ValueError,
        r"^train_dev_test_split: ratios must be three numbers >= 0"),
    Bad("split with two ratios", lambda: data.train_dev_test_split(X10, Y10, ratios=(0.5, 0.5)),
        ValueError, r"^train_dev_test_split: ratios must be three numbers"),
    Bad("split of X and y of different lengths",
        lambda: data.train_dev_test_split(X10, Y10[:5]), ValueError,
        r"^train_dev_test_split: X and y must have the same number of examples .* X \(10, 2\) "
        r"and y \(5,\)"),
    Bad("split of no examples", lambda: data.train_dev_test_split(X10[:0], Y10[:0]), ValueError,
        r"^train_dev_test_split: X and y hold no examples"),
    Bad("Standardizer used before fit", lambda: data.Standardizer().transform(X10),
        RuntimeError, r"^Standardizer.transform: call fit\(X_train\) first"),
    Bad("Standardizer on the wrong width",
        lambda: data.Standardizer().fit(X10).transform(np.ones((3, 5))), ValueError,
        r"^Standardizer.transform: expected X of shape \(m, 2\) like the training data, got "
        r"\(3, 5\)"),
    Bad("make_moons(-1)", lambda: data.make_moons(-1), ValueError,
        r"^make_moons: n_samples must be >= 2, got -1"),
    Bad("EarlyStopping(patience=-1)", lambda: train.EarlyStopping(patience=-1), ValueError,
        r"^EarlyStopping: patience must be an int >= 0, got -1"),
    Bad("Checkpoint(every=0)", lambda: train.Checkpoint(tmp() / "c", every=0), ValueError,
        r"^Checkpoint: every must be an int >= 1, got 0"),
    Bad("fit(epochs=-1)", lambda: _fit(epochs=-1), ValueError,
        r"^fit: epochs must be an int >= 0, got -1"),
    Bad("fit(batch_size=0)", lambda: _fit(batch_size=0), ValueError,
        r"^DataLoader: batch_size must be an int >= 1, got 0"),
    Bad("fit with an unknown metric", lambda: _fit(metrics=["acc"]), ValueError,
        r"^fit: unknown metric 'acc'"),
    Bad("fit(scheduler_interval='batch')",
        lambda: _fit(scheduler=sched.StepLR(sgd(), 1), scheduler_interval="batch"), ValueError,
        r"^SchedulerStep: interval must be 'epoch' or 'step', got 'batch'"),
    Bad("fit with a string loss", lambda: _fit(loss="ce"), TypeError,
        r"^fit: loss_fn must be callable .* got str"),
    Bad("fit with a non-callback", lambda: _fit(callbacks=[3]), TypeError,
        r"^fit: callbacks\[0\] is a int, not a tg.train.Callback"),
    Bad("fit with another model's optimizer",
        lambda: _fit(opt=optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)), ValueError,
        r"^fit: the optimizer holds none of the model's parameters"),
    Bad("fit on an empty training set", lambda: _fit(train_data=(X10[:0], Y10[:0])),
        ValueError, r"^fit: the training data gives no mini-batches"),
    Bad("fit with float labels for cross-entropy",
        lambda: _fit(train_data=(X10, Y10.astype(np.float32))), ValueError,
        r"^cross_entropy: (input shape \(10, 2\) and target shape \(10,\) differ|"
        r"class-index targets must be integers)"),
    Bad("fit with too few features", lambda: _fit(train_data=(X10[:, :1], Y10)), ValueError,
        r"^linear: input of shape \(10, 1\) does not fit weight of shape \(2, 2\)"),
    Bad("fit with a dev set that is a number", lambda: _fit(dev=3), TypeError,
        r"^fit: dev must be a DataLoader or an \(X, y\) pair, got int"),
    Bad("gradcheck of a non-scalar function",
        lambda: tg.gradcheck(lambda x: x * 2, w(3)), ValueError,
        r"^gradcheck: the function must return a scalar, got shape \(3,\)"),
    Bad("gradcheck of a function returning a float",
        lambda: tg.gradcheck(lambda x: 1.0, w(1)), TypeError,
        r"^gradcheck: the function must return a scalar Tensor, got float"),
    Bad("gradcheck with no input requiring grad",
        lambda: tg.gradcheck(lambda x: x.sum(), T([1.0])), ValueError,
        r"^gradcheck: no input requires grad"),
    Bad("gradcheck(eps=0)", lambda: tg.gradcheck(lambda x: x.sum(), w(1), eps=0), ValueError,
        r"^gradcheck: eps must be a positive number, got 0"),
    Bad("check_gradients of a model without parameters",
        lambda: tg.check_gradients(nn.ReLU(), F.mse_loss, np.ones((2, 2)), np.ones((2, 2))),
        ValueError, r"^check_gradients: the model has no parameters"),
    Bad("manual_seed('a')", lambda: tg.manual_seed("a"), TypeError,
        r"^manual_seed: expected an integer seed, got 'a'"),
    Bad("set_default_dtype(int64)", lambda: tg.set_default_dtype(np.int64), TypeError,
        r"^set_default_dtype: expected float32 or float64, got int64"),
]

BACKWARD_AND_STATE = [
    Bad("backward twice through freed arrays", _twice, RuntimeError,
        r"^backward through Mul a second time: its saved arrays were freed .* retain_graph=True"),
    Bad("backward of a non-scalar without a gradient", lambda: (w(2) * 2).backward(),
        RuntimeError, r"^backward: a gradient argument is needed for a non-scalar output of "
                      r"shape \(2,\)"),
    Bad("backward of a constant", lambda: T([1.0]).backward(), RuntimeError,
        r"^backward: this tensor does not require grad and has no grad_fn"),
    Bad("backward of a result computed under no_grad", _no_grad_backward, RuntimeError,
        r"^backward: this tensor does not require grad .*no_grad"),
    Bad("backward with a gradient of the wrong shape",
        lambda: (w(2) * 2).backward(T([1.0, 2.0, 3.0])), ValueError,
        r"^backward: gradient has shape \(3,\) but the output has shape \(2,\)"),
    Bad("requires_grad_(False) on a computed tensor", _nonleaf_off, RuntimeError,
        r"^requires_grad_\(False\) on a non-leaf tensor: use .detach\(\)"),
    Bad("item assignment into a tensor that requires grad", _setitem, RuntimeError,
        r"^item assignment on a tensor that requires grad would corrupt its graph"),
    Bad("an optimizer step with a mis-shaped .grad", _bad_grad_step, ValueError,
        r"^SGD.step: a parameter of shape \(3,\) has a gradient of shape \(4,\)"),
    Bad("load_state_dict missing a key", lambda: (lambda m, s: m.load_state_dict(s))(
        *_state(**{"0_weight": None})), RuntimeError,
        r"Error\(s\) in loading state_dict for Sequential:\n\tmissing key\(s\): '0.weight'"),
    Bad("load_state_dict with an extra key", lambda: (lambda m, s: m.load_state_dict(s))(
        *_state(**{"9_weight": np.ones(1)})), RuntimeError,
        r"Error\(s\) in loading state_dict for Sequential:\n\tunexpected key\(s\): '9.weight'"),
    Bad("load_state_dict with a mis-shaped weight", lambda: (lambda m, s: m.load_state_dict(s))(
        *_state(**{"0_weight": np.ones((4, 2))})), RuntimeError,
        r"mis-shaped key\(s\): 0.weight: checkpoint shape \(4, 2\), model shape \(3, 2\)"),
    Bad("load_state_dict(strict=False) with a mis-shaped weight",
        lambda: _model().load_state_dict({"0.weight": np.ones((4, 2))}, strict=False),
        RuntimeError, r"mis-shaped key\(s\): 0.weight: checkpoint shape \(4, 2\)"),
    Bad("load_state_dict of a list", lambda: _model().load_state_dict([1, 2]), TypeError,
        r"^load_state_dict: expected a dict of name -> array, got list"),
    Bad("BatchNorm1d state with a mis-shaped running_mean",
        lambda: nn.BatchNorm1d(3).load_state_dict({**nn.BatchNorm1d(3).state_dict(),
                                                   "running_mean": np.ones(4)}),
        RuntimeError, r"BatchNorm1d:\n\tmis-shaped key\(s\): running_mean: checkpoint shape "
                      r"\(4,\), model shape \(3,\)"),
    Bad("optimizer state of a different size", _optim_groups, ValueError,
        r"^Adam.load_state_dict: param_groups\[0\] has 1 parameters in the state dict but 2"),
    Bad("optimizer state with a mis-shaped buffer", _optim_state_shape, ValueError,
        r"^Adam.load_state_dict: state\[0\]\['exp_avg'\] has shape \(5,\), but its parameter "
        r"has shape \(3,\)"),
    Bad("optimizer state that is not a state dict",
        lambda: optim.Adam(P()).load_state_dict({"a": 1}), ValueError,
        r"^Adam.load_state_dict: expected a dict with 'state' and 'param_groups'"),
    Bad("resuming a checkpoint with other callbacks",
        lambda: _resume_with_other_callbacks(tmp() / "resume"), ValueError,
        r"^Checkpoint: .* was saved with callbacks \[\], this run has \['EarlyStopping'\]"),
    Bad("tg.save of a model object", lambda: tg.save({"m": _model()}, tmp() / "never"), TypeError,
        r"^tg.save: cannot save state\['m'\] of type Sequential; .*state_dict\(\)"),
    Bad("tg.save of a function", lambda: tg.save({"f": len}, tmp() / "never"), TypeError,
        r"^tg.save: cannot save state\['f'\] of type builtin_function_or_method"),
    Bad("tg.save of an object array",
        lambda: tg.save({"a": np.array([object()])}, tmp() / "never"), TypeError,
        r"^tg.save: state\['a'\] is an array of dtype object, which cannot be stored without "
        r"pickle"),
    Bad("tg.save into a missing directory", lambda: tg.save({"a": 1}, tmp() / "no" / "such" / "f"),
        FileNotFoundError, r"^tg.save: cannot write .*f: the directory .*such does not exist"),
    Bad("tg.load of a missing file", lambda: tg.load(tmp() / "no_such_checkpoint.tgc2"),
        FileNotFoundError, r"no_such_checkpoint.tgc2"),
]


def _write(name: str, blob: bytes) -> Path:
    path = tmp() / name
    path.write_bytes(blob)
    return path


LOAD = [
    Bad("tg.load of a pickle", lambda: tg.load(_write("p", pickle.dumps({"a": 1}))),
        tg.CheckpointError, r"^tg.load: .*: not a tinygrad_c2 checkpoint \(it looks like a "
                            r"pickle, which tg.load refuses to run\)"),
    Bad("tg.load of an .npy file", lambda: tg.load(_write("n", b"\x93NUMPY" + bytes(20))),
        tg.CheckpointError, r"not a tinygrad_c2 checkpoint \(it is a .npy file"),
    Bad("tg.load of an empty file", lambda: tg.load(_write("e", b"")), tg.CheckpointError,
        r"not a tinygrad_c2 checkpoint \(the file is empty\)"),
    Bad("tg.load of a zip (torch.save) file",
        lambda: tg.load(_write("z", b"PK\x03\x04" + bytes(40))), tg.CheckpointError,
        r"it is a zip archive, e.g. a torch.save file"),
]

TABLE = TENSOR_AND_OPS + LAYERS + LOSSES + HYPERPARAMETERS + BACKWARD_AND_STATE + LOAD


def assert_raised_by_us(info: pytest.ExceptionInfo) -> None:
    """The exception was raised by tinygrad_c2's code and is not one of numpy's own types."""
    frames = traceback.extract_tb(info.tb)
    innermost = Path(frames[-1].filename).resolve()
    assert PACKAGE in innermost.parents, f"raised from {innermost}:{frames[-1].lineno}"
    assert not type(info.value).__module__.startswith("numpy"), type(info.value)


@pytest.mark.parametrize("case", [c.param() for c in TABLE])
def test_bad_input_raises_a_clear_error_naming_the_culprit(case: Bad):
    with pytest.raises(case.exc, match=case.match) as info:
        case.call()
    assert_raised_by_us(info)


# Rows whose error is about the shapes, dtypes or values of an op's input: PyTorch raises
# RuntimeError there (IndexError for a bad dim or index), so each must be catchable as
# RuntimeError and, as before, as ValueError (tg.OpError derives from both).
NOT_OP_ERRORS = ("Linear(-1", "Linear(2.5", "Linear on device", "BatchNorm1d(0)",
                 "BatchNorm1d(eps", "momentum",
                 "Dropout", "dropout", "reduction", "label_smoothing", "ragged", "lr=",
                 "SGD", "Adam", "RMSprop", "Momentum", "EWA", "LR", "DataLoader", "split",
                 "TensorDataset", "fit ", "Checkpoint", "EarlyStopping", "state_dict", "optimizer",
                 "resuming",
                 # hyperparameters checked when a layer or loss is built, as Dropout's p
                 "GELU(approximate", "Softplus(beta", "Hardtanh(1", "size_average",
                 "SmoothL1Loss(beta", "HuberLoss(delta")
OP_ERRORS = [c for c in TENSOR_AND_OPS + LAYERS + LOSSES + BACKWARD_AND_STATE
             if c.exc is ValueError and not any(k in c.what for k in NOT_OP_ERRORS)]


def test_the_op_error_rows_cover_shapes_matmul_reshape_permute_and_targets():
    names = " ".join(c.what for c in OP_ERRORS)
    for op in ("Add", "where", "matmul", "reshape", "permute", "expand", "cat of", "stack",
               "Linear(3, 4) on", "BatchNorm1d(3) on", "cross_entropy label", "mse_loss of",
               "item of"):
        assert op in names, op
    assert len(OP_ERRORS) >= 30


@pytest.mark.parametrize("case", [c.param() for c in OP_ERRORS])
def test_an_op_error_is_a_runtime_error_as_in_pytorch_and_still_a_value_error(case: Bad):
    with pytest.raises(RuntimeError, match=case.match) as info:
        case.call()
    assert isinstance(info.value, ValueError) and isinstance(info.value, tg.OpError)
    with pytest.raises(ValueError, match=case.match):
        case.call()


def test_op_error_derives_from_value_error_and_runtime_error():
    assert issubclass(tg.OpError, ValueError) and issubclass(tg.OpError, RuntimeError)
    assert not issubclass(tg.OpError, IndexError)
    with pytest.raises(IndexError):  # a bad dim or index stays an IndexError, as in PyTorch
        m23()[5]


def test_the_table_has_no_duplicate_rows():
    names = [c.what for c in TABLE]
    assert len(names) == len(set(names))


def test_every_optimizer_and_scheduler_class_has_a_row():
    text = " ".join(c.what for c in TABLE)
    for name in [*OPTIMIZERS, "EWA", *sched.__all__]:
        if name in ("LRScheduler",):
            continue
        assert name in text, f"no bad-input row for {name}"


# ------------------------------------------------------------------ empty batches


EMPTY_LOSSES = {
    "cross_entropy": lambda z: F.cross_entropy(z, T(np.zeros(0, np.int64))),
    "mse_loss": lambda z: F.mse_loss(z, T(np.zeros((0, 3), np.float32))),
    "binary_cross_entropy_with_logits":
        lambda z: F.binary_cross_entropy_with_logits(z, T(np.zeros((0, 3), np.float32))),
}


@pytest.mark.parametrize("loss", EMPTY_LOSSES)
def test_an_empty_batch_gives_a_zero_loss_not_nan(loss):
    # Our choice (PyTorch returns nan for a mean over nothing): the mean of no losses is 0, so
    # an empty last batch cannot poison the weights; batch norm refuses one (table above).
    z = T(np.zeros((0, 3), np.float32), requires_grad=True)
    assert EMPTY_LOSSES[loss](z).item() == 0.0
    assert nn.Linear(3, 2)(z).shape == (0, 2)
    assert len(data.DataLoader((X10[:0], Y10[:0]), batch_size=4)) == 0


@pytest.mark.parametrize("loss", EMPTY_LOSSES)
def test_an_empty_batch_backpropagates_empty_gradients_without_a_warning(loss):
    z = T(np.zeros((0, 3), np.float32), requires_grad=True)
    EMPTY_LOSSES[loss](z).backward()
    assert z.grad.shape == (0, 3)


# ------------------------------------------------------------------ NaN and inf


NAN_OPS = {
    "Linear": lambda x: F.linear(x, T(np.ones((4, 3)))),
    "Relu": F.relu,
    "Tanh": F.tanh,
    "Sigmoid": F.sigmoid,
    "Exp": lambda x: x.exp(),
    "Softmax": lambda x: F.softmax(x, 1),
    "LogSoftmax": lambda x: F.log_softmax(x, 1),
    "CrossEntropy": lambda x: F.cross_entropy(x, T([0, 1])),
    "BCEWithLogits": lambda x: F.binary_cross_entropy_with_logits(x, T(np.ones((2, 3)))),
    "MSELoss": lambda x: F.mse_loss(x, T(np.ones((2, 3)))),
    "BatchNorm": lambda x: F.batch_norm(x, None, None, training=True),
}


@pytest.mark.parametrize("op", NAN_OPS)
def test_nan_input_propagates_quietly_like_pytorch_and_detect_anomaly_names_the_op(op):
    x = np.ones((2, 3))
    x[0, 0] = np.nan
    out = NAN_OPS[op](T(x))
    assert np.isnan(out.numpy()).any()  # no exception, no numpy warning: NaN is data
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError,
                                            match=rf"^{op} forward produced nan; the op was "
                                                  r"created at .*test_hardening_bad_input.py"):
        NAN_OPS[op](T(x, requires_grad=True))


def test_detect_anomaly_names_an_op_whose_backward_makes_nan_from_finite_values():
    x = T([0.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt()  # forward 0 is fine; backward g / (2 * 0) is inf
        with pytest.raises(tg.AnomalyError, match=r"^Sqrt backward produced inf"):
            y.sum().backward()


def test_fit_stops_at_the_first_nan_loss_before_the_update_and_says_why(capsys):
    X, y = X10.copy(), Y10.copy()
    X[:, 0] = np.arange(10)
    X[7, 1] = np.nan  # one bad feature value
    tg.manual_seed(0)
    model = nn.Linear(2, 2)
    history = train.fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                        (X, y), epochs=5, batch_size=4, progress=False, verbose=True)
    assert np.isfinite(model.weight.numpy()).all() and np.isfinite(model.bias.numpy()).all()
    assert len(history) == 1 and np.isnan(history["batch_loss"][0])
    assert history.stop_reason is not None
    assert "the mini-batch loss is nan; stopped before that update" in history.stop_reason
    assert history.stop_reason in capsys.readouterr().out


def test_fit_on_a_diverging_learning_rate_keeps_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2)).astype(np.float32) * 100
    y = (X[:, 0] > 0).astype(np.int64)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    with np.errstate(all="ignore"):  # the overflow itself is expected here
        history = train.fit(model, nn.CrossEntropyLoss(),
                            optim.SGD(model.parameters(), lr=1e30), (X, y), epochs=20,
                            batch_size=8, progress=False, verbose=False)
    assert history.stop_reason is not None  # the weights reach ~1e31, then the loss is nan
    for p in model.parameters():
        assert np.isfinite(p.numpy()).all()

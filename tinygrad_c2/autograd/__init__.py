"""tg.autograd: PyTorch's functional face of the engine. `grad` returns gradients without
touching any .grad, `backward` accumulates from several outputs in one sweep; `Function`,
`gradcheck` and `gradgradcheck` are tg.Function, tg.gradcheck and tg.gradgradcheck. With
`create_graph=True` the gradients are Tensors with a graph of their own, so they can be
differentiated again (higher order).

>>> import tinygrad_c2 as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> tg.autograd.grad((x ** 2).sum(), x), x.grad
((tensor([2., 4.]),), None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import engine
from ..engine import enable_grad, inference_mode, no_grad, set_grad_enabled
from ..function import Function
from ..gradcheck import gradcheck, gradgradcheck
from ..tensor import Tensor

__all__ = ["backward", "enable_grad", "Function", "functional", "grad", "gradcheck",
           "gradgradcheck",
           "inference_mode", "no_grad", "set_grad_enabled"]


def _tensors(xs: Tensor | Sequence[Tensor], who: str, what: str) -> list[Tensor]:
    """xs as a list of Tensors (one Tensor or a sequence), or a TypeError naming the call."""
    items = [xs] if isinstance(xs, Tensor) else list(xs)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: {what}[{i}] must be a Tensor, got {type(t).__name__}")
    return items


def _pairs(outputs: list[Tensor], grad_outputs: Any, who: str,
           create_graph: bool = False) -> list[tuple[Tensor, Any]]:
    """(output, seed array) for each output, seeds checked against the outputs' shapes. With
    create_graph the seeds are Tensors: a seed Tensor given is kept as it is (with its graph,
    so the result can be differentiated with respect to it too)."""
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{who}: got {len(grad_outputs)} gradients for {len(outputs)} "
                           "outputs")
    pairs = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):  # noqa: B905 (lengths checked)
        if not t.requires_grad:
            raise RuntimeError(f"{who}: element {i} of the outputs does not require grad and "
                               "does not have a grad_fn")
        seed = t._seed(g, who, f"grad_outputs[{i}]")
        if create_graph:
            seed = g if isinstance(g, Tensor) and g._data.dtype == seed.dtype else Tensor._wrap(
                seed)
        pairs.append((t, seed))
    return pairs


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False,
         ) -> tuple[Tensor | None, ...]:
    """The gradients of `outputs` w.r.t. `inputs` (leaves or intermediates), one per input, as
    PyTorch's torch.autograd.grad: no .grad is touched (a retain_grad() tensor on the way still
    gets its .grad, as in PyTorch).

    `grad_outputs` (one per output) is needed for a non-scalar output: the result is then the
    vector-Jacobian product. The graph is freed afterwards unless `retain_graph=True`. An input
    the outputs do not depend on raises RuntimeError, or gives None with `allow_unused=True`
    (zeros with `materialize_grads=True`).
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not part of "
                                  "tinygrad_c2: call grad once per row of grad_outputs")
    del only_inputs  # deprecated in PyTorch and ignored there too
    if allow_unused is None:
        allow_unused = materialize_grads
    outs = _tensors(outputs, "autograd.grad", "outputs")
    ins = _tensors(inputs, "autograd.grad", "inputs")
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError("autograd.grad: one of the differentiated Tensors (inputs) does "
                               "not require grad")
    pairs = _pairs(outs, grad_outputs, "autograd.grad", create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    sweep = engine.graph_gradients if create_graph else engine.gradients
    result = sweep(pairs, ins, retain)
    for i, g in enumerate(result):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"autograd.grad: the differentiated Tensor at index {i} (inputs) appears "
                    "not to have been used in the graph; pass allow_unused=True to get None "
                    "for it")
            if materialize_grads:
                result[i] = Tensor._wrap(np.zeros_like(ins[i]._data))
    return tuple(result)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate the gradients of several outputs into the leaves' .grad in one sweep, as
    PyTorch's torch.autograd.backward (`t.backward(g)` for each, summed). With `inputs`, only
    those tensors' .grad are filled."""
    pairs = _pairs(_tensors(tensors, "autograd.backward", "tensors"), grad_tensors,
                   "autograd.backward", create_graph)
    retain = create_graph if retain_graph is None else retain_graph
    sweep = engine.graph_gradients if create_graph else engine.gradients
    if inputs is None:
        sweep(pairs, None, retain)
        return
    ins = _tensors(inputs, "autograd.backward", "inputs")
    for t, g in zip(ins, sweep(pairs, ins, retain)):  # noqa: B905
        if g is None:
            continue
        if create_graph:
            engine._accumulate_graph(t, g)
        else:
            engine._accumulate(t, g._data, copy=False)


from . import functional  # noqa: E402 (it uses grad, defined above)

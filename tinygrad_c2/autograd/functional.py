"""tg.autograd.functional: derivatives of a whole function, PyTorch's signatures.

`vjp` (v^T J) and `jacobian` are reverse mode; `jvp` (J v) and `hvp` (H v) use the
double-backward trick (J v is the gradient, with respect to a dummy cotangent u, of the
vector-Jacobian product u^T J, which is linear in u); `vhp` (v^T H) and `hessian`
differentiate a gradient. All of them run with create_graph, so every op on the way needs a
differentiable backward. Results are detached unless `create_graph=True`.

`inputs` is one Tensor or a tuple of Tensors, and results follow the same structure (a
Jacobian of tuple outputs by tuple inputs is a tuple of tuples, [output][input]).
`strict=True` raises where an output does not depend on an input (PyTorch's rule); otherwise
such a derivative is zeros.

>>> import tinygrad_c2 as tg
>>> x = tg.tensor([1.0, 2.0])
>>> tg.autograd.functional.hessian(lambda x: (x * x * x).sum(), x)
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..engine import enable_grad
from ..tensor import Tensor, zeros_like

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

Inputs = Tensor | Sequence[Tensor]
_STRATEGIES = ("reverse-mode", "forward-mode")


def _as_tuple(xs: Any, what: str, who: str) -> tuple[bool, tuple[Tensor, ...]]:
    """(was it a tuple, xs as a tuple of Tensors), or a TypeError naming the call and argument."""
    is_tuple = isinstance(xs, (tuple, list))
    items = tuple(xs) if is_tuple else (xs,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            where = f"{what}[{i}]" if is_tuple else what
            raise TypeError(f"autograd.functional.{who}: {where} must be a Tensor, got "
                            f"{type(t).__name__}")
    return is_tuple, items


def _prepare(inputs: tuple[Tensor, ...], create_graph: bool, need_graph: bool
             ) -> tuple[Tensor, ...]:
    """The tensors func is called with. With create_graph and an input that requires grad, a
    view of it (so the result keeps its graph back to the caller's tensor); otherwise a
    detached copy that requires grad only when the derivative is taken with respect to it."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(t.reshape(t.shape))  # a new node, joined to the caller's graph
        else:
            out.append(t.detach().requires_grad_(need_graph))
    return tuple(out)


def _check_v(v: tuple[Tensor, ...], refs: tuple[Tensor, ...], what: str, who: str) -> None:
    """v must have one Tensor per ref, each of the ref's shape."""
    if len(v) != len(refs):
        raise RuntimeError(f"autograd.functional.{who}: v has {len(v)} tensors but the {what} "
                           f"has {len(refs)}")
    for i, (a, b) in enumerate(zip(v, refs)):  # noqa: B905 (lengths checked)
        if a.shape != b.shape:
            raise RuntimeError(f"autograd.functional.{who}: v[{i}] has shape {tuple(a.shape)} "
                               f"but {what}[{i}] has shape {tuple(b.shape)}")


def _single_element(refs: tuple[Tensor, ...], what: str, who: str) -> None:
    """v may be omitted only for one Tensor of one element (PyTorch's rule)."""
    if len(refs) != 1 or refs[0].numel() != 1:
        raise RuntimeError(f"autograd.functional.{who}: v can be None only when the {what} is "
                           "a single Tensor with a single element")


def _grad(outputs: Sequence[Tensor | None], inputs: Sequence[Tensor], grad_outputs: Any,
          create_graph: bool) -> tuple[Tensor | None, ...]:
    """tg.autograd.grad over the outputs that have a graph (None for an input none reaches)."""
    from . import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs)  # noqa: B905
             if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs], retain_graph=True,
                create_graph=create_graph, allow_unused=True)


def _independent(i: int, who: str, what: str) -> RuntimeError:
    return RuntimeError(f"autograd.functional.{who}: the {what} does not depend on input {i}, "
                        "which strict=True does not allow (strict=False gives zeros there)")


def _check_graph(grads: tuple[Tensor | None, ...], strict: bool, who: str, what: str) -> None:
    """strict mode: every gradient must exist and carry a graph (else an output is independent
    of an input, or depends on it only linearly where a second derivative is taken)."""
    if strict:
        for i, g in enumerate(grads):
            if g is None or not g.requires_grad:
                raise _independent(i, who, what)


def _zeros_for_none(grads: tuple[Tensor | None, ...], refs: Sequence[Tensor], strict: bool,
                    who: str, what: str) -> tuple[Tensor, ...]:
    """Each missing gradient as zeros shaped like its ref, or (strict) an error."""
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):  # noqa: B905
        if g is None:
            if strict:
                raise _independent(i, who, what)
            g = zeros_like(ref)
        out.append(g)
    return tuple(out)


def _finish(xs: Any, create_graph: bool, is_tuple: bool) -> Any:
    """Detach the results unless create_graph, and give back one Tensor for a non-tuple."""
    if isinstance(xs, tuple):
        xs = tuple(_finish(x, create_graph, True) for x in xs)
        return xs if is_tuple else xs[0]
    return xs if create_graph else xs.detach()


def _call(func: Callable, inputs: tuple[Tensor, ...], who: str) -> tuple[bool, tuple]:
    outputs = func(*inputs)
    return _as_tuple(outputs, "the output of func", who)


def vjp(func: Callable[..., Any], inputs: Inputs, v: Inputs | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), v^T J): the vector-Jacobian product, one reverse sweep.

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.vjp(lambda x: x * x, tg.tensor([1.0, 2.0]), tg.ones(2))[1]
    tensor([2., 4.])
    """
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "vjp")
        xs = _prepare(xs, create_graph, True)
        out_tuple, outs = _call(func, xs, "vjp")
        if v is None:
            _single_element(outs, "output of func", "vjp")
            vs = None
        else:
            _, vs = _as_tuple(v, "v", "vjp")
            _check_v(vs, outs, "output of func", "vjp")
        grads = _grad(outs, xs, vs, create_graph)
        result = _zeros_for_none(grads, xs, strict, "vjp", "output of func")
    return _finish(outs, create_graph, out_tuple), _finish(result, create_graph, in_tuple)


def jvp(func: Callable[..., Any], inputs: Inputs, v: Inputs | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Any, Any]:
    """(func(inputs), J v): the Jacobian-vector product, by the double-backward trick.

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.jvp(lambda x: x * x, tg.tensor([1.0, 2.0]), tg.ones(2))[1]
    tensor([2., 4.])
    """
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "jvp")
        xs = _prepare(xs, create_graph, True)
        if v is None:
            _single_element(xs, "input", "jvp")
            vs = None
        else:
            _, vs = _as_tuple(v, "v", "jvp")
            _check_v(vs, xs, "inputs", "jvp")
        out_tuple, outs = _call(func, xs, "jvp")
        # u^T J is linear in the dummy u; its gradient with respect to u, along v, is J v
        us = tuple(zeros_like(o, requires_grad=True) for o in outs)
        ujs = _grad(outs, xs, us, True)
        _check_graph(ujs, strict, "jvp", "output of func")
        grads = _grad(ujs, us, vs, create_graph)
        result = _zeros_for_none(grads, outs, strict, "jvp", "output of func")
    return _finish(outs, create_graph, out_tuple), _finish(result, create_graph, out_tuple)


def _scalar_output(func: Callable, xs: tuple[Tensor, ...], who: str) -> Tensor:
    """func(xs), which must be one Tensor with one element (vhp, hvp, hessian)."""
    out = func(*xs)
    if not isinstance(out, Tensor):
        raise RuntimeError(f"autograd.functional.{who}: func must return a single Tensor, got "
                           f"{type(out).__name__}")
    if out.numel() != 1:
        raise RuntimeError(f"autograd.functional.{who}: func must return a Tensor with a "
                           f"single element, got shape {tuple(out.shape)}")
    return out


def vhp(func: Callable[..., Tensor], inputs: Inputs, v: Inputs | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Any]:
    """(func(inputs), v^T H): the gradient of the gradient along v (func returns a scalar).

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.vhp(lambda x: (x * x * x).sum(), tg.tensor([1.0, 2.0]),
    ...                            tg.ones(2))[1]
    tensor([ 6., 12.])
    """
    return _second(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable[..., Tensor], inputs: Inputs, v: Inputs | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Any]:
    """(func(inputs), H v), by the double-backward trick: equal to vhp for a function with
    continuous second derivatives (H is then symmetric), and slower, as in PyTorch.

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.hvp(lambda x: (x * x * x).sum(), tg.tensor([1.0, 2.0]),
    ...                            tg.ones(2))[1]
    tensor([ 6., 12.])
    """
    return _second(func, inputs, v, create_graph, strict, "hvp")


def _second(func: Callable, inputs: Inputs, v: Inputs | None, create_graph: bool,
            strict: bool, who: str) -> tuple[Tensor, Any]:
    """vhp and hvp: the gradient of func, then one (vhp) or two (hvp) more sweeps."""
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", who)
        xs = _prepare(xs, create_graph, True)
        if v is None:
            _single_element(xs, "input", who)
            vs = None
        else:
            _, vs = _as_tuple(v, "v", who)
            _check_v(vs, xs, "inputs", who)
        out = _scalar_output(func, xs, who)
        jac = _grad((out,), xs, None, True)
        _check_graph(jac, strict, who, "gradient of func")
        if who == "vhp":
            grads = _grad(jac, xs, vs, create_graph)
        else:  # u^T H is linear in the dummy u; its gradient with respect to u, along v, is H v
            us = tuple(zeros_like(x, requires_grad=True) for x in xs)
            uh = _grad(jac, xs, us, True)
            grads = _grad(uh, us, vs, create_graph)
        result = _zeros_for_none(grads, xs, strict, who, "gradient of func")
    return _finish(out, create_graph, False), _finish(result, create_graph, in_tuple)


def jacobian(func: Callable[..., Any], inputs: Inputs, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False, strategy: str = "reverse-mode"
             ) -> Any:
    """The Jacobian of func at inputs: for output i and input j, a Tensor of shape
    output_i.shape + input_j.shape; a tuple per output and/or input as the two are tuples.

    "reverse-mode" takes one vjp per output element, "forward-mode" one jvp per input element
    (cheaper when the inputs are smaller). `vectorize` is accepted for PyTorch's signature
    and changes nothing here: the rows are computed one after another either way.

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.jacobian(lambda x: x * x, tg.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    del vectorize  # a speed option in PyTorch (vmap); the result is the same
    if strategy not in _STRATEGIES:
        raise ValueError(f"autograd.functional.jacobian: strategy must be one of {_STRATEGIES},"
                         f" got {strategy!r}")
    with enable_grad():
        in_tuple, xs = _as_tuple(inputs, "inputs", "jacobian")
        xs = _prepare(xs, create_graph, True)
        out_tuple, outs = _call(func, xs, "jacobian")
        if strategy == "reverse-mode":
            blocks = _jacobian_rows(outs, xs, create_graph, strict)
        else:
            blocks = _jacobian_columns(outs, xs, create_graph, strict)
    result = tuple(_finish(row, create_graph, in_tuple) for row in blocks)
    return result if out_tuple else result[0]


def _unit(shape: tuple, k: int, dtype: np.dtype) -> Tensor:
    """The k-th one-hot Tensor of a shape (a cotangent or tangent that picks one element)."""
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[k] = 1
    return Tensor._wrap(e.reshape(shape))


def _stack(parts: list[Tensor], lead: tuple, tail: tuple) -> Tensor:
    """Rows (or columns) of a Jacobian block as one Tensor of shape lead + tail."""
    from .. import stack

    if not parts:  # an empty output or input: no rows to stack
        return Tensor._wrap(np.zeros(lead + tail))
    return stack(parts).reshape(lead + tail)


def _jacobian_rows(outs: tuple[Tensor, ...], xs: tuple[Tensor, ...], create_graph: bool,
                   strict: bool) -> list[tuple[Tensor, ...]]:
    """Reverse mode: one vector-Jacobian product per output element."""
    blocks = []
    for i, out in enumerate(outs):
        rows: list[list[Tensor]] = [[] for _ in xs]
        for k in range(out.numel()):
            e = _unit(tuple(out.shape), k, out._data.dtype)
            grads = _grad((out,), xs, (e,), create_graph)
            for j, (g, x) in enumerate(zip(grads, xs)):  # noqa: B905
                if g is None:
                    if strict:
                        raise RuntimeError(
                            f"autograd.functional.jacobian: output {i} does not depend on "
                            f"input {j}, which strict=True does not allow")
                    g = zeros_like(x)
                rows[j].append(g)
        blocks.append(tuple(_stack(r, tuple(out.shape), tuple(x.shape))
                            for r, x in zip(rows, xs)))  # noqa: B905
    return blocks


def _jacobian_columns(outs: tuple[Tensor, ...], xs: tuple[Tensor, ...], create_graph: bool,
                      strict: bool) -> list[tuple[Tensor, ...]]:
    """Forward mode: one Jacobian-vector product (the double-backward trick) per input
    element; each column is then moved to the back."""
    us = tuple(zeros_like(o, requires_grad=True) for o in outs)
    ujs = _grad(outs, xs, us, True)  # u^T J for every input: linear in u
    columns: list[list[list[Tensor]]] = [[[] for _ in xs] for _ in outs]
    for j, (x, uj) in enumerate(zip(xs, ujs)):  # noqa: B905
        for k in range(x.numel()):
            e = _unit(tuple(x.shape), k, x._data.dtype)
            grads = _grad((uj,), us, (e,), create_graph) if uj is not None else (None,) * len(us)
            for i, (g, out) in enumerate(zip(grads, outs)):  # noqa: B905
                if g is None:
                    if strict:
                        raise RuntimeError(
                            f"autograd.functional.jacobian: output {i} does not depend on "
                            f"input {j}, which strict=True does not allow")
                    g = zeros_like(out)
                columns[i][j].append(g)
    blocks = []
    for i, out in enumerate(outs):
        row = []
        for j, x in enumerate(xs):
            block = _stack(columns[i][j], tuple(x.shape), tuple(out.shape))  # x.shape + out.shape
            order = tuple(range(x.ndim, x.ndim + out.ndim)) + tuple(range(x.ndim))
            row.append(block.permute(*order) if block.ndim else block)
        blocks.append(tuple(row))
    return blocks


def hessian(func: Callable[..., Tensor], inputs: Inputs, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar func at inputs: the Jacobian of its gradient, input_i.shape +
    input_j.shape for each pair (a tuple of tuples for tuple inputs).

    >>> import tinygrad_c2 as tg
    >>> tg.autograd.functional.hessian(lambda x, y: (x * y).sum(),
    ...                                (tg.tensor([1.0]), tg.tensor([2.0])))[0][1]
    tensor([[1.]])
    """
    in_tuple, xs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*args: Tensor) -> Tensor:
        return _scalar_output(func, args, "hessian").reshape(())

    def gradient(*args: Tensor) -> tuple[Tensor, ...]:
        jac = jacobian(scalar, args, create_graph=True, strict=strict)
        return jac if isinstance(jac, tuple) else (jac,)

    res = jacobian(gradient, xs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    if in_tuple:
        return res
    return res[0][0]

"""Walk a computation graph without recursion: the op nodes behind some output tensors, in
creation order, and the output tensor of each node (the node itself does not keep it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..function import Function
from ..tensor import Tensor


def as_roots(root: Any, caller: str) -> list[tuple[str, Tensor]]:
    """The outputs to draw as (label, tensor) pairs, from a Tensor, a list or tuple of Tensors,
    or a dict label -> Tensor."""
    if isinstance(root, Tensor):
        return [("output", root)]
    if isinstance(root, Mapping):
        items = [(str(name), t) for name, t in root.items()]
    elif isinstance(root, (list, tuple)):
        several = len(root) > 1
        items = [(f"output {i}" if several else "output", t) for i, t in enumerate(root)]
    else:
        raise TypeError(f"{caller}: expected a Tensor, a list/tuple of Tensors or a dict of "
                        f"name -> Tensor, got {type(root).__name__}")
    if not items:
        raise ValueError(f"{caller}: no output tensors given")
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: output {name!r} is a {type(t).__name__}, expected a Tensor")
    return items


def walk(roots: list[Tensor]) -> tuple[list[Function], dict[Function, Tensor]]:
    """Every op node reachable from `roots`, sorted by creation (`seq`), and each node's output.

    An explicit stack instead of recursion, so a 10,000-op chain is no problem; each node is
    visited once however many consumers it has (fan-out, `x * x`).
    """
    outputs: dict[Function, Tensor] = {}
    stack: list[Function] = []
    for t in roots:
        if t.grad_fn is not None and t.grad_fn not in outputs:
            outputs[t.grad_fn] = t
            stack.append(t.grad_fn)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if isinstance(parent, Tensor) and parent.grad_fn is not None:
                producer = parent.grad_fn
                if producer not in seen:
                    seen.add(producer)
                    outputs[producer] = parent
                    stack.append(producer)
    ops = sorted(seen, key=lambda n: n.seq)
    return ops, outputs

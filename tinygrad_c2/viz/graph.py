"""Draw the graph that backward walks: op nodes with their arguments, parameters by name,
tensor shapes on the edges, one cluster per nn.Module, optional gradient norms, saved arrays
and per-op timing. Built with the `graphviz` package; rendering is render.py's job."""

from __future__ import annotations

import functools
import html
import inspect
import itertools
import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ..engine import _FREED
from ..function import Function
from ..nn.functional.linear import LinearRun
from ..nn.modules.container import stage_seqs
from ..nn.modules.module import Module, module_calls
from ..tensor import Tensor
from .profiler import Profile
from .profiler import profile as profile_step
from .render import save
from .trace import as_roots, walk

OP_FILL = "#dce6f5"  # blue: ops
PARAM_FILL = "#cdeac0"  # green: tensors that require grad (parameters)
CONST_FILL = "#ececec"  # grey: data, labels, buffers, constants
OUTPUT_FILL = "#ffd966"  # gold: the outputs asked for
DETAIL_COLOR = "#404040"
# ColorBrewer "Reds": from no time at all to the op that takes the largest share of the step
HEAT = ("#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#a50f15",
        "#67000d")
RANKDIRS = ("TB", "LR", "BT", "RL")
LINE_WIDTH = 30  # characters of op arguments per label line


def draw_graph(root: Any = None, params: Module | Mapping[str, Tensor] | None = None,
               show_saved: bool = False, show_grads: bool = False, group_modules: bool = True,
               rankdir: str = "TB", profile: Profile | None = None,
               inputs: Mapping[str, Tensor] | None = None) -> graphviz.Digraph:
    """The computation graph behind `root` as a graphviz.Digraph (forward flow along arrows).

    `root` is a Tensor, a list/tuple of Tensors or a dict name -> Tensor (say loss and logits),
    drawn as gold output boxes. Op nodes show the primitive and its non-tensor arguments
    (dropout p, batch-norm eps, sum axis); edges carry the shape and dtype of the tensor that
    flows along them. Leaves are boxes: parameters (green) named by `params`, a Module (its
    `named_parameters()` and buffers) or a dict name -> Tensor; `inputs` names data tensors
    (grey). Given a Module and `group_modules`, the ops of each sub-module's last call and its
    parameters sit in a cluster labelled like `0: Linear`. `show_grads` adds gradient norms
    after backward, `show_saved` what each op keeps for backward ("freed" after it ran), and a
    `profile` from `profile()` colours ops by their share of the step time (then `root` may
    be omitted: the profile's last graph is drawn). The walk is iterative: any depth draws.

    >>> import tinygrad_c2 as tg
    >>> from tinygrad_c2 import viz
    >>> w = tg.ones(3, requires_grad=True)
    >>> g = viz.draw_graph((w * 2).sum(), params={"w": w})
    >>> sum("label=<<b>" in line for line in g.body)  # nodes: w, Mul, Sum, output
    4
    """
    if root is None:
        if profile is None:
            raise TypeError("draw_graph: give the output tensor(s) to draw, or a profile")
        root = profile.root
    names = _names(params, inputs, "draw_graph")
    modules = list(params.named_modules()) if isinstance(params, Module) else []
    return _draw(as_roots(root, "draw_graph"), names, modules if group_modules else [],
                 show_saved, show_grads, rankdir, profile)


def draw_model(model: Module, example_input: Any, target: Any = None,
               loss_fn: Callable[[Any, Any], Tensor] | None = None, backward: bool = False,
               show_saved: bool = False, show_grads: bool | None = None,
               group_modules: bool = True, rankdir: str = "TB") -> graphviz.Digraph:
    """Run `model` once on `example_input` (and `loss_fn(output, target)`, and backward if
    asked) and draw that graph, with the model's parameter names and module clusters.

    Gradient norms are shown when `backward` (unless `show_grads=False`). The model is left
    as it was found: parameters' `.grad` and buffers (batch-norm running statistics) are
    restored afterwards; only the random generator moves on (dropout masks).

    >>> import tinygrad_c2 as tg
    >>> from tinygrad_c2 import nn, viz
    >>> g = viz.draw_model(nn.Sequential(nn.Linear(3, 2), nn.ReLU()), tg.ones(4, 3))
    >>> g.source.count("subgraph cluster_"), 'label="0: Linear"' in g.source
    (2, True)
    """
    if not isinstance(model, Module):
        raise TypeError(f"draw_model: expected an nn.Module, got {type(model).__name__}")
    with _untouched(model):
        roots, inputs = _run(model, example_input, target, loss_fn, backward, "draw_model")
        return _draw(as_roots(roots, "draw_model"), _names(model, inputs, "draw_model"),
                     _modules(model, loss_fn) if group_modules else [], show_saved,
                     backward if show_grads is None else show_grads, rankdir, None)


def draw_training_step(model: Module, X: Any, y: Any, loss_fn: Callable[[Any, Any], Tensor],
                       path: str | os.PathLike, fmt: str | None = None, show_grads: bool = True,
                       profile: bool = False) -> Path:
    """Run one training step's forward and backward on (X, y) and write its picture to `path`
    (format from the suffix or `fmt`, see `save`); returns the path written.

    With `profile`, the step runs 5 times under timing and ops are coloured by their median
    share of the step time. The model is left untouched (see `draw_model`).
    """
    if not isinstance(model, Module):
        raise TypeError(f"draw_training_step: expected an nn.Module, got {type(model).__name__}")
    if not profile:
        graph = draw_model(model, X, y, loss_fn, backward=True, show_grads=show_grads)
        return save(graph, path, fmt)
    inputs: dict[str, Tensor] = {}

    def step() -> dict[str, Tensor]:
        model.zero_grad()
        roots, step_inputs = _run(model, X, y, loss_fn, True, "draw_training_step")
        inputs.update(step_inputs)
        return roots

    with _untouched(model):
        prof = profile_step(step, runs=5)
        graph = _draw(as_roots(prof.root, "draw_training_step"),
                      _names(model, inputs, "draw_training_step"), _modules(model, loss_fn),
                      False, show_grads, "TB", prof)
    return save(graph, path, fmt)


# ---------------------------------------------------------------- running a model


def _run(model: Module, x: Any, target: Any, loss_fn: Any, backward: bool,
         caller: str) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """One forward (and loss, and backward): the outputs to draw and the named data tensors."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    inputs = {"input": x}
    out = model(x)
    if not isinstance(out, Tensor):
        raise TypeError(f"{caller}: the model returned {type(out).__name__}, expected a Tensor")
    roots = {"output": out}
    if loss_fn is not None:
        if target is None:
            raise ValueError(f"{caller}: loss_fn given without a target")
        target = target if isinstance(target, Tensor) else Tensor(target)
        inputs["target"] = target
        roots = {"loss": loss_fn(out, target), "output": out}
    elif target is not None:
        raise ValueError(f"{caller}: target given without a loss_fn to compare it with")
    if backward:
        first = next(iter(roots.values()))
        if first._data.size != 1:
            raise ValueError(f"{caller}: backward needs a scalar, but the output has shape "
                             f"{first.shape}; pass target and loss_fn")
        # NOTE: retain_graph keeps the inputs' identities (a freed graph holds stand-ins for
        # the batch and buffers, which could not be named); the graph is dropped after drawing.
        first.backward(retain_graph=True)
    return roots, inputs


def _modules(model: Module, loss_fn: Any) -> list[tuple[str, Module]]:
    """The modules to cluster: the model's, and a loss module as 'loss'."""
    modules = list(model.named_modules())
    if isinstance(loss_fn, Module):
        modules.append(("loss", loss_fn))
    return modules


@contextmanager
def _untouched(model: Module) -> Iterator[None]:
    """Drawing must not train: restore buffers and gradients, start from no gradient."""
    buffers = [(b, b._data.copy()) for b in model.buffers()]
    grads = [(p, p.grad) for p in model.parameters()]
    for p, _ in grads:
        p.grad = None
    try:
        yield
    finally:
        for b, data in buffers:
            b._data[...] = data
        for p, g in grads:
            p.grad = g


# ---------------------------------------------------------------- building the Digraph


def _names(params: Any, inputs: Any, caller: str) -> dict[int, tuple[str, str]]:
    """id(tensor) -> (name, kind) with kind 'param', 'buffer' or 'input'."""
    names: dict[int, tuple[str, str]] = {}
    if isinstance(params, Module):
        for name, t in params.named_buffers():
            names[id(t)] = (name, "buffer")
        for name, t in params.named_parameters():
            names[id(t)] = (name, "param")
    elif isinstance(params, Mapping):
        for name, t in params.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"{caller}: params[{name!r}] is a {type(t).__name__}, expected "
                                "a Tensor")
            names[id(t)] = (str(name), "param" if t.requires_grad else "input")
    elif params is not None:
        raise TypeError(f"{caller}: params must be an nn.Module or a dict of name -> Tensor, "
                        f"got {type(params).__name__}")
    for name, t in (inputs or {}).items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: inputs[{name!r}] is a {type(t).__name__}, expected a "
                            "Tensor")
        names.setdefault(id(t), (str(name), "input"))
    return names


def _draw(roots: list[tuple[str, Tensor]], names: dict[int, tuple[str, str]],
          modules: list[tuple[str, Module]], show_saved: bool, show_grads: bool, rankdir: str,
          profile: Profile | None) -> graphviz.Digraph:
    """Build the Digraph: leaves and ops placed in module clusters, then the edges."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    if profile is not None and not isinstance(profile, Profile):
        raise TypeError(f"draw_graph: profile must come from tg.viz.profile(), got "
                        f"{type(profile).__name__}")
    ops, outputs = walk([t for _, t in roots])
    ops, last_layer = _expand(ops, outputs)
    op_ids = {node: f"op{i}" for i, node in enumerate(ops)}
    for run, layer in last_layer.items():  # the run's consumers are drawn from its last layer
        op_ids[run] = op_ids[layer]

    owner = _owners(ops, modules)  # op -> its module's cluster, or (module, call k)

    # Leaves (tensors without grad_fn, numpy arrays) in order of first use, and where the
    # ops that use each one are drawn.
    leaves: dict[int, tuple[str, Any]] = {}
    users: dict[int, set[str | tuple[str, int] | None]] = {}
    for node in ops:
        for parent in node.parents:
            is_leaf = isinstance(parent, Tensor) and parent.grad_fn is None
            if (is_leaf or isinstance(parent, np.ndarray)) and id(parent) not in leaves:
                leaves[id(parent)] = (f"t{len(leaves)}", parent)
            if id(parent) in leaves:
                users.setdefault(id(parent), set()).add(owner.get(node))
    for _, t in roots:
        if t.grad_fn is None and id(t) not in leaves:
            leaves[id(t)] = (f"t{len(leaves)}", t)

    statements: dict[str | tuple[str, int] | None, list[tuple[str, str, dict[str, str]]]] = {
        None: []}

    def place(where: str | tuple[str, int] | None, node_id: str, label: str,
              attrs: dict[str, str]) -> None:
        statements.setdefault(where, []).append((node_id, label, attrs))

    clusters = {name for name, _ in _clustered(modules)}
    for key, (node_id, value) in leaves.items():
        name, kind = names.get(key, (None, None))
        label, attrs = _leaf_label(value, name, show_grads)
        if name and kind in ("param", "buffer"):
            # A parameter or buffer sits in its module's cluster: '0.weight' belongs to '0'.
            module = name.rpartition(".")[0]
            where = module if module in clusters else None
        else:
            # An unnamed constant (a zero initial state, one step's slice of the input) sits
            # with the ops that use it when they all sit in one cluster.
            where = next(iter(users[key])) if name is None and len(users.get(key, ())) == 1 \
                else None
        place(where, node_id, label, attrs)

    heat_max = max((profile.share(n) for n in ops), default=0.0) if profile else 0.0
    for node in ops:
        label, attrs = _op_label(node, show_saved, profile, heat_max)
        place(owner.get(node), op_ids[node], label, {**attrs, "group": "ops"})

    graph = graphviz.Digraph(
        "computation_graph",
        graph_attr={"rankdir": rankdir, "nodesep": "0.3", "ranksep": "0.3",
                    "fontname": "Helvetica", "fontsize": "10", "labelloc": "b",
                    "label": _caption(profile)},
        node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "11",
                   "style": "rounded,filled", "fillcolor": OP_FILL, "color": "#607080",
                   "penwidth": "0.8", "margin": "0.1,0.04"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "fontcolor": "#505050",
                   "color": "#505050", "arrowsize": "0.6"},
    )
    for node_id, label, attrs in statements[None]:
        graph.node(node_id, label, **attrs)
    _emit_clusters(graph, statements, modules)

    for node in ops:
        # Layout: ops share a group and heavy edges, so the op-to-op spine runs straight and
        # leaves hang beside it. An op fed by leaves sits two ranks below its input op: its
        # leaves take the rank between, so one layer's cluster does not overlap the previous
        # one's and the clusters stack instead of drifting sideways like a staircase.
        fed = any(id(p) in leaves for p in node.parents)
        spine = {"weight": "4", "minlen": "2"} if fed else {"weight": "4"}
        for parent in node.parents:
            if isinstance(parent, Tensor) and parent.grad_fn is not None:
                graph.edge(op_ids[parent.grad_fn], op_ids[node],
                           _edge_label(outputs[parent.grad_fn], show_grads), **spine)
            elif id(parent) in leaves:
                graph.edge(leaves[id(parent)][0], op_ids[node])

    for i, (name, t) in enumerate(roots):
        out_id = f"out{i}"
        lines = [_describe(t)]
        if t._data.size == 1 and t.dtype.kind in "fiub":
            lines.append(f"= {t._data.item():.5g}")
        graph.node(out_id, _html(name, lines), fillcolor=OUTPUT_FILL, style="filled",
                   penwidth="1.6")
        source = op_ids[t.grad_fn] if t.grad_fn is not None else leaves[id(t)][0]
        graph.edge(source, out_id)
    return graph


def _expand(ops: list[Function], outputs: dict) -> tuple[list[Function], dict[Function, Function]]:
    """`ops` with every LinearRun replaced by the nodes of the layers it stands for (Linear,
    BatchNorm, Relu, Dropout, ...: LinearRun.layers), each at the seq that its module's call
    recorded (container.stage_seqs, for a run nn.Sequential applied; a run applied directly
    puts all its layers at its own seq), so the picture of a fused run is the unfused one.
    Adds each layer's output to `outputs`; returns the run -> last layer map."""
    drawn: list[Function] = []
    last_layer: dict[Function, Function] = {}
    for node in ops:
        if type(node) is not LinearRun:
            drawn.append(node)
            continue
        at = stage_seqs(node)
        seqs = iter(at) if at else itertools.repeat(node.seq)
        for layer, out, _ in node.layers(seqs):
            drawn.append(layer)
            outputs[layer] = out
        last_layer[node] = drawn[-1]
        outputs[drawn[-1]] = outputs[node]
    drawn.sort(key=lambda n: n.seq)  # (stable: a run's layers at one seq stay in order)
    return drawn, last_layer


def _owners(ops: list[Function], modules: list[tuple[str, Module]]
            ) -> dict[Function, str | tuple[str, int]]:
    """op -> the innermost module whose call in the latest forward created it (its seq in the
    call's range): the module's name, or (name, k) for the k-th of several calls of a module
    without sub-modules (a cell called once per time step gets one sub-cluster per call)."""
    seqs = [node.seq for node in ops]
    ranges: list[tuple[str | tuple[str, int], tuple[int, int]]] = []
    for name, module in _clustered(modules):
        # only the calls that made ops of this graph (numbered from 0 among themselves)
        calls = [(start, end) for start, end in module_calls(module)
                 if bisect_right(seqs, start) < bisect_left(seqs, end)]
        per_call = len(calls) > 1 and not module._modules
        ranges += [((name, k) if per_call else name, call) for k, call in enumerate(calls)]
    # Widest range first, so nested (narrower) modules overwrite: the innermost one wins.
    ranges.sort(key=lambda x: x[1][0] - x[1][1])
    owner: dict[Function, str | tuple[str, int]] = {}
    for key, (start, end) in ranges:
        for node in ops[bisect_right(seqs, start):bisect_left(seqs, end)]:
            owner[node] = key
    return owner


def _clustered(modules: list[tuple[str, Module]]) -> list[tuple[str, Module]]:
    """The modules that get a cluster: all but a root that only contains other modules."""
    return [(name, m) for name, m in modules if name or not m._modules]


def _emit_clusters(graph: graphviz.Digraph, statements: dict, modules: list) -> None:
    """One cluster per module holding nodes, nested like the modules (ancestors included)."""
    kinds = dict(_clustered(modules))
    order = {name: i for i, name in enumerate(kinds)}
    calls: dict[str, list[int]] = {}
    for key in statements:
        if isinstance(key, tuple):
            calls.setdefault(key[0], []).append(key[1])
    used = {key[0] if isinstance(key, tuple) else key for key in statements if key is not None}
    for name in list(used):
        parts = name.split(".")
        used.update(".".join(parts[:k]) for k in range(1, len(parts)))
    used &= set(kinds)
    children: dict[str, list[str]] = {}
    for name in [n for n in kinds if n in used]:  # the order of named_modules()
        parent = name.rpartition(".")[0] if "." in name else None
        while parent is not None and parent not in used:
            parent = parent.rpartition(".")[0] if "." in parent else None
        children.setdefault(parent, []).append(name)

    def emit(parent_graph: graphviz.Digraph, name: str) -> None:
        # NOTE: recursion over module nesting (a few levels), never over graph depth.
        with parent_graph.subgraph(name=f"cluster_{order[name]}") as sub:
            label = f"{name}: {type(kinds[name]).__name__}" if name else type(kinds[name]).__name__
            sub.attr(label=label, style="rounded,dashed", color="#8a9bb0", fontcolor="#33415c",
                     labeljust="l", fontsize="10")
            # NOTE: dot places a cluster's nodes of one rank in reverse order of declaration;
            # declaring them backwards shows a layer's leaves in argument order (weight, bias).
            for node_id, node_label, attrs in reversed(statements.get(name, [])):
                sub.node(node_id, node_label, **attrs)
            for k in sorted(calls.get(name, ())):
                with sub.subgraph(name=f"cluster_{order[name]}_call{k}") as step:
                    step.attr(label=f"call {k}", style="rounded,dotted", labeljust="l")
                    for node_id, node_label, attrs in reversed(statements[(name, k)]):
                        step.node(node_id, node_label, **attrs)
            for child in children.get(name, ()):
                emit(sub, child)

    for name in children.get(None, ()):
        emit(graph, name)


# ---------------------------------------------------------------- labels


def _html(title: str, lines: list[str], detail_color: str = DETAIL_COLOR) -> str:
    """A node label: the title in bold, details smaller below it."""
    rows = [f"<b>{html.escape(title, quote=False)}</b>"]
    rows += [f'<font point-size="9" color="{detail_color}">{html.escape(line, quote=False)}</font>'
             for line in lines]
    return "<" + "<br/>".join(rows) + ">"


def _describe(a: Any) -> str:
    """Shape and dtype of a Tensor or array, e.g. '(32, 64) float32'."""
    data = a._data if isinstance(a, Tensor) else a
    shape = "scalar" if data.ndim == 0 else str(tuple(data.shape))
    return f"{shape} {data.dtype}"


def _norm(t: Tensor) -> str:
    return f"{float(np.linalg.norm(t._data.astype(np.float64))):.3g}"


def _leaf_label(value: Any, name: str | None, show_grads: bool) -> tuple[str, dict[str, str]]:
    if isinstance(value, np.ndarray):
        return _html("array", [_describe(value)]), {"style": "filled", "fillcolor": CONST_FILL}
    lines = [_describe(value)]
    if value.requires_grad:
        if show_grads:
            lines.append(f"grad norm {_norm(value.grad)}" if value.grad is not None
                         else "grad None")
        return _html(name or "leaf", lines), {"style": "filled", "fillcolor": PARAM_FILL}
    return _html(name or "constant", lines), {"style": "filled", "fillcolor": CONST_FILL}


def _op_label(node: Function, show_saved: bool, profile: Profile | None,
              heat_max: float) -> tuple[str, dict[str, str]]:
    lines = _wrap(_arguments(node))
    if show_saved:
        lines.append("saved: " + _saved(node))
    attrs: dict[str, str] = {}
    detail_color = DETAIL_COLOR
    if profile is not None and node in profile.forward:
        fwd, bwd = profile.forward[node], profile.backward.get(node, 0.0)
        share = profile.share(node)
        lines.append(f"fwd {_duration(fwd)} + bwd {_duration(bwd)}")
        lines.append(f"{100 * share:.1f}% of step")
        level = round(share / heat_max * (len(HEAT) - 1)) if heat_max > 0 else 0
        attrs["fillcolor"] = HEAT[level]
        if level >= 6:  # dark red: white text reads better
            attrs["fontcolor"] = detail_color = "white"
    return _html(node.name(), lines, detail_color), attrs


def _duration(seconds: float) -> str:
    """Milliseconds, or microseconds below one millisecond (small ops would read 0.00 ms)."""
    return f"{1e3 * seconds:.2f} ms" if seconds >= 1e-3 else f"{1e6 * seconds:.0f} µs"


def _edge_label(t: Tensor, show_grads: bool) -> str:
    text = _describe(t)
    node = t.grad_fn
    if show_grads and node is not None and node.retained is not None:
        grad = node.retained.grad
        if grad is not None:
            text += f"\ngrad norm {_norm(grad)}"
    return graphviz.nohtml(text.replace("\n", "\\n"))


def _saved(node: Function) -> str:
    saved = node.saved_tensors
    if saved is _FREED:
        return "freed"
    if not saved:
        return "nothing"
    return ", ".join(_describe(a) if isinstance(a, np.ndarray) else _value(a) for a in saved)


@functools.cache
def _argument_names(cls: type) -> tuple[tuple[str, ...], str | None]:
    """Names of forward's arguments after ctx, and of its *args (Cat's tensors), if any."""
    try:
        parameters = list(inspect.signature(cls.forward).parameters.values())[1:]
    except (AttributeError, TypeError, ValueError):
        return (), None
    plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = tuple(p.name for p in parameters if p.kind in plain)
    star = next((p.name for p in parameters if p.kind is inspect.Parameter.VAR_POSITIONAL), None)
    return names, star


def _arguments(node: Function) -> list[str]:
    """The op's non-tensor arguments as 'name=value' (dropout p, sum axis, batch-norm eps);
    tensors and arrays are drawn as edges, None (an absent bias) is left out."""
    names, star = _argument_names(type(node))
    items = []
    for i, value in enumerate(node.parents):
        if value is None or isinstance(value, (Tensor, np.ndarray)):
            continue
        if i < len(names):
            name = names[i]
        else:
            name = f"{star}[{i - len(names)}]" if star else f"arg{i}"
        items.append(f"{name}={_value(value)}")
    return items


def _value(v: Any) -> str:
    """A short readable form of an op argument."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, type) and issubclass(v, np.generic):
        return np.dtype(v).name
    if isinstance(v, slice):
        parts = ["" if p is None else str(p) for p in (v.start, v.stop, v.step)]
        return ":".join(parts[:2] if v.step is None else parts)
    if v is Ellipsis:
        return "..."
    if isinstance(v, tuple) and v and any(isinstance(p, (slice, np.ndarray)) for p in v):
        return "[" + ", ".join(_value(p) for p in v) + "]"
    if isinstance(v, np.ndarray):
        return f"array{tuple(v.shape)}"
    text = repr(v)
    return text if len(text) <= LINE_WIDTH else text[:LINE_WIDTH - 1] + "…"


def _wrap(items: list[str]) -> list[str]:
    """Join 'name=value' items into lines of at most LINE_WIDTH characters."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= LINE_WIDTH:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return lines


def _caption(profile: Profile | None) -> str:
    ops = "blue: ops" if profile is None else "ops: white to dark red by share of the step time"
    text = (f"green: parameters   grey: data and constants   {ops}   gold: outputs\\n"
            "arrows: forward flow, labelled with shape and dtype (backward runs against them)")
    if profile is not None:
        text += (f"\\nstep {_duration(profile.step_time)} (median of {profile.runs}), "
                 f"{100 * profile.ops_share:.0f}% of it inside ops")
    return text

"""tg.viz.draw_graph / draw_model / profile: the DOT source of small known graphs, exactly."""

import re

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, viz
from tinygrad_c2.nn import functional as F
from tinygrad_c2.viz.graph import HEAT, OUTPUT_FILL, PARAM_FILL

NODE = re.compile(r"^\s*(\w+) \[label=(<.*>|\"[^\"]*\")(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$")


def text(label: str) -> str:
    """An HTML label as plain text, one ' / ' between lines."""
    body = label[1:-1] if label.startswith("<") else label.strip('"')
    return re.sub(r"<[^>]+>", "", body.replace("<br/>", " / ")).replace("&amp;", "&")


def parse(graph):
    """(nodes: id -> (text, attrs), edges: [(tail, head, attrs)], clusters: label -> ids)."""
    nodes, edges, clusters, stack = {}, [], {}, []
    for line in graph.source.splitlines():
        if line.strip().startswith("subgraph cluster_"):
            stack.append(None)
        elif stack and stack[-1] is None and " label=" in line and "[" not in line:
            stack[-1] = re.search(r'label="([^"]*)"', line).group(1)
            clusters[stack[-1]] = []
        elif line.strip() == "}" and stack:
            stack.pop()
        elif m := NODE.match(line):
            nodes[m.group(1)] = (text(m.group(2)), m.group(3))
            for label in stack:
                clusters[label].append(m.group(1))
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
    return nodes, edges, clusters


def mlp():
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.25),
                         nn.Linear(5, 3))


def test_small_graph_has_exact_nodes_edges_and_labels():
    w = tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    x = tg.tensor([1.0, 2.0, 3.0])
    y = (w @ x).sum()
    nodes, edges, clusters = parse(viz.draw_graph(y, params={"w": w}, inputs={"x": x}))
    assert {k: v[0] for k, v in nodes.items()} == {
        "t0": "w / (2, 3) float32",
        "t1": "x / (3,) float32",
        "op0": "MatMul",
        "op1": "Sum / keepdims=False",
        "out0": "output / scalar float32 / = 34",  # [0 1 2; 3 4 5] @ [1 2 3] = [8 26]
    }
    assert edges == [
        ("t0", "op0", ""),
        ("t1", "op0", ""),
        ("op0", "op1", 'label="(2,) float32" weight=4'),
        ("op1", "out0", ""),
    ]
    assert clusters == {}
    assert PARAM_FILL in nodes["t0"][1] and OUTPUT_FILL in nodes["out0"][1]


def test_reused_tensor_draws_one_edge_per_use():
    # micrograd's set of parents loses x * x; every argument is an edge here
    x = tg.tensor([3.0], requires_grad=True)
    nodes, edges, _ = parse(viz.draw_graph(x * x))
    assert len(nodes) == 3
    assert [(a, b) for a, b, _ in edges].count(("t0", "op0")) == 2


def test_op_nodes_show_their_non_tensor_arguments():
    x = tg.randn(4, 6, requires_grad=True)
    h = F.dropout(x, p=0.3)
    h = F.batch_norm(h, None, None, training=True, eps=1e-3, momentum=0.2)
    h = F.leaky_relu(h, 0.05).clamp(-2.0, 2.0).reshape(2, 12).softmax(dim=1)
    y = (h * 0.5).sum(axis=1)
    nodes, _, _ = parse(viz.draw_graph(y))
    ops = [label for key, (label, _) in nodes.items() if key.startswith("op")]
    assert ops == [
        "Dropout / p=0.3",
        "BatchNorm / training=True, momentum=0.2 / eps=0.001",
        "LeakyRelu / slope=0.05",
        "Clamp / lo=-2, hi=2",
        "Reshape / shape=(2, 12)",
        "Softmax / dim=1",
        "Mul / b=0.5",
        "Sum / axis=1, keepdims=False",
    ]


def test_edges_carry_the_shape_and_dtype_of_the_tensor_that_flows():
    x = tg.randn(5, 3, requires_grad=True).double()
    y = x.tanh().sum()
    _, edges, _ = parse(viz.draw_graph(y))
    labels = [attrs for _, _, attrs in edges if "label" in attrs]
    assert labels == ['label="(5, 3) float64" weight=4'] * 2


def test_draw_model_clusters_each_module_and_names_parameters():
    tg.manual_seed(0)
    model = mlp()
    X, y = tg.randn(8, 4), tg.tensor(np.arange(8) % 3)
    graph = viz.draw_model(model, X, y, nn.CrossEntropyLoss(), backward=True)
    nodes, edges, clusters = parse(graph)
    assert list(clusters) == ["0: Linear", "1: BatchNorm1d", "2: ReLU", "3: Dropout",
                              "4: Linear", "loss: CrossEntropyLoss"]
    titles = {key: label.split(" / ")[0] for key, (label, _) in nodes.items()}
    members = {c: sorted(titles[k] for k in ids) for c, ids in clusters.items()}
    assert members == {
        "0: Linear": ["0.bias", "0.weight", "Linear"],
        "1: BatchNorm1d": ["1.bias", "1.running_mean", "1.running_var", "1.weight",
                           "BatchNorm"],
        "2: ReLU": ["Relu"],
        "3: Dropout": ["Dropout"],
        "4: Linear": ["4.bias", "4.weight", "Linear"],
        "loss: CrossEntropyLoss": ["CrossEntropy"],
    }
    # 6 ops + 10 leaves (input, target, 6 parameters, 2 running statistics) + 2 outputs
    assert len(nodes) == 18
    # inputs per op: Linear 3, BatchNorm 5, Relu 1, Dropout 1, Linear 3, CrossEntropy 2; outputs 2
    assert len(edges) == 17
    assert sorted(t for t in titles.values() if t in ("input", "target", "loss", "output")) == [
        "input", "loss", "output", "target"]
    assert "Dropout / p=0.25" in [label for label, _ in nodes.values()]


def test_parameter_labels_are_pytorchs_names():
    torch = pytest.importorskip("torch")
    reference = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5),
                                    torch.nn.ReLU(), torch.nn.Dropout(0.25),
                                    torch.nn.Linear(5, 3))
    expected = [n for n, _ in reference.named_parameters()]
    expected += [n for n, _ in reference.named_buffers() if "num_batches" not in n]
    nodes, _, _ = parse(viz.draw_model(mlp(), tg.randn(8, 4)))
    titles = {label.split(" / ")[0] for label, _ in nodes.values()}
    assert set(expected) <= titles


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.body(x)) * 2.0  # this Mul belongs to no sub-module


def test_nested_modules_nest_clusters_and_the_innermost_module_wins():
    nodes, _, clusters = parse(viz.draw_model(Block(), tg.ones(2, 3)))
    titles = {key: label.split(" / ")[0] for key, (label, _) in nodes.items()}
    members = {c: sorted(titles[k] for k in ids) for c, ids in clusters.items()}
    assert members == {
        "body: Sequential": ["Linear", "Tanh", "body.0.bias", "body.0.weight"],
        "body.0: Linear": ["Linear", "body.0.bias", "body.0.weight"],
        "body.1: Tanh": ["Tanh"],
        "head: Linear": ["Linear", "head.bias", "head.weight"],
    }
    inside = {k for ids in clusters.values() for k in ids}
    assert [titles[k] for k in nodes if k not in inside] == ["input", "Mul", "output"]


def test_group_modules_false_draws_no_clusters_but_keeps_names():
    nodes, _, clusters = parse(viz.draw_model(mlp(), tg.randn(8, 4), group_modules=False))
    assert clusters == {}
    assert "0.weight / (5, 4) float32" in [label for label, _ in nodes.values()]


def test_grad_norms_are_shown_after_backward():
    w = tg.tensor([[1.0, -2.0], [0.5, 4.0]], requires_grad=True)
    loss = (w * w * w).sum()
    before, _, _ = parse(viz.draw_graph(loss, {"w": w}, show_grads=True))
    assert before["t0"][0] == "w / (2, 2) float32 / grad None"
    loss.backward()
    after, _, _ = parse(viz.draw_graph(loss, {"w": w}, show_grads=True))
    expected = np.linalg.norm(3 * w.numpy().astype(np.float64) ** 2)
    assert after["t0"][0] == f"w / (2, 2) float32 / grad norm {expected:.3g}"


def test_retained_intermediate_gradients_appear_on_their_edge():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    _, edges, _ = parse(viz.draw_graph((h * h).sum(), show_grads=True))
    expected = np.linalg.norm(2 * h.numpy())
    assert any(f"grad norm {expected:.3g}" in attrs for _, _, attrs in edges)


def test_saved_arrays_are_listed_and_shown_freed_after_backward():
    a = tg.randn(2, 3, requires_grad=True)
    y = (a * a).sum()
    nodes, _, _ = parse(viz.draw_graph(y, show_saved=True))
    assert nodes["op0"][0] == "Mul / saved: (2, 3) float32, (2, 3) float32"
    assert nodes["op1"][0] == "Sum / keepdims=False / saved: nothing"
    y.backward(retain_graph=True)
    assert parse(viz.draw_graph(y, show_saved=True))[0]["op0"][0].endswith("float32")
    y.backward()
    assert parse(viz.draw_graph(y, show_saved=True))[0]["op0"][0] == "Mul / saved: freed"


def test_several_outputs_are_drawn_and_highlighted():
    tg.manual_seed(1)
    model = mlp()
    logits = model(tg.randn(8, 4))
    loss = F.cross_entropy(logits, tg.tensor(np.arange(8) % 3))
    nodes, edges, _ = parse(viz.draw_graph({"loss": loss, "logits": logits}, model))
    outputs = {k: v for k, v in nodes.items() if OUTPUT_FILL in v[1]}
    assert [label.split(" / ")[:2] for label, _ in outputs.values()] == [
        ["loss", "scalar float32"], ["logits", "(8, 3) float32"]]
    producers = {head: tail for tail, head, _ in edges if head in outputs}
    assert nodes[producers["out0"]][0].startswith("CrossEntropy")
    assert nodes[producers["out1"]][0] == "Linear"
    # a list gives numbered outputs; the shared graph is drawn once
    nodes, _, _ = parse(viz.draw_graph([loss, logits]))
    assert [v[0].split(" / ")[0] for k, v in nodes.items() if k.startswith("out")] == [
        "output 0", "output 1"]
    assert sum(k.startswith("op") for k in nodes) == 6


def test_a_leaf_output_and_numpy_array_arguments_are_boxes():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    target = np.array([0.0, 1.0], dtype=np.float32)
    loss = F.mse_loss(w, target)
    nodes, edges, _ = parse(viz.draw_graph([loss, w], {"w": w}))
    assert nodes["t1"][0] == "array / (2,) float32"
    assert ("t0", "out1", "") in edges


def test_a_ten_thousand_op_chain_draws_without_recursion():
    x = tg.ones(3, requires_grad=True)
    y = x
    for _ in range(10_000):  # ten times Python's default recursion limit
        y = y * 1.0
    nodes, edges, _ = parse(viz.draw_graph(y.sum(), {"x": x}))
    assert len(nodes) == 10_000 + 1 + 1 + 1  # Mul chain, Sum, x, output
    assert len(edges) == 10_000 + 1 + 1


def fake_profile(root):
    """A Profile with known times: the ops of `root` take 50%, 25%, 0% of a 10 ms step."""
    ops, _ = viz.trace.walk([root])
    times = [5e-3, 2.5e-3, 0.0]
    return viz.Profile(root=root, forward={n: t / 5 for n, t in zip(ops, times, strict=True)},
                       backward={n: t * 4 / 5 for n, t in zip(ops, times, strict=True)},
                       step_time=10e-3, runs=3, ops_share=0.75)


def test_profile_colours_ops_by_their_share_of_the_step():
    x = tg.randn(3, 3, requires_grad=True)
    root = x.exp().tanh().sum()
    nodes, _, _ = parse(viz.draw_graph(profile=fake_profile(root)))
    assert nodes["op0"][0] == "Exp / fwd 1.00 ms + bwd 4.00 ms / 50.0% of step"
    assert nodes["op1"][0] == "Tanh / fwd 500 µs + bwd 2.00 ms / 25.0% of step"
    assert nodes["op2"][0] == "Sum / keepdims=False / fwd 0 µs + bwd 0 µs / 0.0% of step"
    colours = [re.search(r'fillcolor="([^"]+)"', nodes[k][1]).group(1) for k in
               ("op0", "op1", "op2")]
    assert colours == [HEAT[-1], HEAT[4], HEAT[0]]  # largest share, half of it, none
    assert "fontcolor=white" in nodes["op0"][1]
    source = viz.draw_graph(profile=fake_profile(root)).source
    assert "step 10.00 ms (median of 3), 75% of it inside ops" in source


def test_profile_times_every_node_of_the_last_runs_graph():
    tg.manual_seed(2)
    model = mlp()
    X, y = tg.randn(16, 4), tg.tensor(np.arange(16) % 3)
    roots = []

    def step():
        model.zero_grad()
        logits = model(X)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        roots.append(loss)
        return loss, logits

    prof = viz.profile(step, runs=3)
    assert len(roots) == 3 and prof.root[0] is roots[-1] and prof.runs == 3
    ops, _ = viz.trace.walk([roots[-1]])
    assert list(prof.forward) == ops and list(prof.backward) == ops
    assert [n.name() for n in ops] == ["Linear", "BatchNorm", "Relu", "Dropout", "Linear",
                                       "CrossEntropy"]
    assert all(prof.forward[n] > 0 and prof.backward[n] > 0 for n in ops)
    assert prof.step_time >= max(prof.time(n) for n in ops)
    assert 0 < prof.ops_share <= 1
    assert prof.table(top=2).splitlines()[0].split() == ["op", "fwd", "ms", "bwd", "ms", "share"]
    nodes, _, _ = parse(viz.draw_graph(profile=prof, params=model))
    assert sum("% of step" in label for label, _ in nodes.values()) == 6


def test_profile_rejects_steps_that_build_different_graphs():
    x = tg.ones(2, requires_grad=True)
    calls = []

    def step():
        calls.append(1)
        y = x.exp() if len(calls) == 1 else x.exp().exp()
        loss = y.sum()
        loss.backward()
        return loss

    with pytest.raises(ValueError, match="run 1 built a different graph"):
        viz.profile(step, runs=2)
    with pytest.raises(ValueError, match="without a graph"):
        viz.profile(lambda: x, runs=1)
    with pytest.raises(ValueError, match="runs must be a positive int"):
        viz.profile(step, runs=0)


def test_draw_model_leaves_the_model_as_it_found_it():
    tg.manual_seed(3)
    model = mlp()
    bn = model[1]
    before = (bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
              int(bn.num_batches_tracked.item()))
    marker = tg.ones(5, 4)
    model[0].weight.grad = marker
    viz.draw_model(model, tg.randn(8, 4), tg.tensor(np.arange(8) % 3), nn.CrossEntropyLoss(),
                   backward=True)
    np.testing.assert_array_equal(bn.running_mean.numpy(), before[0])
    np.testing.assert_array_equal(bn.running_var.numpy(), before[1])
    assert int(bn.num_batches_tracked.item()) == before[2]
    assert model[0].weight.grad is marker and model[4].weight.grad is None


def test_draw_model_shows_this_steps_gradients_not_accumulated_ones():
    tg.manual_seed(4)
    model = nn.Sequential(nn.Linear(2, 1))
    X, y = tg.randn(4, 2), tg.randn(4, 1)
    model[0].weight.grad = tg.full((1, 2), 100.0)
    nodes, _, _ = parse(viz.draw_model(model, X, y, F.mse_loss, backward=True))
    model[0].weight.grad = None
    F.mse_loss(model(X), y).backward()
    expected = np.linalg.norm(model[0].weight.grad.numpy().astype(np.float64))
    assert f"0.weight / (1, 2) float32 / grad norm {expected:.3g}" in [
        label for label, _ in nodes.values()]


def test_bad_arguments_raise_clear_errors():
    w = tg.ones(2, requires_grad=True)
    y = (w * 2).sum()
    with pytest.raises(TypeError, match="draw_graph: params must be an nn.Module or a dict"):
        viz.draw_graph(y, params=[w])
    with pytest.raises(TypeError, match=r"params\['w'\] is a ndarray"):
        viz.draw_graph(y, params={"w": w.numpy()})
    with pytest.raises(ValueError, match="rankdir must be one of"):
        viz.draw_graph(y, rankdir="UP")
    with pytest.raises(TypeError, match="expected a Tensor, a list/tuple of Tensors"):
        viz.draw_graph(3.0)
    with pytest.raises(TypeError, match="give the output tensor"):
        viz.draw_graph()
    with pytest.raises(ValueError, match="target given without a loss_fn"):
        viz.draw_model(mlp(), tg.randn(8, 4), target=tg.zeros(8))
    with pytest.raises(ValueError, match="backward needs a scalar"):
        viz.draw_model(mlp(), tg.randn(8, 4), backward=True)
    with pytest.raises(TypeError, match="draw_model: expected an nn.Module"):
        viz.draw_model(lambda x: x, tg.ones(2))


def test_rankdir_is_passed_to_graphviz():
    y = (tg.ones(2, requires_grad=True) * 2).sum()
    assert "rankdir=LR" in viz.draw_graph(y, rankdir="LR").source

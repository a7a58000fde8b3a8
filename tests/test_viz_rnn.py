"""The picture of a recurrent model stays readable: nn.LSTM's ops in its cluster, a cell called
once per time step drawn as one cluster with a sub-cluster per call."""

import re

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, viz

pytest.importorskip("graphviz")


class CellLoop(nn.Module):
    """An LSTMCell unrolled over T steps by hand (the pattern that needs per-call clusters)."""

    def __init__(self):
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        state = None
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
        return self.head(state[0])


def _clusters(source: str) -> dict[str, list[str]]:
    """cluster label -> the node ids declared directly inside it (not in nested clusters)."""
    out, stack = {}, []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster_"):
            stack.append([])
        elif stack and not re.match(r"^(op|t)\d+ ", line) and 'label="' in line:
            stack[-1].insert(0, re.search(r'label="([^"]*)"', line).group(1))
        elif line == "}" and stack:
            label, *nodes = stack.pop()
            out[label] = nodes
        elif stack and re.match(r"^(op|t)\d+ \[", line):
            stack[-1].append(line.split()[0])
    return out


def test_a_cell_called_per_time_step_gets_one_sub_cluster_per_call():
    tg.manual_seed(0)
    model = CellLoop()
    g = viz.draw_model(model, tg.randn(2, 5, 3), np.array([0, 1]), nn.CrossEntropyLoss())
    clusters = _clusters(g.source)
    calls = [label for label in clusters if label.startswith("call ")]
    assert calls == [f"call {k}" for k in range(5)], list(clusters)
    # every LSTMRecurrence (one per step) sits in a call cluster, none loose at the top level
    recurrences = {line.split()[0] for line in g.source.splitlines()
                   if "<b>LSTMRecurrence</b>" in line}
    assert len(recurrences) == 5
    in_calls = {node for label in calls for node in clusters[label]}
    assert recurrences <= in_calls
    # the cell's four parameters sit once in the cell's cluster, outside the calls
    params = [line for line in g.source.splitlines() if "<b>cell." in line]
    assert len(params) == 4
    assert len(clusters["cell: LSTMCell"]) == 4


def test_nn_lstm_keeps_its_ops_and_zero_initial_states_in_its_cluster():
    tg.manual_seed(0)
    model = nn.Sequential(nn.LSTM(3, 4, num_layers=2, batch_first=True))
    out, _ = model[0](tg.randn(2, 5, 3))
    g = viz.draw_graph(out.sum(), params=model)
    clusters = _clusters(g.source)
    lstm = clusters["0: LSTM"]
    assert sum(node.startswith("op") for node in lstm) >= 2
    # the zero initial states (h0, c0 per layer) are made inside nn.LSTM and used only there
    constants = [line.split()[0] for line in g.source.splitlines() if "<b>constant</b>" in line]
    assert constants and set(constants) <= set(lstm)


def test_calls_are_forgotten_when_a_new_forward_starts():
    # only the calls of the latest outermost forward are kept (no growth over training)
    model = CellLoop()
    for _ in range(3):
        model(tg.randn(2, 4, 3))
    epoch, calls = model.cell.__dict__["_calls"]
    assert len(calls) == 4
    assert len(model.head.__dict__["_calls"][1]) == 1
    assert model.cell.__dict__["_calls"][0] == epoch == model.__dict__["_calls"][0]


def test_a_forward_that_raises_does_not_break_the_next_forwards_grouping():
    class Raises(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Raises()(tg.ones(1))
    model = CellLoop()
    model(tg.randn(2, 3, 3))
    model(tg.randn(2, 3, 3))
    assert len(model.cell.__dict__["_calls"][1]) == 3


def test_a_module_keeps_a_bounded_record_of_calls_in_one_forward():
    from tinygrad_c2.nn.modules import module

    class Many(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Identity()

        def forward(self, x):
            for _ in range(module.MAX_CALLS + 5):
                x = self.inner(x)
            return x

    model = Many()
    model(tg.ones(1))
    assert len(model.inner.__dict__["_calls"][1]) == module.MAX_CALLS

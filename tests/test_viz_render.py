"""tg.viz.save / draw_training_step: pictures through Graphviz's `dot`, DOT source without it,
and a message saying what to install when it is missing."""

import numpy as np
import pytest

import tinygrad_c2 as tg
from tinygrad_c2 import nn, viz

needs_dot = pytest.mark.skipif(not viz.dot_available(), reason="Graphviz's dot is not installed")


def small_graph():
    w = tg.tensor([[1.0, 2.0]], requires_grad=True)
    loss = (w @ tg.tensor([[3.0], [4.0]])).relu().sum()
    loss.backward()
    return viz.draw_graph(loss, {"w": w}, show_grads=True)


def model_and_data():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(6, 3))
    return model, tg.randn(10, 4), tg.tensor(np.arange(10) % 3)


@pytest.fixture
def no_dot(tmp_path, monkeypatch):
    """PATH pointing at an empty directory: no `dot` to be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not viz.dot_available()


@needs_dot
def test_svg_is_rendered_with_the_labels_in_it(tmp_path):
    path = viz.save(small_graph(), tmp_path / "graph.svg")
    assert path == tmp_path / "graph.svg"
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for text in ("MatMul", "Relu", "grad norm 5", "(1, 1) float32"):
        assert text in svg
    assert not (tmp_path / "graph.dot").exists()  # the source is removed once rendered


@needs_dot
def test_png_and_pdf_are_rendered(tmp_path):
    png = viz.save(small_graph(), tmp_path / "graph.png", keep_source=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "graph.dot").read_text().startswith("digraph computation_graph")
    pdf = viz.save(small_graph(), tmp_path / "graph", fmt="pdf")
    assert pdf.name == "graph.pdf" and pdf.read_bytes()[:5] == b"%PDF-"


def test_dot_source_is_written_without_graphviz(tmp_path, no_dot):
    graph = small_graph()
    path = viz.save(graph, tmp_path / "sub" / "graph.dot")
    assert path.read_text() == graph.source
    assert viz.save(graph, tmp_path / "graph", fmt="gv").read_text() == graph.source


def test_missing_dot_says_what_to_install_and_leaves_the_source(tmp_path, no_dot):
    graph = small_graph()
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.save(graph, tmp_path / "graph.png")
    message = str(info.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert str(tmp_path / "graph.dot") in message
    assert f"dot -Tpng {tmp_path / 'graph.dot'} -o {tmp_path / 'graph.png'}" in message
    assert (tmp_path / "graph.dot").read_text() == graph.source
    assert not (tmp_path / "graph.png").exists()


def test_unknown_formats_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format of .*graph.jpeg"):
        viz.save(small_graph(), tmp_path / "graph.jpeg")
    with pytest.raises(ValueError, match="unknown format 'bmp'"):
        viz.save(small_graph(), tmp_path / "graph", fmt="bmp")


@needs_dot
def test_draw_training_step_writes_the_picture_and_leaves_the_model_alone(tmp_path):
    model, X, y = model_and_data()
    state = {k: v.copy() for k, v in model.state_dict().items()}
    path = viz.draw_training_step(model, X, y, nn.CrossEntropyLoss(), tmp_path / "step.svg")
    svg = path.read_text()
    for text in ("0: Linear", "1: BatchNorm1d", "3: Dropout", "loss: CrossEntropyLoss",
                 "0.weight", "grad norm", "p=0.5", "momentum=0.1"):
        assert text in svg
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    assert all(p.grad is None for p in model.parameters())


@needs_dot
def test_draw_training_step_with_profile_shows_timings(tmp_path):
    model, X, y = model_and_data()
    path = viz.draw_training_step(model, X.numpy(), y.numpy(), nn.CrossEntropyLoss(),
                                  tmp_path / "step", fmt="svg", profile=True)
    svg = path.read_text()
    assert path.suffix == ".svg"
    assert svg.count("% of step") == 6 and "median of 5" in svg


def test_draw_training_step_without_dot_still_writes_the_source(tmp_path, no_dot):
    model, X, y = model_and_data()
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        viz.draw_training_step(model, X, y, nn.CrossEntropyLoss(), tmp_path / "step.png")
    assert "1: BatchNorm1d" in (tmp_path / "step.dot").read_text()

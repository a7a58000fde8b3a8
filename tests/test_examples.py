"""Every course-experiment example runs with --quick in a subprocess, prints the figures it
reproduces and writes its PNG (the examples run two at a time to keep the suite short)."""

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: example -> lines its output must contain (the course's figures it reproduces)
EXPECTED = {
    "initialization": ["zeros                         50.0%  50.0%", "He (N(0,1) * sqrt(2/n))"],
    "regularization": ["none ", "L2 ", "dropout "],
    "optimization": ["gradient descent", "momentum", "Adam", "stochastic (1)"],
    "lr_decay": ["epoch 1: 0.100, epoch 2: 0.067, epoch 3: 0.050, epoch 4: 0.040",
                 "k/sqrt(t), k=1"],
    "gradient_checking": ["with the planted bugs: difference", "-> FAILED", "-> PASSED",
                          "the check names the broken gradients: 0.bias, 2.weight"],
    "batch_norm": ["without batch norm", "with batch norm", "match the batch: True"],
    "softmax_digits": ["softmax([5, 2, -1, 3]) = [0.842, 0.042, 0.002, 0.114]",
                       "softmax regression"],
    "bias_variance": ["train  1.0%  dev 11.0%  -> high variance",
                      "train 15.0%  dev 16.0%  -> high bias ",
                      "train 15.0%  dev 30.0%  -> high bias and high variance",
                      "train  0.5%  dev  1.0%  -> neither"],
    "ewa": ["averages ~  10 values", "tg.optim.EWA agrees"],
    "input_normalization": ["raw inputs", "normalized inputs", "condition"],
    "data_digits": ["epoch 10", "test accuracy (looked at once, at the end)"],
    "draw_mlp": ["mlp_graph.svg", "mlp_graph.png"],
    "tune_random_vs_grid": ["log-uniform", "beats the grid"],
    "conv_step_by_step": [
        "conv_forward Z's mean                  course +0.04899520   reference +0.04899520"
        "   autograd +0.04899520",
        "conv_backward dA_mean                  course +1.45243778   reference +1.45243778"
        "   autograd +1.45243778",
        "pool_backward max dA_prev[1,1][1]      course [+5.05844394, -1.68282702]   "
        "reference [+5.05844394, -1.68282702]   autograd [+5.05844394, -1.68282702]",
        "course's mask -> [[0.0, 1.0], [1.0, 0.0]], autograd (PyTorch's rule) -> "
        "[[0.0, 1.0], [0.0, 0.0]]"],
    "cnn_digits": ["Conv2d(1, 16, kernel_size=(3, 3)", "MaxPool2d(", "test accuracy"],
    "char_lm": ["rnn, clip_grad_norm_(0.5)", "rnn, no clipping", "lstm + adam, clipped",
                "sampled at temperature 0.5"],
    "digits_rnn": ["each read as 8 rows of 8 pixels", "LSTM ", "GRU ", "test accuracy"],
    "hessian_l2": ["Q (L + aI)^-1 L Q^T w*", "lambda/(lambda+alpha) =",
                   "small network, Hessian at each optimum"],
    "newton_logistic": ["Hessian (31x31) against X^T diag(p(1-p)) X / m + lambda I",
                        "Newton reaches J* = "],
    "gradient_penalty": ["(a gradient of a gradient): difference", "-> PASSED", "no penalty",
                         "penalty, mu = 0.05"],
}


#: examples whose pictures are not `<name>.png` drawn with matplotlib
PICTURES = {"data_digits": [], "draw_mlp": ["mlp_graph.png"],
            "tune_random_vs_grid": ["tune_scale.png", "tune_random_vs_grid.png", "tune_search.png"],
            "cnn_digits": ["cnn_digits.png", "cnn_digits_graph.png"]}


def has_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Start every example with --quick (two at a time); name -> (future of the run, images)."""
    folder = tmp_path_factory.mktemp("images")
    env = {**os.environ, "PYTHONWARNINGS": "error"}

    def run(name):
        command = [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick",
                   "--images", str(folder)]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)

    pool = ThreadPoolExecutor(max_workers=2)
    futures = {name: pool.submit(run, name) for name in EXPECTED}
    yield futures, folder
    pool.shutdown(wait=True)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_quickly_prints_its_figures_and_writes_its_picture(runs, name):
    futures, folder = runs
    done = futures[name].result()
    assert done.returncode == 0, done.stderr[-3000:]
    for line in EXPECTED[name]:
        assert line in done.stdout, f"{name}: {line!r} missing from\n{done.stdout}"
    if name in PICTURES:
        for picture in PICTURES[name]:
            needed = shutil.which("dot") if "graph" in picture else has_matplotlib()
            if needed:
                assert (folder / picture).stat().st_size > 10_000
    elif has_matplotlib():
        assert (folder / f"{name}.png").stat().st_size > 10_000
    else:
        assert "note: no picture" in done.stdout


def test_every_listed_example_exists_and_has_a_quick_flag():
    for name in EXPECTED:
        source = (EXAMPLES / f"{name}.py").read_text()
        assert '"--quick"' in source
        assert "add_images_argument(parser)" in source or '"--images"' in source


def test_a_quick_run_without_images_leaves_the_tracked_pictures_alone(tmp_path):
    tracked = EXAMPLES / "images" / "ewa.png"
    before = tracked.read_bytes()
    env = {**os.environ, "PYTHONWARNINGS": "error", "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(EXAMPLES / "ewa.py"), "--quick"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"--quick: pictures go to {tmp_path}" in done.stdout
    assert tracked.read_bytes() == before
    if has_matplotlib():
        assert list(tmp_path.glob("tinygrad_c2-example-*/ewa.png"))


@pytest.mark.slow
def test_cnn_digits_reaches_its_stated_test_accuracy():
    # the full run of examples/cnn_digits.py (seed 0): the README states its figure
    sys.path.insert(0, str(EXAMPLES))
    try:
        import cnn_digits
    finally:
        sys.path.remove(str(EXAMPLES))
    _, history, accuracy = cnn_digits.train()
    assert accuracy >= 0.98
    assert accuracy == pytest.approx(cnn_digits.STATED_TEST_ACCURACY, abs=0.006)
    assert history.best_epoch is not None


def _number_after(text, marker):
    """The number printed right after `marker` in an example's output."""
    tail = text.split(marker, 1)[1].split()[0].rstrip(":;,")
    return float(tail)


def test_newton_uses_an_exact_hessian_and_converges(runs):
    done = runs[0]["newton_logistic"].result()
    assert done.returncode == 0, done.stderr[-3000:]
    assert _number_after(done.stdout, "+ lambda I: max difference") < 1e-12
    assert _number_after(done.stdout, "the gradient there has norm") < 1e-10


def test_l2_shrinks_each_eigen_direction_as_the_quadratic_model_says(runs):
    done = runs[0]["hessian_l2"].result()
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if "lambda/(lambda+alpha) =" in line]
    assert len(lines) == 2
    for line in lines:
        predicted = _number_after(line, "lambda/(lambda+alpha) =")
        measured = _number_after(line, "measured w~/w* along it =")
        assert abs(predicted - measured) < 0.1, line
    small, large = (_number_after(line, "lambda/(lambda+alpha) =") for line in lines)
    assert small < 0.5 < large  # pulled towards zero along the flat direction only

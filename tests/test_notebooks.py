"""Every notebook under examples/notebooks/ runs top to bottom in a fresh headless kernel with
QUICK = True and prints the figures it teaches; the stored notebooks match their sources.

The kernel is started by nbclient (no papermill): the `QUICK = True` cell is inserted right
after the cell tagged `parameters`, which is papermill's convention. Needs the `notebook`
extra (nbclient, nbformat, ipykernel) and matplotlib; without them the tests skip, CI
installs them (see .ci/run).
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "examples" / "notebooks"
CELL_TIMEOUT = 300   # seconds per cell: a loaded 2-core CI box is slow, QUICK cells take ~5 s

nbformat = pytest.importorskip("nbformat")


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", FOLDER / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
NOTEBOOKS = build.NOTEBOOKS

#: notebook -> patterns its QUICK run must print (re.search over all of its stdout)
EXPECTED = {
    "initialization": [
        # symmetry: the zeros network stays at ln 2 and at chance, its W1 rows identical
        r"zeros\s+cost\s+0\.693 -> 0\.693\s+train\s+50\.0%\s+test\s+50\.0%",
        r"the rows of W1 differ by at most 0\.0e\+00",
        r"zeros\s+50\.0%\s+50\.0%\s+50\.0%\s+50\.0%",                # the final table
    ],
    "regularization": [
        r"dropout, keep_prob = 0\.86\s+92\.9%\s+95\.0%",                 # the course's row
        r"eval mode, one example:\s+\[1\.( 1\.){19}\]",                   # dropout off
    ],
    "gradient_checking": [
        # the course's own inputs, so the course's own differences (to rounding)
        r"by hand: gradapprox 2\.99999\d+, difference 7\.8\d\de-11",
        r"tg\.gradcheck, J = theta \* x: difference 7\.8\d\de-11 -> PASSED",
        r"bugs=True: difference 0\.28509315\d+ -> FAILED",
        r"bugs=False: difference 1\.19\d+e-07 -> PASSED",
        r"the check names the broken gradients: b1, W2\n",
        r"N-D, autograd \(check_gradients\)\s+\(not in the course\)\s+\d\.\d+e-(09|10) +PASSED",
    ],
    "optimization_methods": [
        r"mini-batch sizes: \[64, 64, 64, 64, 44\]",
        r"every example exactly once per epoch: True",
        r"SGD\s+step: \[-0\.05\s+0\.3\s*\]",                           # lr * g
        r"Momentum\s+step: \[-0\.005\s+0\.03\s*\]",                     # (1 - beta) * lr * g
        r"Adam\s+step: \[-0\.1\s+0\.1\s*\]",                             # lr * sign(g)
        r"epoch   100: lr 0\.000990,",                                   # 0.1 / (1 + 100)
    ],
    "softmax_tensorflow_style": [
        r"W @ X \+ b = \[-2\.15657382\s+2\.95891446\s+-1\.08926781\s+-0\.84538042\]",
        r"sigmoid\(12\) = \[0\.2689414 0\.5\s+0\.9999938\]",
        r"one_hot\(2, C=5\) = \[0\. 0\. 1\. 0\. 0\.\]",
        r"softmax\(\[5, 2, -1, 3\]\) = \[0\.842 0\.042 0\.002 0\.114\]",
        r"integer labels (\d\.\d{6}), one-hot \1, by hand \1",              # the same loss
        r"train \(1618, 64\)  test \(179, 64\)",
    ],
    "conv_step_by_step": [
        # the course's np.random.seed(1) inputs: the reference's loops print its figures, and
        # F.conv2d / F.max_pool2d / F.avg_pool2d with backward() print the same
        r"x_pad\.shape = \(4, 7, 7, 2\)",
        r"conv_single_step: Z = -6\.99908945068\n",
        r"\nZ's mean = 0\.0489952035289\n",
        r"autograd: Z's mean = 0\.0489952035289\n",
        r"\ndA_mean = 1\.45243777754   dW_mean = 1\.72699145831   db_mean = 7\.83923256462",
        r"autograd: dA_mean = 1\.45243777754   dW_mean = 1\.72699145831   db_mean = 7\.83923256462",
        r"max     pool: .*A\[0\] = \[1\.74481176, 0\.86540763, 1\.13376944\]",
        r"average pool: .*A\[0\] = \[0\.02105773, -0\.20328806, -0\.40389855\]",
        r"autograd: A\[0\] = \[1\.74481176, 0\.86540763, 1\.13376944\]",
        r"create_mask_from_window\(x\) = \[\[True, False, False\], \[False, False, False\]\]",
        r"mean of dA = 0\.145713902729",
        r"max     dA_prev\[1, 1\] = \[\[0\.0, 0\.0\], \[5\.05844394, -1\.68282702\], "
        r"\[0\.0, 0\.0\]\]\n +autograd, the same entries: "
        r"\[\[0\.0, 0\.0\], \[5\.05844394, -1\.68282702\]",
        r"average dA_prev\[1, 1\] = \[\[0\.08485462, 0\.2787552\], \[1\.26461098, -0\.25749373\]",
        # the tie: the course's mask gives both maxima the gradient, PyTorch's rule the first
        r"the course's mask +-> \[\[0\.0, 1\.0\], \[1\.0, 0\.0\]\]",
        r"autograd \(PyTorch's\) +-> \[\[0\.0, 1\.0\], \[0\.0, 0\.0\]\]",
        r"conv_backward db_mean +7\.83923256462 +7\.83923256462\n",      # the final table
    ],
    "rnn_step_by_step": [
        r"rnn_cell_forward: a_next\[4\] = \[0\.59584544, 0\.18141802, 0\.61311866,",
        r"yt_pred\[1\] = \[0\.9888161, 0\.01682021, 0\.21140899,",
        r"a\[4\]\[1\] = \[-0\.99999375, 0\.77911235, -0\.99861469, -0\.99833267\]",
        r"y_pred\[1\]\[3\] = \[0\.79560373, 0\.86224861, 0\.11118257, 0\.81515947\]",
        r"lstm_cell_forward: a_next\[4\] = \[-0\.66408471, 0\.0036921, 0\.02088357,",
        r"c_next\[2\] = \[0\.63267805, 1\.00570849, 0\.35504474,",
        r"a\[4\]\[3\]\[6\] = 0\.172117767533   y\[1\]\[4\]\[3\] = 0\.95087346185   "
        r"c\[1\]\[2\]\[1\] = -0\.855544916718",
        r"dx\[1\]\[2\] = \[-2\.07101689, -0\.59255627, 0\.02466855, 0\.01483317\]",
        r"da0\[2\]\[3\] = -0\.314942375127   dWax\[3\]\[1\] = 11\.2641044965   "
        r"dWaa\[1\]\[2\] = 2\.30333312658   dba\[4\] = \[-0\.74747722\]",
        r"dxt\[1\]\[2\] = 3\.23055911511   da_prev\[2\]\[3\] = -0\.0639621419711",
        r"dc_prev\[2\]\[3\] = 0\.797522038797   dWf\[3\]\[1\] = -0\.147954838164   "
        r"dbf\[4\] = \[0\.18864637\]",
        r"RNN\(3, 5\) Linear\(in_features=5, out_features=2, bias=True\)",
        r"lstm_cell_backward dxt\[1\]\[2\] +3\.23055911511 +3\.23055911511\n",  # the table
        r"sampled: .+\(\* not in the list: \d+ of 10\)",
    ],
}

#: notebook -> (pattern, low, high): every number the pattern captures lies in [low, high]
#: (percentages as printed). These are the QUICK runs' figures, with room for the rounding
#: of another BLAS or numpy; the full runs' figures are in each notebook's final table.
RANGES = {
    "initialization": [
        (r"large random \(N\(0,1\) \* 10\)\s+cost\s+(\d+\.\d+) ->", 100, 300),  # huge start
        (r"He \(N\(0,1\) \* sqrt\(2/n\)\)\s+cost\s+0\.699 -> (\d\.\d+)", 0, 0.695),
    ],
    "regularization": [
        (r"dropped (\d\.\d+) of the units", 0.13, 0.15),
        (r"mean (\d\.\d+) \(stays ~1\)", 0.98, 1.02),
        (r"largest error (\d\.\de-\d\d)\)", 0, 1e-6),                  # l2_penalty's gradient
        # the final table: train and test accuracy of each model, QUICK = 1,500 iterations
        (r"\n(?:no regularization|L2, lambd = 0\.7|dropout, keep_prob = 0\.86)"
         r"\s+\d+\.\d%\s+\d+\.\d%\s+(\d+\.\d)%\s+(\d+\.\d)%", 84, 96),
    ],
    "gradient_checking": [],
    "optimization_methods": [
        (r"Adam, lr 0\.0007\s+94\.3%\s+(\d+\.\d)%", 80, 95),
        (r"decay every 1000 epochs\s+\d+\.\d%\s+(\d+\.\d)%", 95, 100),
    ],
    "softmax_tensorflow_style": [
        (r"after epoch 10: train/test\s+35\.9% / 30\.8%\s+(\d+\.\d)% / (\d+\.\d)%", 25, 55),
        (r"final \(epoch 19\): train/test\s+99\.9% / 71\.7%\s+(\d+\.\d)% / (\d+\.\d)%",
         35, 60),
    ],
    "conv_step_by_step": [
        # autograd against the loops, every entry (float64: rounding only)
        (r"largest difference from the loops: Z (\S+), dA (\S+), dW (\S+)\n", 0, 1e-12),
        # 2 epochs of the CNN (the full run's 20 reach about 97% test accuracy)
        (r"after 2 epochs: train (\d+\.\d)%   dev (\d+\.\d)%   test (\d+\.\d)%", 55, 95),
    ],
    "rnn_step_by_step": [
        # nn.LSTM / nn.RNN with the course's weights against the reference, forward and backward
        (r"\|autograd - ref\.lstm_backward\| = (\S+)\n", 0, 1e-12),
        (r"\|nn\.RNN - rnn_forward\| = (\S+)   \|softmax\(Linear\) - y_pred\| = (\S+)\n", 0,
         1e-12),
        (r"dWax: \|weight_ih_l0\.grad - rnn_backward\| = (\S+)   dx: (\S+)\n", 0, 1e-12),
        # the cut (published) lstm_backward is not the gradient
        (r"dWf: \|autograd - the cut version\| += (\d+\.\d+)\n", 0.1, 100),
        # 150 steps of the character LSTM: well below the uniform guess ln 27 = 3.30
        (r"dev loss (\d\.\d+) nats/char", 1.9, 2.6),
    ],
}


def _kernel_or_skip():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    # NOTE: a fresh environment's first matplotlib import builds the font cache and logs
    # "Matplotlib is building the font cache" to stderr; building it here keeps that message
    # out of the first notebook's outputs (which must have no stderr at all).
    import matplotlib.font_manager  # noqa: F401
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        pytest.skip("no python3 Jupyter kernel installed (pip install ipykernel)")


def run_notebook(name, tmp_path):
    """Execute `name`.ipynb with QUICK = True; return (executed notebook, its stdout text)."""
    from nbclient import NotebookClient

    notebook = nbformat.read(FOLDER / f"{name}.ipynb", as_version=4)
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: expected one cell tagged 'parameters', got {tagged}"
    injected = nbformat.v4.new_code_cell("QUICK = True")
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(tagged[0] + 1, injected)
    # The kernel runs in a scratch folder (anything a notebook writes lands there), on this
    # interpreter (jupyter_client swaps a kernelspec's "python" for sys.executable) and with
    # this process's environment, so PYTHONPATH (a worktree's tinygrad_c2) reaches it.
    NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT, startup_timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    stdout = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.outputs
                     if output.output_type == "stream" and output.name == "stdout")
    return notebook, stdout


def test_every_notebook_has_a_source_and_expectations():
    stored = sorted(path.stem for path in FOLDER.glob("*.ipynb"))
    sources = sorted(path.stem for path in FOLDER.glob("*.py") if path.name != "build.py")
    assert stored == sources == sorted(NOTEBOOKS), "build.NOTEBOOKS must list every notebook"
    assert sorted(EXPECTED) == sorted(NOTEBOOKS), "every notebook needs its EXPECTED figures"
    assert sorted(RANGES) == sorted(NOTEBOOKS)


def test_ci_and_the_readme_install_the_notebook_extra():
    # CI installs exactly what the README's test command installs (.ci/run says so); without
    # the extra the notebook runs below would skip in CI too
    extras = r'pip install (?:-q )?-e "\.\[([a-z,]+)\]"'
    readme = re.search(extras + r" && python -m pytest",
                       (ROOT / "README.md").read_text(encoding="utf-8"))
    ci = re.search(extras, (ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert readme and ci, "the README's test command or .ci/run's pip line is missing"
    assert readme.group(1) == ci.group(1)
    assert "notebook" in ci.group(1).split(",")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebook_is_built_from_its_source_without_outputs(name):
    stored = (FOLDER / f"{name}.ipynb").read_text(encoding="utf-8")
    assert stored == build.render(FOLDER / f"{name}.py"), (
        f"{name}.ipynb is out of date: run python examples/notebooks/build.py")
    notebook = nbformat.reads(stored, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_build_rejects_a_markdown_line_that_is_not_a_comment(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text("# %% [markdown]\n# fine\nprint('code in a markdown cell')\n")
    with pytest.raises(ValueError, match=r"bad\.py:1: a markdown cell's lines must be comments"):
        build.build(source)


def test_build_turns_a_commented_magic_into_the_magic(tmp_path):
    source = tmp_path / "magic.py"
    source.write_text("header, left out\n# %%\n# %matplotlib inline\nx = 1  # a comment\n"
                      "# %% tags=[\"parameters\"]\nQUICK = False\n")
    notebook = build.build(source)
    assert [cell.source for cell in notebook.cells] == [
        "%matplotlib inline\nx = 1  # a comment", "QUICK = False"]
    assert notebook.cells[1].metadata["tags"] == ["parameters"]
    assert [cell.id for cell in notebook.cells] == ["magic-0", "magic-1"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_headless_and_prints_its_figures(name, tmp_path):
    _kernel_or_skip()
    notebook, stdout = run_notebook(name, tmp_path)
    assert "QUICK = True" in stdout, f"{name}: the injected parameter did not take effect"
    for pattern in EXPECTED[name]:
        assert re.search(pattern, stdout), f"{name}: no match for {pattern!r} in:\n{stdout}"
    for pattern, low, high in RANGES[name]:
        found = re.findall(pattern, stdout)
        assert found, f"{name}: no match for {pattern!r} in:\n{stdout}"
        for groups in found:
            for value in (groups,) if isinstance(groups, str) else groups:
                assert low <= float(value) <= high, (
                    f"{name}: {value} outside [{low}, {high}] in {pattern!r}:\n{stdout}")
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    # nothing a student would see painted red (warnings, tracebacks, stray stderr prints)
    stderr = [output.get("text", "") for output in outputs
              if output.output_type == "stream" and output.name == "stderr"]
    assert stderr == [], f"{name} wrote to stderr: {stderr}"
    # the figures display inline as pictures, not as "<Figure size ...>" text (the notebooks
    # have no %matplotlib inline: train.plots' figures show themselves)
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert pictures, f"{name}: no figure displayed as image/png"


if __name__ == "__main__":   # python tests/test_notebooks.py NAME: run one, show its stdout
    print(run_notebook(sys.argv[1], Path.cwd())[1])

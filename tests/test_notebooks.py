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
        r"large random \(N\(0,1\) \* 10\)\s+cost\s+1\d\d\.\d+ ->",   # the huge first cost
        r"zeros\s+50\.0%\s+50\.0%\s+50\.0%\s+50\.0%",                # the final table
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
}


def _kernel_or_skip():
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
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
    # The kernel runs in a scratch folder (anything a notebook writes lands there) with this
    # interpreter's environment, so PYTHONPATH (a worktree's tinygrad_c2) reaches it.
    NotebookClient(notebook, kernel_name="python3", timeout=CELL_TIMEOUT,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    stdout = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for output in cell.outputs
                     if output.output_type == "stream" and output.name == "stdout")
    return notebook, stdout


def test_every_notebook_has_a_source_and_expectations():
    stored = sorted(path.stem for path in FOLDER.glob("*.ipynb"))
    assert stored == sorted(NOTEBOOKS), "build.NOTEBOOKS must list every stored notebook"
    assert sorted(EXPECTED) == sorted(NOTEBOOKS), "every notebook needs its EXPECTED figures"


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
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    # nothing a student would see painted red (warnings, tracebacks, stray stderr prints)
    stderr = [output.get("text", "") for output in outputs
              if output.output_type == "stream" and output.name == "stderr"]
    assert stderr == [], f"{name} wrote to stderr: {stderr}"
    # the figures display inline as pictures, not as "<Figure size ...>" text
    pictures = [output for output in outputs if "image/png" in output.get("data", {})]
    assert pictures, f"{name}: no figure displayed as image/png"


if __name__ == "__main__":   # python tests/test_notebooks.py NAME: run one, show its stdout
    print(run_notebook(sys.argv[1], Path.cwd())[1])

"""Write the course notebooks (*.ipynb) from their Python sources (*.py) in this folder.

Each source is a plain Python script in the "percent" format that Jupytext, VS Code and
Spyder read: `# %%` starts a code cell, `# %% [markdown]` a markdown cell (its lines are
comments, `# ` stripped), `# %% tags=["parameters"]` a code cell with that tag (the cell a
runner overrides: see tests/test_notebooks.py). A commented magic such as
`# %matplotlib inline` becomes the magic in the notebook, so the source stays valid Python
(ruff checks it, `python initialization.py` runs it). Lines before the first `# %%` are the
source's own header and are left out. The notebooks are written without outputs and with
fixed cell ids, so building twice gives the same bytes and diffs show only real changes.

Run: python examples/notebooks/build.py            (rewrite every notebook)
     python examples/notebooks/build.py NAME ...   (only these, e.g. initialization)
     python examples/notebooks/build.py --check    (exit 1 if a notebook is out of date)
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
#: the notebooks, in the course's order (Course 2 week 1: three, week 2: one, week 3: one;
#: then Course 4 week 1 and Course 5 week 1)
NOTEBOOKS = ("initialization", "regularization", "gradient_checking", "optimization_methods",
             "softmax_tensorflow_style", "conv_step_by_step", "rnn_step_by_step")
CELL_MARK = re.compile(r"^# %%(?P<rest>.*)$")
MAGIC = re.compile(r"^# (?P<magic>%[a-z_]+( .*)?)$")   # a commented line magic: `# %time x`


def _header(rest: str, where: str) -> tuple[str, list[str]]:
    """('markdown' or 'code', tags) from what follows `# %%` on a cell's first line."""
    rest = rest.strip()
    if rest == "[markdown]":
        return "markdown", []
    if not rest:
        return "code", []
    match = re.fullmatch(r"tags=(\[.*\])", rest)
    if match is None:
        raise ValueError(f"{where}: cannot read the cell header '# %% {rest}' "
                         "(expected '# %%', '# %% [markdown]' or '# %% tags=[...]')")
    return "code", list(ast.literal_eval(match.group(1)))


def _markdown(lines: list[str], where: str) -> str:
    text = []
    for line in lines:
        if line == "#":
            text.append("")
        elif line.startswith("# "):
            text.append(line[2:])
        elif line.strip():
            raise ValueError(f"{where}: a markdown cell's lines must be comments, got {line!r}")
        else:
            text.append("")
    return "\n".join(text).strip("\n")


def _code(lines: list[str]) -> str:
    out = []
    for line in lines:
        magic = MAGIC.match(line)
        out.append(magic.group("magic") if magic else line)
    return "\n".join(out).strip("\n")


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook (no outputs, cell ids `<name>-<index>`) written from one percent source."""
    cells: list[tuple[str, list[str], list[str], int]] = []
    for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1):
        mark = CELL_MARK.match(line)
        if mark:
            kind, tags = _header(mark.group("rest"), f"{source.name}:{number}")
            cells.append((kind, tags, [], number))
        elif cells:
            cells[-1][2].append(line)
    if not cells:
        raise ValueError(f"{source}: no '# %%' cell marker found")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, (kind, tags, lines, number) in enumerate(cells):
        where = f"{source.name}:{number}"
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(_markdown(lines, where))
        else:
            cell = nbformat.v4.new_code_cell(_code(lines))
        cell.id = f"{source.stem}-{index}"   # NOTE: nbformat's default ids are random
        if tags:
            cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def render(source: Path) -> str:
    """The exact text build.py writes for `source` (compared byte for byte by --check)."""
    return nbformat.writes(build(source)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"only these notebooks (default: all of {', '.join(NOTEBOOKS)})")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook differs from its source")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebook(s) {', '.join(unknown)}; expected {', '.join(NOTEBOOKS)}")
    stale = []
    for name in args.names or NOTEBOOKS:
        text, target = render(HERE / f"{name}.py"), HERE / f"{name}.ipynb"
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if text == current:
            continue
        if args.check:
            stale.append(target.name)
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print(f"out of date (run python {Path(__file__).name}): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

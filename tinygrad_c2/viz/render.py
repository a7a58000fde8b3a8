"""Write a drawn graph to a file: the format from the suffix, Graphviz's `dot` program for the
pictures, and a message saying what to install when `dot` is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import graphviz

#: suffix -> what `dot -T` is asked for; ".dot" / ".gv" write the source and need no Graphviz
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), "
                "`brew install graphviz` (macOS) or `conda install -c conda-forge graphviz`")


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's `dot` program is not on PATH, so no picture could be rendered."""


def dot_available() -> bool:
    """Whether Graphviz's `dot` program is on PATH (needed for SVG, PNG and PDF, not for DOT).

    >>> isinstance(dot_available(), bool)
    True
    """
    return shutil.which("dot") is not None


def save(graph: graphviz.Digraph, path: str | os.PathLike, fmt: str | None = None,
         keep_source: bool = False) -> Path:
    """Write `graph` to `path`, in the format its suffix names (.svg, .png, .pdf or .dot).

    `fmt` overrides the suffix (and is appended when `path` has none). The DOT source is
    written first, next to the picture as `<stem>.dot`, so it survives when `dot` is missing
    (then a GraphvizNotFoundError says what to install); once the picture is written the
    source is removed unless `keep_source`. Returns the path written.

    >>> import tempfile, tinygrad_c2 as tg
    >>> from tinygrad_c2 import viz
    >>> g = viz.draw_graph(tg.ones(2, requires_grad=True).sum())
    >>> viz.save(g, tempfile.mkdtemp() + "/sum.dot").name
    'sum.dot'
    """
    path = Path(path)
    if fmt is not None:
        suffix = "." + fmt.lower().lstrip(".")
        if suffix not in FORMATS:
            raise ValueError(f"save: unknown format {fmt!r}; expected one of "
                             f"{sorted({f for f in FORMATS.values()} | {'gv'})}")
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"save: cannot tell the format of {str(path)!r} from its suffix; use "
                         f"one of {', '.join(FORMATS)} or pass fmt=")
    path.parent.mkdir(parents=True, exist_ok=True)
    source = path if FORMATS[suffix] == "dot" else path.with_suffix(".dot")
    source.write_text(graph.source, encoding="utf-8")
    if source == path:
        return path
    if not dot_available():
        raise GraphvizNotFoundError(_missing_message(path, source))
    try:
        picture = graph.pipe(format=FORMATS[suffix])
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(_missing_message(path, source)) from None
    path.write_bytes(picture)
    if not keep_source:
        source.unlink()
    return path


def _missing_message(path: Path, source: Path) -> str:
    fmt = FORMATS[path.suffix.lower()]
    return (f"save: cannot render {str(path)!r}: Graphviz's `dot` program is not on PATH. "
            f"The DOT source was written to {str(source)!r}. To get pictures, {INSTALL_HINT}; "
            f"then `dot -T{fmt} {source} -o {path}` renders this one.")

"""The training progress bar: tqdm.auto, so a terminal gets the text bar and a notebook the
widget; one bar per run, the latest metrics in its postfix."""

from __future__ import annotations

import sys
from typing import Any, TextIO


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is not a terminal but a bar still belongs)."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    ip = shell.get_ipython() if hasattr(shell, "get_ipython") else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class Progress:
    """Steps of a training run on one bar, or nothing when disabled.

    Shown only when asked and the output is a terminal or a notebook, so pipes and CI logs
    stay clean. `write` prints a line to stdout without breaking the bar.

    >>> bar = Progress(total=10, enabled=False); bar.update(3); bar.close()
    """

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        notebook = in_notebook()
        terminal = hasattr(stream, "isatty") and stream.isatty()
        self.enabled = bool(enabled) and (terminal or notebook)
        self._bar: Any = None
        if not self.enabled:
            return
        # NOTE: tqdm.auto picks the notebook widget when ipywidgets is there, else the text bar
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, file=None if notebook else stream, unit="step",
                         dynamic_ncols=True, leave=True)

    def set(self, desc: str, postfix: str = "") -> None:
        """Set the text before the bar (e.g. 'epoch 3/50') and after it (e.g. the losses)."""
        if self._bar is not None:
            self._bar.set_description_str(desc, refresh=False)
            self._bar.set_postfix_str(postfix, refresh=True)

    def update(self, n: int = 1) -> None:
        """Advance by n steps."""
        if self._bar is not None:
            self._bar.update(n)

    def write(self, text: str) -> None:
        """Print a line (stdout) without garbling the bar."""
        if self._bar is None:
            print(text, flush=True)
        else:
            self._bar.write(text, file=sys.stdout)

    def close(self) -> None:
        """Finish the bar (leave it on screen)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

"""A progress bar for training: tqdm when it is installed, else a small built-in one-line bar."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class _LineBar:
    """The fallback bar: one line on stderr rewritten in place, at most ten times a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream = max(total, 1), stream
        self.count, self.desc, self.postfix = 0, "", ""
        self._last_draw = 0.0
        self._width = 0

    def update(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if now - self._last_draw >= 0.1 or self.count >= self.total:
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        done = min(self.count / self.total, 1.0)
        filled = int(24 * done)
        line = (f"{self.desc} [{'#' * filled}{'.' * (24 - filled)}] {100 * done:3.0f}%"
                f"{'  ' + self.postfix if self.postfix else ''}")
        pad = max(self._width - len(line), 0)
        self._width = len(line)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()

    def write(self, text: str) -> None:
        self.stream.write("\r" + " " * self._width + "\r")
        print(text, flush=True)
        self._draw()

    def close(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()


class Progress:
    """Steps of a training run on a bar (tqdm or the fallback), or nothing when disabled.

    Enabled only when asked and stderr is a terminal, so logs and pipes stay clean. `write`
    prints a line to stdout without breaking the bar.

    >>> bar = Progress(total=10, enabled=False); bar.update(3); bar.close()
    """

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        stream = sys.stderr if stream is None else stream
        self.enabled = bool(enabled) and hasattr(stream, "isatty") and stream.isatty()
        self._bar: Any = None
        if not self.enabled:
            return
        try:
            from tqdm import tqdm  # optional: the fallback below needs nothing
        except ImportError:
            self._bar = _LineBar(total, stream)
        else:
            self._bar = tqdm(total=total, file=stream, unit="step", dynamic_ncols=True,
                             leave=True)

    def set(self, desc: str, postfix: str = "") -> None:
        """Set the text before the bar (e.g. 'epoch 3/50') and after it (e.g. the losses)."""
        if self._bar is None:
            return
        if isinstance(self._bar, _LineBar):
            self._bar.desc, self._bar.postfix = desc, postfix
        else:
            self._bar.set_description_str(desc, refresh=False)
            self._bar.set_postfix_str(postfix, refresh=False)

    def update(self, n: int = 1) -> None:
        """Advance by n steps."""
        if self._bar is not None:
            self._bar.update(n)

    def write(self, text: str) -> None:
        """Print a line (stdout) without garbling the bar."""
        if self._bar is None:
            print(text, flush=True)
        elif isinstance(self._bar, _LineBar):
            self._bar.write(text)
        else:
            self._bar.write(text, file=sys.stdout)

    def close(self) -> None:
        """Finish the bar (leave it on screen)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

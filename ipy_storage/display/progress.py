"""Progress of a pull that takes a while, for the magics (behaviour §6.3): a progress bar in a notebook,
a ``\\r``-rewritten line in a terminal, nothing for quick pulls. The form has its own bar."""

from __future__ import annotations

import html
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..storage.result import Progress, ProgressCallback
from ..storage.secrets import redact


def _in_notebook() -> bool:
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


class _ProgressDisplay:
    """Shows pull progress once a pull has run for ``delay`` seconds (quick pulls show nothing):
    a progress bar in a notebook, a ``\\r``-rewritten line in a terminal; both stay, completed,
    when the pull ends. Callable from any thread."""

    def __init__(self, label: str, delay: float, notebook: bool) -> None:
        self._label = label
        self._shown_after = time.monotonic() + delay
        self._notebook = notebook
        self._last_shown = 0.0
        self._latest: Progress | None = None
        self._handle: Any = None
        self._width = 0
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            self._latest = progress
            if now >= self._shown_after and now - self._last_shown >= 0.1:
                self._last_shown = now
                self._show(progress, finished=False)

    def close(self) -> None:
        with self._lock:
            if self._last_shown and self._latest is not None:
                self._show(self._latest, finished=True)
            self._shown_after = float("inf")

    def _line(self, progress: Progress, finished: bool) -> str:
        counts = f"{progress.done}/{progress.total}" if progress.total else str(progress.done or "")
        parts = (
            f"{self._label}:",
            progress.stage,
            counts,
            progress.message,
            "(finished)" if finished else "",
        )
        return redact(" ".join(part for part in parts if part))

    def _show(self, progress: Progress, finished: bool) -> None:
        line = self._line(progress, finished)
        if not self._notebook:
            self._width = max(self._width, len(line))
            sys.stdout.write("\r" + line.ljust(self._width) + ("\n" if finished else ""))
            sys.stdout.flush()
            return
        from IPython.display import HTML, display

        total = progress.total or 1
        value = total if finished else min(progress.done, total)
        attributes = f" value='{value}' max='{total}'" if progress.total or finished else ""
        bar = HTML(
            f"<progress{attributes} style='width:16em'></progress> <span>{html.escape(line)}</span>"
        )
        if self._handle is None:
            self._handle = display(bar, display_id=True)
        else:
            self._handle.update(bar)


@contextmanager
def pull_progress(label: str, delay: float = 0.5) -> Iterator[ProgressCallback]:
    """A progress callback for the duration of one (possibly long) pull."""
    reporter = _ProgressDisplay(label, delay, _in_notebook())
    try:
        yield reporter
    finally:
        reporter.close()

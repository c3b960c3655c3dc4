"""What the magics and the form show (SPEC §6.5): pull steps, storage cards and tables, the
report of a multi-pull, the base folder, and pull progress.

The renderings themselves are the core's pure functions (:mod:`ipy_storage.storage.render`);
this module wraps them in objects IPython displays (``_repr_html_`` for notebooks, a plain text
form for terminals) and draws progress while a pull runs.
"""

from __future__ import annotations

import html
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .storage.base import StorageBase
from .storage.render import (
    CARD_STYLE,
    CELL,
    LEGEND,
    MUTED,
    card_html,
    card_text,
    interval_text,
    kind_of,
    relative_destination,
    result_body_html,
    result_lines,
    source_of,
    status_text,
    step_html,
    step_text,
)
from .storage.result import Progress, ProgressCallback
from .storage.secrets import redact

if TYPE_CHECKING:
    from .workspaces import PullOutcome, Workspace


# -- pull steps -------------------------------------------------------------------------------
class _RendersAsStep:
    """Shows a pull step as highlighted YAML (a ``pull:`` list item) or JSON, not a dict repr."""

    format: str = "yaml"

    def text(self) -> str:
        return step_text(self, self.format)

    def _repr_html_(self) -> str:
        return step_html(self, self.format)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


class PullStep(_RendersAsStep, dict):
    """One Prefect pull step: a dict that renders as the YAML list item ``pull:`` takes."""

    def __init__(self, step: dict, format: str = "yaml") -> None:
        super().__init__(step)
        self.format = format


class PullStepList(_RendersAsStep, list):
    """A ``pull:`` list of Prefect steps that renders as YAML (or JSON)."""

    def __init__(self, steps: list, format: str = "yaml") -> None:
        super().__init__(steps)
        self.format = format


# -- storages ---------------------------------------------------------------------------------
class StorageCard:
    """What ``%storage show NAME`` returns: the card of one registered storage."""

    def __init__(self, name: str, storage: StorageBase, status: dict[str, Any] | None) -> None:
        self.name, self.storage, self.status = name, storage, status

    def _repr_html_(self) -> str:
        return card_html(self.storage, self.name, self.status)

    def __repr__(self) -> str:
        return card_text(self.storage, self.name, self.status)


_COLUMNS = ("name", "kind", "source", "destination", "interval", "status")


def text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell; the last column is left as it is."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]
        ).rstrip()
        for row in [header, *rows]
    )


def html_table(
    header: tuple[str, ...], rows: list[tuple[str, ...]], css_class: str, nowrap: tuple[int, ...]
) -> str:
    """``rows`` of HTML cells (already escaped) under an escaped header; the ``nowrap`` columns
    (short words: names, kinds) never break."""
    styles = [f"{CELL};white-space:nowrap" if i in nowrap else CELL for i in range(len(header))]
    line = "border-bottom:1px solid var(--jp-border-color2,#ccc)"
    head = "".join(
        f"<th style='{style};{line}'>{html.escape(c)}</th>"
        for style, c in zip(styles, header, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='{style}'>{cell}</td>" for style, cell in zip(styles, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table class='{css_class}' style='border-collapse:collapse;line-height:1.4'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


class StorageTable:
    """What ``%storage list`` returns: one row per storage, as of when it was made."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    def text(self) -> str:
        if not self.rows:
            return "No storages yet: %storage add SOURCE"
        return text_table(_COLUMNS, [tuple(row[c] for c in _COLUMNS) for row in self.rows])

    def html(self) -> str:
        if not self.rows:
            return f"<div style='{MUTED}'>No storages yet: <code>%storage add SOURCE</code></div>"
        cells = [tuple(html.escape(row[c]) for c in _COLUMNS) for row in self.rows]
        return html_table(_COLUMNS, cells, "ipy-storage-table", nowrap=(0, 1, 4))

    _repr_html_ = html

    def __repr__(self) -> str:
        return self.text()


def storage_table(ws: Workspace, names: list[str] | None = None) -> StorageTable:
    """The table of ``names`` (every storage when None) as of now."""
    rows = []
    for name in ws if names is None else names:
        storage = ws.get(name)
        if storage is None:  # removed meanwhile
            continue
        status = ws.status(name)[name]
        rows.append(
            {
                "name": name,
                "kind": kind_of(storage),
                "source": source_of(storage),
                "destination": relative_destination(storage.destination),
                "interval": interval_text(status["interval"]),
                "status": status_text(status),
            }
        )
    return StorageTable(rows)


class StorageList(list):
    """What ``%%storage`` returns: the storages it added, shown as their rows of the table."""

    def __init__(self, storages: list[StorageBase], table: StorageTable) -> None:
        super().__init__(storages)
        self.table = table

    def _repr_html_(self) -> str:
        return self.table.html()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.table.text())


# -- the report of a multi-pull ---------------------------------------------------------------
class PullReport(list):
    """What ``%storage pull`` of several storages shows: one row per storage with its outcome
    (its changes, or its one-line error); the list holds the PullResults of those that worked."""

    def __init__(self, outcomes: list[PullOutcome]) -> None:
        super().__init__(outcome.result for outcome in outcomes if outcome.result is not None)
        self.outcomes = outcomes

    @property
    def failed(self) -> list[str]:
        return [outcome.name for outcome in self.outcomes if outcome.error is not None]

    def text(self, legend: bool = True) -> str:
        """A table of outcomes, then (``legend``) what the marks before paths mean."""
        rows = []
        for outcome in self.outcomes:
            result = outcome.result
            if result is None:
                rows.append((outcome.name, "", f"failed: {outcome.error}"))
                continue
            rows.append((outcome.name, relative_destination(result.destination), result.summary()))
            rows += [("", "", line) for line in result_lines(result, indent="")]
        if not rows:
            return "No storages to pull: %storage add SOURCE"
        changed = any(o.result and o.result.changed for o in self.outcomes)
        footer = f"\n{LEGEND}" if legend and changed else ""
        return text_table(("storage", "destination", "outcome"), rows) + footer

    def _repr_html_(self) -> str:
        if not self.outcomes:
            return (
                f"<div style='{MUTED}'>No storages to pull: <code>%storage add SOURCE</code></div>"
            )
        rows = []
        for outcome in self.outcomes:
            result = outcome.result
            if result is None:
                cell = f"<span style='color:var(--jp-error-color1,#b32424)'>failed: {html.escape(outcome.error or '')}</span>"
            else:
                timing = f"<span style='{MUTED}'>({result.duration:.2f}s)</span>"
                cell = f"{html.escape(result.summary())} {timing}{result_body_html(result)}"
            where = relative_destination(result.destination) if result else ""
            rows.append((f"<b>{html.escape(outcome.name)}</b>", html.escape(where), cell))
        table = html_table(
            ("storage", "destination", "outcome"), rows, "ipy-storage-report", nowrap=(0,)
        )
        return f"<div class='ipy-storage-result' style='{CARD_STYLE}'>{table}</div>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


# -- the base folder --------------------------------------------------------------------------
class BaseFolder(type(Path())):  # type: ignore[misc]
    """What ``%storage base`` returns: a path that shows as the folder, not ``PosixPath(…)``."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        shown = relative_destination(self)
        title = f" title='{html.escape(str(self))}'" if shown != str(self) else ""
        return f"<span{title}>storages pull into <code>{html.escape(shown)}</code></span>"


# -- progress -------------------------------------------------------------------------------
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

"""Rich and plain renderings (SPEC §6.5): storage cards, pull results, pull steps, the storage
table, and pull progress.

Everything a user typed or a server sent is HTML-escaped; sources pass through ``redact`` and
pull steps only ever hold Secret placeholders, so no secret is rendered. Destinations below the
notebook's directory are shown relative to it, as the file browser shows them.
"""

from __future__ import annotations

import html
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .storage.base import StorageBase
from .storage.errors import StorageError
from .storage.result import Progress, ProgressCallback, PullResult
from .storage.secrets import redact

if TYPE_CHECKING:
    from .workspaces import Workspace

_CARD = (
    "border:1px solid var(--jp-border-color2,#ccc);border-radius:4px;padding:6px 10px;"
    "margin:2px 0;font-size:13px;max-width:60em"
)
_MUTED = "color:var(--jp-content-font-color2,#666)"
_CELL = "text-align:left;padding:1px 8px 1px 0;vertical-align:top"
_LIST_LIMIT = 20


# -- small pieces ---------------------------------------------------------------------------
def relative_destination(path: Path) -> str:
    """``path`` relative to the notebook's directory when it is below it, else absolute."""
    try:
        return Path(path).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def interval_text(interval: float | None) -> str:
    return "once" if interval is None else f"{interval:g}s"


def kind_of(storage: StorageBase) -> str:
    return getattr(storage, "kind", type(storage).__name__)


def source_of(storage: StorageBase) -> str:
    """Where the storage pulls from, never with credentials."""
    url = getattr(storage, "url", None)
    if url:
        return redact(url)
    if kind_of(storage) == "local":
        return str(storage.destination)
    return redact(repr(storage))


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "—"


def status_text(status: dict[str, Any] | None) -> str:
    """One line from a ``Workspace.status()`` entry."""
    if status is None:
        return "not in the workspace"
    parts = [
        f"watching every {interval_text(status['interval'])}"
        if status["watching"]
        else "not watching"
    ]
    if status["last_error"]:
        parts.append(
            f"failing ({status['failures']}× since the last success): {status['last_error']}"
        )
    elif status["last_result"] is not None:
        parts.append(f"pulled {_clock(status['last_pull'])}: {status['last_result'].summary()}")
    else:
        parts.append("never pulled")
    if status["next_pull"]:
        parts.append(f"next {_clock(status['next_pull'])}")
    return "; ".join(parts)


# -- pull steps -----------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """``value`` as built-in dicts and lists, which YAML's safe dumper accepts."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def step_text(step: dict | list, fmt: str = "yaml") -> str:
    """A pull step (or a list of them) as YAML, the form prefect.yaml holds, or JSON."""
    if fmt == "json":
        return json.dumps(_plain(step), indent=2)
    import yaml

    return yaml.safe_dump(_plain(step), sort_keys=False, default_flow_style=False).rstrip("\n")


def step_html(step: dict | list, fmt: str = "yaml") -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    formatter = HtmlFormatter(noclasses=True, nobackground=True, cssstyles="margin:0")
    return highlight(step_text(step, fmt), get_lexer_by_name(fmt), formatter)


class _RendersAsStep:
    """Shows a pull step as highlighted YAML or JSON instead of a Python dict repr."""

    format: str = "yaml"

    def text(self) -> str:
        return step_text(self, self.format)

    def _repr_html_(self) -> str:
        return step_html(self, self.format)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


class PullStep(_RendersAsStep, dict):
    """One Prefect pull step: a dict that renders as YAML (or JSON)."""

    def __init__(self, step: dict, format: str = "yaml") -> None:
        super().__init__(step)
        self.format = format


class PullStepList(_RendersAsStep, list):
    """A ``pull:`` list of Prefect steps that renders as YAML (or JSON)."""

    def __init__(self, steps: list, format: str = "yaml") -> None:
        super().__init__(steps)
        self.format = format


def _pull_step_or_error(storage: StorageBase) -> tuple[dict | None, str | None]:
    try:
        return storage.to_pull_step(), None
    except StorageError as error:
        return None, redact(str(error))


# -- storage cards --------------------------------------------------------------------------
def _card_rows(storage: StorageBase, status: dict[str, Any] | None) -> list[tuple[str, str]]:
    interval = status["interval"] if status else storage.pull_interval
    return [
        ("source", source_of(storage)),
        ("destination", relative_destination(storage.destination)),
        ("interval", interval_text(interval)),
        ("status", status_text(status)),
    ]


def _card_html(storage: StorageBase, name: str, status: dict[str, Any] | None) -> str:
    rows = "".join(
        f"<tr><th style='{_CELL};{_MUTED};font-weight:normal'>{label}</th>"
        f"<td style='{_CELL}'>{html.escape(value)}</td></tr>"
        for label, value in _card_rows(storage, status)
    )
    step, problem = _pull_step_or_error(storage)
    step_part = (
        step_html(step)
        if step is not None
        else f"<span style='{_MUTED}'>{html.escape(problem)}</span>"
    )
    return (
        f"<div class='ipy-storage-card' style='{_CARD}' title='{html.escape(str(storage.destination))}'>"
        f"<div><b>{html.escape(name)}</b> <span style='{_MUTED}'>{html.escape(kind_of(storage))}</span></div>"
        f"<table style='border-collapse:collapse;margin:4px 0'>{rows}</table>"
        f"<details><summary style='cursor:pointer;{_MUTED}'>pull step</summary>{step_part}</details>"
        "</div>"
    )


def _card_text(storage: StorageBase, name: str, status: dict[str, Any] | None) -> str:
    lines = [f"{name} ({kind_of(storage)})"]
    lines += [f"  {label + ':':<13}{value}" for label, value in _card_rows(storage, status)]
    step, problem = _pull_step_or_error(storage)
    lines.append("  pull step:")
    lines += [
        f"    {line}" for line in (step_text(step) if step is not None else problem).splitlines()
    ]
    return "\n".join(lines)


def storage_html(storage: StorageBase) -> str:
    """A storage's card: kind, source, destination, interval, status (when the default workspace
    holds it) and the pull step."""
    from .workspaces import workspace

    ws = workspace()
    name = ws.name_of(storage)
    return _card_html(storage, name or storage.name, ws.status(name)[name] if name else None)


class StorageCard:
    """What ``%storage show NAME`` returns: the card of one registered storage."""

    def __init__(self, name: str, storage: StorageBase, status: dict[str, Any]) -> None:
        self.name, self.storage, self.status = name, storage, status

    def _repr_html_(self) -> str:
        return _card_html(self.storage, self.name, self.status)

    def __repr__(self) -> str:
        return _card_text(self.storage, self.name, self.status)


# -- the storage table ----------------------------------------------------------------------
_COLUMNS = ("name", "kind", "source", "destination", "interval", "status")


class StorageTable:
    """What ``%storage list`` returns: one row per storage, as of when it was made."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    def text(self) -> str:
        if not self.rows:
            return "No storages yet: %storage add SOURCE"
        widths = {c: max(len(c), *(len(row[c]) for row in self.rows)) for c in _COLUMNS[:-1]}
        lines = ["  ".join(c.ljust(widths[c]) for c in _COLUMNS[:-1]) + "  status"]
        lines += [
            "  ".join(row[c].ljust(widths[c]) for c in _COLUMNS[:-1]) + "  " + row["status"]
            for row in self.rows
        ]
        return "\n".join(lines)

    def html(self) -> str:
        if not self.rows:
            return f"<div style='{_MUTED}'>No storages yet: <code>%storage add SOURCE</code></div>"
        head = "".join(f"<th style='{_CELL}'>{c}</th>" for c in _COLUMNS)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='{_CELL}'>{html.escape(row[c])}</td>" for c in _COLUMNS)
            + "</tr>"
            for row in self.rows
        )
        return f"<table class='ipy-storage-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    _repr_html_ = html

    def __repr__(self) -> str:
        return self.text()


def storage_table(ws: Workspace) -> StorageTable:
    statuses = ws.status()
    rows = []
    for name, status in statuses.items():
        storage = ws.get(name)
        if storage is None:  # removed meanwhile
            continue
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


# -- pull results ---------------------------------------------------------------------------
def _path_list(label: str, items: list[str], colour: str) -> str:
    shown = "".join(f"<li><code>{html.escape(item)}</code></li>" for item in items[:_LIST_LIMIT])
    more = (
        f"<li style='{_MUTED}'>… and {len(items) - _LIST_LIMIT} more</li>"
        if len(items) > _LIST_LIMIT
        else ""
    )
    return (
        f"<details><summary style='cursor:pointer'><span style='color:{colour}'>{len(items)} {label}</span></summary>"
        f"<ul style='margin:0'>{shown}{more}</ul></details>"
    )


def pull_result_html(result: PullResult) -> str:
    """The change report of one pull: a headline and collapsible file lists."""
    headline = (
        f"<b>{html.escape(result.storage)}</b> → <code>{html.escape(relative_destination(result.destination))}</code>: "
        f"{html.escape(result.summary())} <span style='{_MUTED}'>({result.duration:.2f}s)</span>"
    )
    lists = [
        _path_list(label, items, colour)
        for label, items, colour in (
            ("added", result.added, "#2a7d2a"),
            ("modified", result.modified, "#b36b00"),
            ("deleted", result.deleted, "#b32424"),
            ("kept local (your version won)", result.kept_local, "#3b5fb3"),
            (
                "moved aside",
                [f"{src} → {dst}" for src, dst in result.moved_aside.items()],
                "#3b5fb3",
            ),
        )
        if items
    ]
    backup = (
        f"<div style='{_MUTED}'>backup: <code>{html.escape(relative_destination(result.backup))}</code></div>"
        if result.backup
        else ""
    )
    return f"<div class='ipy-storage-result' style='{_CARD}'><div>{headline}</div>{''.join(lists)}{backup}</div>"


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

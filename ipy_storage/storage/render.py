"""Pure renderings of the core's objects (SPEC §6.5): storage cards, pull results, pull steps.

Functions of a storage, a result or a step only: no workspace, no IPython, so the core's
``_repr_html_`` needs nothing above it. A storage held by a workspace carries the workspace's
entry in ``storage.workspace_entry`` (set by the workspace, duck-typed: ``name`` and
``status()``), which is how a card shows the status of the workspace that really holds it.

Everything a user typed or a server sent is HTML-escaped; sources pass through ``redact``; pull
steps only ever hold Secret placeholders; user data in messages goes through ``short`` so that no
message ever renders an unbounded structure.
"""

from __future__ import annotations

import html
import json
import reprlib
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from .errors import StorageError
from .result import CHANGE_LISTS, PullResult
from .secrets import redact

CARD_STYLE = (
    "border:1px solid var(--jp-border-color2,#ccc);border-radius:4px;padding:6px 10px;"
    "margin:2px 0;font-size:var(--jp-content-font-size1,13px);max-width:60em;line-height:1.4;"
    "color:var(--jp-content-font-color1,inherit)"
)
MUTED = "color:var(--jp-content-font-color2,#666)"
CELL = "text-align:left;padding:2px 12px 2px 0;vertical-align:top;background:none"
LIST_LIMIT = 20
_COLOURS = {"added": "#2a7d2a", "modified": "#b36b00", "deleted": "#c43c3c", "merged": "#8a5cc4"}
# (mark, label, colour) of every list a pull reports, in the order reports show them.
MARKS = (
    *((mark, label, _COLOURS.get(label, "#3b6fc4")) for label, _field, mark in CHANGE_LISTS),
    (">", "moved aside", "#3b6fc4"),
)
_EXPLAINED = {
    "merged": "merged (your edits and upstream's, both in the file)",
    "kept local": "kept local (your version won over upstream's)",
    "moved aside": "moved aside (your file, renamed for upstream's)",
}
_SHORT_MEANING = {
    "merged": "merged (yours + upstream's)",
    "kept local": "kept local (yours won)",
    "moved aside": "moved aside (yours, renamed)",
}
LEGEND = "  ".join(f"{mark} {_SHORT_MEANING.get(label, label)}" for mark, label, _ in MARKS)
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxstring, _SHORT.maxother = 3, 4, 4, 60, 60


class WorkspaceEntry(Protocol):
    """What a workspace hangs on each storage it holds, as ``storage.workspace_entry``."""

    name: str

    def status(self) -> dict[str, Any] | None: ...


# -- words ------------------------------------------------------------------------------------
def short(value: Any, limit: int = 80) -> str:
    """A bounded repr of user data for a message: never walks more than a few levels or items."""
    text = _SHORT.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(error: BaseException) -> str:
    """The first line of an error's message, without URL userinfo; ipy_storage errors speak for
    themselves, anything else is prefixed with its type."""
    lines = str(error).strip().splitlines()
    text = redact(lines[0])[:500] if lines else ""
    if isinstance(error, StorageError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def relative_destination(path: Path) -> str:
    """``path`` relative to the notebook's directory when it is below it, else absolute."""
    try:
        return Path(path).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def interval_text(interval: float | None) -> str:
    return "once (no timer)" if interval is None else f"every {interval:g}s"


def kind_of(storage: Any) -> str:
    return getattr(storage, "kind", type(storage).__name__)


def source_of(storage: Any) -> str:
    """Where the storage pulls from, never with credentials."""
    url = getattr(storage, "url", None)
    if url:
        return redact(url)
    if kind_of(storage) == "local":
        return str(storage.destination)
    return redact(repr(storage))


def _clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "—"


def status_text(status: dict[str, Any] | None, with_error: bool = True) -> str:
    """One line from a ``Workspace.status()`` entry (``with_error=False`` leaves the error's
    text to whoever shows it already)."""
    if status is None:
        return "not in a workspace"
    parts = [
        f"watching {interval_text(status['interval'])}" if status["watching"] else "not watching"
    ]
    if status["last_error"]:
        failing = f"failing ({status['failures']}× since the last success)"
        parts.append(f"{failing}: {status['last_error']}" if with_error else failing)
    elif status["last_result"] is not None:
        parts.append(f"pulled {_clock(status['last_pull'])}: {status['last_result'].summary()}")
    else:
        parts.append("never pulled")
    if status["next_pull"]:
        parts.append(f"next {_clock(status['next_pull'])}")
    return "; ".join(parts)


# -- pull steps -------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """``value`` as built-in dicts and lists, which YAML's safe dumper accepts."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def step_text(step: dict | list, fmt: str = "yaml") -> str:
    """A pull step (or a list of them) as JSON or as YAML; YAML is always a list, so that it
    pastes under ``pull:`` in a prefect.yaml as it is."""
    if fmt == "json":
        return json.dumps(_plain(step), indent=2)
    import yaml

    steps = _plain(step if isinstance(step, list) else [step])
    return yaml.safe_dump(steps, sort_keys=False, default_flow_style=False).rstrip("\n")


def highlighted(text: str, language: str) -> str:
    """``text`` as highlighted HTML (Pygments when present, else an escaped ``<pre>``)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
    except ImportError:
        return f"<pre style='margin:0'>{html.escape(text)}</pre>"
    formatter = HtmlFormatter(noclasses=True, nobackground=True, cssstyles="margin:0")
    return highlight(text, get_lexer_by_name(language), formatter)


def step_html(step: dict | list, fmt: str = "yaml") -> str:
    return highlighted(step_text(step, fmt), fmt)


def pull_step_or_problem(storage: Any) -> tuple[dict | None, str | None]:
    """The storage's pull step, or the one-line reason it has none."""
    try:
        return storage.to_pull_step(), None
    except StorageError as error:
        return None, one_line(error)


def _placeholders(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [found for item in value.values() for found in _placeholders(item)]
    if isinstance(value, list):
        return [found for item in value for found in _placeholders(item)]
    return [value.strip("{} ")] if isinstance(value, str) and value.startswith("{{") else []


def _where(placeholder: str) -> str:
    """A pull-step placeholder in words: where the secret comes from."""
    if placeholder.startswith("$"):
        return f"environment variable {placeholder}"
    block = placeholder.removeprefix("prefect.blocks.")
    kind, _, name = block.rpartition(".")
    return f"Secret block '{name}'" if kind == "secret" else f"{kind} block '{name}'"


def credentials_text(storage: Any, step: dict | None) -> str | None:
    """Whether the storage is configured with a token or other secret, and where it comes from
    (an environment variable, a Secret block); never the secret itself."""
    sources = sorted(set(_placeholders(step)))
    if sources:
        return "set, from " + ", ".join(_where(text) for text in sources)
    secret_values = getattr(storage, "_secret_values", lambda: ())
    return "set (plain text, so no pull step)" if secret_values() else None


# -- storage cards ----------------------------------------------------------------------------
def card_rows(
    storage: Any, status: dict[str, Any] | None, step: dict | None, show_status: bool = True
) -> list[tuple[str, str]]:
    interval = status["interval"] if status else storage.pull_interval
    rows = [
        ("source", source_of(storage)),
        ("destination", relative_destination(storage.destination)),
        ("interval", interval_text(interval)),
    ]
    credentials = credentials_text(storage, step)
    if credentials:
        rows.append(("credentials", credentials))
    if show_status:
        rows.append(("status", status_text(status)))
        last = status["last_result"] if status else None
        for path, merge in getattr(last, "notebooks", {}).items():
            rows.append(("merged", f"{path}: {merge.summary()}"))
    return rows


def table_html(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr style='background:none'><th style='{CELL};{MUTED};font-weight:normal'>"
        f"{html.escape(label)}</th>"
        f"<td style='{CELL}'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table style='border-collapse:collapse;margin:4px 0'>{cells}</table>"


def card_html(
    storage: Any, name: str, status: dict[str, Any] | None, show_status: bool = True
) -> str:
    """A storage's card: name, kind, source, destination, interval, credentials mark, status,
    and its pull step (folded)."""
    step, problem = pull_step_or_problem(storage)
    step_part = (
        step_html(step)
        if step is not None
        else f"<span style='{MUTED}'>{html.escape(problem)}</span>"
    )
    return (
        f"<div class='ipy-storage-card' style='{CARD_STYLE}' "
        f"title='{html.escape(str(storage.destination))}'>"
        f"<div><b>{html.escape(name)}</b> <span style='{MUTED}'>{html.escape(kind_of(storage))}"
        f"</span></div>{table_html(card_rows(storage, status, step, show_status))}"
        f"<details><summary style='cursor:pointer;{MUTED}'>pull step</summary>{step_part}</details>"
        "</div>"
    )


def card_text(storage: Any, name: str, status: dict[str, Any] | None) -> str:
    step, problem = pull_step_or_problem(storage)
    lines = [f"{name} ({kind_of(storage)})"]
    lines += [f"  {label + ':':<13}{value}" for label, value in card_rows(storage, status, step)]
    lines.append("  pull step:")
    body = step_text(step) if step is not None else problem
    lines += [f"    {line}" for line in body.splitlines()]
    return "\n".join(lines)


def held_by(storage: Any) -> tuple[str, dict[str, Any] | None]:
    """The name and status a storage has in the workspace that holds it (its own folder name
    and no status when none does)."""
    entry: WorkspaceEntry | None = getattr(storage, "workspace_entry", None)
    status = entry.status() if entry is not None else None
    return (entry.name if status is not None else storage.name), status


def storage_html(storage: Any) -> str:
    return card_html(storage, *held_by(storage))


# -- pull results -----------------------------------------------------------------------------
def result_lists(result: PullResult) -> list[tuple[str, str, str, list[str]]]:
    """(mark, label, colour, paths) of every non-empty list of a result."""
    moved = [f"{source} → {target}" for source, target in result.moved_aside.items()]
    lists = [getattr(result, field) for _label, field, _mark in CHANGE_LISTS] + [moved]
    return [
        (m, label, colour, items)
        for (m, label, colour), items in zip(MARKS, lists, strict=True)
        if items
    ]


def path_detail(result: PullResult, label: str, path: str) -> str:
    """One line more about a path of a result: a merged notebook's cells, or why a file was
    kept unmerged."""
    if label == "merged" and path in result.notebooks:
        return result.notebooks[path].summary()
    return result.reasons.get(path, "") if label == "kept local" else ""


def _path_item(result: PullResult, label: str, path: str) -> str:
    detail = path_detail(result, label, path)
    extra = f" <span style='{MUTED}'>{html.escape(detail)}</span>" if detail else ""
    return f"<li><code>{html.escape(path)}</code>{extra}</li>"


def _path_list(
    result: PullResult, mark: str, label: str, colour: str, items: list[str], unfolded: bool
) -> str:
    shown = "".join(_path_item(result, label, item) for item in items[:LIST_LIMIT])
    more = len(items) - LIST_LIMIT
    rest = f"<li style='{MUTED}'>… and {more} more</li>" if more > 0 else ""
    return (
        f"<details{' open' if unfolded else ''}><summary style='cursor:pointer'>"
        f"<span style='color:{colour}'>{mark} "
        f"{len(items)} {html.escape(_EXPLAINED.get(label, label))}</span></summary>"
        f"<ul style='margin:0;padding-left:2em'>{shown}{rest}</ul></details>"
    )


def result_body_html(result: PullResult, unfolded: bool = False) -> str:
    """The collapsible file lists (folded unless ``unfolded``) and the backup line of a result."""
    lists = "".join(_path_list(result, *entry, unfolded) for entry in result_lists(result))
    backup = (
        f"<div style='{MUTED}'>backup: <code>{html.escape(relative_destination(result.backup))}"
        "</code></div>"
        if result.backup
        else ""
    )
    return lists + backup


def pull_result_html(result: PullResult) -> str:
    """The change report of one pull: a headline and collapsible file lists."""
    headline = (
        f"<b>{html.escape(result.storage)}</b> → "
        f"<code>{html.escape(relative_destination(result.destination))}</code>: "
        f"{html.escape(result.summary())} <span style='{MUTED}'>({result.duration:.2f}s)</span>"
    )
    return (
        f"<div class='ipy-storage-result' style='{CARD_STYLE}'><div>{headline}</div>"
        f"{result_body_html(result)}</div>"
    )


def result_lines(result: PullResult, indent: str = "  ") -> list[str]:
    """Every changed path of a result, one a line, with its mark (``LEGEND`` explains them)."""
    lines = [
        f"{indent}{mark} {item}" + (f": {detail}" if detail else "")
        for mark, label, _colour, items in result_lists(result)
        for item in items
        for detail in [path_detail(result, label, item)]
    ]
    if result.backup:
        lines.append(f"{indent}backup: {result.backup}")
    return lines

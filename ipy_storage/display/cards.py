"""A storage's card (behaviour §6.5): name, kind, source, destination, interval, whether it has
credentials and where they come from, status, and its pull step, folded.

Everything a user typed or a server sent is HTML-escaped; sources pass through ``redact``; a card
asks the workspaces which one holds the storage (a storage knows nothing of its workspace)."""

from __future__ import annotations

import html
from typing import Any

from ..workspaces import where_held
from .pull_steps import credentials_text, pull_step_or_problem, step_html, step_text
from .styles import CARD_STYLE, MUTED, muted
from .tables import fields_html
from .words import interval_text, kind_of, relative_destination, source_of, status_text


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


def card_html(
    storage: Any, name: str, status: dict[str, Any] | None, show_status: bool = True
) -> str:
    """A storage's card under ``name`` with ``status`` (a ``Workspace.status()`` entry, None
    when no workspace holds it); the form leaves the status line out (``show_status``)."""
    step, problem = pull_step_or_problem(storage)
    step_part = step_html(step) if step is not None else muted(html.escape(problem or ""))
    return (
        f"<div class='ipy-storage-card' style='{CARD_STYLE}' "
        f"title='{html.escape(str(storage.destination))}'>"
        f"<div><b>{html.escape(name)}</b> {muted(html.escape(kind_of(storage)))}</div>"
        f"{fields_html(card_rows(storage, status, step, show_status))}"
        f"<details><summary style='cursor:pointer;{MUTED}'>pull step</summary>{step_part}</details>"
        "</div>"
    )


def card_text(storage: Any, name: str, status: dict[str, Any] | None) -> str:
    step, problem = pull_step_or_problem(storage)
    lines = [f"{name} ({kind_of(storage)})"]
    lines += [f"  {label + ':':<13}{value}" for label, value in card_rows(storage, status, step)]
    lines.append("  pull step:")
    body = step_text(step) if step is not None else problem or ""
    lines += [f"    {line}" for line in body.splitlines()]
    return "\n".join(lines)


def storage_card_html(storage: Any) -> str:
    """What a storage shows as a cell's value: its card under the name and status it has in the
    workspace that holds it (its own folder name and no status when none does)."""
    name, status = where_held(storage) or (storage.name, None)
    return card_html(storage, name, status)


class StorageCard:
    """What ``%storage show NAME`` returns: the card of one registered storage."""

    def __init__(self, name: str, storage: Any, status: dict[str, Any] | None) -> None:
        self.name, self.storage, self.status = name, storage, status

    def _repr_html_(self) -> str:
        return card_html(self.storage, self.name, self.status)

    def __repr__(self) -> str:
        return card_text(self.storage, self.name, self.status)

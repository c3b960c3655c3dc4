"""What a pull changed, as a person reads it (behaviour §2.2, §6.3, §6.5): the report of one pull
(a headline and collapsible lists of paths; in plain text, one marked path a line) and the report
of several, one row per storage with its changes or its one-line error."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from ..storage.result import CHANGE_LISTS, PullResult
from .styles import CARD_STYLE, ERROR, EXPLAINED, LEGEND, LIST_LIMIT, MARKS, MUTED, muted
from .tables import columns_html, columns_text
from .words import relative_destination

if TYPE_CHECKING:
    from ..status import PullOutcome


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
        f"{len(items)} {html.escape(EXPLAINED.get(label, label))}</span></summary>"
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
        f"{html.escape(result.summary())} {muted(f'({result.duration:.2f}s)')}"
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


def result_details_text(result: PullResult) -> str:
    """What a ``PullResult``'s plain repr shows below its headline."""
    return "\n".join(result_lines(result))


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
        return columns_text(("storage", "destination", "outcome"), rows) + footer

    def _repr_html_(self) -> str:
        if not self.outcomes:
            return muted("No storages to pull: <code>%storage add SOURCE</code>")
        rows = []
        for outcome in self.outcomes:
            result = outcome.result
            if result is None:
                failure = html.escape(outcome.error or "")
                cell = f"<span style='{ERROR}'>failed: {failure}</span>"
            else:
                timing = muted(f"({result.duration:.2f}s)")
                cell = f"{html.escape(result.summary())} {timing}{result_body_html(result)}"
            where = relative_destination(result.destination) if result else ""
            rows.append((f"<b>{html.escape(outcome.name)}</b>", html.escape(where), cell))
        table = columns_html(
            ("storage", "destination", "outcome"), rows, "ipy-storage-report", nowrap=(0,)
        )
        return f"<div class='ipy-storage-result' style='{CARD_STYLE}'>{table}</div>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

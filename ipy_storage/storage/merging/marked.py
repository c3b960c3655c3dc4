"""Upstream's version of a cell the user changed too, shown right after the user's cell.

It is a Markdown cell: a line that says what it is, then upstream's source in a fenced block.
Markdown, so that it never runs: "Run All" after a pull runs exactly the user's code, as it did
before. The user copies what they need from it and deletes it. Its metadata names the version
it shows, so a merge done again (a pull killed and run again) finds it and does not add it twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

Cell = dict[str, Any]
METADATA_KEY = "ipy_storage"
BESIDE = (
    "**⬆ Upstream's version of the cell above.** You and upstream both changed that cell, so "
    "yours is kept exactly as you left it. Copy what you need from here, then delete this cell."
)
INSTEAD = (
    "**Upstream changed a cell you had deleted.** Here is its new version. Copy what you need "
    "from here, then delete this cell."
)


def marked_version(base: Cell, theirs: Cell, language: str, deleted: bool) -> Cell:
    """The Markdown cell that shows ``theirs`` (upstream's version of base cell ``base``)."""
    key = _version_key(base, theirs)
    kind = str(theirs.get("cell_type"))
    fence_language = {"code": language, "markdown": "markdown"}.get(kind, "")
    source = _as_text(theirs.get("source", ""))
    fence = "`" * max(3, _longest_backtick_run(source) + 1)
    cell: Cell = {
        "cell_type": "markdown",
        "id": f"upstream-{key[:12]}",
        "metadata": {METADATA_KEY: {"upstream_version": key}},
        "source": f"{INSTEAD if deleted else BESIDE}\n\n{fence}{fence_language}\n{source}\n{fence}",
    }
    if theirs.get("attachments"):
        cell["attachments"] = theirs["attachments"]
    return cell


def is_marked(cell: Cell) -> bool:
    data = cell.get("metadata", {}).get(METADATA_KEY)
    return isinstance(data, dict) and isinstance(data.get("upstream_version"), str)


def marker_key(cell: Cell) -> str:
    return cell["metadata"][METADATA_KEY]["upstream_version"]


def _version_key(base: Cell, theirs: Cell) -> str:
    """Names upstream's version of one base cell: the same conflict always gives the same key."""
    anchor = base.get("id") or [base.get("cell_type"), base.get("source")]
    shown = [theirs.get("cell_type"), theirs.get("source"), theirs.get("attachments")]
    return hashlib.sha256(json.dumps([anchor, shown], sort_keys=True).encode()).hexdigest()


def _as_text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)

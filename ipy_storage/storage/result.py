"""What a pull reports (behaviour §2.2): progress while it runs, a ``PullResult`` when it ends.

Both engines (git and the fsspec mirror) fill the same ``PullResult`` in the same vocabulary of
behaviour §5, and ``finish()`` gives every result one order, so reports and tests never depend on which
engine produced them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .merging import NotebookMerge

from . import renderers


@dataclass
class Progress:
    """One progress report: ``done`` of ``total`` units (files or objects) in ``stage``."""

    stage: str
    done: int = 0
    total: int | None = None
    bytes: int = 0
    message: str = ""


ProgressCallback = Callable[[Progress], None]

# (label, field, plain-text mark) of each list, in the order reports show them.
CHANGE_LISTS = (
    ("added", "added", "+"),
    ("modified", "modified", "~"),
    ("deleted", "deleted", "-"),
    ("merged", "merged", "*"),
    ("kept local", "kept_local", "="),
)


def _sorted_unique(paths: list[str]) -> list[str]:
    """``sorted(set(paths))``, with one look when they come sorted already (git lists a fresh
    clone's hundred thousand files in order)."""
    if all(a < b for a, b in zip(paths, paths[1:], strict=False)):
        return list(paths)
    return sorted(set(paths))


@dataclass
class PullResult:
    """What one pull changed in the destination. Paths are POSIX, relative to the destination.

    ``kept_local``: the user's edits kept over upstream's (they conflicted); ``merged``: upstream's
    changes merged into the user's edits (the file holds both); ``moved_aside``: the user's file →
    the new name it was moved to when an upstream file took its place. ``notebooks``: for each
    merged notebook, the cells upstream's changes updated, added, removed, and those both sides
    changed (numbered as the user sees them); ``reasons``: one line for a file whose merge was
    not possible (a conflict, an invalid notebook), kept as the user had it.
    """

    storage: str
    destination: Path
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept_local: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    moved_aside: dict[str, str] = field(default_factory=dict)
    notebooks: dict[str, NotebookMerge] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    revision: str | None = None
    bytes_transferred: int = 0
    duration: float = 0.0
    backup: Path | None = None
    # what the source held but the pull left alone (links pointing out of a local source), and
    # what the user should know of the source (it cannot tell changes, links were skipped)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted or self.merged or self.moved_aside)

    def finish(self) -> PullResult:
        """Sort every list and drop repeats (a path reported twice by two steps of a pull)."""
        for _label, name, _mark in CHANGE_LISTS:
            setattr(self, name, _sorted_unique(getattr(self, name)))
        self.moved_aside = dict(sorted(self.moved_aside.items()))
        self.skipped = _sorted_unique(self.skipped)
        self.notebooks = dict(sorted(self.notebooks.items()))
        self.reasons = dict(sorted(self.reasons.items()))
        return self

    def summary(self) -> str:
        """One line: what changed, for logs, status and plain-text reprs."""
        parts = [
            f"{len(getattr(self, name))} {label}"
            for label, name, _mark in CHANGE_LISTS
            if getattr(self, name)
        ]
        if self.moved_aside:
            parts.append(f"{len(self.moved_aside)} moved aside")
        text = ", ".join(parts) or "up to date"
        if self.revision:
            text += f" at {self.revision[:10]}"
        return "; ".join([text, *self.notes])

    def __repr__(self) -> str:
        """A headline, then the lines the display package draws below it (the changed paths)."""
        head = f"PullResult({self.storage!r} → {self.destination}: {self.summary()}, "
        head += f"{self.duration:.2f}s)"
        details = renderers.text(self)
        return f"{head}\n{details}" if details else head

    def _repr_html_(self) -> str | None:
        """The change report (drawn by the display package, see :mod:`.renderers`)."""
        return renderers.html(self)

"""What a merge gives the engines: the merged bytes (or the reason there are none) and, for a
notebook, which cells changed, numbered as the user sees them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NotebookMerge:
    """The cells a notebook merge changed, as 1-based positions: ``updated``, ``added`` and
    ``conflicted`` in the merged notebook, ``removed`` in the user's notebook before the merge
    (those cells are gone). ``conflicted_ids`` are the ids of the cells both sides changed."""

    updated: tuple[int, ...] = ()
    added: tuple[int, ...] = ()
    removed: tuple[int, ...] = ()
    conflicted: tuple[int, ...] = ()
    conflicted_ids: tuple[str, ...] = ()

    def summary(self) -> str:
        """``cells 2, 5 updated; 9 added; 4 conflicted`` (empty lists left out)."""
        parts = [
            f"{_cells(numbers)} {label}"
            for label, numbers in (
                ("updated", self.updated),
                ("added", self.added),
                ("removed", self.removed),
                ("conflicted", self.conflicted),
            )
            if numbers
        ]
        return "; ".join(parts) or "no cell changed"


def _cells(numbers: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, numbers[:12])) + (", …" if len(numbers) > 12 else "")
    return f"cell {shown}" if len(numbers) == 1 else f"cells {shown}"


@dataclass(frozen=True)
class MergeOutcome:
    """``content``: the merged file, or None to keep the user's file exactly as it is
    (``reason`` says why, in one line); ``notebook``: the cell report of a notebook merge."""

    content: bytes | None
    reason: str = ""
    notebook: NotebookMerge | None = None

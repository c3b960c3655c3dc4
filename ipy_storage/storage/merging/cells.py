"""The cell-by-cell merge of a notebook (the rules of ``docs/notebook-merge.md``).

``alignment`` lines the cells of the user's notebook and of upstream's up with the cells of the
base (by cell id where there is one, else by nbdime's content similarity). What happens to each
cell is decided here, because nbdime's own merge
strategies do not give what a person who ran the notebook expects: ``use-local`` drops cells
upstream added where the user added cells too, and ``inline`` writes conflict markers into code.

A cell's *inputs* are its type, source and attachments: what a person writes. Its outputs,
execution count and metadata are what running it or the front end changes, and never make a
cell count as changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .alignment import Alignment, Cell, align, changed, digest, ids_are_kept, inputs
from .marked import is_marked, marked_version, marker_key


@dataclass
class Merged:
    """The merged cells and what happened to them (the cells themselves, numbered at the end)."""

    cells: list[Cell] = field(default_factory=list)
    updated: list[Cell] = field(default_factory=list)
    added: list[Cell] = field(default_factory=list)
    conflicted: list[Cell] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # 0-based positions in the user's notebook

    def emit(self, cell: Cell, report: list[Cell] | None = None) -> None:
        if report is not None:
            report.append(cell)
        self.cells.append(cell)

    def conflict(self, cell: Cell) -> None:
        self.emit(cell, self.conflicted)

    def positions(self, cells: list[Cell]) -> list[int]:
        """0-based positions of ``cells`` in the merged notebook."""
        where = {id(cell): index for index, cell in enumerate(self.cells)}
        return [where[id(cell)] for cell in cells]

    def place_block(self, block: list[Cell], anchor: Cell | None) -> None:
        """Move ``block`` (cells next to each other) right after ``anchor`` (None: to the top)."""
        if anchor is not None and any(cell is anchor for cell in block):
            return
        start = self.positions(block[:1])[0]
        del self.cells[start : start + len(block)]
        at = 0 if anchor is None else self.positions([anchor])[0] + 1
        self.cells[at:at] = block

    def place_after(self, marker: Cell, anchor: Cell) -> None:
        """Move ``marker`` right after ``anchor``."""
        del self.cells[self.positions([marker])[0]]
        self.cells.insert(self.positions([anchor])[0] + 1, marker)


class CellMerge:
    """Merges the cell lists of base, local (the user's) and upstream."""

    def __init__(
        self, base: list[Cell], local: list[Cell], upstream: list[Cell], language: str
    ) -> None:
        self.base, self.local, self.upstream, self.language = base, local, upstream, language
        trust_ids = ids_are_kept(base, upstream)
        self.mine = align(base, local, trust_ids)
        self.theirs = align(base, upstream, trust_ids)
        self.local_moves = {j: k for k, j in self.mine.moved.items()}
        self.upstream_moves = {j: k for k, j in self.theirs.moved.items()}
        # upstream versions already shown beside the user's cells (an earlier merge put them)
        self.shown = {marker_key(cell) for cell in local if is_marked(cell)}
        # what the user's notebook has that the base had not: upstream's new cells an earlier
        # merge added are among it (wherever the user's deletions moved them, or paired with a
        # base cell by content when upstream kept no id) and are not added twice
        self.held = {digest(inputs(cell)) for cell in local} - {digest(inputs(c)) for c in base}
        self.held |= {c["id"] for c in local if "id" in c} - {c["id"] for c in base if "id" in c}
        self.out = Merged()
        # upstream's versions of cells both changed, each with the user's cell it follows
        self.follow: list[tuple[str, Cell]] = []
        # cells upstream moved: where upstream has them, and what this merge made of them
        self.moved: list[tuple[int, list[Cell]]] = []

    def run(self) -> Merged:
        for k in range(len(self.base) + 1):
            self._insertions(k)
            if k < len(self.base) and k not in self.mine.moved and k not in self.theirs.moved:
                self._cell(k)
        for j, block in self.moved:
            found, anchor = self._anchor(j)
            if block and found:
                self.out.place_block(block, anchor)
        markers = {marker_key(cell): cell for cell in self.out.cells if is_marked(cell)}
        for key, anchor in self.follow:  # wherever the user's moves put it: after its cell
            if key in markers:
                self.out.place_after(markers[key], anchor)
        return self.out

    def _anchor(self, j: int) -> tuple[bool, Cell | None]:
        """Where cells upstream moved to its position ``j`` go: after the nearest cell before
        them in upstream's order that the merge has (one the user deleted is passed over), on
        top when there is none; not found when that cell is ambiguous (cells without ids alike).
        The nearest, not the one right before: a merge of its own result must give that result."""
        for i in range(j - 1, -1, -1):
            anchors = [cell for cell in self.out.cells if _same(cell, self.upstream[i])]
            if anchors:
                return len(anchors) == 1, anchors[0]
        return True, None

    def _insertions(self, k: int) -> None:
        """The user's new cells before base cell ``k``, then upstream's (those the user does
        not hold already)."""
        for j in self.mine.inserted.get(k, []):
            if j in self.local_moves:
                self._cell(self.local_moves[j])
            else:
                self.out.emit(self.local[j])
        for j in self.theirs.inserted.get(k, []):
            if j in self.upstream_moves:
                if self.upstream_moves[j] not in self.mine.moved:  # the user's move wins
                    start = len(self.out.cells)
                    self._cell(self.upstream_moves[j])
                    self.moved.append((j, self.out.cells[start:]))
            elif not self._held(self.upstream[j]):
                self.out.emit(self.upstream[j], self.out.added)

    def _held(self, cell: Cell) -> bool:
        return cell.get("id") in self.held or digest(inputs(cell)) in self.held

    def _side(self, alignment: Alignment, cells: list[Cell], k: int) -> Cell | None:
        where = _position(alignment, k)
        return None if where is None else cells[where]

    def _cell(self, k: int) -> None:
        """Base cell ``k`` as the user and upstream left it (behaviour §5 at the scale of a cell)."""
        base = self.base[k]
        mine = self._side(self.mine, self.local, k)
        theirs = self._side(self.theirs, self.upstream, k)
        if mine is None:
            if theirs is not None and changed(base, theirs):
                self._show_upstream(k, theirs, deleted=True)
            return
        if theirs is None:
            if changed(base, mine):
                self.out.conflict(mine)  # upstream deleted it; the user's work stays
            else:  # the user's cell was where the base had it (or moved): gone now
                self.out.removed.append(_position(self.mine, k) or 0)
            return
        ours, upstreams = changed(base, mine), changed(base, theirs)
        if upstreams and not ours:
            self.out.emit(_updated(base, mine, theirs), self.out.updated)
        elif ours and upstreams and inputs(mine) != inputs(theirs):
            self.out.conflict(_kept(base, mine, theirs))
            self._show_upstream(k, theirs, deleted=False)
        else:
            self.out.emit(_kept(base, mine, theirs))

    def _show_upstream(self, k: int, theirs: Cell, deleted: bool) -> None:
        """Upstream's version beside the user's (or where the user deleted it), once."""
        marked = marked_version(self.base[k], theirs, self.language, deleted)
        if not deleted:  # it follows the user's cell, wherever moves put either
            self.follow.append((marker_key(marked), self.out.cells[-1]))
        if marker_key(marked) in self.shown:  # an earlier merge showed it already
            return
        if deleted:
            self.out.conflict(marked)
        else:
            self.out.emit(marked)


def _same(cell: Cell, other: Cell | None) -> bool:
    """Whether two versions are one cell: the same id, or (without ids) the same inputs."""
    if other is None:
        return False
    if "id" in cell and "id" in other:
        return cell["id"] == other["id"]
    return inputs(cell) == inputs(other)


def _position(alignment: Alignment, k: int) -> int | None:
    """Where base cell ``k`` is on that side (None: deleted there)."""
    where = alignment.matched[k]
    return alignment.moved.get(k) if where is None else where


def _updated(base: Cell, mine: Cell, theirs: Cell) -> Cell:
    """Upstream's new version of a cell the user did not change: its inputs and outputs (the
    user's outputs came from the old source), the user's id, metadata merged."""
    cell = dict(theirs)
    if "id" in mine:
        cell["id"] = mine["id"]
    cell["metadata"] = merge_mapping(base.get("metadata", {}), mine["metadata"], theirs["metadata"])
    return cell


def _kept(base: Cell, mine: Cell, theirs: Cell) -> Cell:
    """The user's cell with upstream's metadata changes; upstream's outputs only where the user
    has not run the cell since the base."""
    cell = dict(mine)
    cell["metadata"] = merge_mapping(base.get("metadata", {}), mine["metadata"], theirs["metadata"])
    if cell.get("cell_type") == "code" and _run_state(mine) == _run_state(base):
        cell["outputs"], cell["execution_count"] = theirs["outputs"], theirs["execution_count"]
    return cell


def _run_state(cell: Cell) -> tuple:
    return cell.get("outputs"), cell.get("execution_count")


def merge_mapping(base: dict, mine: dict, theirs: dict) -> dict:
    """Key by key: the user's change wins, else upstream's, else the base's value (metadata:
    kernel, language, widget state, a cell's tags)."""
    merged = {}
    for key in dict.fromkeys([*mine, *theirs, *base]):
        if mine.get(key, _ABSENT) != base.get(key, _ABSENT):
            value = mine.get(key, _ABSENT)
        elif theirs.get(key, _ABSENT) != base.get(key, _ABSENT):
            value = theirs.get(key, _ABSENT)
        else:
            value = base.get(key, _ABSENT)
        if value is not _ABSENT:
            merged[key] = value
    return merged


_ABSENT = object()

"""Which cells of two versions of a notebook are the same cell (the hard part of a notebook merge).

Cells keep their ids where both sides have them; the rest nbdime's notebook diff pairs up by
content similarity. Moves are found apart, so a moved cell is not taken for a deletion plus an
addition. A cell's *inputs* (type, source, attachments) are what make it the same cell or a
changed one; outputs, execution counts and metadata never do.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

Cell = dict[str, Any]


def inputs(cell: Cell) -> tuple:
    return (cell.get("cell_type"), cell.get("source"), cell.get("attachments"))


def changed(base: Cell, other: Cell) -> bool:
    return inputs(base) != inputs(other)


@dataclass
class Alignment:
    """One side against the base: ``matched[k]`` is the index of the side's cell that base cell
    ``k`` became (None: the side deleted it); ``inserted[k]`` the side's new cells just before
    base cell ``k`` (``k == len(base)``: at the end); ``moved[k]`` the index of the side's new
    cell that is base cell ``k`` moved elsewhere (same id, or else the same inputs)."""

    matched: list[int | None]
    inserted: dict[int, list[int]]
    moved: dict[int, int] = field(default_factory=dict)


def align(base: list[Cell], other: list[Cell], trust_ids: bool) -> Alignment:
    """Pair a side's cells with the base's, in order: first the cells with the same id on both
    sides, or else the same inputs (``difflib``, exact and fast); then, between two such runs,
    nbdime's notebook diff pairs the rest by content (its similarity search compares every cell
    with every other: 500 cells at once cost 0.3 s). With ``trust_ids`` (the versions share cell
    ids), a cell with an id the base lacks is a new cell, and a base cell whose id is gone was
    deleted: neither is paired by content. Otherwise (nbformat 4.4, or ids written anew) cells
    pair by content only."""
    from difflib import SequenceMatcher

    shared = {c["id"] for c in base if "id" in c} & {c["id"] for c in other if "id" in c}
    base_keys, other_keys = _keys(base, shared), _keys(other, shared)
    pairs: list[tuple[int, int]] = []
    b = o = 0
    for block in SequenceMatcher(None, base_keys, other_keys, False).get_matching_blocks():
        free_base = [k for k in range(b, block.a) if not (trust_ids and "id" in base[k])]
        free_other = [j for j in range(o, block.b) if not (trust_ids and "id" in other[j])]
        if free_base and free_other:
            pairs += _nbdime_pairs(base, other, free_base, free_other)
        pairs += [(block.a + i, block.b + i) for i in range(block.size)]
        b, o = block.a + block.size, block.b + block.size
    alignment = _from_pairs(pairs, len(base), len(other))
    alignment.moved = _moves(base, other, alignment)
    return alignment


def ids_are_kept(base: list[Cell], upstream: list[Cell]) -> bool:
    """Whether upstream kept cell ids (some base cell's id is still there). Decided on base and
    upstream only, so a merge done again (the user's side being the first merge) decides alike."""
    return bool({c["id"] for c in base if "id" in c} & {c["id"] for c in upstream if "id" in c})


def _keys(cells: list[Cell], shared: set[str]) -> list[tuple[str, str]]:
    return [
        ("id", c["id"]) if c.get("id") in shared else ("inputs", digest(inputs(c))) for c in cells
    ]


def _nbdime_pairs(
    base: list[Cell], other: list[Cell], free_base: list[int], free_other: list[int]
) -> list[tuple[int, int]]:
    """Which of the given cells nbdime's diff pairs up (read from its documented
    add/remove/patch ranges over the two lists)."""
    import nbdime

    operations = []
    view_a, view_b = _view([base[k] for k in free_base]), _view([other[j] for j in free_other])
    for entry in nbdime.diff_notebooks(view_a, view_b):
        if entry.key == "cells":
            operations = sorted(entry.diff, key=lambda op: (op.key, op.op != "addrange"))
    pairs, a, b = [], 0, 0
    for op in operations:
        while a < op.key:
            pairs.append((a, b))
            a, b = a + 1, b + 1
        if op.op == "addrange":
            b += len(op.valuelist)
        elif op.op == "removerange":
            a += op.length
        else:  # patch: the same cell, changed
            pairs.append((a, b))
            a, b = a + 1, b + 1
    while a < len(free_base) and b < len(free_other):
        pairs.append((a, b))
        a, b = a + 1, b + 1
    return [(free_base[a], free_other[b]) for a, b in pairs]


def _from_pairs(pairs: list[tuple[int, int]], n_base: int, n_other: int) -> Alignment:
    """The alignment of ordered pairs: each unpaired cell of the side goes before the base cell
    of the next pair (or at the end)."""
    alignment = Alignment([None] * n_base, defaultdict(list))
    for k, j in pairs:
        alignment.matched[k] = j
    anchors = iter([*pairs, (n_base, n_other)])
    anchor = next(anchors)
    paired = {j for _, j in pairs}
    for j in range(n_other):
        while j > anchor[1]:
            anchor = next(anchors)
        if j not in paired:
            alignment.inserted[anchor[0]].append(j)
    return alignment


def _view(cells: list[Cell]) -> dict:
    """What nbdime compares: each cell's inputs and id, without outputs (faster, and outputs do
    not decide which cell is which)."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                key: value
                for key, value in cell.items()
                if key in ("cell_type", "source", "id", "attachments")
            }
            | {"metadata": {}}
            | ({"outputs": [], "execution_count": None} if cell.get("cell_type") == "code" else {})
            for cell in cells
        ],
    }


def _moves(base: list[Cell], other: list[Cell], alignment: Alignment) -> dict[int, int]:
    """Base cells the side deleted at one place and inserted at another: moves."""
    new = [index for indices in alignment.inserted.values() for index in indices]
    by_id = {other[i]["id"]: i for i in new if "id" in other[i]}
    by_inputs: dict[str, list[int]] = defaultdict(list)
    for i in new:
        by_inputs[digest(inputs(other[i]))].append(i)
    moves, taken = {}, set()
    for k, where in enumerate(alignment.matched):
        if where is not None:
            continue
        found = by_id.get(base[k].get("id"))
        if found is None:
            candidates = by_inputs.get(digest(inputs(base[k])), [])
            found = candidates[0] if len(candidates) == 1 else None
        if found is not None and found not in taken:
            moves[k] = found
            taken.add(found)
    return moves


def digest(value: Any) -> str:
    """A stable name for a JSON value (a cell's inputs)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()

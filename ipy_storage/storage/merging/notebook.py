"""A notebook both sides changed, merged cell by cell (``cells``), checked and written.

The three versions are read with nbformat (no conversion, no repair: a merge must give the same
bytes every time, and nbformat's repairs pick random cell ids). Each must be a valid nbformat 4
notebook; one that is not stops the merge with a one-line reason and the user's file is kept.
The merged notebook is checked against nbformat's schema before it is returned, and written as
Jupyter writes notebooks (nbformat's JSON, one trailing newline).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .cells import CellMerge, merge_mapping
from .outcome import MergeOutcome, NotebookMerge

ID_LIMIT = 64  # nbformat's longest cell id
SIDES = ("the last pulled version", "your version", "upstream's version")


class NotMergeable(Exception):
    """Why a notebook cannot be merged, in one line."""


def merge_notebook(base: bytes, local: bytes, upstream: bytes) -> MergeOutcome:
    try:
        return _merge(base, local, upstream)
    except NotMergeable as reason:
        return MergeOutcome(None, f"{reason}: your version is kept")
    except ImportError as missing:
        return MergeOutcome(None, f"notebooks merge with nbdime ({missing}): your version is kept")
    except Exception as error:  # nbdime on input it did not expect: never fail the pull
        return MergeOutcome(
            None, f"nbdime could not merge it ({_line(error)}): your version is kept"
        )


def _merge(base_bytes: bytes, local_bytes: bytes, upstream_bytes: bytes) -> MergeOutcome:
    base, local, upstream = (
        read_notebook(data, side)
        for data, side in zip((base_bytes, local_bytes, upstream_bytes), SIDES, strict=True)
    )
    cells = CellMerge(base["cells"], local["cells"], upstream["cells"], _language(local, upstream))
    outcome = cells.run()
    updated, added, conflicted = map(
        outcome.positions, (outcome.updated, outcome.added, outcome.conflicted)
    )
    merged = {
        "nbformat": 4,
        "nbformat_minor": max(local["nbformat_minor"], upstream["nbformat_minor"]),
        "metadata": merge_mapping(base["metadata"], local["metadata"], upstream["metadata"]),
        "cells": outcome.cells,
    }
    give_ids(merged)
    problem = schema_problem(merged)
    if problem:
        raise NotMergeable(f"the merged notebook would not be valid nbformat ({problem})")
    report = NotebookMerge(
        updated=_numbers(updated),
        added=_numbers(added),
        removed=_numbers(outcome.removed),
        conflicted=_numbers(conflicted),
        conflicted_ids=tuple(
            merged["cells"][i]["id"] for i in sorted(conflicted) if "id" in merged["cells"][i]
        ),
    )
    if merged == local:  # nothing of upstream's to add: the user's bytes, not a reformatted copy
        return MergeOutcome(local_bytes, notebook=report)
    return MergeOutcome(write_notebook(merged), notebook=report)


def read_notebook(data: bytes, side: str) -> dict[str, Any]:
    """A valid nbformat 4 notebook as plain dicts (sources joined), or ``NotMergeable``."""
    from nbformat.reader import NotJSONError, reads

    try:
        notebook = reads(data)
    except NotJSONError:
        raise NotMergeable(f"{side} is not a notebook (not JSON)") from None
    except Exception as error:
        raise NotMergeable(f"{side} is not a valid notebook ({_line(error)})") from None
    if notebook.get("nbformat") != 4:
        raise NotMergeable(f"{side} is nbformat {notebook.get('nbformat')}, not 4")
    problem = schema_problem(notebook)
    if problem:
        raise NotMergeable(f"{side} is not a valid notebook ({problem})")
    return notebook


def schema_problem(notebook: dict[str, Any]) -> str:
    """The first way ``notebook`` breaks nbformat's schema or its unique cell ids ("" if none);
    nothing is changed (nbformat's ``validate`` repairs ids in place)."""
    from nbformat.validator import get_validator

    validator = get_validator(version=4, version_minor=notebook.get("nbformat_minor"))
    if validator is None:
        validator = get_validator(version=4)
    error = next(iter(validator.iter_errors(notebook)), None)
    if error is not None:
        return _line(getattr(error, "message", error))
    ids = [cell["id"] for cell in notebook["cells"] if "id" in cell]
    return "" if len(ids) == len(set(ids)) else "two cells have the same id"


def write_notebook(notebook: dict[str, Any]) -> bytes:
    """As Jupyter saves a notebook: nbformat's JSON and a trailing newline."""
    import nbformat

    return (nbformat.v4.writes(nbformat.from_dict(notebook)) + "\n").encode()


def give_ids(notebook: dict[str, Any]) -> None:
    """Cell ids as the notebook's format wants them: none before 4.5; from 4.5 on, one per cell,
    unique. A missing or repeated id gets one made from the cell's content and place, so merging
    again gives the same ids."""
    cells = notebook["cells"]
    if notebook["nbformat_minor"] < 5:
        notebook["cells"] = [{k: v for k, v in cell.items() if k != "id"} for cell in cells]
        return
    seen: set[str] = set()
    for position, cell in enumerate(cells):
        wanted = cell.get("id")
        if not wanted or wanted in seen:
            seed = f"{position}:{cell.get('cell_type')}:{cell.get('source')}:{wanted}"
            wanted = hashlib.sha256(seed.encode()).hexdigest()[:8]
            while wanted in seen:
                wanted = hashlib.sha256(wanted.encode()).hexdigest()[:8]
            cells[position] = {**cell, "id": wanted[:ID_LIMIT]}
        seen.add(wanted)


def _language(*notebooks: dict[str, Any]) -> str:
    """The code cells' language, for the fenced blocks of upstream's versions."""
    for notebook in notebooks:
        metadata = notebook.get("metadata", {})
        name = metadata.get("language_info", {}).get("name") or metadata.get("kernelspec", {}).get(
            "language"
        )
        if isinstance(name, str) and name.isidentifier():
            return name
    return ""


def _numbers(positions: list[int]) -> tuple[int, ...]:
    """0-based positions as the cell numbers a person counts (from 1)."""
    return tuple(sorted(position + 1 for position in positions))


def _line(error: object) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__

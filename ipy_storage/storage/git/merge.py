"""Merging upstream's change into a file the user edited too (behaviour §5, "both changed"): the
old commit's version (base), the user's file and upstream's new version go to the shared merge
layer (``storage.merging``: a line merge for text as ``git merge-file`` does it, cell by cell
for notebooks). A merge replaces the user's file in one rename (it then holds both sides); when
there is none (a conflict, a binary file, an invalid notebook) the user's file stays exactly as
it was, and the reason goes into the result. Merging a file that already holds both sides gives
it back unchanged, so a killed update can simply merge again."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..merging import merge_file
from ..result import PullResult
from .runner import GitRunner
from .update_plan import Change


def merge_edits(
    runner: GitRunner,
    root: Path,
    scratch: Path,
    upstream: dict[str, Change],
    paths: list[str],
    result: PullResult,
) -> tuple[list[str], list[str]]:
    """Merge upstream into each of ``paths``; returns (merged, kept as the user had them). A
    notebook's cell report and the reason a file was kept go into ``result``."""
    if not paths:
        return [], []
    scratch.mkdir(parents=True, exist_ok=True)
    versions = _blobs(
        runner,
        root,
        [(upstream[p].old_blob, p) for p in paths] + [(upstream[p].new_blob, p) for p in paths],
    )
    merged, kept = [], []
    for index, path in enumerate(paths):
        target = root / path
        if not target.is_file() or target.is_symlink():
            kept.append(path)
            continue
        outcome = merge_file(
            path, versions[index], target.read_bytes(), versions[len(paths) + index]
        )
        if outcome.content is None:
            kept.append(path)
            result.reasons[path] = outcome.reason
            continue
        _replace(target, outcome.content, scratch / f"{index}.merged")
        merged.append(path)
        if outcome.notebook is not None:
            result.notebooks[path] = outcome.notebook
    return merged, kept


def _blobs(runner: GitRunner, root: Path, wanted: list[tuple[str, str]]) -> list[bytes]:
    """The contents of blobs as the work tree would hold them (git's filters applied), from one
    ``cat-file --batch`` for all of them."""
    request = b"".join(f"{blob} ".encode() + os.fsencode(path) + b"\n" for blob, path in wanted)
    output = runner.run(
        "cat-file", "--batch", "--filters", cwd=root, input=request, action="Reading"
    ).stdout
    contents, position = [], 0
    for _ in wanted:
        header_end = output.index(b"\n", position)
        size = int(output[position:header_end].split()[2])
        start = header_end + 1
        contents.append(output[start : start + size])
        position = start + size + 1
    return contents


def _replace(target: Path, content: bytes, temporary: Path) -> None:
    """Put ``content`` at ``target`` in one rename, keeping the file's mode."""
    temporary.write_bytes(content)
    shutil.copymode(target, temporary)
    try:
        os.replace(temporary, target)
    except OSError as error:  # the git directory on another file system
        if error.errno != errno.EXDEV:
            raise
        beside = target.with_name(f".{target.name}.ipy-storage-merge")
        shutil.move(temporary, beside)
        os.replace(beside, target)

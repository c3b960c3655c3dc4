"""Merging upstream's change into a file the user edited too (SPEC §5, "both changed"): a
three-way line merge of the old commit's version (base), the user's file and upstream's new
version. A clean merge replaces the user's file in one rename (it then holds both sides); a
conflict leaves the user's file exactly as it was. Merging a file that already holds both sides
gives it back unchanged, so a killed update can simply merge again."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from .runner import GitRunner
from .update_plan import Change


def merge_edits(
    runner: GitRunner, root: Path, scratch: Path, upstream: dict[str, Change], paths: list[str]
) -> tuple[list[str], list[str]]:
    """Merge upstream into each of ``paths``; returns (merged, kept as the user had them)."""
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
        base, theirs = scratch / f"{index}.base", scratch / f"{index}.theirs"
        base.write_bytes(versions[index])
        theirs.write_bytes(versions[len(paths) + index])
        target = root / path
        outcome = runner.run(
            "merge-file", "-p", "-q", str(target), str(base), str(theirs), cwd=root, check=False
        )
        base.unlink()
        theirs.unlink()
        if outcome.returncode == 0 and target.is_file() and not target.is_symlink():
            _replace(target, outcome.stdout, scratch / f"{index}.merged")
            merged.append(path)
        else:  # conflicting or binary: the user's version wins
            kept.append(path)
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

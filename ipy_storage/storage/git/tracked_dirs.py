"""Finding the pulled files a user deleted without looking at every file.

Deleting a file (or replacing it by a folder, or renaming it away) changes its folder's ctime. So
after each pull the folders that hold pulled files are recorded with their inode and ctime; the
next pull stats those folders only (hundreds, not a hundred thousand files) and asks git about the
direct children of the folders that changed. A folder changed in the same clock tick as the
recording cannot be trusted (a later change may keep its ctime): it counts as changed next time,
the rule git uses for its index ("racy" entries).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..destination import read_json, write_json_atomic

SNAPSHOT = "dirs.json"


def folders_of(paths: Iterable[str]) -> set[str]:
    """Every folder (and its parents, ``""`` for the top) that holds one of ``paths``."""
    folders = {""}
    for folder in {path.rpartition("/")[0] for path in paths}:
        while folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    return folders


def record(bookkeeping: Path, root: Path, folders: Iterable[str]) -> None:
    """Stat ``folders`` below ``root`` and keep their identity for the next pull."""
    kept, identities = [], []
    for folder, st in _stats(root, sorted(folders)):
        if st is not None:
            kept.append(folder)
            identities += [st.st_ino, st.st_ctime_ns]
    bookkeeping.mkdir(exist_ok=True)
    write_json_atomic(bookkeeping / SNAPSHOT, {"folders": kept, "identities": identities})


def recorded(bookkeeping: Path) -> set[str]:
    """The folders of the last recording (empty when there is none)."""
    snapshot = read_json(bookkeeping / SNAPSHOT)
    return set(snapshot["folders"]) if _usable(snapshot) else set()


def changed_folders(bookkeeping: Path, root: Path) -> list[str] | None:
    """Folders whose entries may have changed since the recording; None when there is no usable
    recording (then every pulled file has to be looked at)."""
    path = bookkeeping / SNAPSHOT
    try:
        recorded_at = os.stat(path).st_mtime_ns
    except OSError:
        return None
    snapshot = read_json(path)
    if not _usable(snapshot):
        return None
    identities = snapshot["identities"]
    changed = []
    for index, (folder, st) in enumerate(_stats(root, snapshot["folders"])):
        if (
            st is None
            or st.st_ino != identities[2 * index]
            or st.st_ctime_ns != identities[2 * index + 1]
            or st.st_ctime_ns >= recorded_at
        ):
            changed.append(folder)
    return changed


def _stats(root: Path, folders: list[str]) -> Iterator[tuple[str, os.stat_result | None]]:
    """lstat of each folder, relative to an open ``root`` (a pull may look at thousands)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for folder in folders:
            try:
                yield folder, os.lstat(folder or ".", dir_fd=fd)
            except OSError:
                yield folder, None
    finally:
        os.close(fd)


def _usable(snapshot: object) -> bool:
    return (
        isinstance(snapshot, dict)
        and isinstance(snapshot.get("folders"), list)
        and isinstance(snapshot.get("identities"), list)
        and len(snapshot["identities"]) == 2 * len(snapshot["folders"])
    )


def direct_children_pathspecs(folders: list[str]) -> list[str]:
    """Pathspecs for the files directly inside ``folders`` (glob magic: ``*`` stops at ``/``)."""
    return [":(glob)" + (_glob_escape(folder) + "/" if folder else "") + "*" for folder in folders]


def _glob_escape(name: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in name)

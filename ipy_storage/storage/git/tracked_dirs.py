"""Finding the pulled files a user deleted without looking at every file.

Deleting a file (or replacing it by a folder, or renaming it away) changes its folder's ctime. So
after each pull the folders that hold pulled files are recorded with their inode and ctime; the
next pull stats those folders only (hundreds, not a hundred thousand files) and looks closer only
at the folders that changed. A folder changed in the same clock tick as the recording cannot be
trusted (a later change may keep its ctime): it counts as changed next time, the rule git uses for
its index ("racy" entries). For such a folder the recording keeps the names of the pulled files
in it when they are known (after a clone), so the next pull checks it with one ``listdir``;
otherwise git is asked about it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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


@dataclass
class Changes:
    """What the snapshot could tell: the folders that changed (or cannot be trusted), the files
    known to be missing, and the folders git has to be asked about (None: there is no usable
    snapshot, so every pulled file)."""

    folders: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)
    ask_git: list[str] | None = field(default_factory=list)
    ask_below: list[str] = field(default_factory=list)  # not a folder now: ask about all below


class FolderSnapshot:
    """The recorded folders of one checkout, loaded once per pull."""

    def __init__(self, bookkeeping: Path, root: Path, commit: str | None) -> None:
        """``commit``: what the checkout holds now; names recorded for another one are stale."""
        self._path = bookkeeping / SNAPSHOT
        self._root = root
        self.identities: dict[str, tuple[int, int]] = {}
        self.names: dict[str, list[str]] = {}
        self.usable = False
        self._recorded_at = 0
        try:
            self._recorded_at = os.stat(self._path).st_mtime_ns
        except OSError:
            return
        data = read_json(self._path)
        if not isinstance(data, dict) or not isinstance(data.get("folders"), list):
            return
        folders, flat = data["folders"], data.get("identities") or []
        if len(flat) == 2 * len(folders):
            self.identities = dict(
                zip(folders, zip(flat[0::2], flat[1::2], strict=True), strict=True)
            )
            self.names = (data.get("names") or {}) if data.get("commit") == commit else {}
            self.usable = True

    def changes(self) -> Changes:
        """Which pulled files may be gone since the recording."""
        if not self.usable:
            return Changes(ask_git=None)
        ask_git: list[str] = []
        changes, recorded_at = Changes(ask_git=ask_git), self._recorded_at
        for folder, st in _stats(self._root, list(self.identities)):
            ino, ctime = self.identities[folder]
            if st is not None and st.st_ino == ino and st.st_ctime_ns == ctime < recorded_at:
                continue
            changes.folders.append(folder)
            if st is None or not stat.S_ISDIR(st.st_mode):
                changes.ask_below.append(folder)  # gone, or a user's file stands in its place
            elif folder in self.names:
                changes.missing |= self._missing_in(folder, st is not None)
            else:
                ask_git.append(folder)
        return changes

    def refresh(self, folders: Iterable[str], unrestored: Iterable[str] = ()) -> None:
        """Record ``folders`` as they are now; the others keep their identity. A folder that is
        not one now (the user's file stands there) while pulled files below it are missing
        (``unrestored``) is recorded as never matching, so the next pull looks below it again."""
        waiting = folders_of(unrestored)
        for folder, st in _stats(self._root, sorted(set(folders) | (waiting - {""}))):
            if st is not None and stat.S_ISDIR(st.st_mode):
                self.identities[folder] = (st.st_ino, st.st_ctime_ns)
            elif folder in waiting:
                self.identities[folder] = (0, 0)
            else:
                self.identities.pop(folder, None)

    def save(self, files: Iterable[str] | None = None, commit: str | None = None) -> None:
        """Write the recording. ``files``, the complete list of pulled files of ``commit``
        (known after a clone), gives the folders changed in this very clock tick their names."""
        self._path.parent.mkdir(exist_ok=True)
        self._path.write_text("")  # its time stamp is "now" as the file system counts time
        now = os.stat(self._path).st_mtime_ns
        racy = {f for f, (_ino, ctime) in self.identities.items() if ctime >= now}
        self.names = {folder: [] for folder in racy} if files is not None else {}
        for path in files if racy and files is not None else ():
            folder, _, name = path.rpartition("/")
            if folder in racy:
                self.names[folder].append(name)
        flat = [number for identity in self.identities.values() for number in identity]
        record = {"folders": list(self.identities), "identities": flat, "names": self.names}
        write_json_atomic(self._path, {**record, "commit": commit})

    def _missing_in(self, folder: str, exists: bool) -> set[str]:
        prefix = f"{folder}/" if folder else ""
        try:
            present = set(os.listdir(self._root / folder)) if exists else set()
        except OSError:
            present = set()
        return {prefix + name for name in self.names[folder] if name not in present}


def _stats(root: Path, folders: list[str]) -> Iterator[tuple[str, os.stat_result | None]]:
    """lstat of each folder, relative to an open ``root`` (a pull may look at thousands)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    lstat = os.lstat
    try:
        for folder in folders:
            try:
                st = lstat(folder or ".", dir_fd=fd)
            except OSError:
                st = None
            yield folder, st
    finally:
        os.close(fd)


def direct_children_pathspecs(folders: list[str]) -> list[str]:
    """Pathspecs for the files directly inside ``folders`` (glob magic: ``*`` stops at ``/``)."""
    return [":(glob)" + (_glob_escape(folder) + "/" if folder else "") + "*" for folder in folders]


def _glob_escape(name: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in name)

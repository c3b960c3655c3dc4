"""behaviour §5 for a mirror: what a pull does to each file, decided before anything is written.

Per file, the source as listed now is compared with the source as pulled last (the manifest's
``remote``), and the local file now with the copy we wrote (the manifest's ``local``):

| upstream                  | local copy                        | decision                          |
|---------------------------|-----------------------------------|-----------------------------------|
| new                       | —                                 | add (a user's file in the way is moved aside when placing, or adopted if identical) |
| unchanged                 | present (file or the user's folder) | nothing (not even a stat)       |
| unchanged                 | missing                           | restore                           |
| unchanged                 | missing, a folder above it replaced by the user's file | nothing, unless upstream needs that folder for another file |
| changed                   | as we wrote it (or only touched)  | update                            |
| changed                   | edited, its pulled version kept   | merge (``pristine``): ``merged``, or ``kept_local`` |
| changed                   | edited, no pulled version kept    | keep the user's; ``kept_local``   |
| changed                   | replaced by the user's folder     | update: the folder moves aside (upstream's file needs the place) |
| deleted                   | as we wrote it (or only touched)  | delete                            |
| deleted                   | edited                            | keep the user's; ``kept_local``; untracked from now on |

Files the source never had are never looked at. Placing (``placement``) checks again what it
finds, so a file the user changes while the pull runs is kept too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .listing import Listing
from .manifest import Copy, Manifest, file_digest
from .pristine import has_base

ADD, RESTORE, UPDATE, MERGE = "add", "restore", "update", "merge"  # why a file is downloaded
RACY_NS = 20_000_000  # a folder changed this recently is not trusted unchanged (timestamp ticks)
CLOCK_NAME = ".ipy_storage_clock"


class Download(NamedTuple):
    """A source file to fetch, why, and the local file it was decided on (updates only)."""

    rel: str
    identity: str
    reason: str
    seen: os.stat_result | None = None
    seen_digest: str = ""


@dataclass
class Decisions:
    """What this pull will do, file by file (behaviour §5)."""

    downloads: list[Download] = field(default_factory=list)
    deletions: list[tuple[str, os.stat_result]] = field(default_factory=list)
    kept_local: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # manifest entries to drop, disk left alone
    acknowledged: list[tuple[str, str]] = field(default_factory=list)  # kept files' new identity
    # restores held back because the user replaced a folder above them by a file: they follow
    # only a download that needs that folder back (keyed by the replaced folder)
    blocked: dict[str, list[Download]] = field(default_factory=dict)


def decide(listing: Listing, manifest: Manifest, destination: Path) -> Decisions:
    decisions = Decisions()
    local = LocalFolders(destination)
    files, recorded = listing.files, manifest.remote
    # one comparison when the source is as pulled last, else one pass: what is new or changed
    changed = [] if files == recorded else [r for r, i in files.items() if recorded.get(r) != i]
    for rel in changed:
        download = Download(rel, files[rel], ADD if rel not in recorded else UPDATE)
        if download.reason == ADD:
            decisions.downloads.append(download)
        else:
            upstream_changed(download, manifest, destination, decisions)
    restore_missing(listing, local, decisions, set(changed), manifest.folders)
    for rel in recorded.keys() - files.keys():
        upstream_deleted(rel, manifest.copy(rel), destination, decisions)
    release_blocked(decisions, local)
    return decisions


def restore_missing(
    listing: Listing,
    local: LocalFolders,
    decisions: Decisions,
    changed: set[str],
    settled: dict[str, int],
) -> None:
    """Files upstream did not change that the user deleted come back: one ``listdir`` per
    folder, none for a folder unchanged since it was found complete, no ``stat`` per file."""
    files = listing.files
    for folder, names in listing.folders.items():
        complete = settled.get(folder)
        if complete is not None and complete == local.mtime(folder):
            continue
        present = local.names(folder)
        if present.issuperset(names):
            continue
        prefix = folder + "/" if folder else ""
        for name in names:
            rel = prefix + name
            if name not in present and rel not in changed:
                restore(Download(rel, files[rel], RESTORE), local, decisions)


def restore(download: Download, local: LocalFolders, decisions: Decisions) -> None:
    blocker = local.blocker(download.rel.rpartition("/")[0])
    if blocker is None:
        decisions.downloads.append(download)
    else:
        decisions.blocked.setdefault(blocker, []).append(download)


def release_blocked(decisions: Decisions, local: LocalFolders) -> None:
    """A download into a folder the user replaced moves their file aside (upstream needs the
    place); the folder's other files then come back with it."""
    if not decisions.blocked:
        return
    for download in list(decisions.downloads):
        blocker = local.blocker(download.rel.rpartition("/")[0])
        if blocker is not None:
            decisions.downloads.extend(decisions.blocked.pop(blocker, ()))


def upstream_changed(
    download: Download, manifest: Manifest, destination: Path, decisions: Decisions
) -> None:
    copy = manifest.copy(download.rel)
    state, current = local_state(destination / download.rel, copy)
    if state == EDITED and has_base(destination, copy):  # both changed it: merge (pristine)
        decisions.downloads.append(
            download._replace(reason=MERGE, seen=current, seen_digest=copy.digest)
        )
    elif state == EDITED:
        # no base to merge with: the user's version wins. The manifest takes the new remote
        # identity (the local one stays ours, so the file still counts as edited): the next pull
        # reports it again only when upstream changes it again, as a git pull does.
        decisions.kept_local.append(download.rel)
        decisions.acknowledged.append((download.rel, download.identity))
    elif state in (CLEAN, TOUCHED):
        decisions.downloads.append(download._replace(seen=current, seen_digest=copy.digest))
    else:  # missing, or the user's folder where the file was (moved aside when placing)
        decisions.downloads.append(download._replace(seen=current))


def upstream_deleted(rel: str, copy: Copy, destination: Path, decisions: Decisions) -> None:
    state, current = local_state(destination / rel, copy)
    if state in (CLEAN, TOUCHED) and current is not None:
        decisions.deletions.append((rel, current))
        return
    decisions.forget.append(rel)  # gone, or the user's own file (or folder) from now on
    if state == EDITED:
        decisions.kept_local.append(rel)


# --------------------------------------------------------------------------- the local side

MISSING, FOLDER, CLEAN, TOUCHED, EDITED = "missing", "folder", "clean", "touched", "edited"


def local_state(path: Path, copy: Copy) -> tuple[str, os.stat_result | None]:
    """``missing``; ``folder`` (the user put a folder where the file was); ``clean`` (as we
    wrote it); ``touched`` (same content, new stat); ``edited``. The file is read only when its
    stat differs from the copy's, its size does not, and the copy was hashed."""
    current = lstat(path)
    if current is None:
        return MISSING, None
    if stat.S_ISDIR(current.st_mode):
        return FOLDER, current
    if not stat.S_ISREG(current.st_mode):
        return EDITED, current  # a link where our file was: the user's
    if copy.matches(current):
        return CLEAN, current
    if current.st_size != copy.size or not copy.digest or file_digest(path) != copy.digest:
        return EDITED, current
    return TOUCHED, current


DIR, GONE, REPLACED = "dir", "gone", "replaced"  # what a folder of the destination is now


class LocalFolders:
    """The destination's folders as the pull finds them: which names each holds (one
    ``listdir``), and whether the user removed a folder or replaced it by a file or a link."""

    def __init__(self, destination: Path) -> None:
        self._root = str(destination)
        self._states: dict[str, str] = {"": DIR}
        self._mtimes: dict[str, int] = {}
        self._names: dict[str, set[str]] = {}

    def state(self, folder: str) -> str:
        """``dir``, ``gone`` or ``replaced`` (also for everything below a gone or replaced one)."""
        known, unknown = path_down_from_known(folder, self._states)
        state = self._states[known]
        for folder in unknown:
            if state == DIR:
                current = lstat(f"{self._root}/{folder}")
                if current is None:
                    state = GONE
                elif not stat.S_ISDIR(current.st_mode):
                    state = REPLACED
                else:
                    self._mtimes[folder] = current.st_mtime_ns
            self._states[folder] = state
        return state

    def mtime(self, folder: str) -> int | None:
        """The modification time of a real folder below the top (None for anything else)."""
        return self._mtimes.get(folder) if folder and self.state(folder) == DIR else None

    def names(self, folder: str) -> set[str]:
        names = self._names.get(folder)
        if names is None:
            names = set()
            if self.state(folder) == DIR:
                with contextlib.suppress(OSError):  # unreadable: as good as empty
                    names = set(os.listdir(f"{self._root}/{folder}" if folder else self._root))
            self._names[folder] = names
        return names

    def blocker(self, folder: str) -> str | None:
        """The folder the user replaced by a file or link, at or above ``folder``, if any."""
        if self.state(folder) != REPLACED:
            return None
        while self.state(folder.rpartition("/")[0]) == REPLACED:
            folder = folder.rpartition("/")[0]
        return folder


def settled_folders(
    destination: Path, listing: Listing, recorded: dict[str, int]
) -> dict[str, int | None]:
    """The folders that now hold every file the source has there, by their mtime (and None for
    recorded ones that do not any more), so a later pull that finds a folder's mtime unchanged
    knows it complete without a ``listdir``, as git's index trusts an unchanged stat.

    A folder changed within ``RACY_NS`` of now (by the destination's own clock) could change
    again within the same timestamp, unseen: it is left out and listed next time. So is one
    whose mtime is a whole millisecond, a sign of a file system with coarse timestamps."""
    local = LocalFolders(destination)
    now = file_system_now(destination)
    changes: dict[str, int | None] = {}
    for folder, names in listing.folders.items():
        mtime = local.mtime(folder)
        if mtime is not None and recorded.get(folder) == mtime:
            continue
        if (
            mtime is not None
            and mtime < now - RACY_NS
            and mtime % 1_000_000
            and local.names(folder).issuperset(names)
        ):
            changes[folder] = mtime
        elif folder in recorded:
            changes[folder] = None
    for folder in recorded.keys() - listing.folders.keys():
        changes[folder] = None
    return changes


def file_system_now(destination: Path) -> int:
    """The time as the destination's file system stamps it (a network file system's server
    clock may differ from ours)."""
    probe = destination / CLOCK_NAME
    handle = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(handle, b"-")
        return os.fstat(handle).st_mtime_ns
    finally:
        os.close(handle)
        os.unlink(probe)


def path_down_from_known(folder: str, known: dict[str, Any]) -> tuple[str, list[str]]:
    """The nearest folder at or above ``folder`` that ``known`` holds (``""``, the top, always
    is), and the folders below it down to ``folder``, top first: deep keys need no recursion."""
    unknown = []
    while folder not in known:
        unknown.append(folder)
        folder = folder.rpartition("/")[0]
    return folder, unknown[::-1]


def lstat(path: str | Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # the latter: a folder above is a file
        return None


def same_stat(a: os.stat_result | None, b: os.stat_result | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.st_size, a.st_mtime_ns, a.st_ino, a.st_mode) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ino,
        b.st_mode,
    )

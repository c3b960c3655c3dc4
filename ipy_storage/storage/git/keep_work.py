"""SPEC §5 for a git update: what happens to each path upstream changed, given what the user
did to it, decided before anything is touched; and the one obstruction check every write goes
through, so a user's folder or file standing where git wants to write is never overwritten.

The planner is pure: it sees upstream's changes (old → new commit) and the state of each of those
paths in the work tree, and says which to write, remove, merge, keep or move aside. A path that
already holds upstream's new version (an earlier, killed pull wrote it) counts as untouched, so
finishing a killed update gives the same result as an update that was never interrupted.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..destination import move_aside
from .source import in_cone

# The state of a path upstream changed, in the work tree, compared with the old commit.
UNTOUCHED = "untouched"  # as pulled (or absent, for a path upstream adds)
UPSTREAM = "upstream"  # already holds upstream's new version
EDITED = "edited"  # the user's content (or a file turned into a link, or back)
MISSING = "missing"  # the user deleted it
REPLACED = "replaced"  # the user's folder (or other entry) stands where upstream has a file


@dataclass(frozen=True)
class Change:
    """One path's change between two commits, as ``git diff-tree --raw`` reports it."""

    status: str  # A, M, D, T (type change)
    old_mode: str
    new_mode: str
    old_blob: str
    new_blob: str

    @property
    def gitlink(self) -> bool:
        return "160000" in (self.old_mode, self.new_mode)

    @property
    def text_like(self) -> bool:
        """Both sides regular files, so a line merge can apply."""
        return self.old_mode.startswith("100") and self.new_mode.startswith("100")


@dataclass
class UpdatePlan:
    """What an update does to the work tree (the index always follows upstream)."""

    write: list[str] = field(default_factory=list)  # upstream's version goes here
    restore: list[str] = field(default_factory=list)  # pulled files the user deleted: back
    remove: list[str] = field(default_factory=list)  # upstream deleted, user did not touch
    merge: list[str] = field(default_factory=list)  # both edited a text file
    keep: list[str] = field(default_factory=list)  # the user's version wins
    aside: list[str] = field(default_factory=list)  # the user's entry yields its place
    index_only: list[str] = field(default_factory=list)  # outside the sparse cone


def plan_update(
    upstream: dict[str, Change],
    local: dict[str, str],
    deleted_elsewhere: set[str],
    cone: list[str] | None,
) -> UpdatePlan:
    """Apply SPEC §5 to every path upstream changed; ``local`` gives each one's state
    (absent = untouched); ``deleted_elsewhere`` are pulled files the user deleted that
    upstream did not change."""
    plan = UpdatePlan()
    for path, up in upstream.items():
        if up.gitlink:  # submodule commits: ``git submodule update`` moves them
            continue
        if not in_cone(path, cone):
            plan.index_only.append(path)
            continue
        state = local.get(path, UNTOUCHED)
        if up.status == "D":
            if state == UNTOUCHED:
                plan.remove.append(path)
            elif state == EDITED:
                plan.keep.append(path)  # stays, untracked from now on
            continue  # missing already, or the user's folder stays
        if state in (UNTOUCHED, UPSTREAM, MISSING):
            plan.write.append(path)
        elif state == REPLACED:
            plan.aside.append(path)
            plan.write.append(path)
        elif up.status == "M" and up.text_like:
            plan.merge.append(path)
        else:
            plan.keep.append(path)
    plan.restore = sorted(path for path in deleted_elsewhere if path not in upstream)
    return plan


def entry_kind(path: Path) -> str | None:
    """``file``, ``link``, ``dir`` or ``other`` for what is at ``path``; None when nothing is
    (also when a parent is not a folder)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "other"


def clear_the_way(root: Path, path: str, needed: bool, moved: dict[str, str]) -> bool:
    """Make room for git to write ``path``: a user's file or link where a folder of the path
    must be, or a folder where the file must be, is moved aside (into ``moved``) when upstream
    needs the place; when it does not (a restore), the user's entry stays and False says to
    skip the write. Never writes through a link."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        prefix = "/".join(parts[:depth])
        kind = entry_kind(root / prefix)
        if kind is None:
            return True  # nothing further down can be in the way
        if kind != "dir":
            if not needed:
                return False
            moved[prefix] = move_aside(root / prefix, root)
            return True
    if entry_kind(root / path) in ("dir", "other"):
        if not needed:
            return False
        moved[path] = move_aside(root / path, root)
    return True

"""Carrying out an update in the work tree so that a kill at any moment leaves every path either
as it was or as upstream has it — never half of a file, never a file of ours that the next pull
could take for the user's.

- Files are written from git's index into a staging folder under ``.git/ipy-storage/``
  (``git checkout-index --prefix``: git's filters, links, modes and a partial clone's lazy
  fetch included), then each is renamed into place. A kill leaves partial files only in the
  staging folder, which the next write empties.
- Before a write, one obstruction check (``clear_the_way``): a user's file or link where a folder
  of the path must be, or a folder where the file must be, is moved aside when upstream needs the
  place; when it does not (a restore), the user's entry stays and the write is skipped. When a
  user's file standing for a whole folder moves aside, the folder's other pulled files come back
  with it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

from ..destination import move_aside
from .checkout import Checkout
from .prefetch import fetch_contents
from .runner import GitRunner
from .update_plan import NO_OBJECT, NONE, Change

STAGING = "staging"


def entry_kind(root: Path, path: str) -> str | None:
    """``file``, ``link``, ``dir`` or ``other`` for what is at ``path`` in the work tree; None
    when nothing is — also when a folder above it is not a real folder (a link there is never
    followed: it may point anywhere, even at itself)."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        if _kind(root / "/".join(parts[:depth])) != "dir":
            return None
    return _kind(root / path)


def _kind(path: Path) -> str | None:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "other"


def clear_the_way(root: Path, path: str, needed: bool, moved: dict[str, str]) -> bool:
    """Make room for ``path``: whatever is not a folder where one of its folders must be, or a
    folder where the file must be, moves aside (into ``moved``) when upstream ``needed`` the
    place; when it does not, the entry stays and False says to skip the write. A folder with
    no file in it holds nothing of the user's: it is removed, not moved."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        prefix = "/".join(parts[:depth])
        kind = _kind(root / prefix)
        if kind is None:
            return True  # nothing further down can be in the way
        if kind != "dir":
            if not needed:
                return False
            moved[prefix] = move_aside(root / prefix, root)
            return True
    kind = _kind(root / path)
    if kind == "dir" and _holds_no_file(root / path):
        shutil.rmtree(root / path)
    elif kind in ("dir", "other"):
        if not needed:
            return False
        moved[path] = move_aside(root / path, root)
    return True


def _holds_no_file(folder: Path) -> bool:
    return all(not files for _folder, _dirs, files in os.walk(folder))


class Placer:
    """Writes into one checkout's work tree; ``moved`` collects the user's entries it moved
    aside (the result's ``moved_aside``)."""

    def __init__(self, runner: GitRunner, checkout: Checkout) -> None:
        self.runner = runner
        self.root = checkout.root
        self.staging = checkout.bookkeeping / STAGING
        self.moved: dict[str, str] = {}
        self.occupied: list[str] = []

    def set_index(self, diff: dict[str, Change], entering: list[str]) -> None:
        """Make the index hold the new commit's version of every changed path, the entries
        coming into the cone marked as such."""
        self.runner.run(
            "update-index", "-z", "--index-info", cwd=self.root, input=_index_lines(diff)
        )
        self.mark_outside(entering, outside=False)

    def hide(self, paths: list[str]) -> None:
        """Entries outside the cone that nothing stands for in the work tree leave it in git's
        eyes too. A user's file kept there is left to git, which keeps a changed file; marked,
        git would take it for one of its own absent files (``occupied`` lists them, so their
        folders are watched until the user's file goes)."""
        absent = [path for path in paths if entry_kind(self.root, path) is None]
        self.occupied += [path for path in paths if path not in absent]
        self.mark_outside(absent)

    def mark_outside(self, paths: list[str], outside: bool = True) -> None:
        """Set (or clear) git's skip-worktree bit: an entry outside the sparse cone."""
        if paths:
            flag = "--skip-worktree" if outside else "--no-skip-worktree"
            self.runner.run(
                "update-index", "-z", flag, "--stdin", cwd=self.root, input=_nul_list(paths)
            )

    def remove(self, paths: list[str]) -> list[str]:
        """Delete pulled files upstream deleted (and the folders they leave empty)."""
        return [path for path in paths if _remove_file(self.root, path)]

    def move_aside(self, paths: list[str]) -> None:
        """The user's entries where upstream's files go: moved aside (a folder with no file
        in it is just removed)."""
        for path in paths:
            target, kind = self.root / path, entry_kind(self.root, path)
            if kind == "dir" and _holds_no_file(target):
                shutil.rmtree(target)
            elif kind is not None:
                self.moved[path] = move_aside(target, self.root)

    def fetch(self, blobs: set[str]) -> None:
        """New contents, fetched together (a partial clone lacks them) before they are written
        or merged."""
        fetch_contents(self.runner, self.root, blobs)

    def write(self, paths: list[str], needed: bool) -> list[str]:
        """Write ``paths`` as the index has them, each in one rename; returns those written
        (without ``needed``, a path the user's entry stands in the way of is skipped)."""
        placed = [path for path in paths if clear_the_way(self.root, path, needed, self.moved)]
        if not placed:
            return []
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.runner.run(
            "checkout-index",
            "-f",
            "-z",
            "--stdin",
            f"--prefix={self.staging}/",
            cwd=self.root,
            input=_nul_list(placed),
            network=True,
            action="Checking out files of",
        )
        for path in placed:
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            _rename(self.staging / path, target)
        shutil.rmtree(self.staging, ignore_errors=True)
        return placed

    def restore_moved_folders(self, cone_filter) -> list[str]:
        """Pulled files inside a folder that a user's file stood for: once that file moved aside,
        the folder is upstream's again, whole."""
        folders = [f":(literal){path}/" for path in self.moved]
        if not folders:
            return []
        output = self.runner.run("ls-files", "--deleted", "-z", "--", *folders, cwd=self.root)
        missing = [p for p in os.fsdecode(output.stdout).split("\0") if p and cone_filter(p)]
        return self.write(sorted(set(missing)), needed=False)

    def follow_modes(self, upstream: dict[str, Change], paths: list[str]) -> None:
        """Upstream's executable bit on files that keep the user's content (merged or kept)."""
        for path in paths:
            change = upstream[path]
            if change.old_mode == change.new_mode or not change.text_like:
                continue
            target = self.root / path
            if entry_kind(self.root, path) == "file":
                mode = os.lstat(target).st_mode
                if change.new_mode == "100755":
                    target.chmod(stat.S_IMODE(mode) | (mode & 0o444) >> 2)
                else:
                    target.chmod(stat.S_IMODE(mode) & ~0o111)


def _rename(staged: Path, target: Path) -> None:
    """Move a staged file into place in one rename (through a hidden name beside it when the
    git directory is on another file system)."""
    try:
        os.replace(staged, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        beside = target.with_name(f".{target.name}.ipy-storage-new")
        shutil.move(staged, beside)
        os.replace(beside, target)


def _remove_file(root: Path, path: str) -> bool:
    """Delete a pulled file upstream deleted, then the folders that left empty."""
    if entry_kind(root, path) not in ("file", "link"):
        return False
    target = root / path
    target.unlink()
    folder = target.parent
    while folder != root:
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent
    return True


def _index_lines(changes: dict[str, Change]) -> bytes:
    """``--index-info`` input setting each path to upstream's new version; removals first (a
    folder may become a file)."""
    removals, entries = [], []
    for path, change in changes.items():
        if change.new_mode == NONE:
            removals.append(f"0 {NO_OBJECT}\t".encode() + os.fsencode(path) + b"\0")
        else:
            entries.append(
                f"{change.new_mode} {change.new_blob}\t".encode() + os.fsencode(path) + b"\0"
            )
    return b"".join(removals + entries)


def _nul_list(paths: list[str]) -> bytes:
    return b"".join(os.fsencode(path) + b"\0" for path in paths)

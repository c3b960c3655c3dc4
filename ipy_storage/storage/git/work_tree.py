"""Moving a checkout from one upstream commit to the next while keeping the user's work (§5).

``apply_update`` looks at the paths upstream changed and nowhere else: their content in the
work tree (hashed as git would; for a large change, only those ``git diff-files`` /
``diff-index`` say differ), plans with ``keep_work``, then makes the index follow upstream (``update-index --index-info``)
and writes what the plan says (``checkout-index``). Every step can run again: a pull killed
anywhere in it is finished by the next one from the journal (old and new commit), which finds
the paths already written holding upstream's version and treats them as untouched.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from ..destination import move_aside
from ..result import PullResult
from .checkout import Checkout
from .keep_work import (
    EDITED,
    MISSING,
    REPLACED,
    UPSTREAM,
    Change,
    UpdatePlan,
    clear_the_way,
    entry_kind,
    plan_update,
)
from .merge import merge_edits
from .runner import GitRunner
from .tracked_dirs import Changes, direct_children_pathspecs

# Up to this many paths, reading them beats starting git; above it, git's pathspec matching
# (linear in the number of patterns, per index entry) beats pathspecs.
PATHSPEC_LIMIT = 256
_NO_OBJECT = "0" * 40


def parse_raw(output: bytes) -> dict[str, Change]:
    """``--raw -z`` output of diff-tree / diff-files / diff-index as ``{path: Change}``."""
    changes: dict[str, Change] = {}
    fields = output.split(b"\0")
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if meta.startswith(b":"):
            old_mode, new_mode, old_blob, new_blob, status = os.fsdecode(meta[1:]).split(" ")
            changes[os.fsdecode(path)] = Change(status[0], old_mode, new_mode, old_blob, new_blob)
    return changes


def upstream_changes(runner: GitRunner, root: Path, old: str, new: str) -> dict[str, Change] | None:
    """What changed between two commits; None when ``old`` is not in the repository any more."""
    done = runner.run(
        "diff-tree",
        "-r",
        "-z",
        "--raw",
        "--no-renames",
        "--no-abbrev",
        old,
        new,
        cwd=root,
        check=False,
    )
    return parse_raw(done.stdout) if done.returncode == 0 else None


def apply_update(
    runner: GitRunner,
    checkout: Checkout,
    old: str,
    upstream: dict[str, Change],
    cone: list[str] | None,
    changes: Changes,
    result: PullResult,
) -> None:
    """Move the work tree and index from ``old`` by ``upstream``'s changes."""
    root = checkout.root
    local = survey(runner, root, old, upstream)
    deleted = deleted_files(runner, root, changes)
    plan = plan_update(upstream, local, deleted, cone)
    _set_index(runner, root, upstream, plan.index_only)
    removed = [path for path in plan.remove if _remove_file(root, path)]
    moved: dict[str, str] = {}
    for path in plan.aside:  # after the removals: a folder left with nothing of the user's is gone
        if os.path.lexists(root / path):
            moved[path] = move_aside(root / path, root)
    writes = [path for path in plan.write if clear_the_way(root, path, True, moved)]
    restores = [path for path in plan.restore if clear_the_way(root, path, False, moved)]
    check_out(runner, root, writes + restores)
    merged, conflicted = merge_edits(
        runner, root, checkout.bookkeeping / "merge", upstream, plan.merge, result
    )
    reappeared = {p for p in writes if upstream[p].status == "A" or local.get(p) == MISSING}
    _report(result, plan, writes, restores, reappeared, removed, merged, conflicted, moved)


def restore_deleted(runner: GitRunner, root: Path, changes: Changes, result: PullResult) -> None:
    """§5 row 4 on a pull with nothing new upstream: pulled files the user deleted come back,
    unless something of the user's now stands where they were (that stays)."""
    deleted = deleted_files(runner, root, changes)
    restores = [path for path in sorted(deleted) if clear_the_way(root, path, False, {})]
    check_out(runner, root, restores)
    result.added.extend(restores)


def deleted_files(runner: GitRunner, root: Path, changes: Changes) -> set[str]:
    """Pulled files missing from the work tree: those the snapshot found, and those git finds
    among the direct children of the folders it could not check (every file when None)."""
    folders = changes.ask_git
    if folders is not None and not folders:
        return set(changes.missing)
    args = ["ls-files", "--deleted", "-z"]
    wanted = None if folders is None else set(folders)
    if folders is not None and len(folders) <= PATHSPEC_LIMIT:
        args += ["--", *direct_children_pathspecs(folders)]
        wanted = None
    found = _paths(runner.run(*args, cwd=root).stdout)
    if wanted is not None:
        found = [path for path in found if os.path.dirname(path) in wanted]
    return changes.missing | set(found)


def survey(runner: GitRunner, root: Path, old: str, upstream: dict[str, Change]) -> dict[str, str]:
    """The state of each path upstream changed (absent from the result = untouched), judged by
    content: a file holding the old commit's version is untouched, one holding the new version
    is upstream's already, anything else is the user's."""
    local: dict[str, str] = {}
    for path in _candidates(runner, root, old, upstream):
        up, target = upstream[path], root / path
        kind = entry_kind(target)
        if up.status == "A":
            if kind is not None:
                local[path] = UPSTREAM if holds(target, up.new_blob) else REPLACED
        elif kind is None:
            local[path] = MISSING
        elif kind in ("dir", "other"):
            local[path] = REPLACED
        elif holds(target, up.old_blob):
            continue
        elif up.status != "D" and holds(target, up.new_blob):
            local[path] = UPSTREAM
        else:
            local[path] = EDITED
    return local


def _candidates(runner: GitRunner, root: Path, old: str, upstream: dict[str, Change]) -> list[str]:
    """The paths to look at: every one upstream changed when they are few (reading them is
    cheaper than starting git); else those git says differ from ``old`` in the index (staged,
    committed, or set by a killed update) or in the work tree."""
    paths = [path for path, up in upstream.items() if not up.gitlink]
    if len(paths) <= PATHSPEC_LIMIT:
        return paths
    staged = runner.start("diff-index", "--cached", "--raw", "-z", "--no-abbrev", old, cwd=root)
    dirty = parse_raw(runner.run("diff-files", "--raw", "-z", cwd=root).stdout)
    differ = set(dirty) | set(parse_raw(runner.finish(staged).stdout))
    return [p for p in paths if p in differ or upstream[p].status == "A"]


def holds(path: Path, blob: str) -> bool:
    """Whether the file (or link) at ``path`` has exactly the content of git object ``blob``."""
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            content = os.fsencode(os.readlink(path))
        elif stat.S_ISREG(mode):
            content = path.read_bytes()
        else:
            return False
    except OSError:
        return False
    digest = hashlib.sha1 if len(blob) == 40 else hashlib.sha256
    return digest(b"blob %d\0" % len(content) + content).hexdigest() == blob


def check_out(runner: GitRunner, root: Path, paths: list[str]) -> None:
    """Write ``paths`` from the index (blobs of a partial clone are fetched on the way)."""
    if paths:
        runner.run(
            "checkout-index",
            "-f",
            "-z",
            "--stdin",
            cwd=root,
            input=_nul_list(paths),
            network=True,
            action="Checking out files of",
        )


def _set_index(
    runner: GitRunner, root: Path, upstream: dict[str, Change], outside: list[str]
) -> None:
    runner.run("update-index", "-z", "--index-info", cwd=root, input=_index_lines(upstream))
    if outside:  # entries outside the sparse cone stay out of the work tree
        runner.run(
            "update-index", "-z", "--skip-worktree", "--stdin", cwd=root, input=_nul_list(outside)
        )


def _index_lines(changes: dict[str, Change]) -> bytes:
    """``--index-info`` input setting each path to upstream's new version; removals first (a
    folder may become a file)."""
    removals, entries = [], []
    for path, change in changes.items():
        if change.new_mode == "000000":
            removals.append(f"0 {_NO_OBJECT}\t".encode() + os.fsencode(path) + b"\0")
        else:
            entries.append(
                f"{change.new_mode} {change.new_blob}\t".encode() + os.fsencode(path) + b"\0"
            )
    return b"".join(removals + entries)


def _remove_file(root: Path, path: str) -> bool:
    """Delete a pulled file upstream deleted, then the folders that left empty."""
    target = root / path
    if entry_kind(target) not in ("file", "link"):
        return False
    target.unlink()
    folder = target.parent
    while folder != root:
        try:
            folder.rmdir()
        except OSError:
            break
        folder = folder.parent
    return True


def _report(
    result: PullResult,
    plan: UpdatePlan,
    writes: list[str],
    restores: list[str],
    reappeared: set[str],
    removed: list[str],
    merged: list[str],
    conflicted: list[str],
    moved: dict[str, str],
) -> None:
    """Upstream's new files and the user's deleted ones that came back are ``added``; upstream's
    changes are ``modified`` (also where the user's folder had to move aside for them)."""
    moved_folders = tuple(f"{path}/" for path in moved)
    result.added += [path for path in writes if path in reappeared] + restores
    result.modified += [path for path in writes if path not in reappeared]
    result.deleted += removed
    result.merged += merged
    result.kept_local += [
        path for path in plan.keep + conflicted if not path.startswith(moved_folders)
    ]
    result.moved_aside.update(moved)


def _paths(output: bytes) -> list[str]:
    return [os.fsdecode(item) for item in output.split(b"\0") if item]


def _nul_list(paths: list[str]) -> bytes:
    return b"".join(os.fsencode(path) + b"\0" for path in paths)

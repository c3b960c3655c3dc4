"""Moving a checkout from one upstream commit to the next while keeping the user's work (§5).

``apply_update`` looks at the paths upstream changed and nowhere else: their state in the work
tree (``git diff-files`` limited to them, a content hash where the stat is not conclusive),
plans with ``keep_work``, then makes the index follow upstream (``update-index --index-info``)
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
from .tracked_dirs import direct_children_pathspecs

# Above this many paths a pathspec costs git more than looking at every file (its matching is
# linear in the number of patterns, per index entry).
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


def upstream_changes(runner: GitRunner, root: Path, old: str, new: str) -> dict[str, Change]:
    output = runner.run(
        "diff-tree", "-r", "-z", "--raw", "--no-renames", "--no-abbrev", old, new, cwd=root
    ).stdout
    return parse_raw(output)


def apply_update(
    runner: GitRunner,
    checkout: Checkout,
    old: str,
    new: str,
    cone: list[str] | None,
    changed_folders: list[str] | None,
    result: PullResult,
) -> dict[str, Change]:
    """Move the work tree and index from ``old`` to ``new``; returns upstream's changes."""
    root = checkout.root
    runner.report("applying", message=f"Applying {new[:10]}")
    upstream = upstream_changes(runner, root, old, new)
    _unstage(runner, root, old, upstream)
    local = survey(runner, root, upstream)
    deleted = deleted_files(runner, root, changed_folders)
    plan = plan_update(upstream, local, deleted, cone)
    _set_index(runner, root, upstream, plan.index_only)
    moved: dict[str, str] = {}
    for path in plan.aside:
        if os.path.lexists(root / path):
            moved[path] = move_aside(root / path, root)
    removed = [path for path in plan.remove if _remove_file(root, path)]
    writes = [path for path in plan.write if clear_the_way(root, path, True, moved)]
    restores = [path for path in plan.restore if clear_the_way(root, path, False, moved)]
    existed = {path for path in writes if entry_kind(root / path) in ("file", "link")}
    check_out(runner, root, writes + restores)
    merged, conflicted = merge_edits(
        runner, root, checkout.bookkeeping / "merge", upstream, plan.merge
    )
    _report(result, plan, writes, restores, existed, removed, merged, conflicted, moved)
    return upstream


def restore_deleted(
    runner: GitRunner, root: Path, changed_folders: list[str] | None, result: PullResult
) -> None:
    """§5 row 4 on a pull with nothing new upstream: pulled files the user deleted come back,
    unless something of the user's now stands where they were (that stays)."""
    deleted = deleted_files(runner, root, changed_folders)
    restores = [path for path in sorted(deleted) if clear_the_way(root, path, False, {})]
    check_out(runner, root, restores)
    result.added.extend(restores)


def deleted_files(runner: GitRunner, root: Path, folders: list[str] | None) -> set[str]:
    """Pulled files missing from the work tree: among the direct children of ``folders``
    (every file when None)."""
    if folders is not None and not folders:
        return set()
    args = ["ls-files", "--deleted", "-z"]
    if folders is not None and len(folders) <= PATHSPEC_LIMIT:
        args += ["--", *direct_children_pathspecs(folders)]
        wanted = None
    else:
        wanted = None if folders is None else set(folders)
    found = _paths(runner.run(*args, cwd=root).stdout)
    if wanted is not None:
        found = [path for path in found if os.path.dirname(path) in wanted]
    return set(found)


def survey(runner: GitRunner, root: Path, upstream: dict[str, Change]) -> dict[str, str]:
    """The state of each path upstream changed (absent from the result = untouched)."""
    tracked = [p for p, up in upstream.items() if up.status != "A" and not up.gitlink]
    dirty = _dirty(runner, root, tracked) if tracked else {}
    local: dict[str, str] = {}
    for path, up in upstream.items():
        if up.gitlink:
            continue
        target = root / path
        if up.status == "A":
            if entry_kind(target) is not None:
                local[path] = UPSTREAM if holds(target, up.new_blob) else REPLACED
            continue
        mine = dirty.get(path)
        if mine is None or (mine.status != "D" and holds(target, up.old_blob)):
            continue  # as pulled (only its stat changed)
        if mine.status == "D":
            local[path] = MISSING if entry_kind(target) is None else REPLACED
        elif up.status != "D" and holds(target, up.new_blob):
            local[path] = UPSTREAM
        else:
            local[path] = EDITED
    return local


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


def _dirty(runner: GitRunner, root: Path, paths: list[str]) -> dict[str, Change]:
    args = ["diff-files", "--raw", "-z", "--ignore-submodules=dirty"]
    if len(paths) <= PATHSPEC_LIMIT:
        args += ["--", *(":(literal)" + path for path in paths)]
    return parse_raw(runner.run(*args, cwd=root).stdout)


def _unstage(runner: GitRunner, root: Path, old: str, upstream: dict[str, Change]) -> None:
    """Index entries of upstream's paths that differ from ``old`` (the user staged or committed
    them, or a killed update set them already) go back to ``old``: their content stays in the
    work tree, where the survey sees it."""
    staged = parse_raw(
        runner.run("diff-index", "--cached", "--raw", "-z", "--no-abbrev", old, cwd=root).stdout
    )
    back = {path: upstream[path] for path in staged if path in upstream}
    if back:
        runner.run("update-index", "-z", "--index-info", cwd=root, input=_index_lines(back, "old"))


def _set_index(
    runner: GitRunner, root: Path, upstream: dict[str, Change], outside: list[str]
) -> None:
    runner.run("update-index", "-z", "--index-info", cwd=root, input=_index_lines(upstream, "new"))
    if outside:  # entries outside the sparse cone stay out of the work tree
        runner.run(
            "update-index", "-z", "--skip-worktree", "--stdin", cwd=root, input=_nul_list(outside)
        )


def _index_lines(changes: dict[str, Change], side: str) -> bytes:
    """``--index-info`` input setting each path to one side of its change; removals first (a
    folder may become a file)."""
    removals, entries = [], []
    for path, change in changes.items():
        mode = change.old_mode if side == "old" else change.new_mode
        blob = change.old_blob if side == "old" else change.new_blob
        if mode == "000000":
            removals.append(f"0 {_NO_OBJECT}\t".encode() + os.fsencode(path) + b"\0")
        else:
            entries.append(f"{mode} {blob}\t".encode() + os.fsencode(path) + b"\0")
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
    existed: set[str],
    removed: list[str],
    merged: list[str],
    conflicted: list[str],
    moved: dict[str, str],
) -> None:
    moved_folders = tuple(f"{path}/" for path in moved)
    result.added += [path for path in writes if path not in existed] + restores
    result.modified += [path for path in writes if path in existed]
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

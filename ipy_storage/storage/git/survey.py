"""What the work tree holds where upstream changed something, judged by content and never by
what git's index says about the work tree (a killed update leaves the index ahead of the files).

``survey`` looks at the paths upstream changed and nowhere else: a file holding the old commit's
version is untouched, one holding the new version is upstream's already (a killed pull placed
it), anything else is the user's. For a large change only the paths that ``git diff-files`` /
``diff-index`` say differ are read. ``deleted_files`` finds pulled files the user deleted, asking
git only about the folders the snapshot could not vouch for.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from .placement import entry_kind
from .runner import GitRunner
from .tracked_dirs import Changes, direct_children_pathspecs
from .update_plan import EDITED, MISSING, REPLACED, UPSTREAM, Change

# Up to this many paths, reading them beats starting git; above it, git's pathspec matching
# (linear in the number of patterns, per index entry) beats pathspecs.
PATHSPEC_LIMIT = 256


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


def deleted_files(runner: GitRunner, root: Path, changes: Changes) -> set[str]:
    """Pulled files missing from the work tree: those the snapshot found, and those git finds
    among the direct children of the folders it could not check, and anywhere below the folders
    that are not folders any more (every file when there is no snapshot)."""
    folders = changes.ask_git
    if folders is not None and not folders and not changes.ask_below:
        return set(changes.missing)
    args = ["ls-files", "--deleted", "-z"]
    wanted = None if folders is None else set(folders)
    below = [f":(literal){folder}/" for folder in changes.ask_below]
    if folders is not None and len(folders) + len(below) <= PATHSPEC_LIMIT:
        args += ["--", *direct_children_pathspecs(folders), *below]
        wanted = None
    found = _paths(runner.run(*args, cwd=root).stdout)
    if wanted is not None:
        prefixes = tuple(f"{folder}/" for folder in changes.ask_below)
        found = [p for p in found if os.path.dirname(p) in wanted or p.startswith(prefixes)]
    return changes.missing | set(found)


def survey(runner: GitRunner, root: Path, old: str, upstream: dict[str, Change]) -> dict[str, str]:
    """The state of each path upstream changed (absent from the result = untouched), judged by
    content: a file holding the old commit's version is untouched, one holding the new version
    is upstream's already, anything else is the user's."""
    local: dict[str, str] = {}
    for path in _candidates(runner, root, old, upstream):
        up, target = upstream[path], root / path
        kind = entry_kind(root, path)
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


def _paths(output: bytes) -> list[str]:
    return [os.fsdecode(item) for item in output.split(b"\0") if item]

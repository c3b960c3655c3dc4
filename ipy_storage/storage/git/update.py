"""Later pulls of an existing checkout: finish an update a killed pull left, check upstream in one
round trip, and when it moved, fetch and apply the change as a transaction (journal first)."""

from __future__ import annotations

from ..result import PullResult
from .checkout import Checkout, head_commit
from .fetching import (
    FETCHED_REF,
    Tip,
    fetch_commit,
    fetch_tip,
    finish_check,
    start_check,
)
from .layout import change_cone, update_submodules, visible_files
from .runner import GitRunner
from .source import GitSource, normal_directories
from .tracked_dirs import Changes, FolderSnapshot, folders_of
from .work_tree import apply_update, restore_deleted, upstream_changes

UPSTREAM_REF = "refs/ipy-storage/upstream"


def update(runner: GitRunner, source: GitSource, checkout: Checkout, result: PullResult) -> None:
    """Bring an existing checkout to upstream's tip, keeping the user's work (SPEC §5)."""
    root = checkout.root
    journal = checkout.journal()
    if journal:  # a pull died while applying: finish that update first
        _apply(
            runner,
            source,
            checkout,
            journal["old"],
            journal["new"],
            None,
            Changes(ask_git=None),
            result,
        )
    old = checkout.upstream
    pending = None if source.commit_sha else start_check(runner, source, checkout)
    try:
        snapshot = FolderSnapshot(checkout.bookkeeping, root, old)
        changes = snapshot.changes()
    finally:
        tip = finish_check(runner, pending, source, checkout) if pending else None
    pinned_here = bool(source.commit_sha and old and old.startswith(source.commit_sha.lower()))
    cone = source.cone
    cone_changed = cone != normal_directories(checkout.directories)
    submodules_new = source.include_submodules and not checkout.state.get("submodules")
    upstream_moved = not pinned_here if tip is None else tip.sha != old  # no tip: a pin
    if old is not None and not upstream_moved and not cone_changed and not submodules_new:
        result.revision = old
        restore_deleted(runner, root, changes, result)
        if checkout.state.get("ref") != source.ref:  # an interrupted update recorded itself
            checkout.record(source, old)
        if changes.folders or changes.ask_git is None:
            _record_folders(runner, checkout, snapshot, changes, result)
        return
    if upstream_moved or old is None:
        new = fetch_commit(runner, source, root) if tip is None else fetch_tip(runner, root, tip)
    else:
        new = old
    if new != old:
        _apply(runner, source, checkout, old, new, tip, changes, result)
    else:
        restore_deleted(runner, root, changes, result)
    if cone_changed:
        change_cone(runner, root, cone, result)
    if source.include_submodules:
        update_submodules(runner, root)
    checkout.record(source, new)
    _record_folders(runner, checkout, snapshot, changes, result)
    result.revision = new


def _apply(
    runner: GitRunner,
    source: GitSource,
    checkout: Checkout,
    old: str | None,
    new: str,
    tip: Tip | None,
    changes: Changes,
    result: PullResult,
) -> None:
    """Move the checkout from ``old`` to ``new`` under a journal, then point the refs at it.
    Submodules count as not updated yet, so a failing submodule update is retried."""
    root = checkout.root
    runner.report("applying", message=f"Applying {new[:10]}")
    upstream = upstream_changes(runner, root, old, new) if old else None
    if old and upstream is not None:
        checkout.begin_update(old, new)
        cone = normal_directories(checkout.directories)
        apply_update(runner, checkout, old, upstream, cone, changes, result)
    else:  # nothing to compare with: keep every file there is, write the missing ones
        runner.run("read-tree", new, cwd=root, action="Updating")
        if checkout.directories:
            runner.run("sparse-checkout", "reapply", cwd=root, check=False)
        restore_deleted(runner, root, Changes(ask_git=None), result)
    _move_refs(runner, source, checkout, old, new, tip)
    checkout.record(source, new, submodules=False, directories=checkout.directories)
    checkout.end_update()


def _move_refs(
    runner: GitRunner,
    source: GitSource,
    checkout: Checkout,
    old: str | None,
    new: str,
    tip: Tip | None,
) -> None:
    """Point the branch (or a detached HEAD, for pins and tags) at ``new`` in one ``update-ref``
    transaction; a commit the user made on top of the old one stays reachable under a ref."""
    head = head_commit(runner, checkout.root, checkout.git_dir)
    commands = []
    if head and old and head not in (old, new):
        commands.append(f"update refs/ipy-storage/local-{head[:12]} {head}")
    branch = tip.ref if tip and tip.is_branch else None
    if source.commit_sha or (tip and not tip.is_branch):
        commands += ["option no-deref", f"update HEAD {new}"]
    elif branch:
        commands.append(f"update {branch} {new}")
    else:
        commands.append(f"update HEAD {new}")
    commands += [f"update {UPSTREAM_REF} {new}", f"delete {FETCHED_REF}"]
    runner.run(
        "update-ref",
        "--stdin",
        cwd=checkout.root,
        input="".join(c + "\n" for c in commands).encode(),
    )
    if branch and _symbolic_head(checkout) != branch:
        runner.run("symbolic-ref", "HEAD", branch, cwd=checkout.root)


def _symbolic_head(checkout: Checkout) -> str | None:
    try:
        head = (checkout.git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    return head[5:] if head.startswith("ref: ") else None


def _record_folders(
    runner: GitRunner,
    checkout: Checkout,
    snapshot: FolderSnapshot,
    changes: Changes,
    result: PullResult,
) -> None:
    """Watch from now on the folders that changed and those this pull wrote into (all of them,
    from git's list, when there was no snapshot to start from)."""
    if snapshot.usable:
        written = result.added + result.modified + result.merged + list(result.moved_aside)
        snapshot.refresh(changes.folders + sorted(folders_of(written)))
    else:
        snapshot.refresh(folders_of(visible_files(runner, checkout.root)))
    snapshot.save()

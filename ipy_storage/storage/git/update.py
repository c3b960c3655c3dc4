"""A later pull of an existing checkout, as a recipe of named steps (``Update.run``):

1. ``finish_interrupted`` — an update a killed pull left in the journal is applied first.
2. ``check_upstream`` — one ``git ls-remote`` (a single round trip), overlapped with the folder
   snapshot's look at which pulled files the user may have deleted.
3. Nothing new → ``restore_deleted`` and done. Otherwise ``fetch`` upstream's tip shallowly.
4. ``apply`` — ``survey`` the paths upstream changed, ``plan`` them by SPEC §5, write the journal,
   then ``place`` the plan (index, removals, moves aside, writes, merges) and ``move_refs``.
5. ``change_cone`` for other ``directories``, submodules, then ``record`` what was pulled.

Every step can run again: the next pull after a kill anywhere finishes to the same result.
"""

from __future__ import annotations

from pathlib import Path

from ..result import PullResult
from .checkout import Checkout, head_commit
from .fetching import FETCHED_REF, Tip, fetch_commit, fetch_tip, finish_check, start_check
from .layout import entering_and_leaving, set_cone, update_submodules, visible_files
from .merge import merge_edits
from .placement import Placer, entry_kind
from .runner import GitRunner
from .source import GitSource, in_cone, normal_directories
from .survey import deleted_files, holds, survey, upstream_changes
from .tracked_dirs import Changes, FolderSnapshot, folders_of
from .update_plan import MISSING, Change, UpdatePlan, plan_update

UPSTREAM_REF = "refs/ipy-storage/upstream"


class Update:
    """One update of one checkout: the runner, the source, the checkout and the result."""

    def __init__(
        self, runner: GitRunner, source: GitSource, checkout: Checkout, result: PullResult
    ) -> None:
        self.runner = runner
        self.source = source
        self.checkout = checkout
        self.result = result
        self.root = checkout.root
        self.placer = Placer(runner, checkout)
        self.changes = Changes(ask_git=None)
        self.snapshot: FolderSnapshot | None = None
        self.unrestored: set[str] = set()  # pulled files a user's entry keeps out

    def run(self) -> None:
        self.finish_interrupted()
        old = self.checkout.upstream
        tip = self.check_upstream()
        cone_changed = self.source.cone != self.checkout_cone
        if cone_changed:  # first, so that an update brings only what the new cone shows
            self.change_cone()
        new = self.fetch(tip) if self.upstream_moved(old, tip) else old
        if new != old:
            self.apply(old, new, tip)
        else:
            self.restore_deleted()
        submodules_new = self.source.include_submodules and not self.checkout.state.get(
            "submodules"
        )
        if new == old and not cone_changed and not submodules_new:
            if self.checkout.state.get("ref") != self.source.ref:
                self.checkout.record(self.source, old)  # an interrupted update recorded itself
            self.record_folders(only_if_changed=True)
        else:
            if self.source.include_submodules:
                update_submodules(self.runner, self.root)
            self.checkout.record(self.source, new)
            self.record_folders()
        self.result.revision = new
        _net(self.result)

    # -- the steps --------------------------------------------------------------------------
    def finish_interrupted(self) -> None:
        """A pull died while applying an update: apply it again from its journal (every path it
        already placed holds upstream's version, so it counts as untouched)."""
        journal = self.checkout.journal()
        if journal:
            self.apply(journal["old"], journal["new"], None)

    def check_upstream(self) -> Tip | None:
        """Upstream's tip in one round trip, while the snapshot finds deleted files."""
        pending = (
            None if self.source.commit_sha else start_check(self.runner, self.source, self.checkout)
        )
        try:
            self.snapshot = FolderSnapshot(
                self.checkout.bookkeeping, self.root, self.checkout.upstream
            )
            self.changes = self.snapshot.changes()
        finally:
            tip = (
                finish_check(self.runner, pending, self.source, self.checkout) if pending else None
            )
        return tip

    def upstream_moved(self, old: str | None, tip: Tip | None) -> bool:
        if self.source.commit_sha:
            return not (old and old.startswith(self.source.commit_sha.lower()))
        return tip is not None and tip.sha != old

    def fetch(self, tip: Tip | None) -> str:
        if self.source.commit_sha or tip is None:
            return fetch_commit(self.runner, self.source, self.root)
        return fetch_tip(self.runner, self.root, tip)

    def restore_deleted(self) -> None:
        """SPEC §5: pulled files the user deleted come back, unless something of the user's now
        stands where they were (that stays)."""
        found = deleted_files(self.runner, self.root, self.changes)
        deleted = sorted(p for p in found if in_cone(p, self.checkout_cone))
        restored = self.placer.write(deleted, needed=False)
        self.unrestored.update(set(deleted) - set(restored))
        self.result.added += restored

    def apply(self, old: str | None, new: str, tip: Tip | None) -> None:
        """Move the checkout from ``old`` to ``new`` under a journal, then point the refs."""
        self.runner.report("applying", message=f"Applying {new[:10]}")
        upstream = upstream_changes(self.runner, self.root, old, new) if old else None
        if upstream is None:
            self.apply_without_base(new)
        else:
            local = survey(self.runner, self.root, old, upstream)
            deleted = deleted_files(self.runner, self.root, self.changes)
            plan = plan_update(upstream, local, deleted, self.checkout_cone)
            self.checkout.begin_update(old, new)
            self.place(plan, upstream, local)
        self.move_refs(old, new, tip)
        self.checkout.record(
            self.source, new, submodules=False, directories=self.checkout.directories
        )
        self.checkout.end_update()

    def apply_without_base(self, new: str) -> None:
        """Nothing to compare with (the old commit is gone): keep every file there is and write
        the missing ones."""
        self.runner.run("read-tree", new, cwd=self.root, action="Updating")
        if self.checkout.directories:
            self.runner.run("sparse-checkout", "reapply", cwd=self.root, check=False)
        self.changes = Changes(ask_git=None)
        self.restore_deleted()

    def place(self, plan: UpdatePlan, upstream: dict[str, Change], local: dict[str, str]) -> None:
        """Carry the plan out: the index first, then removals (a folder left with nothing of the
        user's goes), moves aside, writes, merges — and report it all."""
        placer, result = self.placer, self.result
        placer.set_index(upstream, plan.index_only)
        result.deleted += placer.remove(plan.remove)
        placer.move_aside(plan.aside)
        writes = placer.write(plan.write, needed=True)
        restores = placer.write(plan.restore, needed=False)
        self.unrestored.update(set(plan.restore) - set(restores))
        restores += placer.restore_moved_folders(lambda p: in_cone(p, self.checkout_cone))
        merged, conflicted = merge_edits(
            self.runner, self.root, self.checkout.bookkeeping / "merge", upstream, plan.merge
        )
        placer.follow_modes(upstream, merged + conflicted + plan.keep)
        added = {p for p in writes if upstream[p].status == "A" or local.get(p) == MISSING}
        result.added += [p for p in writes if p in added] + restores
        result.modified += [p for p in writes if p not in added and p not in result.added]
        result.merged += merged
        result.kept_local += [p for p in plan.keep + conflicted if not _moved(p, placer.moved)]
        result.moved_aside.update(placer.moved)

    def move_refs(self, old: str | None, new: str, tip: Tip | None) -> None:
        """Point the branch (or a detached HEAD, for pins and tags) at ``new`` in one
        ``update-ref`` transaction; a commit the user made on top stays under a ref."""
        head = head_commit(self.runner, self.root, self.checkout.git_dir)
        commands = []
        if head and old and head not in (old, new):
            commands.append(f"update refs/ipy-storage/local-{head[:12]} {head}")
        branch = tip.ref if tip and tip.is_branch else None
        if self.source.commit_sha or (tip and not tip.is_branch):
            commands += ["option no-deref", f"update HEAD {new}"]
        else:
            commands.append(f"update {branch or 'HEAD'} {new}")
        commands += [f"update {UPSTREAM_REF} {new}", f"delete {FETCHED_REF}"]
        lines = "".join(c + "\n" for c in commands).encode()
        self.runner.run("update-ref", "--stdin", cwd=self.root, input=lines)
        if branch and self.checkout.symbolic_head() != branch:
            self.runner.run("symbolic-ref", "HEAD", branch, cwd=self.root)

    def change_cone(self) -> None:
        """Apply another ``directories`` list. Files entering the cone are placed as upstream
        adds them (a user's file there moves aside); git then removes the leaving ones it knows
        as unchanged and keeps those the user changed. Running it again finishes a killed one."""
        self.runner.report("sparse", message="Changing the checked-out directories")
        cone = self.source.cone
        entering, leaving = entering_and_leaving(self.runner, self.root, self.checkout_cone, cone)
        mine = [p for p, blob in entering.items() if _users(self.root, p, blob)]
        self.placer.move_aside(mine)  # the user's files where the new cone brings upstream's
        self.placer.mark_outside(list(entering), outside=False)
        self.result.added += self.placer.write(sorted(entering), needed=True)
        self.result.moved_aside.update(self.placer.moved)
        set_cone(self.runner, self.root, cone)
        still_there = set(visible_files(self.runner, self.root))
        self.result.deleted += [path for path in leaving if path not in still_there]
        # git leaves the entries of files the user deleted: out of the cone with the rest
        gone = [p for p in leaving if p in still_there and entry_kind(self.root, p) is None]
        self.placer.mark_outside(gone)
        self.checkout.remember(directories=cone)

    def record_folders(self, only_if_changed: bool = False) -> None:
        """Watch from now on the folders that changed and those this pull wrote into (all of
        them, from git's list, when there was no snapshot to start from)."""
        snapshot, changes, result = self.snapshot, self.changes, self.result
        if snapshot is None:
            return
        if only_if_changed and not (changes.folders or changes.ask_git is None):
            return
        missing = [p for p in self.unrestored if entry_kind(self.root, p) is None]
        if snapshot.usable:
            written = result.added + result.modified + result.merged + list(result.moved_aside)
            snapshot.refresh(changes.folders + sorted(folders_of(written)), missing)
        else:
            snapshot.refresh(folders_of(visible_files(self.runner, self.root)), missing)
        snapshot.save()

    @property
    def checkout_cone(self) -> list[str] | None:
        return normal_directories(self.checkout.directories)


def _moved(path: str, moved: dict[str, str]) -> bool:
    """Whether ``path`` went aside, itself or with a folder above it."""
    return path in moved or any(path.startswith(f"{folder}/") for folder in moved)


def _net(result: PullResult) -> None:
    """Report what changed since before the pull: a file the cone change brought and the update
    then deleted was never there for the user; one written then deleted counts as deleted."""
    deleted = set(result.deleted)
    born = deleted & set(result.added)
    result.added = [p for p in result.added if p not in born]
    result.deleted = [p for p in result.deleted if p not in born]
    result.modified = [p for p in result.modified if p not in deleted]


def _users(root: Path, path: str, blob: str) -> bool:
    """Whether something other than upstream's ``blob`` stands at ``path`` (the user's)."""
    kind = entry_kind(root, path)
    return kind is not None and not (kind in ("file", "link") and holds(root / path, blob))

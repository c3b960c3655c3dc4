"""A later pull of an existing checkout, as a recipe of named steps (``Update.run``):

1. ``finish_interrupted`` — an update a killed pull left in the journal is applied first.
2. ``check_upstream`` — one ``git ls-remote`` (a single round trip), overlapped with the folder
   snapshot's look at which pulled files the user may have deleted.
3. Nothing new, same ``directories`` → ``restore_deleted`` and done. Otherwise ``fetch``
   upstream's tip shallowly (when it moved).
4. ``apply`` — upstream's change as the user sees it (commits and cones together), ``survey``
   those paths, ``plan`` them by behaviour §5, write the journal, ``place`` the plan (index,
   removals, moves aside, writes, merges), then the new cone and ``move_refs``.
5. Submodules, then ``record`` what was pulled.

Every step can run again: the next pull after a kill anywhere finishes to the same result.
"""

from __future__ import annotations

from ..result import PullResult
from .checkout import Checkout, head_commit
from .fetching import FETCHED_REF, Tip, fetch_commit, fetch_tip, finish_check, start_check
from .layout import index_entries, set_cone, update_submodules, visible_files
from .merge import merge_edits
from .placement import Placer, entry_kind
from .runner import GitRunner
from .source import GitSource, in_cone, normal_directories
from .survey import deleted_files, survey, upstream_changes
from .tracked_dirs import Changes, FolderSnapshot, folders_of
from .update_plan import (
    GITLINK,
    MISSING,
    Change,
    Transition,
    UpdatePlan,
    as_the_user_sees,
    plan_update,
)

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
        old, was, will = self.checkout.upstream, self.checkout_cone, self.source.cone
        tip = self.check_upstream()
        new = self.fetch(tip) if old is None or self.upstream_moved(old, tip) else old
        if new != old or was != will:
            self.apply(old, new, tip, was, will)
        else:
            self.restore_deleted()
        submodules_new = self.source.include_submodules and not self.checkout.state.get(
            "submodules"
        )
        if new == old and was == will and not submodules_new:
            if self.checkout.state.get("ref") != self.source.ref:
                self.checkout.record(self.source, old)  # an interrupted update recorded itself
            self.record_folders(only_if_changed=True)
        else:
            if self.source.include_submodules:
                update_submodules(self.runner, self.root)
            self.checkout.record(self.source, new)
            self.record_folders()
        self.result.revision = new

    # -- the steps --------------------------------------------------------------------------
    def finish_interrupted(self) -> None:
        """A pull died while applying an update: apply it again from its journal (every path it
        already placed holds upstream's version, so it counts as untouched)."""
        journal = self.checkout.journal()
        if journal:
            cones = journal.get("cones") or [self.checkout_cone, self.checkout_cone]
            self.apply(journal["old"], journal["new"], None, *cones)

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

    def upstream_moved(self, old: str, tip: Tip | None) -> bool:
        if self.source.commit_sha:
            return not old.startswith(self.source.commit_sha.lower())
        return tip is not None and tip.sha != old

    def fetch(self, tip: Tip | None) -> str:
        if self.source.commit_sha or tip is None:
            return fetch_commit(self.runner, self.source, self.root)
        return fetch_tip(self.runner, self.root, tip)

    def restore_deleted(self) -> None:
        """behaviour §5: pulled files the user deleted come back, unless something of the user's now
        stands where they were (that stays)."""
        deleted = sorted(self.deleted_in_cone(self.checkout_cone))
        restored = self.placer.write(deleted, needed=False)
        self.unrestored.update(set(deleted) - set(restored))
        self.result.added += restored

    def deleted_in_cone(self, cone: list[str] | None) -> set[str]:
        """Pulled files missing from the cone; those missing outside it (a user's file that
        stood there is gone) leave the work tree in git's eyes too."""
        found = deleted_files(self.runner, self.root, self.changes)
        self.placer.hide(sorted(path for path in found if not in_cone(path, cone)))
        return {path for path in found if in_cone(path, cone)}

    def apply(
        self,
        old: str | None,
        new: str,
        tip: Tip | None,
        was: list[str] | None,
        will: list[str] | None,
    ) -> None:
        """Move the checkout from ``old`` in cone ``was`` to ``new`` in cone ``will`` under a
        journal, then point the refs."""
        self.runner.report("applying", message=f"Applying {new[:10]}")
        diff: dict[str, Change] | None = {}
        if old is None:
            diff = None
        elif old != new:
            diff = upstream_changes(self.runner, self.root, old, new)
        if old is None or diff is None:
            self.apply_without_base(new, will)
        else:
            unchanged = index_entries(self.runner, self.root) if was != will else {}
            seen = as_the_user_sees(diff, unchanged, was, will)
            local = survey(self.runner, self.root, old, seen.visible)
            deleted = {p for p in self.deleted_in_cone(will) if p not in seen.visible}
            plan = plan_update(seen.visible, local, deleted)
            self.checkout.begin_update(old, new, [was, will])
            self.place(plan, diff, seen, local, will)
            if was != will:
                self.change_cone(will)
        if new != old:
            self.move_refs(old, new, tip)
        self.checkout.record(self.source, new, submodules=False, directories=will)
        self.checkout.end_update()

    def apply_without_base(self, new: str, will: list[str] | None) -> None:
        """Nothing to compare with (the old commit is gone): keep every file there is and write
        the missing ones."""
        self.runner.run("read-tree", new, cwd=self.root, action="Updating")
        set_cone(self.runner, self.root, will)
        self.changes = Changes(ask_git=None)
        deleted = sorted(self.deleted_in_cone(will))
        entries = index_entries(self.runner, self.root)  # the new commit: none of it is here yet
        self.placer.fetch({entries[p][1] for p in deleted if entries[p][0] != GITLINK})
        self.result.added += self.placer.write(deleted, needed=False)

    def change_cone(self, will: list[str] | None) -> None:
        """Record the new cone with git. The files written by updates (outside git's view)
        get their stat data first, so git knows them unchanged and takes those leaving the cone
        away like any pulled file (it keeps the ones the user changed)."""
        self.runner.run("update-index", "-q", "--refresh", cwd=self.root, check=False)
        set_cone(self.runner, self.root, will)

    def place(
        self,
        plan: UpdatePlan,
        diff: dict[str, Change],
        seen: Transition,
        local: dict[str, str],
        will: list[str] | None,
    ) -> None:
        """Carry the plan out: the index first, then removals (a folder left with nothing of the
        user's goes), moves aside, writes, merges — and report it all."""
        placer, result, upstream = self.placer, self.result, seen.visible
        placer.set_index(diff, seen.entering)
        result.deleted += placer.remove(plan.remove)
        placer.move_aside(plan.aside)
        placer.fetch(
            {upstream[p].new_blob for p in plan.write + plan.merge if not upstream[p].gitlink}
        )
        writes = placer.write(plan.write, needed=True)
        restores = placer.write(plan.restore, needed=False)
        self.unrestored.update(set(plan.restore) - set(restores))
        restores += placer.restore_moved_folders(lambda p: in_cone(p, will))
        placer.hide(seen.hidden)
        scratch = self.checkout.bookkeeping / "merge"
        merged, conflicted = merge_edits(
            self.runner, self.root, scratch, upstream, plan.merge, result
        )
        placer.follow_modes(upstream, merged + conflicted + plan.keep)
        added = {p for p in writes if upstream[p].status == "A" or local.get(p) == MISSING}
        result.added += [p for p in writes if p in added] + restores
        result.modified += [p for p in writes if p not in added]
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
            written += self.placer.occupied
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

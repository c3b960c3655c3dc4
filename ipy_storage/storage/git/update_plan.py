"""behaviour §5 for a git update: what happens to each path upstream changed, given what the user
did to it, decided before anything is touched (``placement`` then carries the plan out).

The planner is pure: it sees upstream's changes (old → new commit) and the state of each of those
paths in the work tree, and says which to write, remove, merge, keep or move aside. A path that
already holds upstream's new version (an earlier, killed pull wrote it) counts as untouched, so
finishing a killed update gives the same result as an update that was never interrupted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import in_cone

NONE = "000000"  # the mode of a path a commit does not have
NO_OBJECT = "0" * 40
GITLINK = "160000"  # the mode of a submodule: a commit of another repository

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
        return GITLINK in (self.old_mode, self.new_mode)

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


@dataclass
class Transition:
    """Upstream's change as the work tree shows it: ``visible`` changes (a path a new cone
    brings is added, one it takes away is deleted, whatever the commits did), the entries to
    keep out of the work tree (``hidden``) and those coming into it (``entering``)."""

    visible: dict[str, Change] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)
    entering: list[str] = field(default_factory=list)


def as_the_user_sees(
    diff: dict[str, Change],
    unchanged: dict[str, tuple[str, str]],
    was: list[str] | None,
    will: list[str] | None,
) -> Transition:
    """From the commits' ``diff`` and the cones ``was`` → ``will`` (``unchanged``: the index's
    other entries, path → (mode, blob), needed only when the cone changes)."""
    seen = Transition()
    entries = [(p, c.old_mode, c.old_blob, c.new_mode, c.new_blob) for p, c in diff.items()]
    entries += [(p, m, b, m, b) for p, (m, b) in unchanged.items() if p not in diff]
    for path, old_mode, old_blob, new_mode, new_blob in entries:
        before = in_cone(path, was) and old_mode != NONE
        after = in_cone(path, will) and new_mode != NONE
        if before and after and path in diff:
            seen.visible[path] = diff[path]
        elif after and not before:
            seen.visible[path] = Change("A", NONE, new_mode, NO_OBJECT, new_blob)
            seen.entering.append(path)
        elif before and not after:
            seen.visible[path] = Change("D", old_mode, NONE, old_blob, NO_OBJECT)
        if new_mode != NONE and not in_cone(path, will):
            seen.hidden.append(path)
    return seen


def plan_update(
    upstream: dict[str, Change], local: dict[str, str], deleted_elsewhere: set[str]
) -> UpdatePlan:
    """Apply behaviour §5 to every path upstream changed (as the user sees it); ``local`` gives each
    one's state (absent = untouched); ``deleted_elsewhere`` are pulled files the user deleted
    that upstream did not change."""
    plan = UpdatePlan()
    for path, up in upstream.items():
        if up.gitlink:  # submodule commits: ``git submodule update`` moves them
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

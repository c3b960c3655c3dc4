"""The git storage: ``GitRepository`` and the engine that pulls it (behaviour §3.1, §5).

One pull (``pull.pull_checkout``), in the order the modules come into it:

1. ``repository``: the storage hands the engine a frozen ``GitSource`` (``source``) — URL without
   credentials, branch or pin, sparse cone, and the host-scoped ``Authorization`` header as git
   configuration pairs, resolved now. Only ``runner`` runs git, through GitPython's public API,
   always with that configuration in git's environment; ``processes`` stops a command with its
   helpers; ``failures`` turns git's stderr into one line with a hint.
2. ``checkout``: what the destination holds. Missing or empty → ``clone``; a checkout of the same
   origin → ``update``; anything else → ``DestinationConflictError``, nothing touched. git lock
   files left by a dead process are removed (the destination lock says no pull of ours is inside).
3. ``clone``: ``git clone --depth 1`` (partial and sparse for ``directories``; ``init`` + a fetch
   of the commit for a pin) into a hidden folder beside the destination, renamed into place when
   complete. A reset clones first and only then moves the old folder to its backup.
4. ``update`` (``Update.run``, a recipe of named steps): finish an update a killed pull left in
   the journal; check upstream with one ``git ls-remote`` (``fetching``) while ``tracked_dirs``
   finds pulled files the user deleted without looking at every file; fetch shallowly; then
   ``apply`` — upstream's change as the user sees it (commits and ``directories`` together,
   ``update_plan.as_the_user_sees``), ``survey`` of those paths, ``update_plan`` by the behaviour §5
   rules, the journal, and ``placement``: every file written through a staging folder and renamed
   into place, every user entry in the way moved aside, never overwritten; ``merge`` for files
   both sides changed; a sparse (partial) clone's missing contents fetched first in one request
   (``prefetch``). Refs, the new cone (``layout``), submodules, and a record of what was
   pulled in ``.git/ipy-storage/`` end it.

Every step can run again, so the pull after a kill anywhere finishes the interrupted one to the
same result (``tests/test_git_kill_anywhere.py``).
"""

from .repository import GIT_CLONE_STEP, GitRepository, default_name

__all__ = ["GIT_CLONE_STEP", "GitRepository", "default_name"]

"""The git storage: ``GitRepository`` and the engine that pulls it (SPEC §3.1, §5).

One pull, in steps (``pull.pull_checkout``):

1. ``repository``: the storage hands the engine a frozen ``GitSource`` — URL without
   credentials, branch or pin, sparse cone, and the host-scoped ``Authorization`` header resolved
   now. Only ``runner`` runs git (through GitPython), always with that environment.
2. ``checkout``: look at the destination. Missing or empty → clone; a checkout of the same
   origin → update; anything else → ``DestinationConflictError``, nothing touched. git lock files
   left by a dead process are removed (the destination lock says no pull of ours is inside).
3. ``clone``: ``git clone --depth 1`` (partial and sparse for ``directories``; ``init`` + a fetch of
   the commit for a pin) into a hidden folder beside the destination, renamed into place when
   complete. A reset clones first and only then moves the old folder to its backup.
4. ``update``: first finish an update a killed pull left (its journal). Then one ``git ls-remote``
   — a single round trip — while ``tracked_dirs`` finds the folders whose entries changed since
   the last pull (so deleted files are found without looking at every file). Nothing new → put
   back the pulled files the user deleted, done. Otherwise fetch the new commit shallowly and
   write the journal (old and new commit) before touching anything.
5. ``work_tree`` + ``keep_work``: look only at the paths upstream changed, decide for each what
   SPEC §5 says (write, remove, ``merge`` the user's edit, keep it, move the user's entry aside),
   make the index follow upstream and write the files; every write passes one obstruction check,
   so a user's folder or file in the way is moved aside, never overwritten. Each step can run
   again, so the next pull finishes a killed one to the same result.
6. Point the refs at the new commit, apply a changed ``directories`` list (``layout``), update
   submodules, record what was pulled (``.git/ipy-storage/``), drop the journal.
"""

from .repository import GIT_CLONE_STEP, GitRepository, default_name

__all__ = ["GIT_CLONE_STEP", "GitRepository", "default_name"]

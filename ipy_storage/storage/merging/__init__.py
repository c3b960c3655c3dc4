"""Three-way merges of one file both sides changed, shared by the git and the mirror engines
(behaviour §5, "both changed F"): ``merge_file(path, base, local, upstream)``.

- **Text** (``text``): what ``git merge-file`` makes of it, run through GitPython's command
  layer. A clean merge gives the merged bytes; a conflict, or a binary file, gives None and
  the user's file stays as it is.
- **Notebooks** (``notebook``, for ``.ipynb``): merged cell by cell, cells aligned by nbdime's
  notebook diff, the rules in ``docs/notebook-merge.md``. The result is validated nbformat;
  anything nbformat or nbdime cannot read gives None with the reason.

Every merge is idempotent: merging the result again with the same base and upstream gives the
same bytes back, so a pull killed after writing a merge can simply merge again.

Nothing here is imported by ``import ipy_storage``; nbdime and nbformat are imported only when a
notebook merges.
"""

from __future__ import annotations

from .outcome import MergeOutcome, NotebookMerge

NOTEBOOK_SUFFIX = ".ipynb"


def merge_file(path: str, base: bytes, local: bytes, upstream: bytes) -> MergeOutcome:
    """Merge upstream's change (``base`` → ``upstream``) into the user's ``local`` version of
    ``path`` (POSIX, relative to the destination; its suffix picks the format). Never raises for
    bad input: what cannot be merged comes back with ``content=None`` and a one-line reason."""
    if local == upstream:
        return MergeOutcome(local)
    if path.lower().endswith(NOTEBOOK_SUFFIX):
        from .notebook import merge_notebook

        return merge_notebook(base, local, upstream)
    from .text import merge_text

    return merge_text(base, local, upstream)


__all__ = ["MergeOutcome", "NotebookMerge", "merge_file"]

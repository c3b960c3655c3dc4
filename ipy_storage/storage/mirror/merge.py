"""The mirror's merge step (behaviour §5, "both changed F"): upstream's new version, downloaded like
any update, the user's file and the version pulled last (the base, from ``pristine``) go to the
shared merge layer (``storage.merging``). The result replaces the user's file in one rename.
Either way upstream's version becomes the base of the next merge, as git's index does: the
manifest records it with a stat no file has, so the user's file still counts as theirs. A pull
killed after the rename merges again from the old base, which gives the same file (merges are
idempotent).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ..merging import merge_file
from ..result import PullResult
from .keep_work import Download, lstat, same_stat
from .manifest import Copy, Manifest
from .pristine import Pristine


class MirrorMerge:
    """Merges for one pull: where files go, the store of bases, the manifest and the result."""

    def __init__(
        self, destination: Path, pristine: Pristine, manifest: Manifest, result: PullResult
    ) -> None:
        self.destination, self.pristine = destination, pristine
        self.manifest, self.result = manifest, result

    def merge(self, download: Download, temporary: str, written: Copy) -> None:
        """Merge upstream's new version (``temporary``) of a file the user edited into it."""
        rel = download.rel
        target = self.destination / rel
        current = lstat(target)
        if (
            current is None
            or not stat.S_ISREG(current.st_mode)
            or not same_stat(current, download.seen)
        ):
            # changed while the pull ran: the user's, as it is now
            self.result.kept_local.append(rel)
            return
        base = self.pristine.base(self.manifest.copy(rel))
        self.pristine.keep(temporary, written)  # the base of the next merge
        self.manifest.record(rel, download.identity, written._replace(mtime_ns=-1, ino=-1))
        if base is None:  # removed or damaged since the pull began
            self.result.kept_local.append(rel)
            self.result.reasons[rel] = (
                "the version pulled last is gone from the store: your version is kept"
            )
            return
        outcome = merge_file(rel, base, target.read_bytes(), Path(temporary).read_bytes())
        if outcome.content is None:
            self.result.kept_local.append(rel)
            self.result.reasons[rel] = outcome.reason
            return
        merged = f"{temporary}.merged"
        Path(merged).write_bytes(outcome.content)
        shutil.copymode(target, merged)
        if not same_stat(lstat(target), current):  # saved by the user a moment ago: theirs wins
            os.unlink(merged)
            self.result.kept_local.append(rel)
            return
        os.replace(merged, target)
        self.result.merged.append(rel)
        if outcome.notebook is not None:
            self.result.notebooks[rel] = outcome.notebook

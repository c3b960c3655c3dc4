"""The mirror's memory of what it pulled, so that a file both sides changed can be merged
(SPEC §5): the pristine store, and the merge step of a pull.

**The store** (``.ipy_storage_pristine/`` in the destination, hidden like the manifest) holds a
copy of each text file and notebook the mirror placed, named by the digest the manifest keeps
for that file (its ``local`` entry). The manifest is the store's index: a copy lives as long as
a manifest entry names it, and the pull that leaves one unnamed removes it. Copies are written
under a temporary name and renamed, so each is whole or absent; a name is its content's digest,
so a copy is never mistaken for another version, and it is checked again when read.

What is kept, and the bound: files up to ``FILE_LIMIT`` (8 MiB, the size up to which the
mirror hashes what it writes) whose first 8,000 bytes hold no NUL byte (git's test for text; a
notebook is JSON, so text), while the store holds less than ``STORE_LIMIT`` (128 MiB). A course
or a project's code and notebooks are a few megabytes, so the store stays small beside them
even while an update replaces every file; past the bound a file simply has no base, and a file
both sides changed is kept as the user had it (SPEC §5's rule without a merge).

**The merge** (``merge_download``): upstream's new version, downloaded like any update, the
user's file and the base go to the shared merge layer (``storage.merging``). The result replaces
the user's file in one rename. Either way upstream's version becomes the base of the next
merge, as git's index does: the manifest records it with a stat no file has, so the user's file
still counts as theirs. A pull killed after the rename merges again from the old base, which
gives the same file (merges are idempotent).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..merging import merge_file
from .manifest import HASH_LIMIT, Copy, Manifest, content_digest

if TYPE_CHECKING:
    from .keep_work import Download
    from .placement import Placer

PRISTINE_NAME = ".ipy_storage_pristine"
FILE_LIMIT = HASH_LIMIT
STORE_LIMIT = 128 << 20
SNIFF = 8000  # bytes looked at for a NUL, as git does
PARTIAL = ".partial-"  # a copy being written


def has_base(destination: Path, copy: Copy) -> bool:
    """Whether the store holds the version of a file the manifest says was pulled last."""
    return bool(copy.digest) and os.path.isfile(destination / PRISTINE_NAME / copy.digest)


class Pristine:
    """The pristine copies of one destination, as one pull sees them."""

    def __init__(self, destination: Path) -> None:
        self.folder = destination / PRISTINE_NAME
        self.used: int | None = None  # bytes held, counted when the pull first writes
        self.written = False

    def keep(self, temporary: str, copy: Copy) -> None:
        """Keep a copy of a file about to be placed (``temporary``), if it qualifies."""
        if not copy.digest or copy.size > FILE_LIMIT:
            return
        target = self.folder / copy.digest
        if target.exists():
            return
        if self.used is None:
            self.used = self._count()
        if self.used + copy.size > STORE_LIMIT or not _is_text(temporary):
            return
        partial = self.folder / f"{PARTIAL}{copy.digest}"
        shutil.copyfile(temporary, partial)
        os.replace(partial, target)
        self.used += copy.size
        self.written = True

    def base(self, digest: str) -> bytes | None:
        """The pulled version named ``digest``; None when absent or not what its name says."""
        try:
            data = (self.folder / digest).read_bytes()
        except OSError:
            return None
        return data if content_digest(data) == digest else None

    def prune(self, manifest: Manifest, changed: bool) -> None:
        """After a pull that changed something: remove the copies no manifest entry names (and
        any a killed pull left half-written)."""
        if not (changed or self.written) or not self.folder.is_dir():
            return
        named = {Copy.decode(text).digest for text in manifest.local.values()}
        for entry in os.scandir(self.folder):
            if entry.name not in named:
                os.unlink(entry.path)

    def _count(self) -> int:
        """Bytes held now (one listing of the store, made when a pull first adds to it)."""
        self.folder.mkdir(exist_ok=True)
        return sum(entry.stat().st_size for entry in os.scandir(self.folder))


def _is_text(path: str) -> bool:
    with open(path, "rb") as handle:
        return b"\0" not in handle.read(SNIFF)


def merge_download(placer: Placer, download: Download, temporary: str, written: Copy) -> None:
    """Merge upstream's new version of a file the user edited into it (SPEC §5)."""
    from .keep_work import lstat, same_stat

    rel, result = download.rel, placer.result
    target = placer.destination / rel
    current = lstat(target)
    if (
        current is None
        or not stat.S_ISREG(current.st_mode)
        or not same_stat(current, download.seen)
    ):
        result.kept_local.append(rel)  # changed while the pull ran: the user's, as it is now
        return
    base = placer.pristine.base(download.seen_digest)
    placer.pristine.keep(temporary, written)  # the base of the next merge
    placer.manifest.record(rel, download.identity, written._replace(mtime_ns=-1, ino=-1))
    if base is None:
        result.kept_local.append(rel)
        return
    outcome = merge_file(rel, base, target.read_bytes(), Path(temporary).read_bytes())
    if outcome.content is None:
        result.kept_local.append(rel)
        result.reasons[rel] = outcome.reason
        return
    merged = f"{temporary}.merged"
    Path(merged).write_bytes(outcome.content)
    shutil.copymode(target, merged)
    if not same_stat(lstat(target), current):  # saved by the user a moment ago: theirs wins
        os.unlink(merged)
        result.kept_local.append(rel)
        return
    os.replace(merged, target)
    result.merged.append(rel)
    if outcome.notebook is not None:
        result.notebooks[rel] = outcome.notebook

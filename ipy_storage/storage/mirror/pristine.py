"""The mirror's memory of what it pulled, so that a file both sides changed can be merged
(behaviour §5, the merge step: ``mirror.merge``): the pristine store.

**The store** (``.ipy_storage_pristine/`` in the destination, hidden like the manifest) holds a
copy of each text file and notebook the mirror placed, named by the digest and size the
manifest keeps for that file (its ``local`` entry). The manifest is the store's index: a copy
no manifest entry names is an old version, removed when room is needed.
Copies are written under a temporary name and renamed, so each is whole or absent; a name is
its content's digest, so a copy is never mistaken for another version, and it is checked again
when read. The store's size is the sum of the sizes in its names: one listing, no ``stat``,
made by a pull that adds a copy. Old versions stay until the store reaches its bound; then the
copies no manifest entry names are removed first (the manifest is the index, so nothing else
needs bookkeeping, and a pull that only updates a few files pays for no clean-up).
Copies are real copies, not hard links: Jupyter saves a notebook by rewriting the file in place,
which would change a linked copy with it.

What is kept, and the bound: files up to ``FILE_LIMIT`` (8 MiB, the size up to which the
mirror hashes what it writes) whose first 8,000 bytes hold no NUL byte (git's test for text; a
notebook is JSON, so text), while the store holds less than ``STORE_LIMIT`` (128 MiB). A course
or a project's code and notebooks are a few megabytes, so the store stays small beside them
even while an update replaces every file; past the bound a file simply has no base, and a file
both sides changed is kept as the user had it (behaviour §5's rule without a merge).
"""

from __future__ import annotations

import os
from pathlib import Path

from .manifest import BLOCK, HASH_LIMIT, Copy, Manifest, content_digest

PRISTINE_NAME = ".ipy_storage_pristine"
FILE_LIMIT = HASH_LIMIT
STORE_LIMIT = 128 << 20
SNIFF = 8000  # bytes looked at for a NUL, as git does
PARTIAL = ".partial-"  # a copy being written


def blob_name(copy: Copy) -> str:
    """A kept version's name: the manifest's digest of it, and its size (so the store's size is
    read from one listing of names, without a ``stat`` each)."""
    return f"{copy.digest}.{copy.size}"


def has_base(destination: Path, copy: Copy) -> bool:
    """Whether the store holds the version of a file the manifest says was pulled last."""
    return bool(copy.digest) and os.path.isfile(destination / PRISTINE_NAME / blob_name(copy))


class Pristine:
    """The pristine copies of one destination, as one pull sees them."""

    def __init__(self, destination: Path, manifest: Manifest) -> None:
        self.folder = destination / PRISTINE_NAME
        self.manifest = manifest
        self.used: int | None = None  # bytes held, counted when the pull first writes
        self.pruned = False

    def keep(self, temporary: str, copy: Copy) -> None:
        """Keep a copy of a file about to be placed (``temporary``), if it qualifies: read once
        (it was just written: the page cache has it), written once, renamed into place."""
        if not copy.digest or copy.size > FILE_LIMIT or not self._room(copy.size):
            return
        handle = os.open(temporary, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(handle, SNIFF)
            if b"\0" in data:
                return  # binary: never merged, not kept
            if len(data) == SNIFF:
                data += b"".join(iter(lambda: os.read(handle, BLOCK), b""))
        finally:
            os.close(handle)
        name = blob_name(copy)
        partial = f"{self.folder}/{PARTIAL}{name}"
        out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
        finally:
            os.close(out)
        os.replace(partial, f"{self.folder}/{name}")
        self.used = (self.used or 0) + copy.size

    def base(self, copy: Copy) -> bytes | None:
        """The pulled version ``copy`` names; None when absent or not what its name says."""
        try:
            data = (self.folder / blob_name(copy)).read_bytes()
        except OSError:
            return None
        return data if content_digest(data) == copy.digest else None

    def _room(self, size: int) -> bool:
        """Whether ``size`` more bytes fit; the first time they do not, the copies no manifest
        entry names any more (older versions, a killed pull's half-written ones) go first."""
        if self.used is None:
            self.folder.mkdir(exist_ok=True)
            self.used = self._count()
        if self.used + size <= STORE_LIMIT:
            return True
        if not self.pruned:
            self.pruned = True
            named = {blob_name(Copy.decode(text)) for text in self.manifest.local.values()}
            for name in os.listdir(self.folder):
                if name not in named:
                    os.unlink(self.folder / name)
            self.used = self._count()
        return self.used + size <= STORE_LIMIT

    def _count(self) -> int:
        """Bytes held, from the names: one listing, no ``stat``."""
        return sum(
            int(name.rpartition(".")[2])
            for name in os.listdir(self.folder)
            if not name.startswith(PARTIAL)
        )

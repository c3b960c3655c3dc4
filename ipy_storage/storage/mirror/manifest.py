"""What the last pull left in the destination, and how a killed pull is picked up again.

The manifest, ``<destination>/.ipy_storage_manifest.json``, holds per pulled file

- ``remote``: its identity at the source when pulled (ETag/checksum, else mtime; with the size),
  so an unchanged source compares equal without reading anything;
- ``local``: the copy as written, ``"size:mtime_ns:inode:digest"``. A file whose size, mtime and
  inode still match is the copy we wrote, without reading it. The digest (SHA-256, its first 128
  bits) is there for files up to ``HASH_LIMIT``: it tells a file the user only touched (saved
  unchanged) from an edit. Bigger files are copied by the kernel, never hashed; one whose stat
  changed counts as the user's edit (the safe side: their version is kept).

Two flat maps of strings, because a JSON parser reads strings fast: a no-change pull of 20,000
files loads them in a few milliseconds and compares ``remote`` with the listing in one ``==``;
a ``local`` entry is decoded only for a file that needs a closer look. Beside them, ``folders``:
the destination folders found holding every file of theirs, by mtime, so that a later pull sees
an unchanged folder complete without a ``listdir`` (``keep_work.settled_folders``).

The journal, ``.ipy_storage_journal``, is appended one line per batch of files, each line
reaching the OS before the batch's files are renamed into place. After a kill, the next pull
adopts the entries whose file is in place (its inode, mtime and size say so), so every file is
old or new and nothing is fetched twice. A pull that ends (or fails) appends its changes to the
journal as one ``commit`` line, which the next pull applies as it is; only when the journal has
grown past a tenth of the manifest (or the manifest is missing) is the manifest written whole
again, atomically, and the journal removed. So a pull that changed one file of 20,000 writes one
short line, not the whole manifest; a pull that changed nothing writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..destination import read_json, write_json_atomic
from ..secrets import redact

log = logging.getLogger(__name__)

MANIFEST_NAME = ".ipy_storage_manifest.json"
JOURNAL_NAME = ".ipy_storage_journal"
MANIFEST_VERSION = 2
HASH_LIMIT = 8 << 20  # files up to this size are hashed while copied (cheap: cache-hot)
DIGEST_CHARS = 32  # hex digits of SHA-256 kept: 128 bits tell contents apart
BLOCK = 1 << 20  # streaming block: memory stays flat whatever the file size
COMPACT_AFTER = 2000  # journal entries (at least) before the manifest is written whole again


def start_digest() -> Any:
    return hashlib.sha256()


def finish_digest(digest: Any) -> str:
    return digest.hexdigest()[:DIGEST_CHARS]


def content_digest(data: bytes) -> str:
    return finish_digest(hashlib.sha256(data))


def file_digest(path: str | Path) -> str:
    """The digest of a file's content, streamed (never the whole file in memory), on a plain
    descriptor: for a small file that is most of the cost."""
    digest = start_digest()
    handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while block := os.read(handle, BLOCK):
            digest.update(block)
    finally:
        os.close(handle)
    return finish_digest(digest)


class Copy(NamedTuple):
    """A file as this engine wrote it. ``digest`` is ``""`` for a file above ``HASH_LIMIT``."""

    size: int
    mtime_ns: int
    ino: int
    digest: str

    @classmethod
    def of(cls, st: os.stat_result, digest: str) -> Copy:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, digest)

    @classmethod
    def decode(cls, text: str) -> Copy:
        """The entry; one damaged by hand matches no file (the file then counts as edited)."""
        try:
            size, mtime_ns, ino, digest = text.split(":")
            return cls(int(size), int(mtime_ns), int(ino), digest)
        except (AttributeError, ValueError):
            return cls(-1, -1, -1, "")

    def encode(self) -> str:
        return f"{self.size}:{self.mtime_ns}:{self.ino}:{self.digest}"

    def matches(self, st: os.stat_result) -> bool:
        """Still the file we wrote (the stat survives ``os.replace``)."""
        return st.st_mtime_ns == self.mtime_ns and st.st_size == self.size and st.st_ino == self.ino


class Manifest:
    """The files of the last pull (plus those a killed pull placed), kept in step with the disk
    while a pull runs; ``changes`` is what is not on disk yet."""

    def __init__(
        self,
        remote: dict[str, str],
        local: dict[str, str],
        rewrite: bool,
        folders: dict[str, int] | None = None,
    ) -> None:
        self.remote = remote
        self.local = local
        # destination folder → its mtime_ns when it held every file the source has there
        # (``keep_work.settled_folders``): unchanged since, it needs no listdir
        self.folders = folders or {}
        self.changes: dict[str, list[str] | None] = {}  # rel → [identity, local]; None: forgotten
        self.folder_changes: dict[str, int | None] = {}
        self.rewrite = rewrite  # the manifest on disk is missing or unreadable
        self.journalled = 0  # entries in the journal's commit lines

    def copy(self, rel: str) -> Copy:
        return Copy.decode(self.local[rel])

    def record(self, rel: str, identity: str, copy: Copy) -> None:
        self.remote[rel] = identity
        self.local[rel] = text = copy.encode()
        self.changes[rel] = [identity, text]

    def acknowledge(self, rel: str, identity: str) -> None:
        """Upstream's new identity, the local copy left as it is (the user's edit is kept)."""
        self.remote[rel] = identity
        self.changes[rel] = [identity, self.local[rel]]

    def forget(self, rel: str) -> None:
        self.remote.pop(rel, None)
        self.local.pop(rel, None)
        self.changes[rel] = None

    def settle(self, folders: dict[str, int | None]) -> None:
        """Folders found complete (their mtime) or no longer so (None), saved with the files."""
        apply_folders(self.folders, folders)
        self.folder_changes.update(folders)

    @classmethod
    def load(cls, destination: Path) -> Manifest:
        remote, local, folders, readable = read_manifest(destination / MANIFEST_NAME)
        manifest = cls(remote, local, rewrite=not readable, folders=folders)
        replay_journal(destination, manifest)
        return manifest

    def save(self, destination: Path, url: str) -> None:
        """Put the changes on disk: a commit line in the journal, or, once the journal is long,
        the whole manifest (atomically; the journal it includes is then removed)."""
        if not self.changes:
            return
        journalled = self.journalled + len(self.changes)
        if self.rewrite or journalled > max(COMPACT_AFTER, len(self.remote) // 10):
            data = {"version": MANIFEST_VERSION, "url": redact(url), "folders": self.folders}
            write_json_atomic(
                destination / MANIFEST_NAME, data | {"remote": self.remote, "local": self.local}
            )
            (destination / JOURNAL_NAME).unlink(missing_ok=True)
            self.rewrite, self.journalled = False, 0
        else:
            line = {"commit": self.changes, "folders": self.folder_changes}
            with open(destination / JOURNAL_NAME, "a") as journal:
                journal.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.journalled = journalled
        self.changes, self.folder_changes = {}, {}


def read_manifest(path: Path) -> tuple[dict[str, str], dict[str, str], dict[str, int], bool]:
    """The maps, and whether the file was there and readable. A missing or unreadable one gives
    empty maps: every file is then untracked (compared with upstream's before anything is
    replaced)."""
    data = read_json(path)
    if data is None and not path.exists():
        return {}, {}, {}, False
    try:
        if data.get("version") == 1:  # one list per file (ipy_storage 0.1)
            files = data["files"]
            remote = {rel: entry[0] for rel, entry in files.items()}
            local = {
                rel: Copy(entry[1], entry[2], entry[3], entry[4][:DIGEST_CHARS]).encode()
                for rel, entry in files.items()
            }
            return remote, local, {}, False  # written again in today's format
        remote, local, folders = data["remote"], data["local"], data.get("folders", {})
        if data["version"] != MANIFEST_VERSION or remote.keys() != local.keys():
            raise ValueError("unknown version or mismatched maps")
        return remote, local, dict(folders), True
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("Ignoring an unreadable manifest %s: every file is treated as untracked.", path)
        return {}, {}, {}, False


def replay_journal(destination: Path, manifest: Manifest) -> None:
    """Apply the journal: commit lines as they are; the batches after the last commit (a
    killed pull's) for the files that really reached their place."""
    try:
        lines = (destination / JOURNAL_NAME).read_text().splitlines()
    except FileNotFoundError:
        return
    pending: list = []
    for line in lines:
        try:
            item = json.loads(line)
            if isinstance(item, dict):
                apply_commit(manifest, item["commit"])
                apply_folders(manifest.folders, item.get("folders", {}))
                pending = []  # a commit holds everything its pull placed
            else:
                pending.extend(item)
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # the line a kill cut short: none of its files was moved yet
    for rel, identity, text in pending:
        copy = Copy.decode(text)
        try:
            placed = copy.matches(os.lstat(destination / rel))
        except OSError:
            placed = False
        if placed:
            manifest.record(rel, identity, copy)  # committed by this pull's save


def apply_folders(folders: dict[str, int], changes: dict[str, int | None]) -> None:
    for folder, mtime in changes.items():
        if mtime is None:
            folders.pop(folder, None)
        else:
            folders[folder] = mtime


def apply_commit(manifest: Manifest, changes: dict[str, list[str] | None]) -> None:
    for rel, entry in changes.items():
        if entry is None:
            manifest.remote.pop(rel, None)
            manifest.local.pop(rel, None)
        else:
            manifest.remote[rel], manifest.local[rel] = entry
    manifest.journalled += len(changes)


class Journal:
    """Append-only record of the files this pull places, a line per batch."""

    def __init__(self, destination: Path) -> None:
        self._path = destination / JOURNAL_NAME
        self._handle: Any = None

    def record(self, batch: list[tuple[str, str, Copy]]) -> None:
        """Must return before any file of the batch is renamed into place."""
        if self._handle is None:
            self._handle = open(self._path, "a")  # noqa: SIM115  (closed by close())
        line = [[rel, identity, copy.encode()] for rel, identity, copy in batch]
        self._handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._handle.flush()  # in the OS's hands: a killed process does not lose it

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

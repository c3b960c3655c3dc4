"""The fsspec sync engine behind ``RemoteStorage`` (SPEC §3.2, §5).

One pull, in order:

1. open the filesystem (secrets are revealed only here) and list the remote once;
2. refuse keys that would land outside the destination, before anything is written;
3. read the manifest of the last pull (and replay the journal of a pull that was killed);
4. decide per file by comparing the remote identity now with the one recorded, and the local
   identity now with the one recorded when the file was written (that is how user edits show);
5. delete what upstream deleted and the user did not touch;
6. download new and changed objects into a staging folder inside the destination (concurrently
   where the back end gains from it), then move each into place, journalled first, so no file is
   ever seen half-written and a killed pull converges;
7. write the manifest atomically.

The manifest, ``<destination>/.ipy_storage_manifest.json``, maps each pulled file to
``[remote identity, size, mtime_ns, inode, sha256]``: the remote identity (ETag/checksum, else
mtime, with the size) as listed, and the local file as written. A local file whose size, mtime and
inode still match is unchanged without being read; the hash decides only when they differ.

fsspec stays inside this module, imported lazily: ``import ipy_storage`` must stay fast.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import queue
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from .destination import aside_name, move_to_backup
from .errors import (
    AuthenticationError,
    DestinationConflictError,
    NetworkError,
    SourceNotFoundError,
    StorageConfigError,
    StoragePullError,
)
from .result import Progress, ProgressCallback, PullResult
from .secrets import redact, reveal

log = logging.getLogger(__name__)

RESERVED_PREFIX = ".ipy_storage_"
MANIFEST_NAME = ".ipy_storage_manifest.json"
JOURNAL_NAME = ".ipy_storage_journal"
STAGING_NAME = ".ipy_storage_staging"
MANIFEST_VERSION = 1

THREADS = 8  # downloads in flight on sync back ends that talk to something remote
COMMIT_BATCH = 64  # files placed per journal write (local and memory sources)
BLOCK = 1 << 20  # streaming block: memory stays flat whatever the object size

# Fail fast on an unreachable S3 endpoint (botocore's defaults retry for ~10 s, and minutes on a
# black-holed address); applied only where the user set nothing.
S3_FAST_FAILURE = {"connect_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}


# --------------------------------------------------------------------------- identities


class Written(NamedTuple):
    """A file as we wrote it: the stat survives ``os.replace``; the hash is the content."""

    size: int
    mtime_ns: int
    ino: int
    sha256: str


class Entry(NamedTuple):
    """One manifest entry: the remote identity pulled and the local file it became. Entries read
    from disk stay JSON lists in this field order until a file needs a closer look."""

    remote: str
    size: int
    mtime_ns: int
    ino: int
    sha256: str

    def matches(self, st: os.stat_result) -> bool:
        return st.st_mtime_ns == self.mtime_ns and st.st_size == self.size and st.st_ino == self.ino


_CHECKSUM_KEYS = ("ETag", "etag", "md5Hash", "md5", "content_md5", "checksum", "crc32c")
_TIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "modified", "created")


def remote_identity(info: dict[str, Any]) -> str:
    """What changes when the object's content changes: a checksum/ETag if the back end offers
    one, else its modification time; always with the size."""
    size = info.get("size")
    for key in _CHECKSUM_KEYS:
        value = info.get(key)
        if value:
            return f"{key}:{str(value).strip(chr(34))}:{size}"
    for key in _TIME_KEYS:
        value = info.get(key)
        if value is not None and value != "":
            if isinstance(value, datetime):
                value = value.isoformat()
            return f"{key}:{value!r}:{size}"
    return f"size:{size}"


def identity_function(fs: Any) -> Callable[[dict[str, Any]], str]:
    """``remote_identity``, specialised for fsspec's local filesystem (whose listing always holds
    a float ``mtime`` and no checksum), so a no-change pull of thousands of files stays cheap."""
    from fsspec.implementations.local import LocalFileSystem

    if type(fs) is not LocalFileSystem:
        return remote_identity

    def by_mtime(info: dict[str, Any]) -> str:
        return f"mtime:{info['mtime']!r}:{info['size']}"

    return by_mtime


def sha256_file(path: str | Path) -> str:
    """Content hash, streamed: never the whole file in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def lstat(path: str | Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # the latter: a parent is a file
        return None


def same_stat(a: os.stat_result | None, b: os.stat_result | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.st_size, a.st_mtime_ns, a.st_ino, a.st_mode) == (
        b.st_size,
        b.st_mtime_ns,
        b.st_ino,
        b.st_mode,
    )


# --------------------------------------------------------------------------- filesystem and listing


def open_filesystem(url: str, settings: dict[str, Any]) -> tuple[Any, str]:
    """Build the fsspec filesystem; secrets are revealed here and nowhere else."""
    import fsspec
    from fsspec.utils import get_protocol

    options = with_fast_failure(get_protocol(url), reveal(dict(settings)))
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise StorageConfigError(
            f"Cannot open {redact(url)}: {first_line(exc)} (install the package for this protocol)."
        ) from None
    except (TypeError, ValueError) as exc:
        raise StorageConfigError(
            f"Cannot open {redact(url)}: {first_line(exc)}; check the URL and its settings."
        ) from None
    except Exception as exc:
        raise describe_failure(exc, url) from None


def with_fast_failure(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """Add a short connect timeout and few retries for S3 where the user chose none."""
    if protocol not in ("s3", "s3a"):
        return options
    config = dict(options.get("config_kwargs") or {})
    for key, value in S3_FAST_FAILURE.items():
        config.setdefault(key, value)
    return {**options, "config_kwargs": config}


@dataclass
class Listing:
    """The remote as listed once: each object's identity, keyed by its POSIX path inside the
    destination; its path on the filesystem is the root's path plus that key."""

    base: str
    identities: dict[str, str]
    odd_paths: dict[str, str] = field(default_factory=dict)  # a URL naming one object

    def path(self, rel: str) -> str:
        return self.odd_paths.get(rel) or self.base + rel


def list_remote(fs: Any, root: str, url: str) -> Listing:
    """One listing of everything under ``root`` (one ``find``); keys are checked on the way."""
    try:
        fs.invalidate_cache()  # s3fs and friends cache listings per instance; a pull must see now
        listing = fs.find(root, detail=True)
        if not listing and not fs.exists(root):
            raise FileNotFoundError(root)
    except Exception as exc:
        raise describe_failure(exc, url) from None
    result = Listing(root.rstrip("/") + "/", {})
    base, skip, identities = result.base, len(result.base), result.identities
    identity = identity_function(fs)
    for path, info in listing.items():
        if info.get("type", "file") != "file" or (path[-1:] == "/" and not info.get("size")):
            continue  # folders and zero-byte "folder/" placeholder objects
        if path.startswith(base):
            rel = path[skip:]
        else:
            rel = relative_key(path, root)
            result.odd_paths[rel] = path
        check_key(rel, path, url)
        if rel.startswith(RESERVED_PREFIX):
            continue  # our own bookkeeping, e.g. when pulling from another pull's destination
        identities[rel] = identity(info)
    check_no_file_folder_clash(identities, url)
    return result


def relative_key(path: str, root: str) -> str:
    """The name of a listed path that is not below the root: the root itself (a single object)."""
    if path.rstrip("/") == root.rstrip("/"):
        return posixpath.basename(root.rstrip("/"))
    raise StoragePullError(
        f"Listing returned {path!r}, which is not under {root!r}: refusing to pull it."
    )


def check_key(rel: str, key: str, url: str) -> None:
    """Refuse keys that would land outside the destination (``..``, absolute, empty parts)."""
    suspicious = (
        not rel
        or rel[0] == "/"
        or rel[-1] == "/"
        or "//" in rel
        or "/." in "/" + rel
        or "\x00" in rel
    )
    if suspicious and ("\x00" in rel or any(part in ("", ".", "..") for part in rel.split("/"))):
        raise StoragePullError(
            f"Refusing to pull {redact(url)}: remote key {redact(key)!r} would land outside the "
            "destination (absolute path, '..' or empty part); rename it at the source."
        )


def check_no_file_folder_clash(files: dict[str, str], url: str) -> None:
    """An object store may hold both ``a`` and ``a/b``; a disk cannot."""
    folders = {rel.rpartition("/")[0] for rel in files}
    for folder in folders:
        while folder:
            if folder in files:
                raise StoragePullError(
                    f"Refusing to pull {redact(url)}: {folder!r} is both an object and a folder at the "
                    "source; rename one of them."
                )
            folder = folder.rpartition("/")[0]


# --------------------------------------------------------------------------- the manifest


def load_manifest(destination: Path) -> tuple[dict[str, Entry], bool]:
    """The files of the last pull, plus those a killed pull placed (its journal). The flag says
    whether the journal added anything, so that the manifest gets rewritten."""
    files: dict[str, Entry] = {}
    try:
        data = json.loads((destination / MANIFEST_NAME).read_bytes())
        if data.get("version") == MANIFEST_VERSION:
            files = data["files"]
            if not all(
                isinstance(entry, list) and len(entry) == len(Entry._fields)
                for entry in files.values()
            ):
                raise ValueError("malformed entry")
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError, AttributeError):
        files = {}
        log.warning(
            "Ignoring an unreadable manifest in %s: every file is treated as untracked.",
            destination,
        )
    return files, replay_journal(destination, files)


def replay_journal(destination: Path, files: dict[str, Entry]) -> bool:
    """Adopt the journal entries whose file really reached its place: the journal is written just
    before ``os.replace``, and inode, mtime and size tell whether the move happened."""
    try:
        lines = (destination / JOURNAL_NAME).read_text().splitlines()
    except FileNotFoundError:
        return False
    for line in lines:
        try:
            rel, raw = json.loads(line)
            entry = Entry(*raw)
        except (ValueError, TypeError):
            continue  # the line a kill cut short
        current = lstat(destination / rel)
        if current is not None and entry.matches(current):
            files[rel] = entry
    return True


def save_manifest(destination: Path, url: str, files: dict[str, Entry]) -> None:
    """Write the manifest atomically (temporary name, then ``os.replace``), then drop the journal."""
    data = {"version": MANIFEST_VERSION, "url": redact(url), "files": dict(sorted(files.items()))}
    temporary = destination / (MANIFEST_NAME + ".tmp")
    temporary.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(temporary, destination / MANIFEST_NAME)
    (destination / JOURNAL_NAME).unlink(missing_ok=True)


class Journal:
    """Append-only record of the files this pull places, so a killed pull converges. Each batch
    reaches the OS before its files are moved into place (a process kill does not lose it)."""

    def __init__(self, destination: Path) -> None:
        self._path = destination / JOURNAL_NAME
        self._handle: Any = None

    def record(self, entries: list[tuple[str, Entry]]) -> None:
        if self._handle is None:
            # kept open for the whole pull; closed by ``close()``
            self._handle = open(self._path, "a")  # noqa: SIM115
        self._handle.write(
            "".join(
                json.dumps([rel, entry], separators=(",", ":")) + "\n" for rel, entry in entries
            )
        )
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


# --------------------------------------------------------------------------- deciding


class Download(NamedTuple):
    """A remote object to fetch, why, and the local state it was decided on."""

    rel: str
    path: str  # on the remote filesystem
    identity: str  # as listed
    reason: (
        str  # "add" (new upstream), "restore" (the user deleted it), "update" (upstream changed)
    )
    seen: os.stat_result | None = None  # the local file when decided ("update" only)
    seen_sha256: str | None = None  # its content then


@dataclass
class Plan:
    downloads: list[Download] = field(default_factory=list)
    deletions: list[tuple[str, os.stat_result]] = field(default_factory=list)
    kept_local: list[str] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)  # entries to drop, the disk left alone
    acknowledged: dict[str, Entry] = field(default_factory=dict)  # kept-local files' new entries


class LocalNames:
    """Which names exist in the destination's folders, one ``listdir`` per folder: a file whose
    upstream did not change needs only this (was it deleted?), not a stat."""

    def __init__(self, destination: Path) -> None:
        self._root = str(destination)
        self._folders: dict[str, set[str]] = {}

    def __contains__(self, rel: str) -> bool:
        folder, _, name = rel.rpartition("/")
        names = self._folders.get(folder)
        if names is None:
            try:
                names = set(os.listdir(f"{self._root}/{folder}" if folder else self._root))
            except OSError:
                names = set()
            self._folders[folder] = names
        return name in names


def local_state(path: Path, entry: Entry) -> tuple[str, os.stat_result | None]:
    """``missing``, ``clean`` (as we wrote it), ``touched`` (same content, new stat) or
    ``edited``; the file is read only when its stat differs from the manifest's."""
    current = lstat(path)
    if current is None:
        return "missing", None
    if not stat.S_ISREG(current.st_mode):
        return "edited", current
    if entry.matches(current):
        return "clean", current
    if current.st_size != entry.size or sha256_file(path) != entry.sha256:
        return "edited", current
    return "touched", current


def plan_pull(remote: Listing, files: dict[str, Entry], destination: Path) -> Plan:
    """SPEC §5 per file. Untracked local files are never looked at, except where an upstream
    file wants their place (decided when placing)."""
    plan = Plan()
    present = LocalNames(destination)
    identities = remote.identities
    for rel, identity in identities.items():
        entry = files.get(rel)
        if entry is None:
            plan.downloads.append(Download(rel, remote.path(rel), identity, "add"))
        elif identity == entry[0]:
            if rel not in present:
                plan.downloads.append(Download(rel, remote.path(rel), identity, "restore"))
        else:
            plan_upstream_change(
                Download(rel, remote.path(rel), identity, "update"),
                Entry(*entry),
                destination,
                plan,
            )
    for rel, entry in files.items():
        if rel not in identities:
            plan_upstream_deletion(rel, Entry(*entry), destination, plan)
    return plan


def plan_upstream_change(download: Download, entry: Entry, destination: Path, plan: Plan) -> None:
    state, current = local_state(destination / download.rel, entry)
    if state == "missing":
        plan.downloads.append(download)
    elif state == "edited":
        # no merge for remote storage: the user's version wins. The manifest moves on to the new
        # remote identity (its local identity stays the pulled one, so the file still counts as
        # edited): the next pull reports it again only when upstream changes it again.
        plan.kept_local.append(download.rel)
        plan.acknowledged[download.rel] = entry._replace(remote=download.identity)
    else:
        plan.downloads.append(download._replace(seen=current, seen_sha256=entry.sha256))


def plan_upstream_deletion(rel: str, entry: Entry, destination: Path, plan: Plan) -> None:
    state, current = local_state(destination / rel, entry)
    if state in ("clean", "touched"):
        plan.deletions.append((rel, current))
        return
    plan.forget.append(rel)  # gone, or the user's own file from now on
    if state == "edited":
        plan.kept_local.append(rel)


# --------------------------------------------------------------------------- applying


@dataclass
class Outcome:
    """What the pull did so far; the manifest (``files``) is kept in step with the disk."""

    destination: Path
    files: dict[str, Entry]
    result: PullResult
    journal: Journal
    report: Reporter
    dirty: bool = False
    folders: dict[str, bool] = field(default_factory=dict)  # ready folder → created by this pull
    root: str = ""

    def __post_init__(self) -> None:
        self.root = str(self.destination)


def delete_unchanged(outcome: Outcome, deletions: list[tuple[str, os.stat_result]]) -> None:
    """Remove files upstream deleted, unless the user touched them since we looked."""
    for rel, seen in deletions:
        target = outcome.destination / rel
        current = lstat(target)
        if current is not None and not same_stat(current, seen):
            outcome.result.kept_local.append(rel)
        elif current is not None:
            target.unlink()
            outcome.result.deleted.append(rel)
            prune_empty_folders(target.parent, outcome.destination)
        outcome.files.pop(rel, None)
        outcome.dirty = True


def prune_empty_folders(folder: Path, destination: Path) -> None:
    """Remove folders a deletion left empty (rmdir only: never anything with content)."""
    while folder != destination and destination in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def fetch(
    fs: Any, downloads: list[Download], outcome: Outcome, url: str, options: dict[str, Any]
) -> None:
    """Download into the staging folder; each batch of finished downloads is journalled once and
    moved into place, so whatever was downloaded before a failure is in place too."""
    staging = outcome.destination / STAGING_NAME
    staging.mkdir(exist_ok=True)
    jobs = [(download, f"{staging}/{index:07d}") for index, download in enumerate(downloads)]
    batches = transfer(fs, jobs, url, options)
    try:
        for batch in batches:
            ready = []
            for download, temporary, written in batch:
                outcome.result.bytes_transferred += written.size
                entry = prepare(download, temporary, written, outcome)
                if entry is not None:
                    ready.append((download, temporary, entry))
                else:  # kept or adopted: done too
                    outcome.report.placed(len(jobs), outcome.result.bytes_transferred, download.rel)
            commit(ready, outcome, len(jobs))
    finally:
        batches.close()  # stops the downloads still in flight


Batch = list[tuple[Download, str, Written]]


def transfer(
    fs: Any, jobs: list[tuple[Download, str]], url: str, options: dict[str, Any]
) -> Iterator[Batch]:
    """Yield batches of downloaded temporary files with their identities. Async back ends (s3fs,
    gcsfs…): fsspec's batched ``get``; local disk and memory: one by one (threads only add GIL
    contention there, measured 2x slower); other back ends: a bounded thread pool."""
    if getattr(fs, "async_impl", False):
        return transfer_batched(fs, jobs, url, options)
    if is_in_process(fs):
        return transfer_sequential(fs, jobs, url)
    return transfer_threaded(fs, jobs, url)


def is_in_process(fs: Any) -> bool:
    """fsspec's own local-disk and memory filesystems (exact types: a subclass may be remote)."""
    from fsspec.implementations.local import LocalFileSystem
    from fsspec.implementations.memory import MemoryFileSystem

    return type(fs) in (LocalFileSystem, MemoryFileSystem)


def open_source(fs: Any, remote_path: str) -> Any:
    """The object, opened for reading. fsspec's local filesystem names plain local paths, which
    the built-in ``open`` reads a fifth faster than its file wrapper (it adds up over many files)."""
    from fsspec.implementations.local import LocalFileSystem

    if type(fs) is LocalFileSystem:
        return open(remote_path, "rb")
    return fs.open(remote_path, "rb")


def stream_copy(fs: Any, remote_path: str, temporary: str) -> Written:
    """Copy one object to a temporary file block by block, hashing on the way."""
    digest = hashlib.sha256()
    with open_source(fs, remote_path) as source, open(temporary, "wb") as target:
        while block := source.read(BLOCK):
            digest.update(block)
            target.write(block)
        target.flush()
        st = os.fstat(target.fileno())
    return Written(st.st_size, st.st_mtime_ns, st.st_ino, digest.hexdigest())


def identify(temporary: str) -> Written:
    """The identity of a file a back end downloaded by itself."""
    sha = sha256_file(temporary)
    st = os.lstat(temporary)
    return Written(st.st_size, st.st_mtime_ns, st.st_ino, sha)


def transfer_sequential(fs: Any, jobs: list[tuple[Download, str]], url: str) -> Iterator[Batch]:
    batch: Batch = []
    for download, temporary in jobs:
        try:
            written = stream_copy(fs, download.path, temporary)
        except Exception as exc:
            if batch:
                yield batch  # placed before the failure surfaces
            raise describe_failure(exc, url) from None
        batch.append((download, temporary, written))
        if len(batch) >= COMMIT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def transfer_batched(
    fs: Any, jobs: list[tuple[Download, str]], url: str, options: dict[str, Any]
) -> Iterator[Batch]:
    """One batched ``fs.get`` for every file (fsspec keeps its batch of requests in flight, with
    no pause between chunks), run in a helper thread; each file is handed over as it completes,
    through fsspec's per-file callbacks, so files are placed while others download."""
    finished: queue.SimpleQueue = queue.SimpleQueue()
    transfers = file_completions(finished)
    download_of = {temporary: download for download, temporary in jobs}
    failure: list[BaseException] = []

    def get_all() -> None:
        try:
            fs.get(
                [download.path for download, _ in jobs],
                [temporary for _, temporary in jobs],
                callback=transfers,
                **options,
            )
        except BaseException as exc:  # handed to the consumer below
            failure.append(exc)
        finally:
            finished.put(None)

    worker = threading.Thread(target=get_all, name="ipy-storage-get", daemon=True)
    worker.start()
    try:
        running = True
        while running:
            arrived = [finished.get()]
            while not finished.empty():
                arrived.append(finished.get())
            running = None not in arrived
            batch = [(download_of[t], t, identify(t)) for t in arrived if t is not None]
            if batch:
                yield batch
        if failure and not isinstance(failure[0], TransferStopped):
            raise describe_failure(failure[0], url) from None
    finally:
        transfers.stopped = True  # the consumer gave up: abort what is still in flight
        worker.join()


class TransferStopped(Exception):
    """Raised inside fsspec's transfer to abort it once nobody waits for the files."""


def file_completions(finished: queue.SimpleQueue) -> Any:
    """An fsspec callback whose per-file children report each finished temporary file."""
    from fsspec.callbacks import Callback

    class FileDone(Callback):
        def __init__(self, parent: Any, temporary: str) -> None:
            super().__init__()
            self.parent = parent
            self.temporary = temporary

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.parent.stopped:
                raise TransferStopped()

        def __exit__(self, kind: Any, *rest: Any) -> None:
            if kind is None:
                finished.put(self.temporary)

    class Completions(Callback):
        stopped = False

        def branched(self, path_1: str, path_2: str, **kwargs: Any) -> Callback:
            if self.stopped:
                raise TransferStopped()
            return FileDone(self, path_2)

    return Completions()


def streaming_options(fs: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """s3fs fetches an object above its block size as parallel 50 MB ranges held in memory; one
    stream per object keeps memory flat (objects are already fetched concurrently). A
    ``max_concurrency`` the user set wins."""
    import inspect

    if "max_concurrency" in settings or not getattr(fs, "async_impl", False):
        return {}
    try:
        parameters = inspect.signature(fs._get_file).parameters
    except (TypeError, ValueError):
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in parameters else {}


def transfer_threaded(fs: Any, jobs: list[tuple[Download, str]], url: str) -> Iterator[Batch]:
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(THREADS, len(jobs))), thread_name_prefix="ipy-storage-get"
    )
    pending: dict[Any, tuple[Download, str]] = {}
    queue = iter(jobs)
    try:
        refill(pool, pending, queue, fs)
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            batch: Batch = []
            failure = None
            for future in finished:
                download, temporary = pending.pop(future)
                try:
                    batch.append((download, temporary, future.result()))
                except Exception as exc:
                    failure = failure or exc
            if batch:
                yield batch
            if failure is not None:
                raise describe_failure(failure, url) from None
            refill(pool, pending, queue, fs)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def refill(pool: ThreadPoolExecutor, pending: dict, queue: Iterator, fs: Any) -> None:
    """Keep a bounded number of downloads queued, so an early failure stops the rest quickly."""
    while len(pending) < 2 * THREADS:
        job = next(queue, None)
        if job is None:
            return
        pending[pool.submit(stream_copy, fs, job[0].path, job[1])] = job


def prepare(download: Download, temporary: str, written: Written, outcome: Outcome) -> Entry | None:
    """Clear the way for one downloaded file, keeping the user's work (SPEC §5). Returns the
    manifest entry to commit, or None when the download is not to be placed."""
    rel, result = download.rel, outcome.result
    folder, _, _ = rel.rpartition("/")
    fresh = ensure_folder(folder, outcome)
    target = f"{outcome.root}/{rel}"
    current = None if fresh else lstat(target)  # nothing can be in a folder this pull created
    if download.reason == "update" and current is not None:
        if not same_stat(current, download.seen):
            result.kept_local.append(
                rel
            )  # edited while we were downloading: the user's version wins
            os.unlink(temporary)
            return None
        if written.sha256 == download.seen_sha256:
            # upstream rewrote the object with the same content: nothing to change locally
            outcome.files[rel] = Entry(
                download.identity,
                current.st_size,
                current.st_mtime_ns,
                current.st_ino,
                written.sha256,
            )
            outcome.dirty = True
            os.unlink(temporary)
            return None
    if current is not None and download.reason != "update":
        if (
            stat.S_ISREG(current.st_mode)
            and current.st_size == written.size
            and sha256_file(target) == written.sha256
        ):
            # the user's file already holds upstream's content: track it rather than replace it
            outcome.files[rel] = Entry(
                download.identity,
                current.st_size,
                current.st_mtime_ns,
                current.st_ino,
                written.sha256,
            )
            outcome.dirty = True
            os.unlink(temporary)
            return None
        result.moved_aside[rel] = move_aside(Path(target), outcome.destination)
    return Entry(download.identity, *written)


def commit(batch: list[tuple[Download, str, Entry]], outcome: Outcome, total: int) -> None:
    """Journal a batch, then move its files into place."""
    if not batch:
        return
    outcome.journal.record([(download.rel, entry) for download, _, entry in batch])
    outcome.dirty = True
    result, root = outcome.result, outcome.root
    for download, temporary, entry in batch:
        os.replace(temporary, f"{root}/{download.rel}")
        outcome.files[download.rel] = entry
        (result.modified if download.reason == "update" else result.added).append(download.rel)
        outcome.report.placed(total, result.bytes_transferred, download.rel)


def ensure_folder(folder: str, outcome: Outcome) -> bool:
    """Make ``folder`` (relative) a real directory; says whether this pull created it. A user's
    file or symlink in the way is moved aside, so nothing is written through a link."""
    known = outcome.folders.get(folder)
    if known is not None:
        return known
    parent, _, _ = folder.rpartition("/")
    parent_fresh = ensure_folder(parent, outcome)
    path = f"{outcome.root}/{folder}"
    current = None if parent_fresh else lstat(path)
    if current is not None and not stat.S_ISDIR(current.st_mode):
        outcome.result.moved_aside[folder] = move_aside(Path(path), outcome.destination)
        current = None
    if current is None:
        os.mkdir(path)
    outcome.folders[folder] = current is None
    return current is None


def move_aside(path: Path, destination: Path) -> str:
    """Rename the user's file (or folder, or link) out of an upstream file's way."""
    target = aside_name(path)
    os.replace(path, target)
    return target.relative_to(destination).as_posix()


# --------------------------------------------------------------------------- errors and progress


_BUCKET_MISSING_CODES = {"NoSuchBucket"}
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AuthFailure",
    "AllAccessDisabled",
    "403",
    "401",
}
_AUTH_TYPES = {
    "PermissionError",
    "NoCredentialsError",
    "PartialCredentialsError",
    "ClientAuthenticationError",
}
_NETWORK_TYPES = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ClientConnectorError",
    "ServerDisconnectedError",
    "ConnectionError",
    "TimeoutError",
    "gaierror",
}


def describe_failure(exc: BaseException, url: str) -> StoragePullError:
    """One line a person can act on, with Prefect's hints, and no secret."""
    if isinstance(exc, StoragePullError):
        return exc
    where = redact(url)
    chain = exception_chain(exc)
    names = {cls.__name__ for error in chain for cls in type(error).__mro__}
    codes = {error_code(error) for error in chain} - {None}
    detail = redact(first_line(exc))
    if codes & _BUCKET_MISSING_CODES or "bucket does not exist" in detail.lower():
        return SourceNotFoundError(
            f"Bucket not found for {where} ({detail}): check the bucket name and region."
        )
    if codes & _AUTH_CODES or names & _AUTH_TYPES:
        return AuthenticationError(
            f"Access denied to {where} ({detail}): check permissions and credentials."
        )
    if codes & {"NoSuchKey", "404"} or "FileNotFoundError" in names:
        return SourceNotFoundError(f"Nothing found at {where}: check the path exists.")
    if names & _NETWORK_TYPES:
        return NetworkError(f"Could not reach {where} ({detail}): check network and endpoint.")
    return StoragePullError(f"Pull of {where} failed: {type(exc).__name__}: {detail}")


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def error_code(exc: BaseException) -> str | None:
    """The service's error code (botocore ``ClientError``), if the exception carries one."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class Reporter:
    """Calls the user's progress callback; a failing callback never breaks the pull."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._placed = 0

    def __call__(
        self,
        stage: str,
        done: int = 0,
        total: int | None = None,
        nbytes: int = 0,
        message: str = "",
    ) -> None:
        if self._callback is None:
            return
        try:
            self._callback(
                Progress(stage=stage, done=done, total=total, bytes=nbytes, message=message)
            )
        except Exception:
            log.debug("progress callback failed", exc_info=True)

    def placed(self, total: int, nbytes: int, rel: str) -> None:
        """One more file in place (stage ``download``)."""
        self._placed += 1
        if self._callback is not None:
            self("download", self._placed, total, nbytes, rel)


# --------------------------------------------------------------------------- the pull


def sync_remote(
    url: str,
    settings: dict[str, Any],
    destination: Path,
    *,
    name: str,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Make ``destination`` follow ``url`` incrementally, keeping the user's work (SPEC §3.2, §5).

    The caller holds the destination's lock.
    """
    destination = Path(destination)
    report = Reporter(progress)
    result = PullResult(storage=name, destination=destination)

    report("list", message=redact(url))
    fs, root = open_filesystem(url, settings)
    remote = list_remote(fs, root, url)
    report("list", len(remote.identities), len(remote.identities), message=redact(url))

    if reset:
        result.backup = move_to_backup(destination)
    created = prepare_destination(destination)
    discard_staging(destination)
    files, dirty = load_manifest(destination)
    plan = plan_pull(remote, files, destination)

    outcome = Outcome(destination, files, result, Journal(destination), report, dirty=dirty)
    outcome.folders[""] = created
    for rel in plan.forget:
        outcome.files.pop(rel, None)
    outcome.files.update(plan.acknowledged)
    outcome.dirty |= bool(plan.forget or plan.acknowledged)
    result.kept_local.extend(plan.kept_local)
    try:
        delete_unchanged(outcome, plan.deletions)
        if plan.downloads:
            fetch(fs, plan.downloads, outcome, url, streaming_options(fs, settings))
    finally:
        outcome.journal.close()
        if outcome.dirty:
            save_manifest(destination, url, outcome.files)
        discard_staging(destination)

    for items in (result.added, result.modified, result.deleted, result.kept_local):
        items.sort()
    report(
        "done", len(plan.downloads), len(plan.downloads), result.bytes_transferred, result.summary()
    )
    return result


def prepare_destination(destination: Path) -> bool:
    """Create the destination folder if needed; says whether this pull created it."""
    if destination.is_dir():
        return False
    if destination.exists() or destination.is_symlink():
        raise DestinationConflictError(
            f"The destination {destination} exists and is not a folder: move it away or choose another base path."
        )
    destination.mkdir(parents=True)
    return True


def discard_staging(destination: Path) -> None:
    """Temporary files of an interrupted pull are never content: remove them."""
    staging = destination / STAGING_NAME
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)

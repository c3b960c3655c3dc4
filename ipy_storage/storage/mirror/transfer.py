"""Fetching files into the staging folder, in batches handed over as they complete.

Every file is first written under a temporary name in ``.ipy_storage_staging`` inside the
destination (same file system, so the final ``os.replace`` is atomic). How depends on the source:

- a local folder: small files in one ``read`` and one ``write`` (hashed on the way, cache-hot);
  files above ``HASH_LIMIT`` by ``shutil.copyfile``, which lets the kernel copy (``sendfile`` /
  ``copy_file_range`` on Linux), not hashed: a big file copies at the kernel's speed;
- fsspec's memory filesystem: ``cat_file`` (the bytes are in this process already);
- async back ends (s3fs, gcsfs, adlfs, http): one batched ``fs.get`` (fsspec keeps its batch of
  requests in flight), each file handed over through fsspec's per-file callbacks as it completes;
- any other back end: streamed copies on worker threads, each with a filesystem of its own, or
  one by one on one connection where the back end cannot take more (sftp, ftp: ``backends``).

Local and memory copies run one by one: threads only add GIL contention there (measured 2x
slower). Remote ones run on helper threads that the pull's thread watches (``watchdog``): a
source that stops sending fails the pull instead of holding its lock.
"""

from __future__ import annotations

import inspect
import os
import queue
import shutil
import threading
from collections.abc import Callable, Generator
from typing import Any

from .backends import close_filesystem, is_sequential, thread_filesystem
from .hints import describe_failure
from .keep_work import Download
from .listing import Listing
from .manifest import (
    BLOCK,
    HASH_LIMIT,
    Copy,
    content_digest,
    file_digest,
    finish_digest,
    start_digest,
)
from .watchdog import Watchdog

THREADS = 8  # downloads in flight on sync back ends that talk to something remote
COMMIT_BATCH = 256  # files placed per journal line when copying one by one

Job = tuple[Download, str]  # a download and its temporary path
Batch = list[tuple[Download, str, Copy]]  # downloaded: with the copy as written


def transfer(
    fs: Any, listing: Listing, jobs: list[Job], url: str, settings: dict, watchdog: Watchdog
) -> Generator[Batch, None, None]:
    """Yield batches of finished temporary files; stopping the iterator stops the transfer."""
    from fsspec.implementations.memory import MemoryFileSystem

    if listing.local:
        return one_by_one(
            jobs, url, lambda rel, temporary: copy_local(listing.path(rel), temporary)
        )
    if type(fs) is MemoryFileSystem:
        return one_by_one(
            jobs, url, lambda rel, temporary: write_bytes(fs.cat_file(listing.path(rel)), temporary)
        )
    if getattr(fs, "async_impl", False):
        return batched_get(fs, listing, jobs, url, streaming_options(fs, settings), watchdog)
    return threaded(fs, listing, jobs, url, 1 if is_sequential(fs) else THREADS, watchdog)


# --------------------------------------------------------------------------- one by one


def one_by_one(
    jobs: list[Job], url: str, copy: Callable[[str, str], Copy]
) -> Generator[Batch, None, None]:
    batch: Batch = []
    for download, temporary in jobs:
        try:
            written = copy(download.rel, temporary)
        except Exception as exc:
            if batch:
                yield batch  # placed before the failure surfaces
            raise describe_failure(exc, url, key=download.rel) from None
        batch.append((download, temporary, written))
        if len(batch) >= COMMIT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_local(source: str, temporary: str) -> Copy:
    """A local file to a temporary one: a small one in one ``read`` and one ``write`` (plain
    descriptors: a file object costs more than the copy of a small file), hashed; a big one by
    the kernel (``shutil.copyfile``), not hashed. The listing resolved links; one that appears
    since (a file swapped for a link to somewhere else) is not followed."""
    handle = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        size = os.fstat(handle).st_size
        if size <= HASH_LIMIT:
            data = os.read(handle, size + 1)
            if len(data) != size:  # it changed since, or a short read: on to the end
                data = b"".join([data, *iter(lambda: os.read(handle, BLOCK), b"")])
    finally:
        os.close(handle)
    if size > HASH_LIMIT:
        shutil.copyfile(source, temporary)
        return Copy.of(os.stat(temporary), "")
    return write_bytes(data, temporary)


def write_bytes(data: bytes, temporary: str) -> Copy:
    """Write a new temporary file (never an existing one), hashed up to ``HASH_LIMIT``."""
    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]
        st = os.fstat(out)
    finally:
        os.close(out)
    return Copy.of(st, content_digest(data) if len(data) <= HASH_LIMIT else "")


def stream_copy(fs: Any, remote_path: str, temporary: str, alive: Callable[[], None]) -> Copy:
    """Copy one object block by block (memory stays flat), hashing what ``HASH_LIMIT`` allows;
    ``alive()`` after every block read."""
    digest = start_digest()
    written = 0
    with fs.open(remote_path, "rb") as source, open(temporary, "xb") as target:
        while block := source.read(BLOCK):
            alive()
            written += len(block)
            if written <= HASH_LIMIT:
                digest.update(block)
            target.write(block)
        target.flush()
        st = os.fstat(target.fileno())
    return Copy.of(st, finish_digest(digest) if written <= HASH_LIMIT else "")


def identify(temporary: str) -> Copy:
    """The copy a back end downloaded by itself."""
    st = os.lstat(temporary)
    return Copy.of(st, file_digest(temporary) if st.st_size <= HASH_LIMIT else "")


# --------------------------------------------------------------------------- worker threads


def threaded(
    fs: Any, listing: Listing, jobs: list[Job], url: str, workers: int, watchdog: Watchdog
) -> Generator[Batch, None, None]:
    """Streamed copies on ``workers`` daemon threads; one worker uses ``fs`` itself, several
    have a filesystem each. A failure stops the workers from taking more jobs."""
    count = max(1, min(workers, len(jobs)))
    pool = _Workers(fs, listing, watchdog, shared=count == 1)
    for job in jobs:
        pool.todo.put(job)
    for _ in range(count):
        threading.Thread(target=pool.work, name="ipy-storage-get", daemon=True).start()
    running = count
    try:
        while running:
            arrived = [watchdog.wait(pool.done)]
            while not pool.done.empty():
                arrived.append(pool.done.get())
            running -= arrived.count(None)
            batch, failure = _sort_out(arrived)
            if batch:
                yield batch
            if failure is not None:
                raise describe_failure(failure[0], url, key=failure[1]) from None
    finally:
        pool.stop.set()


class _Workers:
    """The queues the worker threads share: jobs to take, copies (or a failure) handed back,
    and ``None`` from each worker that ended."""

    def __init__(self, fs: Any, listing: Listing, watchdog: Watchdog, shared: bool) -> None:
        self.fs, self.listing, self.watchdog, self.shared = fs, listing, watchdog, shared
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.stop = threading.Event()

    def work(self) -> None:
        """Copy jobs until none is left, the pull stops, or one fails (handed back, then end)."""
        own = self.fs if self.shared else None  # the pull's thread only waits: one may share
        try:
            while not self.stop.is_set():
                try:
                    download, temporary = self.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    own = own if own is not None else thread_filesystem(self.fs)
                    path = self.listing.path(download.rel)
                    copy = stream_copy(own, path, temporary, self.watchdog.alive)
                    self.done.put((download, temporary, copy))
                except BaseException as exc:  # handed to the pull's thread
                    self.done.put((download, temporary, exc))
                    return
        finally:
            if own is not None and not self.shared:
                close_filesystem(own)
            self.done.put(None)


def _sort_out(arrived: list) -> tuple[Batch, tuple[BaseException, str] | None]:
    """The copies that arrived, and the first failure among them (with its key)."""
    batch: Batch = []
    failure = None
    for item in filter(None, arrived):
        if isinstance(item[2], BaseException):
            failure = failure or (item[2], item[0].rel)
        else:
            batch.append(item)
    return batch, failure


# --------------------------------------------------------------------------- fsspec's batched get


def batched_get(
    fs: Any,
    listing: Listing,
    jobs: list[Job],
    url: str,
    options: dict[str, Any],
    watchdog: Watchdog,
) -> Generator[Batch, None, None]:
    """One ``fs.get`` for every file, run in a helper thread; each file is handed over as it
    completes, so files are placed while others download."""
    finished: queue.SimpleQueue = queue.SimpleQueue()
    transfers = file_completions(finished, watchdog.alive)
    download_of = {temporary: download for download, temporary in jobs}
    failure: list[BaseException] = []

    def get_all() -> None:
        try:
            fs.get(
                [listing.path(download.rel) for download, _ in jobs],
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
            arrived = [watchdog.wait(finished)]
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
        worker.join(timeout=watchdog.stall)  # a dead server's request is left to its daemon


class TransferStopped(Exception):
    """Raised inside fsspec's transfer to abort it once nobody waits for the files."""


def file_completions(finished: queue.SimpleQueue, alive: Callable[[], None]) -> Any:
    """An fsspec callback whose per-file children report each finished temporary file, and
    every block they receive (``alive``)."""
    from fsspec.callbacks import Callback

    class FileDone(Callback):
        def __init__(self, parent: Any, temporary: str) -> None:
            super().__init__()
            self.parent = parent
            self.temporary = temporary

        def call(self, *args: Any, **kwargs: Any) -> None:
            alive()
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
    if "max_concurrency" in settings:
        return {}
    try:
        parameters = inspect.signature(fs._get_file).parameters
    except (AttributeError, TypeError, ValueError):
        return {}
    return {"max_concurrency": 1} if "max_concurrency" in parameters else {}

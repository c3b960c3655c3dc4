"""Link pulls on the server: a link's request planned into storages inside the root, then pulled
on a bounded pool of threads, each step told to the progress page as an event.

Planning refuses what a link must not do: name a secret the administrator did not allow for that
source, land outside the root (also through a symlink), or pull two sources into one folder.
Pulls are the core's, so the user's edits in an existing folder are kept (behaviour §5). A second
click on a link whose pull still runs joins it instead of starting another.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..links import LinkError, LinkItem, LinkRequest, check_target
from ..saved_secret import SavedSecret
from ..storage.base import StorageBase
from ..storage.errors import StorageError, error_line
from ..storage.result import Progress
from ..storage.secrets import Secret, redact
from .settings import IPyStorageLinks, under

PROGRESS_EVERY = 0.2  # seconds between progress events of one source
KEEP_FINISHED = 600.0  # seconds a finished job's events stay readable


@dataclass
class Planned:
    """One source of a link, ready to pull: its storage and its folder below the root."""

    item: LinkItem
    storage: StorageBase
    folder: str


def plan(request: LinkRequest, root: Path, settings: IPyStorageLinks) -> list[Planned]:
    """The storages a link asks for, under ``root``; a ``LinkError`` (one line) otherwise."""
    from ..sources import storage_from_source

    planned: list[Planned] = []
    for item in request.items:
        options: dict[str, Any] = {
            "branch": item.branch,
            "commit_sha": item.commit,
            "directories": item.dirs or None,
            "credentials": _credentials(item, settings),
        }
        try:
            storage = storage_from_source(item.source, item.name, pull_interval=None, **options)
        except (StorageError, ValueError) as error:
            raise LinkError(f"{redact(item.source)}: {error_line(error)}") from None
        storage.set_base_path(root)
        folder = _inside(root, storage.destination)
        if any(other.folder == folder for other in planned):
            raise LinkError(f"Two sources would pull into {folder}: give one of them name=.")
        planned.append(Planned(item, storage, folder))
    return planned


def _credentials(item: LinkItem, settings: IPyStorageLinks) -> dict[str, Any] | None:
    """The secret a link names, if the administrator allowed it for this source."""
    if item.token_env is None and item.token_secret is None:
        return None
    kind, name, allowed = (
        ("token_env", item.token_env, settings.token_envs)
        if item.token_env
        else ("token_secret", item.token_secret, settings.token_secrets)
    )
    if name not in allowed:
        raise LinkError(f"{kind}={name} is not allowed on this server (ask its administrator).")
    if not under(item.source.removeprefix("git+"), allowed[name]):
        raise LinkError(f"{kind}={name} may not be sent to {redact(item.source)}.")
    token = Secret.from_env(name) if item.token_env else SavedSecret(name)
    credentials: dict[str, Any] = {"access_token": token}
    if item.username:
        credentials["username"] = item.username
    return credentials


def _inside(root: Path, destination: Path) -> str:
    """``destination`` relative to ``root`` as a checked link path; the folder that exists
    nearest to it must resolve inside the root (no symlink out of it)."""
    try:
        relative = destination.relative_to(root).as_posix()
    except ValueError:
        raise LinkError(f"{destination.name} would land outside the server's folder.") from None
    folder = check_target(relative, "name")
    existing = destination
    while not os.path.lexists(existing) and existing != root:
        existing = existing.parent
    real_root = root.resolve()
    if existing.resolve() != real_root and real_root not in existing.resolve().parents:
        raise LinkError(f"{folder} leads outside the server's folder (a symbolic link).")
    return folder


class PullJob:
    """One link's pull: its events (for any number of pages watching) and its outcome."""

    def __init__(self, planned: list[Planned], redirect: Callable[[bool], str], loop: Any) -> None:
        self.id = secrets.token_urlsafe(16)
        self.planned = planned
        self.events: list[dict[str, Any]] = []
        self.finished_at: float | None = None
        self._redirect = redirect
        self._loop = loop
        self._lock = threading.Lock()
        self._changed = asyncio.Event()

    def key(self) -> tuple:
        return tuple((p.folder, p.item.source) for p in self.planned)

    def since(self, index: int) -> tuple[list[dict[str, Any]], bool]:
        with self._lock:
            return self.events[index:], self.finished_at is not None

    async def changed(self, timeout: float) -> None:
        """Wait until an event is added (or ``timeout`` seconds pass)."""
        waiting = self._changed
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(waiting.wait(), timeout)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def add(self, kind: str, **data: Any) -> None:
        """Record an event (any thread) and wake the pages waiting for it."""
        with self._lock:
            self.events.append({"type": kind, **data})
            if kind == "done":
                self.finished_at = time.monotonic()
        self._loop.call_soon_threadsafe(self._wake)

    def run(self) -> None:
        """Pull each source in turn (a pool thread); one failing does not stop the others."""
        failed = 0
        for index, planned in enumerate(self.planned):
            self.add("start", index=index)
            try:
                result = planned.storage.pull(progress=self._progress(index))
            except Exception as error:  # reported on the page, one line, never a traceback
                failed += 1
                self.add("failed", index=index, message=error_line(error))
                continue
            self.add("result", index=index, summary=result.summary(), kept=result.kept_local,
                     merged=result.merged, moved=result.moved_aside)  # fmt: skip
        self.add("done", ok=not failed, redirect=self._redirect(not failed))

    def _progress(self, index: int) -> Callable[[Progress], None]:
        last = [0.0]

        def report(update: Progress) -> None:
            now = time.monotonic()
            if now - last[0] < PROGRESS_EVERY and update.done != update.total:
                return
            last[0] = now
            self.add("progress", index=index, stage=update.stage, done=update.done,
                     total=update.total, message=update.message)  # fmt: skip

        return report


class JobRunner:
    """The server's link pulls: at most ``max_concurrent_pulls`` at once, the rest queued."""

    def __init__(self, settings: IPyStorageLinks) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, settings.max_concurrent_pulls), thread_name_prefix="ipy-storage-link"
        )
        self._jobs: dict[str, PullJob] = {}
        self._lock = threading.Lock()

    def start(self, job: PullJob) -> PullJob:
        """Run ``job``, or return the same link's pull that is still running."""
        with self._lock:
            self._forget_old()
            for running in self._jobs.values():
                if running.finished_at is None and running.key() == job.key():
                    return running
            self._jobs[job.id] = job
        self._pool.submit(job.run)
        return job

    def get(self, job_id: str) -> PullJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id in [
            job_id
            for job_id, job in self._jobs.items()
            if job.finished_at is not None and now - job.finished_at > KEEP_FINISHED
        ]:
            del self._jobs[job_id]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""Carrying out the decisions in the destination: deletions, then downloads placed atomically.

A downloaded file waits under a temporary name in the staging folder. Just before its batch is
renamed into place the batch is journalled (``manifest.Journal``), so a pull killed at any moment
leaves each file old or new and the next pull converges. Before a file is placed, what is at its
place now is looked at once more (the user may have changed it while the pull ran):

- nothing: the file is placed;
- the user's folder, or a file or link the manifest does not know: moved aside to a free name
  (``notes.local.py``, in ``moved_aside``), unless it already holds upstream's content, which is
  then adopted as it is;
- the copy the update was decided on: replaced (or adopted, when upstream rewrote the same bytes);
- anything else: the user changed it meanwhile; kept, in ``kept_local``.

A folder a file needs is made a real folder first; a user's file or link in its way is moved
aside, so nothing is ever written through a link.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..destination import move_aside
from ..result import PullResult
from .hints import disk_failure
from .keep_work import MERGE, UPDATE, Download, lstat, path_down_from_known, same_stat
from .listing import Listing
from .manifest import BLOCK, Copy, Journal, Manifest, file_digest
from .merge import MirrorMerge
from .pristine import Pristine
from .transfer import Batch, transfer
from .watchdog import Watchdog

STAGING_NAME = ".ipy_storage_staging"


class Placer:
    """Applies one pull's decisions, keeping the manifest in step with the disk."""

    def __init__(
        self,
        destination: Path,
        url: str,
        manifest: Manifest,
        result: PullResult,
        placed: Callable[[int, str], None],
        created: bool,
    ) -> None:
        self.destination = destination
        self.root = str(destination)
        self.url = url
        self.manifest = manifest
        self.result = result
        self.placed = placed  # progress: (files to place, the one just placed)
        self.journal = Journal(destination)
        self.pristine = Pristine(destination, manifest)  # what was pulled: later merges' base
        self.merger = MirrorMerge(destination, self.pristine, manifest, result)
        self.folders: dict[str, bool] = {"": created}  # ready folder → made by this pull

    # -- deletions ----------------------------------------------------------------------------

    def delete(self, deletions: list[tuple[str, os.stat_result]]) -> None:
        """Remove files upstream deleted, unless the user touched them since they were looked at."""
        for rel, seen in deletions:
            target = self.destination / rel
            current = lstat(target)
            if current is not None and not same_stat(current, seen):
                self.result.kept_local.append(rel)
            elif current is not None:
                try:
                    target.unlink()
                except OSError as exc:
                    raise disk_failure(exc, rel, self.url, "deleting") from None
                self.result.deleted.append(rel)
                prune_empty_folders(target.parent, self.destination)
            self.manifest.forget(rel)

    # -- downloads ----------------------------------------------------------------------------

    def fetch(
        self,
        fs: Any,
        listing: Listing,
        downloads: list[Download],
        settings: dict,
        watchdog: Watchdog,
    ) -> None:
        """Download into the staging folder; each batch of finished downloads is journalled once
        and moved into place, so whatever arrived before a failure is in place too."""
        # a folder of this pull's own: a download a dead server left hanging in an earlier pull
        # may wake up later, and must find no folder to write into
        staging = self.destination / STAGING_NAME / uuid.uuid4().hex[:12]
        staging.mkdir(parents=True)
        jobs = [(download, f"{staging}/{index:07d}") for index, download in enumerate(downloads)]
        batches = transfer(fs, listing, jobs, self.url, settings, watchdog)
        try:
            for batch in batches:
                self.place(batch, len(jobs))
        finally:
            batches.close()  # stops the downloads still in flight
            self.journal.close()

    def place(self, batch: Batch, total: int) -> None:
        """Clear the way for each file of a batch, then commit the ones to place (also those
        prepared before a failure: a user's file moved aside has its replacement in place)."""
        ready, failure = [], None
        for download, temporary, written in batch:
            self.result.bytes_transferred += written.size
            try:
                wanted = self.prepare(download, temporary, written)
            except OSError as exc:
                failure = disk_failure(exc, download.rel, self.url, "placing")
                break
            if wanted:
                ready.append((download, temporary, written))
            else:
                os.unlink(temporary)
                self.placed(total, download.rel)  # kept or adopted: done too
        self.commit(ready, total)
        if failure is not None:
            raise failure

    def commit(self, ready: Batch, total: int) -> None:
        """Journal the batch, then rename each file into place."""
        if not ready:
            return
        self.journal.record(
            [(download.rel, download.identity, copy) for download, _, copy in ready]
        )
        for download, temporary, copy in ready:
            self.pristine.keep(temporary, copy)
            try:
                os.replace(temporary, f"{self.root}/{download.rel}")
            except OSError as exc:
                raise disk_failure(exc, download.rel, self.url, "placing") from None
            self.manifest.record(download.rel, download.identity, copy)
            changes = self.result.modified if download.reason == UPDATE else self.result.added
            changes.append(download.rel)
            self.placed(total, download.rel)

    def prepare(self, download: Download, temporary: str, written: Copy) -> bool:
        """Clear the way for one downloaded file, keeping the user's work (behaviour §5); says
        whether the download is to be placed."""
        rel = download.rel
        if download.reason == MERGE:
            self.merger.merge(download, temporary, written)
            return False
        fresh = self.ensure_folder(rel.rpartition("/")[0])
        target = f"{self.root}/{rel}"
        current = None if fresh else lstat(target)  # nothing is in a folder this pull made
        if current is None:
            return True
        if stat.S_ISDIR(current.st_mode):  # the user's folder where upstream's file goes
            self.move_aside(rel)
            return True
        if download.reason == UPDATE:
            if not same_stat(current, download.seen):
                self.result.kept_local.append(rel)  # changed while we downloaded: theirs wins
                return False
            if holds_download(target, current, temporary, written, download.seen_digest):
                self.adopt(rel, download.identity, current, written, temporary)  # the same
                return False
            return True
        if stat.S_ISREG(current.st_mode) and holds_download(
            target, current, temporary, written, ""
        ):
            self.adopt(rel, download.identity, current, written, temporary)  # has upstream's
            return False
        self.move_aside(rel)
        return True

    def adopt(
        self, rel: str, identity: str, current: os.stat_result, written: Copy, temporary: str
    ) -> None:
        """Track the file at ``rel`` as it is: it already holds upstream's content."""
        self.pristine.keep(temporary, written)
        self.manifest.record(rel, identity, Copy.of(current, written.digest))

    def ensure_folder(self, folder: str) -> bool:
        """Make ``folder`` (relative) a real folder; says whether this pull made it."""
        known, unknown = path_down_from_known(folder, self.folders)
        fresh = self.folders[known]
        for folder in unknown:
            current = None if fresh else lstat(f"{self.root}/{folder}")
            if current is not None and not stat.S_ISDIR(current.st_mode):
                self.move_aside(folder)  # the user's file or link where upstream needs a folder
                current = None
            if current is None:
                os.mkdir(f"{self.root}/{folder}")
            fresh = current is None
            self.folders[folder] = fresh
        return fresh

    def move_aside(self, rel: str) -> None:
        self.result.moved_aside[rel] = move_aside(self.destination / rel, self.destination)


def holds_download(
    target: str, current: os.stat_result, temporary: str, written: Copy, known: str
) -> bool:
    """Whether the file at ``target`` has the downloaded content: by digest where the copy was
    hashed (``known``: the target's digest, if known), else byte by byte (big files)."""
    if not stat.S_ISREG(current.st_mode) or current.st_size != written.size:
        return False
    if written.digest:
        return (known or file_digest(target)) == written.digest
    return same_bytes(target, temporary)


def same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as first, open(b, "rb") as second:
        while True:
            block = first.read(BLOCK)
            if block != second.read(BLOCK):
                return False
            if not block:
                return True


def prune_empty_folders(folder: Path, destination: Path) -> None:
    """Remove folders a deletion left empty (rmdir only: never anything with content)."""
    while folder != destination and destination in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def discard_staging(destination: Path) -> None:
    """Temporary files of an interrupted pull are never content: remove them."""
    staging = destination / STAGING_NAME
    if staging.exists():
        shutil.rmtree(staging, ignore_errors=True)

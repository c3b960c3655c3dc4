"""One pull, in the order the package docstring tells it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..destination import move_to_backup
from ..errors import DestinationConflictError
from ..result import Progress, ProgressCallback, PullResult
from ..secrets import redact
from .keep_work import Decisions, decide, settled_folders
from .listing import Listing
from .manifest import Manifest
from .placement import Placer, discard_staging
from .source import list_source, open_filesystem, release_filesystem
from .watchdog import Watchdog


def pull_mirror(
    url: str,
    settings: dict[str, Any],
    destination: Path,
    *,
    name: str,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Make ``destination`` follow ``url`` incrementally, keeping the user's work (behaviour §3.2, §5).

    The caller holds the destination's lock (``StorageBase.pull`` takes it).
    """
    destination = Path(destination)
    report = Reporter(progress)
    result = PullResult(storage=name, destination=destination)

    report("list", message=redact(url))
    fs, root = open_filesystem(url, settings)
    succeeded = False
    try:
        MirrorPull(fs, url, settings, destination, result, report).run(root, reset)
        succeeded = True
        return result
    finally:
        release_filesystem(fs, url, settings, succeeded)


class MirrorPull:
    """One pull once the source is open, as named steps: list, decide, place, record."""

    def __init__(
        self,
        fs: Any,
        url: str,
        settings: dict[str, Any],
        destination: Path,
        result: PullResult,
        report: Reporter,
    ) -> None:
        self.fs, self.url, self.settings = fs, url, settings
        self.destination, self.result, self.report = destination, result, report
        self.watchdog = Watchdog(fs, url)

    def run(self, root: str, reset: bool) -> None:
        listing = self.list(root)
        if reset:
            self.result.backup = move_to_backup(self.destination)
        created = prepare_destination(self.destination)
        discard_staging(self.destination)
        manifest = Manifest.load(self.destination)
        decisions = self.decide(listing, manifest)
        try:
            self.place(listing, manifest, decisions, created)
        finally:
            manifest.save(self.destination, self.url)  # also what a failed pull placed
            discard_staging(self.destination)
        total = len(decisions.downloads)
        self.report("done", total, total, self.result.bytes_transferred, self.result.summary())

    def list(self, root: str) -> Listing:
        """The source's files (what cannot be pulled is reported, not pulled)."""
        listing = list_source(self.fs, root, self.url, self.destination, self.watchdog)
        self.result.skipped.extend(listing.skipped)
        self.result.notes.extend(listing.notes)
        count = len(listing.files)
        self.report("list", count, count, message=redact(self.url))
        return listing

    def decide(self, listing: Listing, manifest: Manifest) -> Decisions:
        """behaviour §5 for every path; the manifest learns what needs no transfer."""
        decisions = decide(listing, manifest, self.destination)
        for rel in decisions.forget:
            manifest.forget(rel)
        for rel, identity in decisions.acknowledged:
            manifest.acknowledge(rel, identity)
        self.result.kept_local.extend(decisions.kept_local)
        return decisions

    def place(
        self, listing: Listing, manifest: Manifest, decisions: Decisions, created: bool
    ) -> None:
        """Deletions, then downloads placed as they complete, then the folders found settled."""
        placed = self.report.placer(self.result)
        placer = Placer(self.destination, self.url, manifest, self.result, placed, created)
        placer.delete(decisions.deletions)
        if decisions.downloads:
            placer.fetch(self.fs, listing, decisions.downloads, self.settings, self.watchdog)
        if manifest.changes:
            manifest.settle(settled_folders(self.destination, listing, manifest.folders))


def prepare_destination(destination: Path) -> bool:
    """Create the destination folder if needed; says whether this pull created it."""
    if destination.is_dir():
        return False
    if destination.exists() or destination.is_symlink():
        raise DestinationConflictError(
            f"The destination {destination} exists and is not a folder: move it away or choose "
            "another base path."
        )
    destination.mkdir(parents=True)
    return True


class Reporter:
    """Feeds the progress callback (``StorageBase.pull`` hands in one that never raises)."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def __call__(
        self,
        stage: str,
        done: int = 0,
        total: int | None = None,
        nbytes: int = 0,
        message: str = "",
    ) -> None:
        if self._callback is not None:
            self._callback(
                Progress(stage=stage, done=done, total=total, bytes=nbytes, message=message)
            )

    def placer(self, result: PullResult) -> Any:
        """``placed(total, rel)`` for the placer: one more file done (stage ``download``)."""
        done = 0

        def placed(total: int, rel: str) -> None:
            nonlocal done
            done += 1
            if self._callback is not None:
                self("download", done, total, result.bytes_transferred, rel)

        return placed

"""One pull, in the order the package docstring tells it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..destination import move_to_backup
from ..errors import DestinationConflictError
from ..result import Progress, ProgressCallback, PullResult
from ..secrets import redact
from .keep_work import decide, settled_folders
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
        pulled = pull_listed(fs, root, url, settings, destination, result, reset, report)
        succeeded = True
        return pulled
    finally:
        release_filesystem(fs, url, settings, succeeded)


def pull_listed(
    fs: Any,
    root: str,
    url: str,
    settings: dict[str, Any],
    destination: Path,
    result: PullResult,
    reset: bool,
    report: Reporter,
) -> PullResult:
    """The pull once the source is open: list, decide, delete, download, record."""
    watchdog = Watchdog(fs, url)
    listing = list_source(fs, root, url, destination, watchdog)
    result.skipped.extend(listing.skipped)
    result.notes.extend(listing.notes)
    report("list", len(listing.files), len(listing.files), message=redact(url))

    if reset:
        result.backup = move_to_backup(destination)
    created = prepare_destination(destination)
    discard_staging(destination)
    manifest = Manifest.load(destination)
    decisions = decide(listing, manifest, destination)

    for rel in decisions.forget:
        manifest.forget(rel)
    for rel, identity in decisions.acknowledged:
        manifest.acknowledge(rel, identity)
    result.kept_local.extend(decisions.kept_local)
    total = len(decisions.downloads)
    placer = Placer(destination, url, manifest, result, report.placer(result), created)
    try:
        placer.delete(decisions.deletions)
        if decisions.downloads:
            placer.fetch(fs, listing, decisions.downloads, settings, watchdog)
        if manifest.changes:
            manifest.settle(settled_folders(destination, listing, manifest.folders))
    finally:
        manifest.save(destination, url)
        discard_staging(destination)

    report("done", total, total, result.bytes_transferred, result.summary())
    return result


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

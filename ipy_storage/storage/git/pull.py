"""One pull of a git repository: the entry point the ``GitRepository`` storage calls."""

from __future__ import annotations

from pathlib import Path

from ..result import ProgressCallback, PullResult
from .checkout import inspect_destination
from .clone import clone, remove_leftovers
from .runner import GitRunner
from .source import GitSource
from .update import Update


def pull_checkout(
    source: GitSource,
    destination: Path,
    name: str,
    reset: bool = False,
    progress: ProgressCallback | None = None,
) -> PullResult:
    """Clone or update ``destination`` from ``source`` (the caller holds the destination lock).

    ``reset`` makes it exactly upstream: a fresh clone, the old folder kept as a backup.
    """
    runner = GitRunner(source, destination, progress)
    result = PullResult(storage=name, destination=destination)
    checkout = None if reset else inspect_destination(runner, source, destination)
    if checkout is None:
        clone(runner, source, destination, result, reset=reset)
    else:
        remove_leftovers(destination)
        Update(runner, source, checkout, result).run()
    result.bytes_transferred = runner.bytes_transferred
    runner.report("done", message=result.summary())
    return result

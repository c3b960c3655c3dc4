"""A sparse pull's clone is partial: it holds the contents of the files it has checked out and
fetches any other one the moment git reads it — one request each. Before an update writes or
merges many files, the missing ones are fetched together, in one request, as git's own
checkout does (``checkout-index`` and ``cat-file`` would fetch them one by one)."""

from __future__ import annotations

import os
from pathlib import Path

from .layout import index_entries
from .runner import GitRunner

SUBMODULE = "160000"  # a gitlink: a commit of another repository, nothing to fetch here


def fetch_missing_contents(runner: GitRunner, root: Path, paths: list[str]) -> None:
    """Fetch in one request the contents the index names for ``paths`` that the clone lacks."""
    if len(paths) < 2 or not _is_partial(runner, root):
        return
    wanted = set(paths)
    blobs = {
        blob
        for path, (mode, blob) in index_entries(runner, root).items()
        if path in wanted and mode != SUBMODULE
    }
    missing = sorted(blobs - _present_objects(runner, root))
    if len(missing) < 2:
        return
    runner.run(
        "-c",
        "fetch.negotiationAlgorithm=noop",  # the blobs are named: nothing to negotiate
        "fetch",
        "--no-tags",
        "--no-write-fetch-head",
        "--recurse-submodules=no",
        "--filter=blob:none",
        "--stdin",
        "origin",
        cwd=root,
        input="".join(blob + "\n" for blob in missing).encode(),
        network=True,
        action="Fetching files of",
    )


def _is_partial(runner: GitRunner, root: Path) -> bool:
    promisor = runner.run("config", "--get", "remote.origin.promisor", cwd=root, check=False)
    return promisor.stdout.strip() == b"true"


def _present_objects(runner: GitRunner, root: Path) -> set[str]:
    """Every object the clone holds (listing them never fetches)."""
    output = runner.run(
        "cat-file", "--batch-all-objects", "--batch-check=%(objectname)", "--unordered", cwd=root
    )
    return set(os.fsdecode(output.stdout).split())

"""A sparse pull's clone is partial: it holds the contents of the files it has checked out and
fetches any other one the moment git reads it — one request each. Before an update writes or
merges many files, their contents are fetched together, in one request, as git's own checkout
does (``checkout-index`` and ``cat-file`` would fetch them one by one). The contents an update
writes are new to the clone (its fetch brought none), so they are asked for without a look at
what the clone holds; a file the user deleted comes back from contents it has."""

from __future__ import annotations

from pathlib import Path

from .runner import GitRunner


def fetch_contents(runner: GitRunner, root: Path, blobs: set[str]) -> None:
    """Fetch ``blobs`` in one request, when the clone is partial and there is more than one."""
    if len(blobs) < 2 or not _is_partial(runner, root):
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
        input="".join(blob + "\n" for blob in sorted(blobs)).encode(),
        network=True,
        action="Fetching files of",
    )


def _is_partial(runner: GitRunner, root: Path) -> bool:
    promisor = runner.run("config", "--get", "remote.origin.promisor", cwd=root, check=False)
    return promisor.stdout.strip() == b"true"

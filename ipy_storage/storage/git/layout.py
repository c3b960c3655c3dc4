"""What the work tree shows: the sparse-checkout cone of ``directories``, the submodules, and
the list of pulled files a user sees."""

from __future__ import annotations

import os
from pathlib import Path

from .runner import GitRunner


def set_cone(runner: GitRunner, root: Path, cone: list[str] | None) -> None:
    """Check out only ``cone`` (names on stdin, so ``--x`` stays a name); None: everything."""
    if cone:
        runner.run(
            "sparse-checkout",
            "set",
            "--cone",
            "--stdin",
            cwd=root,
            input="".join(d + "\n" for d in cone).encode(),
            network=True,  # a partial clone fetches the cone's files now
            action="Sparse checkout of",
        )
    else:
        runner.run(
            "sparse-checkout", "disable", cwd=root, network=True, action="Sparse checkout of"
        )


def index_entries(runner: GitRunner, root: Path) -> dict[str, tuple[str, str]]:
    """Every entry of the index: path → (mode, blob)."""
    entries = {}
    for entry in os.fsdecode(runner.run("ls-files", "-z", "-s", cwd=root).stdout).split("\0"):
        if entry:
            meta, _, path = entry.partition("\t")
            mode, blob, _stage = meta.split()
            entries[path] = (mode, blob)
    return entries


def update_submodules(runner: GitRunner, root: Path) -> None:
    """Submodules at the commits the checkout records, cloned shallowly with the same
    credentials (the header is scoped to the host, so same-host submodules get it)."""
    runner.report("submodules", message="Updating submodules")
    runner.run("submodule", "sync", "--recursive", cwd=root, action="Syncing submodules of")
    runner.run(
        "submodule",
        "update",
        "--init",
        "--recursive",
        "--depth",
        "1",
        cwd=root,
        network=True,
        action="Updating submodules of",
    )


def visible_files(runner: GitRunner, root: Path, sparse: bool = True) -> list[str]:
    """Pulled files present in the work tree, in git's order (a submodule counts as one entry,
    as in git); ``sparse=False`` when no file can be outside a cone (a full clone)."""
    if not sparse:
        return os.fsdecode(runner.run("ls-files", "-z", cwd=root).stdout).split("\0")[:-1]
    output = os.fsdecode(runner.run("ls-files", "-z", "-t", cwd=root).stdout)
    return [entry[2:] for entry in output.split("\0") if entry and not entry.startswith("S ")]

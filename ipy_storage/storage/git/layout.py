"""What the work tree shows: the sparse-checkout cone of ``directories``, the submodules, and
the list of pulled files a user sees."""

from __future__ import annotations

import os
from pathlib import Path

from .runner import GitRunner
from .source import in_cone


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


def entering_and_leaving(
    runner: GitRunner, root: Path, old: list[str] | None, new: list[str] | None
) -> tuple[dict[str, str], list[str]]:
    """For a change of cone from ``old`` to ``new``: the pulled files it brings into the work
    tree (path → blob) and those it takes out. Judged by the cones, not by git's skip-worktree
    bits: git clears a bit when the user has put a file of their own at that path."""
    entering, leaving = {}, []
    output = os.fsdecode(runner.run("ls-files", "-z", "-s", cwd=root).stdout)
    for entry in output.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        was, will = in_cone(path, old), in_cone(path, new)
        if will and not was:
            entering[path] = meta.split()[1]
        elif was and not will:
            leaving.append(path)
    return entering, leaving


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

"""What the work tree shows: the sparse-checkout cone of ``directories``, the submodules, and
the list of pulled files a user sees."""

from __future__ import annotations

import os
from pathlib import Path

from ..result import PullResult
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


def change_cone(runner: GitRunner, root: Path, cone: list[str] | None, result: PullResult) -> None:
    """Apply a different ``directories`` list to an existing checkout. git keeps files the user
    changed that fall outside the new cone; running it again after a kill finishes it."""
    runner.report("sparse", message="Changing the checked-out directories")
    before = set(visible_files(runner, root))
    set_cone(runner, root, cone)
    after = set(visible_files(runner, root))
    appeared, hidden = after - before, before - after
    result.added += sorted(appeared)
    result.deleted += sorted(hidden)
    result.modified[:] = [path for path in result.modified if path not in hidden]


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

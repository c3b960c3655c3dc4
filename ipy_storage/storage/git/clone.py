"""First pulls and resets: a shallow clone into a hidden folder beside the destination, renamed
into place only when complete, so a killed clone never leaves a half-filled destination (the next
pull removes its leftovers). A reset clones first too: the user's folder moves to its backup only
once upstream is safely here, so a reset while the server is down changes nothing."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from pathlib import Path

from ..destination import move_to_backup
from ..errors import SourceNotFoundError
from ..result import PullResult
from ..secrets import redact
from .checkout import Checkout, head_commit
from .fetching import fetch_commit
from .layout import set_cone, update_submodules, visible_files
from .runner import GitRunner
from .source import GitSource
from .tracked_dirs import FolderSnapshot, folders_of


def leftover_prefix(destination: Path) -> str:
    return f".{destination.name}.pulling-"


def remove_leftovers(destination: Path) -> None:
    """Hidden partial clones of pulls that were killed."""
    pattern = glob.escape(str(destination.parent / leftover_prefix(destination))) + "*"
    for leftover in glob.glob(pattern):
        shutil.rmtree(leftover, ignore_errors=True)


def clone(
    runner: GitRunner, source: GitSource, destination: Path, result: PullResult, reset: bool
) -> None:
    """Clone into ``destination`` (which is missing or empty; with ``reset``, whatever is there
    goes to its backup first)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(destination)
    temp = Path(tempfile.mkdtemp(prefix=leftover_prefix(destination), dir=destination.parent))
    try:
        revision = _clone_into(runner, source, temp)
        files = visible_files(runner, temp, sparse=bool(source.cone))
        Checkout(temp, temp / ".git").record(source, revision)
        if reset:
            result.backup = move_to_backup(destination)
        elif destination.is_dir():
            destination.rmdir()  # the empty folder that was there (a full one was refused)
        os.rename(temp, destination)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    bookkeeping = Checkout(destination, destination / ".git").bookkeeping
    snapshot = FolderSnapshot(bookkeeping, destination, revision)
    snapshot.refresh(folders_of(files))
    snapshot.save(files, revision)
    result.added += files
    result.revision = revision


def _clone_into(runner: GitRunner, source: GitSource, temp: Path) -> str:
    runner.report("cloning", message=f"Cloning {source.url}")
    cone = source.cone
    if source.commit_sha:
        revision = _clone_commit(runner, source, temp, cone)
    else:
        options = ["--depth", "1", "--no-local", *runner.progress_flag()]
        if source.branch:
            options += ["--branch", source.branch]
        if cone:
            options += ["--filter=blob:none", "--no-checkout"]
        elif source.include_submodules:
            options += ["--recurse-submodules", "--shallow-submodules"]
        runner.check_clone_options(options)
        runner.stream(
            "clone",
            *options,
            "--",
            source.url,
            str(temp),
            action="Cloning",
            hint="check the branch name",
        )
        if cone:
            set_cone(runner, temp, cone)
            runner.run(
                "checkout", *runner.progress_flag(), cwd=temp, network=True, action="Checking out"
            )
        head = head_commit(runner, temp, temp / ".git")
        if head is None:
            raise SourceNotFoundError(
                redact(f"The repository {source.url} has no commits yet: push a commit first.")
            )
        revision = head
    if source.include_submodules and (cone or source.commit_sha):
        update_submodules(runner, temp)
    return revision


def _clone_commit(runner: GitRunner, source: GitSource, temp: Path, cone: list[str] | None) -> str:
    """A commit pin: ``init`` + a fetch of that commit + a detached checkout."""
    runner.check_clone_options([])
    runner.run("init", "-q", str(temp))
    runner.run("remote", "add", "origin", "--", source.url, cwd=temp)
    if cone:
        runner.run("config", "remote.origin.promisor", "true", cwd=temp)
        runner.run("config", "remote.origin.partialclonefilter", "blob:none", cwd=temp)
    revision = fetch_commit(runner, source, temp)
    if cone:
        set_cone(runner, temp, cone)
    runner.run(
        "checkout",
        *runner.progress_flag(),
        "--detach",
        revision,
        cwd=temp,
        network=True,
        action="Checking out",
    )
    return revision

"""What the remote has, and getting it: the one-round-trip check of a later pull
(``git ls-remote``), and shallow fetches of a branch tip or a pinned commit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import SourceNotFoundError
from ..secrets import redact
from .checkout import Checkout, read_ref
from .runner import GitRunner
from .source import GitSource

FETCHED_REF = "refs/ipy-storage/fetched"
# Above this many refs, protocol v0's advertisement of all refs costs more than v2's second
# request.
MANY_REFS = 1000
COMMIT_HINT = "check the commit SHA (the full 40-character SHA of a pushed commit)"


@dataclass(frozen=True)
class Tip:
    """The commit upstream's branch (or tag, or default branch) points at now."""

    sha: str
    ref: str  # refs/heads/<branch>, refs/tags/<tag> or HEAD

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")


@dataclass
class PendingCheck:
    process: Any
    patterns: list[str]
    single_request: bool


def start_check(runner: GitRunner, source: GitSource, checkout: Checkout) -> PendingCheck:
    """Ask the remote for its tip without waiting (local work overlaps the round trip).

    Over HTTP, protocol v0 answers in a single request (v2 needs two). It sends every ref of
    the repository though, so one with very many refs is asked with protocol v2 from then on.
    """
    if source.branch:
        b = source.branch
        patterns = [f"refs/heads/{b}", f"refs/tags/{b}^{{}}", f"refs/tags/{b}"]
    else:
        patterns = ["HEAD"]
    runner.report("checking", message=f"Checking {source.url}")
    single = urlsplit(source.url).scheme in ("http", "https") and not checkout.state.get(
        "many_refs"
    )
    args = (
        ["-c", "protocol.version=0", "ls-remote", "origin"]
        if single
        else ["ls-remote", "origin", *patterns]
    )
    return PendingCheck(runner.start(*args, cwd=checkout.root), patterns, single)


def finish_check(
    runner: GitRunner, pending: PendingCheck, source: GitSource, checkout: Checkout
) -> Tip:
    out = os.fsdecode(
        runner.finish(pending.process, network=True, action="Checking").stdout
    ).strip()
    refs = {}
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        refs[name] = sha
    if pending.single_request and len(refs) > MANY_REFS and checkout.state:
        checkout.remember(many_refs=True)
    for name in pending.patterns:
        if name in refs:
            return Tip(refs[name], name.removesuffix("^{}"))
    what = f"Branch {source.branch!r}" if source.branch else "The default branch"
    raise SourceNotFoundError(
        redact(f"{what} was not found in {source.url}: check the branch name.")
    )


def _shallow_fetch(runner: GitRunner) -> list[str]:
    """One commit, no tags, no submodules: a pull needs the tip's tree and nothing else."""
    return [
        "fetch",
        "--depth",
        "1",
        "--no-tags",
        *runner.progress_flag(),
        "--no-recurse-submodules",
    ]


def fetch_tip(runner: GitRunner, root: Path, tip: Tip) -> str:
    """Fetch upstream's tip shallowly (force-pushes need no common history)."""
    runner.report("fetching", message="Fetching")
    runner.stream(
        *_shallow_fetch(runner),
        "--no-write-fetch-head",
        "origin",
        f"+{tip.ref}:{FETCHED_REF}",
        cwd=root,
        action="Fetching",
        hint="check the branch name",
    )
    if read_ref(root / ".git", FETCHED_REF) == tip.sha:  # what ls-remote saw: no git needed
        return tip.sha
    return runner.text("rev-parse", "--verify", f"{FETCHED_REF}^{{commit}}", cwd=root)


def fetch_commit(runner: GitRunner, source: GitSource, root: Path) -> str:
    """Fetch the pinned commit. A full SHA is fetched alone and shallowly; an abbreviated one
    can only be resolved locally, so the history (commits and trees, no file contents) comes
    first — all of it, also when the checkout is shallow."""
    sha = source.ref  # the pinned commit, lower-cased
    if len(sha) in (40, 64):
        runner.stream(
            *_shallow_fetch(runner),
            "origin",
            sha,
            cwd=root,
            action="Fetching commit",
            hint=COMMIT_HINT,
        )
        return sha
    deepen = ["--unshallow"] if (root / ".git" / "shallow").exists() else []
    runner.stream(
        "fetch",
        *deepen,
        "--filter=blob:none",
        "--tags",
        *runner.progress_flag(),
        "--no-recurse-submodules",
        "origin",
        cwd=root,
        action="Fetching history of",
        hint=COMMIT_HINT,
    )
    found = runner.text(
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{sha}^{{commit}}",
        cwd=root,
        check=False,
    )
    if not found:
        raise SourceNotFoundError(
            redact(f"Commit {sha} was not found in {source.url}: {COMMIT_HINT}.")
        )
    return found

"""What an existing destination holds: its git directory, what was pulled into it last (the state
file), an update a killed pull left unfinished (the journal), and git lock files a dead process
left behind. Our bookkeeping lives in ``.git/ipy-storage/``, never in the user's files."""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..destination import read_json, write_json_atomic
from ..errors import DestinationConflictError, StoragePullError
from .runner import GitRunner
from .source import GitSource, same_repository, strip_userinfo

STATE_VERSION = 2
BOOKKEEPING = "ipy-storage"
# git's own locks; a dead git leaves them behind and every later git command then fails.
GIT_LOCKS = ("index.lock", "shallow.lock", "HEAD.lock", "config.lock", "packed-refs.lock")
LIVE_LOCK_WAIT = 10.0
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass
class Checkout:
    """An existing checkout of the configured repository."""

    root: Path
    git_dir: Path
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def bookkeeping(self) -> Path:
        return self.git_dir / BOOKKEEPING

    @property
    def upstream(self) -> str | None:
        """The upstream commit pulled last."""
        return self.state.get("upstream")

    @property
    def directories(self) -> list[str] | None:
        return self.state.get("directories")

    @property
    def journal_path(self) -> Path:
        return self.bookkeeping / "update.json"

    def journal(self) -> dict[str, Any] | None:
        """The update a killed pull was applying (old and new commit), if any."""
        journal = read_json(self.journal_path)
        return journal if isinstance(journal, dict) and journal.get("new") else None

    def begin_update(self, old: str, new: str, cones: list) -> None:
        """Before the index or work tree is touched: from now on a pull that dies here is
        finished by the next one (the same commits and cones)."""
        self.bookkeeping.mkdir(exist_ok=True)
        write_json_atomic(self.journal_path, {"old": old, "new": new, "cones": cones})

    def end_update(self) -> None:
        self.journal_path.unlink(missing_ok=True)

    def symbolic_head(self) -> str | None:
        """The branch HEAD names, read from git's file (None when detached or unreadable)."""
        try:
            head = (self.git_dir / "HEAD").read_text().strip()
        except OSError:
            return None
        return head[5:] if head.startswith("ref: ") else None

    def remember(self, **facts: Any) -> None:
        """Keep facts about the remote (not what was pulled) in the state file at once."""
        self.state.update(facts)
        self.bookkeeping.mkdir(exist_ok=True)
        write_json_atomic(self.bookkeeping / "state.json", self.state)

    def record(self, source: GitSource, upstream: str, **extra: Any) -> None:
        """Remember what was pulled (no secrets: the URL is credential-free)."""
        self.state = {
            "version": STATE_VERSION,
            "url": source.url,
            "ref": source.ref,
            "upstream": upstream,
            "directories": source.cone,
            "submodules": source.include_submodules,
            "many_refs": bool(self.state.get("many_refs")),
            **extra,
        }
        self.bookkeeping.mkdir(exist_ok=True)
        write_json_atomic(self.bookkeeping / "state.json", self.state)


def inspect_destination(runner: GitRunner, source: GitSource, root: Path) -> Checkout | None:
    """None when a clone is needed; the checkout when ``root`` holds this repository."""
    if not os.path.lexists(root):
        return None
    if not root.is_dir() or root.is_symlink():
        raise DestinationConflictError(
            f"The destination {root} exists and is not a folder: move it away or choose "
            "another name= for this storage."
        )
    dot_git = root / ".git"
    if not os.path.lexists(dot_git):
        with os.scandir(root) as entries:
            if next(entries, None) is None:
                return None
        raise DestinationConflictError(
            f"The destination {root} exists and is not a git repository: move it away or choose "
            "another name= for this storage (nothing was changed)."
        )
    if dot_git.is_dir():
        git_dir = dot_git
    else:
        git_dir = Path(runner.text("rev-parse", "--absolute-git-dir", cwd=root))
    remove_stale_locks(git_dir)
    origin = origin_url(runner, root, git_dir)
    if not origin or not same_repository(origin, source.url):
        raise DestinationConflictError(
            f"The existing repository at {root} does not match the configured repository "
            f"{source.url}"
        )
    if strip_userinfo(origin) != origin:  # a token another tool left in .git/config
        runner.run("remote", "set-url", "origin", strip_userinfo(origin), cwd=root)
    checkout = Checkout(root, git_dir, read_json(git_dir / BOOKKEEPING / "state.json") or {})
    if not checkout.state:  # cloned by someone else: what is checked out counts as pulled
        checkout.state = {"upstream": head_commit(runner, root, git_dir)}
        sparse = runner.text("config", "--bool", "core.sparseCheckout", cwd=root, check=False)
        if sparse == "true":
            listed = runner.text("sparse-checkout", "list", cwd=root, check=False)
            checkout.state["directories"] = [line for line in listed.splitlines() if line] or None
    return checkout


def origin_url(runner: GitRunner, root: Path, git_dir: Path) -> str:
    """``remote.origin.url``: read from ``.git/config`` when it is plain (this runs on every
    pull, and a git process costs more than the read); git's own answer when it is not."""
    try:
        text = (git_dir / "config").read_text()
    except (OSError, UnicodeDecodeError):
        text = "[include]"
    section, urls = "", []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line.replace(" ", "").lower()
        elif section == '[remote"origin"]' and line.partition("=")[0].strip().lower() == "url":
            urls.append(line.partition("=")[2].strip())
    if len(urls) == 1 and "include" not in text.lower() and not re.search(r'["\\;#]', urls[0]):
        return urls[0]
    return runner.text("config", "--get", "remote.origin.url", cwd=root, check=False)


def head_commit(runner: GitRunner, root: Path, git_dir: Path) -> str | None:
    """The commit HEAD names: read from git's files when they are plain (a fresh clone's
    are), git's own answer otherwise."""
    sha = read_ref(git_dir, "HEAD")
    if sha:
        return sha
    found = runner.text("rev-parse", "--verify", "--quiet", "HEAD^{commit}", cwd=root, check=False)
    return found or None


def read_ref(git_dir: Path, ref: str) -> str | None:
    """The object a ref names, read from git's files (one symbolic step, loose or packed);
    None when they do not say plainly (the caller then asks git)."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        value = (git_dir / ref).read_text().strip() if (git_dir / ref).is_file() else ""
        if value.startswith("ref: refs/"):
            ref = value[5:]
            value = (git_dir / ref).read_text().strip() if (git_dir / ref).is_file() else ""
        if not value and (git_dir / "packed-refs").is_file():
            for line in (git_dir / "packed-refs").read_text().splitlines():
                if line.endswith(" " + ref):
                    value = line.split(" ", 1)[0]
        if _SHA.fullmatch(value):
            return value
    return None


# -- stale locks -------------------------------------------------------------------------------
def remove_stale_locks(git_dir: Path) -> None:
    """Remove git lock files no process holds any more. The caller holds the destination lock,
    so no pull of ours is inside; a lock some live process still has open (a git the user runs
    in a terminal) is waited for, briefly, instead of being taken away from it."""
    locks = list(_lock_files(git_dir))
    if not locks:
        return
    deadline = time.monotonic() + LIVE_LOCK_WAIT
    while True:
        live = _held_open(locks)
        for lock in locks:
            if lock not in live:
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
        locks = [lock for lock in live if os.path.lexists(lock)]
        if not locks:
            return
        if time.monotonic() > deadline:
            raise StoragePullError(
                f"A git process is working in {git_dir.parent} (it holds {locks[0].name}): "
                "wait for it to finish, then pull again."
            )
        time.sleep(0.1)


def _lock_files(git_dir: Path) -> list[Path]:
    found = [git_dir / name for name in GIT_LOCKS if os.path.lexists(git_dir / name)]
    for folder, _dirs, files in os.walk(git_dir / "refs"):
        found += [Path(folder, name) for name in files if name.endswith(".lock")]
    modules = git_dir / "modules"
    if modules.is_dir():
        for entry in modules.iterdir():
            if (entry / "HEAD").exists():
                found += _lock_files(entry)
    return found


def _held_open(paths: list[Path]) -> set[Path]:
    """Which of ``paths`` some process has open (Linux ``/proc``; elsewhere: none known)."""
    wanted = {os.path.realpath(path): path for path in paths}
    held: set[Path] = set()
    with contextlib.suppress(OSError):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                        if target in wanted:
                            held.add(wanted[target])
    return held

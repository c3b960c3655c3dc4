"""Small helpers shared by the tests: waiting, and reading or writing a folder's files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from ipy_storage.storage.mirror import RESERVED_PREFIX


def wait_until(
    predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.02
) -> bool:
    """Poll ``predicate`` until it is true; False after ``timeout`` seconds (tests assert on it)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def write_tree(root: Path, files: dict[str, bytes | str | None]) -> None:
    """Write ``{path: content}`` under ``root``; ``None`` deletes the file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)


def tree(root: Path) -> dict[str, bytes]:
    """The files a user sees under ``root`` → their bytes: ``.git`` and ipy_storage's own
    bookkeeping left out, links not followed."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts or rel.parts[0].startswith(RESERVED_PREFIX):
            continue
        if path.is_file() and not path.is_symlink():
            found[rel.as_posix()] = path.read_bytes()
    return found


def text_tree(root: Path) -> dict[str, str]:
    """``tree`` with the contents as text."""
    return {rel: content.decode() for rel, content in tree(root).items()}


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (hidden ones included) → (mtime_ns, inode, size): equal
    snapshots mean nothing was written, replaced or removed."""
    found = {}
    for path in root.rglob("*"):
        st = path.lstat()
        found[path.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_ino, st.st_size)
    return found

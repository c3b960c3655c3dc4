"""Which remote keys may become files in the destination (behaviour §3.2).

A bucket is not trusted: before anything of a pull is written, every key is checked, and one bad
key fails the pull with a message that names it.

- keys that would land outside the destination (absolute, ``..``, ``.``, empty parts, NUL);
- keys with a ``.git`` path component at any depth: a planted ``.git/config`` with
  ``core.fsmonitor = <command>`` runs that command at the next ``git status`` in the folder (typed
  by the user, run by a shell prompt or JupyterLab's git panel). Refused in every spelling some
  file system takes for ``.git`` (letter case on macOS and Windows, trailing dots and spaces and
  the short name ``GIT~1`` on Windows, characters HFS+ ignores), whatever the destination's file
  system is today: folders get copied;
- names and paths longer than the destination's file system holds (``PC_NAME_MAX``,
  ``PC_PATH_MAX`` of the destination), which would otherwise fail as ``ENAMETOOLONG`` halfway.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import StoragePullError
from ..secrets import redact

# Code points HFS+ ignores in names, so ".g\u200cit" is ".git" there (the list git itself uses).
_HFS_IGNORED = dict.fromkeys(
    [0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E]
    + list(range(0x206A, 0x2070))
    + [0xFEFF]
)
_DEFAULT_NAME_MAX = 255
_DEFAULT_PATH_MAX = 4096


def is_git_dir_name(name: str) -> bool:
    """Whether some file system would take ``name`` for ``.git``."""
    if name[:1] != "." and "~" not in name and name.isascii():
        return False  # the common case, decided without building a new string
    folded = name.translate(_HFS_IGNORED).split(":", 1)[0].rstrip(". ").casefold()
    return folded in (".git", "git~1")


def escapes(rel: str) -> bool:
    """Whether a key would land outside the destination (or is no file name at all)."""
    if "\x00" in rel:
        return True
    if rel and rel[0] != "/" and rel[-1] != "/" and "//" not in rel and "/." not in "/" + rel:
        return False  # the common case: nothing that could form "", "." or ".."
    return any(part in ("", ".", "..") for part in rel.split("/"))


def shown(key: str) -> str:
    """A key as messages show it: whole up to 160 characters, else its two ends."""
    text = repr(key)
    return text if len(text) <= 160 else f"{text[:100]}…{text[-50:]}"


class KeyRules:
    """The checks of one pull, with the limits of the destination's file system."""

    def __init__(self, destination: Path, url: str) -> None:
        self.url = url
        self.where = redact(url)
        self.destination = destination
        self.name_max, self.path_max = file_system_limits(destination)
        # bytes of "<destination>/" that every local path starts with
        self.base = len(os.fsencode(str(destination))) + 1

    def check_key(self, rel: str, key: str) -> None:
        """Every rule for one key of a listing (``key`` is its name at the source)."""
        if escapes(rel):
            raise StoragePullError(
                f"Refusing to pull {self.where}: remote key {shown(key)} would land outside the "
                "destination (absolute path, '..' or empty part); rename it at the source."
            )
        parts = rel.split("/")
        for part in parts:
            self.check_name(part, key)
        self.check_path(rel, key)

    def check_name(self, name: str, key: str) -> None:
        """The rules for one path component (a file or folder name)."""
        if is_git_dir_name(name):
            raise StoragePullError(
                f"Refusing to pull {self.where}: remote key {shown(key)} has a '.git' path "
                "component, which would plant a git directory whose config can run commands; "
                "remove or rename it at the source."
            )
        size = len(name) if name.isascii() else len(os.fsencode(name))
        if size > self.name_max:
            raise StoragePullError(
                f"Cannot pull {self.where}: remote key {shown(key)} has a name of {size} bytes, "
                f"longer than the file system of {self.destination} allows ({self.name_max}); "
                "rename it at the source."
            )

    def check_path(self, rel: str, key: str) -> None:
        """The whole local path must fit (``PC_PATH_MAX`` counts the closing NUL)."""
        size = self.base + (len(rel) if rel.isascii() else len(os.fsencode(rel)))
        if size >= self.path_max:
            raise StoragePullError(
                f"Cannot pull {self.where}: remote key {shown(key)} makes a path of {size} bytes "
                f"in {self.destination}, longer than its file system allows ({self.path_max}); "
                "shorten the key at the source or pull into a shorter base path."
            )

    def check_folder_clash(self, files: dict[str, str], folders: dict[str, list[str]]) -> None:
        """An object store may hold both ``a`` and ``a/b``; a disk cannot."""
        for folder in folders:
            while folder:
                if folder in files:
                    raise StoragePullError(
                        f"Refusing to pull {self.where}: {shown(folder)} is both an object and a "
                        "folder at the source; rename one of them."
                    )
                folder = folder.rpartition("/")[0]


def file_system_limits(destination: Path) -> tuple[int, int]:
    """``PC_NAME_MAX`` and ``PC_PATH_MAX`` where the destination is (or will be)."""
    probe = destination
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return (
        _pathconf(probe, "PC_NAME_MAX", _DEFAULT_NAME_MAX),
        _pathconf(probe, "PC_PATH_MAX", _DEFAULT_PATH_MAX),
    )


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        value = os.pathconf(path, name)
    except (OSError, ValueError, AttributeError):  # no pathconf on this platform or path
        return default
    return value if isinstance(value, int) and value > 0 else default  # -1: no limit known

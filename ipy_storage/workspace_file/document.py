"""The workspace file as text (behaviour §6.7): a prefect.yaml-shaped document.

``pull:`` is Prefect's list of pull steps, each tagged with Prefect's reserved ``id:`` (the
storage's name in the workspace, which Prefect's own runs ignore or use for templating).
ipy_storage's options live under ``ipy-storage:``, a top-level key that ``prefect deploy``
ignores, keyed by those ids. Reading refuses what could hang or mislead a kernel at start
(YAML aliases, huge files) with one line that says where; writing is atomic, so a reader sees
the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..storage.errors import StorageConfigError

FILE_NAME = "ipy-storage.yaml"
OPTIONS_KEY = "ipy-storage"
MAX_BYTES = 1_000_000
HEADER = """\
# ipy_storage workspace: the storages of the notebooks in this folder. `%load_ext ipy_storage`
# brings them back (and their timers); `ipy-storage pull` pulls them from a terminal.
# pull: is Prefect's (paste it into a prefect.yaml or from one); ipy-storage: holds options
# Prefect ignores: interval (seconds, null = once), watch (true or seconds), importable, reload,
# pull_on_load, folder, base. Tokens never go here: {{ $VAR }} or a Secret block's name only.
# Edit it by hand if you like; comments below this header are not kept.
"""


class BrokenFileError(StorageConfigError):
    """The file cannot be read as a workspace; it is left exactly as it is."""


@dataclass
class FileEntry:
    """One storage as the file keeps it: its pull step and ipy_storage's options for it."""

    name: str | None
    step: Any
    options: dict[str, Any] = field(default_factory=dict)

    def comparable(self) -> tuple:
        return (self.name, self.step, self.options)


@dataclass
class Document:
    """A read file: its entries in file order, and a digest of the exact bytes."""

    entries: list[FileEntry]
    digest: str | None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_document(path: Path) -> Document | None:
    """The file at ``path`` (None when there is none); ``BrokenFileError`` when it is no
    workspace file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise BrokenFileError(f"Cannot read {path}: {error.strerror or error}.") from None
    if len(data) > MAX_BYTES:
        raise BrokenFileError(f"{path} is over {MAX_BYTES // 1000} kB: a workspace file is short.")
    return Document(parse(data, path), digest(data))


def parse(data: bytes, path: Path | str) -> list[FileEntry]:
    """The entries of a workspace file, a prefect.yaml, or a bare list of pull steps."""
    import yaml

    try:
        text = data.decode("utf-8")
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise _broken(path, event.start_mark, "YAML aliases (*name) are not accepted")
        loaded = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise BrokenFileError(f"{path} is not UTF-8 text.") from None
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise _broken(path, getattr(error, "problem_mark", None), problem) from None
    return _entries(loaded, path)


def _broken(path: Path | str, mark: Any, problem: str) -> BrokenFileError:
    where = f" line {mark.line + 1}" if mark is not None else ""
    return BrokenFileError(f"{path}{where}: {problem}.")


def _entries(loaded: Any, path: Path | str) -> list[FileEntry]:
    if loaded is None:
        return []
    if isinstance(loaded, list):
        steps, options = loaded, dict[str, Any]()
    elif isinstance(loaded, dict):
        steps, options = loaded.get("pull") or [], loaded.get(OPTIONS_KEY) or {}
    else:
        raise BrokenFileError(f"{path}: expected a mapping with a pull: list of Prefect steps.")
    if not isinstance(steps, list):
        raise BrokenFileError(f"{path}: pull: must be a list of Prefect pull steps.")
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise BrokenFileError(f"{path}: {OPTIONS_KEY}: must map each storage's id to its options.")
    entries = []
    for step in steps:
        name = step_id(step)
        entries.append(FileEntry(name, step, dict(options.get(name) or {}) if name else {}))
    return entries


def step_id(step: Any) -> str | None:
    """The ``id:`` of a one-key pull step, when it has a usable one."""
    if isinstance(step, dict) and len(step) == 1:
        (arguments,) = step.values()
        if isinstance(arguments, dict) and isinstance(arguments.get("id"), str):
            return arguments["id"] or None
    return None


def with_id(step: dict[str, Any], name: str) -> dict[str, Any]:
    """``step`` tagged with ``id: name`` first (Prefect's reserved key for a step's name)."""
    ((kind, arguments),) = step.items()
    rest = {key: value for key, value in arguments.items() if key != "id"}
    return {kind: {"id": name, **rest}}


def render(entries: list[FileEntry]) -> str:
    """The file's text: the header, ``pull:`` and, when any entry has some, the options."""
    import yaml

    document: dict[str, Any] = {"pull": [entry.step for entry in entries]}
    options = {entry.name: entry.options for entry in entries if entry.options and entry.name}
    if options:
        document[OPTIONS_KEY] = options
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return HEADER + body


def write_atomically(path: Path, text: str) -> str:
    """Replace ``path`` with ``text`` in one rename (a temporary file beside it, flushed to
    disk first); keeps the old file's permissions. Returns the digest of what was written."""
    data = text.encode("utf-8")
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644  # mkstemp's 0600 would hide a new file from the group
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return digest(data)

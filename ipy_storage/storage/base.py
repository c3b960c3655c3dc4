"""The storage contract (behaviour §2.1) and what every storage kind shares: base path, pull
interval, a sync ``pull()`` beside the async ``pull_code()``, the destination lock, and the one
place where a pull's failures become ipy_storage errors without secrets (behaviour §2.3)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from . import renderers
from .destination import destination_lock
from .errors import StorageConfigError, StorageError, StoragePullError
from .intervals import check_pull_interval
from .result import Progress, ProgressCallback, PullResult
from .secrets import redact


@runtime_checkable
class RunnerStorage(Protocol):
    """What every storage offers (mirrors ``prefect.runner.storage.RunnerStorage``)."""

    def set_base_path(self, path: Path) -> None: ...

    @property
    def pull_interval(self) -> int | float | None: ...

    @property
    def destination(self) -> Path: ...

    async def pull_code(self) -> Any: ...

    def to_pull_step(self) -> dict[str, Any]: ...


def has_control_characters(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def check_relative_name(value: str, what: str) -> str:
    """Refuse a name or directory that would land outside its parent, or that holds a newline or
    another control character (it would become a second line of a git or manifest file)."""
    if has_control_characters(value):
        raise StorageConfigError(
            f"Invalid {what} {value!r}: it must not contain a newline or other control character."
        )
    path = Path(value)
    if path.is_absolute() or ".." in path.parts or value.startswith("~"):
        raise StorageConfigError(
            f"Invalid {what} {value!r}: it must be a relative path without '..' "
            "so it stays inside the destination."
        )
    return value


class StorageBase:
    """Shared machinery; subclasses set ``_name`` and implement ``_pull``, ``to_pull_step`` and
    ``_identity`` (and ``_secret_values`` when they hold secrets)."""

    _kind = "storage"
    _name: str
    # Kinds that write into their destination pull under its lock (local storages do not write).
    _writes_destination = True

    def __init__(self, pull_interval: int | float | None) -> None:
        self._pull_interval = check_pull_interval(pull_interval)
        self._base_path = Path.cwd()

    @property
    def name(self) -> str:
        """The destination folder's name below the base path."""
        return self._name

    @property
    def kind(self) -> str:
        """``git``, ``remote``, ``block`` or ``local``."""
        return self._kind

    @property
    def pull_interval(self) -> int | float | None:
        return self._pull_interval

    @property
    def destination(self) -> Path:
        return self._base_path / self.name

    def set_base_path(self, path: str | Path) -> None:
        self._base_path = Path(path).expanduser().absolute()

    def set_pull_interval(self, seconds: int | float | None) -> None:
        """Pull every ``seconds`` when watched (None: a one-time sync); a workspace file restores
        a storage's interval this way, as its pull step does not carry one."""
        self._pull_interval = check_pull_interval(seconds)

    def set_name(self, name: str) -> None:
        """Pull into ``base_path / name`` instead of the kind's default folder (a workspace's
        ``add(source, name=...)`` names the folder, for remote sources too: behaviour §6.1)."""
        self._name = check_relative_name(name, "name")

    async def pull_code(
        self, reset: bool = False, progress: ProgressCallback | None = None
    ) -> PullResult:
        """Pull now (in a worker thread, so the event loop keeps running)."""
        return await asyncio.to_thread(self.pull, reset=reset, progress=progress)

    def pull(self, reset: bool = False, progress: ProgressCallback | None = None) -> PullResult:
        """Pull now, synchronously; safe in a notebook cell whose event loop is running.

        Whatever goes wrong leaves as a ``StorageError`` of one line without this storage's
        secrets: an ``OSError`` names the path, a library's own error its type (behaviour §2.3).
        """
        started = time.perf_counter()
        try:
            if self._writes_destination:
                with destination_lock(self.destination):
                    result = self._pull(reset=reset, progress=self._scrubbed(progress))
            else:
                result = self._pull(reset=reset, progress=self._scrubbed(progress))
        except StorageError as error:
            raise self._scrub(error) from None
        except OSError as error:
            raise self._scrub(self._file_system_error(error)) from None
        except Exception as error:
            raise self._scrub(self._unexpected_error(error)) from None
        result.duration = time.perf_counter() - started
        return result.finish()

    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        raise NotImplementedError

    def to_pull_step(self) -> dict[str, Any]:
        raise NotImplementedError

    def _identity(self) -> tuple:
        """What makes two storages of one kind equal (their configuration)."""
        raise NotImplementedError

    def _secret_values(self) -> Iterable[str]:
        """The secret texts this storage holds now (in every form they may take in a message)."""
        return ()

    # -- messages without secrets -------------------------------------------------------------
    def redact(self, text: str) -> str:
        """``text`` without URL userinfo and without this storage's secret values."""
        return redact(text, self._secret_values())

    def _scrub(self, error: StorageError) -> StorageError:
        message = str(error)
        clean = self.redact(message)
        if clean == message:
            return error
        scrubbed = type(error).__new__(type(error))
        StorageError.__init__(scrubbed, clean)
        return scrubbed

    def _scrubbed(self, progress: ProgressCallback | None) -> ProgressCallback | None:
        """The user's progress callback, fed messages without secrets; a failing one is ignored
        (a broken display must not break a pull)."""
        if progress is None:
            return None

        def report(update: Progress) -> None:
            if update.message:
                update.message = self.redact(update.message)
            with contextlib.suppress(Exception):  # the pull matters more than its display
                progress(update)

        return report

    def _file_system_error(self, error: OSError) -> StoragePullError:
        where = error.filename or self.destination
        reason = error.strerror or type(error).__name__
        return StoragePullError(
            f"Pull of {self.name} failed at {where}: {reason} — check that the folder is "
            "writable, has free space, and that the name is valid on this file system."
        )

    def _unexpected_error(self, error: Exception) -> StoragePullError:
        text = " ".join(str(error).split())[:200] or "no message"
        return StoragePullError(
            f"Pull of {self.name} into {self.destination} failed: {type(error).__name__}: {text} "
            "— pull again; pull(reset=True) starts afresh (with a backup)."
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._identity() == other._identity()

    # Unhashable: mutable (set_base_path), as Prefect's storages are (typeshed's idiom for it).
    __hash__ = None  # type: ignore[assignment]

    def _repr_html_(self) -> str | None:
        """The storage's card (drawn by the display package, see :mod:`.renderers`)."""
        return renderers.html(self)

"""Between a workspace and its file: what a registered storage is as an entry (its pull step plus
ipy_storage's options), and which storage, folder and timer an entry stands for.

Options: ``interval`` (the storage's pull interval; null = one-time sync), ``watch`` (true = at
that interval, or seconds), ``importable``, ``reload``, ``pull_on_load``, and — only when the
pull step alone would put it elsewhere — ``folder`` (the destination below the base) and
``base`` (relative to the file's folder, or absolute).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..saved_secret import defer_unknown_secrets
from ..storage.base import StorageBase
from ..storage.errors import StorageConfigError, short
from ..storage.intervals import check_pull_interval
from .document import FileEntry, with_id

OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "interval": (int, float, type(None)),
    "watch": (bool, int, float),
    "importable": (bool,),
    "reload": (bool,),
    "pull_on_load": (bool,),
    "folder": (str,),
    "base": (str,),
}
# Options the workspace itself does not hold: carried over from the file as they were.
FILE_ONLY_OPTIONS = ("pull_on_load",)


@dataclass
class Restored:
    """What an entry stands for, ready to be registered."""

    name: str
    storage: StorageBase
    base: Path
    importable: bool
    reload: bool
    watch: float | bool
    pull_on_load: bool


def storage_of_step(step: Any) -> StorageBase:
    """The storage one pull step describes; named secrets this process does not know yet stay
    names (resolved when a pull needs them)."""
    from ..storage.steps import from_pull_step

    if not isinstance(step, dict) or len(step) != 1:
        raise StorageConfigError(
            f"a pull step is a mapping with one key such as "
            f"prefect.deployments.steps.git_clone, not {short(step)}"
        )
    ((kind, arguments),) = step.items()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what a Prefect worker could not do is said elsewhere
        storage = from_pull_step({kind: defer_unknown_secrets(arguments)})
    if isinstance(storage, list):
        raise StorageConfigError("a pull step holds one storage, not a list")
    return storage


def step_of(storage: StorageBase) -> dict[str, Any]:
    """The storage's pull step, without the warnings meant for someone deploying it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return storage.to_pull_step()


@dataclass
class Fixed:
    """What stays the same for one storage object at one destination: its pull step and where
    it pulls relative to the file (computed once; it costs a storage built from the step)."""

    storage: StorageBase
    destination: Path
    step: dict[str, Any]
    placement: dict[str, Any]


def fixed_part(storage: StorageBase, here: Path) -> Fixed:
    step = step_of(storage)
    return Fixed(storage, storage.destination, step, placement(storage, step, here))


def placement(storage: StorageBase, step: dict[str, Any], here: Path) -> dict[str, Any]:
    """``folder`` and ``base`` options for a storage that the step alone, run in the file's
    folder ``here``, would put elsewhere."""
    if storage.kind == "local":
        return {}
    options: dict[str, Any] = {}
    if storage.name != storage_of_step(step).name:
        options["folder"] = storage.name
    parts = storage.destination.parts
    base = Path(*parts[: len(parts) - len(Path(storage.name).parts)])
    if base != here:
        options["base"] = (
            base.relative_to(here).as_posix() if base.is_relative_to(here) else str(base)
        )
    return options


def options_of(ws: Any, name: str, storage: StorageBase) -> dict[str, Any]:
    """The options the workspace holds for ``name``: interval, timer, sys.path and reloads."""
    status = ws.status(name)[name]
    entry = ws._entry(name)  # the workspace layer's own record: importable, reload
    options: dict[str, Any] = {"interval": storage.pull_interval}
    if status["watching"]:
        interval = status["interval"]
        options["watch"] = True if interval == storage.pull_interval else interval
    if entry.importable:
        options["importable"] = True
    if entry.reload:
        options["reload"] = True
    return options


def check_options(options: dict[str, Any]) -> None:
    for key, value in options.items():
        kinds = OPTION_TYPES.get(key)
        if kinds is None:
            raise StorageConfigError(f"unknown option {key!r} (known: {', '.join(OPTION_TYPES)})")
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise StorageConfigError(f"option {key}: {short(value)} is not a valid value")


def restore(entry: FileEntry, here: Path) -> Restored:
    """The storage, folder and timer ``entry`` stands for; ``here`` is the folder its pull step
    runs in (the file's, unless the entry names a ``base``)."""
    options = entry.options
    check_options(options)
    storage = storage_of_step(entry.step)
    if "interval" in options:
        storage.set_pull_interval(check_pull_interval(options["interval"], "interval"))
    if options.get("folder"):
        storage.set_name(options["folder"])
    base = (here / options["base"]) if options.get("base") else here
    watch = options.get("watch", False)
    if watch is not False and watch is not True:
        watch = check_pull_interval(watch, "watch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            storage.to_pull_step()
        except ValueError as error:  # a token in plain text: the file must not hold one
            raise StorageConfigError(f"{error} (edit the file: tokens never go into it)") from None
    return Restored(
        name=entry.name or storage.name,
        storage=storage,
        base=base.absolute(),
        importable=bool(options.get("importable")),
        reload=bool(options.get("reload")),
        watch=watch,
        pull_on_load=bool(options.get("pull_on_load")),
    )


def register(ws: Any, restored: Restored) -> None:
    """Put ``restored`` into the workspace under its name (replacing a different storage of that
    name), and start or stop its timer as the entry says."""
    name, storage = restored.name, restored.storage
    existing = ws.get(name)
    if existing is not None:
        if existing == storage and existing.destination == _destination(restored):
            existing.set_pull_interval(storage.pull_interval)
            storage = existing
        else:
            ws.remove(name)
    with _base_path(ws, restored.base):
        ws.add(storage, name=name, importable=restored.importable, reload=restored.reload)
    status = ws.status(name)[name]
    if restored.watch is False:
        if status["watching"]:
            ws.unwatch(name)
        return
    interval = None if restored.watch is True else restored.watch
    wanted = storage.pull_interval if interval is None else interval
    if not (status["watching"] and status["interval"] == wanted):
        ws.watch(name, interval=interval)


def _destination(restored: Restored) -> Path:
    storage = restored.storage
    return storage.destination if storage.kind == "local" else restored.base / storage.name


@contextmanager
def _base_path(ws: Any, base: Path) -> Iterator[None]:
    """Register under ``base`` (the workspace pulls new storages under its own base path)."""
    previous = ws.base_path
    if base == previous:
        yield
        return
    ws.set_base_path(base)
    try:
        yield
    finally:
        ws.set_base_path(previous)


def entry_for(ws: Any, name: str, fixed: Fixed, extra: dict[str, Any]) -> FileEntry:
    """The entry of the workspace's storage ``name``."""
    options = options_of(ws, name, fixed.storage)
    options.update(fixed.placement)
    options.update({key: extra[key] for key in FILE_ONLY_OPTIONS if key in extra})
    return FileEntry(name, with_id(fixed.step, name), options)

"""``%storage`` and ``%%storage`` (behaviour §6.3): a thin argparse shell over the workspace.

Every user mistake ends as a one-line ``UsageError`` (IPython shows those without a traceback):
argparse errors through ``MagicArgumentParser.error``, storage errors from the core through
``error_line``, and whatever a library says about a typed path or URL the same way. Messages speak
the magic's language (``--interval``, ``%storage pull``), not Python's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from traitlets import Bool, Float
from traitlets.config import Configurable

from . import scheduler
from .magic_args import (
    as_list,
    build_parser,
    cell_help,
    cell_parser,
    credentials,
    line_help,
    seconds,
    steps_from_text,
)
from .storage.errors import StorageError, error_line
from .storage.intervals import DEFAULT_PULL_INTERVAL
from .storage.step_warnings import shown_every_time
from .workspaces import Workspace
from .workspaces import workspace as default_workspace

_PARSER, _COMMANDS = build_parser()
_CELL_PARSER = cell_parser()
# IPython types ``cell_magic`` as "a decorator, or a factory of one"; given a name it is the latter.
_storage_cell_magic = cast(
    "Callable[[Callable[..., Any]], Callable[..., Any]]", cell_magic("storage")
)


@magics_class
class StorageMagics(Magics, Configurable):
    """The ``%storage`` magics over a workspace (the session's default unless given)."""

    default_interval = Float(
        float(DEFAULT_PULL_INTERVAL),
        help="Pull interval (seconds) of storages added with %storage add without --interval or --once.",
    ).tag(config=True)
    show_progress = Bool(
        True, help="Show a progress bar (or line) during pulls that take a while."
    ).tag(config=True)

    def __init__(
        self, shell: Any = None, workspace: Workspace | None = None, **kwargs: Any
    ) -> None:
        super().__init__(shell=shell, **kwargs)
        self.workspace = workspace if workspace is not None else default_workspace()

    @line_magic
    def storage(self, line: str = "") -> Any:
        args = _PARSER.parse_line(line)
        handler: Callable[[argparse.Namespace], Any] = getattr(self, f"_{args.command}")
        with _one_line_errors(f"%storage {args.command}"):
            return handler(args)

    storage.__doc__ = line_help(_PARSER, _COMMANDS)

    @_storage_cell_magic
    @no_var_expand
    def storage_cell(self, line: str, cell: str) -> list:
        args = _CELL_PARSER.parse_line(line)
        from .display import StorageList, storage_table
        from .storage.steps import from_pull_step

        with _one_line_errors("%%storage"):
            steps = from_pull_step(steps_from_text(cell))
            storages = [self.workspace.add(storage) for storage in as_list(steps)]
            names = self._names_of(storages)
            if args.pull:
                self._pull_and_report(names, reset=False, command="%%storage --pull", always=True)
            return StorageList(storages, storage_table(self.workspace, names))

    storage_cell.__doc__ = cell_help(_CELL_PARSER)

    # -- subcommands ----------------------------------------------------------------------
    def _add(self, args: argparse.Namespace) -> Any:
        options: dict[str, Any] = {
            "branch": args.branch,
            "commit_sha": args.commit,
            "directories": args.directories,
            "include_submodules": args.submodules or None,
            "credentials": credentials(args.username, args.token_env),
        }
        if args.option or args.secret_option:
            options["settings"] = dict(args.option + args.secret_option)
        interval = None if args.once else seconds(args.interval, "add") or self.default_interval
        storage = self.workspace.add(
            args.source,
            name=args.name,
            pull_interval=interval,
            importable=args.importable,
            reload=args.reload,
            **options,
        )
        if args.pull:
            for name in self._names_of([storage]):
                self._pull_added(name)
        return storage

    def _names_of(self, storages: list[Any]) -> list[str]:
        """The workspace names of storages just added (one removed meanwhile is left out)."""
        return [name for storage in storages if (name := self.workspace.name_of(storage))]

    def _pull_added(self, name: str) -> None:
        from IPython.display import display

        try:
            display(
                self._with_progress(
                    [name], lambda progress: self.workspace.pull(name, progress=progress)
                )
            )
        except StorageError as error:
            raise UsageError(
                f"{error_line(error)} ({name!r} stays added: %storage pull {name} to try again, "
                f"%storage remove {name} to drop it)"
            ) from None

    def _pull(self, args: argparse.Namespace) -> Any:
        if len(args.names) == 1:
            (name,) = args.names
            return self._with_progress(
                args.names,
                lambda progress: self.workspace.pull(name, reset=args.reset, progress=progress),
            )
        return self._pull_and_report(args.names, args.reset, "%storage pull")

    def _pull_and_report(
        self, names: list[str], reset: bool, command: str, always: bool = False
    ) -> Any:
        """Pull every storage whatever fails; show one table of outcomes; then name the failures."""
        from IPython.display import display

        from .display import PullReport

        report = PullReport(
            self._with_progress(
                names,
                lambda progress: self.workspace.pull_each(*names, reset=reset, progress=progress),
            )
        )
        if report.failed or always:
            display(report)
        if report.failed:
            raise UsageError(
                f"{command}: {len(report.failed)} of {len(report.outcomes)} failed: "
                f"{', '.join(report.failed)} (the table above says why)"
            )
        return report

    def _with_progress(self, names: list[str], pull: Callable[[Any], Any]) -> Any:
        if not self.show_progress:
            return pull(None)
        from .display import pull_progress

        with pull_progress(", ".join(names) or "all storages") as progress:
            return pull(progress)

    def _watch(self, args: argparse.Namespace) -> None:
        interval = seconds(args.interval, "watch")
        if interval is None and self.workspace[args.name].pull_interval is None:
            raise UsageError(
                f"%storage watch: {args.name!r} was added with --once: give --interval SECONDS"
            )
        self.workspace.watch(args.name, interval=interval)

    def _unwatch(self, args: argparse.Namespace) -> None:
        if args.all and args.names:
            raise UsageError("%storage unwatch: give NAMEs or --all, not both.")
        self.workspace.unwatch(*args.names)

    def _list(self, args: argparse.Namespace) -> Any:
        from .display import storage_table

        return storage_table(self.workspace)

    def _show(self, args: argparse.Namespace) -> Any:
        from .display import StorageCard

        storage = self.workspace[args.name]
        return StorageCard(args.name, storage, self.workspace.status(args.name)[args.name])

    def _step(self, args: argparse.Namespace) -> Any:
        from .display import PullStep, PullStepList

        names = args.names or list(self.workspace)
        with shown_every_time():
            steps = [self.workspace[name].to_pull_step() for name in names]
        fmt = args.format or "yaml"
        return PullStep(steps[0], fmt) if len(args.names) == 1 else PullStepList(steps, fmt)

    def _remove(self, args: argparse.Namespace) -> None:
        self.workspace.remove(args.name)

    def _base(self, args: argparse.Namespace) -> Path:
        from .display import BaseFolder

        if args.path is not None:
            self.workspace.set_base_path(args.path)
        return BaseFolder(self.workspace.base_path)

    def _save(self, args: argparse.Namespace) -> Any:
        from .workspace_file import save_as

        return save_as(self.workspace, args.path)

    def _load(self, args: argparse.Namespace) -> Any:
        from .workspace_file import load_into

        report = load_into(self.workspace, args.path)
        if report.problems:
            raise UsageError("%storage load: " + "; ".join(report.problems))
        return report

    def _link(self, args: argparse.Namespace) -> Any:
        from .link_urls import make_link

        return make_link(self.workspace, args.names, args.server, args.hub, args.binder, args.open)

    def _form(self, args: argparse.Namespace) -> Any:
        from .widgets import StorageForm

        return StorageForm(self.workspace)

    def _nest(self, args: argparse.Namespace) -> None:
        from .nest import allow_nested_event_loops

        allow_nested_event_loops()


@contextmanager
def _one_line_errors(command: str) -> Iterator[None]:
    """Every failure of what the user typed as one ``UsageError`` line: ipy_storage's own errors
    speak for themselves; a library's complaint about a path or URL is named by the command."""
    try:
        yield
    except StorageError as error:
        raise UsageError(error_line(error)) from None
    except (ValueError, OSError, RuntimeError) as error:
        raise UsageError(f"{command}: {error_line(error)}") from None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ipy_storage``: register the magics (``%config StorageMagics`` configures them)
    and bring back the storages and timers of the workspace file."""
    from .workspace_file import quiet_attach, session_start

    with quiet_attach():
        magics = StorageMagics(ipython)
    ipython.register_magics(magics)
    session_start(magics.workspace).show()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext`` / ``%reload_ext``: stop every timer and take the magics away."""
    from .workspace_file import session_end

    manager = ipython.magics_manager
    instance = manager.registry.pop(StorageMagics.__name__, None)
    if instance is not None:
        session_end(instance.workspace)  # before the timers stop: the file keeps them
    scheduler.stop_all()
    for kind in ("line", "cell"):
        manager.magics[kind].pop("storage", None)
    if instance is not None and instance in ipython.configurables:
        ipython.configurables.remove(instance)

"""``%storage`` and ``%%storage`` (SPEC §6.3): a thin argparse shell over the workspace.

Every user mistake ends as a one-line ``UsageError`` (IPython shows those without a traceback):
argparse errors through ``MagicArgumentParser.error``, storage errors from the core through
``one_line``. Nothing here pulls or parses storage details itself.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils.process import arg_split
from traitlets import Bool, Float
from traitlets.config import Configurable

from . import scheduler
from .storage.errors import StorageError
from .storage.secrets import Secret
from .workspaces import Workspace, one_line
from .workspaces import workspace as default_workspace


class _Parser(MagicArgumentParser):
    """Argparse errors become one-line UsageErrors that name the subcommand."""

    def error(self, message: str) -> None:
        raise UsageError(f"%{self.prog}: {message} (see %storage? for help)")

    def parse_line(self, line: str) -> argparse.Namespace:
        """Split like a shell (quotes removed, as ``%run`` does on POSIX) and parse."""
        try:
            argv = arg_split(line, posix=os.name == "posix")
        except ValueError as error:  # unbalanced quotes
            raise UsageError(f"%{self.prog}: {error}") from None
        return self.parse_args(argv)


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _key_env(text: str) -> tuple[str, Secret]:
    key, value = _key_value(text)
    if not isinstance(value, str):
        raise argparse.ArgumentTypeError(
            f"expected KEY=VAR with an environment variable name, got {text!r}"
        )
    return key, Secret.from_env(value)


def build_parser() -> tuple[_Parser, dict[str, _Parser]]:
    """The ``%storage`` argument parser and its subcommand parsers (their usages end the help)."""
    parser = _Parser(
        prog="storage",
        description="Pull code into the notebook from git, fsspec URLs or local folders (ipy_storage).",
    )
    commands = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)

    add = commands.add_parser("add", help="add a storage; returns it")
    add.add_argument(
        "source",
        metavar="SOURCE",
        help="git URL or path ending .git, fsspec URL (s3://, file://, memory://), or folder",
    )
    add.add_argument("--name", help="name in the workspace; for git also the destination folder")
    pin = add.add_mutually_exclusive_group()
    pin.add_argument("--branch", help="git branch or tag")
    pin.add_argument("--commit", help="git commit SHA to check out")
    add.add_argument(
        "--dir",
        action="append",
        dest="directories",
        metavar="D",
        help="git: sparse-checkout only D (repeatable)",
    )
    add.add_argument("--submodules", action="store_true", help="git: clone submodules too")
    timing = add.add_mutually_exclusive_group()
    timing.add_argument("--interval", type=float, metavar="SECONDS", help="pull interval for watch")
    timing.add_argument("--once", action="store_true", help="one-time sync (no pull interval)")
    add.add_argument("--username", help="git user name for the token")
    add.add_argument(
        "--token-env",
        metavar="VAR",
        help="git token: read from environment variable VAR at pull time",
    )
    add.add_argument(
        "--option",
        action="append",
        type=_key_value,
        default=[],
        metavar="KEY=VALUE",
        help="remote: fsspec setting (VALUE parsed as JSON when it can be; repeatable)",
    )
    add.add_argument(
        "--secret-option",
        action="append",
        type=_key_env,
        default=[],
        metavar="KEY=VAR",
        help="remote: fsspec setting read from environment variable VAR at pull time (key=, secret= …)",
    )
    add.add_argument("--importable", action="store_true", help="put the destination on sys.path")
    add.add_argument("--reload", action="store_true", help="reload imported modules a pull changed")
    add.add_argument("--pull", action="store_true", help="pull right away")

    pull = commands.add_parser(
        "pull", help="pull now (all when no NAME); returns the PullResult(s)"
    )
    pull.add_argument("names", nargs="*", metavar="NAME")
    pull.add_argument(
        "--reset",
        action="store_true",
        help="make it exactly upstream, after a backup of the folder",
    )

    watch = commands.add_parser("watch", help="pull on a background timer")
    watch.add_argument("name", metavar="NAME")
    watch.add_argument(
        "--interval", type=float, metavar="SECONDS", help="default: the storage's pull interval"
    )

    unwatch = commands.add_parser("unwatch", help="stop timers (all when no NAME)")
    unwatch.add_argument("names", nargs="*", metavar="NAME")
    unwatch.add_argument("--all", action="store_true", help="stop every timer")

    commands.add_parser(
        "list", help="table of storages: name, kind, source, destination, interval, status"
    )

    show = commands.add_parser("show", help="destination, pull step and status of one storage")
    show.add_argument("name", metavar="NAME")

    step = commands.add_parser("step", help="the Prefect pull step (one NAME) or pull: list (all)")
    step.add_argument("names", nargs="*", metavar="NAME")
    step_format = step.add_mutually_exclusive_group()
    step_format.add_argument(
        "--yaml", action="store_const", const="yaml", dest="format", help="show as YAML (default)"
    )
    step_format.add_argument(
        "--json", action="store_const", const="json", dest="format", help="show as JSON"
    )

    remove = commands.add_parser("remove", help="forget a storage and stop its timer (files stay)")
    remove.add_argument("name", metavar="NAME")

    base = commands.add_parser("base", help="show or set the folder new storages pull into")
    base.add_argument("path", nargs="?", metavar="PATH")

    commands.add_parser("form", help="the StorageForm widget")
    commands.add_parser(
        "nest", help="allow asyncio.run() in cells (nest-asyncio2; opt-in, see its risks)"
    )
    return parser, commands.choices


def cell_parser() -> _Parser:
    parser = _Parser(
        prog="%storage",
        description=(
            "Add the storages a cell of Prefect pull steps describes: YAML or JSON, a list of steps or a "
            "prefect.yaml mapping with a pull: list. {{ $VAR }} and {{ prefect.blocks.secret.NAME }} "
            "become Secrets. Returns the storages."
        ),
    )
    parser.add_argument("--pull", action="store_true", help="pull them right away")
    return parser


def _help(parser: _Parser, commands: dict[str, _Parser]) -> str:
    """The magic's docstring: the overview, then every subcommand's usage and options."""
    details = "".join(sub.format_help().removeprefix("::\n\n") + "\n" for sub in commands.values())
    return f"{parser.format_help()}\nSubcommands:\n\n{details}"


_PARSER, _COMMANDS = build_parser()
_CELL_PARSER = cell_parser()


@magics_class
class StorageMagics(Magics, Configurable):
    """The ``%storage`` magics over a workspace (the session's default unless given)."""

    default_interval = Float(
        60.0,
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
        try:
            return handler(args)
        except StorageError as error:
            raise UsageError(one_line(error)) from None

    storage.__doc__ = _help(_PARSER, _COMMANDS)

    @cell_magic("storage")
    @no_var_expand
    def storage_cell(self, line: str, cell: str) -> list:
        """%%storage [--pull]: add the storages described by the pull steps in the cell."""
        args = _CELL_PARSER.parse_line(line)
        from .storage.steps import from_pull_step

        try:
            converted = from_pull_step(_steps_from_text(cell))
            storages = [self.workspace.add(storage) for storage in _as_list(converted)]
            if args.pull:
                self._pull_named(
                    [self.workspace.name_of(storage) for storage in storages], reset=False
                )
        except StorageError as error:
            raise UsageError(one_line(error)) from None
        return storages

    storage_cell.__doc__ = _CELL_PARSER.format_help()

    # -- subcommands ----------------------------------------------------------------------
    def _add(self, args: argparse.Namespace) -> Any:
        options: dict[str, Any] = {
            "branch": args.branch,
            "commit_sha": args.commit,
            "directories": args.directories,
            "include_submodules": args.submodules or None,
            "credentials": _credentials(args.username, args.token_env),
        }
        if args.option or args.secret_option:
            options["settings"] = dict(args.option + args.secret_option)
        interval = (
            None
            if args.once
            else args.interval
            if args.interval is not None
            else self.default_interval
        )
        storage = self.workspace.add(
            args.source,
            name=args.name,
            pull_interval=interval,
            importable=args.importable,
            reload=args.reload,
            **options,
        )
        if args.pull:
            self._pull_named([self.workspace.name_of(storage)], reset=False)
        return storage

    def _pull(self, args: argparse.Namespace) -> Any:
        return self._pull_named(args.names, reset=args.reset)

    def _pull_named(self, names: list[str], reset: bool) -> Any:
        if not self.show_progress:
            return self.workspace.pull(*names, reset=reset)
        from .display import pull_progress

        with pull_progress(", ".join(names) or "all storages") as progress:
            return self.workspace.pull(*names, reset=reset, progress=progress)

    def _watch(self, args: argparse.Namespace) -> None:
        self.workspace.watch(args.name, interval=args.interval)

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
        steps = [self.workspace[name].to_pull_step() for name in names]
        fmt = args.format or "yaml"
        return PullStep(steps[0], fmt) if len(args.names) == 1 else PullStepList(steps, fmt)

    def _remove(self, args: argparse.Namespace) -> None:
        self.workspace.remove(args.name)

    def _base(self, args: argparse.Namespace) -> Path:
        if args.path is not None:
            self.workspace.set_base_path(args.path)
        return self.workspace.base_path

    def _form(self, args: argparse.Namespace) -> Any:
        from .widgets import StorageForm

        return StorageForm(self.workspace)

    def _nest(self, args: argparse.Namespace) -> None:
        from .nest import allow_nested_event_loops

        allow_nested_event_loops()


def _credentials(username: str | None, token_env: str | None) -> dict[str, Any] | None:
    if token_env is None:
        return {"username": username} if username else None
    credentials: dict[str, Any] = {"access_token": Secret.from_env(token_env)}
    if username:
        credentials["username"] = username
    return credentials


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _steps_from_text(text: str) -> Any:
    """The cell body as data: YAML (which JSON is a subset of), checked to look like pull steps."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UsageError(
            f"%%storage: the cell is not valid YAML or JSON{where}: {problem}."
        ) from None
    if isinstance(data, dict) and "pull" not in data and len(data) != 1:
        raise UsageError(
            "%%storage: the cell is a mapping without a 'pull:' list; give a list of pull steps or a prefect.yaml."
        )
    if not isinstance(data, (list, dict)) or not data:
        raise UsageError(
            "%%storage: the cell holds no pull steps; give a list of steps or a prefect.yaml with 'pull:'."
        )
    return data


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ipy_storage``: register the magics (``%config StorageMagics`` configures them)."""
    ipython.register_magics(StorageMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext`` / ``%reload_ext``: stop every timer and take the magics away."""
    scheduler.stop_all()
    manager = ipython.magics_manager
    instance = manager.registry.pop(StorageMagics.__name__, None)
    for kind in ("line", "cell"):
        manager.magics[kind].pop("storage", None)
    if instance is not None and instance in ipython.configurables:
        ipython.configurables.remove(instance)

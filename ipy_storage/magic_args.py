"""What ``%storage`` and ``%%storage`` accept (behaviour §6.3): the argument parsers, the help text
(usage and examples first), and the checks of typed values (intervals, the cell's YAML), each
failing as one ``UsageError`` line in the magic's words."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.utils.process import arg_split

from .sources import key_env, key_value
from .storage.errors import StorageError
from .storage.intervals import LONGEST_PULL_INTERVAL, is_pull_interval
from .storage.secrets import Secret

# The most values a %%storage cell may describe: a pull section is a few steps, while a few
# hundred bytes of nested YAML aliases describe billions of values.
MAX_CELL_VALUES = 10_000
USAGE = """\
Pull code into the notebook from git, fsspec URLs (s3://, gs://, memory://, file://) or folders,
as Prefect's pull steps do on a worker.

Usage:
  %storage add SOURCE [--name N] [--branch B | --commit SHA] [--dir D]... [--interval S | --once]
                      [--username U] [--token-env VAR] [--option K=V]... [--secret-option K=VAR]...
                      [--importable] [--reload] [--pull]
  %storage pull [NAME ...] [--reset]      %storage watch NAME [--interval S]
  %storage list                           %storage unwatch [NAME ... | --all]
  %storage show NAME                      %storage step [NAME ...] [--yaml | --json]
  %storage remove NAME                    %storage base [PATH]
  %storage form                           %storage nest
  %storage save PATH                      %storage load [PATH]
  %storage link NAME ... [--open PATH] [--hub URL | --binder gh/ORG/REPO/REF | --server URL]

Examples:
  %load_ext ipy_storage
  %storage add https://github.com/org/flows.git --branch main --pull
  %storage add https://git.example.com/team/private.git --username me --token-env GIT_TOKEN
  %storage add s3://bucket/data --secret-option key=AWS_KEY --secret-option secret=AWS_SECRET
  %storage pull                  # every storage: one table of what changed, or why not
  %storage watch flows-main --interval 300
  %storage step                  # the pull: section of a prefect.yaml
  %storage link flows-main --open intro.ipynb --hub https://hub.example.edu

Storages and timers are kept in ipy-storage.yaml beside the notebook and come back with
%load_ext after a restart; `ipy-storage pull` pulls that file from a terminal.

The cell magic turns a prefect.yaml pull: section (YAML or JSON) into storages:
  %%storage --pull
  pull:
    - prefect.deployments.steps.git_clone:
        repository: https://github.com/org/flows.git
        branch: main
        credentials:
          access_token: "{{ $GIT_TOKEN }}"

Every subcommand and option:

"""


class MagicParser(MagicArgumentParser):
    """Argparse errors become one-line UsageErrors that name the subcommand."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%{self.prog}: {message} (see %storage? for help)")

    def parse_line(self, line: str) -> argparse.Namespace:
        """Split like a shell (quotes removed, as ``%run`` does on POSIX) and parse."""
        try:
            argv = arg_split(line, posix=os.name == "posix")
        except ValueError as error:  # unbalanced quotes
            raise UsageError(f"%{self.prog}: {error}") from None
        return self.parse_args(argv)


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from one of the sources' parsers (their errors become argparse's)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except StorageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = parse.__name__
    return convert


def build_parser() -> tuple[MagicParser, dict[str, MagicParser]]:
    """The ``%storage`` argument parser and its subcommand parsers (their usages end the help)."""
    parser = MagicParser(prog="storage")
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
        type=_argument(key_value),
        default=[],
        metavar="KEY=VALUE",
        help="remote: fsspec setting (VALUE parsed as JSON when it can be; repeatable)",
    )
    add.add_argument(
        "--secret-option",
        action="append",
        type=_argument(key_env),
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

    save = commands.add_parser("save", help="write the storages to a workspace file")
    save.add_argument("path", metavar="PATH")
    load = commands.add_parser(
        "load", help="add a workspace file's storages (no PATH: read ipy-storage.yaml again)"
    )
    load.add_argument("path", nargs="?", metavar="PATH")
    link = commands.add_parser("link", help="a link that pulls the storages when opened")
    link.add_argument("names", nargs="+", metavar="NAME")
    link.add_argument("--open", metavar="PATH", help="file to open, in the first one's folder")
    link.add_argument("--hub", metavar="URL", help="JupyterHub address (each student's server)")
    link.add_argument("--binder", metavar="SPEC", help="Binder repository, e.g. gh/org/repo/main")
    link.add_argument("--server", metavar="URL", help="a Jupyter server's address")

    commands.add_parser("form", help="the StorageForm widget")
    commands.add_parser(
        "nest", help="allow asyncio.run() in cells (nest-asyncio2; opt-in, see its risks)"
    )
    return parser, commands.choices


def cell_parser() -> MagicParser:
    parser = MagicParser(
        prog="%storage",
        description=(
            "Add the storages a cell of Prefect pull steps describes: YAML or JSON, a list of steps or a "
            "prefect.yaml mapping with a pull: list. {{ $VAR }} and {{ prefect.blocks.secret.NAME }} "
            "become Secrets. Returns the storages."
        ),
    )
    parser.add_argument("--pull", action="store_true", help="pull them right away")
    return parser


def line_help(parser: MagicParser, commands: dict[str, MagicParser]) -> str:
    """The magic's docstring: usage and examples first, then every subcommand's options."""
    details = "".join(plain_help(sub) + "\n" for sub in commands.values())
    return f"{USAGE}{plain_help(parser)}\n\n{details}"


def plain_help(parser: MagicParser) -> str:
    """argparse's help without the ``::`` that IPython's magic parsers put first (for rst)."""
    return parser.format_help().removeprefix("::\n\n").rstrip()


CELL_USAGE = """\
%%storage [--pull]: the pull: section of a prefect.yaml (YAML or JSON) becomes storages.

Example:
  %%storage --pull
  pull:
    - prefect.deployments.steps.git_clone:
        repository: https://github.com/org/flows.git
        branch: main

"""


def seconds(value: float | None, command: str) -> float | None:
    """``--interval`` as a timer can use it: above 0, finite, at most a year."""
    if value is None or is_pull_interval(value):
        return value
    hint = "; use --once or %storage pull" if command == "add" else ""
    raise UsageError(
        f"%storage {command}: --interval must be a positive number of seconds, at most "
        f"{LONGEST_PULL_INTERVAL} (a year){hint}"
    )


def credentials(username: str | None, token_env: str | None) -> dict[str, Any] | None:
    if token_env is None:
        return {"username": username} if username else None
    credentials: dict[str, Any] = {"access_token": Secret.from_env(token_env)}
    if username:
        credentials["username"] = username
    return credentials


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _count_values(data: Any, limit: int) -> int:
    """How many values ``data`` holds, counting stops past ``limit`` (aliases count each use)."""
    count, pending = 0, [data]
    while pending and count <= limit:
        item = pending.pop()
        count += 1
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return count


def steps_from_text(text: str) -> Any:
    """The cell body as data: YAML (which JSON is a subset of), checked to look like pull steps.
    Line numbers count the ``%%storage`` line, as the editor shows them."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UsageError(
            f"%%storage: the cell is not valid YAML or JSON{where}: {problem}."
        ) from None
    if _count_values(data, MAX_CELL_VALUES) > MAX_CELL_VALUES:
        raise UsageError(
            f"%%storage: the cell describes more than {MAX_CELL_VALUES} values (nested YAML "
            "aliases?); a pull section is a short list of steps."
        )
    if isinstance(data, dict) and "pull" not in data and len(data) != 1:
        raise UsageError(
            "%%storage: the cell is a mapping without a 'pull:' list; give a list of pull steps or a prefect.yaml."
        )
    if not isinstance(data, (list, dict)) or not data:
        raise UsageError(
            "%%storage: the cell holds no pull steps; give a list of steps or a prefect.yaml with 'pull:'."
        )
    return data


def cell_help(parser: MagicParser) -> str:
    return CELL_USAGE + plain_help(parser)

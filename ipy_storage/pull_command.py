"""``ipy-storage pull [FILE] [NAME…]`` (behaviour §6.7): a workspace file pulled from a terminal, a
JupyterHub ``postStart`` hook or an init container.

One line per storage (what changed, or why it failed), or one JSON document with ``--json``;
the exit code says how it went: 0 every storage pulled, 1 some failed, 2 nothing could start
(no file, a broken file, an unknown name). Timers and ``pull_on_load`` are the notebook's
business: here every named storage (all when none is named) is pulled once, into the file's
folder unless ``--into`` says where.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

OK, FAILED, UNUSABLE = 0, 1, 2


def add_parser(commands: Any) -> None:
    pull = commands.add_parser(
        "pull",
        help="pull the storages of a workspace file (default ./ipy-storage.yaml)",
        description=__doc__.split("\n\n")[1],
    )
    pull.add_argument(
        "targets",
        nargs="*",
        metavar="FILE|NAME",
        help="a workspace file or prefect.yaml (first, optional), then storage names",
    )
    pull.add_argument("--into", metavar="DIR", help="pull under DIR instead of the file's folder")
    pull.add_argument("--json", action="store_true", help="print one JSON document")
    pull.add_argument(
        "--reset", action="store_true", help="make each exactly upstream, after a backup"
    )


def split_targets(targets: list[str]) -> tuple[Path, list[str]]:
    """FILE is the first argument when it names a file or folder, or ends .yaml/.yml/.json."""
    from .workspace_file import FILE_NAME

    if targets:
        first = Path(targets[0]).expanduser()
        if first.suffix in (".yaml", ".yml", ".json") or first.exists():
            path = first / FILE_NAME if first.is_dir() else first
            return path.absolute(), targets[1:]
    return Path.cwd() / FILE_NAME, targets


def run(args: argparse.Namespace) -> int:
    from .storage.errors import StorageError, error_line
    from .workspace_file.document import read_document
    from .workspace_file.sync import LoadReport, named_entries

    path, names = split_targets(args.targets)
    try:
        document = read_document(path)
        if document is None:
            raise FileNotFoundError(f"{path} does not exist: give the workspace file to pull.")
    except (StorageError, FileNotFoundError) as error:
        return _unusable(args, error_line(error))
    report = LoadReport()
    entries = named_entries(document.entries, path, report)
    unknown = [name for name in names if name not in entries]
    if unknown:
        known = ", ".join(entries) or "none"
        return _unusable(
            args, f"{path.name} has no storage named {', '.join(unknown)} (known: {known})."
        )
    here = Path(args.into).expanduser().absolute() if args.into else path.parent
    outcomes = [_pull(name, entries[name], here, args.reset) for name in names or list(entries)]
    _show(args, path, outcomes, report.problems)
    return OK if all(outcome["ok"] for outcome in outcomes) else FAILED


def _pull(name: str, entry: Any, here: Path, reset: bool) -> dict[str, Any]:
    from .storage.errors import StorageError, error_line
    from .workspace_file.entries import restore

    started = time.perf_counter()
    outcome: dict[str, Any] = {"name": name, "ok": False, "destination": None, "error": None}
    try:
        restored = restore(entry, here)
        storage = restored.storage
        storage.set_base_path(restored.base)
        outcome["destination"] = str(storage.destination)
        result = storage.pull(reset=reset)
    except (StorageError, ValueError, OSError) as error:
        outcome.update(error=error_line(error), duration=round(time.perf_counter() - started, 3))
        return outcome
    outcome.update(
        ok=True,
        changed=result.changed,
        summary=result.summary(),
        added=result.added,
        modified=result.modified,
        deleted=result.deleted,
        merged=result.merged,
        kept_local=result.kept_local,
        moved_aside=result.moved_aside,
        revision=result.revision,
        backup=str(result.backup) if result.backup else None,
        duration=round(result.duration, 3),
    )
    return outcome


def _show(args: argparse.Namespace, path: Path, outcomes: list[dict], problems: list[str]) -> None:
    if args.json:
        ok = all(outcome["ok"] for outcome in outcomes)
        print(json.dumps({"file": str(path), "ok": ok, "storages": outcomes, "problems": problems}))
        return
    for problem in problems:
        print(problem, file=sys.stderr)
    for outcome in outcomes:
        if outcome["ok"]:
            where = outcome["destination"]
            print(f"{outcome['name']}: {outcome['summary']} ({outcome['duration']:.2f}s) → {where}")
        else:
            print(f"{outcome['name']}: failed: {outcome['error']}")


def _unusable(args: argparse.Namespace, message: str) -> int:
    if args.json:
        print(json.dumps({"ok": False, "error": message, "storages": []}))
    else:
        print(f"ipy-storage pull: {message}", file=sys.stderr)
    return UNUSABLE

"""``ipy-storage`` (also ``python -m ipy_storage``): ``demo [--workspace DIR]`` and
``pull [FILE] [NAME…] [--into DIR] [--json] [--reset]``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from . import pull_command

    parser = argparse.ArgumentParser(prog="ipy-storage", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo", help="pull the embedded demo sources and print what happened"
    )
    demo.add_argument("--workspace", default="demo-workspace", help="folder to pull into")
    pull_command.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "pull":
        return pull_command.run(args)
    from . import demo as demo_module
    from .storage.errors import StorageError

    try:
        demo_module.run(args.workspace)
    except (StorageError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

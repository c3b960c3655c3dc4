"""Print pip constraints that pin every dependency pyproject.toml declares to its floor, so that a
venv built with them (``make test-min``) proves the floors true. A dependency without a ``>=``
floor is an error: an undeclared floor cannot be tested."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*(?P<version>[^,;\s]+)")


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    pins = []
    for requirement in project["dependencies"]:
        found = _FLOOR.fullmatch(requirement.strip())
        if found is None:
            sys.exit(f"{requirement!r} has no floor: declare it as NAME>=VERSION")
        pins.append(f"{found['name']}=={found['version']}")
    return pins


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    print("\n".join(floors(root / "pyproject.toml")))

"""Test session set-up: each fixture family lives in its own plugin module under tests/fixtures."""

from __future__ import annotations

import importlib.util

pytest_plugins = [
    name
    for name in (
        "tests.fixtures.git_server",
        "tests.fixtures.s3_server",
        "tests.fixtures.notebook",
    )
    if importlib.util.find_spec(name) is not None
]

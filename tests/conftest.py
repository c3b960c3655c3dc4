"""Test session set-up: each fixture family lives in its own plugin module under tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.git_server",
    "tests.fixtures.s3_server",
    "tests.fixtures.notebook",
    "tests.fixtures.browser",
]

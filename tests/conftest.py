"""Test session set-up: each fixture family lives in its own plugin module under tests/fixtures."""

import pytest

pytest_plugins = [
    "tests.fixtures.git_server",
    "tests.fixtures.s3_server",
    "tests.fixtures.backends",
    "tests.fixtures.faulty_fs",
    "tests.fixtures.notebook",
    "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _isolated_git_config(tmp_path_factory, monkeypatch):
    """The machine's own git configuration (helpers, insteadOf rules) must not change results."""
    config = tmp_path_factory.getbasetemp() / "gitconfig-empty"
    config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")

"""Test session set-up: each fixture family lives in its own plugin module under tests/fixtures.

A test is as slow as what it uses, so the markers that ``make test-fast`` deselects follow the
fixtures: a new test that asks for a server, a kernel, a browser or Prefect is marked by that.
"""

import pytest

from tests.fixtures.fuzzing import FUZZ

pytest_plugins = [
    "tests.fixtures.git_server",
    "tests.fixtures.s3_server",
    "tests.fixtures.backends",
    "tests.fixtures.faulty_fs",
    "tests.fixtures.notebook",
    "tests.fixtures.browser",
]


# fixture (or one it depends on) → the markers of every test that uses it
MARKERS_OF_FIXTURES = {
    "_git_http_server_session": ("server",),
    "_git_https_server_session": ("server",),
    "s3_endpoint": ("server", "s3"),
    "backend_farm": ("server", "backends"),
    "kernel": ("kernel",),
    "jupyterlab": ("server", "browser"),
    "prefect_run": ("prefect",),
}


def pytest_collection_modifyitems(items):
    for item in items:
        if FUZZ:  # make fuzz stops each generated test by its own clock; a module's limit would
            item.add_marker(pytest.mark.timeout(0))  # end it mid-example as a failure
        for fixture in set(item.fixturenames) & MARKERS_OF_FIXTURES.keys():
            for marker in MARKERS_OF_FIXTURES[fixture]:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _isolated_git_config(tmp_path_factory, monkeypatch):
    """The machine's own git configuration (helpers, insteadOf rules) must not change results."""
    config = tmp_path_factory.getbasetemp() / "gitconfig-empty"
    config.touch()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")

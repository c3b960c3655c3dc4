"""``ipy-storage pull`` (behaviour §6.7) as a hub's postStart hook runs it: the installed console
script in a child process, against a real private git server; one line per storage, exit codes,
``--json``, and no token in anything it prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("ipy-storage")
GIT = "prefect.deployments.steps.git_clone"


def _run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "pull", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def course(tmp_path, git_http_server, make_repo):
    """A hub admin's file: a private repository behind a token, a public one (``id: data``,
    pulled into its default folder ``public``, as Prefect's step would), a sparse one."""
    private = git_http_server.create_repo({"notes/a.md": "A\n"})
    public = make_repo({"data.csv": "x\n1\n"}, name="public")
    sparse = make_repo({"week1/a.py": "1\n", "week2/b.py": "2\n"}, name="sparse")
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "ipy-storage.yaml").write_text(
        f"pull:\n"
        f"- {GIT}:\n    id: course\n    repository: {private.url}\n    branch: null\n"
        f"    clone_directory_name: course\n"
        f"    credentials:\n      access_token: '{{{{ $HUB_GIT_TOKEN }}}}'\n"
        f"- {GIT}:\n    id: data\n    repository: {public.url}\n    branch: null\n"
        f"- {GIT}:\n    repository: {sparse.url}\n    branch: null\n    directories: [week1]\n"
        "ipy-storage:\n  data: {interval: 60, watch: true}\n"
    )
    return folder


def test_pulls_every_storage_with_one_line_each(course, git_http_server):
    env = {"HUB_GIT_TOKEN": git_http_server.token}
    first = _run(cwd=course, env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["course", "data", "sparse"]
    assert "1 added" in lines[0] and lines[0].endswith(f"→ {course / 'course'}")
    assert (course / "course" / "notes" / "a.md").read_text() == "A\n"
    assert (course / "sparse" / "week1" / "a.py").exists()
    assert not (course / "sparse" / "week2").exists()

    again = _run(str(course / "ipy-storage.yaml"), "data", cwd=course.parent, env=env)
    assert again.returncode == 0 and again.stdout.startswith("data: up to date")
    for output in (first.stdout + first.stderr, again.stdout + again.stderr):
        for secret in git_http_server.secret_forms():
            assert secret not in output


def test_a_failure_does_not_stop_the_others_and_exits_1(course, git_http_server):
    result = _run("--json", cwd=course, env={"HUB_GIT_TOKEN": "wrong-token-value"})
    assert result.returncode == 1
    report = json.loads(result.stdout)
    by_name = {storage["name"]: storage for storage in report["storages"]}
    assert not report["ok"] and not by_name["course"]["ok"]
    assert "token" in by_name["course"]["error"].lower() and "\n" not in by_name["course"]["error"]
    assert "wrong-token-value" not in result.stdout
    assert by_name["data"]["ok"] and by_name["data"]["added"] == ["data.csv"]
    assert by_name["data"]["revision"] and by_name["data"]["destination"] == str(course / "public")


def test_into_pulls_under_another_folder(course, git_http_server, tmp_path):
    target = tmp_path / "elsewhere"
    result = _run("ipy-storage.yaml", "data", "--into", str(target), cwd=course)
    assert result.returncode == 0, result.stderr
    assert (target / "public" / "data.csv").exists() and not (course / "public").exists()


@pytest.mark.parametrize(
    "setup, args, expected",
    [
        (None, [], "does not exist"),
        ("pull: [unclosed\n", [], "ipy-storage.yaml line 2: expected ',' or ']'"),
        ("pull: []\n", ["nope"], "no storage named nope (known: none)"),
    ],
)
def test_nothing_can_start_exits_2_with_one_line(tmp_path, setup, args, expected):
    if setup is not None:
        (tmp_path / "ipy-storage.yaml").write_text(setup)
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and expected in result.stderr
    as_json = _run(*args, "--json", cwd=tmp_path)
    assert as_json.returncode == 2 and expected in json.loads(as_json.stdout)["error"]


def test_python_dash_m_keeps_the_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ipy_storage", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "demo" in result.stdout and "pull" in result.stdout

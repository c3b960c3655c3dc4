"""``python -m ipy_storage demo`` (what ``make demo`` runs): offline, repeatable, never clears a
folder it did not make."""

from __future__ import annotations

import subprocess
import sys


def _demo(workspace) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipy_storage", "demo", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_pulls_reports_and_prints_pull_steps_twice_in_a_row(tmp_path):
    for _ in range(2):
        run = _demo(tmp_path / "ws")
        assert run.returncode == 0, run.stderr
        assert "first pull" in run.stdout and "3 added" in run.stdout
        assert "1 merged" in run.stdout
        assert "prefect.deployments.steps.git_clone:" in run.stdout
        assert "prefect.deployments.steps.pull_from_remote_storage:" in run.stdout
    hello = (tmp_path / "ws" / "demo-flows" / "flows" / "hello.py").read_text()
    assert hello.startswith("# my local experiment") and "(v2)" in hello


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    run = _demo(tmp_path)
    assert run.returncode == 1
    assert "pick another --workspace" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"

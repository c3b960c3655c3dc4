"""The first run (behaviour §7): ``python -m ipy_storage demo`` (what ``make demo`` runs) is offline,
repeatable, never clears a folder it did not make, and reads as a short report that ends with the
next step; ``make lab`` works as root; the README's Binder badge opens the quickstart."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _demo(workspace) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipy_storage", "demo", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_demo_reports_what_was_pulled_where_what_changed_and_the_pull_section(tmp_path):
    for _ in range(2):
        run = _demo(tmp_path / "ws")
        assert run.returncode == 0, run.stderr
        out = run.stdout
        first, second, steps = out.split("\n1. ")[1], out.split("\n2. ")[1], out.split("\n3. ")[1]
        assert "demo-flows" in first and f"{tmp_path}/ws/demo-flows" in first
        assert "3 added" in first and "+ flows/hello.py" in first and "+ config.yaml" in first
        assert re.search(r"^ +\* flows/hello.py$", second, re.M)  # merged: both edits in it
        assert "1 merged" in second
        assert "+ flows/etl.py" in second and "+ queries/weekly.sql" in second
        assert "+ added  ~ modified  - deleted  * merged" in second and "= kept local" in second
        section = yaml.safe_load(steps.split("\n", 1)[1].split("\n\nnext:")[0])
        assert [next(iter(step)) for step in section["pull"]] == [
            "prefect.deployments.steps.git_clone",
            "prefect.deployments.steps.pull_from_remote_storage",
        ]
        assert (
            out.rstrip().splitlines()[-1].startswith("next: make lab → notebooks/quickstart.ipynb")
        )
        assert "PullResult(" not in out and "GitRepository(" not in out  # no debug reprs
    hello = (tmp_path / "ws" / "demo-flows" / "flows" / "hello.py").read_text()
    assert hello.startswith("# my local experiment") and "(v2)" in hello


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    run = _demo(tmp_path)
    assert run.returncode == 1
    assert "pick another --workspace" in run.stderr and "Traceback" not in run.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_make_lab_runs_as_root_and_opens_the_quickstart():
    recipe = subprocess.run(
        ["make", "-n", "-s", "lab", "TEST=/dev/null"], cwd=ROOT, capture_output=True, text=True
    )
    assert recipe.returncode == 0, recipe.stderr
    assert "--allow-root" in recipe.stdout and "notebooks/quickstart.ipynb" in recipe.stdout


def test_the_readme_badge_opens_the_quickstart_on_binder():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[[^]]*\]\(https://mybinder.org/badge_logo.svg\)\]\(([^)]+)\)", readme)
    assert badge, "no Binder badge in the README"
    assert re.fullmatch(
        r"https://mybinder.org/v2/gh/[\w.-]+/[\w.-]+/HEAD\?urlpath=lab/tree/notebooks/quickstart.ipynb",
        badge.group(1),
    )
    assert (ROOT / "notebooks" / "quickstart.ipynb").exists()
    requirements = (ROOT / "binder" / "requirements.txt").read_text().split()
    assert {".", "ipykernel>=7.1", "jupyterlab", "ipywidgets"} <= set(requirements)

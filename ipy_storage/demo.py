"""Embedded demo sources, built offline, so every example runs on Binder, in CI and on a laptop
with no network and no token (behaviour §7)."""

from __future__ import annotations

import os
import subprocess
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

FLOWS_V1 = {
    "flows/__init__.py": '"""Demo flows package."""\n',
    "flows/hello.py": 'def hello(name: str = "world") -> str:\n    return f"Hello, {name}!"\n',
    "README.md": "# demo-flows\n\nA tiny flows package used by the ipy_storage demo.\n",
}
FLOWS_V2 = {
    "flows/hello.py": 'def hello(name: str = "world") -> str:\n    return f"Hello, {name}! (v2)"\n',
    "flows/etl.py": "def extract() -> list[int]:\n    return [1, 2, 3]\n",
}
DATA_V1 = {"config.yaml": "threshold: 3\n", "queries/daily.sql": "select 1;\n"}
DATA_V2 = {"queries/weekly.sql": "select 7;\n"}

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "ipy_storage demo",
    "GIT_AUTHOR_EMAIL": "demo@example.invalid",
    "GIT_COMMITTER_NAME": "ipy_storage demo",
    "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class DemoSources:
    """Where the demo sources live: a bare git repository and a plain folder (an fsspec source)."""

    root: Path
    git_url: str
    folder_url: str
    work_tree: Path
    folder: Path

    def publish_second_version(self) -> None:
        """Upstream moves on: a second commit and a new file in the folder."""
        _write(self.work_tree, FLOWS_V2)
        _commit(self.work_tree, "v2: louder hello, add etl")
        _write(self.folder, DATA_V2)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **_GIT_ENV}
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _commit(work_tree: Path, message: str) -> None:
    _git(work_tree, "add", "-A")
    _git(work_tree, "commit", "-q", "-m", message)
    _git(work_tree, "push", "-q", "origin", "HEAD:main")


def build_sources(root: str | Path) -> DemoSources:
    """Create the demo sources under ``root`` (which must not hold them yet), first version."""
    root = Path(root).absolute()
    bare, work_tree, folder = root / "demo-flows.git", root / "demo-flows-work", root / "demo-data"
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(root, "clone", "-q", str(bare), str(work_tree))
    _git(work_tree, "checkout", "-q", "-b", "main")
    _write(work_tree, FLOWS_V1)
    _commit(work_tree, "v1: hello flow")
    _write(folder, DATA_V1)
    return DemoSources(root, str(bare), folder.as_uri(), work_tree, folder)


def fresh_workspace(workspace: str | Path) -> Path:
    """An empty demo workspace; a folder is only ever cleared if an earlier demo run made it."""
    import shutil

    base = Path(workspace).absolute()
    marker = base / ".ipy-storage-demo"
    if base.exists() and any(base.iterdir()):
        if not marker.exists():
            raise FileExistsError(
                f"{base} is not empty and was not made by the demo: pick another --workspace."
            )
        shutil.rmtree(base)
    base.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return base


def run(workspace: str | Path, out=print) -> None:
    """Pull the demo sources, edit a file, let upstream move on, pull again; report each step."""
    from .display import PullReport, relative_destination, step_text
    from .storage import RemoteStorage
    from .storage.step_warnings import PullStepWarning
    from .workspaces import Workspace

    base = fresh_workspace(workspace)
    sources = build_sources(base / ".demo-sources")
    ws = Workspace(base)
    ws.add(sources.git_url, name="demo-flows", pull_interval=None)
    ws.add(RemoteStorage(sources.folder_url, pull_interval=None), name="demo-data")
    out(
        f"ipy_storage demo: two sources made on this machine (no network, no token), "
        f"pulled into {relative_destination(base)}/\n"
    )
    out("1. First pull: a git repository and a folder read through fsspec (file://)")
    out(_indented(PullReport(ws.pull_each()).text(legend=False)))

    hello = ws["demo-flows"].destination / "flows" / "hello.py"
    hello.write_text("# my local experiment\n" + hello.read_text())
    sources.publish_second_version()
    out("\n2. You edit flows/hello.py; upstream publishes v2. Second pull (your edit is kept):")
    out(_indented(PullReport(ws.pull_each()).text()))

    out("\n3. The pull: section of a prefect.yaml that makes a Prefect worker pull the same:")
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", PullStepWarning)
        steps = [ws[name].to_pull_step() for name in ws]
    out("pull:\n" + step_text(steps))
    for note in notes:  # what a worker could not reproduce, said in the demo's own voice
        out(textwrap.fill(f"note: {note.message}", width=96, subsequent_indent="      "))
    out("\nnext: make lab → notebooks/quickstart.ipynb (the same with %storage magics)")


def _indented(text: str) -> str:
    return "\n".join(f"   {line}" for line in text.splitlines())

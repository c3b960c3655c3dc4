"""What both benchmarks share: scratch folders in RAM, long-lived runner processes (the peer ones
run in the Prefect venv that ``tests/fixtures/prefect_venv.py`` builds for the tests too), and
writing one section of RESULTS.md."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"


def scratch_root(prefix: str) -> Path:
    """A fresh folder in /dev/shm when it exists (disk writes on /tmp are too noisy to time)."""
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


class Runner:
    """A long-lived runner script: one JSON request a line on stdin, one answer a line on stdout
    prefixed ``@@`` (so whatever the libraries print is never taken for an answer)."""

    def __init__(
        self, python: Path, script: Path, env: dict | None = None, cwd: str | None = None
    ) -> None:
        self.process = subprocess.Popen(
            [str(python), str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )

    def call(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        while True:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"{self.process.args[-1]} exited")
            if line.startswith("@@"):
                answer = json.loads(line[2:])
                break
        if "error" in answer:
            raise RuntimeError(f"{request.get('impl')}: {answer['error']}")
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def write_section(heading: str, text: str) -> None:
    """Replace (or append) the section under ``heading`` only; other sections stay as they are."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    start = current.find(heading)
    if start == -1:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = current.find("\n## ", start + len(heading))
        rest = "" if end == -1 else "\n\n" + current[end + 1 :]
        updated = current[:start] + text.rstrip("\n") + rest
    RESULTS.write_text(updated.rstrip("\n") + "\n")

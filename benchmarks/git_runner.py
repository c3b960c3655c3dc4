"""Peer side of ``bench_git.py``: runs Prefect's ``GitRepository`` and nbgitpuller's ``GitPuller``
inside the peer venv (``benchmarks/.venv-prefect``), one timed pull per request.

Protocol: one JSON request a line on stdin
(``{"impl": "prefect" | "nbgitpuller", "url": ..., "base": ..., "name": ..., "credentials": ...}``);
one answer a line on stdout, prefixed ``@@`` (``{"seconds": t}`` or ``{"error": "..."}``), so that
whatever the libraries print cannot be mistaken for an answer. Imports happen before the clock starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path


async def prefect_pull(request: dict) -> float:
    from prefect.runner.storage import GitRepository

    repo = GitRepository(
        url=request["url"],
        credentials=request.get("credentials"),
        name=request["name"],
        directories=request.get("directories"),
    )
    repo.set_base_path(Path(request["base"]))
    started = time.perf_counter()
    await repo.pull_code()
    return time.perf_counter() - started


def nbgitpuller_pull(request: dict) -> float:
    from nbgitpuller.pull import GitPuller

    target = os.path.join(request["base"], request["name"])
    started = time.perf_counter()
    puller = GitPuller(
        request["url"], target, depth=1
    )  # resolves the default branch: part of a pull
    for _line in puller.pull():
        pass
    return time.perf_counter() - started


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["impl"] == "prefect":
                answer = {"seconds": asyncio.run(prefect_pull(request))}
            elif request["impl"] == "nbgitpuller":
                answer = {"seconds": nbgitpuller_pull(request)}
            elif request["impl"] == "warmup":
                import nbgitpuller.pull  # noqa: F401
                import prefect.runner.storage  # noqa: F401

                answer = {"seconds": 0.0}
            else:
                answer = {"error": f"unknown implementation {request['impl']!r}"}
        except Exception as error:  # noqa: BLE001 - reported to the orchestrator
            answer = {"error": f"{type(error).__name__}: {error}"[:500]}
        sys.stdout.write("@@" + json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Benchmark worker for ``bench_remote.py``: one long-lived process per implementation, so imports
and fsspec's filesystem instances are warm for every implementation alike.

Reads JSON lines ``{"impl": ..., "url": ..., "settings": {...}, "base": "/dir"}`` on stdin and
answers ``{"seconds": float}`` (time of the pull call only) or ``{"error": "..."}`` per line.
``impl``: ``ours`` (ipy_storage.RemoteStorage), ``prefect`` (prefect.runner.storage.RemoteStorage,
run in Prefect's own venv with cwd ``/``), ``fsspec`` (a plain recursive ``fs.get``).
A line ``{"impl": "peak-memory", ...}`` pulls once with ours and answers the VmHWM growth.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

SECRET_KEYS = {"key", "secret", "token", "password"}


def vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def pull_ours(url: str, settings: dict, base: str) -> None:
    from ipy_storage import RemoteStorage, Secret

    wrapped = {k: Secret(v) if k in SECRET_KEYS else v for k, v in settings.items()}
    storage = RemoteStorage(url, **wrapped)
    storage.set_base_path(Path(base))
    storage.pull()


def pull_prefect(url: str, settings: dict, base: str, loop: asyncio.AbstractEventLoop) -> None:
    from prefect.runner.storage import RemoteStorage

    storage = RemoteStorage(url, **settings)
    storage.set_base_path(Path(base))
    loop.run_until_complete(storage.pull_code())


def pull_fsspec(url: str, settings: dict, base: str) -> None:
    import fsspec

    fs, root = fsspec.core.url_to_fs(url, **settings)
    fs.invalidate_cache()
    Path(base).mkdir(parents=True, exist_ok=True)
    fs.get(root.rstrip("/") + "/", base.rstrip("/") + "/", recursive=True)


def main() -> None:
    loop = asyncio.new_event_loop()
    for line in sys.stdin:
        request = json.loads(line)
        impl, url, settings, base = (
            request["impl"],
            request["url"],
            request.get("settings", {}),
            request["base"],
        )
        try:
            if impl == "peak-memory":
                import fsspec

                import ipy_storage.storage.mirror.pull  # noqa: F401

                fsspec.core.url_to_fs(url, **settings)  # imports the back end: part of the baseline
                before = vm_hwm_kib()
                started = time.perf_counter()
                pull_ours(url, settings, base)
                answer = {
                    "seconds": time.perf_counter() - started,
                    "baseline_kib": before,
                    "peak_kib": vm_hwm_kib(),
                }
            else:
                started = time.perf_counter()
                if impl == "ours":
                    pull_ours(url, settings, base)
                elif impl == "prefect":
                    pull_prefect(url, settings, base, loop)
                elif impl == "fsspec":
                    pull_fsspec(url, settings, base)
                else:
                    raise ValueError(f"unknown impl {impl!r}")
                answer = {"seconds": time.perf_counter() - started}
        except Exception as exc:  # report, keep serving
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print("@@" + json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()

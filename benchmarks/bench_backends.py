"""A no-change pull on every back end of the test matrix, against a plain fsspec ``find``.

    python benchmarks/bench_backends.py [--files 200] [--runs 7] [--no-write]

Each back end (the servers of ``tests/fixtures/backends.py``, on 127.0.0.1) holds the same
``--files`` small files in 10 folders. Per back end: our ``RemoteStorage.pull()`` with nothing
changed (after a first pull), and a plain ``fs.find(root, detail=True)`` (the listing alone, on
fsspec's cached filesystem) — median seconds over ``--runs``, and the requests the server logged
for one of each (where it logs them). ``bench_remote.py`` runs this too; results go to
``benchmarks/RESULTS.md`` under ``## RemoteStorage: no-change pull per back end``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import RESULTS, scratch_root, write_section  # noqa: E402
from tests.fixtures import s3_server  # noqa: E402
from tests.fixtures.backends import BACKENDS, BackendFarm  # noqa: E402

SECTION = "## RemoteStorage: no-change pull per back end"
NOTES = {
    "http": "a page per folder and a HEAD per file (a web listing has no size, date or ETag; "
    "`find`'s pages cost a 301 each first, and it cannot tell a change)",
    "sftp": "the last pull's connection, checked alive",
    "ftp": "the last pull's connection, checked alive (one NOOP)",
    "webdav": "one PROPFIND per folder",
    "azure": "container check and one listing",
}


def make_files(count: int) -> dict[str, bytes]:
    return {f"pkg{i % 10}/module_{i:04d}.py": f"x = {i}\n".encode() * 20 for i in range(count)}


def timed(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def logged(backend, function) -> int | None:
    mark = backend.mark()
    function()
    requests = backend.requests_since(mark)
    return None if requests is None else len(requests)


def measure(backend, files: dict[str, bytes], scratch: Path, runs: int) -> dict:
    import fsspec

    from ipy_storage import RemoteStorage
    from ipy_storage.storage.secrets import reveal

    backend.publish("bench", files)
    storage = RemoteStorage(backend.url("bench"), **backend.settings())
    storage.set_base_path(scratch / backend.name)
    first = storage.pull()
    assert len(first.added) == len(files), (backend.name, first.summary())
    fs, root = fsspec.core.url_to_fs(backend.url("bench"), **reveal(backend.settings()))

    def find() -> None:
        fs.invalidate_cache()
        assert len(fs.find(root, detail=True)) >= len(files) or backend.name == "http"

    def pull() -> None:
        assert not storage.pull().changed

    pull(), find()  # warm: connections, imports
    return {
        "ours": timed(pull, runs),
        "find": timed(find, runs),
        "ours_requests": logged(backend, pull),
        "find_requests": logged(backend, find),
    }


def render(results: dict, files: int, runs: int) -> str:
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_backends.py` — {files} small files in 10 folders on each "
        f"back end's real server on 127.0.0.1, medians of {runs} runs; `find` = a plain "
        "`fs.find(root, detail=True)` on fsspec's cached filesystem (the listing alone, what "
        "any sync must at least do). Requests as the server logged them for one call "
        f"(– where it logs none). Machine: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}.",
        "",
        "| back end | no-change pull (s) | `find` (s) | pull / find | requests: pull | "
        "requests: find | why |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        shown = ["–" if row[k] is None else str(row[k]) for k in ("ours_requests", "find_requests")]
        lines.append(
            f"| {name} | {row['ours']:.4f} | {row['find']:.4f} | {row['ours'] / row['find']:.2f} "
            f"| {shown[0]} | {shown[1]} | {NOTES.get(name, '')} |"
        )
    lines += [
        "",
        "A no-change pull transfers no file content on any back end (the tests check the "
        "servers' logs). Beyond the listing it reads the manifest and compares it with the "
        "listing; sftp and ftp pulls borrow the connection the last pull left (checked alive: "
        "a new sftp login costs a key exchange and the key's decryption, most of a second).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="ipy-bench-backends-"))
    root.chmod(0o755)  # sshd runs as nobody
    scratch = scratch_root("ipy-bench-backends-")
    moto = []

    def start_moto() -> tuple[str, object]:
        process, endpoint = s3_server.start_moto_server()
        moto.append(process)
        return endpoint, s3_server.boto_client(endpoint)

    farm = BackendFarm(root, start_moto)
    files = make_files(args.files)
    results = {}
    try:
        for name in BACKENDS:
            if name == "memory":
                continue  # no server: nothing to compare with
            results[name] = measure(farm.get(name), files, scratch, args.runs)
            print(f"{name}: {results[name]}", flush=True)
    finally:
        farm.stop()
        for process in moto:
            s3_server.stop_process(process)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)

    text = render(results, args.files, args.runs)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

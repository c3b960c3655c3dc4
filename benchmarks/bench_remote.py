"""RemoteStorage benchmark (issues 4, 9): ours vs Prefect 3.9.1's RemoteStorage vs a plain fsspec get.

    python benchmarks/bench_remote.py [--files 2000 20000] [--runs 7] [--s3-files 500]
                                      [--s3-runs 3] [--no-s3] [--no-write]

- small files over ``file://`` (2,000 and 20,000 by default): a first pull into a fresh
  destination, a no-change pull, then a pull after one source file changed;
- one 300 MB file over ``file://``: a first pull;
- small objects over a moto S3 server (started here; moto is CPU-bound at ~7-10 ms an object, so
  this set is smaller): first and no-change pulls;
- peak memory (VmHWM growth of a fresh process over its baseline after imports) while pulling
  one 300 MB object (file:// and S3) and while pulling the 20,000 files.

Destinations in /dev/shm; implementations interleaved (the order rotates every run); medians;
ratios against Prefect and fsspec in the same run. Prefect runs in its own venv
(``benchmarks/.venv-prefect``, created on first use) with ``PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=
false``, a temporary ``PREFECT_HOME`` and cwd ``/`` (its ``file:///abs`` URLs only work from there).

Results go to ``benchmarks/RESULTS.md`` under ``## RemoteStorage``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "remote_runner.py"
SECTION = "## RemoteStorage"
IMPLS = ("ours", "prefect", "fsspec")
BIG_MB = 300
LIMITS = {  # ours / Prefect, issue 9
    ("file", "first"): 0.9,
    ("file", "again"): 0.1,
    ("file", "one"): 0.12,
    ("big", "first"): 1.3,
    ("s3", "first"): 1.0,
    ("s3", "again"): 0.1,
}
PULL_LABELS = {"first": "first", "again": "no change", "one": "one file changed"}

sys.path.insert(0, str(HERE.parent))

from benchmarks.common import (  # noqa: E402
    RESULTS,
    Runner,
    scratch_root,
    write_section,
)
from tests.fixtures import s3_server  # noqa: E402  (the moto server the tests use)
from tests.fixtures.prefect_venv import PREFECT_VERSION, ensure_peer_venv  # noqa: E402


def make_files(count: int) -> dict[str, bytes]:
    rng = random.Random(4)
    return {
        f"pkg{i // 100:03d}/module_{i:05d}.py": (
            f"# module {i}\n" + "x = 1\n" * rng.randint(20, 200)
        ).encode()
        for i in range(count)
    }


def write_source(root: Path, files: dict[str, bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def upload(endpoint: str, bucket: str, files: dict[str, bytes], prefix: str) -> None:
    client = s3_server.boto_client(endpoint)
    client.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda kv: client.put_object(Bucket=bucket, Key=f"{prefix}/{kv[0]}", Body=kv[1]),
                files.items(),
            )
        )


def measure(
    runners: dict[str, Runner],
    url: str,
    settings: dict,
    scratch: Path,
    runs: int,
    label: str,
    pulls: tuple[str, ...] = ("first", "again"),
    change: Callable[[int], None] | None = None,
) -> dict:
    """Per implementation, the median seconds of each pull in ``pulls`` (``first`` into a fresh
    folder, ``again`` with nothing changed, ``one`` after ``change`` edited one source file),
    implementations interleaved, after one untimed round (imports, first connections)."""
    times = {impl: {pull: [] for pull in pulls} for impl in runners}
    order = list(runners)
    for run in range(-1, runs):
        for turn, impl in enumerate(order[run % len(order) :] + order[: run % len(order)]):
            base = scratch / f"{label}-{impl}-{run}"
            for pull in pulls:
                if pull == "one" and change is not None:
                    change((run + 1) * len(order) + turn)
                answer = runners[impl].call(impl=impl, url=url, settings=settings, base=str(base))
                if run >= 0:
                    times[impl][pull].append(answer["seconds"])
            shutil.rmtree(base)
        if run < 0:
            continue
        print(
            f"  {label} run {run + 1}/{runs}: "
            + ", ".join(
                f"{impl} " + "/".join(f"{times[impl][p][-1]:.3f}" for p in pulls) + "s"
                for impl in order
            ),
            flush=True,
        )
    return {
        impl: {pull: statistics.median(v) for pull, v in t.items()} | {"runs": runs}
        for impl, t in times.items()
    }


def one_file_changer(source: Path, files: dict[str, bytes]) -> Callable[[int], None]:
    """Append a line to one file of the source (a different line each time)."""
    rel = sorted(files)[len(files) // 2]

    def change(counter: int) -> None:
        path = source / rel
        path.write_bytes(path.read_bytes() + f"# change {counter}\n".encode())

    return change


def peak_memory(python: Path, url: str, settings: dict, base: Path) -> dict:
    runner = Runner(python, RUNNER)
    try:
        answer = runner.call(impl="peak-memory", url=url, settings=settings, base=str(base))
    finally:
        runner.close()
    answer["growth_mb"] = (answer["peak_kib"] - answer["baseline_kib"]) / 1024
    shutil.rmtree(base, ignore_errors=True)
    return answer


def write_big_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)


def render(results: dict, memory: dict) -> str:
    runs = {label: by_impl["ours"]["runs"] for label, (_, by_impl) in results.items()}
    lines = [
        SECTION,
        "",
        "`python benchmarks/bench_remote.py` — destinations in /dev/shm, medians of "
        + ", ".join(f"{n} runs ({label})" for label, n in runs.items())
        + f", implementations interleaved. Prefect {PREFECT_VERSION} `RemoteStorage` in its own "
        "venv; fsspec = plain recursive `fs.get`. Machine: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| source | pull | ours (s) | Prefect (s) | fsspec get (s) | ours / Prefect | target "
        "| ours / fsspec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, (kind, by_impl) in results.items():
        for pull in by_impl["ours"]:
            if pull == "runs":
                continue
            ours, prefect, raw = (by_impl[i][pull] for i in IMPLS)
            target = LIMITS.get((kind, pull))
            verdict = (
                "–"
                if target is None
                else f"≤ {target} " + ("ok" if ours / prefect <= target else "MISSED")
            )
            lines.append(
                f"| {label} | {PULL_LABELS[pull]} | {ours:.4f} | {prefect:.4f} | {raw:.4f} "
                f"| {ours / prefect:.3f} | {verdict} | {ours / raw:.3f} |"
            )
    lines += [
        "",
        "Peak memory of our pull (growth of VmHWM in a fresh process over its baseline after "
        "imports):",
        "",
    ]
    for label, (answer, limit) in memory.items():
        verdict = "ok" if answer["growth_mb"] < limit else "over"
        lines.append(
            f"- {label}: {answer['growth_mb']:.1f} MB ({answer['seconds']:.2f} s) — target "
            f"< {limit} MB, {verdict}"
        )
    lines += [
        "",
        "A no-change pull lists the source once and compares it with the manifest in one `==` of "
        "two maps of strings; files the user deleted are found by one `listdir` of each folder "
        "changed since a pull found it complete (an unchanged mtime, older than the file "
        "system's timestamp tick, needs none), and a pull that changed a few files appends one "
        "commit line to the journal instead of rewriting the manifest. "
        "A local folder is listed with `listdir` and one `stat` per file relative to the "
        "folder's descriptor, not with fsspec's `find` (which spent 84 % of a 20,000-file "
        "no-change pull building its per-entry dicts); that `stat` is most of what is left. "
        "Small local files are copied with one `read` and one `write` on plain descriptors "
        "(hashed on the way, for telling a touched file from an edit), files above 8 MiB by "
        "`shutil.copyfile` (the kernel's `sendfile`), not hashed. Each pulled text file and "
        "notebook up to 8 MiB is also kept as a pristine copy under the hidden state folder, "
        "the base of a later three-way merge with the user's edits (issue 17): a second "
        "write of every small file, which took the 2,000-file first pull from 0.73 to about "
        "0.9 × Prefect and the 20,000-file one from 0.60 to 0.85 ×. Prefect re-downloads "
        "everything on every pull. Over S3 the first pull is one batched `fs.get` (as "
        "Prefect's), files placed as they complete; s3fs's parallel ranged download of large "
        "objects (50 MB parts held in memory) is turned off (`max_concurrency=1`, unless the "
        "user sets it) so objects stream. The S3 first pull makes the same requests as "
        "Prefect's (one listing, one GET per object) against a CPU-bound moto on 2 cores: its "
        "ratio sits at 1.0 and moves about ±10% between runs. The machine is shared: timings are "
        "noisy, ratios in one run are what counts.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--big-runs", type=int, default=9)
    parser.add_argument("--s3-files", type=int, default=500)
    parser.add_argument("--s3-runs", type=int, default=3)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md")
    args = parser.parse_args()

    prefect_python = ensure_peer_venv()
    scratch = scratch_root("ipy-bench-remote-")
    prefect_home = Path(tempfile.mkdtemp(prefix="prefect-home-"))
    prefect_env = {
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false",
        "PREFECT_HOME": str(prefect_home),
    }
    runners = {
        "ours": Runner(Path(sys.executable), RUNNER),
        "prefect": Runner(prefect_python, RUNNER, env=prefect_env, cwd="/"),
        "fsspec": Runner(Path(sys.executable), RUNNER),
    }
    ours_python = Path(sys.executable)
    moto = None
    results: dict = {}
    memory: dict = {}
    try:
        for count in args.files:
            files = make_files(count)
            source = scratch / f"source-{count}"
            write_source(source, files)
            label = f"file:// {count:,} files"
            print(f"{label}, {sum(map(len, files.values())) / 1e6:.1f} MB", flush=True)
            results[label] = (
                "file",
                measure(
                    runners,
                    source.as_uri(),
                    {},
                    scratch,
                    args.runs,
                    f"file{count}",
                    pulls=("first", "again", "one"),
                    change=one_file_changer(source, files),
                ),
            )
            if count == max(args.files):
                memory[f"file:// {count:,} files"] = (
                    peak_memory(ours_python, source.as_uri(), {}, scratch / "mem-files"),
                    50,
                )
            shutil.rmtree(source)

        big = scratch / "big"
        write_big_file(big / "object.bin", BIG_MB << 20)
        label = f"file:// one {BIG_MB} MB file"
        print(label, flush=True)
        results[label] = (
            "big",
            measure(runners, big.as_uri(), {}, scratch, args.big_runs, "big", pulls=("first",)),
        )
        memory[f"file:// one {BIG_MB} MB file (kernel copy)"] = (
            peak_memory(ours_python, big.as_uri(), {}, scratch / "mem-file"),
            100,
        )

        if not args.no_s3:
            moto, endpoint = s3_server.start_moto_server()
            settings = {
                "key": s3_server.ACCESS_KEY,
                "secret": s3_server.SECRET_KEY,
                "endpoint_url": endpoint,
            }
            files = make_files(args.s3_files)
            started = time.perf_counter()
            upload(endpoint, "bench", files, "code")
            label = f"S3 (moto) {len(files):,} objects"
            print(f"{label}: uploaded in {time.perf_counter() - started:.1f}s", flush=True)
            results[label] = (
                "s3",
                measure(runners, "s3://bench/code", settings, scratch, args.s3_runs, "s3"),
            )
            with open(big / "object.bin", "rb") as body:
                s3_server.boto_client(endpoint).put_object(
                    Bucket="bench", Key="big/object.bin", Body=body
                )
            memory[f"S3 (moto) one {BIG_MB} MB object, one stream per object"] = (
                peak_memory(ours_python, "s3://bench/big", settings, scratch / "mem-s3"),
                100,
            )
            memory[
                "S3 for comparison: s3fs's own default, parallel ranges (max_concurrency=10)"
            ] = (
                peak_memory(
                    ours_python,
                    "s3://bench/big",
                    {**settings, "max_concurrency": 10},
                    scratch / "mem-s3",
                ),
                100,
            )
    finally:
        for runner in runners.values():
            runner.close()
        if moto is not None:
            s3_server.stop_process(moto)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(prefect_home, ignore_errors=True)

    text = render(results, memory)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

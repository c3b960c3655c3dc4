"""RemoteStorage benchmark (issue 4): ours vs Prefect 3.9.1's RemoteStorage vs a plain fsspec get.

    python benchmarks/bench_remote.py [--files 2000] [--runs 5] [--s3-runs 3] [--no-s3] [--no-write]

- 2,000 small files over ``file://`` and over a moto S3 server (started here): first pull into a
  fresh destination, then a no-change pull; destinations in /dev/shm; implementations interleaved
  (the order rotates every run); medians; ratios against Prefect and fsspec.
- peak memory while pulling one 200 MB object (file:// and S3): VmHWM growth of a fresh process.
- Prefect runs in its own venv (``benchmarks/.venv-prefect``, created on first use) with
  ``PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=false``, a temporary ``PREFECT_HOME`` and cwd ``/`` (its
  ``file:///abs`` URLs only work from there).

Results go to ``benchmarks/RESULTS.md`` under ``## RemoteStorage (issue 4)``.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "remote_runner.py"
SECTION = "## RemoteStorage (issue 4)"
IMPLS = ("ours", "prefect", "fsspec")

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
        f"pkg{i // 100:02d}/module_{i:04d}.py": (
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
    runners: dict[str, Runner], url: str, settings: dict, scratch: Path, runs: int, label: str
) -> dict:
    """Per implementation: lists of first-pull and no-change-pull seconds, interleaved."""
    times = {impl: {"first": [], "again": []} for impl in runners}
    order = list(runners)
    for run in range(runs):
        for impl in order[run % len(order) :] + order[: run % len(order)]:
            base = scratch / f"{label}-{impl}-{run}"
            first = runners[impl].call(impl=impl, url=url, settings=settings, base=str(base))[
                "seconds"
            ]
            again = runners[impl].call(impl=impl, url=url, settings=settings, base=str(base))[
                "seconds"
            ]
            times[impl]["first"].append(first)
            times[impl]["again"].append(again)
            shutil.rmtree(base)
        print(
            f"  {label} run {run + 1}/{runs}: "
            + ", ".join(
                f"{impl} {times[impl]['first'][-1]:.3f}/{times[impl]['again'][-1]:.3f}s"
                for impl in order
            ),
            flush=True,
        )
    return {
        impl: {k: statistics.median(v) for k, v in t.items()} | {"runs": runs}
        for impl, t in times.items()
    }


def peak_memory(python: Path, url: str, settings: dict, base: Path) -> dict:
    runner = Runner(python, RUNNER)
    try:
        answer = runner.call(impl="peak-memory", url=url, settings=settings, base=str(base))
    finally:
        runner.close()
    answer["growth_mb"] = (answer["peak_kib"] - answer["baseline_kib"]) / 1024
    return answer


def write_big_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for _ in range(size // len(block)):
            out.write(block)


def render(results: dict, memory: dict, files: int, limits: dict) -> str:
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_remote.py` — {files} small files, destinations in /dev/shm, "
        f"medians (file:// {results['file']['ours']['runs']} runs"
        + (f", S3 {results['s3']['ours']['runs']} runs" if "s3" in results else "")
        + f"), implementations interleaved. Prefect {PREFECT_VERSION} `RemoteStorage` in its own venv; "
        f"fsspec = plain recursive `fs.get`. Machine: {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| source | pull | ours (s) | Prefect (s) | fsspec get (s) | ours / Prefect | target | ours / fsspec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for source, by_impl in results.items():
        for kind, label in (("first", "first"), ("again", "no change")):
            ours, prefect, raw = (by_impl[i][kind] for i in IMPLS)
            target = limits[(source, kind)]
            verdict = "ok" if ours / prefect <= target else "MISSED"
            lines.append(
                f"| {source} | {label} | {ours:.3f} | {prefect:.3f} | {raw:.3f} | {ours / prefect:.2f} "
                f"| ≤ {target} {verdict} | {ours / raw:.2f} |"
            )
    lines += [
        "",
        "Peak memory while pulling one 200 MB object (growth of VmHWM in a fresh process over its "
        "baseline after imports; target < 100 MB):",
        "",
    ]
    for source, answer in memory.items():
        verdict = "ok" if answer["growth_mb"] < 100 else "over"
        lines.append(
            f"- {source}: {answer['growth_mb']:.1f} MB ({answer['seconds']:.2f} s) — {verdict}"
        )
    lines += [
        "",
        "A no-change pull lists the source once and compares it with the manifest (remote identity per "
        "file; local files are only checked for existence, one listdir per folder, unless upstream changed "
        "them); Prefect re-downloads everything on every pull. Over file://, about 10 ms of our no-change "
        "time is fsspec's own `LocalFileSystem.find` of the 2,000 entries, so that margin is thin. "
        "Over S3 the first pull is one batched `fs.get` (as Prefect's), files placed as they complete; "
        "s3fs's parallel ranged download of large objects (50 MB parts held in memory, last memory line) "
        "is turned off (`max_concurrency=1`, unless the user sets it) so objects stream. The S3 first "
        "pull makes the same requests as Prefect's (one listing, one GET per object) against a CPU-bound "
        "moto on 2 cores: its ratio sits at 1.0 and moves about ±10% between runs, so the ≤ 1.0 target "
        "is met only at parity, not with a margin.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--s3-runs", type=int, default=5)
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave RESULTS.md alone"
    )
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
    moto = None
    results: dict = {}
    memory: dict = {}
    try:
        files = make_files(args.files)
        source = scratch / "source"
        write_source(source, files)
        print(
            f"file:// — {len(files)} files, {sum(map(len, files.values())) / 1e6:.1f} MB",
            flush=True,
        )
        results["file"] = measure(runners, source.as_uri(), {}, scratch, args.runs, "file")

        big = scratch / "big"
        big.mkdir()
        write_big_file(big / "object.bin", 200 << 20)
        memory["file:// (streamed copy, hashed on the way)"] = peak_memory(
            Path(sys.executable), big.as_uri(), {}, scratch / "mem-file"
        )
        shutil.rmtree(scratch / "mem-file")

        if not args.no_s3:
            moto, endpoint = s3_server.start_moto_server()
            settings = {
                "key": s3_server.ACCESS_KEY,
                "secret": s3_server.SECRET_KEY,
                "endpoint_url": endpoint,
            }
            started = time.perf_counter()
            upload(endpoint, "bench", files, "code")
            print(
                f"S3 — uploaded {len(files)} objects in {time.perf_counter() - started:.1f}s",
                flush=True,
            )
            results["s3"] = measure(
                runners, "s3://bench/code", settings, scratch, args.s3_runs, "s3"
            )

            with open(big / "object.bin", "rb") as body:
                s3_server.boto_client(endpoint).put_object(
                    Bucket="bench", Key="big/object.bin", Body=body
                )
            memory["S3 (moto, one stream per object)"] = peak_memory(
                Path(sys.executable), "s3://bench/big", settings, scratch / "mem-s3"
            )
            shutil.rmtree(scratch / "mem-s3")
            memory[
                "S3 for comparison: s3fs's own default, parallel ranges (max_concurrency=10)"
            ] = peak_memory(
                Path(sys.executable),
                "s3://bench/big",
                {**settings, "max_concurrency": 10},
                scratch / "mem-s3",
            )
    finally:
        for runner in runners.values():
            runner.close()
        if moto is not None:
            s3_server.stop_process(moto)
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(prefect_home, ignore_errors=True)

    limits = {
        ("file", "first"): 1.0,
        ("file", "again"): 0.2,
        ("s3", "first"): 1.0,
        ("s3", "again"): 0.1,
    }
    text = render(results, memory, args.files, limits)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

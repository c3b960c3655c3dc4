"""GitRepository benchmark (issues 3, 10): ours vs raw git vs Prefect 3.9.1's ``GitRepository``
vs nbgitpuller, as ratios measured in one run.

    python benchmarks/bench_git.py [--sizes 2000,20000,100000] [--runs 7,5,3] [--no-write]

- **Sizes** (``file://``, so the numbers are git's and ours, not a server's): per size a
  repository of that many small files; per run, each implementation makes a first pull into a
  fresh folder, a no-change pull, then — after the user edits 50 files and upstream changes one
  other file — an update. Raw git is ``git clone --depth 1`` / ``git ls-remote`` (the no-change
  reference at scale: one round trip and nothing else) / ``git fetch --depth 1`` + ``git reset
  --keep`` (what Prefect runs for an update).
- **Edits kept**: 50 user edits in files upstream changes too (a different line of each).
- **Sparse**: one folder of twenty (1 MB of incompressible data each) with ``directories``:
  the bytes under ``.git/objects`` after the first pull.
- **Transports** (2,000 files): ``file://``, the suite's smart-HTTP server with Basic auth over
  HTTP and TLS, and TLS with 25 ms per request (a distant server, where round trips count).
- **GitPython**: the cost of one command through our runner (GitPython's ``execute``) minus the
  same command through ``subprocess``, times the commands a pull runs, over the pull's time.

Destinations in /dev/shm; implementations interleaved (their order rotates every run); one
warm-up round not counted; medians. Peers run in their own venv (``.venv-prefect``), timed
in-process like ours. Results go to ``benchmarks/RESULTS.md`` under ``## GitRepository``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import Runner, scratch_root, write_section  # noqa: E402
from ipy_storage import GitRepository  # noqa: E402
from tests.fixtures.git_server import SourceRepo, start_git_http_server  # noqa: E402
from tests.fixtures.prefect_venv import PREFECT_VERSION, ensure_peer_venv, prefect_environment  # noqa: E402

SECTION = "## GitRepository (issues 3, 10, 14)"
NOTES = (
    "Notes. A no-change pull is one `git ls-remote` (one request over HTTP) while the folders "
    "that hold pulled files are stat'ed to find files the user deleted (2,101 folders at 100,000 "
    "files, about 5 ms here, where one `lstat` costs 2.3 µs; a look at every file would be "
    "150 ms); both run at once on two cores and compete for them, which is the gap to a bare "
    "`ls-remote`. An update reads only the paths upstream changed, then makes the index follow "
    "upstream (`update-index --index-info`) and writes them into a staging folder "
    "(`checkout-index --prefix`) and renames each into place (so a kill never leaves half a file "
    "where the user's files are): no walk of the work tree. A first pull is `clone --depth 1` into a hidden folder renamed into place, plus "
    "the list of pulled files (`ls-files`) for the `PullResult` and the deletion snapshot: a "
    "fixed 10-25 ms, which shows at 2,000 files. Debian's git is built without `USE_NSEC`, so "
    "the first index write after a clone re-reads the files written in the clone's last second "
    "(130 ms at 20,000 files): Prefect's no-change pull pays it, ours never writes the index, so "
    "one untimed update settles it for everyone before the timed one. Prefect keeps the 50 edits "
    "of the update row because upstream's change touches another file; the overlap row is where "
    "it loses them."
)
RUNNER = HERE / "git_runner.py"
EDITS = 50
NAMES = {
    "ours": "ipy_storage",
    "git": "raw git",
    "prefect": f"Prefect {PREFECT_VERSION}",
    "nbgitpuller": "nbgitpuller",
}


def make_files(count: int) -> dict[str, str]:
    return {
        f"pkg{index // 1000:03d}/sub{(index // 50) % 20:02d}/module_{index:06d}.py": f'"""Module {index}."""\n\nVALUE = {index}\n\n\ndef f():\n    return VALUE * 2\n'
        for index in range(count)
    }


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def git(*args: str, cwd: Path, env: dict | None = None) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Peers:
    """Prefect and nbgitpuller in their venv, one long-lived process."""

    def __init__(self, scratch: Path, extra_env: dict[str, str]) -> None:
        home = scratch / "prefect-home"
        home.mkdir(parents=True)
        env = prefect_environment(
            home, {"PREFECT_LOGGING_LEVEL": "WARNING", "GIT_TERMINAL_PROMPT": "0", **extra_env}
        )
        self.runner = Runner(ensure_peer_venv(), RUNNER, env)
        self.runner.call(impl="warmup", url="", base="", name="")

    def pull(self, impl: str, url: str, base: Path, **extra) -> float:
        return self.runner.call(impl=impl, url=url, base=str(base), name="repo", **extra)["seconds"]

    def close(self) -> None:
        self.runner.close()


def pull_with(
    impl: str,
    url: str,
    base: Path,
    peers: Peers | None,
    env: dict | None = None,
    credentials=None,
    **options,
) -> float:
    """One pull of ``url`` into ``base/repo`` by ``impl`` (first pull or later, as it finds it)."""
    dest = base / "repo"
    if impl == "ours":
        repo = GitRepository(url, name="repo", credentials=credentials, **options)
        repo.set_base_path(base)
        return timed(repo.pull)
    if impl == "git":
        if not dest.exists():
            return timed(
                lambda: git("clone", "-q", "--depth", "1", url, str(dest), cwd=base, env=env)
            )
        return timed(
            lambda: (
                git("fetch", "-q", "--depth", "1", "origin", cwd=dest, env=env),
                git("reset", "-q", "--keep", "FETCH_HEAD", cwd=dest, env=env),
            )
        )
    if credentials is not None:
        options["credentials"] = credentials
    return peers.pull(impl, url, base, **options)


def rotate(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


# -- sizes: first pull, no-change pull, update with 50 user edits -------------------------------
def bench_size(scratch: Path, count: int, runs: int, peers: Peers | None) -> dict:
    upstream = SourceRepo.create(
        scratch / f"up{count}" / "repo.git", scratch / f"work{count}", "", make_files(count)
    )
    url = upstream.bare.as_uri()
    files = sorted(make_files(count))
    impls = ["ours", "git"] + (["prefect", "nbgitpuller"] if peers else [])
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in range(-1, runs):
        bases = {impl: scratch / f"s{count}-{impl}-{run + 1}" for impl in impls}
        for impl in rotate(impls, run):
            bases[impl].mkdir()
            first = pull_with(impl, url, bases[impl], peers)
            again = (
                pull_with(impl, url, bases[impl], peers)
                if impl != "git"
                else timed(lambda b=bases[impl]: git("ls-remote", "-q", "origin", cwd=b / "repo"))
            )
            if run >= 0:
                times[impl, "first"].append(first)
                times[impl, "again"].append(again)
        # git's first index write after a clone re-reads every file written in the clone's
        # last second ("racy" entries): whoever writes the index first pays it once (Prefect's
        # no-change pull does; ours does not write the index). One untimed update settles that
        # for everyone, then the timed one measures the update itself.
        settle, changed = files[2 * (run + 1)], files[2 * (run + 1) + 1]
        upstream.commit({settle: f"VALUE = 'settle {run}'\n"})
        for impl in impls:
            if impl != "nbgitpuller":
                pull_with(impl, url, bases[impl], peers)
        for impl in impls:  # the user edits 50 files that upstream leaves alone
            for path in files[-EDITS - 1 : -1]:
                (bases[impl] / "repo" / path).write_text(f"# my edit {run}\n")
        upstream.commit({changed: f"VALUE = 'upstream {run}'\n"})
        for impl in rotate(impls, run):
            if impl == "nbgitpuller":
                continue  # it commits the user's edits and merges: not the same job
            seconds = pull_with(impl, url, bases[impl], peers)
            kept = sum(
                (bases[impl] / "repo" / p).read_text() == f"# my edit {run}\n"
                for p in files[-EDITS - 1 : -1]
            )
            if run >= 0:
                times[impl, "update"].append(seconds)
                times[impl, "kept"].append(kept)
        for base in bases.values():
            shutil.rmtree(base)
        print(f"  {count} files: run {run + 1}/{runs}", flush=True)
    return {key: statistics.median(values) for key, values in times.items()}


def bench_overlap(scratch: Path, peers: Peers | None) -> dict[str, int]:
    """Edits kept when upstream changes the same 50 files (another line of each)."""
    text = "".join(f"line {n}\n" for n in range(10))
    files = {f"f{i:02d}.py": text for i in range(EDITS)}
    upstream = SourceRepo.create(
        scratch / "overlap" / "repo.git", scratch / "overlap-work", "", files
    )
    url = upstream.bare.as_uri()
    impls = ["ours", "git"] + (["prefect"] if peers else [])
    bases = {impl: scratch / f"overlap-{impl}" for impl in impls}
    for impl in impls:
        bases[impl].mkdir()
        pull_with(impl, url, bases[impl], peers)
        for path in files:
            (bases[impl] / "repo" / path).write_text(text.replace("line 0", "line 0 (mine)"))
    upstream.commit({path: text.replace("line 9", "line 9 (upstream)") for path in files})
    kept = {}
    for impl in impls:
        with contextlib.suppress(Exception):  # raw git refuses: that is the measurement
            pull_with(impl, url, bases[impl], peers)
        texts = [(bases[impl] / "repo" / p).read_text() for p in files]
        kept[impl] = sum("line 0 (mine)" in t and "line 9 (upstream)" in t for t in texts)
    return kept


def bench_sparse(scratch: Path, peers: Peers | None) -> dict[str, int]:
    files = {f"d{i:02d}/data.bin": os.urandom(1 << 20) for i in range(20)}
    files.update({f"d{i:02d}/x.py": f"x = {i}\n" for i in range(20)})
    upstream = SourceRepo.create(
        scratch / "sparse" / "repo.git", scratch / "sparse-work", "", files
    )
    url = upstream.bare.as_uri()
    sizes = {}
    for impl in ["ours"] + (["prefect"] if peers else []):
        base = scratch / f"sparse-{impl}"
        base.mkdir()
        pull_with(impl, url, base, peers, directories=["d00"])
        objects = base / "repo" / ".git" / "objects"
        sizes[impl] = sum(p.stat().st_size for p in objects.rglob("*") if p.is_file())
    return sizes


# -- transports -------------------------------------------------------------------------------
def bench_transports(scratch: Path, runs: int, with_peers: bool, latency: float) -> list:
    files = make_files(2000)
    http = start_git_http_server(scratch / "http")
    https = start_git_http_server(scratch / "https", tls=True)
    os.environ["GIT_SSL_CAINFO"] = str(https.cafile)
    peers = (
        Peers(scratch / "transports", {"GIT_SSL_CAINFO": str(https.cafile)}) if with_peers else None
    )
    try:
        plain, tls = http.create_repo(files, name="bench"), https.create_repo(files, name="bench")
        rows = [
            ("http + Basic auth", plain.url, http, 0.0, ["ours", "git"]),
            ("https + Basic auth", tls.url, https, 0.0, ["ours", "git", "prefect"]),
            (
                f"https + Basic auth, {latency * 1000:.0f} ms a request",
                tls.url,
                https,
                latency,
                ["ours", "git", "prefect"],
            ),
        ]
        results = []
        for label, url, server, delay, impls in rows:
            impls = [i for i in impls if i != "prefect" or peers]
            auth = GitRepository(url, credentials=server.credentials()).auth_environment()
            env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **auth}
            creds = {"username": server.username, "access_token": server.token}
            times = defaultdict(list)
            server.set_delay(delay)
            for run in range(-1, runs):
                for impl in rotate(impls, run):
                    base = scratch / f"t-{impl}-{run + 1}"
                    base.mkdir()
                    extra = {"credentials": creds} if impl == "prefect" else {}
                    ours = {"credentials": server.credentials()} if impl == "ours" else {}
                    first = pull_with(impl, url, base, peers, env, **extra, **ours)
                    again = pull_with(impl, url, base, peers, env, **extra, **ours)
                    if run >= 0:
                        times[impl, "first"].append(first)
                        times[impl, "again"].append(again)
                    shutil.rmtree(base)
            server.set_delay(None)
            results.append((label, {k: statistics.median(v) for k, v in times.items()}, impls))
        return results
    finally:
        if peers:
            peers.close()
        http.stop()
        https.stop()


# -- GitPython's share ------------------------------------------------------------------------
def bench_gitpython(scratch: Path) -> dict[str, float]:
    from ipy_storage.storage.git.runner import GitRunner
    from ipy_storage.storage.git.source import GitSource

    upstream = SourceRepo.create(
        scratch / "gp" / "repo.git", scratch / "gp-work", "", make_files(2000)
    )
    url = upstream.bare.as_uri()
    repo = GitRepository(url, name="repo")
    repo.set_base_path(scratch / "gp-base")
    repo.pull()
    runner, dest = GitRunner(GitSource(url), repo.destination), repo.destination
    through, direct = [], []
    for _ in range(200):
        through.append(timed(lambda: runner.run("rev-parse", "HEAD", cwd=dest)))
        direct.append(
            timed(
                lambda: subprocess.run(
                    ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, check=True
                )
            )
        )
    per_call = statistics.median(through) - statistics.median(direct)
    counts = {}
    original = GitRunner.start

    def counting(self, *args, **kwargs):
        counts[phase] = counts.get(phase, 0) + 1
        return original(self, *args, **kwargs)

    GitRunner.start = counting
    seconds = {}
    try:
        for phase in ("no-change", "update"):
            if phase == "update":
                upstream.commit({"pkg000/sub00/module_000000.py": "changed\n"})
            seconds[phase] = timed(repo.pull)
    finally:
        GitRunner.start = original
    return {
        "per_call_ms": per_call * 1000,
        **{f"{p} share %": 100 * counts.get(p, 0) * per_call / seconds[p] for p in seconds},
    }


# -- report -----------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def report(args, sizes: dict, overlap: dict, sparse: dict, transports: list, gp: dict) -> str:
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout
    lines = [
        SECTION,
        "",
        f"`python benchmarks/bench_git.py` — {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {git_version.strip()}; "
        "destinations in /dev/shm, implementations interleaved, medians (runs per size: "
        f"{args.runs}). Raw git: `clone --depth 1` / `ls-remote` / `fetch --depth 1` + "
        "`reset --keep`.",
        "",
        "| files | implementation | first pull (s) | no-change (s) | update, 50 user edits (s) "
        "| edits kept |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for count, t in sizes.items():
        for impl in NAMES:
            if (impl, "first") not in t:
                continue
            update = t.get((impl, "update"))
            kept = t.get((impl, "kept"))
            lines.append(
                f"| {count:,} | {NAMES[impl]}{' (no-change: ls-remote)' if impl == 'git' else ''} "
                f"| {t[impl, 'first']:.3f} | {t[impl, 'again']:.4f} "
                f"| {f'{update:.3f}' if update else '–'} | {f'{kept:.0f}/{EDITS}' if kept is not None else '–'} |"
            )
    lines += [
        "",
        "| files | first: ours / raw clone (≤ 1.05) | no-change: ours / Prefect (≤ 0.2) "
        "| no-change: ours / raw ls-remote (≤ 1.5 at 100k) | update: ours / Prefect (≤ 1.2 "
        "at 20k, 100k) | update: ours / raw |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, t in sizes.items():
        lines.append(
            f"| {count:,} | {ratio(t['ours', 'first'], t['git', 'first'])} "
            f"| {ratio(t['ours', 'again'], t.get(('prefect', 'again')))} "
            f"| {ratio(t['ours', 'again'], t['git', 'again'])} "
            f"| {ratio(t['ours', 'update'], t.get(('prefect', 'update')))} "
            f"| {ratio(t['ours', 'update'], t['git', 'update'])} |"
        )
    lines += [
        "",
        f"Upstream changes the same {EDITS} files the user edited (another line of each); files "
        "holding both the user's edit and upstream's change after the pull: "
        + ", ".join(f"{NAMES[i]} {n}/{EDITS}" for i, n in overlap.items())
        + " (raw `reset --keep` refuses and changes nothing; Prefect then deletes the folder and "
        "clones again, losing every edit).",
        "",
        "Sparse pull of one folder of twenty (1 MB each), bytes under `.git/objects`: "
        + ", ".join(f"{NAMES[i]} {n / 1e6:.1f} MB" for i, n in sparse.items())
        + (
            f" — ratio {sparse['ours'] / sparse['prefect']:.2f} (≤ 0.2)."
            if "prefect" in sparse
            else "."
        ),
        "",
        f"GitPython: {gp['per_call_ms']:.2f} ms a command over `subprocess`; "
        + ", ".join(f"{k} {v:.1f}" for k, v in gp.items() if k != "per_call_ms")
        + " (target ≤ 5 %).",
        "",
        "| transport (2,000 files) | implementation | first pull (s) | no-change (s) |",
        "|---|---|---:|---:|",
    ]
    for label, t, impls in transports:
        for impl in impls:
            lines.append(
                f"| {label} | {NAMES[impl]} | {t[impl, 'first']:.4f} | {t[impl, 'again']:.4f} |"
            )
    return "\n".join(lines + ["", NOTES]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,100000")
    parser.add_argument("--runs", default="9,7,5")
    parser.add_argument("--transport-runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.025)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    scratch = scratch_root("ipy-bench-git-")
    peers = None if args.no_peers else Peers(scratch, {})
    try:
        counts = [int(c) for c in args.sizes.split(",")]
        runs = [int(r) for r in args.runs.split(",")]
        sizes = {c: bench_size(scratch, c, r, peers) for c, r in zip(counts, runs, strict=False)}
        overlap, sparse = bench_overlap(scratch, peers), bench_sparse(scratch, peers)
        transports = bench_transports(scratch, args.transport_runs, peers is not None, args.latency)
        gp = bench_gitpython(scratch)
    finally:
        if peers:
            peers.close()
        shutil.rmtree(scratch, ignore_errors=True)
    text = report(args, sizes, overlap, sparse, transports, gp)
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()

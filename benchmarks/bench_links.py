"""Forty students click a teacher's link at once (issue 18): one Jupyter server with the
extension, forty different folders, a private course repository behind Basic auth on a local
smart-HTTP git server. Measured: wall time until the fortieth pull is done, each link's time
from click to "done" (median, max), errors, and the git server's request count; then the same
forty links again (nothing changed upstream). The baseline is raw ``git clone --depth 1`` run
forty times, four at a time (the extension's default ``max_concurrent_pulls``), over the same
server with the same token in git's environment.

``python benchmarks/bench_links.py [--students 40] [--files 200] [--write]``
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.common import scratch_root, write_section  # noqa: E402
from tests.fixtures.git_server import SourceRepo, start_git_http_server  # noqa: E402
from tests.fixtures.link_server import start_link_server  # noqa: E402

TOKEN_ENV = "COURSE_TOKEN"
CONCURRENCY = 4


def _course(git, files: int) -> SourceRepo:
    contents = {
        f"week{i % 10}/lesson{i}.md": f"# Lesson {i}\n" + "text\n" * 40 for i in range(files)
    }
    return git.create_repo(contents, name="course")


def _click_all(server, repo_url: str, students: int) -> tuple[float, list[float], int]:
    def click(index: int) -> tuple[float, bool]:
        query = urlencode([("source", repo_url), ("token_env", TOKEN_ENV),
                           ("name", f"class/student-{index:02d}")], quote_via=quote)  # fmt: skip
        started = time.perf_counter()
        followed = server.follow(query, timeout=600)
        return time.perf_counter() - started, followed.status == 200 and followed.done["ok"]

    started = time.perf_counter()
    with ThreadPoolExecutor(students) as pool:
        outcomes = list(pool.map(click, range(students)))
    wall = time.perf_counter() - started
    return wall, [seconds for seconds, _ in outcomes], sum(not ok for _, ok in outcomes)


def _raw_git(git, repo_url: str, students: int, target: Path) -> float:
    header = base64.b64encode(f"{git.username}:{git.token}".encode()).decode()
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_COUNT": "1",
           "GIT_CONFIG_KEY_0": f"http.{git.base_url}/.extraHeader",
           "GIT_CONFIG_VALUE_0": f"Authorization: Basic {header}"}  # fmt: skip

    def clone(index: int) -> None:
        subprocess.run(["git", "clone", "-q", "--depth", "1", repo_url, str(target / f"s{index}")],
                       env=env, check=True)  # fmt: skip

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(clone, range(students)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    scratch = scratch_root("ipy-links-bench-")
    git = start_git_http_server(scratch / "git")
    server = start_link_server(
        scratch / "jupyter",
        {"IPyStorageLinks": {"token_envs": {TOKEN_ENV: [git.base_url + "/"]}}},
        env={TOKEN_ENV: git.token},
    )
    try:
        repo = _course(git, args.files)
        rows = []
        for label in ("first click", "second click (no change)"):
            git.clear_requests()
            wall, each, errors = _click_all(server, repo.url, args.students)
            requests = len(git.requests())
            rows.append((label, wall, statistics.median(each), max(each), errors, requests))
        git.clear_requests()
        raw = _raw_git(git, repo.url, args.students, scratch / "raw")
        raw_requests = len(git.requests())
    finally:
        server.stop()
        git.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    text = _report(args, rows, raw, raw_requests)
    print(text)
    if args.write:
        write_section("## Links that pull on open", text)


def _report(args, rows, raw: float, raw_requests: int) -> str:
    lines = [
        "## Links that pull on open (issue 18)",
        "",
        f"{args.students} concurrent link clicks, {args.students} different folders, one Jupyter "
        f"server (`max_concurrent_pulls` = {CONCURRENCY}), a private {args.files}-file course "
        "repository on the local smart-HTTP git server with Basic auth; times are from the click "
        "(GET page, POST start, events until done) to the pull's end. Raw git: "
        f"`git clone --depth 1` × {args.students}, {CONCURRENCY} at a time, token in git's environment.",
        "",
        "| run | wall (s) | per link median (s) | per link max (s) | errors | git requests | vs raw git |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, wall, median, longest, errors, requests in rows:
        lines.append(
            f"| {label} | {wall:.2f} | {median:.2f} | {longest:.2f} | {errors} | {requests} | "
            f"{wall / raw:.2f}× |"
        )
    lines.append(f"| raw git clone | {raw:.2f} | | | 0 | {raw_requests} | 1.00× |")
    lines += [
        "",
        "A first pull makes the requests a shallow clone makes (three with protocol v2: refs, "
        "ls-refs, fetch); a second click of an unchanged link makes one (the refs) and leaves "
        "the student's files alone. Four pulls run at once and the rest wait, so a link's time "
        "grows with its place in the queue; the difference to raw git is the page, the start, "
        "the events and the pull's own bookkeeping, with 40 clients, the Jupyter server and the "
        "git server sharing two cores.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Prefect runs what a notebook made, end to end (behaviour §8), and no token lands in its database.

One real Prefect 3.9.1 server (SQLite, its own ``PREFECT_HOME``) and one ``process`` worker on
127.0.0.1 serve the whole module (``tests/fixtures/prefect_server.py``). Deployments are made the
two ways a flow author makes them:

- ``prefect --no-prompt deploy`` of a ``prefect.yaml`` whose ``pull:`` is what ``%storage step
  --yaml`` printed in a real IPython shell (git over TLS with a token and sparse ``directories``;
  S3 on moto), run from the checkout that shell pulled;
- ``flow.from_source(<our storage>).deploy()`` (git with a token, ``LocalStorage``, a
  ``BlockStorageAdapter`` over a saved ``LocalFileSystem`` block).

Every deployment runs on the worker, whose environment holds the tokens; the flow returns the
version file of the code Prefect pulled and what it pulled. Upstream changes, the runs go again
and return the new version. Then every file Prefect wrote (database and WAL, results, logs) is
scanned for the token.

The token and ``prefect deploy``: a shell where ``GIT_TOKEN`` is set gets our warning from
``%storage step``; following it (the Prefect Secret block it names, saved with the line it gives)
deploys no token. A control deployment made the way the warning warns about (a canary value in
``GIT_TOKEN``) shows the scan would have found one.

Time on 2 cores: about 3½ minutes, printed per phase with ``-s`` (server healthy ≈ 20 s, spent
making the upstreams and running the shells; pool, worker and deployments 20–35 s; six runs
≈ 70 s at the worker's limit of 4; four more ≈ 40 s).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sysconfig
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.fixtures.prefect_server import PrefectServer, files_holding
from tests.fixtures.prefect_shell import ipython
from tests.fixtures.prefect_venv import ROOT, ensure_peer_venv

pytestmark = [pytest.mark.prefect, pytest.mark.timeout(900)]

GIT_STEP = "prefect.deployments.steps.git_clone"
REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
POOL = "e2e"
ENTRY = "flows/hello.py:hello"
FLOW = '''"""What every deployment runs: the version of the code Prefect pulled, and what it pulled."""

from pathlib import Path

from prefect import flow


@flow
def hello() -> str:
    root = Path(__file__).resolve().parents[1]
    version = (root / "lib" / "version.txt").read_text().strip()
    pulled = sorted(path.name for path in root.iterdir() if not path.name.startswith("."))
    return f"{version}: {' '.join(pulled)}"
'''
FILES = {
    "flows/hello.py": FLOW,
    "lib/version.txt": "v1\n",
    "docs/guide.md": "# guide\n",
    "README.md": "top\n",
}
EVERYTHING = "README.md docs flows lib"
SPARSE = "README.md flows lib"  # git's cone mode keeps the files at the top
S3_VARIABLES = {"E2E_S3_KEY": "testing", "E2E_S3_SECRET": "testing"}


# -- the upstreams: one tree in git, S3 and a folder ------------------------------------------------
@dataclass
class Upstreams:
    repo: Any
    bucket: str
    folder: Path
    s3: Any

    @classmethod
    def create(cls, git_server, s3_client, folder: Path) -> Upstreams:
        bucket = f"e2e-{uuid.uuid4().hex[:12]}"
        s3_client.create_bucket(Bucket=bucket)
        upstreams = cls(git_server.create_repo(FILES), bucket, folder, s3_client)
        for rel, text in FILES.items():
            s3_client.put_object(Bucket=bucket, Key=f"code/{rel}", Body=text.encode())
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        return upstreams

    def publish(self, version: str) -> None:
        """A new version everywhere: a commit, an object, a file."""
        self.repo.commit({"lib/version.txt": f"{version}\n"})
        self.s3.put_object(Bucket=self.bucket, Key="code/lib/version.txt", Body=f"{version}\n")
        (self.folder / "lib" / "version.txt").write_text(f"{version}\n")


# -- the notebook side: a real IPython shell ----------------------------------------------------
def shell_environment(git_server, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "E2E_"))}
    env.pop("GIT_TOKEN", None)
    return {**env, **git_server.client_env(), "GIT_TERMINAL_PROMPT": "0", **variables}


def notebook_steps(git_server, upstreams: Upstreams, endpoint: str, workspace: Path) -> dict:
    """Two IPython shells where GIT_TOKEN is set: the first adds and pulls git (sparse) and S3
    and prints their steps (and our warnings); the second does what the warning says."""
    env = shell_environment(git_server, GIT_TOKEN=git_server.token, **S3_VARIABLES)
    repo, bucket = upstreams.repo, upstreams.bucket
    workspace.mkdir()
    printed, warned = ipython(
        "%load_ext ipy_storage\n"
        f"%storage add {repo.url} --name flows --username {git_server.username} "
        "--token-env GIT_TOKEN --dir flows --dir lib --once --pull\n"
        f"%storage add s3://{bucket}/code --name data --option endpoint_url={endpoint} "
        "--secret-option key=E2E_S3_KEY --secret-option secret=E2E_S3_SECRET --once --pull\n"
        "%storage step --yaml\n",
        workspace,
        env,
    )
    save = re.search(r"save it once with `([^`]+)`", warned)
    use = re.search(r"and use (Secret\(os\.environ\['GIT_TOKEN'\], name='[^']+'\)) here", warned)
    assert save and use, warned
    printed_block, warned_again = ipython(
        "%load_ext ipy_storage\n"
        "import os\n"
        "from ipy_storage import GitRepository, Secret, workspace\n"
        f"credentials = {{'username': '{git_server.username}', 'access_token': {use[1]}}}\n"
        f"workspace().add(GitRepository('{repo.url}', credentials=credentials, "
        "pull_interval=None), name='flows-block')\n"
        "%storage step flows-block --yaml\n",
        workspace,
        env,
    )
    return {
        "steps": yaml.safe_load(printed),
        "block_steps": yaml.safe_load(printed_block),
        "warned": warned,
        "warned_again": warned_again,
        "save_secret": save[1],
        "checkout": workspace / "flows",
    }


# -- the Prefect side ------------------------------------------------------------------------------
def write_prefect_yaml(folder: Path, pulls: dict[str, list]) -> None:
    deployments = [
        {"name": name, "entrypoint": ENTRY, "work_pool": {"name": POOL}, "pull": pull}
        for name, pull in pulls.items()
    ]
    text = yaml.safe_dump({"name": "e2e", "prefect-version": "3.9.1", "deployments": deployments})
    (folder / "prefect.yaml").write_text(text)


def start_worker(server, git_server, token: str) -> None:
    """A process pool and its worker, whose environment holds the tokens the steps name."""
    client = server.env(git_server.client_env())
    created = server.prefect("work-pool", "create", POOL, "--type", "process", env=client)
    assert created.returncode == 0, created.stdout + created.stderr
    worker = {
        **git_server.client_env(),
        **S3_VARIABLES,
        "GIT_TOKEN": token,
        "GIT_TERMINAL_PROMPT": "0",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_RESULTS_DEFAULT_SERIALIZER": "json",  # readable results, for the scan too
        "PREFECT_WORKER_QUERY_SECONDS": "2",
    }
    server.start_worker(POOL, server.env(worker))


def save_secret_block(server, client: dict, line: str, token: str) -> None:
    """The Prefect line the warning gives, run as it is where GIT_TOKEN is set."""
    saved = subprocess.run(
        [str(server.bin / "python"), "-c", f"import os; {line}"],
        capture_output=True,
        text=True,
        env={**client, "GIT_TOKEN": token},
        timeout=120,
    )
    assert saved.returncode == 0, saved.stderr[-3000:]


def from_source_plan(git_server, upstreams: Upstreams) -> dict:
    git = {"url": upstreams.repo.url, "username": git_server.username, "env": "GIT_TOKEN"}
    block = {"basepath": str(upstreams.folder), "block": "e2e-folder"}
    return {
        "pool": POOL,
        "entry": ENTRY,
        "deployments": [
            {"name": "fs-git", "storage": {"kind": "git", **git}},
            {"name": "fs-local", "storage": {"kind": "local", "path": str(upstreams.folder)}},
            {"name": "fs-block", "storage": {"kind": "block", **block}},
        ],
    }


def deploy_everything(server, client: dict, notebook: dict, plan: dict, token: str, canary: str):
    """All deployments at once, each from the shell it stands for; the from_source answer."""
    git_step, s3_step = notebook["steps"]
    pulls = {"yaml-git": [git_step], "yaml-s3": [s3_step], "yaml-leak": [git_step]}
    write_prefect_yaml(notebook["checkout"], {**pulls, "yaml-git-block": notebook["block_steps"]})
    ours = {
        **client,
        "PYTHONPATH": str(ROOT),
        "IPY_STORAGE_FALLBACK_SITE": sysconfig.get_paths()["purelib"],
        "GIT_TOKEN": token,
    }
    shells = {
        # the safe path the warning gives: deploy where the variables are not set
        ("yaml-git", "yaml-s3"): client,
        # the warning followed where GIT_TOKEN is set: the step names a Secret block
        ("yaml-git-block",): {**client, "GIT_TOKEN": token},
        # the control: what the warning is about, with a canary value
        ("yaml-leak",): {**client, "GIT_TOKEN": canary},
    }
    with ThreadPoolExecutor(len(shells) + 1) as pool:
        api = pool.submit(server.python_api, "from_source", plan, ours)
        cli = [
            pool.submit(server.deploy, notebook["checkout"], list(names), env)
            for names, env in shells.items()
        ]
        for job in cli:
            deployed = job.result()
            assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
        return api.result()


def runs(server, client: dict, names: list[str]) -> dict:
    return server.python_api("run", {"runs": [f"hello/{name}" for name in names]}, client)


@contextmanager
def timed(times: dict[str, float], label: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    times[label] = time.monotonic() - began


FIRST = ["yaml-git", "yaml-s3", "yaml-git-block", "fs-git", "fs-local", "fs-block"]
SECOND = ["yaml-git", "yaml-s3", "fs-git", "fs-block"]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory, _git_https_server_session, s3_endpoint, s3_client) -> dict:
    """Everything above, once: the answers, what the scan found, the time each phase took."""
    git_server, base = _git_https_server_session, tmp_path_factory.mktemp("prefect-e2e")
    token, canary = git_server.token, f"canary-{secrets.token_hex(8)}"
    forms = [*git_server.secret_forms(), quote(token, safe="")]
    server, times, answer = PrefectServer(base, ensure_peer_venv()), {}, {}
    try:
        with timed(times, "upstreams and notebook shells (while the server starts)"):
            upstreams = Upstreams.create(git_server, s3_client, base / "folder")
            notebook = notebook_steps(git_server, upstreams, s3_endpoint, base / "notebook")
        times["server healthy"] = server.wait_ready()
        client = server.env(git_server.client_env())
        with timed(times, "pool, worker, secret block, deployments"):
            start_worker(server, git_server, token)
            save_secret_block(server, client, notebook["save_secret"], token)
            plan = from_source_plan(git_server, upstreams)
            answer["from_source"] = deploy_everything(server, client, notebook, plan, token, canary)
        with timed(times, f"{len(FIRST)} runs"):
            answer["first"] = runs(server, client, FIRST)
        upstreams.publish("v2")
        with timed(times, f"{len(SECOND)} runs after the upstream change"):
            answer["second"] = runs(server, client, SECOND)
        names = [f"hello/{name}" for name in [*FIRST, "yaml-leak"]]
        answer["stored"] = server.python_api("pull_steps", {"deployments": names}, client)
        answer["scanned"] = sorted(p.name for p in server.files() if p.parent == server.home)
        answer["leaks"] = files_holding(server.files(), forms)
        answer["canaries"] = files_holding(server.files(), [canary])
        answer["worker_log"] = server.log_tail(f"worker-{POOL}", 20000)
    finally:
        server.stop()
    answer["leaks_after_stop"] = files_holding(server.files(), forms)
    print("\nPrefect end to end (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    return {**answer, "notebook": notebook, "times": times}


def finished(e2e: dict, wave: str, name: str) -> dict:
    run = e2e[wave][f"hello/{name}"]
    assert run["state"] == "COMPLETED", f"{name}: {run}\n{e2e['worker_log'][-6000:]}"
    return run


# -- the runs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "pulled"),
    [
        ("yaml-git", SPARSE),
        ("yaml-s3", EVERYTHING),
        ("yaml-git-block", EVERYTHING),
        ("fs-git", EVERYTHING),
        ("fs-local", EVERYTHING),
        ("fs-block", EVERYTHING),
    ],
)
def test_each_deployment_runs_the_pulled_code(e2e, name, pulled):
    """The worker pulled with Prefect's own steps (git with the token from its environment or a
    Secret block, sparse directories, S3, a folder, a block) and the flow ran that code."""
    assert finished(e2e, "first", name)["result"] == f"v1: {pulled}"


@pytest.mark.parametrize(
    ("name", "pulled"),
    [
        ("yaml-git", SPARSE),
        ("yaml-s3", EVERYTHING),
        ("fs-git", EVERYTHING),
        ("fs-block", EVERYTHING),
    ],
)
def test_a_new_run_pulls_what_changed_upstream(e2e, name, pulled):
    assert finished(e2e, "second", name)["result"] == f"v2: {pulled}"


# -- the token ------------------------------------------------------------------------------------
def test_no_token_in_anything_prefect_wrote(e2e):
    """Database (and its WAL while the server ran), results, server and worker logs: no token,
    in clear, percent-encoded or as Basic auth, after deployments made from shells where the
    token was set and runs that used it."""
    assert {"prefect.db", "prefect.db-wal"} <= set(e2e["scanned"]), e2e["scanned"]
    assert e2e["leaks"] == {} and e2e["leaks_after_stop"] == {}


def test_the_scan_finds_a_token_that_prefect_deploy_baked(e2e):
    """The control: ``prefect deploy`` where the variable is set stores its value (this is
    what the warning is about), and the scan finds it in the database."""
    assert any("prefect.db" in path for path in e2e["canaries"]), e2e["canaries"]
    leak = e2e["stored"]["hello/yaml-leak"][0][GIT_STEP]["credentials"]["access_token"]
    assert leak.startswith("canary-")


def test_the_deployments_keep_placeholders(e2e):
    stored = e2e["stored"]
    credentials = {
        name: steps[0][GIT_STEP]["credentials"]
        for name, steps in stored.items()
        if GIT_STEP in steps[0]
    }
    assert credentials["hello/yaml-git"]["access_token"] == "{{ $GIT_TOKEN }}"
    assert credentials["hello/fs-git"]["access_token"] == "{{ $GIT_TOKEN }}"
    block = credentials["hello/yaml-git-block"]["access_token"]
    assert re.fullmatch(r"\{\{ prefect\.blocks\.secret\.[a-z0-9-]+ \}\}", block)
    assert stored["hello/yaml-git"][0][GIT_STEP]["directories"] == ["flows", "lib"]
    s3 = stored["hello/yaml-s3"][0][REMOTE_STEP]
    assert (s3["key"], s3["secret"]) == ("{{ $E2E_S3_KEY }}", "{{ $E2E_S3_SECRET }}")
    assert list(stored["hello/fs-local"][0]) == ["prefect.deployments.steps.set_working_directory"]
    assert stored["hello/fs-block"][0]["prefect.deployments.steps.pull_with_block"] == {
        "block_type_slug": "local-file-system",
        "block_document_name": "e2e-folder",
    }


def test_the_shell_where_the_token_is_set_is_warned_and_the_advice_works(e2e):
    """``%storage step`` in a shell where GIT_TOKEN (and the S3 variables) are set warns about
    each; the Secret-block form it suggests prints no warning (and deployed no token above)."""
    notebook = e2e["notebook"]
    for variable in ("GIT_TOKEN", "E2E_S3_KEY", "E2E_S3_SECRET"):
        assert f"PullStepWarning: {variable} is set here" in notebook["warned"]
    assert "PullStepWarning" not in notebook["warned_again"]
    assert notebook["save_secret"].startswith("from prefect.blocks.system import Secret;")


def test_from_source_deploy_warns_too_and_keeps_the_placeholder(e2e):
    warned = e2e["from_source"]["fs-git"]["warnings"]
    assert len(warned) == 1 and warned[0].startswith("GIT_TOKEN is set here")
    assert e2e["from_source"]["fs-local"]["warnings"] == []

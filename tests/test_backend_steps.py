"""Prefect's own step reproduces the pull, for every back end of the matrix where Prefect 3.9.1
can run it (behaviour §8): our ``to_pull_step()``, templated and executed by Prefect's
``pull_from_remote_storage`` in a fresh folder, gives the files our ``pull()`` gave. Where Prefect
cannot run the step, what it does instead is recorded as the fact the step's warning states."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from ipy_storage import RemoteStorage
from tests.fixtures.backends import BACKENDS

pytestmark = [pytest.mark.prefect, pytest.mark.backends]

FILES = {
    "flows/hello.py": b"def hello(name):\n    return f'hello {name}'\n",
    "flows/data/config.json": b'{"a": 1}\n',
    "README.md": b"# upstream\n",
}
# what Prefect 3.9.1 does with the steps it cannot run (the text of its error)
PREFECT_CANNOT = {
    "sftp": "host",  # SFTPFileSystem built without host
    "ftp": "host",
    "http": "",  # the scheme is stripped: any failure
    "webdav": "",  # the auth pair arrives as a list
    "file": "",  # resolved against the worker's working directory
}
PEER_EXTRAS = ["adlfs", "gcsfs", "webdav4", "paramiko"]


def ensure_peer_extras(python: Path) -> None:
    """The back ends' packages in Prefect's venv, as a worker's ``requires`` would install."""
    import os
    import tempfile

    from filelock import FileLock

    check = [str(python), "-c", "import " + ", ".join(PEER_EXTRAS)]
    with FileLock(os.path.join(tempfile.gettempdir(), "ipy-storage-venv-prefect.lock")):
        if subprocess.run(check, capture_output=True).returncode != 0:
            pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            subprocess.run([*pip, *PEER_EXTRAS], check=True)


def secrets_of_the_servers() -> list[str]:
    from tests.fixtures import backend_servers as servers

    return [servers.DAV_PASSWORD, servers.FTP_PASSWORD, servers.SSH_PASSPHRASE, servers.AZURE_KEY]


def sha_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
        and not any(part.startswith(".ipy_storage") for part in path.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def prefect_steps(backend_farm, tmp_path_factory) -> dict:
    """Every back end pulled by us, then its step run by Prefect in one process."""
    from tests.fixtures.backend_servers import gcs_client_environment
    from tests.fixtures.prefect_venv import (
        ensure_peer_venv,
        prefect_environment,
        run_in_peer_venv,
    )

    python = ensure_peer_venv()
    ensure_peer_extras(python)
    base = tmp_path_factory.mktemp("prefect-backends")
    ours, steps = {}, {}
    for name in BACKENDS:
        if name == "memory":
            continue  # one process's memory: tests/test_prefect.py seeds it inside Prefect's
        backend = backend_farm.get(name)
        prefix = f"prefect-{uuid.uuid4().hex[:8]}"
        backend.publish(prefix, FILES)
        storage = RemoteStorage(backend.url(prefix), **backend.settings())
        storage.set_base_path(base / "ours")
        storage.pull()
        ours[name], steps[name] = sha_tree(storage.destination), storage.to_pull_step()
    plan = base / "plan.json"
    plan.write_text(json.dumps({"work": str(base / "prefect"), "steps": steps}))
    driver = Path(__file__).with_name("fixtures") / "backend_steps_driver.py"
    env = prefect_environment(base / "home", gcs_client_environment())
    prefect, _ = run_in_peer_venv(python, driver, str(plan), env=env, cwd=base, timeout=300)
    return {"ours": ours, "prefect": prefect, "steps": steps}


@pytest.mark.parametrize("name", [b for b in BACKENDS if b != "memory" and b not in PREFECT_CANNOT])
def test_prefect_reproduces_the_pull(prefect_steps, name):
    outcome = prefect_steps["prefect"][name]
    assert "error" not in outcome, outcome
    assert outcome["files"] == prefect_steps["ours"][name] and outcome["files"]


@pytest.mark.parametrize("name", sorted(PREFECT_CANNOT))
def test_what_prefect_does_with_a_step_it_cannot_run(prefect_steps, name):
    """Facts behind the warnings of these steps: Prefect 3.9.1 fails on them (or, for file://,
    pulls from its own working directory). Should Prefect learn them, this test says so."""
    outcome = prefect_steps["prefect"][name]
    said = outcome.get("error", "pulled other files")
    for secret in secrets_of_the_servers():  # Prefect's message shows a webdav password
        said = said.replace(secret, "********")
    print(f"Prefect 3.9.1 on a {name} step: {said}")
    if "files" in outcome:
        assert outcome["files"] != prefect_steps["ours"][name], f"Prefect now runs {name} steps"
    else:
        assert PREFECT_CANNOT[name] in outcome["error"], outcome["error"]


def test_the_steps_name_the_package_a_worker_needs(prefect_steps):
    requires = {
        name: step["prefect.deployments.steps.pull_from_remote_storage"].get("requires")
        for name, step in prefect_steps["steps"].items()
    }
    assert requires == {
        "file": "fsspec",
        "s3": "s3fs",
        "azure": "adlfs",
        "gcs": "gcsfs",
        "sftp": "paramiko",
        "webdav": "webdav4",
        "http": "aiohttp",
        "ftp": "fsspec",
    }

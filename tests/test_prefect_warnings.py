"""Warnings about pull steps a Prefect worker cannot reproduce, or that would put a token into
Prefect's database (behaviour §8; ``ipy_storage/storage/step_warnings.py``).

The first part needs no Prefect: which storages warn, what each warning says, that it never
holds a secret, that ``%storage step`` shows it every time. The second part (marker
``prefect``) holds each claim up to Prefect 3.9.1 itself: its own step functions fail on the steps
we warn about, the way the warnings say. ``tests/test_prefect_e2e.py`` proves the token one on a
real server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ipy_storage import GitRepository, LocalStorage, RemoteStorage, Secret, from_pull_step
from ipy_storage.storage.step_warnings import PullStepWarning, block_name_for
from tests.fixtures.prefect_shell import ipython

VALUE = "tok-Warn3d+=!value"
HTTPS = "https://git.example.org/team/flows.git"
HTTP = "http://git.example.org/team/flows.git"


def env_token(var: str = "IPY_WARN_TOKEN") -> dict:
    return {"username": "me", "access_token": Secret.from_env(var)}


def warned(storage) -> list[str]:
    """The PullStepWarning messages of ``storage.to_pull_step()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        storage.to_pull_step()
    return [str(w.message) for w in caught if w.category is PullStepWarning]


# -- which steps warn -----------------------------------------------------------------------------
# (id, storage factory, expected fragments: one list per warning, [] for none)
CASES = [
    ("git-env-unset", lambda: GitRepository(HTTPS, credentials=env_token("IPY_UNSET")), []),
    ("git-env-set", lambda: GitRepository(HTTPS, credentials=env_token()), [["IPY_WARN_TOKEN"]]),
    (
        "git-named-secret",
        lambda: GitRepository(HTTPS, credentials={"access_token": Secret(VALUE, name="t")}),
        [],
    ),
    ("git-https-no-credentials", lambda: GitRepository(HTTPS), []),
    ("git-http-no-credentials", lambda: GitRepository(HTTP), []),
    (
        "git-http-credentials",
        lambda: GitRepository(HTTP, credentials={"access_token": Secret(VALUE, name="t")}),
        [["https:// URLs only", "could not read Username"]],
    ),
    (
        "git-http-env-set",
        lambda: GitRepository(HTTP, credentials=env_token()),
        [["IPY_WARN_TOKEN"], ["https:// URLs only"]],
    ),
    (
        "file",
        lambda: RemoteStorage("file:///srv/class/code"),
        [["LocalStorage('/srv/class/code')"]],
    ),
    ("local", lambda: RemoteStorage("local:///srv/code"), [["LocalStorage('/srv/code')"]]),
    ("memory", lambda: RemoteStorage("memory://bucket/code"), [["this Python process only"]]),
    ("http", lambda: RemoteStorage("http://files.example.org/code"), [["drops the scheme"]]),
    ("https", lambda: RemoteStorage("https://files.example.org/code"), [["drops the scheme"]]),
    (
        "sftp-host-in-url",
        lambda: RemoteStorage("sftp://files.example.org/home/me/code", username="me"),
        [["sftp:///home/me/code with host='files.example.org'"]],
    ),
    (
        "sftp-host-setting",
        lambda: RemoteStorage("sftp:///home/me/code", host="files.example.org"),
        [],
    ),
    (
        "ftp-host-in-both",
        lambda: RemoteStorage("ftp://files.example.org/code", host="files.example.org"),
        [["'<host>/<path>'", "ftp:///code"]],
    ),
    ("ftp-no-host", lambda: RemoteStorage("ftp:///code"), [["missing 'host'"]]),
    (
        "webdav-auth",
        lambda: RemoteStorage(
            "webdav://code", base_url="https://dav.example.org", auth=["me", Secret.from_env("X")]
        ),
        [['Invalid "auth" argument', "headers={'Authorization'"]],
    ),
    (
        "webdav-header",
        lambda: RemoteStorage(
            "webdav://code",
            base_url="https://dav.example.org",
            headers={"Authorization": Secret("Basic bWU6cHc=", name="dav-auth")},
        ),
        [],
    ),
    (
        "s3-env-set",
        lambda: RemoteStorage("s3://bucket/code", key=Secret.from_env("IPY_WARN_TOKEN")),
        [["IPY_WARN_TOKEN"]],
    ),
    ("s3", lambda: RemoteStorage("s3://bucket/code"), []),
    ("local-storage", lambda: LocalStorage("/srv/code"), []),
]


@pytest.mark.parametrize(("make", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_which_steps_warn_and_what_they_say(monkeypatch, make, expected):
    monkeypatch.setenv("IPY_WARN_TOKEN", VALUE)
    monkeypatch.delenv("IPY_UNSET", raising=False)
    messages = warned(make())
    assert len(messages) == len(expected), messages
    for message, fragments in zip(messages, expected, strict=True):
        assert all(fragment in message for fragment in fragments), message
        assert VALUE not in message and len(message.splitlines()) == 1


def test_the_token_warning_names_the_secret_block_and_the_line_that_saves_it(monkeypatch):
    monkeypatch.setenv("GIT_TOKEN", VALUE)
    (message,) = warned(GitRepository(HTTPS, credentials=env_token("GIT_TOKEN")))
    assert "`prefect deploy`" in message and "in clear in Prefect's database" in message
    assert (
        "`from prefect.blocks.system import Secret; "
        "Secret(value=os.environ['GIT_TOKEN']).save('git-token', overwrite=True)`"
    ) in message
    assert "use Secret(os.environ['GIT_TOKEN'], name='git-token') here" in message
    assert "where GIT_TOKEN is not set" in message


@pytest.mark.parametrize(
    ("variable", "name"),
    [
        ("GIT_TOKEN", "git-token"),
        ("_x__Y_", "x--y"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key"),
    ],
)
def test_block_names_are_ones_prefect_accepts(variable, name):
    assert block_name_for(variable) == name


def test_the_step_is_the_same_with_or_without_warnings(monkeypatch):
    monkeypatch.setenv("IPY_WARN_TOKEN", VALUE)
    repo = GitRepository(HTTP, credentials=env_token())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quiet = repo.to_pull_step()
    with pytest.warns(PullStepWarning):
        assert repo.to_pull_step() == quiet


def test_a_step_read_back_warns_the_same(monkeypatch):
    """The rules look at the step alone: a prefect.yaml step turned into a storage warns alike."""
    monkeypatch.setenv("IPY_WARN_TOKEN", VALUE)
    original = GitRepository(HTTP, credentials=env_token())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = from_pull_step(original.to_pull_step())
    assert warned(again) == warned(original) and len(warned(again)) == 2


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(PullStepWarning) as caught:
        RemoteStorage("memory://bucket/code").to_pull_step()
    assert caught[0].filename == __file__


# -- in a real IPython shell ------------------------------------------------------------------------
def shell(tmp_path, code: str) -> str:
    """stderr of ``code`` after adding a git storage whose token variable is set."""
    env = {**os.environ, "IPY_WARN_TOKEN": VALUE}
    _, stderr = ipython(
        f"%load_ext ipy_storage\n%storage add {HTTPS} --name flows --token-env IPY_WARN_TOKEN "
        f"--once\n{code}",
        tmp_path,
        env,
    )
    assert VALUE not in stderr
    return stderr


def test_storage_step_shows_the_warning_every_time(tmp_path):
    """A warning gone from the second ``%storage step`` would read as fixed."""
    stderr = shell(tmp_path, "%storage step flows\n%storage step flows\n")
    assert stderr.count("PullStepWarning: IPY_WARN_TOKEN is set here") == 2, stderr


def test_a_filter_the_user_sets_still_silences_it(tmp_path):
    stderr = shell(
        tmp_path,
        "import warnings\n"
        "from ipy_storage.storage.step_warnings import PullStepWarning\n"
        "warnings.filterwarnings('ignore', category=PullStepWarning)\n"
        "%storage step flows\n",
    )
    assert "PullStepWarning" not in stderr


# -- Prefect 3.9.1 agrees -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prefect_claims(tmp_path_factory, _git_http_server_session) -> dict:
    """Our steps for the cases we warn about, run by Prefect's own step functions."""
    from tests.fixtures.prefect_venv import (
        ensure_peer_venv,
        prefect_environment,
        run_in_peer_venv,
    )
    from tests.fixtures.s3_server import free_port

    python, base = ensure_peer_venv(), tmp_path_factory.mktemp("prefect-claims")
    server = _git_http_server_session
    private = server.create_repo({"flows/hello.py": "x = 1\n"})
    (base / "served" / "code").mkdir(parents=True)
    (base / "served" / "code" / "a.py").write_text("a = 1\n")
    port = free_port()
    http = subprocess.Popen(
        [sys.executable, "-m", "http.server", "-b", "127.0.0.1", str(port), "-d", base / "served"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    storages = {
        "git-http-credentials": GitRepository(
            private.url,
            credentials={"username": server.username, "access_token": Secret.from_env("TOKEN")},
        ),
        "memory": RemoteStorage("memory://claims/code"),
        "http": RemoteStorage(f"http://127.0.0.1:{port}/code"),
        "sftp": RemoteStorage(f"sftp://127.0.0.1:{port}/code", username="me"),
        "ftp": RemoteStorage(f"ftp://127.0.0.1:{port}/code"),
        "webdav-auth": RemoteStorage(
            "webdav://code", base_url=f"http://127.0.0.1:{port}", auth=["me", Secret.from_env("PW")]
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PullStepWarning)
        steps = {key: storage.to_pull_step() for key, storage in storages.items()}
    urls = ["sftp://files.example.org:2222/home/me/code", "sftp:///home/me/code", "ftp:///code"]
    plan = base / "plan.json"
    plan.write_text(json.dumps({"work": str(base / "work"), "steps": steps, "urls": urls}))
    env = prefect_environment(
        base / "prefect-home", {"TOKEN": server.token, "PW": "pw", "GIT_TERMINAL_PROMPT": "0"}
    )
    script = Path(__file__).with_name("fixtures") / "prefect_claims.py"
    try:
        answer, _ = run_in_peer_venv(python, script, str(plan), env=env, cwd=base, timeout=180)
    finally:
        http.terminate()
        http.wait()
    return answer


@pytest.mark.prefect
@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("git-http-credentials", "could not read Username"),
        ("memory", "FileNotFoundError"),
        ("http", "NonHttpUrlClientError"),
        ("sftp", "missing 1 required positional argument: 'host'"),
        ("ftp", "missing 1 required positional argument: 'host'"),
        ("webdav-auth", 'Invalid "auth" argument'),
    ],
)
def test_prefect_fails_on_the_steps_we_warn_about(prefect_claims, key, says):
    """If Prefect starts running one of these, this fails and its warning can go."""
    result = prefect_claims["steps"][key]
    assert "error" in result, result
    assert says in result["error"] + " " + result["cause"], result


@pytest.mark.prefect
def test_prefect_asks_sftp_and_ftp_servers_for_the_host_as_a_folder(prefect_claims):
    """The advice: the host as a setting, the URL without it (Prefect then asks for the path)."""
    assert prefect_claims["remote_paths"] == {
        "sftp://files.example.org:2222/home/me/code": "files.example.org:2222/home/me/code",
        "sftp:///home/me/code": "home/me/code",
        "ftp:///code": "code",
    }

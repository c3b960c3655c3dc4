"""The storage contract of SPEC §2–§4, parametrized the way Prefect's own storage tests are."""

from __future__ import annotations

import asyncio
import base64
import warnings
from pathlib import Path

import pytest

import ipy_storage
from ipy_storage import (
    BlockStorageAdapter,
    GitRepository,
    LocalStorage,
    PullResult,
    RemoteStorage,
    RunnerStorage,
    Secret,
    create_storage_from_source,
    from_pull_step,
)
from ipy_storage.storage import credentials as creds
from ipy_storage.storage.errors import (
    SecretNotFoundError,
    SourceNotFoundError,
    StorageConfigError,
    StorageError,
    StoragePullError,
)

GIT_STEP = "prefect.deployments.steps.git_clone"
REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
TOKEN = "ghp_s3cr3t+t0k/en=!#@x"


# -- public names ---------------------------------------------------------------------------
SPEC_NAMES = [
    "RunnerStorage",
    "GitCredentials",
    "GitRepository",
    "RemoteStorage",
    "BlockStorageAdapter",
    "LocalStorage",
    "create_storage_from_source",
]


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_spec_names_exist_in_both_namespaces(name):
    import ipy_storage.storage as core

    assert getattr(ipy_storage, name) is getattr(core, name)


@pytest.mark.parametrize(
    "name",
    [
        "Secret",
        "PullResult",
        "Workspace",
        "StorageForm",
        "load_ipython_extension",
        "unload_ipython_extension",
        "from_pull_step",
    ],
)
def test_notebook_names_exist_at_top_level(name):
    assert callable(getattr(ipy_storage, name))


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError):
        ipy_storage.does_not_exist  # noqa: B018


# -- errors (§2.3) -----------------------------------------------------------------------------
def test_config_errors_are_value_errors_and_pull_errors_runtime_errors():
    assert issubclass(StorageConfigError, ValueError) and issubclass(
        StorageConfigError, StorageError
    )
    assert issubclass(StoragePullError, RuntimeError) and issubclass(StoragePullError, StorageError)
    assert issubclass(SecretNotFoundError, ValueError)


# -- Secret (§2.4) -------------------------------------------------------------------------------
def test_secret_masks_its_value_everywhere():
    secret = Secret("hunter2-value", name="db")
    for text in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"k": secret})):
        assert "hunter2-value" not in text
    assert secret.get() == "hunter2-value"


def test_secret_from_env_reads_at_use_time(monkeypatch):
    secret = Secret.from_env("IPY_STORAGE_TEST_VAR")
    monkeypatch.setenv("IPY_STORAGE_TEST_VAR", "first-value")
    assert secret.get() == "first-value"
    monkeypatch.setenv("IPY_STORAGE_TEST_VAR", "second-value")
    assert secret.get() == "second-value"
    assert repr(secret) == "Secret.from_env('IPY_STORAGE_TEST_VAR')"


def test_secret_from_env_missing_variable_says_what_to_do(monkeypatch):
    monkeypatch.delenv("IPY_STORAGE_UNSET", raising=False)
    with pytest.raises(StorageConfigError, match="IPY_STORAGE_UNSET is not set"):
        Secret.from_env("IPY_STORAGE_UNSET").get()


@pytest.mark.parametrize(
    ("secret", "placeholder"),
    [
        (Secret("v1", name="gh-token"), "{{ prefect.blocks.secret.gh-token }}"),
        (Secret.from_env("GH_TOKEN"), "{{ $GH_TOKEN }}"),
    ],
)
def test_secret_placeholders(secret, placeholder):
    assert secret.placeholder() == placeholder


def test_unnamed_secret_has_no_placeholder():
    with pytest.raises(StorageConfigError, match="no name"):
        Secret("value-only").placeholder()


def test_secret_cannot_be_pickled():
    import pickle

    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret("pickle-me-not"))


@pytest.mark.parametrize("bad", ["", "1ABC", "A-B", "A B"])
def test_secret_from_env_refuses_bad_names(bad):
    with pytest.raises(StorageConfigError):
        Secret.from_env(bad)


# -- GitRepository validation (§3.1) ------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"branch": "main", "commit_sha": "abcdef1"},
            "Cannot provide both a branch and a commit SHA. Please provide only one.",
        ),
        ({"branch": "-evil"}, "Branch names cannot start with '-'."),
        ({"branch": "--upload-pack=x"}, "Branch names cannot start with '-'."),
        ({"commit_sha": "xyz"}, "use the 'branch' parameter instead."),
        ({"commit_sha": "abc"}, "use the 'branch' parameter instead."),
        ({"commit_sha": "a" * 65}, "use the 'branch' parameter instead."),
        ({"commit_sha": "main"}, "use the 'branch' parameter instead."),
        (
            {"credentials": {"username": "bob"}},
            "If a username is provided, an access token or password must also be provided.",
        ),
        ({"credentials": {"username": "bob", "colour": "red"}}, "Invalid credentials key"),
        ({"credentials": "plain-string"}, "Invalid credentials"),
        ({"directories": ["/etc"]}, "Invalid directory '/etc'"),
        ({"directories": ["flows/../../x"]}, "Invalid directory"),
        ({"directories": "flows"}, "Invalid directories"),
        ({"name": "/abs/name"}, "Invalid name '/abs/name'"),
        ({"name": "../up"}, "Invalid name '../up'"),
        ({"pull_interval": 0}, "Invalid pull_interval 0"),
        ({"pull_interval": -5}, "Invalid pull_interval"),
        ({"pull_interval": "60"}, "Invalid pull_interval"),
    ],
)
def test_git_repository_validation(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        GitRepository("https://github.com/org/repo.git", **kwargs)
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("sha", ["abcd", "ABCDEF12", "a" * 40, "0" * 64])
def test_git_repository_accepts_valid_commit_shas(sha):
    assert GitRepository("https://github.com/org/repo.git", commit_sha=sha).commit_sha == sha


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "EXT::sh -c id",
        "fd::3",
        "--upload-pack=touch /tmp/x",
        "-oProxyCommand=x",
        "",
        "https://host/repo\n.git",
        "https://host/re po.git",
    ],
)
def test_git_repository_refuses_dangerous_urls(url):
    with pytest.raises(StorageConfigError):
        GitRepository(url)


def test_directory_starting_with_dashes_warns_and_is_kept():
    with pytest.warns(UserWarning, match="starts with '--'"):
        repo = GitRepository("https://github.com/org/repo.git", directories=["--weird"])
    assert repo.directories == ["--weird"]


def test_constructors_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    GitRepository("https://github.com/org/repo.git", branch="dev")
    RemoteStorage("memory://bucket/path")
    LocalStorage("somewhere")
    BlockStorageAdapter(FakeBlock())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        create_storage_from_source("s3://bucket/key")
    assert list(tmp_path.iterdir()) == []


# -- naming ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "kwargs", "name"),
    [
        ("https://github.com/org/repo.git", {}, "repo"),
        ("https://github.com/org/repo", {}, "repo"),
        ("https://github.com/org/repo/", {}, "repo"),
        ("https://github.com/org/my.git.tools.git", {}, "my.git.tools"),
        ("https://github.com/org/repo.git", {"branch": "dev"}, "repo-dev"),
        ("https://github.com/org/repo.git", {"branch": "feature/x/y"}, "repo-feature-x-y"),
        ("https://github.com/org/repo.git", {"name": "custom"}, "custom"),
        ("https://github.com/org/repo.git", {"name": ""}, "repo"),
        ("https://github.com/org/repo.git", {"name": "", "branch": "b"}, "repo-b"),
        ("https://github.com/org/repo.git", {"commit_sha": "abcdef0"}, "repo"),
        ("git@github.com:org/ssh-repo.git", {}, "ssh-repo"),
        ("ssh://git@host:2222/org/sshrepo.git", {}, "sshrepo"),
        ("/srv/git/local-repo.git", {}, "local-repo"),
        ("file:///srv/git/file-repo.git", {}, "file-repo"),
        ("https://user:pw@gitlab.com/g/sub/proj.git", {}, "proj"),
    ],
)
def test_git_destination_names(url, kwargs, name, tmp_path):
    repo = GitRepository(url, **kwargs)
    assert repo.name == name
    repo.set_base_path(tmp_path)
    assert repo.destination == tmp_path / name


def test_default_base_path_is_the_working_directory_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo = GitRepository("https://github.com/org/repo.git")
    monkeypatch.chdir("/")
    assert repo.destination == tmp_path / "repo"


# -- repr and equality ------------------------------------------------------------------------
def test_git_repr_matches_prefect():
    repo = GitRepository("https://github.com/org/repo.git", branch="main")
    assert (
        repr(repo)
        == "GitRepository(name='repo-main' repository='https://github.com/org/repo.git', branch='main')"
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {
            "url": f"https://bob:{TOKEN.replace('@', '%40').replace('#', '%23').replace('/', '%2F')}@github.com/o/r.git"
        },
        {"url": "https://github.com/o/r.git", "credentials": {"access_token": TOKEN}},
        {
            "url": "https://github.com/o/r.git",
            "credentials": {"username": "bob", "password": TOKEN},
        },
        {"url": "https://github.com/o/r.git", "credentials": {"token": TOKEN}},
        {"url": "https://github.com/o/r.git", "credentials": {"access_token": Secret(TOKEN)}},
    ],
)
def test_no_secret_in_repr_url_or_html(kwargs):
    repo = GitRepository(**kwargs)
    encoded = base64.b64encode(f"bob:{TOKEN}".encode()).decode()
    for text in (repr(repo), repo.url, str(repo.destination)):
        assert (
            TOKEN not in text and "%40" not in text and "bob:" not in text and encoded not in text
        )
    assert repo.url == "https://github.com/o/r.git"


def test_equality():
    a = GitRepository("https://github.com/o/r.git", branch="x")
    assert a == GitRepository("https://github.com/o/r.git", branch="x")
    assert a != GitRepository("https://github.com/o/r.git", branch="y")
    assert a != GitRepository("https://github.com/o/other.git", branch="x")
    assert RemoteStorage("memory://a/b") == RemoteStorage("memory://a/b")
    assert RemoteStorage("memory://a/b") != RemoteStorage("memory://a/c")
    assert LocalStorage("/tmp") == LocalStorage("/tmp/")
    assert a != RemoteStorage("memory://a/b")


U = "https://github.com/o/r.git"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (GitRepository(U, pull_interval=30), GitRepository(U)),
        (GitRepository(U, pull_interval=None), GitRepository(U)),
        (GitRepository(U, credentials={"access_token": "tok-a"}), GitRepository(U)),
        (GitRepository(U, include_submodules=True), GitRepository(U)),
        (GitRepository(U, directories=[]), GitRepository(U)),
        (GitRepository(U, name="r"), GitRepository(U)),
        (GitRepository(U, directories=["a", "b"]), GitRepository(U, directories=["a", "b"])),
        (RemoteStorage("memory://a/b", pull_interval=5), RemoteStorage("memory://a/b")),
        (RemoteStorage("memory://a/b", anon=True), RemoteStorage("memory://a/b", anon=True)),
    ],
)
def test_equal_configurations(left, right):
    """What Prefect's Runner de-duplicates with ``==``: never pull_interval (SPEC §3.1)."""
    assert left == right and right == left


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (GitRepository(U, commit_sha="abcd123"), GitRepository(U)),
        (GitRepository(U, commit_sha="abcd123"), GitRepository(U, commit_sha="abcd124")),
        (GitRepository(U, directories=["a"]), GitRepository(U)),
        (GitRepository(U, directories=["a"]), GitRepository(U, directories=["b"])),
        (GitRepository(U, name="other"), GitRepository(U)),
        (GitRepository(U, branch="dev"), GitRepository(U, branch="dev", name="r-dev-2")),
        (RemoteStorage("memory://a/b", anon=True), RemoteStorage("memory://a/b")),
    ],
)
def test_different_checkouts_are_unequal(left, right):
    assert left != right


@pytest.mark.parametrize(
    ("storage", "text"),
    [
        (RemoteStorage("s3://bucket/path"), "RemoteStorage(url='s3://bucket/path')"),
        (LocalStorage("/abs"), "LocalStorage(path=PosixPath('/abs'))"),
    ],
)
def test_reprs(storage, text):
    assert repr(storage) == text


# -- scoped redaction, userinfo by structure (§2.3, §2.4) -------------------------------------
def test_a_secret_word_is_masked_only_in_its_own_storages_messages(tmp_path):
    secret = Secret("main", name="word-main")
    owner = GitRepository("https://h.example/o/r.git", credentials={"access_token": secret})
    other = LocalStorage(tmp_path / "main" / "missing")
    with pytest.raises(SourceNotFoundError) as excinfo:
        other.pull()
    assert "/main/missing" in str(excinfo.value) and "****" not in str(excinfo.value)
    assert owner.redact("the token main was refused") == "the token ******** was refused"
    assert other.redact("check the branch main") == "check the branch main"


def test_file_url_errors_stay_readable(tmp_path):
    Secret("repo", name="word-repo")
    url = (tmp_path / "x" / "repo.git").as_uri()
    repo = GitRepository(url, credentials={"access_token": Secret("tok-unrelated-1")})
    repo.set_base_path(tmp_path / "work")
    with pytest.raises(StoragePullError) as excinfo:
        repo.pull()
    assert url in str(excinfo.value) and "****" not in str(excinfo.value)


@pytest.mark.parametrize("scheme", ["https", "http", "ssh", "git+ssh", "ftps", "s3", "sftp"])
def test_no_error_message_carries_userinfo(scheme):
    url = f"{scheme}://alice:tok-SECRET-1@host.example/x.git"
    error = StorageConfigError(f"settings are for remote (fsspec) storages; {url!r} is a kind.")
    assert (
        str(error)
        == f"settings are for remote (fsspec) storages; '{scheme}://host.example/x.git' is a kind."
    )
    assert "tok-SECRET" not in str(StoragePullError(f"pull of {url} failed"))


def test_workspace_configuration_error_has_no_userinfo():
    from ipy_storage.workspaces import storage_from_source

    with pytest.raises(StorageConfigError) as excinfo:
        storage_from_source("https://alice:tok-SECRET-2@host.example/x.git", settings={"anon": 1})
    assert "tok-SECRET" not in str(excinfo.value) and "alice" not in str(excinfo.value)
    assert "'https://host.example/x.git'" in str(excinfo.value)


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://alice:tok-SECRET-3@host.example/x.git", "https://host.example/x.git"),
        ("http://tok-SECRET-3@host.example/x.git", "http://host.example/x.git"),
        ("ssh://alice:tok-SECRET-3@host.example/x.git", "ssh://alice@host.example/x.git"),
        ("ftps://alice:tok-SECRET-3@host.example/x.git", "ftps://alice@host.example/x.git"),
    ],
)
def test_userinfo_is_moved_out_of_every_git_url(url, clean):
    repo = GitRepository(url)
    assert repo.url == clean and "tok-SECRET" not in repr(repo)
    with pytest.raises(ValueError, match="Please save your access token as a Secret") as excinfo:
        repo.to_pull_step()
    assert "tok-SECRET" not in str(excinfo.value)
    assert repo.redact("git said tok-SECRET-3") == "git said ********"


def test_a_failed_pull_leaves_no_userinfo_in_its_message_or_log_records(tmp_path, caplog):
    """As the timer logs a failed pull (``exc_info``): neither the message nor the traceback
    shows the userinfo the URL was given with."""
    import logging

    repo = GitRepository("https://alice:tok-SECRET-4@127.0.0.1:1/x.git")
    repo.set_base_path(tmp_path)
    with caplog.at_level(logging.DEBUG), pytest.raises(StoragePullError) as excinfo:
        repo.pull()
    logging.getLogger("ipy_storage").debug("failed: %s", excinfo.value, exc_info=excinfo.value)
    texts = [str(excinfo.value)] + [caplog.text]
    assert all("tok-SECRET" not in text and "alice" not in text for text in texts), texts
    assert "https://127.0.0.1:1/x.git" in str(excinfo.value)


# -- credentials per host ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "username", "token", "pair"),
    [
        ("https://github.com/o/r.git", None, "tok", "tok"),
        ("https://github.com/o/r.git", "bob", "tok", "bob:tok"),
        ("https://gitlab.com/o/r.git", None, "tok", "oauth2:tok"),
        ("https://gitlab.example.com/o/r.git", None, "tok", "oauth2:tok"),
        ("https://gitlab.com/o/r.git", None, "oauth2:tok", "oauth2:tok"),
        ("https://gitlab.com/o/r.git", None, "deploy-user:tok", "deploy-user:tok"),
        ("https://gitlab.com/o/r.git", "bob", "tok", "bob:tok"),
        ("https://bitbucket.org/o/r.git", None, "tok", "x-token-auth:tok"),
        ("https://bitbucket.org/o/r.git", None, "x-token-auth:tok", "x-token-auth:tok"),
        ("https://bitbucket.org/o/r.git", "bob", "tok", "bob:tok"),
        ("https://bitbucket.example.com/scm/o/r.git", "bob", "tok", "bob:tok"),
        ("https://bitbucket.example.com/scm/o/r.git", None, "tok", "x-token-auth:tok"),
        ("https://bitbucketserver.example.com/scm/o/r.git", None, "bob:tok", "bob:tok"),
        ("https://bitbucketserver.example.com/scm/o/r.git", "bob", "tok", "bob:tok"),
        ("https://git.example.com/o/r.git", None, "tok", "tok"),
        ("http://127.0.0.1:8000/r.git", "bob", "tok", "bob:tok"),
    ],
)
def test_credential_pair_per_host(url, username, token, pair):
    assert creds.credential_pair(url, username, token) == pair


def test_bitbucket_server_requires_username():
    with pytest.raises(StorageConfigError, match="needs a username"):
        creds.credential_pair("https://bitbucketserver.example.com/scm/o/r.git", None, "tok")


@pytest.mark.parametrize(
    ("pair", "encoded"),
    [
        ("tok@en", "tok%40en"),
        ("bob:a/b+c=d!e#f@g", "bob:a%2Fb%2Bc%3Dd%21e%23f%40g"),
        ("oauth2:p@ss", "oauth2:p%40ss"),
        ("x-token-auth:t/k", "x-token-auth:t%2Fk"),
    ],
)
def test_userinfo_percent_encoding(pair, encoded):
    assert creds.userinfo_for_url(pair) == encoded


@pytest.mark.parametrize(
    ("kwargs", "expected_pair"),
    [
        ({"credentials": {"username": "bob", "access_token": TOKEN}}, f"bob:{TOKEN}"),
        ({"credentials": {"access_token": Secret(TOKEN)}}, f"{TOKEN}:"),
        ({"credentials": Secret(TOKEN)}, f"{TOKEN}:"),
    ],
)
def test_auth_environment_is_a_host_scoped_header(kwargs, expected_pair):
    repo = GitRepository("https://git.example.com:8443/o/r.git", **kwargs)
    env = repo.auth_environment()
    assert env["GIT_CONFIG_COUNT"] == "1"
    assert env["GIT_CONFIG_KEY_0"] == "http.https://git.example.com:8443/.extraHeader"
    assert (
        env["GIT_CONFIG_VALUE_0"]
        == "Authorization: Basic " + base64.b64encode(expected_pair.encode()).decode()
    )


def test_userinfo_in_url_is_percent_decoded_into_the_header():
    encoded = creds.userinfo_for_url(f"bob:{TOKEN}")
    repo = GitRepository(f"http://{encoded}@127.0.0.1:9/o/r.git")
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == f"bob:{TOKEN}"
    assert repo.url == "http://127.0.0.1:9/o/r.git"


@pytest.mark.parametrize("url", ["git@github.com:o/r.git", "/srv/r.git", "git://host/r.git"])
def test_no_auth_environment_for_non_http(url):
    assert GitRepository(url, credentials={"access_token": "tok-ignored"}).auth_environment() == {}


def test_env_secret_resolved_at_pull_time(monkeypatch):
    repo = GitRepository(
        "https://h.example/o/r.git", credentials={"access_token": Secret.from_env("IPY_TOK")}
    )
    monkeypatch.setenv("IPY_TOK", "late-token")
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == "late-token:"


# -- pull steps (§4) ---------------------------------------------------------------------------
NAMED = Secret("named-token-value", name="gh-token")
ENV = Secret.from_env("GITHUB_TOKEN")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"repository": "https://github.com/o/r.git", "branch": None}),
        ({"branch": "dev"}, {"repository": "https://github.com/o/r.git", "branch": "dev"}),
        ({"name": "r"}, {"repository": "https://github.com/o/r.git", "branch": None}),
        (
            {"name": "other"},
            {
                "repository": "https://github.com/o/r.git",
                "branch": None,
                "clone_directory_name": "other",
            },
        ),
        (
            {"branch": "dev", "name": "r-dev"},
            {"repository": "https://github.com/o/r.git", "branch": "dev"},
        ),
        (
            {"branch": "dev", "name": "r"},
            {
                "repository": "https://github.com/o/r.git",
                "branch": "dev",
                "clone_directory_name": "r",
            },
        ),
        (
            {"directories": ["flows", "lib/x"]},
            {
                "repository": "https://github.com/o/r.git",
                "branch": None,
                "directories": ["flows", "lib/x"],
            },
        ),
        (
            {"include_submodules": True},
            {
                "repository": "https://github.com/o/r.git",
                "branch": None,
                "include_submodules": True,
            },
        ),
        (
            {"commit_sha": "abc1234"},
            {"repository": "https://github.com/o/r.git", "branch": None, "commit_sha": "abc1234"},
        ),
        (
            {"credentials": {"username": "bob", "access_token": NAMED}},
            {
                "repository": "https://github.com/o/r.git",
                "branch": None,
                "credentials": {
                    "username": "bob",
                    "access_token": "{{ prefect.blocks.secret.gh-token }}",
                },
            },
        ),
        (
            {"credentials": {"access_token": ENV}},
            {
                "repository": "https://github.com/o/r.git",
                "branch": None,
                "credentials": {"access_token": "{{ $GITHUB_TOKEN }}"},
            },
        ),
        (
            {
                "branch": "main",
                "name": "x",
                "directories": ["d"],
                "include_submodules": True,
                "credentials": {"access_token": ENV},
            },
            {
                "repository": "https://github.com/o/r.git",
                "branch": "main",
                "clone_directory_name": "x",
                "directories": ["d"],
                "include_submodules": True,
                "credentials": {"access_token": "{{ $GITHUB_TOKEN }}"},
            },
        ),
    ],
)
def test_git_pull_steps(kwargs, expected):
    repo = GitRepository("https://github.com/o/r.git", **kwargs)
    step = repo.to_pull_step()
    assert step == {GIT_STEP: expected}
    assert list(step[GIT_STEP])[:2] == ["repository", "branch"]
    again = from_pull_step(step)
    assert again == repo
    assert again.to_pull_step() == step


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "https://github.com/o/r.git", "credentials": {"access_token": "plain-token-1"}},
        {
            "url": "https://github.com/o/r.git",
            "credentials": {"username": "bob", "password": "plain-token-2"},
        },
        {"url": "https://bob:plain-token-3@github.com/o/r.git"},
        {"url": "https://plain-token-4@github.com/o/r.git"},
    ],
)
def test_plaintext_token_refused_in_pull_step_without_leaking(kwargs):
    repo = GitRepository(**kwargs)
    with pytest.raises(ValueError, match="Please save your access token as a Secret") as excinfo:
        repo.to_pull_step()
    assert "plain-token" not in str(excinfo.value)


def test_unnamed_secret_refused_in_pull_step():
    repo = GitRepository(
        "https://github.com/o/r.git", credentials={"access_token": Secret("anon-tok")}
    )
    with pytest.raises(StorageConfigError, match="no name"):
        repo.to_pull_step()


# -- RemoteStorage (§3.2, §4) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "relative"),
    [
        ("s3://bucket/path", "bucket/path"),
        ("s3://bucket/a/b/", "bucket/a/b"),
        ("s3://bucket", "bucket"),
        ("gcs://bucket/flows", "bucket/flows"),
        ("memory://prefix/x", "prefix/x"),
        ("file:///abs/dir", "dir"),
        ("file:///abs/dir/", "dir"),
    ],
)
def test_remote_destination(url, relative, tmp_path):
    storage = RemoteStorage(url)
    storage.set_base_path(tmp_path)
    assert storage.destination == tmp_path / relative


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "not-a-url"}, "Invalid URL"),
        ({"url": "s3://bucket/../x"}, "Invalid URL"),
        ({"url": "s3://AKIA:secretkey@bucket/x"}, "do not put credentials"),
        ({"url": "s3://bucket/x", "pull_interval": -1}, "Invalid pull_interval"),
    ],
)
def test_remote_validation(kwargs, message):
    with pytest.raises(ValueError) as excinfo:
        RemoteStorage(**kwargs)
    assert message in str(excinfo.value)
    assert "secretkey" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("url", "settings", "where"),
    [
        ("s3://bucket/x", {"key": "AKIAPLAINVALUE"}, "'key'"),
        ("s3://bucket/x", {"secret": "plainvalue"}, "'secret'"),
        ("s3://bucket/x", {"token": "plainvalue"}, "'token'"),
        ("gcs://bucket/x", {"password": "plainvalue"}, "'password'"),
        ("az://c/x", {"account_key": "plainvalue"}, "'account_key'"),
        ("az://c/x", {"sas_token": "plainvalue"}, "'sas_token'"),
        ("az://c/x", {"client_secret": "plainvalue"}, "'client_secret'"),
        ("s3://bucket/x", {"access_key": "plainvalue"}, "'access_key'"),
        ("s3://bucket/x", {"secret_key": "plainvalue"}, "'secret_key'"),
        ("s3://bucket/x", {"access_token": "plainvalue"}, "'access_token'"),
        (
            "s3://bucket/x",
            {"client_kwargs": {"aws_secret_access_key": "plainvalue"}},
            "client_kwargs.'aws_secret_access_key'",
        ),
    ],
)
def test_plaintext_remote_secret_is_accepted_but_refused_in_the_pull_step(url, settings, where):
    storage = RemoteStorage(url, **settings)  # a notebook user who only pulls needs no Secret
    assert storage.settings == settings
    with pytest.raises(ValueError, match="use Secret") as excinfo:
        storage.to_pull_step()
    assert f"Setting {where} holds a secret in plain text" in str(excinfo.value)
    assert "plainvalue" not in str(excinfo.value) and "PLAIN" not in str(excinfo.value)
    value = settings.get("client_kwargs", settings)
    (value,) = value.values()
    assert storage.redact(f"403 for {value}") == "403 for ********"


def test_unknown_protocol_is_accepted_and_its_step_has_no_requires():
    storage = RemoteStorage("nosuchproto://bucket/x", pull_interval=None)
    assert storage.name == "bucket/x"
    assert storage.to_pull_step() == {REMOTE_STEP: {"url": "nosuchproto://bucket/x"}}
    assert from_pull_step(storage.to_pull_step()) == storage


@pytest.mark.s3
def test_plaintext_s3_settings_are_used_for_pulling(s3_bucket, s3_upload, s3_endpoint, tmp_path):
    from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY

    s3_upload(s3_bucket, {"flows/a.py": b"A\n"})
    storage = RemoteStorage(
        f"s3://{s3_bucket}/flows", key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=s3_endpoint
    )
    storage.set_base_path(tmp_path)
    assert storage.pull().added == ["a.py"]
    assert (tmp_path / s3_bucket / "flows" / "a.py").read_bytes() == b"A\n"


@pytest.mark.parametrize(
    ("url", "settings", "expected"),
    [
        ("s3://bucket/path", {}, {"url": "s3://bucket/path", "requires": "s3fs"}),
        ("gcs://bucket/path", {}, {"url": "gcs://bucket/path", "requires": "gcsfs"}),
        ("gs://bucket/path", {}, {"url": "gs://bucket/path", "requires": "gcsfs"}),
        ("az://container/path", {}, {"url": "az://container/path", "requires": "adlfs"}),
        ("abfs://container/path", {}, {"url": "abfs://container/path", "requires": "adlfs"}),
        ("memory://x/y", {}, {"url": "memory://x/y", "requires": "fsspec"}),
        ("file:///abs/x", {}, {"url": "file:///abs/x", "requires": "fsspec"}),
        ("https://example.com/x", {}, {"url": "https://example.com/x", "requires": "aiohttp"}),
        (
            "s3://bucket/p",
            {
                "key": Secret.from_env("AWS_KEY"),
                "secret": Secret("v", name="aws-secret"),
                "endpoint_url": "http://127.0.0.1:9000",
            },
            {
                "url": "s3://bucket/p",
                "key": "{{ $AWS_KEY }}",
                "secret": "{{ prefect.blocks.secret.aws-secret }}",
                "endpoint_url": "http://127.0.0.1:9000",
                "requires": "s3fs",
            },
        ),
        (
            "s3://bucket/p",
            {"client_kwargs": {"aws_session_token": Secret.from_env("SESSION")}, "anon": False},
            {
                "url": "s3://bucket/p",
                "client_kwargs": {"aws_session_token": "{{ $SESSION }}"},
                "anon": False,
                "requires": "s3fs",
            },
        ),
    ],
)
def test_remote_pull_steps_round_trip(url, settings, expected):
    storage = RemoteStorage(url, **settings)
    step = storage.to_pull_step()
    assert step == {REMOTE_STEP: expected}
    assert "v" not in [value for value in step[REMOTE_STEP].values()]
    again = from_pull_step(step)
    assert again == storage and again.to_pull_step() == step


def test_remote_settings_keep_secrets_wrapped():
    storage = RemoteStorage("s3://b/p", secret=Secret("wrapped-value", name="w"))
    assert "wrapped-value" not in repr(storage) and "wrapped-value" not in repr(
        storage.to_pull_step()
    )
    assert isinstance(storage.settings["secret"], Secret)


# -- LocalStorage (§3.4) -------------------------------------------------------------------
def test_local_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "code").mkdir()
    storage = LocalStorage("code")
    assert storage.destination == tmp_path / "code"
    assert storage.pull_interval is None
    storage.set_base_path("/elsewhere")
    assert storage.destination == tmp_path / "code"
    result = storage.pull()
    assert (
        isinstance(result, PullResult)
        and not result.changed
        and result.destination == tmp_path / "code"
    )
    assert asyncio.run(storage.pull_code()).changed is False
    step = storage.to_pull_step()
    assert step == {
        "prefect.deployments.steps.set_working_directory": {"directory": str(tmp_path / "code")}
    }
    assert from_pull_step(step) == storage


def test_local_storage_missing_path_is_a_clear_pull_error(tmp_path):
    with pytest.raises(SourceNotFoundError, match="does not exist: check the path exists"):
        LocalStorage(tmp_path / "missing").pull()


# -- BlockStorageAdapter (§3.3) ---------------------------------------------------------------
class FakeBlock:
    """A block look-alike: writes a fixed set of files into local_path."""

    def __init__(self, files=None, document_name=None, slug=None):
        self.files = files or {"flow.py": "print('hi')\n"}
        if document_name:
            self._block_document_name = document_name
        if slug:
            self._block_type_slug = slug
        self.calls = 0

    def get_directory(self, from_path=None, local_path=None):
        self.calls += 1
        for rel, text in self.files.items():
            target = Path(local_path) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


class AsyncBlock(FakeBlock):
    async def get_directory(self, from_path=None, local_path=None):
        await asyncio.sleep(0)
        FakeBlock.get_directory(self, from_path, local_path)


class MyS3Bucket(FakeBlock):
    pass


def test_block_without_get_directory_is_refused():
    with pytest.raises(ValueError, match="Provided block must have a `get_directory` method."):
        BlockStorageAdapter(object())


@pytest.mark.parametrize(
    ("block", "kwargs", "name"),
    [
        (FakeBlock(document_name="prod", slug="s3-bucket"), {}, "s3-bucket-prod"),
        (MyS3Bucket(document_name="prod"), {}, "my-s3-bucket-prod"),
        (MyS3Bucket(), {"name": "dev"}, "my-s3-bucket-dev"),
    ],
)
def test_block_names(block, kwargs, name):
    assert BlockStorageAdapter(block, **kwargs).name == name


def test_two_adapters_of_one_block_are_one_storage():
    """Prefect's Runner de-duplicates storages with ``==``: no random name suffix may split them."""
    block = FakeBlock()
    first, second = BlockStorageAdapter(block), BlockStorageAdapter(block, pull_interval=5)
    assert first == second and first.destination == second.destination
    assert first.name == "fake-block"
    assert BlockStorageAdapter(FakeBlock()) != first
    saved = FakeBlock(document_name="prod", slug="s3-bucket")
    assert BlockStorageAdapter(saved).name == BlockStorageAdapter(saved).name == "s3-bucket-prod"


def test_pull_with_block_step_gives_back_the_block_this_process_used():
    block = FakeBlock(document_name="round-trip", slug="s3-bucket")
    storage = BlockStorageAdapter(block)
    again = from_pull_step(storage.to_pull_step())
    assert again == storage and again.block is block


def test_block_pull_step_forms():
    named = BlockStorageAdapter(FakeBlock(document_name="prod", slug="s3-bucket"))
    assert named.to_pull_step() == {
        "prefect.deployments.steps.pull_with_block": {
            "block_type_slug": "s3-bucket",
            "block_document_name": "prod",
        }
    }
    with pytest.raises(ValueError, match="needs a name|no name"):
        BlockStorageAdapter(FakeBlock()).to_pull_step()

    class OwnStep(FakeBlock):
        def get_pull_step(self):
            return {"custom.step": {"x": 1}}

    assert BlockStorageAdapter(OwnStep()).to_pull_step() == {"custom.step": {"x": 1}}


@pytest.mark.parametrize("block_class", [FakeBlock, AsyncBlock])
def test_block_pull_sync_and_async(block_class, tmp_path):
    block = block_class(files={"a.py": "A\n", "pkg/b.py": "B\n"}, document_name="docs")
    storage = BlockStorageAdapter(block)
    storage.set_base_path(tmp_path)
    result = storage.pull()
    assert sorted(result.added) == ["a.py", "pkg/b.py"]
    assert (storage.destination / "pkg" / "b.py").read_text() == "B\n"
    assert not any(
        p.name.startswith(f".{storage.destination.name}.staging") for p in tmp_path.iterdir()
    )
    block.files["a.py"] = "A2\n"
    result = asyncio.run(storage.pull_code())
    assert result.modified == ["a.py"]


def test_block_pull_keeps_user_edits(tmp_path):
    block = FakeBlock(files={"a.py": "A\n", "b.py": "B\n"}, document_name="d")
    storage = BlockStorageAdapter(block)
    storage.set_base_path(tmp_path)
    storage.pull()
    (storage.destination / "a.py").write_text("mine\n")
    (storage.destination / "notes.txt").write_text("user file\n")
    block.files = {"a.py": "A2\n", "b.py": "B2\n"}
    result = storage.pull()
    assert (storage.destination / "a.py").read_text() == "mine\n"
    assert result.kept_local == ["a.py"] and result.modified == ["b.py"]
    assert (storage.destination / "notes.txt").read_text() == "user file\n"


def test_block_failure_is_a_one_line_pull_error(tmp_path):
    class Broken(FakeBlock):
        def get_directory(self, from_path=None, local_path=None):
            raise OSError("bucket gone\nsecond line")

    storage = BlockStorageAdapter(Broken(document_name="x"))
    storage.set_base_path(tmp_path)
    with pytest.raises(StoragePullError, match="failed to provide its files: bucket gone$"):
        storage.pull()


# -- the protocol ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "storage",
    [
        GitRepository("https://github.com/o/r.git"),
        RemoteStorage("memory://p/q"),
        LocalStorage("/tmp"),
        BlockStorageAdapter(FakeBlock(document_name="n")),
    ],
)
def test_every_storage_is_a_runner_storage(storage):
    assert isinstance(storage, RunnerStorage)
    assert asyncio.iscoroutinefunction(storage.pull_code)


def test_pull_interval_defaults():
    assert GitRepository("https://github.com/o/r.git").pull_interval == 60
    assert RemoteStorage("memory://p/q").pull_interval == 60
    assert LocalStorage("/tmp").pull_interval is None
    assert GitRepository("https://github.com/o/r.git", pull_interval=None).pull_interval is None


# -- factory (§3.5) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "kind", "attr", "value"),
    [
        ("git://host/org/repo", GitRepository, "url", "git://host/org/repo"),
        (
            "https://example.com/org/repo.git",
            GitRepository,
            "url",
            "https://example.com/org/repo.git",
        ),
        ("/srv/repos/thing.git", GitRepository, "url", "/srv/repos/thing.git"),
        ("git@github.com:org/repo.git", GitRepository, "url", "git@github.com:org/repo.git"),
        ("git+https://example.com/org/repo", GitRepository, "url", "https://example.com/org/repo"),
        ("https://github.com/org/repo", GitRepository, "name", "repo"),
        ("https://gitlab.com/org/repo", GitRepository, "name", "repo"),
        ("https://bitbucket.org/org/repo/", GitRepository, "name", "repo"),
        (
            "https://github.com/org/repo/tree/main",
            RemoteStorage,
            "url",
            "https://github.com/org/repo/tree/main",
        ),
        ("https://example.com/files/data", RemoteStorage, "url", "https://example.com/files/data"),
        ("s3://bucket/path", RemoteStorage, "url", "s3://bucket/path"),
        ("memory://prefix/x", RemoteStorage, "url", "memory://prefix/x"),
        ("file:///abs/dir", LocalStorage, "destination", Path("/abs/dir")),
        ("local:///abs/other", LocalStorage, "destination", Path("/abs/other")),
        ("/abs/plain/dir", LocalStorage, "destination", Path("/abs/plain/dir")),
        ("unknownproto://x/y", LocalStorage, "name", "y"),
    ],
)
def test_create_storage_from_source(source, kind, attr, value):
    storage = create_storage_from_source(source, pull_interval=30)
    assert type(storage) is kind
    assert getattr(storage, attr) == value
    assert storage.pull_interval == 30


# -- from_pull_step (§4 reverse) -----------------------------------------------------------
def test_from_pull_step_accepts_prefect_yaml_mapping_and_ignores_reserved_keys():
    document = {
        "pull": [
            {
                GIT_STEP: {
                    "id": "clone",
                    "repository": "https://github.com/o/r.git",
                    "branch": "main",
                    "requires": "prefect>=3",
                }
            },
            {"prefect.deployments.steps.set_working_directory": {"directory": "/tmp"}},
            {
                "prefect.deployments.steps.pull.pull_from_remote_storage": {
                    "url": "memory://a/b",
                    "requires": "s3fs>=1",
                }
            },
        ]
    }
    git, local, remote = from_pull_step(document)
    assert git == GitRepository("https://github.com/o/r.git", branch="main")
    assert local == LocalStorage("/tmp")
    assert remote == RemoteStorage("memory://a/b")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"prefect.deployments.steps.run_shell_script": {"script": "ls"}},
            "Invalid pull step 'prefect.deployments.steps.run_shell_script': unsupported step",
        ),
        ({GIT_STEP: {}}, "missing 'repository'"),
        (
            {GIT_STEP: {"repository": "https://h/r.git", "colour": "red"}},
            "unknown argument(s) ['colour']",
        ),
        ({GIT_STEP: "nope"}, "arguments must be a mapping"),
        ("just a string", "expected a mapping with one key"),
        (
            {GIT_STEP: {"repository": "https://h/r.git"}, "other": {}},
            "expected a mapping with one key",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "credentials": {"access_token": "{{ prefect.blocks.secret.never-created }}"},
                }
            },
            "Unknown secret 'never-created'",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "credentials": "{{ prefect.blocks.github-credentials.never-used }}",
                }
            },
            "Unknown block github-credentials/never-used: load it in this process first",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "access_token": "{{ $GH_TOKEN }}",
                    "credentials": {"access_token": "{{ $GH_TOKEN }}"},
                }
            },
            "Please provide either an access token or credentials but not both.",
        ),
        (
            {GIT_STEP: {"repository": "https://h/r.git", "credentials": "just-a-token"}},
            "'credentials' must be a mapping",
        ),
        (
            {"prefect.deployments.steps.pull_with_block": {"block_type_slug": "s3"}},
            "missing 'block_document_name'",
        ),
        (
            {"prefect.deployments.steps.set_working_directory": {"directory": "/", "x": 1}},
            "unknown argument(s) ['x']",
        ),
        ({REMOTE_STEP: {"key": "{{ $K }}"}}, "missing 'url'"),
        (
            {REMOTE_STEP: {"url": "s3://b/p", "key": "{{ prefect.variables.x }}"}},
            "Cannot resolve the template",
        ),
        (
            {
                "prefect.deployments.steps.pull_with_block": {
                    "block_type_slug": "s3",
                    "block_document_name": "x",
                }
            },
            "needs Prefect",
        ),
        ({"pull": "not a list"}, "must be a list"),
    ],
)
def test_from_pull_step_errors_name_the_problem(step, message):
    with pytest.raises(ValueError) as excinfo:
        from_pull_step(step)
    assert message in str(excinfo.value)


def test_git_clone_access_token_argument_as_in_prefects_docstring(monkeypatch):
    step = {GIT_STEP: {"repository": U, "access_token": "{{ $IPY_GH_TOKEN }}"}}
    repo = from_pull_step(step)
    assert repo == GitRepository(U)
    monkeypatch.setenv("IPY_GH_TOKEN", "tok-from-env")
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == "tok-from-env:"
    assert repo.to_pull_step()[GIT_STEP]["credentials"] == {"access_token": "{{ $IPY_GH_TOKEN }}"}


def test_git_clone_access_token_from_a_secret_block_placeholder():
    """The exact form of Prefect's git_clone docstring; step → storage → step keeps the token's
    placeholder (as ``credentials.access_token``, the form our steps use)."""
    Secret("docstring-token-value", name="github-access-token")
    token = "{{ prefect.blocks.secret.github-access-token }}"
    repo = from_pull_step({GIT_STEP: {"repository": U, "access_token": token}})
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == "docstring-token-value:"
    assert repo.to_pull_step()[GIT_STEP]["credentials"] == {"access_token": token}


def test_git_clone_plain_access_token_pulls_but_is_refused_in_a_step():
    repo = from_pull_step({GIT_STEP: {"repository": U, "access_token": "ghp-plain-value"}})
    assert (
        "ghp-plain-value"
        in base64.b64decode(repo.auth_environment()["GIT_CONFIG_VALUE_0"].split()[-1]).decode()
    )
    with pytest.raises(ValueError, match="Please save your access token as a Secret"):
        repo.to_pull_step()


def test_every_git_clone_argument_is_understood():
    step = {
        GIT_STEP: {
            "repository": U,
            "branch": None,
            "commit_sha": "abcd1234",
            "include_submodules": True,
            "access_token": None,
            "credentials": None,
            "directories": ["flows"],
            "clone_directory_name": "checkout",
        }
    }
    repo = from_pull_step(step)
    assert repo == GitRepository(
        U, commit_sha="abcd1234", include_submodules=True, directories=["flows"], name="checkout"
    )
    assert repo.include_submodules and repo.name == "checkout"


def test_from_pull_step_names_the_offending_entry_in_a_list():
    with pytest.raises(ValueError, match="pull step 2"):
        from_pull_step([{GIT_STEP: {"repository": "https://h/r.git"}}, {"bad.step": {}}])


def test_named_secret_round_trip_uses_the_process_secret():
    secret = Secret("process-secret-value", name="proc-secret")
    step = {
        GIT_STEP: {
            "repository": "https://h/r.git",
            "branch": None,
            "credentials": {"access_token": "{{ prefect.blocks.secret.proc-secret }}"},
        }
    }
    repo = from_pull_step(step)
    assert repo.to_pull_step() == step
    env = repo.auth_environment()
    assert (
        base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]).decode() == "process-secret-value:"
    )
    assert secret.get() == "process-secret-value"


# -- import cost --------------------------------------------------------------------------
def test_import_is_lazy():
    import subprocess
    import sys

    code = (
        "import sys, ipy_storage, ipy_storage.storage;"
        "heavy = [m for m in ('git', 'ipywidgets', 'yaml', 's3fs', 'fsspec', 'IPython', 'filelock') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


@pytest.mark.parametrize(
    "options",
    [
        {"directories": ["flows\n/etc"]},
        {"directories": ["flows\r"]},
        {"directories": ["a\x00b"]},
        {"name": "repo\nother"},
        {"name": "tab\tname"},
        {"branch": "main\nother"},
        {"branch": "del\x7fete"},
    ],
)
def test_git_repository_refuses_control_characters(options):
    """A newline would become a second line of a sparse-checkout or state file."""
    with pytest.raises(StorageConfigError, match="control character|Invalid branch"):
        GitRepository("https://github.com/org/repo.git", **options)

"""``GitRepository`` as configured (behaviour §3.1, §4): validation with Prefect's messages, folder
names, credentials per host sent as a host-scoped header, and its ``git_clone`` pull step."""

from __future__ import annotations

import base64

import pytest

from ipy_storage import (
    GitRepository,
    Secret,
    from_pull_step,
)
from ipy_storage.storage import credentials as creds
from ipy_storage.storage.errors import (
    StorageConfigError,
)
from tests.contract import GIT_STEP, TOKEN


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


# -- control characters (§3.1) -------------------------------------------------------------------
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

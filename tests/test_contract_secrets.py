"""Secrets never show (behaviour §2.3, §2.4): ``Secret`` and its placeholders, reprs without tokens,
redaction scoped to the storage a message is about, URL userinfo removed by structure."""

from __future__ import annotations

import base64

import pytest

from ipy_storage import (
    GitRepository,
    LocalStorage,
    Secret,
)
from ipy_storage.storage.errors import (
    SourceNotFoundError,
    StorageConfigError,
    StoragePullError,
)
from tests.contract import TOKEN


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

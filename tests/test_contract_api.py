"""The contract every storage shares (behaviour §2, §2.1, §2.3, §3.5): public names, the error family,
the protocol, identity (repr and equality), defaults, the factory and a light import."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest

import ipy_storage
from ipy_storage import (
    BlockStorageAdapter,
    GitRepository,
    LocalStorage,
    RemoteStorage,
    RunnerStorage,
    create_storage_from_source,
)
from ipy_storage.storage.errors import (
    SecretNotFoundError,
    StorageConfigError,
    StorageError,
    StoragePullError,
)
from tests.contract import FakeBlock, U

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


# -- construction (§2.1) -------------------------------------------------------------------------
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


def test_equality():
    a = GitRepository("https://github.com/o/r.git", branch="x")
    assert a == GitRepository("https://github.com/o/r.git", branch="x")
    assert a != GitRepository("https://github.com/o/r.git", branch="y")
    assert a != GitRepository("https://github.com/o/other.git", branch="x")
    assert RemoteStorage("memory://a/b") == RemoteStorage("memory://a/b")
    assert RemoteStorage("memory://a/b") != RemoteStorage("memory://a/c")
    assert LocalStorage("/tmp") == LocalStorage("/tmp/")
    assert a != RemoteStorage("memory://a/b")


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
    """What Prefect's Runner de-duplicates with ``==``: never pull_interval (behaviour §3.1)."""
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

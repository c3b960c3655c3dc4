"""Workspace (behaviour §6.1, §6.2) over real sources: local git repositories, memory:// and folders."""

from __future__ import annotations

import importlib
import sys
import threading
import time
import uuid
from pathlib import Path

import fsspec
import pytest

from ipy_storage import GitRepository, LocalStorage, PullResult, RemoteStorage, Secret, Workspace
from ipy_storage.storage.base import StorageBase
from ipy_storage.storage.errors import StorageConfigError, StorageError, StoragePullError
from tests.helpers import wait_until

STATUS_KEYS = {
    "watching",
    "interval",
    "last_pull",
    "last_result",
    "last_error",
    "failures",
    "next_pull",
}


@pytest.fixture
def memory_url():
    """A memory:// folder with two files, unique per test, removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{uuid.uuid4().hex[:8]}/data"
    fs.pipe({f"{root}/a.txt": b"a", f"{root}/sub/b.txt": b"b"})
    yield f"memory://{root}"
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


# -- registry -----------------------------------------------------------------------------------
def test_add_a_source_string_names_the_destination_folder(ws, make_repo):
    repo = make_repo({"flows.py": "x = 1\n"})
    storage = ws.add(repo.url, name="code", branch="main")
    assert isinstance(storage, GitRepository)
    assert storage.destination == ws.base_path / "code"
    assert storage.branch == "main"
    assert "code" in ws and list(ws) == ["code"] and len(ws) == 1
    assert ws.get("code") is storage and ws["code"] is storage
    assert ws.get("missing") is None and "missing" not in ws


def test_add_a_storage_object_uses_its_folder_name_and_the_base_path(ws, memory_url):
    storage = RemoteStorage(memory_url, pull_interval=5)
    assert ws.add(storage) is storage
    assert ws.name_of(storage) == "data"
    assert storage.destination.is_relative_to(ws.base_path)


def test_two_storages_with_one_destination_are_refused(ws, make_repo):
    repo = make_repo()
    ws.add(repo.url, name="same")
    other = make_repo(name="other")
    with pytest.raises(ValueError, match="already uses"):
        ws.add(GitRepository(other.url, name="same"), name="handle")


def test_re_adding_an_equal_storage_returns_the_registered_one(ws, make_repo):
    repo = make_repo()
    first = ws.add(repo.url, name="code")
    assert ws.add(repo.url, name="code") is first  # a re-run cell
    with pytest.raises(StorageConfigError, match="different storage is already named 'code'"):
        ws.add(repo.url, name="code", branch="other")


@pytest.mark.parametrize(
    ("source_kind", "options", "message"),
    [
        ("memory", {"branch": "main"}, "Git-only option.s. branch cannot be used"),
        ("git", {"settings": {"anon": True}}, "Settings are for remote .fsspec. URLs; .* is a git"),
        ("folder", {"settings": {"anon": True}}, "Settings are for remote .* is a local folder"),
    ],
)
def test_options_that_do_not_fit_the_source_are_errors(
    ws, make_repo, memory_url, tmp_path, source_kind, options, message
):
    source = {"memory": memory_url, "git": make_repo().url, "folder": str(tmp_path)}[source_kind]
    with pytest.raises(StorageConfigError, match=message):
        ws.add(source, **options)


def test_options_with_a_storage_object_are_refused(ws, tmp_path):
    with pytest.raises(StorageConfigError, match="source strings only"):
        ws.add(LocalStorage(tmp_path), branch="main")
    with pytest.raises(StorageConfigError, match="Cannot add int"):
        ws.add(42)


def test_remote_settings_and_interval_reach_the_storage(ws, memory_url):
    storage = ws.add(memory_url, pull_interval=7, settings={"token": Secret.from_env("MEM_TOKEN")})
    assert storage.pull_interval == 7
    step = storage.to_pull_step()["prefect.deployments.steps.pull_from_remote_storage"]
    assert step["token"] == "{{ $MEM_TOKEN }}"


def test_unknown_names_are_errors_that_list_the_known_ones(ws, tmp_path):
    ws.add(LocalStorage(tmp_path), name="here")
    for call in (
        lambda: ws.pull("nope"),
        lambda: ws.watch("nope"),
        lambda: ws.remove("nope"),
        lambda: ws["nope"],
    ):
        with pytest.raises(
            StorageError, match=r"No storage named 'nope' in the workspace \(known: here\)"
        ):
            call()
    with pytest.raises(KeyError):
        ws["nope"]


def test_base_path_applies_to_storages_added_afterwards(ws, make_repo, tmp_path):
    repo = make_repo()
    first = ws.add(repo.url, name="one")
    ws.set_base_path(tmp_path / "elsewhere")
    second = ws.add(repo.url, name="two")
    assert first.destination.parent == tmp_path / "ws"
    assert second.destination.parent == tmp_path / "elsewhere"
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StorageConfigError, match="is a file"):
        ws.set_base_path(tmp_path / "a-file")


def test_the_default_workspace_is_one_per_session():
    import ipy_storage.magics  # noqa: F401 - imports the workspaces module; the function must stay reachable

    assert ipy_storage.workspace() is ipy_storage.workspace()
    assert isinstance(ipy_storage.workspace(), Workspace)


# -- pulling and status -------------------------------------------------------------------------
def test_pull_returns_results_and_records_status(ws, make_repo, memory_url):
    repo = make_repo({"a.py": "A = 1\n"})
    ws.add(repo.url, name="code")
    ws.add(memory_url)
    result = ws.pull("code")
    assert isinstance(result, PullResult) and result.added == ["a.py"]
    everything = ws.pull()
    assert isinstance(everything, list) and len(everything) == 2
    assert sorted(everything[1].added) == ["a.txt", "sub/b.txt"]
    status = ws.status()
    assert set(status) == {"code", "data"}
    for entry in status.values():
        assert set(entry) == STATUS_KEYS
        assert (
            entry["last_pull"] is not None
            and entry["last_error"] is None
            and entry["failures"] == 0
        )
        assert entry["watching"] is False and entry["next_pull"] is None
    assert status["code"]["last_result"] is not result and not status["code"]["last_result"].changed


def test_a_failing_pull_is_recorded_and_does_not_stop_the_others(ws, make_repo, tmp_path):
    repo = make_repo()
    (tmp_path / "soon-gone").mkdir()
    ws.add(str(tmp_path / "soon-gone"), name="broken")
    (tmp_path / "soon-gone").rmdir()
    ws.add(repo.url, name="code")
    with pytest.raises(StoragePullError, match="does not exist"):
        ws.pull()
    assert (ws.base_path / "code" / "README.md").exists()  # pulled although "broken" failed first
    broken = ws.status("broken")["broken"]
    assert broken["failures"] == 1 and "does not exist" in broken["last_error"]
    assert "\n" not in broken["last_error"]
    with pytest.raises(StoragePullError):
        ws.pull("broken")
    assert ws.status("broken")["broken"]["failures"] == 2


def test_importable_puts_the_destination_on_sys_path(ws, make_repo):
    module = f"mod_{uuid.uuid4().hex[:8]}"
    repo = make_repo({f"{module}.py": "VALUE = 'first'\n"})
    storage = ws.add(repo.url, name="importable", importable=True)
    try:
        assert str(storage.destination) in sys.path
        ws.pull("importable")
        assert importlib.import_module(module).VALUE == "first"
    finally:
        ws.remove("importable")
        sys.modules.pop(module, None)
    assert str(storage.destination) not in sys.path


def test_reload_refreshes_modules_a_pull_changed(ws, make_repo):
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    repo = make_repo(
        {f"{package}/__init__.py": "VALUE = 1\n", f"{package}/other.py": "OTHER = 1\n"}
    )
    ws.add(repo.url, name="reloading", importable=True, reload=True)
    try:
        ws.pull("reloading")
        imported = importlib.import_module(package)
        other = importlib.import_module(f"{package}.other")
        repo.commit({f"{package}/__init__.py": "VALUE = 2\n"})
        ws.pull("reloading")
        assert imported.VALUE == 2
        assert other.OTHER == 1
        repo.commit({f"{package}/__init__.py": "VALUE = (\n"})
        with pytest.raises(
            StoragePullError, match=f"reloading module {package} failed: SyntaxError"
        ):
            ws.pull("reloading")
    finally:
        ws.remove("reloading")
        for name in [m for m in sys.modules if m.startswith(package)]:
            del sys.modules[name]


class CountingFolder(StorageBase):
    """A storage that copies nothing and notes how many of its pulls overlap in time."""

    def __init__(self, base: Path, name: str, seconds: float) -> None:
        super().__init__(pull_interval=0.01)
        self._name, self._seconds = name, seconds
        self.active = self.overlaps = self.pulls = 0
        self._guard = threading.Lock()
        self.set_base_path(base)

    @property
    def name(self) -> str:
        return self._name

    def _pull(self, reset, progress):
        with self._guard:
            self.active += 1
            self.overlaps += self.active > 1
        time.sleep(self._seconds)
        with self._guard:
            self.active -= 1
            self.pulls += 1
        return PullResult(storage=self.name, destination=self.destination)

    def to_pull_step(self):
        return {}


def test_a_timer_pull_and_manual_pulls_of_one_destination_never_overlap(ws):
    storage = ws.add(CountingFolder(ws.base_path, "slow", 0.05))
    ws.watch("slow")
    threads = [threading.Thread(target=ws.pull, args=("slow",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wait_until(lambda: storage.pulls >= 8)
    ws.unwatch("slow")
    assert storage.overlaps == 0


# -- timers -------------------------------------------------------------------------------------
def test_watch_pulls_upstream_changes_and_unwatch_stops(ws, make_repo):
    repo = make_repo({"a.txt": "1\n"})
    storage = ws.add(repo.url, name="live")
    ws.watch("live", interval=0.2)
    assert wait_until(lambda: (storage.destination / "a.txt").exists())
    status = ws.status("live")["live"]
    assert status["watching"] and status["interval"] == 0.2
    repo.commit({"b.txt": "2\n"})
    assert wait_until(lambda: (storage.destination / "b.txt").exists())
    assert wait_until(lambda: ws.status("live")["live"]["next_pull"] is not None)
    ws.unwatch("live")
    status = ws.status("live")["live"]
    assert not status["watching"] and status["next_pull"] is None
    assert wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == "ipy-storage-watch:live"]
    )


def test_the_timer_survives_a_source_that_disappears_and_recovers(ws, make_repo, tmp_path):
    repo = make_repo()
    ws.add(repo.url, name="flaky")
    ws.watch("flaky", interval=0.1)
    assert wait_until(lambda: ws.status("flaky")["flaky"]["last_result"] is not None)
    hidden = tmp_path / "hidden.git"
    repo.bare.rename(hidden)
    assert wait_until(lambda: ws.status("flaky")["flaky"]["failures"] >= 2)
    status = ws.status("flaky")["flaky"]
    assert status["watching"] and "\n" not in status["last_error"]
    hidden.rename(repo.bare)
    repo.commit({"back.txt": "again\n"})
    assert wait_until(lambda: ws.status("flaky")["flaky"]["failures"] == 0)
    status = ws.status("flaky")["flaky"]
    assert status["last_error"] is None and (ws.base_path / "flaky" / "back.txt").exists()


def test_watch_needs_an_interval_for_a_one_time_sync(ws, tmp_path):
    ws.add(LocalStorage(tmp_path), name="once")
    with pytest.raises(StorageConfigError, match="one-time sync"):
        ws.watch("once")
    for wrong in (-1, 0, float("nan"), float("inf"), 366 * 24 * 3600, True, "60"):
        with pytest.raises(StorageConfigError, match="Invalid interval .*at most 31536000"):
            ws.watch("once", interval=wrong)


def test_remove_stops_the_timer_and_keeps_the_files(ws, make_repo):
    repo = make_repo()
    storage = ws.add(repo.url, name="gone")
    ws.pull("gone")
    ws.watch("gone", interval=0.1)
    ws.remove("gone")
    assert "gone" not in ws and (storage.destination / "README.md").exists()
    assert wait_until(
        lambda: not [t for t in threading.enumerate() if t.name == "ipy-storage-watch:gone"]
    )


def test_listeners_hear_every_change_and_a_broken_one_changes_nothing(ws, tmp_path):
    heard = []

    def listener(name, status):
        heard.append((name, None if status is None else status["last_result"]))

    def broken(name, status):
        raise RuntimeError("listener bug")

    ws.add_listener(broken)
    ws.add_listener(listener)
    ws.add(LocalStorage(tmp_path), name="here")
    ws.pull("here")
    ws.remove("here")
    ws.remove_listener(listener)
    ws.add(LocalStorage(tmp_path), name="again")
    assert [name for name, _ in heard] == ["here", "here", "here"]
    assert heard[1][1] is not None and heard[2][1] is None


def test_pull_each_reports_every_outcome_under_the_workspace_names(ws, make_repo, tmp_path):
    repo = make_repo({"a.py": "A = 1\n"})
    folder = tmp_path / "folder"
    folder.mkdir()
    ws.add(repo.url, name="data")
    ws.add(repo.url, name="data-copy")
    ws.add(str(folder), name="broken")
    folder.rmdir()
    outcomes = ws.pull_each()
    assert [o.name for o in outcomes] == ["data", "data-copy", "broken"]
    assert [o.result.storage for o in outcomes[:2]] == ["data", "data-copy"]  # not the folder names
    assert outcomes[2].result is None and "does not exist" in outcomes[2].error
    assert ws.pull("data").storage == "data"


# -- checks at add time -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("github.com/org/repo", r"did you mean https://github.com/org/repo\?"),
        ("gitlab.com/org/repo.git", r"did you mean https://gitlab.com/org/repo.git\?"),
        ("no/such/folder", r"Folder .*/no/such/folder does not exist: check the path"),
        ("file:///no/such/folder", r"Folder /no/such/folder does not exist"),
        ("missing.git", r"Repository .*/missing.git does not exist"),
        ("http://[::1", r"Invalid source 'http://\[::1': Invalid IPv6 URL"),
        ("~nouser-ipy-storage/x", r"Cannot find the home folder in '~nouser-ipy-storage/x'"),
        ("unknownproto://x/y", r"Unknown protocol 'unknownproto'.*install the fsspec package"),
    ],
)
def test_sources_that_cannot_work_are_refused_at_add_time(ws, source, message):
    with pytest.raises(StorageConfigError, match=message):
        ws.add(source)
    assert list(ws) == []


@pytest.mark.parametrize("interval", [0, -5, float("nan"), float("inf"), 1e12])
def test_absurd_intervals_are_refused_at_add_time(ws, tmp_path, interval):
    with pytest.raises(StorageConfigError, match="Invalid pull_interval"):
        ws.add(str(tmp_path), pull_interval=interval)


def test_a_storage_cannot_be_built_with_an_interval_no_timer_can_sleep(tmp_path):
    with pytest.raises(StorageConfigError, match="Invalid pull_interval 1000000000000.0"):
        LocalStorage(tmp_path, pull_interval=1e12)


def test_configuration_errors_never_echo_userinfo(ws):
    for call in (
        lambda: ws.add("https://alice:tok-secret-1@host.example/x.git", settings={"a": 1}),
        lambda: ws.add("s3://alice:tok-secret-1@bucket/x", branch="main"),
        lambda: ws.add("http://alice:tok-secret-1@[::1"),
    ):
        with pytest.raises(StorageConfigError) as caught:
            call()
        assert "tok-secret-1" not in str(caught.value) and "alice" not in str(caught.value)


def test_the_base_path_must_be_a_folder_that_can_exist(ws, tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StorageConfigError, match="is below the file .*a-file: give a folder"):
        ws.set_base_path(tmp_path / "a-file" / "sub")
    with pytest.raises(StorageConfigError, match="Cannot find the home folder"):
        ws.set_base_path("~nouser-ipy-storage/x")
    ws.set_base_path(tmp_path / "new" / "deeper")  # created at the first pull
    assert ws.base_path == tmp_path / "new" / "deeper"


def test_name_is_the_folder_for_remote_sources_too(ws, memory_url):
    storage = ws.add(memory_url, name="mine")
    assert storage.destination == ws.base_path / "mine"
    ws.pull("mine")
    assert (ws.base_path / "mine" / "a.txt").read_bytes() == b"a"
    assert not (ws.base_path / memory_url.split("://")[1]).exists()


def test_a_storage_object_lives_in_one_workspace(ws, tmp_path):
    storage = ws.add(LocalStorage(tmp_path), name="here")
    assert ws.add(storage, name="here") is storage  # a re-run cell
    other = Workspace(tmp_path / "other")
    with pytest.raises(StorageConfigError, match="already in a workspace as 'here'"):
        other.add(storage, name="there")
    ws.remove("here")
    assert other.add(storage, name="there") is storage and other.name_of(storage) == "there"

"""The fsspec sync engine behind RemoteStorage (SPEC §3.2, §5), over real filesystems:
``file://``, ``memory://`` and ``faulty://`` (a local filesystem that fails or crawls on demand).
S3 (a moto server process) is in ``test_remote_s3.py``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import fsspec
import pytest

from ipy_storage.storage._sync import MANIFEST_NAME, STAGING_NAME, sync_remote
from ipy_storage.storage.destination import destination_lock
from ipy_storage.storage.errors import (
    SourceNotFoundError,
    StorageConfigError,
    StorageError,
    StoragePullError,
)
from ipy_storage.storage.result import Progress
from ipy_storage.storage.secrets import Secret
from tests.fixtures.faulty_fs import FaultyFileSystem, register

REPO_ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "flows/__init__.py": b"",
    "flows/etl.py": b"def etl():\n    return 1\n",
    "flows/report.py": b"def report():\n    return 'r'\n",
    "data/config.json": b'{"a": 1}\n',
    "README.md": b"# upstream\n",
}


# --------------------------------------------------------------------------- helpers


def write_tree(root: Path, files: dict[str, bytes | None]) -> None:
    """Write ``{path: content}`` under root; ``None`` deletes the file."""
    for rel, content in files.items():
        path = root / rel
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def tree(root: Path) -> dict[str, bytes]:
    """The user-visible content under root (our hidden bookkeeping excluded)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".ipy_storage_"):
            out[rel] = path.read_bytes()
    return out


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Identity of every file and folder under root, hidden ones included."""
    return {
        path.relative_to(root).as_posix(): (
            path.lstat().st_mtime_ns,
            path.lstat().st_ino,
            path.lstat().st_size,
        )
        for path in root.rglob("*")
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    write_tree(root, FILES)
    return root


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "work" / "source"


@pytest.fixture
def faulty():
    """The ``faulty://`` protocol, registered, with fresh call counters."""
    register()
    FaultyFileSystem.calls.clear()
    yield FaultyFileSystem.calls
    FaultyFileSystem.calls.clear()


def pull(url: str, dest: Path, settings: dict | None = None, **kwargs):
    return sync_remote(url, settings or {}, dest, name=dest.name, **kwargs)


# --------------------------------------------------------------------------- first and no-change pulls


def test_first_pull_copies_everything_and_reports_progress(source, dest):
    events: list[Progress] = []
    result = pull(source.as_uri(), dest, progress=events.append)

    assert tree(dest) == FILES
    assert result.added == sorted(FILES)
    assert result.modified == result.deleted == result.kept_local == []
    assert result.bytes_transferred == sum(len(c) for c in FILES.values())
    assert result.revision is None and result.changed
    assert (dest / MANIFEST_NAME).is_file() and not (dest / STAGING_NAME).exists()
    assert MANIFEST_NAME not in " ".join(result.added)

    stages = [event.stage for event in events]
    assert stages[0] == "list" and stages[-1] == "done"
    downloads = [event for event in events if event.stage == "download"]
    assert [event.done for event in downloads] == list(range(1, len(FILES) + 1))
    assert {event.total for event in downloads} == {len(FILES)}
    assert downloads[-1].bytes == result.bytes_transferred


def test_no_change_pull_lists_once_and_rewrites_nothing(source, dest, faulty):
    url = "faulty://" + str(source)
    pull(url, dest)
    before = snapshot(dest)
    faulty.clear()

    result = pull(url, dest)

    assert not result.changed and result.kept_local == [] and result.bytes_transferred == 0
    assert faulty["find"] == 1
    assert faulty["open"] == faulty["get_file"] == 0
    assert snapshot(dest) == before  # same mtime_ns and inode for every file, manifest included


def test_touched_but_unchanged_file_is_not_an_edit(source, dest):
    pull(source.as_uri(), dest)
    os.utime(dest / "flows/etl.py", ns=(1, 1))  # same content, different mtime
    write_tree(source, {"flows/etl.py": b"def etl():\n    return 2\n"})

    result = pull(source.as_uri(), dest)

    assert result.modified == ["flows/etl.py"] and result.kept_local == []
    assert (dest / "flows/etl.py").read_bytes() == b"def etl():\n    return 2\n"


# --------------------------------------------------------------------------- upstream changes


def test_one_change_downloads_one_file(source, dest, faulty):
    url = "faulty://" + str(source)
    pull(url, dest)
    before = snapshot(dest)
    write_tree(source, {"flows/etl.py": b"def etl():\n    return 42\n"})
    faulty.clear()

    result = pull(url, dest)

    assert result.modified == ["flows/etl.py"] and result.added == result.deleted == []
    assert faulty["open"] == 1
    assert result.bytes_transferred == len(b"def etl():\n    return 42\n")
    assert tree(dest)["flows/etl.py"] == b"def etl():\n    return 42\n"
    after = snapshot(dest)
    untouched = [rel for rel in FILES if rel != "flows/etl.py"]
    assert all(after[rel] == before[rel] for rel in untouched)


def test_upstream_rewrite_with_same_content_changes_nothing_locally(source, dest):
    pull(source.as_uri(), dest)
    before = snapshot(dest)
    write_tree(source, {"flows/etl.py": FILES["flows/etl.py"]})  # new mtime, same bytes
    os.utime(source / "flows/etl.py", ns=(10**18, 10**18))

    result = pull(source.as_uri(), dest)

    assert not result.changed and result.kept_local == []
    after = snapshot(dest)
    assert all(after[rel] == before[rel] for rel in FILES)
    assert not pull(source.as_uri(), dest).changed


def test_new_upstream_file_is_added(source, dest):
    pull(source.as_uri(), dest)
    write_tree(source, {"flows/new/deep.py": b"x = 1\n"})

    result = pull(source.as_uri(), dest)

    assert result.added == ["flows/new/deep.py"]
    assert tree(dest) == {**FILES, "flows/new/deep.py": b"x = 1\n"}


def test_upstream_deletions_remove_unchanged_files_and_empty_folders(source, dest):
    pull(source.as_uri(), dest)
    write_tree(source, {"data/config.json": None, "README.md": None})

    result = pull(source.as_uri(), dest)

    assert result.deleted == ["README.md", "data/config.json"]
    assert not (dest / "README.md").exists()
    assert not (dest / "data").exists()  # the folder the deletion emptied
    assert tree(dest) == tree(source)


def test_upstream_deletion_keeps_a_user_edited_file(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"README.md": b"# my notes\n"})
    write_tree(source, {"README.md": None})

    result = pull(source.as_uri(), dest)

    assert result.kept_local == ["README.md"] and result.deleted == []
    assert (dest / "README.md").read_bytes() == b"# my notes\n"
    # it is the user's own file now: the next pull does not mention it again
    assert pull(source.as_uri(), dest).kept_local == []
    assert (dest / "README.md").read_bytes() == b"# my notes\n"


def test_folder_left_with_user_files_is_kept(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"data/mine.csv": b"1,2\n"})
    write_tree(source, {"data/config.json": None})

    result = pull(source.as_uri(), dest)

    assert result.deleted == ["data/config.json"]
    assert tree(dest)["data/mine.csv"] == b"1,2\n"


# --------------------------------------------------------------------------- user work (§5)


def test_user_edit_without_upstream_change_is_kept_silently(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"flows/etl.py": b"# mine\n"})

    result = pull(source.as_uri(), dest)

    assert not result.changed and result.kept_local == []
    assert (dest / "flows/etl.py").read_bytes() == b"# mine\n"


def test_user_edit_wins_over_upstream_change_and_is_reported(source, dest, faulty):
    url = "faulty://" + str(source)
    pull(url, dest)
    write_tree(dest, {"flows/etl.py": b"# mine\n"})
    write_tree(source, {"flows/etl.py": b"# theirs\n", "README.md": b"# upstream v2\n"})
    faulty.clear()

    result = pull(url, dest)

    assert result.kept_local == ["flows/etl.py"]
    assert result.modified == ["README.md"]
    assert faulty["open"] == 1  # the conflicting file is not even downloaded
    assert (dest / "flows/etl.py").read_bytes() == b"# mine\n"
    assert (dest / "README.md").read_bytes() == b"# upstream v2\n"
    # still the user's on the next pull; reported once per upstream change, like git pulls
    again = pull(url, dest)
    assert again.kept_local == [] and not again.changed
    assert (dest / "flows/etl.py").read_bytes() == b"# mine\n"
    write_tree(source, {"flows/etl.py": b"# theirs, v3\n"})
    third = pull(url, dest)
    assert third.kept_local == ["flows/etl.py"] and not third.changed
    assert (dest / "flows/etl.py").read_bytes() == b"# mine\n"
    # the user gives up their version: the next pull restores upstream's newest
    (dest / "flows/etl.py").unlink()
    assert pull(url, dest).added == ["flows/etl.py"]
    assert (dest / "flows/etl.py").read_bytes() == b"# theirs, v3\n"


def test_user_deleted_file_is_restored(source, dest):
    pull(source.as_uri(), dest)
    (dest / "flows/report.py").unlink()

    result = pull(source.as_uri(), dest)

    assert result.added == ["flows/report.py"]
    assert tree(dest) == FILES


def test_user_untracked_files_are_untouched(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"scratch.ipynb": b"{}", "flows/my_helper.py": b"y = 2\n"})
    mine = {rel: snapshot(dest)[rel] for rel in ("scratch.ipynb", "flows/my_helper.py")}
    write_tree(source, {"flows/etl.py": b"v2\n", "README.md": None})

    pull(source.as_uri(), dest)

    after = snapshot(dest)
    assert {rel: after[rel] for rel in mine} == mine


def test_user_file_where_upstream_adds_one_is_moved_aside(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"flows/notes.py": b"# my notes\n"})
    write_tree(source, {"flows/notes.py": b"# upstream notes\n"})

    result = pull(source.as_uri(), dest)

    assert result.moved_aside == {"flows/notes.py": "flows/notes.local.py"}
    assert result.added == ["flows/notes.py"]
    assert (dest / "flows/notes.py").read_bytes() == b"# upstream notes\n"
    assert (dest / "flows/notes.local.py").read_bytes() == b"# my notes\n"


def test_upstream_rename_onto_a_user_file_moves_it_aside(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"flows/main.py": b"# mine\n"})
    write_tree(source, {"flows/etl.py": None, "flows/main.py": FILES["flows/etl.py"]})

    result = pull(source.as_uri(), dest)

    assert result.deleted == ["flows/etl.py"] and result.added == ["flows/main.py"]
    assert result.moved_aside == {"flows/main.py": "flows/main.local.py"}
    assert (dest / "flows/main.local.py").read_bytes() == b"# mine\n"


def test_identical_user_file_is_adopted_not_moved(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"same.txt": b"same\n"})
    write_tree(source, {"same.txt": b"same\n"})

    result = pull(source.as_uri(), dest)

    assert result.moved_aside == {} and not (dest / "same.local.txt").exists()
    assert (dest / "same.txt").read_bytes() == b"same\n"
    # tracked from now on: an upstream change replaces it
    write_tree(source, {"same.txt": b"changed\n"})
    assert pull(source.as_uri(), dest).modified == ["same.txt"]


def test_user_folder_or_file_in_the_way_of_upstream_paths_is_moved_aside(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"models/keep.txt": b"mine\n", "docs": b"my docs file\n"})
    write_tree(source, {"models": b"upstream file\n", "docs/index.md": b"# docs\n"})

    result = pull(source.as_uri(), dest)

    assert result.moved_aside == {"models": "models.local", "docs": "docs.local"}
    assert (dest / "models").read_bytes() == b"upstream file\n"
    assert (dest / "models.local/keep.txt").read_bytes() == b"mine\n"
    assert (dest / "docs/index.md").read_bytes() == b"# docs\n"
    assert (dest / "docs.local").read_bytes() == b"my docs file\n"


def test_never_writes_through_a_user_symlink(source, dest, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    pull(source.as_uri(), dest)
    (dest / "shared").symlink_to(outside)
    write_tree(source, {"shared/file.txt": b"upstream\n"})

    result = pull(source.as_uri(), dest)

    assert list(outside.iterdir()) == []
    assert result.moved_aside == {"shared": "shared.local"}
    assert (dest / "shared.local").is_symlink()
    assert (dest / "shared/file.txt").read_bytes() == b"upstream\n"


def test_reset_keeps_a_backup_and_makes_destination_exactly_upstream(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"flows/etl.py": b"# mine\n", "scratch.txt": b"notes\n"})
    write_tree(source, {"flows/etl.py": b"# theirs\n"})

    result = pull(source.as_uri(), dest, reset=True)

    assert tree(dest) == tree(source)
    assert result.backup is not None and result.backup.parent == dest.parent
    assert result.backup.name.startswith(f"{dest.name}.backup-")
    assert (result.backup / "flows/etl.py").read_bytes() == b"# mine\n"
    assert (result.backup / "scratch.txt").read_bytes() == b"notes\n"
    assert result.added == sorted(FILES)


def test_reset_that_cannot_list_the_source_leaves_the_destination(source, dest, tmp_path):
    pull(source.as_uri(), dest)
    with pytest.raises(SourceNotFoundError):
        pull((tmp_path / "gone").as_uri(), dest, reset=True)
    assert tree(dest) == FILES
    assert not list(dest.parent.glob("*.backup-*"))


# --------------------------------------------------------------------------- interruptions


def test_failure_mid_pull_leaves_old_or_new_files_and_next_pull_converges(source, dest, faulty):
    url = "faulty://" + str(source)
    pull(url, dest)
    new = {rel: content + b"# v2 " + rel.encode() * 50 + b"\n" for rel, content in FILES.items()}
    write_tree(source, new)

    with pytest.raises(StoragePullError) as info:
        pull(url, dest, settings={"fail_on": "report.py"})

    message = str(info.value)
    assert "injected fault" in message and "\n" not in message
    assert not (dest / STAGING_NAME).exists()
    for rel, content in tree(dest).items():
        assert content in (FILES[rel], new[rel]), rel  # whole old or whole new, never partial
    placed = {rel for rel, content in tree(dest).items() if content == new[rel]}

    faulty.clear()
    result = pull(url, dest)

    assert tree(dest) == new
    assert sorted(result.modified) == sorted(set(FILES) - placed)  # placed ones not fetched again
    assert faulty["open"] == len(FILES) - len(placed)
    assert result.kept_local == [] and result.moved_aside == {}


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.fixtures.faulty_fs import register
    from ipy_storage.storage._sync import sync_remote
    register()

    def progress(event):
        if event.stage == "download":
            print(event.message, flush=True)

    sync_remote({url!r}, {{"delay": 0.3}}, Path({dest!r}), name="x", progress=progress)
    print("FINISHED", flush=True)
    """
)


@pytest.mark.parametrize("first_pull", [True, False], ids=["first-pull", "update"])
def test_killed_pull_leaves_no_partial_file_and_next_pull_converges(
    tmp_path, dest, faulty, first_pull
):
    source = tmp_path / "big"
    old = {f"part{i:02d}/file{i:02d}.txt": f"old {i}\n".encode() * 100 for i in range(40)}
    new = {rel: f"new content {rel}\n".encode() * 300 for rel in old}
    write_tree(source, old)
    url = "faulty://" + str(source)
    if not first_pull:
        pull(url, dest)
        write_tree(source, new)
    expected = old if first_pull else new

    script = KILL_SCRIPT.format(root=str(REPO_ROOT), url=url, dest=str(dest))
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    placed_before_kill = [process.stdout.readline().strip() for _ in range(10)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()

    assert "FINISHED" not in placed_before_kill
    assert any((dest / STAGING_NAME).iterdir())  # killed while files were half-written...
    for rel, content in tree(dest).items():  # ...but none under its real name
        assert content == expected[rel] or (not first_pull and content == old[rel]), rel
    placed = {rel for rel, content in tree(dest).items() if content == expected[rel]}
    assert set(placed_before_kill) <= placed

    faulty.clear()
    result = pull(url, dest)

    assert tree(dest) == expected
    fetched = result.added if first_pull else result.modified
    assert sorted(fetched) == sorted(set(old) - placed)  # what the killed pull placed is kept
    assert faulty["open"] == len(old) - len(placed)
    assert result.moved_aside == {} and result.kept_local == []
    assert not (dest / STAGING_NAME).exists()
    assert sorted(json.loads((dest / MANIFEST_NAME).read_text())["files"]) == sorted(old)


def test_lost_manifest_adopts_identical_files_without_rewriting_them(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"flows/etl.py": b"# mine\n"})
    (dest / MANIFEST_NAME).write_text("{not json")
    before = snapshot(dest)

    result = pull(source.as_uri(), dest)

    # every file is compared with upstream: equal ones are tracked again as they are…
    after = snapshot(dest)
    assert all(after[rel] == before[rel] for rel in FILES if rel != "flows/etl.py")
    # …and the one that differs is the user's, moved aside for upstream's
    assert result.moved_aside == {"flows/etl.py": "flows/etl.local.py"}
    assert (dest / "flows/etl.local.py").read_bytes() == b"# mine\n"
    assert tree(dest) == {**FILES, "flows/etl.local.py": b"# mine\n"}


def test_destination_that_is_a_file_is_a_configuration_error(source, dest):
    dest.parent.mkdir(parents=True)
    dest.write_text("I am a file")
    with pytest.raises(StorageConfigError, match="not a folder"):
        pull(source.as_uri(), dest)
    assert dest.read_text() == "I am a file"


def test_a_failing_progress_callback_does_not_break_the_pull(source, dest):
    def explode(event):
        raise RuntimeError("callback bug")

    result = pull(source.as_uri(), dest, progress=explode)
    assert result.added == sorted(FILES)


# --------------------------------------------------------------------------- memory:// and hostile keys


@pytest.fixture
def memory_root():
    """A unique prefix in the process-wide memory filesystem, removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex[:12]}"
    yield fs, root
    for key in [k for k in fs.store if k.startswith(root)]:
        fs.store.pop(key, None)
    for folder in [d for d in fs.pseudo_dirs if d.startswith(root)]:
        fs.pseudo_dirs.remove(folder)


def test_memory_source_incremental(memory_root, dest):
    fs, root = memory_root
    for rel, content in FILES.items():
        fs.pipe_file(f"{root}/src/{rel}", content)
    url = f"memory://{root}/src"

    assert pull(url, dest).added == sorted(FILES)
    before = snapshot(dest)
    assert not pull(url, dest).changed
    assert snapshot(dest) == before

    fs.pipe_file(f"{root}/src/flows/etl.py", b"changed\n")
    fs.rm_file(f"{root}/src/README.md")
    result = pull(url, dest)

    assert result.modified == ["flows/etl.py"] and result.deleted == ["README.md"]
    assert tree(dest)["flows/etl.py"] == b"changed\n"


@pytest.mark.parametrize(
    "key",
    ["../escaped.txt", "sub/../../escaped.txt", "sub//abs.txt", "/abs.txt", "./dot.txt", "sub/"],
)
def test_keys_escaping_the_destination_are_refused_before_writing(memory_root, dest, key):
    fs, root = memory_root
    fs.pipe_file(f"{root}/src/good.txt", b"fine\n")
    fs.store[f"{root}/src/{key}"] = fs.store[
        f"{root}/src/good.txt"
    ]  # a raw key, as a store may hold

    with pytest.raises(StoragePullError) as info:
        pull(f"memory://{root}/src", dest)

    assert key.split("/")[-1] in str(info.value) and "outside the destination" in str(info.value)
    assert not dest.exists()
    assert not (dest.parent / "escaped.txt").exists()


def test_an_object_that_is_also_a_folder_is_refused(memory_root, dest):
    fs, root = memory_root
    fs.pipe_file(f"{root}/src/a/b.txt", b"1")
    fs.store[f"{root}/src/a"] = fs.store[f"{root}/src/a/b.txt"]
    with pytest.raises(StoragePullError, match="both an object and a folder"):
        pull(f"memory://{root}/src", dest)


def test_bookkeeping_names_at_the_source_are_skipped(tmp_path, source, dest):
    """Pulling from a folder that is itself a pull destination copies content, not manifests."""
    first = tmp_path / "first" / "source"
    pull(source.as_uri(), first)
    result = pull(first.as_uri(), dest)
    assert result.added == sorted(FILES) and tree(dest) == FILES


# --------------------------------------------------------------------------- errors and secrets


def test_missing_source_path_says_check_the_path(tmp_path, dest):
    url = (tmp_path / "nothing-here").as_uri()
    with pytest.raises(SourceNotFoundError) as info:
        pull(url, dest)
    message = str(info.value)
    assert "check the path exists" in message and url in message and "\n" not in message
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, StorageError)


def test_unknown_protocol_is_a_configuration_error(dest):
    with pytest.raises(StorageConfigError) as info:
        pull("nosuchproto://bucket/path", dest)
    assert isinstance(info.value, ValueError) and "nosuchproto" in str(info.value)
    assert not dest.exists()


def test_secrets_are_revealed_only_for_the_filesystem_and_never_shown(
    source, dest, faulty, monkeypatch
):
    monkeypatch.setenv("IPY_STORAGE_TEST_TOKEN", "tok-" + uuid.uuid4().hex)
    settings = {"token": Secret.from_env("IPY_STORAGE_TEST_TOKEN"), "fail_on": "etl.py"}
    url = "faulty://" + str(source)

    with pytest.raises(StoragePullError) as info:
        pull(url, dest, settings=settings)

    token = os.environ["IPY_STORAGE_TEST_TOKEN"]
    fs, _ = fsspec.core.url_to_fs(url, token=token, fail_on="etl.py")
    assert fs.storage_options["token"] == token  # the filesystem got the value…
    assert token not in str(info.value)  # …the message did not
    assert token not in (dest / MANIFEST_NAME).read_text()


# --------------------------------------------------------------------------- through RemoteStorage


def test_remote_storage_pull_uses_the_engine(source, tmp_path):
    from ipy_storage import RemoteStorage

    storage = RemoteStorage(source.as_uri())
    storage.set_base_path(tmp_path / "ws")
    result = storage.pull()

    assert storage.destination == tmp_path / "ws" / "source"
    assert result.storage == "source" and result.destination == storage.destination
    assert tree(storage.destination) == FILES and result.duration > 0
    write_tree(source, {"flows/etl.py": b"v2\n"})
    assert storage.pull().modified == ["flows/etl.py"]
    assert not storage.pull().changed


def test_remote_storage_async_pull_code(memory_root, tmp_path):
    import asyncio

    from ipy_storage import RemoteStorage

    fs, root = memory_root
    fs.pipe_file(f"{root}/src/x.py", b"x = 1\n")
    storage = RemoteStorage(f"memory://{root}/src")
    storage.set_base_path(tmp_path / "ws")
    result = asyncio.run(storage.pull_code())
    assert result.added == ["x.py"]
    assert (storage.destination / "x.py").read_bytes() == b"x = 1\n"


def test_lock_is_held_by_the_caller_not_the_engine(source, dest):
    """sync_remote runs under RemoteStorage's lock; it must not take the (non-reentrant) lock itself."""
    with destination_lock(dest):
        assert pull(source.as_uri(), dest).added == sorted(FILES)

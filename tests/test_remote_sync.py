"""The mirror engine behind RemoteStorage (behaviour §3.2), over real filesystems: ``file://``,
``memory://`` and ``faulty://`` (a local filesystem that fails or crawls on demand). What it does
with the user's work (behaviour §5) is in ``test_user_work.py``, shared with the git engine; S3 (a moto
server process) is in ``test_remote_s3.py``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import fsspec
import pytest

from ipy_storage import RemoteStorage
from ipy_storage.storage import (
    AuthenticationError,
    NetworkError,
    SourceNotFoundError,
    StorageConfigError,
    StorageError,
    StoragePullError,
)
from ipy_storage.storage.destination import destination_lock
from ipy_storage.storage.mirror import (
    HASH_LIMIT,
    JOURNAL_NAME,
    MANIFEST_NAME,
    STAGING_NAME,
    Manifest,
    is_git_dir_name,
    pull_mirror,
)
from ipy_storage.storage.result import Progress
from ipy_storage.storage.secrets import Secret
from tests.helpers import snapshot, tree, write_tree

REPO_ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "flows/__init__.py": b"",
    "flows/etl.py": b"def etl():\n    return 1\n",
    "flows/report.py": b"def report():\n    return 'r'\n",
    "data/config.json": b'{"a": 1}\n',
    "README.md": b"# upstream\n",
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
def memory_root():
    """A unique prefix in the process-wide memory filesystem, removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex[:12]}"
    yield fs, root
    for key in [k for k in fs.store if k.startswith(root)]:
        fs.store.pop(key, None)
    for folder in [d for d in fs.pseudo_dirs if d.startswith(root)]:
        fs.pseudo_dirs.remove(folder)


def pull(url: str, dest: Path, settings: dict | None = None, **kwargs):
    return pull_mirror(url, settings or {}, dest, name=dest.name, **kwargs).finish()


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


@pytest.mark.parametrize("scheme", ["file", "faulty"])
def test_no_change_pull_rewrites_nothing(source, dest, faulty, scheme):
    url = source.as_uri() if scheme == "file" else "faulty://" + str(source)
    pull(url, dest)
    before = snapshot(dest)
    faulty.clear()

    result = pull(url, dest)

    assert not result.changed and result.kept_local == [] and result.bytes_transferred == 0
    if scheme == "faulty":  # another back end: one listing, nothing opened
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


def test_big_file_is_copied_whole_and_followed_by_stat(tmp_path, dest):
    """Above HASH_LIMIT a copy is not hashed: an unchanged stat means ours, any other stat the
    user's (kept over upstream's: the safe side)."""
    source = tmp_path / "source"
    big = os.urandom(1 << 16) * ((HASH_LIMIT >> 16) + 2)
    write_tree(source, {"big.bin": big, "small.txt": b"s\n"})
    assert pull(source.as_uri(), dest).added == ["big.bin", "small.txt"]
    assert (dest / "big.bin").read_bytes() == big

    write_tree(source, {"big.bin": big[::-1]})
    assert pull(source.as_uri(), dest).modified == ["big.bin"]
    assert (dest / "big.bin").read_bytes() == big[::-1]

    write_tree(source, {"big.bin": big[::-1]})  # rewritten with the same bytes: nothing to change
    before = snapshot(dest)
    assert not pull(source.as_uri(), dest).changed
    assert snapshot(dest)["big.bin"] == before["big.bin"]

    os.utime(dest / "big.bin", ns=(5, 5))  # touched: it is the user's now
    write_tree(source, {"big.bin": big})
    result = pull(source.as_uri(), dest)
    assert result.kept_local == ["big.bin"] and (dest / "big.bin").read_bytes() == big[::-1]


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


def test_conflicting_file_is_kept_and_reported_once_per_change(source, dest, faulty):
    url = "faulty://" + str(source)
    pull(url, dest)
    write_tree(dest, {"flows/etl.py": b"# mine\n"})
    write_tree(source, {"flows/etl.py": b"# theirs\n", "README.md": b"# upstream v2\n"})
    faulty.clear()

    result = pull(url, dest)

    assert result.kept_local == ["flows/etl.py"] and result.modified == ["README.md"]
    assert faulty["open"] == 2  # README.md, and etl.py to merge it (which conflicts)
    again = pull(url, dest)
    assert again.kept_local == [] and not again.changed
    write_tree(source, {"flows/etl.py": b"# theirs, v3\n"})
    assert pull(url, dest).kept_local == ["flows/etl.py"]
    assert (dest / "flows/etl.py").read_bytes() == b"# mine\n"
    (dest / "flows/etl.py").unlink()  # the user gives up their version: upstream's newest back
    assert pull(url, dest).added == ["flows/etl.py"]
    assert (dest / "flows/etl.py").read_bytes() == b"# theirs, v3\n"


def test_identical_user_file_is_adopted_not_moved(source, dest):
    pull(source.as_uri(), dest)
    write_tree(dest, {"same.txt": b"same\n"})
    write_tree(source, {"same.txt": b"same\n"})

    result = pull(source.as_uri(), dest)

    assert result.moved_aside == {} and not (dest / "same.local.txt").exists()
    assert (dest / "same.txt").read_bytes() == b"same\n"
    write_tree(source, {"same.txt": b"changed\n"})  # tracked from now on
    assert pull(source.as_uri(), dest).modified == ["same.txt"]


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


def test_local_source_links_and_special_files(tmp_path, dest):
    """A local folder is read as fsspec's find reads it: links followed (a loop only once),
    what cannot be copied (a fifo, a dangling link) skipped."""
    source = tmp_path / "source"
    write_tree(source, {"real/a.txt": b"a\n"})
    (source / "linked.txt").symlink_to(source / "real/a.txt")
    (source / "loop").symlink_to(source)
    (source / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(source / "pipe")

    result = pull(source.as_uri(), dest)

    assert result.added == ["linked.txt", "real/a.txt"]
    assert tree(dest) == {"linked.txt": b"a\n", "real/a.txt": b"a\n"}


def test_destination_inside_its_own_source_is_not_pulled_into_itself(tmp_path):
    source = tmp_path / "source"
    write_tree(source, FILES)
    dest = source / "work" / "mirror"
    assert pull(source.as_uri(), dest).added == sorted(FILES)
    assert pull(source.as_uri(), dest).added == []


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
    assert "injected fault" in message and "flows/report.py" in message and "\n" not in message
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
    from ipy_storage.storage.mirror import pull_mirror
    register()

    def progress(event):
        if event.stage == "download":
            print(event.message, flush=True)

    pull_mirror({url!r}, {settings!r}, Path({dest!r}), name="x", progress=progress)
    print("FINISHED", flush=True)
    """
)


def run_and_kill(url: str, dest: Path, settings: dict, after_lines: int) -> list[str]:
    """Pull in a child process and SIGKILL it after it reported ``after_lines`` placed files."""
    script = KILL_SCRIPT.format(root=str(REPO_ROOT), url=url, dest=str(dest), settings=settings)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    lines = [process.stdout.readline().strip() for _ in range(after_lines)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    return lines


@pytest.mark.slow
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

    placed_before_kill = run_and_kill(url, dest, {"delay": 0.3}, after_lines=10)

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
    assert sorted(Manifest.load(dest).remote) == sorted(old)
    faulty.clear()
    assert not pull(url, dest).changed and faulty["open"] == 0  # and it knows them all


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kill_after", "journal"),
    [(1, "none"), (300, "none"), (700, "commit lines"), (1100, "commit lines")],
)
def test_killed_local_copy_converges_at_any_batch(tmp_path, dest, kill_after, journal):
    """A local folder is copied in batches of journal lines: a kill inside or between batches
    leaves whole files, and the next pull fetches only what is not in place — also when the
    journal already holds the commit lines of earlier small pulls."""
    source = tmp_path / "many"
    old = {f"d{i // 100:02d}/f{i:04d}.txt": f"{i}\n".encode() for i in range(1200)}
    write_tree(source, old)
    pull(source.as_uri(), dest)
    if journal == "commit lines":
        for counter in range(2):
            old["d00/f0000.txt"] = f"small change {counter}\n".encode()
            write_tree(source, {"d00/f0000.txt": old["d00/f0000.txt"]})
            assert pull(source.as_uri(), dest).modified == ["d00/f0000.txt"]
        assert (dest / JOURNAL_NAME).exists()
    new = {rel: content * 3 for rel, content in old.items()}
    write_tree(source, new)

    run_and_kill(source.as_uri(), dest, {}, after_lines=kill_after)

    for rel, content in tree(dest).items():
        assert content in (old[rel], new[rel]), rel
    placed = {rel for rel, content in tree(dest).items() if content == new[rel]}
    result = pull(source.as_uri(), dest)
    assert tree(dest) == new
    assert sorted(result.modified) == sorted(set(old) - placed)
    assert result.moved_aside == {} and result.kept_local == []


@pytest.mark.slow
def test_a_small_change_appends_to_the_journal_and_a_long_journal_is_folded_in(tmp_path, dest):
    source = tmp_path / "source"
    files = {f"pkg/f{i:04d}.txt": f"{i}\n".encode() for i in range(2500)}
    write_tree(source, files)
    pull(source.as_uri(), dest)
    manifest_before = snapshot(dest)[MANIFEST_NAME]
    assert not (dest / JOURNAL_NAME).exists()

    write_tree(source, {"pkg/f0001.txt": b"changed\n", "pkg/new.txt": b"new\n"})
    (source / "pkg/f0002.txt").unlink()
    result = pull(source.as_uri(), dest)

    assert result.modified == ["pkg/f0001.txt"] and result.added == ["pkg/new.txt"]
    assert snapshot(dest)[MANIFEST_NAME] == manifest_before  # not rewritten: one journal line
    assert len((dest / JOURNAL_NAME).read_text().splitlines()) == 2  # a batch and a commit
    journal_before = snapshot(dest)[JOURNAL_NAME]
    assert not pull(source.as_uri(), dest).changed
    assert snapshot(dest)[JOURNAL_NAME] == journal_before  # a no-change pull writes nothing
    recorded = Manifest.load(dest)
    assert "pkg/f0002.txt" not in recorded.remote and "pkg/new.txt" in recorded.local

    write_tree(source, {rel: b"v3\n" for rel in sorted(files)[100:2200]})  # past the limit
    assert len(pull(source.as_uri(), dest).modified) == 2100
    assert not (dest / JOURNAL_NAME).exists() and snapshot(dest)[MANIFEST_NAME] != manifest_before
    assert json.loads((dest / MANIFEST_NAME).read_text())["remote"] == Manifest.load(dest).remote
    write_tree(dest, {"pkg/f0001.txt": b"mine\n"})
    write_tree(source, {"pkg/f0001.txt": b"theirs\n"})
    assert pull(source.as_uri(), dest).kept_local == ["pkg/f0001.txt"]


def test_folders_found_complete_are_trusted_only_while_unchanged(tmp_path, dest):
    """A folder that held every file, unchanged for a moment, is recorded with its mtime and
    needs no listdir next time; one with a fresher mtime than the racy window allows is not
    recorded; any change to a recorded folder (a file deleted) is seen, and the file restored."""
    source = tmp_path / "source"
    write_tree(source, {"a/1.txt": b"1\n", "b/2.txt": b"2\n", "c/3.txt": b"3\n"})
    pull(source.as_uri(), dest)
    time.sleep(0.05)  # longer than the racy window: the folders settle
    future = time.time_ns() + 10**10
    os.utime(dest / "b", ns=(future, future))  # as if changed in the same timestamp as the save
    write_tree(source, {"a/1.txt": b"one\n"})

    assert pull(source.as_uri(), dest).modified == ["a/1.txt"]

    folders = Manifest.load(dest).folders
    assert folders["c"] == (dest / "c").stat().st_mtime_ns and "b" not in folders
    assert folders.get("a", (dest / "a").stat().st_mtime_ns) == (dest / "a").stat().st_mtime_ns
    (dest / "c/3.txt").unlink()  # the user deletes a file of a trusted folder
    (dest / "b/2.txt").unlink()
    assert pull(source.as_uri(), dest).added == ["b/2.txt", "c/3.txt"]
    assert tree(dest) == {"a/1.txt": b"one\n", "b/2.txt": b"2\n", "c/3.txt": b"3\n"}


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


def test_manifest_of_the_previous_version_is_read(source, dest):
    pull(source.as_uri(), dest)
    data = json.loads((dest / MANIFEST_NAME).read_text())
    old = {
        rel: [data["remote"][rel], *map(int, local.split(":")[:3]), local.split(":")[3]]
        for rel, local in data["local"].items()
    }
    (dest / MANIFEST_NAME).write_text(json.dumps({"version": 1, "files": old}))
    write_tree(dest, {"README.md": b"# my notes\n"})
    write_tree(source, {"README.md": b"# theirs\n", "flows/etl.py": b"v2\n"})

    result = pull(source.as_uri(), dest)

    assert result.kept_local == ["README.md"] and result.modified == ["flows/etl.py"]
    assert json.loads((dest / MANIFEST_NAME).read_text())["version"] == 2


def test_destination_that_is_a_file_is_a_configuration_error(source, dest):
    dest.parent.mkdir(parents=True)
    dest.write_text("I am a file")
    with pytest.raises(StorageConfigError, match="not a folder"):
        pull(source.as_uri(), dest)
    assert dest.read_text() == "I am a file"


# --------------------------------------------------------------------------- memory://


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


def test_unknown_protocol_fails_at_pull_with_what_to_install(dest):
    """A pull failure (behaviour §2.3): the protocol may be registered later, so it is no
    configuration error."""
    with pytest.raises(StoragePullError) as info:
        pull("nosuchproto://bucket/path", dest)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError) and "nosuchproto" in message
    assert "install" in message and "\n" not in message
    assert not dest.exists()


def test_protocol_whose_package_is_missing_names_the_package(dest, monkeypatch):
    """fsspec knows the protocol (as it knows gcs:// → gcsfs) but its package is not installed."""
    from fsspec.registry import known_implementations

    monkeypatch.setitem(
        known_implementations,
        "ipyfake",
        {"class": "ipy_fake_fs_package.FakeFileSystem", "err": "Install ipy_fake_fs_package"},
    )
    with pytest.raises(StoragePullError) as info:
        pull("ipyfake://bucket/path", dest)
    assert "pip install ipy_fake_fs_package" in str(info.value) and "\n" not in str(info.value)
    assert not dest.exists()


@pytest.mark.parametrize(
    ("message", "error", "hint"),
    [
        (
            "An error occurred (AccessDenied) when calling the ListObjectsV2 operation",
            AuthenticationError,
            "check permissions and credentials",
        ),
        ("Client error '403 Forbidden' for url", AuthenticationError, "check permissions"),
        ("An error occurred (NoSuchKey): The key does not exist", SourceNotFoundError, "path"),
        ("An error occurred (NoSuchBucket) when listing", SourceNotFoundError, "bucket name"),
        ("ConnectionError: the server went away", NetworkError, "check network and endpoint"),
        ("EndpointConnectionError: Could not connect", NetworkError, "check network"),
        ("wrapped: ConnectionRefusedError(111, 'Connection refused')", NetworkError, "network"),
        ("something else broke", StoragePullError, "Exception: something else broke"),
    ],
)
def test_hints_read_the_message_of_a_generic_exception(source, dest, faulty, message, error, hint):
    with pytest.raises(StoragePullError) as info:
        pull("faulty://" + str(source), dest, settings={"fail_listing": message})
    assert type(info.value) is error
    assert hint in str(info.value) and "\n" not in str(info.value)


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

    fs, root = memory_root
    fs.pipe_file(f"{root}/src/x.py", b"x = 1\n")
    storage = RemoteStorage(f"memory://{root}/src")
    storage.set_base_path(tmp_path / "ws")
    result = asyncio.run(storage.pull_code())
    assert result.added == ["x.py"]
    assert (storage.destination / "x.py").read_bytes() == b"x = 1\n"


def test_a_failing_progress_callback_does_not_break_the_pull(source, tmp_path):
    def explode(event):
        raise RuntimeError("callback bug")

    storage = RemoteStorage(source.as_uri())
    storage.set_base_path(tmp_path / "ws")
    assert storage.pull(progress=explode).added == sorted(FILES)


def test_lock_is_held_by_the_caller_not_the_engine(source, dest):
    """The engine runs under StorageBase's lock; it must not take the (non-reentrant) lock."""
    with destination_lock(dest):
        assert pull(source.as_uri(), dest).added == sorted(FILES)


# --------------------------------------------------------------------------- hostile keys


def publish(scheme: str, root, files: dict[str, bytes]) -> str:
    """Put ``files`` at a source of the scheme (raw keys for memory://); returns its URL."""
    if scheme == "file":
        write_tree(root, files)
        return root.as_uri()
    fs, prefix = root
    for rel, content in files.items():
        fs.pipe_file(f"{prefix}/src/{rel}", content)
    return f"memory://{prefix}/src"


@pytest.fixture(params=["file", "memory"])
def hostile_source(request, tmp_path, memory_root):
    """``(scheme, publish(files) -> url)`` for a folder or a memory prefix."""
    scheme = request.param
    root = tmp_path / "hostile" if scheme == "file" else memory_root
    return scheme, lambda files: publish(scheme, root, files)


def test_keys_escaping_the_destination_are_refused_before_writing(memory_root, dest):
    fs, root = memory_root
    fs.pipe_file(f"{root}/src/good.txt", b"fine\n")
    for key in ("../escaped.txt", "sub/../../escaped.txt", "sub//abs.txt", "./dot.txt", "sub/"):
        fs.store[f"{root}/src/{key}"] = fs.store[f"{root}/src/good.txt"]  # raw, as a store may
        if f"{root}/src/{key}" not in fs.find(
            f"{root}/src"
        ):  # fsspec < 2026.7: "sub//x" is a folder
            pull(f"memory://{root}/src", dest)
            assert sorted(p.name for p in dest.rglob("*.txt")) == ["good.txt"], key
            shutil.rmtree(dest)
        else:
            with pytest.raises(StoragePullError) as info:
                pull(f"memory://{root}/src", dest)
            assert repr(f"{root}/src/{key}") in str(info.value), key
            assert "outside the destination" in str(info.value)
        assert not dest.exists() and not (dest.parent / "escaped.txt").exists()
        del fs.store[f"{root}/src/{key}"]


@pytest.mark.parametrize(
    "key",
    [
        ".git/config",
        "pkg/sub/.git/hooks/post-checkout",
        ".GIT/config",
        "pkg/.Git/HEAD",
        ".git./config",
        "pkg/git~1/config",
        ".g\u200cit/config",
    ],
)
def test_a_key_with_a_git_component_is_refused_before_anything_is_written(
    hostile_source, dest, key
):
    scheme, publish_files = hostile_source
    url = publish_files(dict(FILES))
    pull(url, dest)
    before = snapshot(dest)
    publish_files(
        {key: b"[core]\n\tfsmonitor = touch /tmp/pwned\n", "flows/etl.py": b"# changed upstream\n"}
    )

    with pytest.raises(StoragePullError) as info:
        pull(url, dest)

    message = str(info.value)
    parts = key.split("/")
    planted = "/".join(parts[: [is_git_dir_name(p) for p in parts].index(True) + 1])
    assert repr(planted)[1:-1] in message, message  # the key, down to its .git component
    assert "'.git' path component" in message and "\n" not in message
    assert snapshot(dest) == before  # nothing of this pull was placed, not even etl.py
    assert not any(part.name.casefold().startswith(".g") for part in dest.rglob("*"))


def test_a_name_longer_than_the_file_system_allows_is_a_pull_error(memory_root, dest):
    """A 300-character name: a local source cannot even hold one, a bucket can."""
    fs, root = memory_root
    fs.pipe_file(f"{root}/src/good.txt", b"fine\n")
    long_name = "n" * 300 + ".py"
    fs.pipe_file(f"{root}/src/pkg/{long_name}", b"x = 1\n")

    with pytest.raises(StoragePullError) as info:
        pull(f"memory://{root}/src", dest)

    message = str(info.value)
    assert "303 bytes" in message and "nnnnnnnnnn" in message and "\n" not in message
    assert not isinstance(info.value, OSError) and not dest.exists()


def test_a_path_longer_than_the_file_system_allows_is_a_pull_error(hostile_source, tmp_path):
    """A key of 15 folders of 240 characters fits the source; under a long base path it does
    not fit PATH_MAX: refused before anything is written, naming the key."""
    scheme, publish_files = hostile_source
    deep = "/".join(["d" * 240] * 15) + "/leaf.txt"
    url = publish_files({"good.txt": b"fine\n", deep: b"deep\n"})
    dest = tmp_path.joinpath(*["b" * 200] * 3, "dest")

    with pytest.raises(StoragePullError) as info:
        pull(url, dest)

    message = str(info.value)
    assert "longer than its file system allows" in message and "\n" not in message
    assert "d" * 40 in message  # the key (or the folder of it that no longer fits)
    assert not dest.exists()


def test_an_os_error_while_placing_names_the_key(hostile_source, tmp_path):
    """A 254-character name fits, but the user's file of that name cannot be moved aside to a
    longer one: the pull fails as a pull error naming the key; the user's file stays."""
    scheme, publish_files = hostile_source
    dest = tmp_path / "work" / "dest"
    url = publish_files(dict(FILES))
    pull(url, dest)
    name = "x" * 250 + ".txt"
    write_tree(dest, {name: b"the user's file\n"})
    publish_files({name: b"upstream's file\n"})

    with pytest.raises(StoragePullError) as info:
        pull(url, dest)

    message = str(info.value)
    assert "xxxxxxxxxx" in message and "File name too long" in message and "\n" not in message
    assert (dest / name).read_bytes() == b"the user's file\n"
    assert not (dest / STAGING_NAME).exists()

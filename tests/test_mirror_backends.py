"""How the mirror engine follows each back end (behaviour §3.2): concurrency it can take, a source
that stops answering, change detection from whatever the listing gives, links in a local source,
and the hints of services' failures. The table every back end passes is ``test_backends.py``."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from ipy_storage import RemoteStorage
from ipy_storage.storage import AuthenticationError, NetworkError
from ipy_storage.storage.destination import destination_lock
from ipy_storage.storage.mirror import pull_mirror, source, watchdog
from ipy_storage.storage.mirror.hints import describe_failure
from tests.fixtures.faulty_fs import register
from tests.helpers import tree, write_tree

FILES = {f"pkg/mod{i:02d}.py": f"value = {i}\n".encode() * 50 for i in range(40)}


def published(backend, files=FILES) -> str:
    prefix = f"code-{uuid.uuid4().hex[:8]}"
    backend.publish(prefix, files)
    return prefix


def storage_for(backend, prefix: str, base: Path) -> RemoteStorage:
    storage = RemoteStorage(backend.url(prefix), **backend.settings())
    storage.set_base_path(base)
    return storage


def sessions(backend, text: str) -> int:
    return sum(text in line for line in backend.server.log_lines())


# --------------------------------------------------------------------------- concurrency


@pytest.mark.backends
@pytest.mark.parametrize(
    ("backend", "opened"),
    [("sftp", "Starting session: subsystem 'sftp'"), ("ftp", "FTP session opened")],
    indirect=["backend"],
)
def test_sftp_and_ftp_pull_on_one_connection_kept_for_the_next_pull(backend, opened, tmp_path):
    """paramiko and ftplib are not thread-safe (8 threads on one sftp channel deadlock for
    ever, ftplib mixes replies): one file at a time on one connection, which the next pull
    borrows instead of paying a new login (an sftp key exchange and key decryption)."""
    storage = storage_for(backend, published(backend), tmp_path)
    before = sessions(backend, opened)

    result = storage.pull()
    backend.publish(storage.url.rsplit("/", 1)[1], {"pkg/mod00.py": b"changed\n"})
    again = storage.pull()

    assert len(result.added) == len(FILES) and again.modified == ["pkg/mod00.py"]
    assert tree(storage.destination) == FILES | {"pkg/mod00.py": b"changed\n"}
    assert sessions(backend, opened) - before <= 1


@pytest.mark.backends
@pytest.mark.parametrize("backend", ["sftp", "ftp"], indirect=True)
def test_a_connection_the_server_dropped_is_not_lent_again(backend, tmp_path):
    storage = storage_for(backend, published(backend), tmp_path)
    storage.pull()
    backend.server.signal(signal.SIGTERM)  # every connection ends with the server
    backend.server.process.wait(timeout=10)
    backend.server.restart()

    backend.publish(storage.url.rsplit("/", 1)[1], {"pkg/mod01.py": b"changed\n"})
    assert storage.pull().modified == ["pkg/mod01.py"]


# --------------------------------------------------------------------------- a silent source


@pytest.mark.backends
@pytest.mark.parametrize("backend", ["sftp", "ftp", "webdav", "azure"], indirect=True)
def test_a_server_that_stops_answering_fails_the_pull_and_frees_the_lock(
    backend, tmp_path, monkeypatch
):
    """Each way of downloading (one connection, a filesystem per thread, fsspec's batched get)
    gives up on a source that went silent mid-pull (its processes stopped)."""
    monkeypatch.setattr(watchdog, "STALL_SECONDS", 3.0)
    monkeypatch.setattr(source, "STALL_SECONDS", 3.0)
    storage = storage_for(backend, published(backend), tmp_path)

    def pause_after_listing(event):
        if event.stage == "list" and event.total:
            backend.server.pause()

    started = time.monotonic()
    try:
        with pytest.raises(NetworkError) as info:
            storage.pull(progress=pause_after_listing)
    finally:
        backend.server.resume()

    assert time.monotonic() - started < 15
    assert "check network and endpoint" in str(info.value) and "\n" not in str(info.value)
    with destination_lock(storage.destination, timeout=1):  # released, not held by a stuck read
        pass
    assert tree(storage.destination) == FILES or set(tree(storage.destination)) < set(FILES)
    storage.pull()
    assert tree(storage.destination) == FILES


def test_a_listing_that_never_ends_fails_the_pull_and_frees_the_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(watchdog, "CALL_SECONDS", 1.0)
    register()
    source_dir = tmp_path / "source"
    write_tree(source_dir, {"a.txt": b"a\n"})
    storage = RemoteStorage(f"faulty://{source_dir}", slow_listing=30)
    storage.set_base_path(tmp_path / "work")
    started = time.monotonic()

    with pytest.raises(NetworkError, match="stopped answering"):
        storage.pull()

    assert time.monotonic() - started < 5
    with destination_lock(storage.destination, timeout=1):
        pass


# --------------------------------------------------------------------------- change detection


@pytest.mark.backends
@pytest.mark.parametrize("backend", ["sftp", "ftp", "webdav", "http"], indirect=True)
def test_a_same_size_change_within_the_same_second_is_seen(backend, tmp_path):
    """These servers give times (and WebDAV ETags made of them) to the second: a file written
    again, same size, in the second the last pull saw, is fetched again until its time is old."""
    prefix = f"code-{uuid.uuid4().hex[:8]}"
    path = backend.served / prefix / "a.txt"
    path.parent.mkdir(parents=True)
    second = int(time.time())
    path.write_bytes(b"version 1\n")
    os.utime(path, (second, second))
    storage = storage_for(backend, prefix, tmp_path)
    assert storage.pull().added == ["a.txt"]

    path.write_bytes(b"version 2\n")
    os.utime(path, (second, second))  # the same second, the same size

    assert storage.pull().modified == ["a.txt"]
    assert (storage.destination / "a.txt").read_bytes() == b"version 2\n"


def test_a_source_that_cannot_tell_changes_is_compared_by_content_and_says_so(tmp_path, faulty):
    """A listing with no size, time or checksum, and an ``info()`` that adds none: every file
    is fetched on each pull, only real changes are reported, and the result says why."""
    source_dir, dest = tmp_path / "source", tmp_path / "dest"
    write_tree(source_dir, {"a.txt": b"a\n", "b.txt": b"b\n"})
    url, settings = f"faulty://{source_dir}", {"blind": True}

    first = pull_mirror(url, settings, dest, name="dest").finish()
    assert first.added == ["a.txt", "b.txt"] and tree(dest) == {"a.txt": b"a\n", "b.txt": b"b\n"}
    assert "cannot be told" in first.summary()

    again = pull_mirror(url, settings, dest, name="dest").finish()
    assert not again.changed and "cannot be told" in again.notes[0]

    write_tree(source_dir, {"b.txt": b"B\n"})
    assert pull_mirror(url, settings, dest, name="dest").finish().modified == ["b.txt"]


@pytest.mark.backends
@pytest.mark.parametrize("backend", ["http"], indirect=True)
def test_http_asks_each_file_once_and_each_folder_page_once(backend, tmp_path):
    """The listing of a web page has no size, date or ETag: one HEAD per file gives them; a
    folder page is fetched with its trailing slash (no redirect first)."""
    files = {"a.txt": b"a\n", "sub/b.txt": b"b\n", "sub/deeper/c.txt": b"c\n"}
    storage = storage_for(backend, published(backend, files), tmp_path)
    storage.pull()
    mark = backend.mark()

    assert not storage.pull().changed

    lines = backend.requests_since(mark)
    assert sum('"HEAD ' in line for line in lines) == 3
    assert sum('"GET ' in line for line in lines) == 3  # three folder pages, no file
    assert not any(" 301 " in line for line in lines)


# --------------------------------------------------------------------------- links


def test_links_inside_a_local_source_are_pulled_as_content_outside_ones_skipped(tmp_path):
    """rsync's --safe-links: a shared class folder linking to someone's ~/.ssh must not copy it."""
    secret_dir = tmp_path / "home" / ".ssh"
    write_tree(secret_dir, {"id_ed25519": b"PRIVATE KEY\n"})
    source_dir = tmp_path / "class"
    write_tree(source_dir, {"notes/intro.md": b"# intro\n", "data/table.csv": b"a,b\n"})
    (source_dir / "intro-link.md").symlink_to("notes/intro.md")
    (source_dir / "data-link").symlink_to(source_dir / "data")
    (source_dir / "key").symlink_to(secret_dir / "id_ed25519")
    (source_dir / "ssh").symlink_to(secret_dir)
    (source_dir / "notes" / "up").symlink_to("../../home/.ssh")

    storage = RemoteStorage(source_dir.as_uri())
    storage.set_base_path(tmp_path / "work")
    result = storage.pull()

    assert tree(storage.destination) == {
        "notes/intro.md": b"# intro\n",
        "data/table.csv": b"a,b\n",
        "intro-link.md": b"# intro\n",
        "data-link/table.csv": b"a,b\n",
    }
    assert result.skipped == ["key", "notes/up", "ssh"]
    assert "3 link(s)" in result.summary() and "PRIVATE" not in repr(result)
    assert not storage.pull().changed  # skipped again, quietly the same


# --------------------------------------------------------------------------- hints


@pytest.mark.backends  # gcsfs's error class: a client of the matrix (integration extra)
def test_a_gcs_authentication_failure_gets_the_credentials_hint():
    from gcsfs.retry import HttpError

    error = HttpError({"code": 401, "message": "Invalid Credentials"})
    described = describe_failure(error, "gs://bucket/code")
    assert isinstance(described, AuthenticationError)
    assert "check permissions and credentials" in str(described)
    denied = HttpError({"code": 403, "message": "a@b.iam does not have storage.objects.list"})
    assert isinstance(describe_failure(denied, "gs://bucket/code"), AuthenticationError)


@pytest.mark.backends
@pytest.mark.parametrize("backend", ["http"], indirect=True)
def test_an_http_url_naming_one_file_pulls_that_file(backend, tmp_path):
    prefix = published(backend, {"data.csv": b"a,b\n1,2\n"})
    storage = RemoteStorage(backend.url(f"{prefix}/data.csv"))
    storage.set_base_path(tmp_path)

    assert storage.pull().added == ["data.csv"]
    assert (storage.destination / "data.csv").read_bytes() == b"a,b\n1,2\n"
    assert not storage.pull().changed

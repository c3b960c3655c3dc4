"""One table of behaviours over every back end (behaviour §3.2): each row runs against file, memory,
S3 (moto), Azure (Azurite), GCS (an emulator), SFTP (OpenSSH), WebDAV (WsgiDAV), HTTP
(http.server) and FTP (pyftpdlib), each a real server on 127.0.0.1 (``tests/fixtures/backends.py``).
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ipy_storage import RemoteStorage
from ipy_storage.display import step_text
from ipy_storage.storage import AuthenticationError, StoragePullError
from ipy_storage.storage.mirror import RESERVED_PREFIX, is_git_dir_name
from tests.fixtures.fuzzing import generated
from tests.helpers import snapshot, tree

pytestmark = [pytest.mark.backends, pytest.mark.timeout(120)]

FILES = {
    "flows/__init__.py": b"",
    "flows/etl.py": b"def etl():\n    return 1\n",
    "flows/report.py": b"def report():\n    return 'r'\n",
    "data/config.json": b'{"a": 1}\n',
    "docs/read me.md": b"# a name with a space\n",
    "docs/caf\u00e9.txt": b"non-ASCII name\n",
    "README.md": b"# upstream\n",
}
ETL_V2 = b"def etl():\n    return 2\n"  # the same size as v1: only a checksum or a time tells


def storage_for(backend, tmp_path, prefix: str, **options) -> RemoteStorage:
    storage = RemoteStorage(backend.url(prefix), **(options or backend.settings()))
    storage.set_base_path(tmp_path / "work")
    return storage


@pytest.fixture
def published(backend, tmp_path):
    """``(backend, storage)`` after upstream published FILES and a first pull took them."""
    prefix = f"code-{uuid.uuid4().hex[:8]}"
    backend.publish(prefix, FILES)
    storage = storage_for(backend, tmp_path, prefix)
    first = storage.pull()
    assert tree(storage.destination) == FILES
    assert first.added == sorted(FILES) and first.bytes_transferred == sum(map(len, FILES.values()))
    return backend, storage, prefix


def test_first_pull_then_a_no_change_pull_transfers_nothing(published):
    backend, storage, _ = published
    before, mark = snapshot(storage.destination), backend.mark()

    again = storage.pull()

    assert not again.changed and again.kept_local == [] and again.bytes_transferred == 0
    assert snapshot(storage.destination) == before  # nothing rewritten, manifest included
    downloads = backend.downloads_since(mark)
    if downloads is not None:  # the server logs requests: none fetched a file's content
        assert downloads == [], downloads
        print(f"{backend.name}: a no-change pull made {len(backend.requests_since(mark))} requests")


def test_changed_added_and_deleted_objects(published):
    backend, storage, prefix = published
    backend.publish(
        prefix, {"flows/etl.py": ETL_V2, "README.md": None, "flows/new/step.py": b"step = 1\n"}
    )

    result = storage.pull()

    assert result.modified == ["flows/etl.py"]
    assert result.added == ["flows/new/step.py"] and result.deleted == ["README.md"]
    expected = {k: v for k, v in FILES.items() if k != "README.md"}
    assert tree(storage.destination) == expected | {
        "flows/etl.py": ETL_V2,
        "flows/new/step.py": b"step = 1\n",
    }
    assert result.bytes_transferred == len(ETL_V2) + len(b"step = 1\n")


def test_the_users_edit_is_kept_and_their_new_file_moved_aside(published):
    backend, storage, prefix = published
    dest = storage.destination
    (dest / "flows/etl.py").write_bytes(b"# my edit\n")
    (dest / "flows/mine.py").write_bytes(b"# my file\n")
    backend.publish(prefix, {"flows/etl.py": ETL_V2, "flows/mine.py": b"# upstream's\n"})

    result = storage.pull()

    assert result.kept_local == ["flows/etl.py"] and (dest / "flows/etl.py").read_bytes() == (
        b"# my edit\n"
    )
    assert result.moved_aside == {"flows/mine.py": "flows/mine.local.py"}
    assert (dest / "flows/mine.py").read_bytes() == b"# upstream's\n"
    assert (dest / "flows/mine.local.py").read_bytes() == b"# my file\n"


def test_a_planted_git_directory_is_refused_before_anything_is_written(published):
    backend, storage, prefix = published
    before = snapshot(storage.destination)
    backend.publish(
        prefix, {".git/config": b"[core]\n\tfsmonitor = touch /tmp/pwned\n", "README.md": b"v2\n"}
    )

    with pytest.raises(StoragePullError) as info:
        storage.pull()

    assert "'.git' path component" in str(info.value) and "\n" not in str(info.value)
    assert snapshot(storage.destination) == before  # not even the changed README.md


def test_credentials_are_never_on_disk_in_reprs_or_in_steps(published, tmp_path):
    backend, storage, _ = published
    result = storage.pull()
    step = storage.to_pull_step()
    shown = [repr(storage), repr(result), storage._repr_html_(), json.dumps(step)]
    shown += [step_text(step, "yaml"), step_text(step, "json")]
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            shown.append(path.read_bytes().decode("utf-8", "replace"))
    for secret in backend.secrets:
        assert all(secret not in text for text in shown), backend.name
    arguments = step["prefect.deployments.steps.pull_from_remote_storage"]
    assert arguments["url"] == storage.url
    if backend.secrets:  # each credential is a placeholder a worker resolves
        assert "{{ $IPY_MATRIX_" in json.dumps(arguments)


WRONG_SECRET = ["azure", "sftp", "webdav", "ftp"]  # the others' servers take anything


@pytest.mark.parametrize("backend", WRONG_SECRET, indirect=True)
def test_a_wrong_secret_fails_in_one_line_within_seconds(backend, tmp_path):
    prefix = f"code-{uuid.uuid4().hex[:8]}"
    backend.publish(prefix, {"a.txt": b"a\n"})
    storage = storage_for(backend, tmp_path, prefix, **backend.wrong_settings())
    started = time.monotonic()

    with pytest.raises(AuthenticationError) as info:
        storage.pull()

    message = str(info.value)
    assert time.monotonic() - started < 20
    assert "check permissions and credentials" in message and "\n" not in message
    assert isinstance(info.value, RuntimeError) and not storage.destination.exists()
    for secret in [*backend.secrets, "not-the-password", "not the passphrase"]:
        assert secret not in message


def test_a_missing_container_or_folder_fails_in_one_line_within_seconds(backend, tmp_path):
    storage = RemoteStorage(backend.missing_url(), **backend.settings())
    storage.set_base_path(tmp_path / "work")
    started = time.monotonic()

    with pytest.raises(StoragePullError) as info:
        storage.pull()

    message = str(info.value)
    assert time.monotonic() - started < 20
    assert "\n" not in message and ("check the" in message), message
    assert not storage.destination.exists()


# --------------------------------------------------------------------------- generated buckets

SEGMENT = st.text(alphabet=st.sampled_from("abcXYZ019 -_.éü+"), min_size=1, max_size=12).filter(
    lambda name: name not in (".", "..") and not is_git_dir_name(name)
)
KEYS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
CONTENT = st.binary(max_size=300)


def consistent(files: dict[str, bytes]) -> bool:
    """A disk cannot hold ``a`` as a file and ``a/b`` (an object store can: refused, tested
    apart) nor names only a letter case apart on a case-blind file system (ours is not)."""
    folders = {key.rsplit("/", 1)[0] for key in files if "/" in key}
    prefixes = {"/".join(folder.split("/")[:n]) for folder in folders for n in range(1, 5)}
    return not prefixes & files.keys() and not any(key.startswith(RESERVED_PREFIX) for key in files)


VERSIONS = st.lists(
    st.dictionaries(KEYS, CONTENT, min_size=1, max_size=8).filter(consistent),
    min_size=1,
    max_size=3,
)


@pytest.mark.parametrize(
    "backend", ["memory", "file", "azure", "gcs", "sftp", "http"], indirect=True
)
@settings(generated(examples=12))
@given(versions=VERSIONS)
@example(versions=[{"0": b"\r"}])  # found by make fuzz: the GCS emulator serves it as b""
def test_generated_buckets_are_mirrored_exactly_version_after_version(backend, versions):
    """Any sequence of upstream versions (names with spaces, non-ASCII, dots, deep folders):
    after each pull the destination holds exactly upstream, and a pull that finds it so
    changes nothing."""
    prefix = f"gen-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as base:
        storage = None
        current: dict[str, bytes] = {}
        for version in versions:
            backend.publish(prefix, {**dict.fromkeys(current.keys() - version.keys()), **version})
            current = version
            storage = storage or storage_for(backend, Path(base), prefix)
            storage.pull()
            assert tree(storage.destination) == backend.as_served(prefix, current)
        assert not storage.pull().changed

"""The mirror engine behind RemoteStorage against a real S3 server (a moto process on
127.0.0.1)."""

from __future__ import annotations

import pytest

from ipy_storage.storage import (
    AuthenticationError,
    NetworkError,
    SourceNotFoundError,
    StoragePullError,
)
from ipy_storage.storage.mirror import MANIFEST_NAME, STAGING_NAME, pull_mirror
from ipy_storage.storage.secrets import Secret
from tests.fixtures.s3_server import free_port
from tests.helpers import snapshot, tree

pytestmark = pytest.mark.s3

OBJECTS = {f"pkg/mod{i:02d}.py": f"value = {i}\n".encode() * (i + 1) for i in range(24)}
OBJECTS |= {"pkg/data/table.csv": b"a,b\n1,2\n", "README.md": b"# bucket\n"}


@pytest.fixture
def bucket_with_objects(s3_bucket, s3_upload):
    s3_upload(s3_bucket, {f"prefix/{key}": content for key, content in OBJECTS.items()})
    s3_upload(
        s3_bucket, {"prefix/pkg/empty-folder/": b"", "prefix/": b"", "other/not-mine.txt": b"x"}
    )
    return s3_bucket


def pull(url, settings, dest, **kwargs):
    return pull_mirror(url, settings, dest, name=dest.name, **kwargs).finish()


@pytest.fixture
def pulled(bucket_with_objects, s3_settings, tmp_path):
    """``(url, destination)`` after a first pull of the bucket's prefix."""
    url, dest = f"s3://{bucket_with_objects}/prefix", tmp_path / "dest"
    pull(url, s3_settings, dest)
    return url, dest


def test_s3_first_pull_then_no_change_pull(bucket_with_objects, s3_settings, tmp_path):
    url = f"s3://{bucket_with_objects}/prefix"
    dest = tmp_path / "dest"

    first = pull(url, s3_settings, dest)

    assert tree(dest) == OBJECTS  # folder placeholders ignored, nothing outside the prefix
    assert first.added == sorted(OBJECTS)
    assert first.bytes_transferred == sum(map(len, OBJECTS.values()))
    manifest = (dest / MANIFEST_NAME).read_text()
    assert '"ETag:' in manifest and "testing" not in manifest

    before = snapshot(dest)
    again = pull(url, s3_settings, dest)

    assert not again.changed and again.bytes_transferred == 0 and again.kept_local == []
    assert snapshot(dest) == before  # no file (nor the manifest) rewritten


def test_s3_changes_deletions_and_additions(bucket_with_objects, s3_settings, s3_upload, pulled):
    url, dest = pulled
    before = snapshot(dest)
    s3_upload(
        bucket_with_objects,
        {
            "prefix/pkg/mod03.py": b"value = 'three'\n",
            "prefix/README.md": None,
            "prefix/new/file.txt": b"new\n",
        },
    )

    result = pull(url, s3_settings, dest)

    assert result.modified == ["pkg/mod03.py"]
    assert result.deleted == ["README.md"]
    assert result.added == ["new/file.txt"]
    assert result.bytes_transferred == len(b"value = 'three'\n") + len(b"new\n")
    expected = {k: v for k, v in OBJECTS.items() if k != "README.md"}
    expected |= {"pkg/mod03.py": b"value = 'three'\n", "new/file.txt": b"new\n"}
    assert tree(dest) == expected
    after = snapshot(dest)
    assert all(after[k] == before[k] for k in OBJECTS if k not in ("pkg/mod03.py", "README.md"))


def test_s3_user_work_is_kept(bucket_with_objects, s3_settings, s3_upload, pulled):
    url, dest = pulled
    (dest / "pkg/mod01.py").write_bytes(b"# my edit\n")
    (dest / "pkg/extra.py").write_bytes(b"# my new file\n")
    s3_upload(
        bucket_with_objects,
        {"prefix/pkg/mod01.py": b"upstream\n", "prefix/pkg/extra.py": b"upstream extra\n"},
    )

    result = pull(url, s3_settings, dest)

    assert result.kept_local == ["pkg/mod01.py"]
    assert result.moved_aside == {"pkg/extra.py": "pkg/extra.local.py"}
    assert (dest / "pkg/mod01.py").read_bytes() == b"# my edit\n"
    assert (dest / "pkg/extra.py").read_bytes() == b"upstream extra\n"
    assert (dest / "pkg/extra.local.py").read_bytes() == b"# my new file\n"


def test_s3_progress_reports_every_file(bucket_with_objects, s3_settings, tmp_path):
    events = []
    dest = tmp_path / "dest"
    result = pull(f"s3://{bucket_with_objects}/prefix", s3_settings, dest, progress=events.append)
    assert tree(dest) == OBJECTS and len(result.added) == len(OBJECTS)
    downloads = [e for e in events if e.stage == "download"]
    assert [e.done for e in downloads] == list(range(1, len(OBJECTS) + 1))
    assert downloads[-1].bytes == result.bytes_transferred


def test_s3_object_vanishing_mid_pull_fails_cleanly_then_converges(
    bucket_with_objects, s3_settings, s3_client, s3_upload, pulled
):
    url, dest = pulled
    new = {key: b"# v2\n" + content for key, content in OBJECTS.items()}
    s3_upload(bucket_with_objects, {f"prefix/{key}": content for key, content in new.items()})

    def delete_after_listing(event):  # the object goes away between the listing and its download
        if event.stage == "list" and event.total:
            s3_client.delete_object(Bucket=bucket_with_objects, Key="prefix/pkg/mod07.py")

    with pytest.raises(SourceNotFoundError) as info:
        pull(url, s3_settings, dest, progress=delete_after_listing)
    assert "\n" not in str(info.value)
    for key, content in tree(dest).items():
        assert content in (OBJECTS[key], new[key]), key  # whole old or whole new
    assert not (dest / STAGING_NAME).exists()

    result = pull(url, s3_settings, dest)

    expected = {k: v for k, v in new.items() if k != "pkg/mod07.py"}
    assert tree(dest) == expected
    assert (
        result.deleted == ["pkg/mod07.py"] and result.kept_local == [] and result.moved_aside == {}
    )


@pytest.mark.parametrize(
    "key", ["prefix/../escaped.txt", "prefix//etc/passwd", "prefix/a/../../escaped.txt"]
)
def test_s3_keys_escaping_the_destination_are_refused(
    s3_bucket, s3_upload, s3_settings, tmp_path, key
):
    s3_upload(s3_bucket, {"prefix/fine.txt": b"ok", key: b"evil"})
    dest = tmp_path / "work" / "dest"

    with pytest.raises(StoragePullError) as info:
        pull(f"s3://{s3_bucket}/prefix", s3_settings, dest)

    assert key in str(info.value) and "outside the destination" in str(info.value)
    assert not dest.exists() and not (tmp_path / "work" / "escaped.txt").exists()


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("prefix/pkg/.git/config", "'.git' path component"),
        ("prefix/pkg/" + "n" * 300 + ".py", "303 bytes"),
    ],
    ids=["git-component", "name-too-long"],
)
def test_s3_hostile_keys_are_refused_before_anything_is_written(
    bucket_with_objects, s3_settings, s3_upload, pulled, key, rule
):
    url, dest = pulled
    before = snapshot(dest)
    s3_upload(
        bucket_with_objects,
        {key: b"[core]\n\tfsmonitor = touch /tmp/pwned\n", "prefix/README.md": b"# v2\n"},
    )

    with pytest.raises(StoragePullError) as info:
        pull(url, s3_settings, dest)

    message = str(info.value)
    assert rule in message and key[:60] in message and "\n" not in message
    assert snapshot(dest) == before  # not even the changed README.md was placed


def test_s3_missing_bucket_hint(s3_settings, tmp_path):
    with pytest.raises(SourceNotFoundError) as info:
        pull("s3://no-such-bucket-here/prefix", s3_settings, tmp_path / "d")
    message = str(info.value)
    assert (
        "check the bucket name and region" in message
        and "s3://no-such-bucket-here/prefix" in message
    )
    assert "\n" not in message


def test_s3_missing_prefix_hint(s3_bucket, s3_settings, tmp_path):
    with pytest.raises(SourceNotFoundError, match="check the path exists"):
        pull(f"s3://{s3_bucket}/nothing/here", s3_settings, tmp_path / "d")


def test_s3_unreachable_endpoint_fails_with_network_hint(tmp_path):
    settings = {
        "key": Secret("testing"),
        "secret": Secret("unreachable-secret"),
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
    }
    with pytest.raises(NetworkError) as info:
        pull("s3://bucket/prefix", settings, tmp_path / "d")
    message = str(info.value)
    assert "check network and endpoint" in message and "\n" not in message
    assert "unreachable-secret" not in message


@pytest.mark.parametrize("case", ["unknown key", "wrong secret", "no permission"])
def test_s3_credential_errors_hint_and_never_show_secrets(
    s3_bucket, s3_endpoint, s3_iam_user, tmp_path, case
):
    key, secret = {
        "unknown key": ("AKIAUNKNOWNKEY000000", "unknown-key-secret-value"),
        "wrong secret": (s3_iam_user["key"], "wrong-secret-value-1234"),
        "no permission": (s3_iam_user["key"], s3_iam_user["secret"]),
    }[case]
    settings = {"key": Secret(key), "secret": Secret(secret), "endpoint_url": s3_endpoint}

    with pytest.raises(AuthenticationError) as info:
        pull(f"s3://{s3_bucket}/prefix", settings, tmp_path / "d")

    message = str(info.value)
    assert "check permissions and credentials" in message and "\n" not in message
    assert secret not in message and isinstance(info.value, RuntimeError)


def test_s3_through_remote_storage_with_secret_settings(
    bucket_with_objects, s3_endpoint, s3_upload, tmp_path, monkeypatch
):
    from ipy_storage import RemoteStorage

    monkeypatch.setenv("IPY_S3_SECRET", "testing")
    storage = RemoteStorage(
        f"s3://{bucket_with_objects}/prefix",
        key=Secret("testing", name="ipy-s3-test-key"),
        secret=Secret.from_env("IPY_S3_SECRET"),
        endpoint_url=s3_endpoint,
    )
    storage.set_base_path(tmp_path)

    result = storage.pull()

    assert storage.destination == tmp_path / bucket_with_objects / "prefix"
    assert tree(storage.destination) == OBJECTS and result.added == sorted(OBJECTS)
    step = storage.to_pull_step()["prefect.deployments.steps.pull_from_remote_storage"]
    assert (
        step["secret"] == "{{ $IPY_S3_SECRET }}"
        and step["key"] == "{{ prefect.blocks.secret.ipy-s3-test-key }}"
    )
    s3_upload(bucket_with_objects, {"prefix/pkg/mod00.py": b"changed\n"})
    assert storage.pull().modified == ["pkg/mod00.py"]

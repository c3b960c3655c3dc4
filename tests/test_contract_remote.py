"""``RemoteStorage`` as configured (behaviour §3.2, §4): destinations, validation, settings that hold
secrets, and its ``pull_from_remote_storage`` step."""

from __future__ import annotations

import pytest

from ipy_storage import (
    RemoteStorage,
    Secret,
    from_pull_step,
)
from tests.contract import REMOTE_STEP


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

"""Secrets in remote settings, by structure as well as by name (behaviour §2.4): what a pull step may
show, what it must refuse, and how placeholders render as YAML and JSON."""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ipy_storage import RemoteStorage, Secret, from_pull_step
from ipy_storage.display import step_text
from tests.fixtures.fuzzing import generated

REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=S3CRETKEYVALUE==;"


@pytest.mark.parametrize(
    ("url", "settings", "where"),
    [
        ("az://c/x", {"connection_string": CONNECTION}, "'connection_string'"),
        ("sftp://h/x", {"username": "u", "passphrase": "S3CRET-PHRASE"}, "'passphrase'"),
        ("webdav://x", {"auth": ("alice", "S3CRET-PW")}, "'auth'[1]"),
        ("webdav://x", {"auth": ["alice", "S3CRET-PW"]}, "'auth'[1]"),
        ("https://h/x", {"headers": {"Authorization": "Bearer S3CRET"}}, "headers.'Authorization'"),
        (
            "https://h/x",
            {"client_kwargs": {"headers": {"X-Api-Key": "S3CRET"}}},
            "client_kwargs.headers.'X-Api-Key'",
        ),
        ("gs://b/x", {"token": "S3CRET-OAUTH-TOKEN"}, "'token'"),
        ("az://c/x", {"credential": "S3CRET"}, "'credential'"),
        ("s3://b/x", {"aws_session_token": "S3CRET"}, "'aws_session_token'"),
    ],
)
def test_a_plain_secret_in_a_secret_bearing_place_pulls_but_makes_no_step(url, settings, where):
    storage = RemoteStorage(url, **settings)  # accepted: a user who only pulls needs no Secret

    with pytest.raises(ValueError, match="use Secret") as info:
        storage.to_pull_step()

    assert f"Setting {where} holds a secret in plain text" in str(info.value)
    assert "S3CRET" not in str(info.value)
    assert "S3CRET" not in storage.redact(f"failed with {json.dumps(settings)}")


@pytest.mark.parametrize(
    "settings",
    [
        {"token": "anon", "endpoint_url": "http://127.0.0.1:1"},  # gcsfs's methods, no secrets
        {"token": "google_default"},
        {"username": "alice", "key_filename": "/home/alice/.ssh/id_ed25519", "port": 2222},
        {"headers": {"Accept": "text/html", "User-Agent": "ipy"}},
        {"auth": ("alice", Secret.from_env("DAV_PW"))},
    ],
)
def test_settings_without_plain_secrets_make_a_step(settings):
    step = RemoteStorage("webdav://x", **settings).to_pull_step()[REMOTE_STEP]
    assert step["url"] == "webdav://x"


def test_a_secret_inside_a_tuple_renders_in_yaml_and_json_and_comes_back():
    storage = RemoteStorage(
        "webdav://team/notebooks",
        base_url="https://dav.example.com/remote.php/dav/files/alice",
        auth=("alice", Secret.from_env("DAV_PASSWORD")),
        headers={"X-Request-Source": "notebook", "Authorization": Secret("x", name="dav-token")},
    )

    step = storage.to_pull_step()

    arguments = step[REMOTE_STEP]
    assert arguments["auth"] == ["alice", "{{ $DAV_PASSWORD }}"]
    assert arguments["headers"]["Authorization"] == "{{ prefect.blocks.secret.dav-token }}"
    assert arguments["requires"] == "webdav4"
    assert yaml.safe_load(step_text(step, "yaml")) == [step]
    assert json.loads(step_text(step, "json")) == step
    assert from_pull_step(step) == storage  # the tuple read back as a list is the same setting


@pytest.mark.parametrize(
    ("url", "package"),
    [
        ("sftp://host/x", "paramiko"),
        ("http://host/x", "aiohttp"),
        ("https://host/x", "aiohttp"),
        ("webdav://x", "webdav4"),
        ("ftp://host/x", "fsspec"),
        ("gs://b/x", "gcsfs"),
        ("az://c/x", "adlfs"),
        ("s3://b/x", "s3fs"),
        ("memory://x/y", "fsspec"),
    ],
)
def test_requires_names_the_package_a_worker_needs(url, package):
    assert RemoteStorage(url).to_pull_step()[REMOTE_STEP]["requires"] == package


# --------------------------------------------------------------------------- generated settings

SECRET_KEYS = ["password", "passphrase", "connection_string", "sas_token", "api_key", "secret"]
PLAIN_KEYS = ["endpoint_url", "username", "region", "anon", "timeout", "base_url", "headers_x"]


def leaves(draw_secret: bool):
    """A leaf: an env Secret (its value never rendered) or a harmless plain value."""
    secret = st.integers(0, 99).map(lambda n: Secret.from_env(f"IPY_GEN_SECRET_{n}"))
    plain = st.sampled_from(["https://a.example", "alice", "eu-west-1", True, 30])
    return secret if draw_secret else st.one_of(secret, plain)


@st.composite
def settings_trees(draw, depth: int = 0) -> dict:
    """Nested settings; a plain secret ("PLAIN-SECRET-VALUE") goes only into secret places."""
    tree = {}
    plain_secret = st.just("PLAIN-SECRET-VALUE")
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["secret", "plain", "nested", "auth", "header"]))
        if kind == "secret":
            tree[draw(st.sampled_from(SECRET_KEYS))] = draw(st.one_of(leaves(True), plain_secret))
        elif kind == "plain":
            tree[draw(st.sampled_from(PLAIN_KEYS))] = draw(leaves(False))
        elif kind == "auth":
            password = draw(st.one_of(leaves(True), plain_secret))
            tree["auth"] = draw(st.sampled_from([tuple, list]))(["alice", password])
        elif kind == "header":
            value = draw(st.one_of(leaves(True), plain_secret))
            tree["headers"] = {draw(st.sampled_from(["Authorization", "X-Auth-Token"])): value}
        elif depth < 2:
            key = draw(st.sampled_from(["client_kwargs", "config_kwargs"]))
            tree[key] = draw(settings_trees(depth + 1))
    return tree


@settings(generated(examples=150))
@given(settings_trees())
def test_generated_settings_render_only_placeholders_or_are_refused(monkeypatch_env, generated):
    """The rule: a step is refused exactly when a plain secret sits in a secret-bearing place;
    otherwise it renders (YAML and JSON) with no secret value and reads back as the storage."""
    tree = generated
    planted = "PLAIN-SECRET-VALUE" in repr(tree)  # Secret's repr never shows its value
    storage = RemoteStorage("s3://bucket/code", **tree)
    try:
        step = storage.to_pull_step()
    except ValueError as error:
        assert planted, tree
        assert "PLAIN-SECRET-VALUE" not in str(error)
        return
    assert not planted, tree
    for text in (step_text(step, "yaml"), step_text(step, "json")):
        assert "generated-secret-value" not in text and "Secret(" not in text
    assert yaml.safe_load(step_text(step, "yaml")) == [step]
    assert from_pull_step(step) == storage


@pytest.fixture(scope="module")
def monkeypatch_env():
    """Every generated env secret has a value: it must never reach a step."""
    mp = pytest.MonkeyPatch()
    for n in range(100):
        mp.setenv(f"IPY_GEN_SECRET_{n}", "generated-secret-value")
    yield
    mp.undo()

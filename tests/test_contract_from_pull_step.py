"""Pull steps back into storages (behaviour §4, reverse): a ``pull:`` list or a prefect.yaml mapping,
Prefect's placeholders as ``Secret``s, and errors that name the offending entry."""

from __future__ import annotations

import base64

import pytest

from ipy_storage import (
    GitRepository,
    LocalStorage,
    RemoteStorage,
    Secret,
    from_pull_step,
)
from tests.contract import GIT_STEP, REMOTE_STEP, U


# -- from_pull_step (§4 reverse) -----------------------------------------------------------
def test_from_pull_step_accepts_prefect_yaml_mapping_and_ignores_reserved_keys():
    document = {
        "pull": [
            {
                GIT_STEP: {
                    "id": "clone",
                    "repository": "https://github.com/o/r.git",
                    "branch": "main",
                    "requires": "prefect>=3",
                }
            },
            {"prefect.deployments.steps.set_working_directory": {"directory": "/tmp"}},
            {
                "prefect.deployments.steps.pull.pull_from_remote_storage": {
                    "url": "memory://a/b",
                    "requires": "s3fs>=1",
                }
            },
        ]
    }
    git, local, remote = from_pull_step(document)
    assert git == GitRepository("https://github.com/o/r.git", branch="main")
    assert local == LocalStorage("/tmp")
    assert remote == RemoteStorage("memory://a/b")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"prefect.deployments.steps.run_shell_script": {"script": "ls"}},
            "Invalid pull step 'prefect.deployments.steps.run_shell_script': unsupported step",
        ),
        ({GIT_STEP: {}}, "missing 'repository'"),
        (
            {GIT_STEP: {"repository": "https://h/r.git", "colour": "red"}},
            "unknown argument(s) ['colour']",
        ),
        ({GIT_STEP: "nope"}, "arguments must be a mapping"),
        ("just a string", "expected a mapping with one key"),
        (
            {GIT_STEP: {"repository": "https://h/r.git"}, "other": {}},
            "expected a mapping with one key",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "credentials": {"access_token": "{{ prefect.blocks.secret.never-created }}"},
                }
            },
            "Unknown secret 'never-created'",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "credentials": "{{ prefect.blocks.github-credentials.never-used }}",
                }
            },
            "Unknown block github-credentials/never-used: load it in this process first",
        ),
        (
            {
                GIT_STEP: {
                    "repository": "https://h/r.git",
                    "access_token": "{{ $GH_TOKEN }}",
                    "credentials": {"access_token": "{{ $GH_TOKEN }}"},
                }
            },
            "Please provide either an access token or credentials but not both.",
        ),
        (
            {GIT_STEP: {"repository": "https://h/r.git", "credentials": "just-a-token"}},
            "'credentials' must be a mapping",
        ),
        (
            {"prefect.deployments.steps.pull_with_block": {"block_type_slug": "s3"}},
            "missing 'block_document_name'",
        ),
        (
            {"prefect.deployments.steps.set_working_directory": {"directory": "/", "x": 1}},
            "unknown argument(s) ['x']",
        ),
        ({REMOTE_STEP: {"key": "{{ $K }}"}}, "missing 'url'"),
        (
            {REMOTE_STEP: {"url": "s3://b/p", "key": "{{ prefect.variables.x }}"}},
            "Cannot resolve the template",
        ),
        (
            {
                "prefect.deployments.steps.pull_with_block": {
                    "block_type_slug": "s3",
                    "block_document_name": "x",
                }
            },
            "needs Prefect",
        ),
        ({"pull": "not a list"}, "must be a list"),
    ],
)
def test_from_pull_step_errors_name_the_problem(step, message):
    with pytest.raises(ValueError) as excinfo:
        from_pull_step(step)
    assert message in str(excinfo.value)


def test_git_clone_access_token_argument_as_in_prefects_docstring(monkeypatch):
    step = {GIT_STEP: {"repository": U, "access_token": "{{ $IPY_GH_TOKEN }}"}}
    repo = from_pull_step(step)
    assert repo == GitRepository(U)
    monkeypatch.setenv("IPY_GH_TOKEN", "tok-from-env")
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == "tok-from-env:"
    assert repo.to_pull_step()[GIT_STEP]["credentials"] == {"access_token": "{{ $IPY_GH_TOKEN }}"}


def test_git_clone_access_token_from_a_secret_block_placeholder():
    """The exact form of Prefect's git_clone docstring; step → storage → step keeps the token's
    placeholder (as ``credentials.access_token``, the form our steps use)."""
    Secret("docstring-token-value", name="github-access-token")
    token = "{{ prefect.blocks.secret.github-access-token }}"
    repo = from_pull_step({GIT_STEP: {"repository": U, "access_token": token}})
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    assert base64.b64decode(header.split()[-1]).decode() == "docstring-token-value:"
    assert repo.to_pull_step()[GIT_STEP]["credentials"] == {"access_token": token}


def test_git_clone_plain_access_token_pulls_but_is_refused_in_a_step():
    repo = from_pull_step({GIT_STEP: {"repository": U, "access_token": "ghp-plain-value"}})
    assert (
        "ghp-plain-value"
        in base64.b64decode(repo.auth_environment()["GIT_CONFIG_VALUE_0"].split()[-1]).decode()
    )
    with pytest.raises(ValueError, match="Please save your access token as a Secret"):
        repo.to_pull_step()


def test_every_git_clone_argument_is_understood():
    step = {
        GIT_STEP: {
            "repository": U,
            "branch": None,
            "commit_sha": "abcd1234",
            "include_submodules": True,
            "access_token": None,
            "credentials": None,
            "directories": ["flows"],
            "clone_directory_name": "checkout",
        }
    }
    repo = from_pull_step(step)
    assert repo == GitRepository(
        U, commit_sha="abcd1234", include_submodules=True, directories=["flows"], name="checkout"
    )
    assert repo.include_submodules and repo.name == "checkout"


def test_from_pull_step_names_the_offending_entry_in_a_list():
    with pytest.raises(ValueError, match="pull step 2"):
        from_pull_step([{GIT_STEP: {"repository": "https://h/r.git"}}, {"bad.step": {}}])


def test_named_secret_round_trip_uses_the_process_secret():
    secret = Secret("process-secret-value", name="proc-secret")
    step = {
        GIT_STEP: {
            "repository": "https://h/r.git",
            "branch": None,
            "credentials": {"access_token": "{{ prefect.blocks.secret.proc-secret }}"},
        }
    }
    repo = from_pull_step(step)
    assert repo.to_pull_step() == step
    env = repo.auth_environment()
    assert (
        base64.b64decode(env["GIT_CONFIG_VALUE_0"].split()[-1]).decode() == "process-secret-value:"
    )
    assert secret.get() == "process-secret-value"

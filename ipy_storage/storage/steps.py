"""Pull steps back into storages (SPEC §4, reverse): ``from_pull_step`` accepts one step, a list
of steps, or a prefect.yaml mapping with a ``pull:`` list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import StorageBase
from .block import PULL_WITH_BLOCK_STEP
from .errors import StorageConfigError
from .git import GIT_CLONE_STEP, GitRepository
from .local import SET_WORKING_DIRECTORY_STEP, LocalStorage
from .remote import REMOTE_STEP, RemoteStorage
from .secrets import from_placeholder

_RESERVED = ("id", "requires")
_GIT_KEYS = {
    "repository",
    "branch",
    "clone_directory_name",
    "directories",
    "include_submodules",
    "commit_sha",
    "credentials",
}
_SHORT_NAMES = {
    "git_clone": GIT_CLONE_STEP,
    "pull_from_remote_storage": REMOTE_STEP,
    "pull_with_block": PULL_WITH_BLOCK_STEP,
    "set_working_directory": SET_WORKING_DIRECTORY_STEP,
}


def from_pull_step(step: Any) -> StorageBase | list[StorageBase]:
    """The storage a Prefect pull step describes; a list for a list or a prefect.yaml mapping."""
    if isinstance(step, Mapping) and "pull" in step:
        step = step["pull"]
        if not isinstance(step, list):
            raise StorageConfigError("The 'pull' section must be a list of steps.")
    if isinstance(step, list):
        return [_one_step(item, index) for index, item in enumerate(step)]
    return _one_step(step, None)


def _one_step(step: Any, index: int | None) -> StorageBase:
    where = f"pull step {index + 1}" if index is not None else "pull step"
    if not isinstance(step, Mapping) or len(step) != 1:
        raise StorageConfigError(
            f"Invalid {where}: expected a mapping with one key such as "
            f"'prefect.deployments.steps.git_clone', got {str(step)[:80]!r}."
        )
    ((kind, arguments),) = step.items()
    if not isinstance(arguments, Mapping):
        raise StorageConfigError(f"Invalid {where} {kind!r}: its arguments must be a mapping.")
    arguments = {k: v for k, v in arguments.items() if k not in _RESERVED}
    try:
        return _BUILDERS[_canonical_name(kind)](arguments)
    except KeyError as missing:
        raise StorageConfigError(f"Invalid {where} {kind!r}: missing {missing}.") from None
    except StorageConfigError as error:
        raise type(error)(f"Invalid {where} {str(kind)!r}: {error}") from None


def _canonical_name(kind: Any) -> str:
    name = str(kind)
    short = name.rsplit(".", 1)[-1]
    if name in _BUILDERS or (
        name.startswith("prefect.deployments.steps.") and short in _SHORT_NAMES
    ):
        return _SHORT_NAMES[short]
    raise StorageConfigError(
        "unsupported step: ipy_storage understands git_clone, pull_from_remote_storage, "
        "pull_with_block and set_working_directory."
    )


def _secrets_from_placeholders(value: Any) -> Any:
    if isinstance(value, str):
        secret = from_placeholder(value)
        if secret is None and value.strip().startswith("{{"):
            raise StorageConfigError(f"Cannot resolve the template {value!r} outside Prefect.")
        return secret if secret is not None else value
    if isinstance(value, Mapping):
        return {key: _secrets_from_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_secrets_from_placeholders(item) for item in value]
    return value


def _git_from_step(arguments: dict[str, Any]) -> GitRepository:
    unknown = set(arguments) - _GIT_KEYS
    if unknown:
        raise StorageConfigError(f"unknown argument(s) {sorted(unknown)}")
    credentials = arguments.get("credentials")
    if isinstance(credentials, str):
        raise StorageConfigError(
            "credentials blocks cannot be loaded outside Prefect; use {'username': ..., 'access_token': '{{ $VAR }}'}"
        )
    return GitRepository(
        url=arguments["repository"],
        credentials=_secrets_from_placeholders(credentials),
        name=arguments.get("clone_directory_name"),
        branch=arguments.get("branch"),
        commit_sha=arguments.get("commit_sha"),
        include_submodules=bool(arguments.get("include_submodules", False)),
        directories=arguments.get("directories"),
    )


def _remote_from_step(arguments: dict[str, Any]) -> RemoteStorage:
    settings = _secrets_from_placeholders({k: v for k, v in arguments.items() if k != "url"})
    return RemoteStorage(arguments["url"], **settings)


def _local_from_step(arguments: dict[str, Any]) -> LocalStorage:
    return LocalStorage(arguments["directory"])


def _block_from_step(arguments: dict[str, Any]) -> StorageBase:
    raise StorageConfigError(
        f"loading block {arguments.get('block_type_slug')}/{arguments.get('block_document_name')} needs Prefect's "
        "API; load it with Block.load(...) and pass it to BlockStorageAdapter"
    )


_BUILDERS = {
    GIT_CLONE_STEP: _git_from_step,
    REMOTE_STEP: _remote_from_step,
    SET_WORKING_DIRECTORY_STEP: _local_from_step,
    PULL_WITH_BLOCK_STEP: _block_from_step,
}

"""Pull steps back into storages (behaviour §4, reverse): ``from_pull_step`` accepts one step, a list
of steps, or a prefect.yaml mapping with a ``pull:`` list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import StorageBase
from .block import PULL_WITH_BLOCK_STEP, BlockStorageAdapter
from .errors import StorageConfigError, short
from .git import GIT_CLONE_STEP, GitRepository
from .local import SET_WORKING_DIRECTORY_STEP, LocalStorage
from .prefect_objects import used_block
from .remote import REMOTE_STEP, RemoteStorage
from .secrets import from_placeholder, redact

_RESERVED = ("id", "requires")
# The keyword arguments of Prefect's git_clone / agit_clone.
_GIT_KEYS = {
    "repository",
    "branch",
    "commit_sha",
    "include_submodules",
    "access_token",
    "credentials",
    "directories",
    "clone_directory_name",
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
            f"'prefect.deployments.steps.git_clone', got {redact(short(step))}."
        )
    ((kind, arguments),) = step.items()
    if not isinstance(arguments, Mapping):
        raise StorageConfigError(f"Invalid {where} {kind!r}: its arguments must be a mapping.")
    arguments = {k: v for k, v in arguments.items() if k not in _RESERVED}
    try:
        return _BUILDERS[_canonical_name(kind)](arguments)
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
        resolved = from_placeholder(value)
        if resolved is None and value.strip().startswith("{{"):
            raise StorageConfigError(f"Cannot resolve the template {value!r} outside Prefect.")
        return resolved if resolved is not None else value
    if isinstance(value, Mapping):
        return {key: _secrets_from_placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_secrets_from_placeholders(item) for item in value]
    return value


def _check_arguments(
    arguments: dict[str, Any], allowed: set[str] | None, required: set[str]
) -> None:
    """Prefect's step functions take exactly these keyword arguments (None: any more)."""
    unknown = set(arguments) - allowed if allowed is not None else ()
    if unknown:
        raise StorageConfigError(f"unknown argument(s) {sorted(unknown)}")
    missing = sorted(required - set(arguments))
    if missing:
        raise StorageConfigError(f"missing {', '.join(repr(name) for name in missing)}")


def _git_credentials(arguments: dict[str, Any]) -> Any:
    """``credentials`` or ``access_token`` (``git_clone`` takes either, never both)."""
    access_token, credentials = arguments.get("access_token"), arguments.get("credentials")
    if access_token and credentials:
        raise StorageConfigError(
            "Please provide either an access token or credentials but not both."
        )
    if access_token:
        return {"access_token": _secrets_from_placeholders(access_token)}
    credentials = _secrets_from_placeholders(credentials)
    if isinstance(credentials, str):
        raise StorageConfigError(
            "'credentials' must be a mapping such as {'username': ..., 'access_token': "
            "'{{ $VAR }}'} or a block placeholder '{{ prefect.blocks.<type>.<name> }}'."
        )
    return credentials


def _git_from_step(arguments: dict[str, Any]) -> GitRepository:
    _check_arguments(arguments, _GIT_KEYS, {"repository"})
    return GitRepository(
        url=arguments["repository"],
        credentials=_git_credentials(arguments),
        name=arguments.get("clone_directory_name"),
        branch=arguments.get("branch"),
        commit_sha=arguments.get("commit_sha"),
        include_submodules=bool(arguments.get("include_submodules", False)),
        directories=arguments.get("directories"),
    )


def _remote_from_step(arguments: dict[str, Any]) -> RemoteStorage:
    _check_arguments(arguments, None, {"url"})
    settings = _secrets_from_placeholders({k: v for k, v in arguments.items() if k != "url"})
    return RemoteStorage(arguments["url"], **settings)


def _local_from_step(arguments: dict[str, Any]) -> LocalStorage:
    _check_arguments(arguments, {"directory"}, {"directory"})
    return LocalStorage(arguments["directory"])


def _block_from_step(arguments: dict[str, Any]) -> StorageBase:
    """The adapter of a saved block this process used; loading any other needs Prefect's API."""
    keys = {"block_type_slug", "block_document_name"}
    _check_arguments(arguments, keys, keys)
    slug, name = arguments["block_type_slug"], arguments["block_document_name"]
    block = used_block(slug, name)
    if block is None:
        raise StorageConfigError(
            f"loading block {slug}/{name} needs Prefect's API; load it with "
            f"Block.load('{slug}/{name}') and pass it to BlockStorageAdapter"
        )
    return BlockStorageAdapter(block)


_BUILDERS = {
    GIT_CLONE_STEP: _git_from_step,
    REMOTE_STEP: _remote_from_step,
    SET_WORKING_DIRECTORY_STEP: _local_from_step,
    PULL_WITH_BLOCK_STEP: _block_from_step,
}

"""A named secret this process has not seen yet: what ``{{ prefect.blocks.secret.NAME }}`` stands
for when a workspace file or a link is read in a fresh kernel or on a server.

It keeps the name, so a pull step made from it names the same secret again (the file is
rewritten without ever holding the value), and looks the value up only when a pull needs it: a
``Secret(value, name=NAME)`` made in this process since, else Prefect's ``Secret`` block of that
name when Prefect is installed and can reach its API. It looks like a saved Prefect Secret block
(``get()``, ``get_block_placeholder()``), which is how the core already treats such blocks.
"""

from __future__ import annotations

from typing import Any

from .storage.errors import SecretNotFoundError, StorageConfigError
from .storage.prefect_objects import BLOCK_PLACEHOLDER
from .storage.secrets import Secret, from_placeholder


class SavedSecret:
    """The secret saved under ``name`` (in this process or as a Prefect Secret block)."""

    block_type_slug = "secret"

    def __init__(self, name: str) -> None:
        self.block_document_name = name

    def get_block_placeholder(self) -> str:
        return "{{ prefect.blocks.secret." + self.block_document_name + " }}"

    def get(self) -> str:
        """The value, looked up now: this process's named Secret, else Prefect's block."""
        name = self.block_document_name
        try:
            return Secret.named(name).get()
        except SecretNotFoundError:
            pass
        value = prefect_secret_block(name)
        if value is None:
            raise StorageConfigError(
                f"The secret {name!r} is not known here: run Secret(value, name={name!r}) in "
                f"this kernel, or save a Prefect Secret block named {name!r}."
            )
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SavedSecret):
            return NotImplemented
        return self.block_document_name == other.block_document_name

    def __hash__(self) -> int:
        return hash(("SavedSecret", self.block_document_name))

    def __repr__(self) -> str:
        return f"SavedSecret({self.block_document_name!r})"


def prefect_secret_block(name: str) -> str | None:
    """The value of Prefect's Secret block ``name``; None without Prefect or without the block."""
    try:
        from prefect.blocks.system import Secret as PrefectSecret  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        value = PrefectSecret.load(name).get()
    except Exception:  # no API, no such block: the caller says what to do
        return None
    return value if isinstance(value, str) else None


def defer_unknown_secrets(value: Any) -> Any:
    """``value`` (a pull step's arguments) with every ``{{ prefect.blocks.secret.NAME }}`` that
    this process cannot resolve now replaced by a ``SavedSecret`` that resolves it at pull time."""
    if isinstance(value, str):
        match = BLOCK_PLACEHOLDER.match(value)
        if match is None or match.group(1) != "secret":
            return value
        try:
            from_placeholder(value)
        except SecretNotFoundError:
            return SavedSecret(match.group(2))
        return value
    if isinstance(value, dict):
        return {key: defer_unknown_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [defer_unknown_secrets(item) for item in value]
    return value

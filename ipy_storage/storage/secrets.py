"""Secrets that never show their value (behaviour §2.4) and the redaction of messages: URL userinfo
by structure, and the values of the secrets a message is about. Prefect's own secret holders (a
``Secret`` block, a pydantic ``SecretStr``) work wherever a ``Secret`` does."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from .errors import SecretNotFoundError, StorageConfigError, without_userinfo
from .prefect_objects import (
    BLOCK_PLACEHOLDER,
    block_placeholder,
    is_block,
    is_secret_block,
    is_secret_str,
    secret_text,
    used_block,
)

_MASK = "********"
_named: dict[str, Secret] = {}
_lock = threading.Lock()
# Shorter values are not masked: masking "ab" would garble every message and protect nothing.
_SHORTEST_MASKED = 4

ENV_PLACEHOLDER = re.compile(r"^\{\{\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without URL userinfo (found by URL structure, for every scheme) and without the
    given secret values: the secrets of the storage being reported, never every value this
    process has seen (a secret ``main`` must not mask the word everywhere)."""
    text = without_userinfo(text)
    for value in sorted(
        {v for v in secrets if v and len(v) >= _SHORTEST_MASKED}, key=len, reverse=True
    ):
        text = text.replace(value, _MASK)
    return text


def secret_forms(value: str) -> set[str]:
    """The ways a secret value can appear in a message: as it is and percent-encoded."""
    return {value, quote(value, safe="")} if value else set()


class Secret:
    """A value that masks itself in reprs, logs and pull steps.

    ``Secret(value, name="x")`` renders as ``{{ prefect.blocks.secret.x }}`` in a pull step;
    ``Secret.from_env("VAR")`` reads the variable at use time and renders as ``{{ $VAR }}``.
    """

    __slots__ = ("_value", "name", "env")

    def __init__(self, value: str, name: str | None = None) -> None:
        if not isinstance(value, str):
            raise StorageConfigError("Secret value must be a string; pass the token text itself.")
        self._value: str | None = value
        self.name = name
        self.env: str | None = None
        if name:
            with _lock:
                _named[name] = self

    @classmethod
    def from_env(cls, var: str) -> Secret:
        """A secret whose value is the environment variable ``var`` when it is used."""
        if not var or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise StorageConfigError(
                f"Invalid environment variable name {var!r}: use letters, digits and '_'."
            )
        secret = cls.__new__(cls)
        secret._value = None
        secret.name = None
        secret.env = var
        return secret

    @classmethod
    def named(cls, name: str) -> Secret:
        """The secret created in this process with ``Secret(value, name=name)``."""
        with _lock:
            secret = _named.get(name)
        if secret is None:
            raise SecretNotFoundError(
                f"Unknown secret {name!r}: create it first with Secret(value, name={name!r})."
            )
        return secret

    def get(self) -> str:
        """The value (read from the environment now for ``from_env`` secrets)."""
        value = self._value if self.env is None else os.environ.get(self.env)
        if value is None:
            raise StorageConfigError(
                f"Environment variable {self.env} is not set: export it before pulling."
            )
        return value

    def placeholder(self) -> str:
        """The Prefect template that resolves to this secret on a worker."""
        if self.env is not None:
            return "{{ $" + self.env + " }}"
        if self.name:
            return "{{ prefect.blocks.secret." + self.name + " }}"
        raise StorageConfigError(
            "This Secret has no name, so a pull step cannot refer to it: "
            "use Secret(value, name='my-secret') (saved as a Prefect Secret block) or Secret.from_env('VAR')."
        )

    def __repr__(self) -> str:
        if self.env is not None:
            return f"Secret.from_env({self.env!r})"
        if self.name:
            return f"Secret({_MASK!r}, name={self.name!r})"
        return f"Secret({_MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return (self.env, self.name, self._value) == (other.env, other.name, other._value)

    def __hash__(self) -> int:
        return hash((self.env, self.name, self._value))

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict) -> Secret:
        return self

    def __reduce__(self):
        raise TypeError("Secret objects cannot be pickled: that would write the value to disk.")


def is_secret(value: Any) -> bool:
    """A Secret, a Prefect Secret block or a SecretStr: a value to resolve only when used."""
    return isinstance(value, Secret) or is_secret_block(value) or is_secret_str(value)


def secret_value(value: Any) -> Any:
    """The plain value of one secret holder (read now); anything else unchanged."""
    return value.get() if isinstance(value, Secret) else secret_text(value)


def placeholder(value: Any) -> str:
    """The Prefect template that resolves to ``value`` on a worker: a Secret's own, a saved
    block's ``{{ prefect.blocks.<slug>.<name> }}``; a ValueError for a value a worker cannot get."""
    if isinstance(value, Secret):
        return value.placeholder()
    if is_block(value):
        return block_placeholder(value)
    raise StorageConfigError(
        "A secret in plain text cannot go into a pull step: wrap it as Secret(value, name=...) "
        "(saved as a Prefect Secret block) or Secret.from_env('VAR')."
    )


def reveal(value: Any) -> Any:
    """``value`` with every secret holder replaced by its plain value (recursively)."""
    if is_secret(value):
        return secret_value(value)
    if isinstance(value, dict):
        return {key: reveal(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(reveal(item) for item in value)
    return value


def to_placeholders(value: Any) -> Any:
    """``value`` with every secret holder replaced by its pull-step placeholder (recursively);
    tuples become lists, as YAML and JSON write them (``auth=("alice", Secret…)``)."""
    if is_secret(value) or is_block(value):
        return placeholder(value)
    if isinstance(value, dict):
        return {key: to_placeholders(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_placeholders(item) for item in value]
    return value


def from_placeholder(value: str) -> Any:
    """What a pull-step placeholder stands for: ``{{ $VAR }}`` → ``Secret.from_env``,
    ``{{ prefect.blocks.secret.NAME }}`` → the Secret (or Prefect Secret block) of that name used
    in this process, another block placeholder → the saved block this process used; None when
    ``value`` is no placeholder. A placeholder of something unknown here is a ValueError."""
    match = ENV_PLACEHOLDER.match(value)
    if match:
        return Secret.from_env(match.group(1))
    match = BLOCK_PLACEHOLDER.match(value)
    if match is None:
        return None
    slug, name = match.groups()
    if slug == "secret":
        with _lock:
            secret = _named.get(name)
        if secret is not None:
            return secret
    block = used_block(slug, name)
    if block is not None:
        return block
    if slug == "secret":
        Secret.named(name)  # raises SecretNotFoundError with what to do
    raise SecretNotFoundError(
        f"Unknown block {slug}/{name}: load it in this process first "
        f"(Block.load('{slug}/{name}')) and pass it to the storage."
    )

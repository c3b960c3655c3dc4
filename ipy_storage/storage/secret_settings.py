"""Which fsspec settings hold secrets (behaviour §2.4), found by structure as well as by name.

A setting holds a secret when

- it is, or contains, a secret holder (``Secret``, a Prefect ``Secret`` block, a ``SecretStr``),
  in a dict, a list or a tuple: it renders as a placeholder in a pull step;
- its name says so: ``password``, ``key``, ``token``, ``passphrase``, ``connection_string``
  (Azure's holds the account key), ``…_secret``, ``…_key`` …;
- it is the password half of an ``auth`` pair (``auth=("alice", password)``: WebDAV, HTTP);
- it is a credentials header (``Authorization``, ``Cookie``, ``X-Api-Key``, anything naming a
  token, a key or a secret) in a ``headers`` mapping, at any depth (``client_kwargs``).

A plain string in such a place pulls (a notebook user who only pulls needs no ``Secret``), but
``to_pull_step()`` refuses it: it would be written into a prefect.yaml in clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import StorageConfigError
from .secrets import is_secret, reveal, secret_forms

SECRET_NAMES = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "passwd",
        "passphrase",
        "credential",
        "credentials",
        "connection_string",
        "sas",
        "auth",
        "cookie",
        "cookies",
    }
)
# a name containing one of these holds a secret (``aws_secret_access_key``, ``x_auth_token``)
SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "access_key",
    "account_key",
    "api_key",
    "apikey",
    "private_key",
    "sas_token",
    "connection_string",
    "credential",
)
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy_authorization", "cookie"})
HEADER_PARTS = ("auth", "token", "key", "secret", "password", "session", "cookie")
# values of a secret-named setting that name a method, not a secret (gcsfs's ``token``)
METHOD_VALUES = frozenset({"anon", "google_default", "cloud", "browser", "cache"})


def normalised(name: Any) -> str:
    return str(name).lower().replace("-", "_")


def is_secret_name(name: Any) -> bool:
    """A setting whose value is a secret because of its name."""
    name = normalised(name)
    return name in SECRET_NAMES or any(part in name for part in SECRET_PARTS)


def is_credential_header(name: Any) -> bool:
    name = normalised(name)
    return name in CREDENTIAL_HEADERS or any(part in name for part in HEADER_PARTS)


def secret_places(
    value: Any, where: str = "", bearing: bool = False, parent: str = ""
) -> Iterator[tuple[str, Any]]:
    """``(where, value)`` of every value in a secret-bearing place, and of every secret holder
    (wherever it is), walking dicts, lists and tuples. ``where`` reads as the setting is written:
    ``'password'``, ``client_kwargs.'headers'``… (the last name quoted)."""
    if is_secret(value):
        yield where, value
    elif isinstance(value, dict):
        headers = normalised(parent) == "headers"
        prefix = f"{where.replace(repr(parent), parent)}." if where else ""
        for key, item in value.items():
            inner = bearing or is_secret_name(key) or (headers and is_credential_header(key))
            place = f"{prefix}{key!r}"
            if normalised(key) == "auth" and isinstance(item, (list, tuple)):
                for index, part in enumerate(item):  # (user, password): the user is no secret
                    yield from secret_places(part, f"{place}[{index}]", index > 0, str(key))
            else:
                yield from secret_places(item, place, inner, str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from secret_places(item, f"{where}[{index}]", bearing, parent)
    elif bearing and isinstance(value, (str, bytes)) and value:
        yield where, value


def plaintext_secrets(settings: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(where, value)`` of every secret-bearing setting given in plain text."""
    return [
        (where, value)
        for where, value in secret_places(settings)
        if not is_secret(value) and not (isinstance(value, str) and value in METHOD_VALUES)
    ]


def check_no_plaintext(settings: dict[str, Any]) -> None:
    """The ValueError of behaviour §2.4 for the first secret in plain text, naming only its place."""
    found = plaintext_secrets(settings)
    if found:
        raise StorageConfigError(
            f"Setting {found[0][0]} holds a secret in plain text, so it cannot go into a pull "
            "step: use Secret(value, name=...) (saved as a Prefect Secret block) or "
            "Secret.from_env('VAR')."
        )


def secret_texts(settings: dict[str, Any]) -> set[str]:
    """Every form of every secret in the settings, read now, for masking messages."""
    texts: set[str] = set()
    for _, value in secret_places(settings):
        if is_secret(value):
            try:
                value = reveal(value)
            except StorageConfigError:  # an unset environment variable: nothing to mask
                continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value not in METHOD_VALUES:
            texts |= secret_forms(value)
    return texts

"""Git credentials: which ``user:password`` pair each host style expects, and the HTTP header
that carries it through git's environment configuration (never a URL, argv or ``.git/config``)."""

from __future__ import annotations

import base64
from typing import Any, TypedDict
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import StorageConfigError
from .secrets import Secret, secret_forms

_TOKEN_KEYS = ("access_token", "token", "password")


class GitCredentials(TypedDict, total=False):
    """Credentials for a git host, as in ``prefect.runner.storage.GitCredentials``."""

    username: str
    access_token: str | Secret


def normalize_credentials(credentials: Any) -> tuple[str | None, str | Secret | None]:
    """``(username, token)`` from a GitCredentials-like dict or a bare Secret; validates shape."""
    if credentials is None:
        return None, None
    if isinstance(credentials, Secret):
        return None, credentials
    if not isinstance(credentials, dict):
        raise StorageConfigError(
            "Invalid credentials: pass a dict like {'username': ..., 'access_token': Secret(...)} or a Secret."
        )
    unknown = set(credentials) - {"username", *_TOKEN_KEYS}
    if unknown:
        raise StorageConfigError(
            f"Invalid credentials key(s) {sorted(unknown)}: use 'username' and 'access_token'."
        )
    username = credentials.get("username") or None
    token = next((credentials[key] for key in _TOKEN_KEYS if credentials.get(key)), None)
    if username is not None and not isinstance(username, str):
        raise StorageConfigError("Invalid credentials: 'username' must be a string.")
    if token is not None and not isinstance(token, (str, Secret)):
        raise StorageConfigError(
            "Invalid credentials: 'access_token' must be a string or a Secret."
        )
    if username and token is None:
        raise StorageConfigError(
            "If a username is provided, an access token or password must also be provided."
        )
    return username, token


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without userinfo, user, password)``, both percent-decoded; other URLs unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    user, password = unquote(user), unquote(password) if has_password else None
    return urlunsplit(parts._replace(netloc=hostport)), user or None, password


def credential_pair(url: str, username: str | None, token: str) -> str:
    """The ``user:password`` pair Prefect would put in the URL for this host (unencoded)."""
    host = (urlsplit(url).hostname or "").lower()
    if username:
        return f"{username}:{token}"
    if "bitbucket" in host and host != "bitbucket.org":
        if ":" not in token:
            raise StorageConfigError(
                f"Bitbucket Server ({host}) needs a username and a token: pass credentials={{'username': ..., 'access_token': ...}}."
            )
        return token
    if "bitbucket" in host:
        return token if ":" in token else f"x-token-auth:{token}"
    if "gitlab" in host:
        return token if ":" in token else f"oauth2:{token}"
    return token


def userinfo_for_url(pair: str) -> str:
    """The pair percent-encoded for a URL, as Prefect formats it (``@ / + = ! #`` escaped)."""
    user, has_password, password = pair.partition(":")
    encoded = quote(user, safe="")
    return f"{encoded}:{quote(password, safe='')}" if has_password else encoded


def basic_auth_header(pair: str) -> str:
    """``Authorization: Basic …`` for a pair; a bare token is sent as the user name."""
    if ":" not in pair:
        pair += ":"
    return f"Authorization: Basic {_basic(pair)}"


def _basic(pair: str) -> str:
    return base64.b64encode(pair.encode()).decode()


def credential_forms(pair: str, token: str) -> set[str]:
    """Every text of these credentials a message could hold: the token, the pair, their
    percent-encoded forms and the Basic-auth value."""
    basic_pair = pair if ":" in pair else pair + ":"
    return secret_forms(token) | secret_forms(pair) | {_basic(basic_pair), userinfo_for_url(pair)}


def header_config_key(url: str) -> str:
    """The git config key that scopes an extra header to the repository's scheme and host."""
    parts = urlsplit(url)
    return f"http.{parts.scheme}://{parts.netloc}/.extraHeader"

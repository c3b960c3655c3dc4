"""Git credentials: which ``user:password`` pair each host style expects, and the HTTP header
that carries it through git's environment configuration (never a URL, argv or ``.git/config``).

Credentials come as a ``GitCredentials``-like dict, a bare secret, or a Prefect credentials block
(``GitHubCredentials``, ``GitLabCredentials``, ``BitBucketCredentials``, …), duck-typed: its
``format_git_credentials(url)`` when it has one, else its ``token`` / ``access_token`` /
``password`` field with Prefect's host rules (behaviour §2.4, §3.1)."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .errors import StorageConfigError
from .prefect_objects import block_placeholder, is_block, remember
from .secrets import Secret, is_secret, placeholder, secret_forms, secret_value

_TOKEN_KEYS = ("access_token", "token", "password")
# Keys a resolved Prefect credentials block carries besides its token (its own server URL).
_IGNORED_KEYS = ("url",)
_PLAINTEXT = (
    "Please save your access token as a Secret before converting this storage object to a pull "
    "step: credentials={'access_token': Secret(value, name='my-token')} or Secret.from_env('VAR')."
)


class GitCredentials(TypedDict, total=False):
    """Credentials for a git host, as in ``prefect.runner.storage.GitCredentials``."""

    username: str
    access_token: str | Secret


def is_credentials_block(value: Any) -> bool:
    """A Prefect credentials block or look-alike (not a dict and not a bare secret)."""
    if isinstance(value, (Mapping, str)) or is_secret(value):
        return False
    return callable(getattr(value, "format_git_credentials", None)) or any(
        getattr(value, key, None) is not None for key in _TOKEN_KEYS
    )


class GitAuth:
    """How a repository authenticates: a username and a token (either may be a Secret), or a
    credentials block. Nothing is resolved until a pull asks for it."""

    __slots__ = ("username", "token", "block")

    def __init__(self, username: str | None = None, token: Any = None, block: Any = None) -> None:
        self.username, self.token, self.block = username, token, block

    def pair(self, url: str) -> str:
        """The ``user:password`` pair Prefect would put in ``url`` (read now, unencoded)."""
        if self.block is not None and callable(getattr(self.block, "format_git_credentials", None)):
            return _pair_from_formatter(self.block, url)
        if self.block is not None:
            username = secret_value(getattr(self.block, "username", None))
            token = next(
                (getattr(self.block, key) for key in _TOKEN_KEYS if getattr(self.block, key, None)),
                None,
            )
            if token is None:
                raise StorageConfigError(
                    "Please provide a `token` or `password` in your Credentials block to clone a repo."
                )
            return credential_pair(url, username or None, secret_value(token))
        return credential_pair(url, self.username, secret_value(self.token))

    def secret_values(self, url: str) -> set[str]:
        """Every text of these credentials a message could hold (empty when they cannot be read
        now, e.g. an unset environment variable)."""
        try:
            pair = self.pair(url)
        except (StorageConfigError, ValueError):
            return set()
        token = pair.partition(":")[2] or pair
        return credential_forms(pair, token)

    def for_step(self) -> dict[str, str] | str:
        """The ``credentials`` value of a ``git_clone`` step: placeholders only, never a value."""
        if self.block is not None:
            return block_placeholder(self.block)
        if not (isinstance(self.token, Secret) or is_block(self.token)):
            raise StorageConfigError(_PLAINTEXT)
        credentials = {"username": self.username} if self.username else {}
        credentials["access_token"] = placeholder(self.token)
        return credentials


def _pair_from_formatter(block: Any, url: str) -> str:
    """The userinfo the block's ``format_git_credentials(url)`` puts in front of the host,
    percent-decoded as git decodes it."""
    try:
        formatted = block.format_git_credentials(url)
    except ValueError as error:
        raise StorageConfigError(
            f"The {type(block).__name__} block cannot make credentials for {url}: {error}"
        ) from None
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    prefix = f"{scheme}://"
    if (
        isinstance(formatted, str)
        and formatted.startswith(prefix)
        and formatted.endswith("@" + rest)
        and len(formatted) > len(prefix) + len(rest) + 1
    ):
        return unquote(formatted[len(prefix) : -len(rest) - 1])
    raise StorageConfigError(
        f"The {type(block).__name__} block's format_git_credentials() did not return {url} "
        "with credentials in front of the host; pass credentials={'access_token': ...} instead."
    )


def normalize_credentials(credentials: Any) -> GitAuth | None:
    """The ``GitAuth`` of a GitCredentials-like dict, a bare secret or a credentials block;
    validates the shape (plain-text tokens are accepted: only a pull step refuses them)."""
    if credentials is None or (isinstance(credentials, Mapping) and not credentials):
        return None
    if is_secret(credentials):
        return GitAuth(token=credentials)
    if is_credentials_block(credentials):
        remember(credentials)
        return GitAuth(block=credentials)
    if not isinstance(credentials, Mapping):
        raise StorageConfigError(
            "Invalid credentials: pass a dict like {'username': ..., 'access_token': Secret(...)}, "
            "a Secret or a Prefect credentials block."
        )
    unknown = set(credentials) - {"username", *_TOKEN_KEYS, *_IGNORED_KEYS}
    if unknown:
        raise StorageConfigError(
            f"Invalid credentials key(s) {sorted(unknown)}: use 'username' and 'access_token'."
        )
    username = credentials.get("username") or None
    token = next((credentials[key] for key in _TOKEN_KEYS if credentials.get(key)), None)
    if username is not None and not isinstance(username, str):
        raise StorageConfigError("Invalid credentials: 'username' must be a string.")
    if token is not None and not (isinstance(token, str) or is_secret(token)):
        raise StorageConfigError(
            "Invalid credentials: 'access_token' must be a string or a Secret."
        )
    if username and token is None:
        raise StorageConfigError(
            "If a username is provided, an access token or password must also be provided."
        )
    return GitAuth(username, token) if token is not None else None


def split_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """``(url without its secret userinfo, user, password)``, both percent-decoded.

    HTTP(S) URLs lose all userinfo (it becomes the Authorization header); other schemes keep
    the user (an ssh login is not a secret) and lose the password."""
    parts = urlsplit(url)
    if "://" not in url or "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    quoted_user, has_password, quoted_password = userinfo.partition(":")
    user = unquote(quoted_user)
    password = unquote(quoted_password) if has_password else None
    if parts.scheme in ("http", "https"):
        return urlunsplit(parts._replace(netloc=hostport)), user or None, password
    kept = f"{quote(user, safe='')}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=kept)), None, password


def credential_pair(url: str, username: str | None, token: str) -> str:
    """The ``user:password`` pair Prefect 3.9.1 puts in the URL for this host (unencoded):
    a username → ``user:token``; ``bitbucketserver`` hosts need ``user:token``; other Bitbucket
    hosts ``x-token-auth:<token>``; GitLab hosts ``oauth2:<token>`` (a token holding ``:`` — a
    deploy token or one already prefixed — is used as it is); any other host the token alone."""
    host = urlsplit(url).netloc.lower()
    if username:
        return f"{username}:{token}"
    if "bitbucketserver" in host:
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


def header_config(url: str, pair: str) -> tuple[str, str]:
    """The git configuration (key, value) that sends ``pair`` to ``url``'s host as a header."""
    return header_config_key(url), basic_auth_header(pair)


def config_environment(pairs: Sequence[tuple[str, str]], start: int = 0) -> dict[str, str]:
    """git configuration as ``GIT_CONFIG_COUNT`` / ``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n``
    variables, numbered from ``start`` (after the entries the environment has already): the
    only form that keeps a value out of argv and ``.git/config``."""
    env = {"GIT_CONFIG_COUNT": str(start + len(pairs))}
    for index, (key, value) in enumerate(pairs, start=start):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env

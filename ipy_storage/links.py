"""Links that pull on open (behaviour §6.8): the query a link carries, read and written in one place.

``{server}ipy-storage/pull?source=A&branch=main&dir=week1&source=B&name=data&open=A/intro.ipynb``:
each ``source`` starts an item and the options after it (``branch``, ``commit``, ``dir``…,
``name``, ``username``, ``token_env``, ``token_secret``) belong to that item; ``open`` is the
page to land on, relative to the server's root. A link names secrets, never holds them: the
server resolves ``token_env`` / ``token_secret`` from what its administrator allowed. Checks
that make a link safe to follow are here too, so the kernel never makes a link the server
refuses: no userinfo, sources on the network only, every path relative, without ``..`` and
without dot-folders (``.ssh``, ``.ipython`` hold keys and start-up code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .storage.errors import StorageConfigError
from .storage.secrets import ENV_PLACEHOLDER, redact

PATH = "ipy-storage/pull"
MAX_SOURCES = 20
MAX_QUERY = 16_000
ITEM_KEYS = ("branch", "commit", "dir", "name", "username", "token_env", "token_secret")
LOCAL_SCHEMES = ("", "file", "local", "memory")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_BLOCK_SECRET = re.compile(r"^\{\{\s*prefect\.blocks\.secret\.([a-z0-9-]+)\s*\}\}$")


class LinkError(StorageConfigError):
    """A link that cannot be followed safely; the message says which part and why."""


@dataclass
class LinkItem:
    """One source of a link and its options."""

    source: str
    branch: str | None = None
    commit: str | None = None
    dirs: list[str] = field(default_factory=list)
    name: str | None = None
    username: str | None = None
    token_env: str | None = None
    token_secret: str | None = None

    def pairs(self) -> list[tuple[str, str]]:
        pairs = [("source", self.source)]
        for key in ITEM_KEYS:
            value = self.dirs if key == "dir" else getattr(self, key)
            for one in value if isinstance(value, list) else [value]:
                if one:
                    pairs.append((key, one))
        return pairs


@dataclass
class LinkRequest:
    """Everything a link asks for: its items, in order, and the page to open."""

    items: list[LinkItem]
    open: str | None = None

    def query(self) -> str:
        pairs = [pair for item in self.items for pair in item.pairs()]
        if self.open:
            pairs.append(("open", self.open))
        return urlencode(pairs, quote_via=quote, safe="/:")


def parse_query(query: str) -> LinkRequest:
    """The request a link's query string makes; a ``LinkError`` for anything unsafe."""
    if len(query) > MAX_QUERY:
        raise LinkError(f"The link is over {MAX_QUERY} characters long.")
    items: list[LinkItem] = []
    opened: str | None = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "source":
            items.append(LinkItem(check_source(value)))
        elif key == "open":
            opened = check_target(value, "open")
        elif key in ITEM_KEYS:
            if not items:
                raise LinkError(f"{key}= comes before any source=: put it after its source.")
            _set(items[-1], key, value)
        elif key not in ("token", "_xsrf"):  # a login token the server itself consumed
            raise LinkError(
                f"Unknown link parameter {key!r} (known: source, open, {', '.join(ITEM_KEYS)})."
            )
    if not items:
        raise LinkError("The link has no source=: nothing to pull.")
    if len(items) > MAX_SOURCES:
        raise LinkError(f"The link has {len(items)} sources; at most {MAX_SOURCES} are pulled.")
    return LinkRequest(items, opened)


def _set(item: LinkItem, key: str, value: str) -> None:
    if key == "dir":
        item.dirs.append(check_target(value, "dir"))
        return
    if getattr(item, key) is not None:
        raise LinkError(f"{key}= is given twice for {redact(item.source)}.")
    if key == "name":
        value = check_target(value, "name")
    elif key == "token_env" and not _ENV_NAME.fullmatch(value):
        raise LinkError(f"token_env={value!r} is not an environment variable name.")
    elif key == "token_secret" and not _SECRET_NAME.fullmatch(value):
        raise LinkError(f"token_secret={value!r} is not a secret block name.")
    setattr(item, key, value)


def check_source(source: str) -> str:
    """A source a link may name: a URL on the network, without userinfo."""
    from .storage.factory import scheme_of

    source = source.strip()
    if not source:
        raise LinkError("source= is empty: give the URL to pull.")
    try:
        parts = urlsplit(source)
    except ValueError:
        raise LinkError(f"source={redact(source)!r} is not a URL.") from None
    if "@" in parts.netloc or re.match(r"^[^/:]+@[^/]+:", source):
        raise LinkError(
            f"source={redact(source)!r} carries a user name or token: links never hold "
            "credentials; name a secret the server has with token_env= or token_secret=."
        )
    scheme = scheme_of(source)
    if scheme in LOCAL_SCHEMES or scheme in ("ssh", "git+ssh", "git+file"):
        raise LinkError(
            f"source={redact(source)!r} is not on the network: a link pulls from https://, "
            "http://, git:// or an object store (s3://, gs://, …)."
        )
    return source


def check_target(path: str, what: str) -> str:
    """A path inside the server's root: relative, no ``..``, no dot-folder, no control
    characters, POSIX separators."""
    clean = path.strip().strip("/")
    parts = PurePosixPath(clean).parts
    bad = (
        not parts  # "" or "." would be the root itself
        or path.strip().startswith("/")
        or "\\" in path
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in path)
        or any(part == ".." or part.startswith(".") or part.startswith("~") for part in parts)
    )
    if bad:
        raise LinkError(
            f"{what}={path!r} must be a relative path inside the server's folder, without '..' "
            "or hidden (dot) folders."
        )
    return "/".join(parts)


# -- links made from a notebook's storages ------------------------------------------------------
def item_for(storage: Any) -> LinkItem:
    """The link item that pulls ``storage`` into a folder of the same name."""
    from .storage.factory import classify_source
    from .storage.git import GitRepository
    from .workspace_file.entries import step_of

    step = step_of(storage)
    ((kind, arguments),) = step.items()
    if kind.endswith("git_clone"):
        source = arguments["repository"]
        if classify_source(source)[0] is not GitRepository:
            source = "git+" + source
        item = LinkItem(check_source(source), branch=arguments.get("branch"))
        item.commit = arguments.get("commit_sha")
        item.dirs = list(arguments.get("directories") or [])
        _link_credentials(item, arguments.get("credentials"))
    elif kind.endswith("pull_from_remote_storage"):
        settings = {k: v for k, v in arguments.items() if k not in ("url", "requires")}
        if settings:
            raise LinkError(
                f"{', '.join(sorted(settings))}: settings cannot travel in a link; the server "
                "pulls with its own configuration."
            )
        item = LinkItem(check_source(arguments["url"]))
    else:
        raise LinkError(f"A {storage.kind} storage has nothing a link could pull elsewhere.")
    default = _server_side_name(item)
    if storage.name != default:
        item.name = check_target(storage.name, "name")
    return item


def _link_credentials(item: LinkItem, credentials: Any) -> None:
    if not credentials:
        return
    token = credentials.get("access_token") if isinstance(credentials, dict) else credentials
    item.username = credentials.get("username") if isinstance(credentials, dict) else None
    env = ENV_PLACEHOLDER.match(token or "")
    block = _BLOCK_SECRET.match(token or "")
    if env:
        item.token_env = env.group(1)
    elif block:
        item.token_secret = block.group(1)
    else:
        raise LinkError(
            "Its credentials are not a token the server can name: use --token-env VAR (or a "
            "Secret block) and allow it on the server."
        )


def _server_side_name(item: LinkItem) -> str:
    from .sources import storage_from_source

    options: dict[str, Any] = {
        "branch": item.branch,
        "commit_sha": item.commit,
        "directories": item.dirs or None,
    }
    return storage_from_source(item.source, None, pull_interval=None, **options).name

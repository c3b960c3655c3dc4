"""What each fsspec back end can take: the one table of how the engine treats a protocol.

- **Thread safety.** Async back ends (s3fs, gcsfs, adlfs, http) download through fsspec's own
  batched calls. A sync one gets a filesystem of its own per worker thread, except where one
  connection per thread is what the server or client cannot take: ``sftp`` (paramiko's channel
  deadlocks when threads share it, and a connection per thread costs a key exchange each) and
  ``ftp`` (ftplib mixes replies between threads) go one file at a time, on one connection.
- **Connections** of sftp and ftp belong to one pull at a time: a pull borrows an idle one from
  ``CONNECTIONS`` (checked alive first: the server may have dropped it since the last timed
  pull) or opens its own, and gives it back only when it succeeded. A new sftp connection costs
  a key exchange and the decryption of the user's key (most of a second); a borrowed one
  nothing. sftp reads get a timeout (paramiko's ``timeout`` covers connecting only), so a
  server that stops answering ends the pull instead of holding its lock.
- **ETags made from the modification time** (WebDAV and HTTP servers: WsgiDAV, nginx, Apache):
  two same-size writes within one tick share an ETag, so such an ETag is trusted only once the
  time it comes with is old enough (``listing.remote_identity``).
- **The package a worker needs** for a protocol (``package_for``).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

SEQUENTIAL = frozenset({"sftp", "ssh", "ftp"})
TIME_DERIVED_ETAGS = frozenset({"webdav", "webdavs", "dav", "davs", "http", "https"})
# Fail fast on an unreachable S3 endpoint (botocore's defaults retry for ~10 s, and minutes on a
# black-holed address); applied only where the user set nothing.
S3_FAST_FAILURE = {"connect_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}
CONNECT_SECONDS = 30
_QUOTED = re.compile(r'"([A-Za-z0-9_.-]+)"')
_INSTALL = re.compile(r"[Ii]nstall (?:the )?([A-Za-z0-9_.-]+)")


def protocol_of(fs: Any) -> str:
    protocol = fs.protocol
    return protocol if isinstance(protocol, str) else protocol[0]


def package_for(protocol: str) -> str | None:
    """The pip package that gives fsspec ``protocol``: the back end's own (s3 → s3fs, webdav →
    webdav4), or, for an fsspec built-in, the library fsspec says it needs (sftp → paramiko,
    http → aiohttp), else fsspec itself. None for a protocol fsspec does not know."""
    from fsspec.registry import known_implementations, registry

    if protocol in known_implementations:
        spec = known_implementations[protocol]
        package = spec["class"].split(".", 1)[0]
        if package != "fsspec":
            return package
        err = spec.get("err", "")
        needs = _QUOTED.findall(err) or _INSTALL.findall(err)  # 'requires "requests" and "aiohttp"'
        return needs[-1] if needs else package
    if protocol in registry:
        return registry[protocol].__module__.split(".", 1)[0]
    return None


def filesystem_options(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """The settings as the back end takes them: an ``auth`` pair read back from a pull step is
    a list, which httpx (webdav4) refuses; S3 gets a short connect timeout; sftp and ftp a
    connection of their own."""
    if isinstance(options.get("auth"), list):
        options = {**options, "auth": tuple(options["auth"])}
    if protocol in ("s3", "s3a"):
        config = dict(options.get("config_kwargs") or {})
        for key, value in S3_FAST_FAILURE.items():
            config.setdefault(key, value)
        options = {**options, "config_kwargs": config}
    if protocol in SEQUENTIAL:
        options = {**options, "skip_instance_cache": True}
    if protocol in ("sftp", "ssh"):
        options.setdefault("timeout", CONNECT_SECONDS)  # paramiko waits for ever by default
    return options


def is_sequential(fs: Any) -> bool:
    return protocol_of(fs) in SEQUENTIAL


def arm_timeouts(fs: Any, seconds: float) -> None:
    """A read that waits longer than ``seconds`` fails (sftp: paramiko's channel timeout)."""
    channel = getattr(getattr(fs, "ftp", None), "get_channel", None)
    if channel is not None and protocol_of(fs) in ("sftp", "ssh"):
        with contextlib.suppress(Exception):
            channel().settimeout(seconds)


def thread_filesystem(fs: Any) -> Any:
    """A filesystem like ``fs`` for one worker thread (not shared, not cached)."""
    return type(fs)(*fs.storage_args, **fs.storage_options, skip_instance_cache=True)


class ConnectionPool:
    """Idle sftp and ftp filesystems by server and settings, each lent to one pull at a time."""

    def __init__(self, idle_per_server: int = 2) -> None:
        self._idle: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        self._keep = idle_per_server

    @staticmethod
    def key(url: str, options: dict[str, Any]) -> str:
        from fsspec.utils import tokenize

        parts = urlsplit(url)
        return tokenize(parts.scheme, parts.netloc, options)

    def borrow(self, key: str) -> Any | None:
        """An idle filesystem for ``key`` that still has its connection, if there is one."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                fs = idle.pop()
            if is_alive(fs):
                return fs
            close_filesystem(fs)

    def give_back(self, key: str, fs: Any) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self._keep:
                idle.append(fs)
                return
        close_filesystem(fs)


CONNECTIONS = ConnectionPool()


def is_alive(fs: Any) -> bool:
    """Whether the connection of an idle sftp or ftp filesystem still works."""
    try:
        if protocol_of(fs) == "ftp":
            fs.ftp.voidcmd("NOOP")  # one round trip: ftplib cannot tell otherwise
            return True
        transport = fs.client.get_transport()
        return transport is not None and transport.is_active()
    except Exception:
        return False


def close_filesystem(fs: Any) -> None:
    """Close the connection of a back end that holds one (sftp, ftp); a no-op for the others
    (their clients close with the process, or are reused from fsspec's cache)."""
    if protocol_of(fs) not in SEQUENTIAL:
        return
    with contextlib.suppress(Exception):  # ftplib: a read blocked on the socket ends now (its
        fs.ftp.sock.shutdown(socket.SHUT_RDWR)  # close() would wait for that read's lock)
    for name in ("ftp", "client"):  # sftp: the SFTP channel, then the SSH client; ftp: ftplib
        with contextlib.suppress(Exception):
            getattr(fs, name).close()

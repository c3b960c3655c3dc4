"""Listing any back end but a local folder: one ``find`` (an HTTP server: its folder pages),
and each file's identity from the fields its listing has (``ETag``, ``md5Hash``,
``LastModified``, ``last_modified``, ``modify``, ``mtime``, size). Where the listing has none
(HTTP pages), a HEAD per file gives ``Last-Modified``, ``ETag`` and ``Content-Length``; where
even that says nothing, the file is fetched on every pull and compared by content, and the
result says so.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote

from .backends import TIME_DERIVED_ETAGS, protocol_of
from .hints import describe_failure
from .keys import KeyRules, shown
from .listing import RESERVED_PREFIX, Listing
from .watchdog import Watchdog

CHECKSUM_KEYS = (
    "ETag",
    "etag",
    "md5Hash",
    "md5",
    "content_md5",
    "Content-MD5",
    "checksum",
    "crc32c",
)
TIME_KEYS = (
    "mtime",
    "LastModified",
    "last_modified",
    "Last-Modified",
    "modify",  # ftp's MLSD
    "modified",
    "updated",
    "created",
)
RACY_SECONDS = 2.0  # a whole-second time this close to now may still change within its tick


def list_with_find(fs: Any, root: str, rules: KeyRules, watchdog: Watchdog) -> Listing:
    try:
        fs.invalidate_cache()  # s3fs and friends cache listings per instance; a pull must see now
        if protocol_of(fs) in ("http", "https"):
            found = watchdog.call(fsspec_sync, fs, walk_web_pages(fs, root))
        else:
            found = watchdog.call(fs.find, root, detail=True)
        if not found and not watchdog.call(fs.exists, root):
            raise FileNotFoundError(root)
        blind = [
            path for path, info in found.items() if is_file(info) and not identity_fields(info)
        ]
        if blind:  # the listing tells nothing of the content (HTTP pages): ask each file
            found.update(watchdog.call(file_details, fs, blind))
    except Exception as exc:
        raise describe_failure(exc, rules.url) from None
    listing = Listing(root.rstrip("/") + "/")
    base, skip = listing.base, len(listing.base)
    now, time_etags = time.time(), protocol_of(fs) in TIME_DERIVED_ETAGS
    unknown = 0
    for path, info in found.items():
        if not is_file(info):
            continue
        if path.startswith(base):
            rel = unquote(path[skip:]) if base.startswith("http") else path[skip:]
            if "?" in rel or "#" in rel:
                continue  # a web page's sort or anchor link, not a file
            if base + rel != path:
                listing.odd_paths[rel] = path
        else:
            rel = single_object_name(path, root, rules)
            listing.odd_paths[rel] = path
        rules.check_key(rel, path)
        if not rel.startswith(RESERVED_PREFIX):
            identity = remote_identity(info, now, time_etags)
            unknown += identity.startswith(UNKNOWN)
            listing.add(rel, identity)
    rules.check_folder_clash(listing.files, listing.folders)
    if unknown:
        listing.notes.append(
            f"{unknown} file(s) of {rules.where} come with no size, date or checksum, so changes "
            "cannot be told: they are downloaded on every pull and compared by content"
        )
    return listing


def is_file(info: dict[str, Any]) -> bool:
    """A file, not a folder nor a zero-byte ``folder/`` placeholder object."""
    name = info.get("name", "")
    return info.get("type", "file") == "file" and not (name[-1:] == "/" and not info.get("size"))


def identity_fields(info: dict[str, Any]) -> bool:
    return info.get("size") is not None or any(info.get(k) for k in CHECKSUM_KEYS + TIME_KEYS)


def fsspec_sync(fs: Any, coroutine: Any) -> Any:
    from fsspec.asyn import sync

    return sync(fs.loop, lambda: coroutine)


async def walk_web_pages(fs: Any, root: str) -> dict[str, dict[str, Any]]:
    """Every file linked from the folder pages under ``root``: each folder page is fetched with
    its trailing slash (fsspec's own walk drops it, costing a redirect per folder), the pages of
    one depth together. A root that is no folder page is one file."""
    import asyncio

    found: dict[str, dict[str, Any]] = {}
    try:
        pending = sort_entries(await fs._ls_real(root.rstrip("/") + "/", detail=True), found)
    except FileNotFoundError:
        pending = []
    if not found and not pending:  # the root names one file (its info raises when it is none)
        return {root: {**(await fs._info(root)), "name": root, "type": "file"}}
    while pending:
        pages = await asyncio.gather(*(fs._ls_real(url, detail=True) for url in pending))
        pending = []
        for entries in pages:
            pending += sort_entries(entries, found)
    return found


def sort_entries(entries: list[dict[str, Any]], found: dict[str, dict[str, Any]]) -> list[str]:
    """Files into ``found``; returns the folders' URLs."""
    folders = []
    for entry in entries:
        if entry["type"] == "directory":
            folders.append(entry["name"])
        else:
            found[entry["name"]] = entry
    return folders


def file_details(fs: Any, paths: list[str]) -> dict[str, dict[str, Any]]:
    """``info()`` of each path (a HEAD over HTTP): together on an async back end."""
    if not getattr(fs, "async_impl", False):
        return {path: {**fs.info(path), "name": path} for path in paths}

    async def all_details() -> list[Any]:
        from fsspec.asyn import _run_coros_in_chunks

        return await _run_coros_in_chunks([fs._info(path) for path in paths], batch_size=32)

    details = fsspec_sync(fs, all_details())
    for detail in details:
        if isinstance(detail, Exception):
            raise detail
    return {path: {**detail, "name": path} for path, detail in zip(paths, details, strict=True)}


def single_object_name(path: str, root: str, rules: KeyRules) -> str:
    """The name of a listed path that is not below the root: the root itself (a single object)."""
    if path.rstrip("/") == root.rstrip("/"):
        return os.path.basename(root.rstrip("/"))
    raise describe_failure(
        ValueError(f"the listing returned {shown(path)}, which is not under {root!r}"), rules.url
    )


UNKNOWN = "unknown:"


def remote_identity(info: dict[str, Any], now: float, time_etags: bool = False) -> str:
    """What changes when the object's content changes: a checksum/ETag if the back end offers
    one, else its modification time; always with the size.

    A time that is not older than ``RACY_SECONDS`` could be shared by a second write of the
    same size within the same tick (SFTP and FTP times are whole seconds, and so are the ETags
    WebDAV and HTTP servers make from the time): such an identity is made unique, so the next
    pull fetches the file again and compares its content."""
    size = info.get("size")
    key, stamp = next(
        ((k, info[k]) for k in TIME_KEYS if info.get(k) not in (None, "")), ("", None)
    )
    racy = stamp is not None and is_racy(seconds_of(stamp), now)
    for checksum in CHECKSUM_KEYS:
        value = info.get(checksum)
        if value:
            identity = f"{checksum}:{str(value).strip(chr(34))}:{size}"
            return racy_identity(identity) if racy and time_etags else identity
    if stamp is not None:
        if isinstance(stamp, datetime):
            stamp = stamp.isoformat()
        identity = f"{key}:{stamp!r}:{size}"
        return racy_identity(identity) if racy else identity
    if size is None:
        return f"{UNKNOWN}{uuid.uuid4().hex}"
    return f"size:{size}"


def is_racy(seconds: float, now: float) -> bool:
    """Whether a write within the same tick could still follow unseen. Only times in whole
    seconds are doubted: a finer one (a local file's) ticks faster than a pull follows a write,
    as the local listing's identities assume too."""
    return seconds == int(seconds) and now - seconds < RACY_SECONDS


def racy_identity(identity: str) -> str:
    return f"{identity}:racy-{uuid.uuid4().hex[:12]}"


def seconds_of(stamp: Any) -> float:
    """A listing's time as seconds since the epoch (the far past when it cannot be read, so an
    unreadable time is trusted as it is)."""
    if isinstance(stamp, datetime):
        return stamp.timestamp()  # a naive one is local time, as fromtimestamp() gives it
    if isinstance(stamp, (int, float)):
        return float(stamp)
    text = str(stamp)
    for parse in (
        lambda t: parsedate_to_datetime(t),  # HTTP: Wed, 21 Oct 2015 07:28:00 GMT
        lambda t: datetime.strptime(t[:14], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc),
        lambda t: datetime.fromisoformat(t.replace("Z", "+00:00")),
    ):
        with contextlib.suppress(Exception):
            return seconds_of(parse(text))
    return 0.0

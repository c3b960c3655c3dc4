"""The source side of a pull: the fsspec filesystem for a URL, and one listing of its files.

The listing is what every decision of a pull compares with the manifest, so it is taken once and
checked whole (``keys.KeyRules``) before anything is written.

A folder on this machine (fsspec's ``LocalFileSystem``, exactly: a subclass may be anything) is
listed with ``os.scandir`` instead of ``fs.find``: fsspec builds a dict per entry and strips the
protocol from every path (84 % of a no-change pull of 20,000 files went there), where a scandir
walk costs one ``stat`` per file. It follows what ``find`` follows (links to files and folders, a
loop guard added) and skips what ``find`` lists but no one can copy (sockets, fifos, devices,
dangling links). Every other back end is listed with one ``find``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ..errors import StorageConfigError, StoragePullError
from ..secrets import redact, reveal
from .backends import (
    TIME_DERIVED_ETAGS,
    arm_timeouts,
    filesystem_options,
    package_for,
    protocol_of,
)
from .hints import describe_failure, first_line
from .keys import KeyRules, shown
from .watchdog import STALL_SECONDS, Watchdog

RESERVED_PREFIX = ".ipy_storage_"  # our bookkeeping; never taken from a source


def open_filesystem(url: str, settings: dict[str, Any]) -> tuple[Any, str]:
    """Build the fsspec filesystem; secrets are revealed here and nowhere else."""
    import fsspec
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    check_protocol(protocol, url)
    options = filesystem_options(protocol, reveal(dict(settings)))
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise missing_package(protocol, url, exc) from None
    except (TypeError, ValueError) as exc:
        raise StorageConfigError(
            f"Cannot open {redact(url)}: {first_line(exc)}; check the URL and its settings."
        ) from None
    except Exception as exc:
        raise describe_failure(exc, url) from None
    arm_timeouts(fs, STALL_SECONDS)
    return fs, root


def check_protocol(protocol: str, url: str) -> None:
    """An unknown protocol is a pull failure, not a configuration error: it may be registered
    later (SPEC §3.2)."""
    from fsspec.registry import known_implementations, registry

    if protocol not in known_implementations and protocol not in registry:
        raise StoragePullError(
            f"Cannot pull {redact(url)}: fsspec knows no protocol {protocol!r}; install the "
            f"package that provides it (for example s3fs for s3://, gcsfs for gs://, adlfs for "
            f"az://) or register it with fsspec.register_implementation."
        )


def missing_package(protocol: str, url: str, exc: ImportError) -> StoragePullError:
    """fsspec knows the protocol, but the package that implements it is not installed."""
    package = package_for(protocol)
    advice = f"pip install {package}" if package else "install the package for this protocol"
    return StoragePullError(
        f"Cannot pull {redact(url)}: the {protocol}:// back end is not installed "
        f"({first_line(exc)}); {advice}."
    )


@dataclass
class Listing:
    """The source as listed once: each file's identity by its POSIX path in the destination
    (``files``), the same names grouped by folder (``folders``: ``""`` is the top), and whether
    the source is a local folder (then ``path(rel)`` is a plain path the os module can open)."""

    base: str  # the source root's path, ending with "/"
    files: dict[str, str] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)
    local: bool = False
    odd_paths: dict[str, str] = field(default_factory=dict)  # where base + rel is not the path
    skipped: list[str] = field(default_factory=list)  # links pointing out of a local source
    notes: list[str] = field(default_factory=list)  # what the user should know of this source

    def path(self, rel: str) -> str:
        return self.odd_paths.get(rel) or self.base + rel

    def add(self, rel: str, identity: str) -> None:
        self.files[rel] = identity
        folder, _, name = rel.rpartition("/")
        names = self.folders.get(folder)
        if names is None:
            self.folders[folder] = [name]
        else:
            names.append(name)


def list_source(fs: Any, root: str, url: str, destination: Path, watchdog: Watchdog) -> Listing:
    """One listing of every file under ``root``, each key checked."""
    from fsspec.implementations.local import LocalFileSystem

    rules = KeyRules(destination, url)
    if type(fs) is LocalFileSystem:
        return list_local_folder(root, rules, destination)
    return list_with_find(fs, root, rules, watchdog)


# --------------------------------------------------------------------------- a local folder


def list_local_folder(root: str, rules: KeyRules, destination: Path) -> Listing:
    listing = Listing(root.rstrip("/") + "/", local=True)
    try:
        top = os.stat(root)
    except OSError as exc:
        raise describe_failure(exc, rules.url) from None
    if not stat.S_ISDIR(top.st_mode):  # a URL naming one file
        name = os.path.basename(root.rstrip("/"))
        rules.check_key(name, name)
        listing.odd_paths[name] = root
        listing.add(name, local_identity(top))
        return listing
    walk = LocalWalk(listing, rules, os.path.realpath(root))
    skip = {str(destination)}  # a destination inside its own source is not content
    seen = {(top.st_dev, top.st_ino)}
    pending = [("", root.rstrip("/"))]
    while pending:
        folder, path = pending.pop()
        for rel, entry_path, st in walk.folder(folder, path):
            if entry_path not in skip and first_visit(st, seen):
                pending.append((rel, entry_path))
    if listing.skipped:
        listing.skipped.sort()
        listing.notes.append(
            f"{len(listing.skipped)} link(s) in {rules.where} point outside it and were skipped "
            f"(never followed): {', '.join(map(shown, listing.skipped[:3]))}"
            + (" …" if len(listing.skipped) > 3 else "")
        )
    return listing


class LocalWalk:
    """The walk of one local source. Links are what rsync's ``--safe-links`` makes of them: a
    link to a file or folder inside the source is pulled as what it points to; one pointing
    outside (a shared class folder linking to someone's ``~/.ssh``) is skipped and reported,
    its target never read."""

    def __init__(self, listing: Listing, rules: KeyRules, real_root: str) -> None:
        self.listing = listing
        self.rules = rules
        self.inside = real_root.rstrip("/") + "/"

    def folder(self, folder: str, path: str) -> list[tuple[str, str, os.stat_result]]:
        """Add the files of one folder to the listing; returns its folders (rel, path, stat).

        The hot loop of a no-change pull: one ``stat`` per file, relative to the folder's
        descriptor (shorter for the kernel than a whole path). The names are checked together,
        and one by one only when some name could break a rule (a leading dot, ``~``,
        non-ASCII, or near a length limit)."""
        listing, rules = self.listing, self.rules
        prefix = folder + "/" if folder else ""
        files, names, folders = listing.files, [], []
        is_file, is_folder, stat_at = stat.S_ISREG, stat.S_ISDIR, os.stat
        # below a linked folder, files are read where the link pointed when it was checked
        linked = path + "/" != listing.base + prefix
        try:
            handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise describe_failure(exc, rules.url, key=folder or None) from None
        try:
            with os.scandir(handle) as entries:
                found = [(entry.name, entry.is_symlink()) for entry in entries]
            links = {name for name, link in found if link}
            for name in checked_names([name for name, _ in found], folder, prefix, rules):
                try:
                    st = stat_at(name, dir_fd=handle)  # follows links, as find does
                except OSError:
                    continue  # a dangling link, or gone since the listdir
                entry_path = f"{path}/{name}"
                if name in links:
                    entry_path = self.target(entry_path, prefix + name)
                    if entry_path is None:
                        continue
                if is_file(st.st_mode):
                    names.append(name)
                    files[prefix + name] = f"{st.st_mtime_ns}:{st.st_size}"  # local_identity
                    if linked or name in links:
                        listing.odd_paths[prefix + name] = entry_path
                elif is_folder(st.st_mode):
                    folders.append((prefix + name, entry_path, st))
        finally:
            os.close(handle)
        if names:
            listing.folders[folder] = names
        return folders

    def target(self, path: str, rel: str) -> str | None:
        """Where a link inside the source points, resolved; None (and reported) when that is
        outside the source."""
        real = os.path.realpath(path)
        if (real + "/").startswith(self.inside):
            return real
        self.listing.skipped.append(rel)
        return None


def checked_names(names: list[str], folder: str, prefix: str, rules: KeyRules) -> list[str]:
    """The names of one folder that are content, each checked against the key rules."""
    limit = min(rules.name_max + 1, rules.path_max - rules.base - len(os.fsencode(prefix)))
    joined = "/".join(names)  # one pass in C over every name
    if not names or (
        joined.isascii()
        and "/." not in "/" + joined
        and "~" not in joined
        and max(map(len, names)) < limit
    ):
        return names
    kept = []
    for name in names:
        if not folder and name.startswith(RESERVED_PREFIX):
            continue  # our own bookkeeping, when the source is another pull's destination
        rules.check_name(name, prefix + name)
        rules.check_path(prefix + name, prefix + name)
        kept.append(name)
    return kept


def first_visit(st: os.stat_result, seen: set[tuple[int, int]]) -> bool:
    """False for a folder already walked (a link back up would never end)."""
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return False
    seen.add(key)
    return True


def local_identity(st: os.stat_result) -> str:
    """A local file's identity: its modification time (ns) and size."""
    return f"{st.st_mtime_ns}:{st.st_size}"


# --------------------------------------------------------------------------- any other back end

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
    one depth together."""
    import asyncio

    found: dict[str, dict[str, Any]] = {}
    pending = [root.rstrip("/") + "/"]
    while pending:
        pages = await asyncio.gather(*(fs._ls_real(url, detail=True) for url in pending))
        pending = []
        for entries in pages:
            for entry in entries:
                if entry["type"] == "directory":
                    pending.append(entry["name"])
                else:
                    found[entry["name"]] = entry
    if not found and not pending:
        with contextlib.suppress(FileNotFoundError):  # the root names one file
            found[root] = await fs._info(root)
    return found


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

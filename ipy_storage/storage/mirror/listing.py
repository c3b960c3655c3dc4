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

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import StorageConfigError
from ..secrets import redact, reveal
from .hints import describe_failure, squeezed_message
from .keys import KeyRules, shown

RESERVED_PREFIX = ".ipy_storage_"  # our bookkeeping; never taken from a source

# Fail fast on an unreachable S3 endpoint (botocore's defaults retry for ~10 s, and minutes on a
# black-holed address); applied only where the user set nothing.
S3_FAST_FAILURE = {"connect_timeout": 5, "retries": {"max_attempts": 2, "mode": "standard"}}


def open_filesystem(url: str, settings: dict[str, Any]) -> tuple[Any, str]:
    """Build the fsspec filesystem; secrets are revealed here and nowhere else."""
    import fsspec
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    check_protocol(protocol, url)
    options = with_fast_failure(protocol, reveal(dict(settings)))
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise missing_package(protocol, url, exc) from None
    except (TypeError, ValueError) as exc:
        raise StorageConfigError(
            f"Cannot open {redact(url)}: {squeezed_message(exc)}; check the URL and its settings."
        ) from None
    except Exception as exc:
        raise describe_failure(exc, url) from None


def check_protocol(protocol: str, url: str) -> None:
    """An unknown protocol fails at pull, not at construction (it may be registered later)."""
    from fsspec.registry import known_implementations, registry

    if protocol not in known_implementations and protocol not in registry:
        raise StorageConfigError(
            f"Cannot pull {redact(url)}: fsspec knows no protocol {protocol!r}; install the "
            f"package that provides it (for example s3fs for s3://, gcsfs for gs://, adlfs for "
            f"az://) or register it with fsspec.register_implementation."
        )


def missing_package(protocol: str, url: str, exc: ImportError) -> StorageConfigError:
    """fsspec knows the protocol, but the package that implements it is not installed."""
    from fsspec.registry import known_implementations

    package = known_implementations.get(protocol, {}).get("class", "").split(".", 1)[0]
    advice = f"pip install {package}" if package else "install the package for this protocol"
    return StorageConfigError(
        f"Cannot pull {redact(url)}: the {protocol}:// back end is not installed "
        f"({squeezed_message(exc)}); {advice}."
    )


def with_fast_failure(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """Add a short connect timeout and few retries for S3 where the user chose none."""
    if protocol not in ("s3", "s3a"):
        return options
    config = dict(options.get("config_kwargs") or {})
    for key, value in S3_FAST_FAILURE.items():
        config.setdefault(key, value)
    return {**options, "config_kwargs": config}


@dataclass
class Listing:
    """The source as listed once: each file's identity by its POSIX path in the destination
    (``files``), the same names grouped by folder (``folders``: ``""`` is the top), and whether
    the source is a local folder (then ``path(rel)`` is a plain path the os module can open)."""

    base: str  # the source root's path, ending with "/"
    files: dict[str, str] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)
    local: bool = False
    odd_paths: dict[str, str] = field(default_factory=dict)  # a URL naming one object

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


def list_source(fs: Any, root: str, url: str, destination: Path) -> Listing:
    """One listing of every file under ``root``, each key checked."""
    from fsspec.implementations.local import LocalFileSystem

    rules = KeyRules(destination, url)
    if type(fs) is LocalFileSystem:
        return list_local_folder(root, rules, destination)
    return list_with_find(fs, root, rules)


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
    skip = {str(destination)}  # a destination inside its own source is not content
    seen = {(top.st_dev, top.st_ino)}
    pending = [("", root.rstrip("/"))]
    while pending:
        folder, path = pending.pop()
        for rel, entry_path, st in list_one_folder(listing, folder, path, rules):
            if entry_path not in skip and first_visit(st, seen):
                pending.append((rel, entry_path))
    return listing


def list_one_folder(
    listing: Listing, folder: str, path: str, rules: KeyRules
) -> list[tuple[str, str, os.stat_result]]:
    """Add the files of one folder to the listing; returns its folders (rel, path, stat).

    The hot loop of a no-change pull: one ``stat`` per file, relative to the folder's
    descriptor (shorter for the kernel than a whole path). The names are checked together, and
    one by one only when some name could break a rule (a leading dot, ``~``, non-ASCII, or near
    a length limit)."""
    prefix = folder + "/" if folder else ""
    files, names, folders = listing.files, [], []
    is_file, is_folder, stat_at = stat.S_ISREG, stat.S_ISDIR, os.stat
    try:
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise describe_failure(exc, rules.url, key=folder or None) from None
    try:
        for name in checked_names(os.listdir(handle), folder, prefix, rules):
            try:
                st = stat_at(name, dir_fd=handle)  # follows links, as find does
            except OSError:
                continue  # a dangling link, or gone since the listdir
            if is_file(st.st_mode):
                names.append(name)
                files[prefix + name] = f"{st.st_mtime_ns}:{st.st_size}"  # local_identity
            elif is_folder(st.st_mode):
                folders.append((prefix + name, f"{path}/{name}", st))
    finally:
        os.close(handle)
    if names:
        listing.folders[folder] = names
    return folders


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

_CHECKSUM_KEYS = ("ETag", "etag", "md5Hash", "md5", "content_md5", "checksum", "crc32c")
_TIME_KEYS = ("mtime", "LastModified", "last_modified", "updated", "modified", "created")


def list_with_find(fs: Any, root: str, rules: KeyRules) -> Listing:
    try:
        fs.invalidate_cache()  # s3fs and friends cache listings per instance; a pull must see now
        found = fs.find(root, detail=True)
        if not found and not fs.exists(root):
            raise FileNotFoundError(root)
    except Exception as exc:
        raise describe_failure(exc, rules.url) from None
    listing = Listing(root.rstrip("/") + "/")
    base, skip = listing.base, len(listing.base)
    for path, info in found.items():
        if info.get("type", "file") != "file" or (path[-1:] == "/" and not info.get("size")):
            continue  # folders and zero-byte "folder/" placeholder objects
        if path.startswith(base):
            rel = path[skip:]
        else:
            rel = single_object_name(path, root, rules)
            listing.odd_paths[rel] = path
        rules.check_key(rel, path)
        if not rel.startswith(RESERVED_PREFIX):
            listing.add(rel, remote_identity(info))
    rules.check_folder_clash(listing.files, listing.folders)
    return listing


def single_object_name(path: str, root: str, rules: KeyRules) -> str:
    """The name of a listed path that is not below the root: the root itself (a single object)."""
    if path.rstrip("/") == root.rstrip("/"):
        return os.path.basename(root.rstrip("/"))
    raise describe_failure(
        ValueError(f"the listing returned {shown(path)}, which is not under {root!r}"), rules.url
    )


def remote_identity(info: dict[str, Any]) -> str:
    """What changes when the object's content changes: a checksum/ETag if the back end offers
    one, else its modification time; always with the size."""
    size = info.get("size")
    for key in _CHECKSUM_KEYS:
        value = info.get(key)
        if value:
            return f"{key}:{str(value).strip(chr(34))}:{size}"
    for key in _TIME_KEYS:
        value = info.get(key)
        if value is not None and value != "":
            if isinstance(value, datetime):
                value = value.isoformat()
            return f"{key}:{value!r}:{size}"
    return f"size:{size}"

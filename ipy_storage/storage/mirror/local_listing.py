"""Listing a folder on this machine (fsspec's ``LocalFileSystem``, exactly: a subclass may be
anything) with ``os.scandir`` instead of ``fs.find``: fsspec builds a dict per entry and strips
the protocol from every path (84 % of a no-change pull of 20,000 files went there), where a
scandir walk costs one ``stat`` per file. It follows what ``find`` follows inside the source
(links to files and folders, a loop guard added), skips links that point outside it, and skips
what ``find`` lists but no one can copy (sockets, fifos, devices, dangling links).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .hints import describe_failure
from .keys import KeyRules, shown
from .listing import RESERVED_PREFIX, Listing


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
    pending = [("", root.rstrip("/"), frozenset({(top.st_dev, top.st_ino)}))]
    while pending:
        folder, path, above = pending.pop()
        for rel, entry_path, st in walk.folder(folder, path):
            key = (st.st_dev, st.st_ino)
            if entry_path not in skip and key not in above:  # a link back up would never end
                pending.append((rel, entry_path, above | {key}))
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
                    target = self.target(entry_path, prefix + name)
                    if target is None:
                        continue
                    entry_path = target
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


def local_identity(st: os.stat_result) -> str:
    """A local file's identity: its modification time (ns) and size."""
    return f"{st.st_mtime_ns}:{st.st_size}"

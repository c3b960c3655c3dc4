"""What one listing of a source holds: each file's identity by its path in the destination.

The listing is what every decision of a pull compares with the manifest, so it is taken once
(``source.list_source``: a local folder by ``local_listing``, any other back end by
``remote_listing``) and checked whole (``keys.KeyRules``) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RESERVED_PREFIX = ".ipy_storage_"  # our bookkeeping; never taken from a source


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

"""The mirror engine: a destination folder that follows any fsspec URL, incrementally, without
ever losing the user's work (behaviour §3.2, §5). ``RemoteStorage`` pulls with it, and so does
``BlockStorageAdapter`` (from the folder its block filled).

One pull, step by step (``pull.pull_mirror``, then ``pull.MirrorPull.run``):

1. **Open the source** (``source.open_filesystem``). The fsspec filesystem is built from the URL
   and the settings; secrets are revealed here and nowhere else. An unknown protocol, or one
   whose package is missing, fails now, as a pull error naming the package to install. What
   each back end can take is one table (``backends``): S3 gets a short connect timeout, sftp
   and ftp a connection of the pull's own (closed after it), sftp a read timeout.
2. **List it once** (``source.list_source``): every file's identity (ETag or checksum, else its
   time; with its size). A local folder is walked with ``os.scandir`` (``local_listing``: links
   pointing outside it are skipped and reported, never followed), anything else with one
   ``find`` (``remote_listing``: an HTTP server page by page, a HEAD per file for what pages do
   not say; whole-second times trusted once old enough). Every key is checked on the way
   (``keys``): one that would land outside the destination, that has a ``.git`` component (a
   planted git directory runs commands), or that is too long for the destination's file
   system fails the pull, naming the key, before anything is written. Every call to a remote
   source runs under a ``watchdog``: a source silent for too long fails the pull, which then
   releases its lock.
3. **Move to a backup** when ``reset=True`` (only now that the source answered), and make the
   destination folder if needed.
4. **Read the manifest** of the last pull (``manifest``), adopting what a killed pull had
   already placed (its journal).
5. **Decide per file** (``keep_work.decide``, behaviour §5): compare the listing with what was pulled
   last, and each local file that needs it with the copy that was written. When the source is as
   pulled last, only files the user deleted come back: no ``stat`` per file, and a ``listdir``
   only of the folders changed since they were last found complete. Upstream changes to files the user edited are merged into them (text and notebooks, against the version kept in ``pristine``), else not taken (``kept_local``).
6. **Delete** what upstream deleted and the user did not touch (``placement.Placer.delete``).
7. **Download** new and changed files into a staging folder inside the destination
   (``transfer``: the kernel copies local files, async back ends get one batched ``get``, sync
   ones a filesystem per worker thread, sftp and ftp one file at a time), and
   **place** each batch: journal it, then ``os.replace`` each file into its place
   (``placement``), so no reader ever sees half a file and a killed pull converges. Whatever is
   found in a file's way is looked at again first: a user's file is moved aside
   (``moved_aside``), never overwritten.
8. **Record what changed** (``manifest.Manifest.save``): one commit line in the journal, or,
   once the journal is long, the whole manifest, atomically. A pull that changed nothing writes
   nothing.

Any failure leaves as one line without secrets: the source's with Prefect's hints
(``hints.HINTS``), the destination's naming the key it was placing.

fsspec is imported inside the functions only: ``import ipy_storage`` stays fast.
"""

from .keys import is_git_dir_name
from .listing import RESERVED_PREFIX
from .manifest import HASH_LIMIT, JOURNAL_NAME, MANIFEST_NAME, Manifest
from .placement import STAGING_NAME
from .pull import pull_mirror

__all__ = [
    "HASH_LIMIT",
    "JOURNAL_NAME",
    "MANIFEST_NAME",
    "Manifest",
    "RESERVED_PREFIX",
    "STAGING_NAME",
    "is_git_dir_name",
    "pull_mirror",
]

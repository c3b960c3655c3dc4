"""A line merge of text, as git does it: ``git merge-file`` through GitPython's command layer.

``merge-file`` wants three files; they go to a private temporary folder that is removed
afterwards. Its exit status is the number of conflicts (0: clean); a negative one (shown as
255) means it could not merge at all (a binary file, say).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .outcome import MergeOutcome

TIMEOUT = 60.0  # seconds; merge-file is fast, this only stops a stuck one


def merge_text(base: bytes, local: bytes, upstream: bytes) -> MergeOutcome:
    import git

    with tempfile.TemporaryDirectory(prefix="ipy-storage-merge-") as scratch:
        names = []
        for label, content in (("local", local), ("base", base), ("upstream", upstream)):
            path = Path(scratch, label)
            path.write_bytes(content)
            names.append(str(path))
        running = git.Git(scratch).execute(  # GitPython kills it when this is collected
            [git.Git.GIT_PYTHON_GIT_EXECUTABLE, "merge-file", "-p", "-q", *names],
            as_process=True,
        )
        process = running.proc
        assert process is not None  # started with as_process
        try:
            merged, _stderr = process.communicate(timeout=TIMEOUT)
        finally:  # an interrupt or the timeout: git goes with it, nothing waits behind
            if process.poll() is None:
                process.kill()
                process.wait()
        status = process.returncode
    if status == 0:
        return MergeOutcome(merged)
    if 0 < status < 128:
        return MergeOutcome(None, "both changed the same lines: your version is kept")
    return MergeOutcome(None, "git cannot merge it line by line (binary?): your version is kept")

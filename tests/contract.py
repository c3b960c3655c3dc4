"""What the storage-contract tests share: Prefect's step names, a token holding every character a
URL must escape, a git URL, and objects shaped like Prefect blocks (``get_directory``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

GIT_STEP = "prefect.deployments.steps.git_clone"
REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
TOKEN = "ghp_s3cr3t+t0k/en=!#@x"
U = "https://github.com/o/r.git"


class FakeBlock:
    """A block look-alike: writes a fixed set of files into local_path."""

    def __init__(self, files=None, document_name=None, slug=None):
        self.files = files or {"flow.py": "print('hi')\n"}
        if document_name:
            self._block_document_name = document_name
        if slug:
            self._block_type_slug = slug
        self.calls = 0

    def get_directory(self, from_path=None, local_path=None):
        self.calls += 1
        for rel, text in self.files.items():
            target = Path(local_path) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)


class AsyncBlock(FakeBlock):
    async def get_directory(self, from_path=None, local_path=None):
        await asyncio.sleep(0)
        FakeBlock.get_directory(self, from_path, local_path)


class MyS3Bucket(FakeBlock):
    pass

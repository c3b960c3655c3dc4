"""``BlockStorageAdapter``: any object with ``get_directory`` (a Prefect block or look-alike),
behaviour §3.3."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .base import StorageBase
from .errors import StorageConfigError, StoragePullError
from .intervals import DEFAULT_PULL_INTERVAL
from .prefect_objects import block_document_name, block_type_slug, remember
from .result import ProgressCallback, PullResult
from .secrets import redact

PULL_WITH_BLOCK_STEP = "prefect.deployments.steps.pull_with_block"


def _run_maybe_async(result: Any) -> Any:
    """Finish what ``get_directory`` returned: await a coroutine on a private loop in this thread."""
    if not inspect.isawaitable(result):
        return result

    async def wait() -> Any:
        return await result

    return asyncio.run(wait()) if _no_running_loop() else _run_in_thread(wait)


def _no_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return True
    return False


def _run_in_thread(factory: Any) -> Any:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, factory()).result()


class BlockStorageAdapter(StorageBase):
    """Pulls through a block's ``get_directory`` into a staging folder, then syncs it into place.

    Named ``<slug>-<document name>`` as in Prefect; an unsaved block without ``name=`` is named
    by its slug alone (Prefect adds a random suffix, which gives a new folder in every kernel and
    two adapters of one block two destinations)."""

    _kind = "block"

    def __init__(
        self,
        block: Any,
        pull_interval: int | float | None = DEFAULT_PULL_INTERVAL,
        name: str | None = None,
    ) -> None:
        super().__init__(pull_interval)
        if not callable(getattr(block, "get_directory", None)):
            raise StorageConfigError("Provided block must have a `get_directory` method.")
        self._block = block
        self._slug = block_type_slug(block)
        self._document_name = block_document_name(block) or name
        self._name = f"{self._slug}-{self._document_name}" if self._document_name else self._slug
        remember(block)

    @property
    def block(self) -> Any:
        return self._block

    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        from .mirror import pull_mirror

        destination = self.destination
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{destination.name}.staging-", dir=destination.parent)
        )
        try:
            self._fetch_into(staging)
            return pull_mirror(
                staging.as_uri(), {}, destination, name=self.name, reset=reset, progress=progress
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _fetch_into(self, staging: Path) -> None:
        try:
            _run_maybe_async(self._block.get_directory(local_path=str(staging)))
        except Exception as exc:
            message = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise StoragePullError(
                f"Block {self._slug}/{self._document_name or '?'} failed to provide its files: {message}"
            ) from None

    def to_pull_step(self) -> dict[str, Any]:
        own = getattr(self._block, "get_pull_step", None)
        if callable(own):
            return own()
        if not self._document_name:
            raise StorageConfigError(
                "This block has no name, so a pull step cannot load it: save the block or pass name=... ."
            )
        return {
            PULL_WITH_BLOCK_STEP: {
                "block_type_slug": self._slug,
                "block_document_name": self._document_name,
            }
        }

    def _identity(self) -> tuple:
        """Prefect's: the block (two adapters of one block are one storage)."""
        return (self._block,)

    def __repr__(self) -> str:
        return f"BlockStorageAdapter(block_type_slug={self._slug!r}, block_document_name={self._document_name!r})"

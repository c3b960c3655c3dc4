"""``LocalStorage``: a directory that is already here (behaviour §3.4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import StorageBase
from .errors import SourceNotFoundError, StorageConfigError
from .result import ProgressCallback, PullResult

SET_WORKING_DIRECTORY_STEP = "prefect.deployments.steps.set_working_directory"


class LocalStorage(StorageBase):
    """A local directory; pulling only checks that it is there."""

    _kind = "local"
    _writes_destination = False

    def __init__(self, path: str | Path, pull_interval: int | float | None = None) -> None:
        super().__init__(pull_interval)
        if not isinstance(path, (str, Path)) or not str(path):
            raise StorageConfigError("Invalid path: give the directory that holds the code.")
        self._path = Path(path).expanduser().resolve()

    @property
    def name(self) -> str:
        return self._path.name

    @property
    def destination(self) -> Path:
        return self._path

    def set_base_path(self, path: str | Path) -> None:
        """Kept for the contract; a local directory does not move."""

    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        if not self._path.is_dir():
            raise SourceNotFoundError(
                f"Local path {self._path} does not exist: check the path exists."
            )
        return PullResult(storage=self.name, destination=self._path)

    def to_pull_step(self) -> dict[str, Any]:
        return {SET_WORKING_DIRECTORY_STEP: {"directory": str(self._path)}}

    def _identity(self) -> tuple:
        return (self._path, self._pull_interval)

    def __repr__(self) -> str:
        return f"LocalStorage(path={self._path!r})"

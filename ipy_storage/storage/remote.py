"""``RemoteStorage``: any fsspec URL (behaviour §3.2). Configuration and pull step live here; the
incremental engine that pulls it lives in ``mirror``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .base import StorageBase
from .errors import StorageConfigError
from .intervals import DEFAULT_PULL_INTERVAL
from .result import ProgressCallback, PullResult
from .secret_settings import check_no_plaintext, secret_texts
from .secrets import to_placeholders
from .step_warnings import warn_about_step

REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"


def known_protocols() -> set[str]:
    """Every protocol fsspec can build a filesystem for (built in, installed or registered)."""
    from fsspec.registry import known_implementations, registry

    return set(known_implementations) | set(registry)


def required_package(scheme: str) -> str | None:
    """The pip package a Prefect worker needs for ``scheme`` (s3 → s3fs, sftp → paramiko …)."""
    from .mirror.backends import package_for

    return package_for(scheme)


def as_lists(value: Any) -> Any:
    """Tuples as lists, recursively: how a setting reads back from a pull step."""
    if isinstance(value, dict):
        return {key: as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_lists(item) for item in value]
    return value


def destination_name(url: str) -> str:
    """``<netloc>/<path>`` of the URL; for ``file:///abs/dir`` just ``dir``."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "local"):
        name = Path(parts.netloc + parts.path).name
    else:
        name = "/".join(p for p in (parts.netloc + "/" + parts.path).split("/") if p)
    if not name or ".." in name.split("/"):
        raise StorageConfigError(
            f"Invalid URL {url!r}: it needs a bucket or folder (e.g. s3://bucket/path) and no '..'."
        )
    return name


class RemoteStorage(StorageBase):
    """Files under an fsspec URL, synced incrementally into ``base_path / <netloc> / <path>``.

    Settings may hold secrets in plain text for pulling; only ``to_pull_step()`` needs them as
    ``Secret``. A protocol fsspec does not know yet is accepted (it may be registered later) and
    fails at pull time."""

    _kind = "remote"

    def __init__(
        self, url: str, pull_interval: int | float | None = DEFAULT_PULL_INTERVAL, **settings: Any
    ) -> None:
        super().__init__(pull_interval)
        if not isinstance(url, str) or "://" not in url:
            raise StorageConfigError(
                f"Invalid URL {url!r}: give an fsspec URL such as s3://bucket/path or file:///abs/dir."
            )
        if "@" in urlsplit(url).netloc:
            raise StorageConfigError(
                "Invalid URL: do not put credentials in it (they would name the local folder); "
                "pass them as settings, e.g. password=Secret.from_env('VAR')."
            )
        self._url = url
        self._settings = settings
        self._name = destination_name(url)

    @property
    def url(self) -> str:
        return self._url

    @property
    def settings(self) -> dict[str, Any]:
        """The fsspec settings (secrets stay wrapped in Secret)."""
        return dict(self._settings)

    def _pull(self, reset: bool, progress: ProgressCallback | None) -> PullResult:
        from .mirror import pull_mirror

        return pull_mirror(
            self._url,
            self._settings,
            self.destination,
            name=self.name,
            reset=reset,
            progress=progress,
        )

    def to_pull_step(self) -> dict[str, Any]:
        """The ``pull_from_remote_storage`` step, secrets as Prefect placeholders; a secret in
        plain text is refused (it would be written into prefect.yaml)."""
        check_no_plaintext(self._settings)
        step: dict[str, Any] = {"url": self._url, **to_placeholders(self._settings)}
        package = required_package(urlsplit(self._url).scheme)
        if package:
            step["requires"] = package
        return warn_about_step({REMOTE_STEP: step})

    def _secret_values(self) -> set[str]:
        """The settings' secrets: Secret holders and plain values in secret-bearing places."""
        return secret_texts(self._settings)

    def _identity(self) -> tuple:
        """Prefect's: ``url`` and ``settings`` (never ``pull_interval``); a tuple equals the list
        it becomes in a pull step."""
        return (self._url, as_lists(self._settings))

    def __repr__(self) -> str:
        return f"RemoteStorage(url={self._url!r})"

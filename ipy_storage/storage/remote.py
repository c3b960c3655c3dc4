"""``RemoteStorage``: any fsspec URL (SPEC §3.2). Configuration and pull step live here; the
incremental engine that pulls it lives in ``mirror``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .base import StorageBase
from .errors import StorageConfigError
from .result import ProgressCallback, PullResult
from .secrets import Secret, to_placeholders

REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
SECRET_SETTING_KEYS = frozenset(
    {
        "key",
        "secret",
        "token",
        "password",
        "access_key",
        "secret_key",
        "account_key",
        "sas_token",
        "client_secret",
        "access_token",
        "aws_secret_access_key",
        "aws_session_token",
    }
)


def known_protocols() -> set[str]:
    """Every protocol fsspec can build a filesystem for (built in, installed or registered)."""
    from fsspec.registry import known_implementations, registry

    return set(known_implementations) | set(registry)


def required_package(scheme: str) -> str | None:
    """The pip package a Prefect worker needs for ``scheme`` (s3 → s3fs, file → fsspec …)."""
    from fsspec.registry import known_implementations, registry

    if scheme in known_implementations:
        return known_implementations[scheme]["class"].split(".", 1)[0]
    if scheme in registry:
        return registry[scheme].__module__.split(".", 1)[0]
    return None


def _check_settings(settings: dict[str, Any], where: str = "") -> None:
    for key, value in settings.items():
        if isinstance(value, dict):
            _check_settings(value, f"{where}{key}.")
        elif (
            key.lower() in SECRET_SETTING_KEYS
            and value is not None
            and not isinstance(value, Secret)
        ):
            raise StorageConfigError(
                f"Setting {where}{key!r} holds a secret in plain text: use Secret(value, name=...) "
                f"or Secret.from_env('VAR') so it never lands in a pull step."
            )


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
    """Files under an fsspec URL, synced incrementally into ``base_path / <netloc> / <path>``."""

    _kind = "remote"

    def __init__(self, url: str, pull_interval: int | float | None = 60, **settings: Any) -> None:
        super().__init__(pull_interval)
        if not isinstance(url, str) or "://" not in url:
            raise StorageConfigError(
                f"Invalid URL {url!r}: give an fsspec URL such as s3://bucket/path or file:///abs/dir."
            )
        scheme = urlsplit(url).scheme
        if scheme not in known_protocols():
            raise StorageConfigError(
                f"Unknown protocol {scheme!r} in {url!r}: install the fsspec back end for it (e.g. s3fs for s3://)."
            )
        if "@" in urlsplit(url).netloc:
            raise StorageConfigError(
                "Invalid URL: do not put credentials in it; pass them as settings wrapped in Secret."
            )
        _check_settings(settings)
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
        """The ``pull_from_remote_storage`` step, secrets as Prefect placeholders."""
        step: dict[str, Any] = {"url": self._url, **to_placeholders(self._settings)}
        package = required_package(urlsplit(self._url).scheme)
        if package:
            step["requires"] = package
        return {REMOTE_STEP: step}

    def _identity(self) -> tuple:
        return (self._url, self._settings, self._pull_interval)

    def __repr__(self) -> str:
        return f"RemoteStorage(url={self._url!r})"

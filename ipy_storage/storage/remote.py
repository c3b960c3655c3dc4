"""``RemoteStorage``: any fsspec URL (SPEC §3.2). Configuration and pull step live here; the
incremental engine that pulls it lives in ``mirror``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .base import StorageBase
from .errors import StorageConfigError
from .intervals import DEFAULT_PULL_INTERVAL
from .result import ProgressCallback, PullResult
from .secrets import is_secret, reveal, secret_forms, to_placeholders
from .step_warnings import warn_about_step

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


def _plaintext_secrets(settings: dict[str, Any], where: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of every setting under a secret key that is not a Secret."""
    found = []
    for key, value in settings.items():
        if isinstance(value, dict):
            found += _plaintext_secrets(value, f"{where}{key}.")
        elif key.lower() in SECRET_SETTING_KEYS and value is not None and not is_secret(value):
            found.append((f"{where}{key!r}", value))
    return found


def _secret_texts(value: Any) -> set[str]:
    """The texts of every secret holder in ``value`` (recursively), read now."""
    if is_secret(value):
        try:
            text = reveal(value)
        except StorageConfigError:  # an unset environment variable: nothing to mask
            return set()
        return secret_forms(text) if isinstance(text, str) else set()
    if isinstance(value, dict):
        return set().union(*(_secret_texts(item) for item in value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_secret_texts(item) for item in value))
    return set()


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
        plaintext = _plaintext_secrets(self._settings)
        if plaintext:
            raise StorageConfigError(
                f"Setting {plaintext[0][0]} holds a secret in plain text, so it cannot go into a "
                "pull step: use Secret(value, name=...) (saved as a Prefect Secret block) or "
                "Secret.from_env('VAR')."
            )
        step: dict[str, Any] = {"url": self._url, **to_placeholders(self._settings)}
        package = required_package(urlsplit(self._url).scheme)
        if package:
            step["requires"] = package
        return warn_about_step({REMOTE_STEP: step})

    def _secret_values(self) -> set[str]:
        """The settings' secrets: Secret holders and plain values under secret keys."""
        plain = {value for _, value in _plaintext_secrets(self._settings) if isinstance(value, str)}
        return _secret_texts(self._settings) | set().union(*(secret_forms(v) for v in plain))

    def _identity(self) -> tuple:
        """Prefect's: ``url`` and ``settings`` (never ``pull_interval``)."""
        return (self._url, self._settings)

    def __repr__(self) -> str:
        return f"RemoteStorage(url={self._url!r})"

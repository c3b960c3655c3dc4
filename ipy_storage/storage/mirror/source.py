"""The source side of a pull: the fsspec filesystem for a URL, and one listing of its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import StorageConfigError, StoragePullError
from ..secrets import redact, reveal
from .backends import (
    CONNECTIONS,
    SEQUENTIAL,
    arm_timeouts,
    close_filesystem,
    filesystem_options,
    package_for,
)
from .hints import describe_failure, squeezed_message
from .keys import KeyRules
from .listing import Listing
from .local_listing import list_local_folder
from .remote_listing import list_with_find
from .watchdog import STALL_SECONDS, Watchdog


def open_filesystem(url: str, settings: dict[str, Any]) -> tuple[Any, str]:
    """Build the fsspec filesystem; secrets are revealed here and nowhere else."""
    import fsspec
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    check_protocol(protocol, url)
    options = filesystem_options(protocol, reveal(dict(settings)))
    if protocol in SEQUENTIAL:
        fs = CONNECTIONS.borrow(CONNECTIONS.key(url, options))
        if fs is not None:
            return fs, type(fs)._strip_protocol(url)
    try:
        fs, root = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise missing_package(protocol, url, exc) from None
    except (TypeError, ValueError) as exc:
        raise StorageConfigError(
            f"Cannot open {redact(url)}: {squeezed_message(exc)}; check the URL and its settings."
        ) from None
    except Exception as exc:
        raise describe_failure(exc, url) from None
    arm_timeouts(fs, STALL_SECONDS)
    return fs, root


def check_protocol(protocol: str, url: str) -> None:
    """An unknown protocol is a pull failure, not a configuration error: it may be registered
    later (behaviour §3.2)."""
    from fsspec.registry import known_implementations, registry

    if protocol not in known_implementations and protocol not in registry:
        raise StoragePullError(
            f"Cannot pull {redact(url)}: fsspec knows no protocol {protocol!r}; install the "
            f"package that provides it (for example s3fs for s3://, gcsfs for gs://, adlfs for "
            f"az://) or register it with fsspec.register_implementation."
        )


def missing_package(protocol: str, url: str, exc: ImportError) -> StoragePullError:
    """fsspec knows the protocol, but the package that implements it is not installed."""
    package = package_for(protocol)
    advice = f"pip install {package}" if package else "install the package for this protocol"
    return StoragePullError(
        f"Cannot pull {redact(url)}: the {protocol}:// back end is not installed "
        f"({squeezed_message(exc)}); {advice}."
    )


def list_source(fs: Any, root: str, url: str, destination: Path, watchdog: Watchdog) -> Listing:
    """One listing of every file under ``root``, each key checked."""
    from fsspec.implementations.local import LocalFileSystem

    rules = KeyRules(destination, url)
    if type(fs) is LocalFileSystem:
        return list_local_folder(root, rules, destination)
    return list_with_find(fs, root, rules, watchdog)


def release_filesystem(fs: Any, url: str, settings: dict[str, Any], succeeded: bool) -> None:
    """After a pull: a connection that served a successful pull waits for the next one; any
    other is closed (a failed pull's may be what failed)."""
    from fsspec.utils import get_protocol

    protocol = get_protocol(url)
    if protocol not in SEQUENTIAL:
        return
    if succeeded:
        options = filesystem_options(protocol, reveal(dict(settings)))
        CONNECTIONS.give_back(CONNECTIONS.key(url, options), fs)
    else:
        close_filesystem(fs)

"""The words every view uses for a storage: its kind, its source (never with credentials), where
it pulls to, its interval and its status line."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..storage.secrets import redact


def relative_destination(path: Path) -> str:
    """``path`` relative to the notebook's directory when it is below it, else absolute."""
    try:
        return Path(path).relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def interval_text(interval: float | None) -> str:
    return "once (no timer)" if interval is None else f"every {interval:g}s"


def kind_of(storage: Any) -> str:
    return getattr(storage, "kind", type(storage).__name__)


def source_of(storage: Any) -> str:
    """Where the storage pulls from, never with credentials."""
    url = getattr(storage, "url", None)
    if url:
        return redact(url)
    if kind_of(storage) == "local":
        return str(storage.destination)
    return redact(repr(storage))


def clock(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "—"


def status_text(status: dict[str, Any] | None) -> str:
    """One line from a ``Workspace.status()`` entry."""
    if status is None:
        return "not in a workspace"
    parts = [
        f"watching {interval_text(status['interval'])}" if status["watching"] else "not watching"
    ]
    if status["last_error"]:
        failing = f"failing ({status['failures']}× since the last success)"
        parts.append(f"{failing}: {status['last_error']}")
    elif status["last_result"] is not None:
        parts.append(f"pulled {clock(status['last_pull'])}: {status['last_result'].summary()}")
    else:
        parts.append("never pulled")
    if status["next_pull"]:
        parts.append(f"next {clock(status['next_pull'])}")
    return "; ".join(parts)

"""The pull-interval rule, once for every layer (behaviour §2.1, §6.2).

A pull interval is a number of seconds a timer thread can sleep: finite, above 0 and at most a
year; ``None`` means a one-time sync. Storages check it when they are built, the workspace when a
timer starts, the magics and the form before they pass a typed value on (in their own words).
"""

from __future__ import annotations

import math
from typing import Any, overload

from .errors import StorageConfigError, short

DEFAULT_PULL_INTERVAL = 60
LONGEST_PULL_INTERVAL = 365 * 24 * 3600  # a year: longer waits overflow ``Event.wait``


def is_pull_interval(value: Any) -> bool:
    """Whether ``value`` is a timer interval a thread can sleep (``None`` is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and 0 < value <= LONGEST_PULL_INTERVAL


@overload
def check_pull_interval(value: None, what: str = ...) -> None: ...
@overload
def check_pull_interval(value: float, what: str = ...) -> float: ...
def check_pull_interval(value: Any, what: str = "pull_interval") -> float | None:
    """``value`` when it is an interval (or None), else a one-line configuration error."""
    if value is None or is_pull_interval(value):
        return value
    none = ", or None for a one-time sync" if what == "pull_interval" else ""
    raise StorageConfigError(
        f"Invalid {what} {short(value)}: give a number of seconds above 0 and at most "
        f"{LONGEST_PULL_INTERVAL} (a year){none}."
    )

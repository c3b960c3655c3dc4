"""Prefect's own objects, duck-typed so that Prefect is never imported (behaviour §2.4): a block's type
slug and document name, its pull-step placeholder as ``get_block_placeholder()`` renders it, the
value held by a Prefect ``Secret`` block or a pydantic ``SecretStr``, and the saved blocks this
process has used (so that step → storage → step is the identity for them too)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from .errors import StorageConfigError

BLOCK_PLACEHOLDER = re.compile(r"^\{\{\s*prefect\.blocks\.([A-Za-z0-9_-]+)\.([^\s{}]+)\s*\}\}$")
_used: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def block_type_slug(block: Any) -> str:
    """The block's type slug (Prefect's ``get_block_type_slug()``), else its kebab-cased class name."""
    getter = getattr(block, "get_block_type_slug", None)
    slug = getter() if callable(getter) else None
    slug = (
        slug or getattr(block, "block_type_slug", None) or getattr(block, "_block_type_slug", None)
    )
    return slug if isinstance(slug, str) and slug else _kebab(type(block).__name__)


def block_document_name(block: Any) -> str | None:
    """The name the block was saved under, or None for an unsaved block."""
    name = getattr(block, "block_document_name", None) or getattr(
        block, "_block_document_name", None
    )
    return name if isinstance(name, str) and name else None


def is_block(value: Any) -> bool:
    """A Prefect block (or look-alike): it can name itself in a pull step."""
    return not isinstance(value, Mapping) and callable(
        getattr(value, "get_block_placeholder", None)
    )


def is_secret_block(value: Any) -> bool:
    """A Prefect ``Secret`` block: a block whose ``get()`` returns the value."""
    return is_block(value) and callable(getattr(value, "get", None))


def is_secret_str(value: Any) -> bool:
    """A pydantic ``SecretStr`` (the fields of Prefect's credential blocks)."""
    return not isinstance(value, str) and callable(getattr(value, "get_secret_value", None))


def secret_text(value: Any) -> Any:
    """The plain value of a Prefect Secret block or a SecretStr; anything else unchanged."""
    if is_secret_block(value):
        return value.get()
    if is_secret_str(value):
        return value.get_secret_value()
    return value


def block_placeholder(block: Any) -> str:
    """``{{ prefect.blocks.<slug>.<name> }}`` for a saved block; a ValueError saying to save it
    for an unsaved one (a worker can only load a block by its name)."""
    name = block_document_name(block)
    if name is None:
        raise StorageConfigError(
            f"This {type(block).__name__} block is not saved, so a pull step cannot refer to it: "
            f"save it first with block.save('my-{block_type_slug(block)}')."
        )
    remember(block)
    return "{{ prefect.blocks." + block_type_slug(block) + "." + name + " }}"


def remember(block: Any) -> None:
    """Note a saved block this process uses, so its placeholder can become the block again."""
    name = block_document_name(block)
    if name is not None:
        with _lock:
            _used[(block_type_slug(block), name)] = block


def used_block(slug: str, name: str) -> Any | None:
    """The saved block of that type and name this process used, or None."""
    with _lock:
        return _used.get((slug, name))

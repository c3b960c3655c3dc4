"""How the core's objects show themselves without knowing who draws them (behaviour §6.5).

Storages and pull results have ``_repr_html_`` and a plain-text ``__repr__``, but the drawing
lives above the core, in :mod:`ipy_storage.display`, which registers one renderer per class here.
The package's ``__init__`` names a loader that imports the display package on the first
rendering, so nothing is drawn, or imported, before someone looks. With no renderer registered
(the core used on its own), objects fall back to their short plain form.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Renderer = Callable[[Any], str]

_html: dict[type, Renderer] = {}
_text: dict[type, Renderer] = {}
_loader: Callable[[], object] | None = None
_lock = threading.RLock()


def register(cls: type, *, html: Renderer | None = None, text: Renderer | None = None) -> None:
    """Draw instances of ``cls`` (and its subclasses) with ``html`` and ``text``."""
    if html is not None:
        _html[cls] = html
    if text is not None:
        _text[cls] = text


def set_loader(load: Callable[[], object]) -> None:
    """Call ``load`` (once) before the first rendering: it imports whatever registers."""
    global _loader
    _loader = load


def html(obj: object) -> str | None:
    """``obj`` as HTML, or None when nothing draws it (IPython then shows its plain form)."""
    renderer = _find(_html, obj)
    return renderer(obj) if renderer is not None else None


def text(obj: object) -> str | None:
    """``obj`` as plain text, or None when nothing draws it."""
    renderer = _find(_text, obj)
    return renderer(obj) if renderer is not None else None


def _find(table: dict[type, Renderer], obj: object) -> Renderer | None:
    _load()
    for cls in type(obj).__mro__:
        if cls in table:
            return table[cls]
    return None


def _load() -> None:
    """Run the loader once; another thread rendering meanwhile waits for it."""
    global _loader
    with _lock:
        load, _loader = _loader, None
        if load is not None:
            load()

"""The Jupyter server extension: links that pull on open (behaviour §6.8).

Enabled on install by ``jupyter-config/jupyter_server_config.d/ipy_storage.json`` (installed to
``etc/jupyter``); configured with ``c.IPyStorageLinks`` (see ``settings``). ``links`` reads and
checks a link's query, ``jobs`` plans and runs its pulls, ``handlers`` serve the page, the start
and the events, ``page`` draws them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "ipy_storage.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import handlers
    from .jobs import JobRunner
    from .settings import IPyStorageLinks

    links = IPyStorageLinks(parent=serverapp)
    runner = JobRunner(links)
    root = Path(getattr(serverapp.contents_manager, "root_dir", None) or serverapp.root_dir)
    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", handlers(base_url, links, runner, root.expanduser().absolute()))
    serverapp.log.info("ipy_storage: links that pull on open at %sipy-storage/pull", base_url)

"""``%storage link``: the links a notebook hands out for its storages (behaviour §6.8).

One query (``links.LinkRequest``), three ways in: this Jupyter server's own address, a
JupyterHub's ``/hub/user-redirect/`` (each student lands on their own server), and Binder's
``urlpath=`` (a fresh server that pulls on start). No form ever holds a token.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .links import PATH, LinkError, LinkRequest, check_target, item_for

BINDER = "https://mybinder.org/v2/"


@dataclass
class Link:
    """The links for some storages: ``url`` is the first of ``forms`` (label → URL)."""

    names: list[str]
    request: LinkRequest
    forms: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return next(iter(self.forms.values()))

    def _what(self) -> str:
        folders = ", ".join(item.name or "(default folder)" for item in self.request.items)
        opens = f", opens {self.request.open}" if self.request.open else ""
        return f"Link for {', '.join(self.names)} (pulls into {folders}{opens})"

    def __repr__(self) -> str:
        lines = [f"{self._what()}:"]
        lines += [f"  {label}: {url}" for label, url in self.forms.items()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
            f"<td><a href='{html.escape(url)}' target='_blank' rel='noopener'>"
            f"<code>{html.escape(url)}</code></a></td></tr>"
            for label, url in self.forms.items()
        )
        return (
            f"<div class='ipy-storage-link'><b>{html.escape(self._what())}</b>"
            f"<table>{rows}</table></div>"
        )


def make_link(
    ws: Any,
    names: list[str],
    server: str | None = None,
    hub: str | None = None,
    binder: str | None = None,
    open_path: str | None = None,
) -> Link:
    """The link that pulls the storages ``names`` of ``ws`` into folders of the same names;
    ``open_path`` is relative to the first one's folder (default: that folder)."""
    items = [item_for(ws[name]) for name in names]
    first = ws[names[0]].name
    target = f"{first}/{open_path.strip('/')}" if open_path else None
    request = LinkRequest(items, check_target(target, "open") if target else None)
    path = f"{PATH}?{request.query()}"
    forms: dict[str, str] = {}
    hub = hub or os.environ.get("JUPYTERHUB_PUBLIC_HUB_URL")
    if hub:
        hub = hub.rstrip("/")
        hub = hub if hub.endswith("/hub") else hub + "/hub"
        forms["JupyterHub"] = f"{hub}/user-redirect/{path}"
    if binder:
        forms["Binder"] = _binder(binder) + "?urlpath=" + quote(path, safe="")
    server = server or (None if forms else this_server())
    if server:
        forms["Jupyter server"] = server.rstrip("/") + "/" + path
    if not forms:
        forms["path (after your server's address)"] = path
    return Link(names, request, forms)


def _binder(spec: str) -> str:
    if spec.startswith(("http://", "https://")):
        return spec.rstrip("/")
    if spec.count("/") < 2:
        raise LinkError(
            f"--binder {spec!r}: give the repository Binder builds, e.g. gh/org/repo/main."
        )
    return BINDER + spec.strip("/")


def this_server() -> str | None:
    """The address of the Jupyter server whose folder holds this kernel's working directory
    (without its token), when one can be found."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return None
    here = Path.cwd()
    for info in list_running_servers():
        root = Path(info.get("root_dir") or info.get("notebook_dir") or "/")
        if here == root or root in here.parents:
            return info.get("url")
    return None

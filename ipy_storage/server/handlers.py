"""The link's three requests, each for a logged-in user allowed to write the server's files.

1. ``GET  {base_url}ipy-storage/pull?…``: checks the link and shows the progress page. A GET
   never writes: a link followed from another site (an e-mail, a course page, a hostile page)
   only shows what it would pull.
2. ``POST`` to the same address, sent by that page's script with jupyter_server's XSRF token
   (which no other site can read): starts the pull. The page sends it at once when the user
   typed or pasted the link, clicked it inside Jupyter, or when every source is one the
   administrator allowed (``IPyStorageLinks.allowed_sources``); otherwise after the user's click
   on "Pull". So a link on another site cannot make a server pull unseen, while a teacher's
   link to an allowed course repository pulls in one step, as nbgitpuller's does.
3. ``GET {base_url}ipy-storage/pull/events/ID``: the pull's progress as server-sent events.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from ..links import LinkError, LinkRequest, parse_query
from ..storage.secrets import redact
from .jobs import JobRunner, Planned, PullJob, plan
from .page import error_page, progress_page
from .settings import IPyStorageLinks, under

KEEPALIVE = 15.0
SAME_USER = ("same-origin", "none")  # Sec-Fetch-Site: a page of this server, or typed/pasted


class _LinkHandler(JupyterHandler):
    auth_resource = "contents"

    def initialize(self, links: IPyStorageLinks, runner: JobRunner, root: Path) -> None:
        self.links = links
        self.runner = runner
        self.root = root

    def _plan(self) -> tuple[LinkRequest, list[Planned]]:
        request = parse_query(self.request.query)
        return request, plan(request, self.root, self.links)

    def _refuse(self, error: LinkError) -> None:
        self.set_status(400)
        self.finish(error_page(redact(str(error)), self.base_url))


class PullHandler(_LinkHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        try:
            request, planned = self._plan()
        except LinkError as error:
            self._refuse(error)
            return
        fetch_site = self.request.headers.get("Sec-Fetch-Site", "cross-site")
        allowed = all(
            under(p.item.source.removeprefix("git+"), self.links.allowed_sources) for p in planned
        )
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(
            progress_page(
                items=[{"source": redact(p.item.source), "folder": p.folder} for p in planned],
                opens=request.open,
                start_at_once=fetch_site in SAME_USER or allowed,
                xsrf=self.xsrf_token.decode()
                if isinstance(self.xsrf_token, bytes)
                else self.xsrf_token,
                base_url=self.base_url,
            )
        )

    @web.authenticated
    @authorized
    def post(self) -> None:
        try:
            request, planned = self._plan()
        except LinkError as error:
            raise web.HTTPError(400, redact(str(error))) from None
        loop = asyncio.get_running_loop()
        job = self.runner.start(PullJob(planned, self._redirect(request, planned), loop))
        self.finish(
            {
                "id": job.id,
                "events": url_path_join(self.base_url, "ipy-storage/pull/events", job.id),
            }
        )

    def _redirect(self, request: LinkRequest, planned: list[Planned]) -> Any:
        root, template, base_url = self.root, self.links.open_url, self.base_url

        def redirect(ok: bool) -> str:
            target = request.open
            if target is None or not (root / target).exists():
                target = planned[0].folder
            return url_path_join(base_url, template.format(path=quote(target)))

        return redirect


class PullEventsHandler(_LinkHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        job = self.runner.get(job_id)
        if job is None:
            raise web.HTTPError(404, "No such pull (it may have finished long ago).")
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")  # proxies pass events on at once
        index = int(self.request.headers.get("Last-Event-ID", "-1")) + 1
        while True:
            events, finished = job.since(index)
            for offset, event in enumerate(events):
                self.write(
                    f"id: {index + offset}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
                )
            index += len(events)
            if not events:
                self.write(": waiting\n\n")
            try:
                await self.flush()
            except Exception:  # the page went away; the pull goes on
                return
            if finished and not job.since(index)[0]:
                break
            await job.changed(KEEPALIVE)
        self.finish()


def handlers(base_url: str, links: IPyStorageLinks, runner: JobRunner, root: Path) -> list:
    options = {"links": links, "runner": runner, "root": root}
    return [
        (url_path_join(base_url, "ipy-storage/pull"), PullHandler, options),
        (
            url_path_join(base_url, r"ipy-storage/pull/events/([A-Za-z0-9_-]+)"),
            PullEventsHandler,
            options,
        ),
    ]

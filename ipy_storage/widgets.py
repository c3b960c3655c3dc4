"""``StorageForm`` (SPEC §6.4): the workspace as a form, for users who prefer fields to magics.

Buttons call the same workspace methods as the magics. Every error lands in ``status`` as one
line (never a traceback in the output area). Timer threads reach the form only through the
workspace's status listener, which sets widget traits and appends to the ``Output``: both are
safe from any thread.
"""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from .display import StorageCard, status_text
from .storage.git import default_name
from .storage.render import one_line
from .storage.result import Progress
from .storage.secrets import Secret
from .workspaces import Workspace
from .workspaces import workspace as default_workspace

_ERROR = "color:var(--jp-error-color1,#b32424)"


def _secret_name(storage_name: str) -> str:
    """A Prefect block name (lowercase letters, digits, dashes) for the form's token."""
    return (re.sub(r"[^a-z0-9]+", "-", storage_name.lower()).strip("-") or "git") + "-token"


class StorageForm(widgets.VBox):
    """Add, pull, watch and remove storages of a workspace (the session's default unless given)."""

    def __init__(self, workspace: Workspace | None = None, **kwargs: Any) -> None:
        self.workspace = workspace if workspace is not None else default_workspace()
        self.source = widgets.Text(
            description="Source", placeholder="git URL, s3://bucket/path, folder …"
        )
        self.name = widgets.Text(description="Name", placeholder="optional")
        self.branch = widgets.Text(description="Branch", placeholder="git: default branch")
        self.directories = widgets.Text(
            description="Folders", placeholder="git: a, b (comma-separated)"
        )
        self.username = widgets.Text(description="User", placeholder="git: optional")
        self.token = widgets.Password(description="Token", placeholder="git: optional")
        self.interval = widgets.BoundedIntText(value=60, min=0, max=86400, description="Interval s")
        self.add_button = widgets.Button(description="Add", button_style="primary", icon="plus")
        self.pull_button = widgets.Button(description="Pull", icon="download")
        self.watch_button = widgets.Button(description="Watch", icon="clock-o")
        self.remove_button = widgets.Button(description="Remove", icon="trash")
        self.storages = widgets.Dropdown(description="Storage", options=list(self.workspace))
        self.status = widgets.HTML()
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="Progress")
        self.output = widgets.Output(layout=widgets.Layout(max_height="10em", overflow="auto"))
        self.details = widgets.HTML()
        self._last_pulls: dict[str, datetime | None] = {}
        self._progress_shown = 0.0
        self._lock = threading.Lock()
        super().__init__(
            children=[
                widgets.HBox([self.source, self.name]),
                widgets.HBox([self.branch, self.directories]),
                widgets.HBox([self.username, self.token]),
                widgets.HBox([self.interval, self.add_button]),
                widgets.HBox(
                    [self.storages, self.pull_button, self.watch_button, self.remove_button]
                ),
                self.progress,
                self.status,
                self.details,
                self.output,
            ],
            **kwargs,
        )
        self.add_button.on_click(self._on_add)
        self.pull_button.on_click(self._on_pull)
        self.watch_button.on_click(self._on_watch)
        self.remove_button.on_click(self._on_remove)
        self.storages.observe(lambda _change: self._show_selected(), names="value")
        self.workspace.add_listener(self._on_status)
        self._show_selected()

    def close(self) -> None:
        self.workspace.remove_listener(self._on_status)
        super().close()

    # -- buttons --------------------------------------------------------------------------
    def _on_add(self, _button: Any = None) -> None:
        token, self.token.value = self.token.value, ""
        with self._reporting():
            source = self.source.value.strip()
            name = self.name.value.strip() or None
            branch = self.branch.value.strip() or None
            storage = self.workspace.add(
                source,
                name=name,
                pull_interval=self.interval.value or None,
                branch=branch,
                directories=[d.strip() for d in self.directories.value.split(",") if d.strip()]
                or None,
                credentials=self._credentials(token, name or default_name(source, branch)),
            )
            added = self.workspace.name_of(storage)
            self._set_status(f"Added {added}.")
            self._log(f"added {added} → {storage.destination}")
            self._refresh_names(select=added)

    def _credentials(self, token: str, storage_name: str) -> dict[str, Any] | None:
        username = self.username.value.strip() or None
        if not token:
            return {"username": username} if username else None
        secret = Secret(token, name=_secret_name(storage_name))
        return (
            {"username": username, "access_token": secret} if username else {"access_token": secret}
        )

    def _on_pull(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            self.progress.value = 0.0
            result = self.workspace.pull(name, progress=self._on_progress)
            self.progress.value = self.progress.max
            self._set_status(f"{name}: {result.summary()} ({result.duration:.2f}s)")

    def _on_watch(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            if self.workspace.status(name)[name]["watching"]:
                self.workspace.unwatch(name)
                self._set_status(f"Stopped watching {name}.")
            else:
                self.workspace.watch(name, interval=self.interval.value or None)
                self._set_status(f"Watching {name}.")

    def _on_remove(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            self.workspace.remove(name)
            self._set_status(f"Removed {name} (its files stay on disk).")
            self._refresh_names()

    # -- helpers --------------------------------------------------------------------------
    @contextmanager
    def _reporting(self) -> Iterator[None]:
        """Show any error as one line in ``status``; a form never shows a traceback."""
        try:
            yield
        except Exception as error:
            self.status.value = f"<span style='{_ERROR}'>{html.escape(one_line(error))}</span>"

    def _selected(self) -> str:
        name = self.storages.value
        if not name:
            raise ValueError("Select a storage first (or add one).")
        return name

    def _set_status(self, text: str) -> None:
        self.status.value = html.escape(text)

    def _log(self, text: str) -> None:
        self.output.append_stdout(f"{datetime.now():%H:%M:%S} {text}\n")

    def _refresh_names(self, select: str | None = None) -> None:
        names = list(self.workspace)
        current = select or self.storages.value
        self.storages.options = names
        self.storages.value = current if current in names else (names[0] if names else None)
        self._show_selected()

    def _show_selected(self) -> None:
        name = self.storages.value
        storage = self.workspace.get(name) if name else None
        if storage is None:
            self.details.value = ""
            self.watch_button.description = "Watch"
            return
        status = self.workspace.status(name)[name]
        self.watch_button.description = "Stop" if status["watching"] else "Watch"
        self.details.value = StorageCard(name, storage, status)._repr_html_()

    def _on_progress(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._progress_shown < 0.1 and progress.done != progress.total:
            return
        self._progress_shown = now
        self.progress.max = float(progress.total or 1)
        self.progress.value = float(min(progress.done, progress.total or 1))

    def _on_status(self, name: str, status: dict[str, Any] | None) -> None:
        """Workspace listener (any thread): log new pull outcomes, refresh the selected storage."""
        with self._lock:
            if status is None:
                self._last_pulls.pop(name, None)
            elif status["last_pull"] != self._last_pulls.get(name):
                self._last_pulls[name] = status["last_pull"]
                self._log(f"{name}: {status['last_error'] or status['last_result'].summary()}")
        if status is None or name not in self.storages.options:
            self._refresh_names()
        elif name == self.storages.value:
            self.status.value = html.escape(f"{name}: {status_text(status)}")
            self._show_selected()

"""``StorageForm`` (behaviour §6.4): the workspace as a form, for users who prefer fields to magics.

The form shows only the fields the source's kind takes (recognised as the factory does), pulls on
a worker thread with its buttons disabled and the progress in ``status``, lists what a pull
changed, and shows every error once, as one line in ``status``. The ``status`` line tells what
this form did and what the timers it started do; the log (``output``, newest line first) lists
every pull of the workspace. Worker and timer threads reach the widgets only through trait
updates, which are safe from any thread.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from .display import card_html, relative_destination, result_body_html, status_text
from .display.styles import ERROR, muted
from .form_fields import git_options, kind_label, source_kind
from .sources import settings_from_text
from .storage.errors import StorageConfigError, error_line
from .storage.git import GitRepository
from .storage.intervals import DEFAULT_PULL_INTERVAL, LONGEST_PULL_INTERVAL
from .storage.remote import RemoteStorage
from .storage.result import Progress, PullResult
from .workspaces import Workspace
from .workspaces import workspace as default_workspace

_LABEL_WIDTH = {"description_width": "6em"}
_LOG_LINES = 50


def _field(kind: type, description: str, width: str, **options: Any) -> widgets.Widget:
    return kind(description=description, style=_LABEL_WIDTH, layout={"width": width}, **options)


class StorageForm(widgets.VBox):
    """Add, pull, watch and remove storages of a workspace (the session's default unless given)."""

    def __init__(self, workspace: Workspace | None = None, **kwargs: Any) -> None:
        self.workspace = workspace if workspace is not None else default_workspace()
        self.source = _field(
            widgets.Text, "Source", "44em", placeholder="git URL, s3://bucket/path, or a folder"
        )
        self.kind = widgets.HTML(layout={"margin": "0 0 0 1em"})
        self.name = _field(widgets.Text, "Name", "22em", placeholder="optional: the folder name")
        self.interval = _field(
            widgets.BoundedIntText, "Interval s", "14em", value=DEFAULT_PULL_INTERVAL, min=0,
            max=LONGEST_PULL_INTERVAL,
            tooltip="seconds between timed pulls (Watch); 0 = no timer",
        )  # fmt: skip
        self.branch = _field(widgets.Text, "Branch", "22em", placeholder="default branch")
        self.directories = _field(widgets.Text, "Folders", "22em", placeholder="a, b (empty: all)")
        self.username = _field(widgets.Text, "User", "22em", placeholder="optional")
        self.token = _field(widgets.Password, "Token", "22em", placeholder="kept as a Secret")
        self.options = _field(
            widgets.Textarea, "Options", "44em", rows=2,
            placeholder="fsspec settings, one KEY=VALUE a line (e.g. anon=true, endpoint_url=…)",
        )  # fmt: skip
        self.secret_options = _field(
            widgets.Text, "Secrets", "44em",
            placeholder="KEY=ENV_VAR, … (e.g. key=AWS_KEY, secret=AWS_SECRET): read at pull time",
        )  # fmt: skip
        self.add_button = widgets.Button(description="Add", button_style="primary", icon="plus")
        self.pull_button = widgets.Button(description="Pull", icon="download")
        self.watch_button = widgets.Button(description="Watch", icon="clock-o")
        self.remove_button = widgets.Button(description="Remove", icon="trash")
        self.link_button = widgets.Button(description="Link", icon="link")
        self.storages = _field(widgets.Dropdown, "Storage", "22em", options=list(self.workspace))
        self.status = widgets.HTML(layout={"margin": "4px 0"})
        self.progress = _field(
            widgets.FloatProgress, "Progress", "44em", value=0.0, min=0.0, max=1.0
        )
        self.progress.layout.display = "none"  # shown once a pull reports how much there is
        self.output = widgets.Output(layout={"max_height": "8em", "overflow": "auto"})
        self.details = widgets.HTML()
        self._git_fields = (self.branch, self.directories, self.username, self.token)
        self._remote_fields = (self.options, self.secret_options)
        self._buttons = (self.add_button, self.pull_button, self.watch_button, self.remove_button)
        self._watched: set[str] = set()
        self._last_pulls: dict[str, datetime | None] = {}
        self._worker: threading.Thread | None = None
        self._progress_shown = 0.0
        self._lock = threading.Lock()
        super().__init__(
            children=[
                widgets.HBox([self.source, self.kind], layout={"align_items": "center"}),
                widgets.HBox([self.name, self.interval, self.add_button]),
                widgets.HBox([self.branch, self.directories]),
                widgets.HBox([self.username, self.token]),
                self.options,
                self.secret_options,
                widgets.HBox(
                    [
                        self.storages,
                        self.pull_button,
                        self.watch_button,
                        self.remove_button,
                        self.link_button,
                    ],  # fmt: skip
                    layout={"margin": "8px 0 0 0"},
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
        self.link_button.on_click(self._on_link)
        self.source.observe(lambda _change: self._show_fields(), names="value")
        self.storages.observe(lambda _change: self._show_selected(), names="value")
        self.workspace.add_listener(self._on_status)
        self._show_fields()
        self._show_selected()

    def close(self) -> None:
        self.workspace.remove_listener(self._on_status)
        super().close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pull the form runs in the background; False if it still runs."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return worker is None or not worker.is_alive()

    # -- fields ---------------------------------------------------------------------------
    def _show_fields(self) -> None:
        """Show the fields that the source's kind takes, hide the others."""
        kind = source_kind(self.source.value)
        for field in self._git_fields:
            field.layout.display = None if kind is GitRepository else "none"
        for field in self._remote_fields:
            field.layout.display = None if kind is RemoteStorage else "none"
        self.kind.value = muted(kind_label(self.source.value))

    def _source_options(self, kind: type | None, token: str, name: str | None) -> dict[str, Any]:
        """The options of the visible fields only (a hidden field may hold a stale value)."""
        options: dict[str, Any] = {"pull_interval": self.interval.value or None}
        if kind is GitRepository:
            options |= git_options(
                self.source.value,
                name,
                self.branch.value,
                self.directories.value,
                self.username.value,
                token,
            )
        elif kind is RemoteStorage:
            options["settings"] = settings_from_text(self.options.value, self.secret_options.value)
        return options

    # -- buttons --------------------------------------------------------------------------
    def _on_add(self, _button: Any = None) -> None:
        token, self.token.value = self.token.value, ""
        with self._reporting():
            source, name = self.source.value.strip(), self.name.value.strip() or None
            options = self._source_options(source_kind(source), token, name)
            storage = self.workspace.add(source, name=name, **options)
            added = self.workspace.name_of(storage)
            self._refresh_names(select=added)
            where = relative_destination(storage.destination)
            self._set_status(f"Added {added} → {where}. Press Pull to pull it.")
            self._log(f"added {added} → {where}")

    def _on_pull(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            with self._lock:
                if self._worker is not None and self._worker.is_alive():
                    raise StorageConfigError("A pull is running: wait for it to finish.")
                self._set_busy(True)
                self._set_status(f"Pulling {name}…")
                self._progress_shown = 0.0
                self.progress.value = 0.0
                self._worker = threading.Thread(
                    target=self._pull, args=(name,), name=f"ipy-storage-form:{name}", daemon=True
                )
                self._worker.start()

    def _pull(self, name: str) -> None:
        """The worker thread: pull, free the form, then show what changed (or why not), so that
        whoever reads the outcome finds the buttons usable again."""
        try:
            result = self.workspace.pull(name, progress=lambda p: self._on_progress(name, p))
        except Exception as error:  # shown once, in status; a thread must not die noisily
            self._free()
            self._show_error(error)
        else:
            self._free()
            self._show_result(name, result)

    def _free(self) -> None:
        self._reset_progress()
        self._set_busy(False)

    def _on_watch(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            if self.workspace.status(name)[name]["watching"]:
                self.workspace.unwatch(name)
                self._watched.discard(name)
                self._set_status(f"Stopped watching {name}.")
                return
            if not self.interval.value:
                raise StorageConfigError(
                    "Set Interval s to how often to pull (e.g. 60 seconds), then press Watch."
                )
            self._watched.add(name)
            self.workspace.watch(name, interval=self.interval.value)
            self._set_status(f"Watching {name}: a pull every {self.interval.value}s.")

    def _on_remove(self, _button: Any = None) -> None:
        with self._reporting():
            name = self._selected()
            self.workspace.remove(name)
            self._watched.discard(name)
            self._reset_progress()
            self._set_status(f"Removed {name} (its files stay on disk).")
            self._refresh_names()

    def _on_link(self, _button: Any = None) -> None:
        """Show the link that pulls the selected storage when opened (``%storage link``)."""
        from .link_urls import make_link

        with self._reporting():
            self.status.value = make_link(self.workspace, [self._selected()])._repr_html_()

    # -- showing --------------------------------------------------------------------------
    @contextmanager
    def _reporting(self) -> Iterator[None]:
        """Show any error as one line in ``status``; a form never shows a traceback."""
        try:
            yield
        except Exception as error:
            self._show_error(error)

    def _show_error(self, error: BaseException) -> None:
        self.status.value = f"<span style='{ERROR}'>{html.escape(error_line(error))}</span>"

    def _show_result(self, name: str, result: PullResult) -> None:
        headline = html.escape(f"{name}: {result.summary()} ({result.duration:.2f}s)")
        body = result_body_html(result, unfolded=True)
        self.status.value = f"<div style='line-height:1.4'><b>{headline}</b>{body}</div>"

    def _set_status(self, text: str) -> None:
        self.status.value = html.escape(text)

    def _set_busy(self, busy: bool) -> None:
        for button in self._buttons:
            button.disabled = busy

    def _on_progress(self, name: str, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._progress_shown < 0.1 and progress.done != progress.total:
            return
        self._progress_shown = now
        total = progress.total or 0
        if total:
            self.progress.max, self.progress.value = float(total), float(min(progress.done, total))
            self.progress.layout.display = None
        share = f" {100 * min(progress.done, total) // total} %" if total else ""
        self._set_status(f"Pulling {name}…{share}")

    def _reset_progress(self) -> None:
        self.progress.value, self.progress.layout.display = 0.0, "none"

    def _log(self, text: str) -> None:
        """One line on top of the log: the newest is always the one in view. A line that says
        what the one before said (a timer's "up to date") replaces it, with the new time."""
        stamped = f"{datetime.now():%H:%M:%S} {text}\n"
        line = {"output_type": "stream", "name": "stdout", "text": stamped}
        with self._lock:
            older = self.output.outputs
            if older and older[0].get("text", "")[9:] == stamped[9:]:
                older = older[1:]
            self.output.outputs = (line, *older[: _LOG_LINES - 1])

    def _selected(self) -> str:
        name = self.storages.value
        if not name:
            raise StorageConfigError("Select a storage first (or add one).")
        return name

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
        self.details.value = card_html(storage, name, status, show_status=False)

    def _on_status(self, name: str, status: dict[str, Any] | None) -> None:
        """Workspace listener (any thread): log new pull outcomes, follow the timers this form
        started in ``status``, refresh the selected storage."""
        with self._lock:
            new_pull = status is not None and status["last_pull"] != self._last_pulls.get(name)
            if status is None:
                self._last_pulls.pop(name, None)
            elif new_pull:
                self._last_pulls[name] = status["last_pull"]
        if new_pull and status is not None:
            failed = "failed (the status line says why)" if name == self.storages.value else None
            error = status["last_error"]
            outcome = (failed or f"failed: {error}") if error else status["last_result"].summary()
            self._log(f"{name}: {outcome}")
        if status is None or name not in self.storages.options:
            self._refresh_names()
            return
        if name == self.storages.value:
            if name in self._watched and status["watching"]:
                self.status.value = html.escape(f"{name}: {status_text(status)}")
            self._show_selected()

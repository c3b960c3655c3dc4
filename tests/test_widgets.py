"""StorageForm (behaviour §6.4) driven in-process: fields set, buttons clicked, real git sources."""

from __future__ import annotations

import json
import time
import uuid

import fsspec
import ipywidgets as widgets
import pytest

from ipy_storage import StorageForm
from ipy_storage.storage.result import Progress
from ipy_storage.storage.secrets import Secret
from tests.helpers import wait_until

GIT_STEP = "prefect.deployments.steps.git_clone"
GIT_FIELDS = ("branch", "directories", "username", "token")
REMOTE_FIELDS = ("options", "secret_options")


def logged(form: StorageForm) -> list[str]:
    return [output.get("text", "") for output in form.output.outputs]


def shown(form: StorageForm, *fields: str) -> set[str]:
    return {field for field in fields if getattr(form, field).layout.display != "none"}


def every_state(widget: widgets.Widget) -> str:
    """The synced state of a widget and of everything below it, as the front end gets it."""
    states = [json.dumps(widget.get_state(), default=str)]
    for child in getattr(widget, "children", ()):
        states.append(every_state(child))
    return "\n".join(states)


def test_the_form_has_the_contract_attributes(ws):
    form = StorageForm(ws)
    kinds = {
        "source": widgets.Text,
        "name": widgets.Text,
        "branch": widgets.Text,
        "directories": widgets.Text,
        "username": widgets.Text,
        "token": widgets.Password,
        "interval": widgets.BoundedIntText,
        "add_button": widgets.Button,
        "pull_button": widgets.Button,
        "watch_button": widgets.Button,
        "remove_button": widgets.Button,
        "storages": widgets.Dropdown,
        "status": widgets.HTML,
        "progress": widgets.FloatProgress,
        "output": widgets.Output,
        "details": widgets.HTML,
        "options": widgets.Textarea,
        "secret_options": widgets.Text,
    }
    for attribute, kind in kinds.items():
        assert isinstance(getattr(form, attribute), kind), attribute
    assert isinstance(form, widgets.VBox) and form.workspace is ws
    assert form.source.layout.width > form.branch.layout.width  # "44em" > "22em"
    form.close()


@pytest.mark.parametrize(
    ("source", "visible", "kind"),
    [
        ("", set(), ""),
        ("https://github.com/org/repo", set(GIT_FIELDS), "git repository"),
        ("/srv/repos/flows.git", set(GIT_FIELDS), "git repository"),
        ("s3://bucket/data", set(REMOTE_FIELDS), "remote (fsspec)"),
        ("memory://bucket/data", set(REMOTE_FIELDS), "remote (fsspec)"),
        ("some/folder", set(), "local folder (not found here)"),
        (".", set(), "local folder<"),
        ("http://[::1", set(), ""),
    ],
)
def test_the_form_shows_only_the_fields_of_the_sources_kind(ws, source, visible, kind):
    form = StorageForm(ws)
    form.source.value = source
    assert shown(form, *GIT_FIELDS, *REMOTE_FIELDS) == visible
    assert kind in form.kind.value
    form.close()


def test_add_pull_watch_remove(ws, make_repo):
    repo = make_repo({"flows/a.py": "A = 1\n", "docs/b.md": "b\n"})
    form = StorageForm(ws)
    form.source.value = repo.url
    form.name.value = "flows"
    form.branch.value = "main"
    form.directories.value = "flows, "
    form.interval.value = 1
    form.add_button.click()
    storage = ws["flows"]
    assert (
        storage.directories == ["flows"] and storage.branch == "main" and storage.pull_interval == 1
    )
    assert form.storages.value == "flows" and "Added flows" in form.status.value
    assert "ws/flows" in form.details.value or str(storage.destination) in form.details.value
    assert "git_clone" in form.details.value

    form.pull_button.click()
    assert form.wait(30)
    assert (storage.destination / "flows" / "a.py").exists()
    assert "flows: 1 added" in form.status.value and "<code>flows/a.py</code>" in form.status.value
    assert form.progress.value == 0 and form.progress.layout.display == "none"
    assert not any(button.disabled for button in form._buttons)

    form.watch_button.click()
    assert form.watch_button.description == "Stop" and ws.status("flows")["flows"]["watching"]
    repo.commit({"flows/new.py": "N = 1\n"})
    assert wait_until(lambda: sum("flows: 1 added" in line for line in logged(form)) == 2)
    assert "watching every 1s" in form.status.value  # the status line follows its own timer
    form.watch_button.click()
    assert form.watch_button.description == "Watch" and not ws.status("flows")["flows"]["watching"]

    form.remove_button.click()
    assert "flows" not in ws and form.storages.options == () and form.details.value == ""
    assert form.progress.value == 0
    form.close()


def test_a_pull_runs_on_a_worker_thread_with_the_buttons_disabled(ws, git_http_server):
    repo = git_http_server.create_repo({f"f{i}.txt": "x\n" for i in range(5)})
    form = StorageForm(ws)
    form.source.value = repo.url
    form.username.value = git_http_server.username
    form.token.value = git_http_server.token
    form.add_button.click()
    git_http_server.set_delay(0.5)
    started = time.perf_counter()
    form.pull_button.click()
    assert time.perf_counter() - started < 0.3  # the cell (kernel) is free at once
    assert form.status.value.startswith("Pulling ")
    assert all(button.disabled for button in form._buttons)
    form.pull_button.click()  # a second click while it runs (a disabled button, from code)
    assert "A pull is running" in form.status.value
    assert form.wait(60)
    git_http_server.set_delay(None)
    assert "5 added" in form.status.value and not any(b.disabled for b in form._buttons)
    form.close()


def test_progress_reads_as_a_share_of_the_work(ws):
    form = StorageForm(ws)
    form._on_progress("big", Progress("receiving", done=2, total=5))
    assert form.status.value == "Pulling big… 40 %" and form.progress.value == 2
    assert form.progress.layout.display is None  # shown once it knows how much there is
    form._progress_shown = 0
    form._on_progress("big", Progress("listing"))
    assert form.status.value == "Pulling big…"
    form.close()


def test_remote_sources_take_options_and_secret_options(ws, monkeypatch):
    monkeypatch.setenv("FORM_REMOTE_SECRET", "remote-secret-value")
    root = f"/form-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("memory").pipe({f"{root}/data/a.txt": b"a"})
    form = StorageForm(ws)
    form.source.value = f"memory:/{root}/data"
    form.name.value = "bucket"
    form.branch.value = "stale-from-an-earlier-git-url"  # hidden: not used
    form.options.value = "anon=true\nnote = two words\n"
    form.secret_options.value = "token=FORM_REMOTE_SECRET"
    form.add_button.click()
    storage = ws["bucket"]
    assert storage.settings == {
        "anon": True,
        "note": "two words",
        "token": Secret.from_env("FORM_REMOTE_SECRET"),
    }
    assert storage.destination == ws.base_path / "bucket"
    form.pull_button.click()
    assert form.wait(30) and (ws.base_path / "bucket" / "a.txt").read_bytes() == b"a"
    assert "remote-secret-value" not in every_state(form)
    form.secret_options.value = "token=not a variable"
    form.name.value = "other"
    form.add_button.click()
    assert "expected KEY=VAR" in form.status.value
    fsspec.filesystem("memory").rm(root, recursive=True)
    form.close()


def test_the_token_is_cleared_held_as_a_secret_and_in_no_widget_state(ws, make_repo):
    form = StorageForm(ws)
    form.source.value = make_repo().url
    form.name.value = "Private Repo"
    form.username.value = "me"
    form.token.value = "form-token-value"
    form.add_button.click()
    assert form.token.value == ""
    step = ws["Private Repo"].to_pull_step()[GIT_STEP]
    assert step["credentials"] == {
        "username": "me",
        "access_token": "{{ prefect.blocks.secret.private-repo-token }}",
    }
    assert Secret.named("private-repo-token").get() == "form-token-value"
    assert "credentials" in form.details.value  # the card marks it, never shows it
    state = every_state(form)
    assert "form-token-value" not in state and "private-repo-token" in state
    form.close()


def test_every_error_shows_once_never_as_a_traceback(ws, tmp_path):
    form = StorageForm(ws)
    form.pull_button.click()
    assert "Select a storage first" in form.status.value
    form.source.value = "https://example.com/repo.git"
    form.branch.value = "-bad"
    form.token.value = "typo-token"
    form.add_button.click()
    assert "Branch names cannot start with" in form.status.value and form.token.value == ""
    form.source.value = "github.com/org/repo"
    form.add_button.click()
    assert "did you mean https://github.com/org/repo?" in form.status.value
    (tmp_path / "soon-gone").mkdir()
    form.source.value = str(tmp_path / "soon-gone")
    form.add_button.click()
    (tmp_path / "soon-gone").rmdir()
    form.pull_button.click()
    assert form.wait(10)
    page = form.status.value + form.details.value + "".join(logged(form))
    assert page.count("does not exist") == 1 and "does not exist" in form.status.value
    assert "soon-gone: failed (the status line says why)" in logged(form)[0]
    assert "Traceback" not in page
    form.close()


def test_one_meaning_for_the_interval(ws, tmp_path):
    form = StorageForm(ws)
    form.interval.value = 0
    form.source.value = str(tmp_path)
    form.name.value = "once"
    form.add_button.click()
    assert ws["once"].pull_interval is None  # 0: no timer
    form.watch_button.click()
    assert "Set Interval s to how often to pull" in form.status.value
    assert not ws.status("once")["once"]["watching"]
    form.interval.value = 3600
    form.watch_button.click()
    assert ws.status("once")["once"]["watching"] and ws.status("once")["once"]["interval"] == 3600
    form.watch_button.click()
    form.close()


def test_the_newest_log_line_is_the_one_in_view(ws, tmp_path):
    form = StorageForm(ws)
    for index in range(60):
        form._log(f"line {index}")
    lines = logged(form)
    assert lines[0].endswith("line 59\n") and len(lines) == 50
    form._log("flows: up to date")
    form._log("flows: up to date")  # a timer with nothing new does not push history out
    assert [line[9:] for line in logged(form)[:2]] == ["flows: up to date\n", "line 59\n"]
    form.close()


def test_a_closed_form_stops_listening(ws, tmp_path):
    form = StorageForm(ws)
    form.close()
    ws.add(str(tmp_path), name="later")
    assert form.storages.options == ()

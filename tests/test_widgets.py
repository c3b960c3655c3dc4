"""StorageForm (SPEC §6.4) driven in-process: fields set, buttons clicked, real git sources."""

from __future__ import annotations

import ipywidgets as widgets

from ipy_storage import StorageForm
from ipy_storage.storage.secrets import Secret
from tests.helpers import wait_until

GIT_STEP = "prefect.deployments.steps.git_clone"


def logged(form: StorageForm) -> str:
    return "".join(output.get("text", "") for output in form.output.outputs)


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
    }
    for attribute, kind in kinds.items():
        assert isinstance(getattr(form, attribute), kind), attribute
    assert isinstance(form, widgets.VBox) and form.workspace is ws
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
    assert form.storages.value == "flows" and "Added flows." in form.status.value
    assert "ws/flows" in form.details.value or str(storage.destination) in form.details.value
    assert "git_clone" in form.details.value

    form.pull_button.click()
    assert (storage.destination / "flows" / "a.py").exists()
    assert "flows: 1 added" in form.status.value and form.progress.value == form.progress.max

    form.watch_button.click()
    assert form.watch_button.description == "Stop" and ws.status("flows")["flows"]["watching"]
    repo.commit({"flows/new.py": "N = 1\n"})
    assert wait_until(lambda: logged(form).count("flows: 1 added") == 2)  # the timer's pull, logged
    form.watch_button.click()
    assert form.watch_button.description == "Watch" and not ws.status("flows")["flows"]["watching"]

    form.remove_button.click()
    assert "flows" not in ws and form.storages.options == () and form.details.value == ""
    form.close()


def test_the_token_is_cleared_and_held_as_a_secret(ws, make_repo):
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
    shown = form.status.value + form.details.value + logged(form)
    assert "form-token-value" not in shown
    form.close()


def test_errors_show_in_status_never_as_a_traceback(ws, tmp_path):
    form = StorageForm(ws)
    form.pull_button.click()
    assert "Select a storage first" in form.status.value
    form.source.value = "https://example.com/repo.git"
    form.branch.value = "-bad"
    form.token.value = "typo-token"
    form.add_button.click()
    assert "Branch names cannot start with" in form.status.value and form.token.value == ""
    form.source.value = str(tmp_path / "missing")
    form.branch.value = ""
    form.add_button.click()
    form.pull_button.click()
    assert "does not exist" in form.status.value and "Traceback" not in logged(form)
    form.interval.value = 0
    form.source.value = str(tmp_path)
    form.name.value = "once"
    form.add_button.click()
    form.watch_button.click()
    assert "one-time sync" in form.status.value
    form.close()


def test_a_closed_form_stops_listening(ws, tmp_path):
    form = StorageForm(ws)
    form.close()
    ws.add(str(tmp_path), name="later")
    assert form.storages.options == ()

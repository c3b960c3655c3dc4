"""Rich and plain renderings (SPEC §6.5): escaped, secret-free, destinations relative to the notebook."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from IPython.lib.pretty import pretty

from ipy_storage import GitRepository, LocalStorage, PullResult, Secret
from ipy_storage.display import (
    PullStep,
    PullStepList,
    StorageCard,
    relative_destination,
    status_text,
    step_html,
    storage_table,
)

GIT_STEP = "prefect.deployments.steps.git_clone"


def card(ws, name: str):
    return StorageCard(name, ws[name], ws.status(name)[name])


def test_card_shows_kind_source_destination_interval_status_and_step(
    ws, make_repo, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    repo = make_repo()
    ws.add(repo.url, name="code", pull_interval=30)
    ws.pull("code")
    text = repr(card(ws, "code"))
    assert text.splitlines()[0] == "code (git)"
    for expected in (
        f"source:      {repo.url}",
        "destination: ws/code",
        "interval:    30s",
        "not watching; pulled",
        GIT_STEP,
    ):
        assert expected in text
    html = card(ws, "code")._repr_html_()
    assert (
        "ws/code" in html and str(tmp_path / "ws" / "code") in html
    )  # relative, absolute on hover
    assert "<details>" in html and "<span style=" in html  # the step, highlighted


def test_everything_user_supplied_is_escaped(ws, tmp_path):
    ws.add(LocalStorage(tmp_path / "<b>folder"), name="<script>alert(1)</script>")
    html = card(ws, "<script>alert(1)</script>")._repr_html_() + storage_table(ws).html()
    assert "<script>" not in html and "<b>folder" not in html
    assert "&lt;script&gt;" in html and "&lt;b&gt;folder" in html


def test_no_secret_is_ever_rendered(ws, tmp_path):
    named = GitRepository(
        "https://example.com/org/named.git",
        credentials={
            "username": "me",
            "access_token": Secret("named-secret-value", name="named-token"),
        },
    )
    plain = GitRepository(
        "https://example.com/org/plain.git", credentials={"access_token": "plain-secret-value"}
    )
    in_url = GitRepository("https://me:url-secret-value@example.com/org/inurl.git")
    for storage in (named, plain, in_url):
        ws.add(storage)
    shown = "".join(repr(card(ws, name)) + card(ws, name)._repr_html_() for name in ws)
    shown += storage_table(ws).text() + storage_table(ws).html() + named._repr_html_()
    for secret in ("named-secret-value", "plain-secret-value", "url-secret-value"):
        assert secret not in shown
    assert "{{ prefect.blocks.secret.named-token }}" in repr(card(ws, "named"))
    assert "Please save your access token as a Secret" in repr(card(ws, "plain"))


def test_a_storage_outside_any_workspace_renders_too(tmp_path):
    html = LocalStorage(tmp_path)._repr_html_()
    assert "not in the workspace" in html and "set_working_directory" in html


def test_destinations_are_relative_only_below_the_notebook(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert relative_destination(tmp_path / "ws" / "repo") == "ws/repo"
    assert relative_destination(tmp_path) == "."
    assert relative_destination(Path("/elsewhere/repo")) == "/elsewhere/repo"


def test_pull_steps_render_as_yaml_or_json_and_stay_dicts():
    data = {GIT_STEP: {"repository": "https://example.com/r.git", "branch": None}}
    step = PullStep(data)
    assert step == data and isinstance(step, dict)
    assert pretty(step).startswith(
        f"{GIT_STEP}:\n  repository: https://example.com/r.git\n  branch: null"
    )
    assert json.loads(PullStep(data, "json").text()) == data
    assert "<span style=" in step._repr_html_()
    steps = PullStepList([data, data], "yaml")
    assert steps == [data, data] and pretty(steps).startswith(f"- {GIT_STEP}:")
    assert "&lt;b&gt;" in step_html({"x": "<b>"}) and "<b>" not in step_html({"x": "<b>"})


def test_pull_result_html_lists_changes_escaped_and_bounded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = PullResult(
        storage="code",
        destination=tmp_path / "code",
        added=[f"new{i}.py" for i in range(25)],
        modified=["<evil>.py"],
        kept_local=["mine.py"],
        moved_aside={"notes.py": "notes.local.py"},
        backup=tmp_path / "code.backup-20240101-000000",
        duration=0.25,
    )
    html = result._repr_html_()
    assert "<b>code</b> → <code>code</code>" in html and "(0.25s)" in html
    assert "25 added" in html and "… and 5 more" in html and "new24.py" not in html
    assert "&lt;evil&gt;.py" in html and "<evil>" not in html
    assert "kept local" in html and "notes.py → notes.local.py" in html
    assert "backup: <code>code.backup-20240101-000000</code>" in html


def test_storage_table_text_and_html(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "No storages yet" in storage_table(ws).text()
    ws.add(LocalStorage(tmp_path / "here"), name="here")
    table = storage_table(ws)
    assert table.rows == [
        {
            "name": "here",
            "kind": "local",
            "source": str(tmp_path / "here"),
            "destination": "here",
            "interval": "once",
            "status": "not watching; never pulled",
        }
    ]
    lines = table.text().splitlines()
    assert lines[0].split() == ["name", "kind", "source", "destination", "interval", "status"]
    assert lines[1].startswith("here  local")
    assert "<th" in table.html() and repr(ws) == table.text()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            {
                "watching": True,
                "interval": 60,
                "last_error": "Checking x failed — check the URL.",
                "failures": 3,
                "last_result": None,
                "last_pull": datetime(2024, 1, 1, 12, 0, 0),
                "next_pull": datetime(2024, 1, 1, 12, 8, 0),
            },
            "watching every 60s; failing (3× since the last success): Checking x failed — check the URL.; next 12:08:00",
        ),
        (None, "not in the workspace"),
    ],
)
def test_status_text(status, expected):
    assert status_text(status) == expected

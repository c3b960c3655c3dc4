"""Rich and plain renderings (behaviour §6.5): escaped, secret-free, destinations relative to the notebook."""

from __future__ import annotations

import json
import time
from datetime import datetime
from html import unescape
from pathlib import Path

import pytest
import yaml
from IPython.lib.pretty import pretty

import ipy_storage
from ipy_storage import GitRepository, LocalStorage, PullResult, Secret, Workspace
from ipy_storage.display import (
    BaseFolder,
    PullReport,
    PullStep,
    PullStepList,
    StorageCard,
    relative_destination,
    status_text,
    step_html,
    storage_table,
)
from ipy_storage.display.styles import LEGEND
from ipy_storage.status import PullOutcome
from ipy_storage.storage.errors import StoragePullError, short

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
        "interval:    every 30s",
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
    assert "not in a workspace" in html and "set_working_directory" in html


def test_a_card_shows_the_status_of_the_workspace_that_holds_it(tmp_path):
    own = Workspace(tmp_path / "own")  # not the session's default workspace
    storage = own.add(LocalStorage(tmp_path), name="mine")
    own.pull("mine")
    html = storage._repr_html_()
    assert "<b>mine</b>" in html and "pulled" in html and "not in a workspace" not in html
    assert own.name_of(storage) == "mine" and not hasattr(storage, "workspace_entry")
    assert ipy_storage.workspace().name_of(storage) is None
    own.remove("mine")
    assert "not in a workspace" in storage._repr_html_() and own.name_of(storage) is None


def test_destinations_are_relative_only_below_the_notebook(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert relative_destination(tmp_path / "ws" / "repo") == "ws/repo"
    assert relative_destination(tmp_path) == "."
    assert relative_destination(Path("/elsewhere/repo")) == "/elsewhere/repo"


def test_pull_steps_render_as_yaml_or_json_and_stay_dicts():
    data = {GIT_STEP: {"repository": "https://example.com/r.git", "branch": None}}
    step = PullStep(data)
    assert step == data and isinstance(step, dict)
    assert pretty(step) == (  # a list item: it pastes under pull: as it is
        f"- {GIT_STEP}:\n    repository: https://example.com/r.git\n    branch: null"
    )
    pasted = yaml.safe_load("pull:\n" + pretty(step))
    assert pasted == {"pull": [data]}
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
            "interval": "once (no timer)",
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
        (None, "not in a workspace"),
    ],
)
def test_status_text(status, expected):
    assert status_text(status) == expected


def _every_list_result(tmp_path) -> PullResult:
    return PullResult(
        storage="code",
        destination=tmp_path / "code",
        added=["new.py"],
        modified=["changed.py"],
        deleted=["gone.py"],
        merged=["both.py"],
        kept_local=["mine.py"],
        moved_aside={"notes.md": "notes.local.md"},
        duration=0.5,
    )


def test_merged_and_kept_local_are_separate_lists_with_their_meaning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _every_list_result(tmp_path)
    html = unescape(result._repr_html_())
    assert "1 merged (your edits and upstream's, both in the file)" in html
    assert "1 kept local (your version won over upstream's)" in html
    assert html.index("both.py") < html.index("mine.py")  # two lists, merged first
    text = repr(result)
    assert (
        "  * both.py" in text and "  = mine.py" in text and "  > notes.md → notes.local.md" in text
    )
    assert result.summary().startswith("1 added, 1 modified, 1 deleted, 1 merged, 1 kept local")
    for mark, meaning in (("*", "merged"), ("=", "kept local"), (">", "moved aside")):
        assert f"{mark} {meaning}" in LEGEND


def test_a_card_marks_configured_credentials_and_never_shows_them(ws, monkeypatch):
    monkeypatch.setenv("CARD_TOKEN", "card-token-value")
    from_env = ws.add(
        GitRepository(
            "https://example.com/org/a.git",
            credentials={"access_token": Secret.from_env("CARD_TOKEN")},
        )
    )
    plain = ws.add(
        GitRepository("https://example.com/org/b.git", credentials={"access_token": "plain-value"})
    )
    public = ws.add(GitRepository("https://example.com/org/c.git"))
    env_card, plain_card = repr(card(ws, "a")), repr(card(ws, "b"))
    assert "credentials: set, from environment variable $CARD_TOKEN" in env_card
    assert "credentials: set (plain text, so no pull step)" in plain_card
    assert "credentials" not in repr(card(ws, "c"))
    shown = (
        env_card + plain_card + from_env._repr_html_() + plain._repr_html_() + public._repr_html_()
    )
    assert "card-token-value" not in shown and "plain-value" not in shown
    assert "set, from environment variable $CARD_TOKEN" in from_env._repr_html_()


def test_a_pull_report_shows_every_outcome_under_workspace_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _every_list_result(tmp_path)
    report = PullReport(
        [
            PullOutcome("data", result),
            PullOutcome("data-copy", exception=StoragePullError("Pull of x failed: <boom>")),
        ]
    )
    assert list(report) == [result] and report.failed == ["data-copy"]
    text = pretty(report)
    assert text.splitlines()[0].split() == ["storage", "destination", "outcome"]
    assert text.splitlines()[1].split()[:3] == ["data", "code", "1"]
    assert (
        "data-copy               failed: Pull of x failed: <boom>" in text and "* both.py" in text
    )
    assert LEGEND in text
    assert "No storages to pull" in pretty(PullReport([])) + PullReport([])._repr_html_()
    html = report._repr_html_()
    assert "<b>data</b>" in html and "<b>data-copy</b>" in html
    assert "failed: Pull of x failed: &lt;boom&gt;" in html and "1 merged" in html


def test_the_base_folder_shows_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = BaseFolder(tmp_path / "ws")
    assert folder == tmp_path / "ws" and pretty(folder) == str(tmp_path / "ws")
    assert "PosixPath" not in pretty(folder) and "<code>ws</code>" in folder._repr_html_()


def test_messages_render_user_data_bounded():
    bomb: list = ["x"] * 9
    for _ in range(8):
        bomb = [bomb] * 9  # 9**9 leaves if walked as a tree
    started = time.perf_counter()
    text = short({"step": bomb})
    assert time.perf_counter() - started < 0.1 and len(text) <= 80

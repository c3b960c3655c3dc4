"""The workspace file (behaviour §6.7): written on every change, restored by a new workspace (a new
kernel), hand edits respected, a broken file never overwritten, never a token in it."""

from __future__ import annotations

import os
import warnings

import pytest
import yaml

from ipy_storage import Secret, Workspace
from ipy_storage.workspace_file import FILE_NAME, WorkspaceFileWarning, load_into, save_as
from ipy_storage.workspace_file.sync import LoadReport

GIT_STEP = "prefect.deployments.steps.git_clone"


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "notebooks"
    path.mkdir()
    return path


def _open(folder, **kwargs) -> Workspace:
    return Workspace(folder, file=folder / FILE_NAME, **kwargs)


def _document(folder) -> dict:
    return yaml.safe_load((folder / FILE_NAME).read_text())


def _stop(*workspaces: Workspace) -> None:
    for ws in workspaces:
        ws.unwatch()


def test_every_change_is_written_in_prefects_format(folder, make_repo, monkeypatch):
    repo = make_repo({"flows/a.py": "A = 1\n"}, name="flows")
    ws = _open(folder)
    assert not (folder / FILE_NAME).exists()  # nothing to keep yet: no file

    ws.add(repo.url, name="flows", pull_interval=30, importable=True, branch="main")
    document = _document(folder)
    assert document["pull"] == [
        {GIT_STEP: {"id": "flows", "repository": repo.url, "branch": "main",
                    "clone_directory_name": "flows"}}
    ]  # fmt: skip
    assert document["ipy-storage"] == {"flows": {"interval": 30, "importable": True}}

    ws.watch("flows", interval=5)
    assert _document(folder)["ipy-storage"]["flows"]["watch"] == 5
    ws.watch("flows")
    assert _document(folder)["ipy-storage"]["flows"]["watch"] is True
    ws.unwatch("flows")
    assert "watch" not in _document(folder)["ipy-storage"]["flows"]
    ws.remove("flows")
    assert _document(folder) == {"pull": []}
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # none left behind


def test_a_new_workspace_brings_back_storages_and_timers_without_pulling(folder, make_repo):
    repo = make_repo({"a.txt": "1\n"}, name="lib")
    first = _open(folder)
    first.add(repo.url, name="lib", pull_interval=3600, importable=True)
    first.add(repo.url, name="again", pull_interval=None)
    first.watch("lib")
    first._stop_watcher("lib")  # the kernel dies: its timer ends, the file stays

    second = _open(folder)  # a restarted kernel
    try:
        assert list(second) == ["lib", "again"]
        assert second["lib"] == first["lib"] and second["lib"].pull_interval == 3600
        assert second["again"].pull_interval is None
        assert second._entry("lib").importable
        status = second.status()
        assert status["lib"]["watching"] and not status["again"]["watching"]
        assert second.file.report.restored == ["lib", "again"] and not second.file.report.problems
        assert not (folder / "again").exists()  # nothing pulled, as the entries do not ask
    finally:
        _stop(first, second)


def test_pull_on_load_entries_are_pulled_when_the_session_starts(folder, make_repo):
    from ipy_storage.workspace_file import session_start

    repo = make_repo({"a.txt": "1\n"}, name="data")
    (folder / FILE_NAME).write_text(
        f"pull:\n- {GIT_STEP}:\n    id: data\n    repository: {repo.url}\n    branch: null\n"
        "ipy-storage:\n  data: {interval: null, pull_on_load: true}\n"
    )
    ws = _open(folder)
    assert not (folder / "data").exists()
    report = session_start(ws)
    assert report.to_pull == ["data"] and report.pulled == [
        "pulled data: 1 added at " + repo.head()[:10]
    ]
    assert (folder / "data" / "a.txt").read_text() == "1\n"
    assert _document(folder)["ipy-storage"]["data"]["pull_on_load"] is True  # kept on rewrite


def test_tokens_never_go_into_the_file(folder, make_repo, monkeypatch):
    repo = make_repo(name="private")
    monkeypatch.setenv("COURSE_TOKEN", "tok-from-env-123")
    ws = _open(folder)
    ws.add(repo.url, name="env", credentials={"access_token": Secret.from_env("COURSE_TOKEN")})
    ws.add(
        repo.url,
        name="named",
        credentials={"access_token": Secret("tok-named-456", name="course-token")},
    )
    with pytest.warns(WorkspaceFileWarning, match="'plain' is not saved in ipy-storage.yaml"):
        ws.add(repo.url, name="plain", credentials={"access_token": "tok-plain-789"})
    text = (folder / FILE_NAME).read_text()
    for token in ("tok-from-env-123", "tok-named-456", "tok-plain-789"):
        assert token not in text
    steps = {
        next(iter(s.values()))["id"]: next(iter(s.values())) for s in _document(folder)["pull"]
    }
    assert steps["env"]["credentials"] == {"access_token": "{{ $COURSE_TOKEN }}"}
    assert steps["named"]["credentials"] == {
        "access_token": "{{ prefect.blocks.secret.course-token }}"
    }
    assert "plain" not in steps


def test_a_secret_this_kernel_has_not_made_yet_is_resolved_at_pull_time(folder, git_http_server):
    repo = git_http_server.create_repo({"a.txt": "1\n"})
    name = f"later-{repo.name}"
    (folder / FILE_NAME).write_text(
        f"pull:\n- {GIT_STEP}:\n    id: later\n    repository: {repo.url}\n    branch: null\n"
        f"    credentials:\n      access_token: '{{{{ prefect.blocks.secret.{name} }}}}'\n"
    )
    ws = _open(folder)
    assert list(ws) == ["later"] and not ws.file.report.problems
    with pytest.raises(ValueError, match=f"The secret '{name}' is not known here"):
        ws.pull("later")
    Secret(git_http_server.token, name=name)  # the user makes it, as the message says
    assert ws.pull("later").added == ["a.txt"]
    step = ws["later"].to_pull_step()[GIT_STEP]
    assert step["credentials"] == {"access_token": "{{ prefect.blocks.secret." + name + " }}"}


def test_a_hand_edit_is_merged_before_the_next_write(folder, make_repo):
    one, two, three = (make_repo(name=n) for n in ("one", "two", "three"))
    ws = _open(folder)
    ws.add(one.url, name="one")
    ws.add(two.url, name="two")
    document = _document(folder)
    document["pull"] = [s for s in document["pull"] if s[GIT_STEP]["id"] != "two"]  # removed
    document["pull"].append({GIT_STEP: {"repository": three.url, "branch": None}})  # added
    document["ipy-storage"]["one"]["interval"] = 120  # changed
    del document["ipy-storage"]["two"]
    (folder / FILE_NAME).write_text(yaml.safe_dump(document))

    ws.add(one.url, name="four")  # any change: the hand edit is read first
    assert list(ws) == ["one", "four", "three"] or set(ws) == {"one", "four", "three"}
    assert ws["one"].pull_interval == 120
    ids = [s[GIT_STEP]["id"] for s in _document(folder)["pull"]]
    assert set(ids) == {"one", "three", "four"}


def test_when_both_changed_an_entry_the_workspace_wins(folder, make_repo):
    repo = make_repo(name="both")
    ws = _open(folder)
    ws.add(repo.url, name="both", pull_interval=10)
    text = (folder / FILE_NAME).read_text().replace("interval: 10", "interval: 20")
    (folder / FILE_NAME).write_text(text)
    ws.watch("both", interval=30)
    try:
        options = _document(folder)["ipy-storage"]["both"]
        assert options == {"interval": 10, "watch": 30}
    finally:
        ws.unwatch()


def test_a_broken_file_gives_one_line_and_is_never_overwritten(folder, make_repo):
    repo = make_repo(name="x")
    broken = b"pull:\n  - prefect.deployments.steps.git_clone:\n    repository: [unclosed\n"
    (folder / FILE_NAME).write_bytes(broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws = _open(folder)
    lines = [str(w.message) for w in caught if w.category is WorkspaceFileWarning]
    assert len(lines) == 1 and "ipy-storage.yaml line" in lines[0] and "\n" not in lines[0]
    assert "%storage load" in lines[0]
    with pytest.warns(WorkspaceFileWarning, match="Not saved"):
        ws.add(repo.url, name="x")
    assert (folder / FILE_NAME).read_bytes() == broken  # never overwritten
    assert "x" in ws  # the kernel goes on

    (folder / FILE_NAME).write_text("pull: []\n")  # fixed by hand
    report = load_into(ws)
    assert report.problems == [] and "x" in ws
    assert [s[GIT_STEP]["id"] for s in _document(folder)["pull"]] == ["x"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("x: 1\n  y: 2\n", "line 2: mapping values are not allowed here"),
        ("a: &x [1]\nb: *x\n", "YAML aliases"),
        ("just text\n", "expected a mapping"),
        ("pull: {a: 1}\n", "pull: must be a list"),
        ("pull: []\nipy-storage: [1]\n", "ipy-storage: must map"),
        (b"\xff\xfe".decode("latin-1"), "not UTF-8"),
    ],
)
def test_broken_files_say_what_is_wrong(folder, text, expected):
    path = folder / FILE_NAME
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    report = _open_quietly(folder)
    assert len(report.problems) == 1 and expected in report.problems[0]


def _open_quietly(folder) -> LoadReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _open(folder).file.report


def test_an_entry_that_cannot_be_restored_stays_in_the_file(folder, make_repo):
    repo = make_repo(name="good")
    (folder / FILE_NAME).write_text(
        f"pull:\n- prefect.deployments.steps.run_shell_script:\n    id: odd\n    script: echo hi\n"
        f"- {GIT_STEP}:\n    id: good\n    repository: {repo.url}\n    branch: null\n"
        "ipy-storage:\n  good: {interval: 60, colour: blue}\n"
    )
    report = _open_quietly(folder)
    assert [line.split(":")[1].strip() for line in report.problems] == [
        "'odd' not restored",
        "'good' not restored",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ws = Workspace(folder, file=folder / FILE_NAME)
    assert [str(w.message) for w in caught] == report.problems  # the same lines, as warnings
    ws.add(repo.url, name="new")
    pull = _document(folder)["pull"]
    assert [next(iter(s.values()))["id"] for s in pull] == ["odd", "good", "new"]
    assert pull[0] == {
        "prefect.deployments.steps.run_shell_script": {"id": "odd", "script": "echo hi"}
    }


def test_folder_and_base_come_back(folder, make_repo, tmp_path):
    repo = make_repo(name="data")
    ws = _open(folder)
    ws.set_base_path(folder / "sub")
    ws.add(repo.url, name="data")
    ws.set_base_path(tmp_path / "elsewhere")
    ws.add(repo.url, name="far")
    options = _document(folder)["ipy-storage"]
    assert options["data"]["base"] == "sub" and options["far"]["base"] == str(
        tmp_path / "elsewhere"
    )
    again = _open(folder)
    assert again["data"].destination == folder / "sub" / "data"
    assert again["far"].destination == tmp_path / "elsewhere" / "far"


def test_two_kernels_in_one_folder_keep_both_storages(folder, make_repo):
    a, b = make_repo(name="a"), make_repo(name="b")
    first, second = _open(folder), _open(folder)
    first.add(a.url, name="a")
    second.add(b.url, name="b")  # reads first's write before its own
    assert {next(iter(s.values()))["id"] for s in _document(folder)["pull"]} == {"a", "b"}


def test_save_and_load_share_a_set(ip, ws, folder, make_repo, tmp_path):
    repo = make_repo(name="shared")
    ip.run_line_magic("storage", f"add {repo.url} --name shared --interval 90")
    prefect_yaml = tmp_path / "prefect.yaml"
    prefect_yaml.write_text(
        "name: team\ndeployments:\n- name: etl\n  entrypoint: flows/etl.py:etl\n"
    )
    saved = ip.run_line_magic("storage", f"save {prefect_yaml}")
    assert saved.names == ["shared"]
    document = yaml.safe_load(prefect_yaml.read_text())
    assert document["deployments"] == [{"name": "etl", "entrypoint": "flows/etl.py:etl"}]
    assert document["pull"][0][GIT_STEP]["repository"] == repo.url

    other = Workspace(tmp_path / "colleague")
    report = load_into(other, prefect_yaml)
    assert report.restored == ["shared"] and other["shared"].pull_interval == 90
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="no file"):
        ip.run_line_magic("storage", "load")
    with pytest.raises(UsageError, match="does not exist"):
        ip.run_line_magic("storage", f"load {tmp_path / 'missing.yaml'}")


def test_save_refuses_to_overwrite_a_file_that_is_not_yaml(ws, tmp_path):
    target = tmp_path / "notes.yaml"
    target.write_text("key: [unclosed\n")
    with pytest.raises(ValueError, match="not overwritten"):
        save_as(ws, target)
    assert target.read_text() == "key: [unclosed\n"


def test_the_file_keeps_its_permissions(folder, make_repo):
    repo = make_repo(name="p")
    path = folder / FILE_NAME
    path.write_text("pull: []\n")
    os.chmod(path, 0o640)
    _open(folder).add(repo.url, name="p")
    assert os.stat(path).st_mode & 0o777 == 0o640


@pytest.mark.kernel
def test_a_restarted_kernel_gets_its_storages_and_timer_back(kernel, make_repo, tmp_path):
    live, later = make_repo({"a.txt": "1\n"}, name="live"), make_repo(name="later")
    exists = (
        "import ipy_storage\nprint((ipy_storage.workspace()['live'].destination / '{}').exists())"
    )
    first = kernel()
    assert first.run("%load_ext ipy_storage").error is None
    first.run(f"%storage add {live.url} --name live --interval 0.5 --importable")
    first.run(f"%storage add {later.url} --name later --once")
    first.run("%storage watch live")
    assert "True" in first.wait_for(exists.format("a.txt"), "True").text
    first.__exit__(None, None, None)  # the kernel is restarted
    live.commit({"b.txt": "2\n"})

    second = kernel()
    loaded = second.run("%load_ext ipy_storage\n%storage list")
    assert loaded.error is None and not [o for o in loaded.outputs if o.get("name") == "stderr"]
    assert "watching every 0.5s" in loaded.text and "later" in loaded.text
    assert "True" in second.wait_for(exists.format("b.txt"), "True").text  # the timer pulls again
    on_path = second.run(
        "import sys\nprint(str(ipy_storage.workspace()['live'].destination) in sys.path)"
    )
    assert on_path.text.strip() == "True"
    assert not (tmp_path / "later").exists()  # a one-time sync waits to be asked


@pytest.mark.kernel
def test_load_ext_reports_a_broken_file_in_one_line(kernel, tmp_path):
    (tmp_path / FILE_NAME).write_text("pull:\n- x: 1\n  y: [\n")
    session = kernel()
    loaded = session.run("%load_ext ipy_storage\n%storage list")
    assert loaded.error is None
    errors = "".join(o["text"] for o in loaded.outputs if o.get("name") == "stderr")
    assert (
        errors.count("\n") == 1 and "ipy-storage.yaml line" in errors and "Traceback" not in errors
    )
    assert (tmp_path / FILE_NAME).read_text() == "pull:\n- x: 1\n  y: [\n"


@pytest.mark.prefect
def test_prefect_reads_the_pull_section_and_ignores_ipy_storages_key(folder, make_repo, tmp_path):
    """``prefect deploy --prefect-file ipy-storage.yaml`` sees our steps and nothing else."""
    import json
    import subprocess

    from tests.fixtures.prefect_venv import ensure_peer_venv, prefect_environment

    ws = _open(folder)
    ws.add(make_repo(name="flows").url, name="flows", pull_interval=300, importable=True)
    ws.watch("flows")
    ws.unwatch()
    script = (
        "import json, sys, yaml\n"
        "from prefect.cli.deploy._models import PrefectYamlModel\n"
        "model = PrefectYamlModel.model_validate(yaml.safe_load(open(sys.argv[1])))\n"
        "print(json.dumps({'pull': model.pull, 'fields': sorted(model.model_dump(exclude_unset=True))}))\n"
    )
    seen = subprocess.run(
        [str(ensure_peer_venv()), "-c", script, str(folder / FILE_NAME)],
        env=prefect_environment(tmp_path / "prefect-home"),
        capture_output=True,
        text=True,
        check=True,
    )
    model = json.loads(seen.stdout)
    assert model["pull"] == _document(folder)["pull"] and model["fields"] == ["pull"]

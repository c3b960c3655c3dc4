"""``%storage`` / ``%%storage`` (behaviour §6.3) in a real in-process IPython shell."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid

import fsspec
import pytest
import yaml
from IPython.core.error import UsageError
from IPython.lib.pretty import pretty

from ipy_storage import GitRepository, PullResult, RemoteStorage, Secret, StorageForm
from ipy_storage.display import (
    PullReport,
    PullStep,
    PullStepList,
    StorageCard,
    StorageList,
    StorageTable,
)
from ipy_storage.magics import StorageMagics

SUBCOMMANDS = (
    "add",
    "pull",
    "watch",
    "unwatch",
    "list",
    "show",
    "step",
    "remove",
    "base",
    "form",
    "nest",
)


def storage(ip, line: str):
    return ip.run_line_magic("storage", line)


def usage_error(ip, capsys, code: str) -> str:
    """Run ``code`` as a cell; assert it failed with a one-line UsageError and return that line."""
    capsys.readouterr()
    result = ip.run_cell(code)
    captured = capsys.readouterr()
    assert isinstance(result.error_in_exec, UsageError), (code, result.error_in_exec)
    shown = (captured.out + captured.err).strip()
    assert "Traceback" not in shown and shown.startswith("UsageError: ")
    assert len(shown.splitlines()) == 1, shown
    return shown


@pytest.fixture
def memory_folder():
    fs = fsspec.filesystem("memory")
    root = f"/bucket-{uuid.uuid4().hex[:8]}"
    fs.pipe({f"{root}/data/a.txt": b"a"})
    yield f"memory://{root}/data"
    fs.rm(root, recursive=True)


# -- loading and help ---------------------------------------------------------------------------
def test_help_starts_with_usage_and_examples_then_lists_every_subcommand(ip, capsys):
    ip.run_cell("%storage?")
    shown = capsys.readouterr().out
    doc = ip.find_line_magic("storage").__doc__
    assert doc.startswith("Pull code into the notebook") and doc in shown
    usage, examples, options = (
        doc.index("Usage:"),
        doc.index("Examples:"),
        doc.index("positional arguments:"),
    )
    assert usage < examples < doc.index("%%storage --pull") < options
    assert "::" not in [line.strip() for line in shown.splitlines()]
    for command in SUBCOMMANDS:
        assert f"%storage {command}" in doc[:examples] and f"%storage {command}" in doc[options:]
    assert "--option <KEY=VALUE>" in doc[options:] and "--token-env VAR" in doc[options:]
    cell_doc = ip.find_cell_magic("storage").__doc__
    assert cell_doc.startswith("%%storage [--pull]:") and "Example:" in cell_doc
    assert "--pull" in cell_doc and "::" not in cell_doc


def test_the_magics_are_configurable(ip, make_repo):
    assert any(isinstance(c, StorageMagics) for c in ip.configurables)
    ip.run_line_magic("config", "StorageMagics.default_interval = 5")
    assert storage(ip, f"add {make_repo().url} --name five").pull_interval == 5
    ip.run_line_magic("config", "StorageMagics.show_progress = False")
    assert isinstance(storage(ip, "pull five"), PullResult)


def test_unload_takes_the_magics_away_and_stops_timers(ip, make_repo):
    storage(ip, f"add {make_repo().url} --name live --interval 0.2")
    storage(ip, "watch live")
    ip.run_line_magic("reload_ext", "ipy_storage")
    assert not [t for t in threading.enumerate() if t.name.startswith("ipy-storage-watch")]
    assert "live" in ip.find_line_magic("storage").__self__.workspace  # the workspace survives
    storage(ip, "watch live")
    ip.run_line_magic("unload_ext", "ipy_storage")
    try:
        assert not [t for t in threading.enumerate() if t.name.startswith("ipy-storage-watch")]
        assert ip.find_line_magic("storage") is None and ip.find_cell_magic("storage") is None
        assert not any(isinstance(c, StorageMagics) for c in ip.configurables)
    finally:
        ip.run_line_magic("load_ext", "ipy_storage")


def test_load_ext_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "before = set(sys.modules)\n"
        "ip.run_line_magic('load_ext', 'ipy_storage')\n"
        "import asyncio\n"
        "heavy = [m for m in ('ipywidgets', 'yaml', 'git', 'fsspec', 'pygments', 'nest_asyncio2') if m in sys.modules and m not in before]\n"
        "print(heavy, asyncio.run.__module__)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[] asyncio.runners"  # nothing heavy, asyncio not patched


# -- subcommands --------------------------------------------------------------------------------
def test_add_pull_list_show_step_remove(ip, make_repo):
    repo = make_repo({"flows/a.py": "A = 1\n", "docs/x.md": "x\n"})
    added = storage(ip, f"add {repo.url} --name code --branch main --dir flows --interval 30")
    assert (
        isinstance(added, GitRepository)
        and added.directories == ["flows"]
        and added.pull_interval == 30
    )
    result = storage(ip, "pull code")
    assert isinstance(result, PullResult) and result.added == ["flows/a.py"]
    assert isinstance(storage(ip, "pull"), list)
    table = storage(ip, "list")
    assert isinstance(table, StorageTable)
    assert table.rows[0]["name"] == "code" and table.rows[0]["destination"] == "ws/code"
    card = storage(ip, "show code")
    assert isinstance(card, StorageCard) and "git_clone" in repr(card) and "ws/code" in repr(card)
    step = storage(ip, "step code")
    assert isinstance(step, PullStep) and step == added.to_pull_step()
    assert yaml.safe_load("pull:\n" + pretty(step)) == {"pull": [added.to_pull_step()]}
    assert json.loads(storage(ip, "step code --json").text()) == added.to_pull_step()
    assert isinstance(storage(ip, "step"), PullStepList)
    assert storage(ip, "remove code") is None
    assert storage(ip, "list").rows == []


def test_add_with_pull_once_and_importable(ip, make_repo, tmp_path):
    module = f"mod_{uuid.uuid4().hex[:8]}"
    repo = make_repo({f"{module}.py": "V = 3\n"})
    added = storage(ip, f"add {repo.url} --name imp --once --importable --pull")
    try:
        assert added.pull_interval is None
        ip.run_cell(f"import {module}; value = {module}.V")
        assert ip.user_ns["value"] == 3
    finally:
        storage(ip, "remove imp")
        sys.modules.pop(module, None)


def test_token_comes_only_from_an_environment_variable(ip, make_repo, monkeypatch):
    monkeypatch.setenv("REPO_TOKEN", "very-secret-token")
    added = storage(
        ip, f"add {make_repo().url} --name private --username me --token-env REPO_TOKEN"
    )
    credentials = added.to_pull_step()["prefect.deployments.steps.git_clone"]["credentials"]
    assert credentials == {"username": "me", "access_token": "{{ $REPO_TOKEN }}"}
    shown = repr(storage(ip, "show private")) + storage(ip, "show private")._repr_html_()
    assert "very-secret-token" not in shown


def test_remote_options_and_var_expansion(ip, memory_folder):
    ip.user_ns["url"] = memory_folder
    added = storage(ip, 'add $url --option anon=true --option "note=two words" --pull')
    assert isinstance(added, RemoteStorage) and added.settings == {
        "anon": True,
        "note": "two words",
    }
    assert (
        added.to_pull_step()["prefect.deployments.steps.pull_from_remote_storage"]["anon"] is True
    )


def test_secret_remote_settings_come_from_the_environment(ip, memory_folder, monkeypatch):
    monkeypatch.setenv("IPY_STORAGE_REMOTE_TOKEN", "remote-token-value")
    added = storage(
        ip, f"add {memory_folder} --secret-option token=IPY_STORAGE_REMOTE_TOKEN --pull"
    )
    assert added.settings["token"] == Secret.from_env("IPY_STORAGE_REMOTE_TOKEN")
    step = added.to_pull_step()["prefect.deployments.steps.pull_from_remote_storage"]
    assert step["token"] == "{{ $IPY_STORAGE_REMOTE_TOKEN }}"
    assert "remote-token-value" not in repr(step) + repr(added)
    with pytest.raises(UsageError, match="secret-option"):
        storage(ip, f"add {memory_folder} --name other --secret-option token=1-not-a-var")


def test_watch_unwatch_and_base(ip, make_repo, tmp_path):
    storage(ip, f"add {make_repo().url} --name live")
    storage(ip, "watch live --interval 0.2")
    workspace = ip.find_line_magic("storage").__self__.workspace
    assert workspace.status("live")["live"]["watching"]
    storage(ip, "unwatch --all")
    assert not workspace.status("live")["live"]["watching"]
    storage(ip, "watch live")
    storage(ip, "unwatch live")
    assert not workspace.status("live")["live"]["watching"]
    assert storage(ip, "base") == tmp_path / "ws"
    assert pretty(storage(ip, "base")) == str(tmp_path / "ws")  # not PosixPath('…')
    assert storage(ip, f"base {tmp_path / 'other'}") == tmp_path / "other"


def test_form_subcommand_returns_the_widget(ip):
    form = storage(ip, "form")
    assert (
        isinstance(form, StorageForm)
        and form.workspace is ip.find_line_magic("storage").__self__.workspace
    )
    form.close()


def test_pull_progress_is_a_line_in_a_terminal(ip, make_repo, capsys, git_http_server, monkeypatch):
    repo = git_http_server.create_repo({f"f{i}.txt": "x" * 1000 for i in range(30)})
    monkeypatch.setenv("SLOW_TOKEN", git_http_server.token)
    storage(ip, f"add {repo.url} --name slow --token-env SLOW_TOKEN")
    git_http_server.set_delay(0.4)
    capsys.readouterr()
    storage(ip, "pull slow")
    out = capsys.readouterr().out
    assert (
        out.startswith("\rslow:") and out.endswith("\n") and out.count("\n") == 1
    )  # one line, rewritten
    assert out.rstrip().endswith("(finished)")


# -- mistakes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "the following arguments are required: SUBCOMMAND"),
        ("frobnicate", "invalid choice: 'frobnicate'"),
        ("add", "the following arguments are required: SOURCE"),
        (
            "add x.git --branch a --commit abcd",
            "argument --commit: not allowed with argument --branch",
        ),
        ("add x.git --interval 5 --once", "not allowed with argument --interval"),
        ("add x.git --interval soon", "invalid float value: 'soon'"),
        (
            "add x.git --interval 0",
            "%storage add: --interval must be a positive number of seconds, at most 31536000 "
            "(a year); use --once or %storage pull",
        ),
        ("add x.git --interval nan", "--interval must be a positive number of seconds"),
        ("add x.git --interval inf", "--interval must be a positive number of seconds"),
        ("add x.git --interval 1e12", "at most 31536000 (a year)"),
        ("add github.com/org/repo", "did you mean https://github.com/org/repo?"),
        ("add http://[::1", "Invalid source 'http://[::1': Invalid IPv6 URL"),
        ("add ~nouser-ipy-storage/x", "Cannot find the home folder in '~nouser-ipy-storage/x'"),
        ("add /no/such/folder", "Folder /no/such/folder does not exist: check the path"),
        ("base /etc/hostname/below", "is below the file /etc/hostname: give a folder"),
        ("add x.git --option =1", "expected KEY=VALUE, got '=1'"),
        ("add x.git --option novalue", "expected KEY=VALUE, got 'novalue'"),
        ("add x.git --help", "unrecognized arguments: --help"),
        ("step --yaml --json", "not allowed with argument --yaml"),
        ("show", "the following arguments are required: NAME"),
        ("add 'unclosed", "No closing quotation"),
        ("unwatch --all nope", "give NAMEs or --all, not both"),
        ("pull nope", "No storage named 'nope' in the workspace"),
        ("show nope", "No storage named 'nope'"),
        ("step nope", "No storage named 'nope'"),
        ("watch nope", "No storage named 'nope'"),
        ("remove nope", "No storage named 'nope'"),
        ("add x.git --commit zz", "Invalid commit SHA 'zz'"),
        (
            "add s3x://bucket/path --branch main",
            "'s3x://bucket/path' is a local folder, not a git repository",
        ),
        (
            "add memory://b/p --option secret=plain --name p\n%storage step p",
            "holds a secret in plain text, so it cannot go into a pull step",
        ),
        ("add memory://b/p --branch dev", "Git-only option(s) branch cannot be used"),
    ],
)
def test_every_mistake_is_a_one_line_usage_error(ip, capsys, line, message):
    assert message in usage_error(ip, capsys, f"%storage {line}")


def test_a_failing_pull_is_a_one_line_usage_error(ip, capsys, tmp_path):
    (tmp_path / "soon-gone").mkdir()
    storage(ip, f"add {tmp_path / 'soon-gone'} --name gone")
    (tmp_path / "soon-gone").rmdir()
    assert "does not exist: check the path exists" in usage_error(ip, capsys, "%storage pull gone")
    assert "%storage watch: 'here' was added with --once: give --interval SECONDS" in usage_error(
        ip, capsys, f"%storage add {tmp_path} --name here --once\n%storage watch here"
    )


def test_argparse_never_exits_the_cell(ip):
    with pytest.raises(UsageError):
        storage(ip, "add --help")


# -- the cell magic -----------------------------------------------------------------------------
def test_cell_reads_yaml_pull_steps_with_secret_placeholders(ip, make_repo, monkeypatch):
    repo = make_repo({"flow.py": "x\n"})
    monkeypatch.setenv("GIT_TOKEN", "unused-here")
    body = (
        "- prefect.deployments.steps.git_clone:\n"
        f"    repository: {repo.url}\n"
        "    branch: main\n"
        "    credentials:\n"
        "      username: me\n"
        "      access_token: '{{ $GIT_TOKEN }}'\n"
    )
    storages = ip.run_cell_magic("storage", "", body)
    assert len(storages) == 1 and storages[0].branch == "main"
    step = storages[0].to_pull_step()["prefect.deployments.steps.git_clone"]
    assert step["credentials"]["access_token"] == "{{ $GIT_TOKEN }}"


def test_cell_reads_a_prefect_yaml_mapping_and_json_and_pulls(ip, make_repo, memory_folder):
    repo = make_repo({"flow.py": "x\n"})
    prefect_yaml = (
        "name: project\n"
        "pull:\n"
        "- prefect.deployments.steps.git_clone:\n"
        f"    repository: {repo.url}\n"
        "    branch: null\n"
        "    clone_directory_name: flows\n"
    )
    (flows,) = ip.run_cell_magic("storage", "--pull", prefect_yaml)
    assert (flows.destination / "flow.py").exists()
    as_json = json.dumps(
        [{"prefect.deployments.steps.pull_from_remote_storage": {"url": memory_folder}}]
    )
    (remote,) = ip.run_cell_magic("storage", "", as_json)
    assert remote.url == memory_folder
    workspace = ip.find_line_magic("storage").__self__.workspace
    assert list(workspace) == ["flows", "data"]


def test_cell_braces_are_not_expanded(ip, make_repo, capsys):
    ip.user_ns["GIT_TOKEN"] = "python-variable-value"
    Secret("block-secret-value", name="cell-secret")
    code = (
        "%%storage\n"
        "- prefect.deployments.steps.git_clone:\n"
        f"    repository: {make_repo().url}\n"
        "    credentials:\n"
        "      access_token: '{{ prefect.blocks.secret.cell-secret }}'\n"
    )
    result = ip.run_cell(code)
    assert result.error_in_exec is None
    (added,) = result.result
    assert added.to_pull_step()["prefect.deployments.steps.git_clone"]["credentials"] == {
        "access_token": "{{ prefect.blocks.secret.cell-secret }}"
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "- prefect.deployments.steps.git_clone:\n    repository: x.git\n- just a string\n",
            "Invalid pull step 2",
        ),
        (
            "- prefect.deployments.steps.run_shell_script:\n    script: ls\n",
            "pull step 1 'prefect.deployments.steps.run_shell_script': unsupported step",
        ),
        (
            "- prefect.deployments.steps.git_clone:\n    branch: main\n",
            "pull step 1 'prefect.deployments.steps.git_clone': missing 'repository'",
        ),
        (
            "- prefect.deployments.steps.git_clone:\n    repository: x.git\n    credentials:\n"
            "      access_token: '{{ prefect.blocks.secret.never-made }}'\n",
            "Unknown secret 'never-made'",
        ),
        ("name: project\nbuild: null\n", "mapping without a 'pull:' list"),
        ("pull: not-a-list\n", "The 'pull' section must be a list of steps"),
        ("# only a comment\n", "the cell holds no pull steps"),
        ("- [unclosed\n", "not valid YAML or JSON at line 3"),
        ("- a: 1\n- b: c: d\n- e: 2\n", "not valid YAML or JSON at line 3"),
        ('[{"a": 1,]', "not valid YAML or JSON"),
    ],
)
def test_cell_mistakes_name_the_offending_entry(ip, capsys, body, message):
    assert message in usage_error(ip, capsys, f"%%storage\n{body}")


def test_cell_line_mistake(ip, capsys):
    assert "unrecognized arguments: --pulll" in usage_error(
        ip, capsys, "%%storage --pulll\n- x: {}\n"
    )


def test_watch_speaks_the_magic_language(ip, capsys, tmp_path):
    storage(ip, f"add {tmp_path} --name here")
    assert "%storage watch: --interval must be a positive number of seconds" in usage_error(
        ip, capsys, "%storage watch here --interval 0"
    )


# -- pull reports -------------------------------------------------------------------------------
@pytest.fixture
def two_good_one_broken(ip, make_repo, tmp_path):
    repo = make_repo({"a.py": "A = 1\n"})
    storage(ip, f"add {repo.url} --name data")
    storage(ip, f"add {repo.url} --name data-copy")
    (tmp_path / "soon-gone").mkdir()
    storage(ip, f"add {tmp_path / 'soon-gone'} --name broken")
    (tmp_path / "soon-gone").rmdir()
    return ip


def test_a_multi_pull_pulls_everything_shows_one_table_then_names_the_failures(
    two_good_one_broken, capsys
):
    ip = two_good_one_broken
    capsys.readouterr()
    result = ip.run_cell("%storage pull")
    captured = capsys.readouterr()
    shown = (captured.out + captured.err).strip().splitlines()
    assert isinstance(result.error_in_exec, UsageError)
    assert shown[-1] == (
        "UsageError: %storage pull: 1 of 3 failed: broken (the table above says why)"
    )
    table = [line.split() for line in shown[:-1]]
    assert table[0] == ["storage", "destination", "outcome"]
    assert table[1][:4] == ["data", "ws/data", "1", "added"] and table[2] == ["+", "a.py"]
    assert table[3][:4] == ["data-copy", "ws/data-copy", "1", "added"]
    assert table[5][:4] == ["broken", "failed:", "Local", "path"]
    workspace = ip.find_line_magic("storage").__self__.workspace
    assert (workspace["data-copy"].destination / "a.py").exists()


def test_a_multi_pull_that_works_returns_the_report_labelled_by_workspace_names(ip, make_repo):
    repo = make_repo({"a.py": "A = 1\n"})
    storage(ip, f"add {repo.url} --name data")
    storage(ip, f"add {repo.url} --name data-copy")
    report = storage(ip, "pull data data-copy")
    assert isinstance(report, PullReport) and report.failed == []
    assert [result.storage for result in report] == ["data", "data-copy"]
    assert all(isinstance(result, PullResult) for result in report)
    assert "<b>data-copy</b>" in report._repr_html_()


def test_the_cell_magic_pull_reports_the_same_way(ip, capsys, make_repo, tmp_path):
    repo = make_repo({"a.py": "A = 1\n"})
    code = (
        "%%storage --pull\n"
        "- prefect.deployments.steps.git_clone:\n"
        f"    repository: {repo.url}\n"
        "    clone_directory_name: flows\n"
        "- prefect.deployments.steps.set_working_directory:\n"
        f"    directory: {tmp_path / 'not-there'}\n"
    )
    capsys.readouterr()
    result = ip.run_cell(code)
    captured = capsys.readouterr()
    shown = (captured.out + captured.err).strip().splitlines()
    assert isinstance(result.error_in_exec, UsageError)
    assert shown[-1] == (
        "UsageError: %%storage --pull: 1 of 2 failed: not-there (the table above says why)"
    )
    assert any(line.split()[:3] == ["flows", "ws/flows", "1"] for line in shown)
    good = ip.run_cell(
        f"%%storage --pull\n- prefect.deployments.steps.git_clone:\n    repository: {repo.url}\n"
    )
    added = good.result
    assert good.error_in_exec is None and isinstance(added, StorageList)
    assert "repo" in added._repr_html_() and "pulled" in pretty(added)


def test_add_with_pull_shows_the_result_and_says_a_failed_storage_stays_added(
    ip, capsys, make_repo, tmp_path
):
    capsys.readouterr()
    storage(ip, f"add {make_repo({'a.py': 'A = 1'}).url} --name shown --pull")
    assert "+ a.py" in capsys.readouterr().out
    (tmp_path / "vanishing").mkdir()
    message = usage_error(
        ip,
        capsys,
        f"import shutil\n%storage add {tmp_path / 'vanishing'} --name v --interval 5\n"
        f"shutil.rmtree({str(tmp_path / 'vanishing')!r})\n%storage pull v",
    )
    assert "does not exist" in message
    failing = make_repo(name="failing")
    failing.bare.rename(tmp_path / "moved.git")
    message = usage_error(ip, capsys, f"%storage add {failing.url} --name late --pull")
    assert "'late' stays added: %storage pull late to try again, %storage remove late" in message
    assert "late" in ip.find_line_magic("storage").__self__.workspace


def test_a_cell_of_nested_yaml_aliases_is_refused_quickly(ip, capsys):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefg", "bcdefgh", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    body = "\n".join(lines) + "\npull:\n- prefect.deployments.steps.git_clone:\n"
    body += "    repository: x.git\n    credentials: *h\n"
    assert len(body) < 600
    started = time.perf_counter()
    message = usage_error(ip, capsys, f"%%storage\n{body}")
    assert time.perf_counter() - started < 2
    assert "describes more than 10000 values" in message

"""What a person sees, in a real JupyterLab driven by a real Chromium: the form as it adapts to
the source, a slowed pull of a private repository behind Basic auth, an error, a timer updating
the form from its thread, the ``%storage list`` / ``show`` outputs and a PullResult in the light
and the dark theme. One notebook drives every state; each state is saved as a screenshot under
``tests/artifacts/screenshots/`` (git-ignored) for a person to look at."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.fixtures.browser import expect, open_notebook, run_cell

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
CONSTRUCTED_RESULT = """\
from pathlib import Path
from ipy_storage import PullResult

PullResult(
    storage="browser-flows", destination=Path({base!r}) / "browser-flows",
    added=["flows/etl.py", "flows/util.py"], modified=["README.md"], deleted=["flows/old.py"],
    merged=["flows/hello.py"], kept_local=["config.yaml"], moved_aside={{"notes.md": "notes.local.md"}},
    revision="0123456789abcdef0123", duration=0.42,
)"""


def _write_notebook(path: Path, base: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import ipy_storage\n"
            f"ipy_storage.workspace().set_base_path({str(base)!r})\n"
            "form = ipy_storage.StorageForm()\n"
            "form"
        ),
        nbformat.v4.new_code_cell("%load_ext ipy_storage\n%storage list"),
        nbformat.v4.new_code_cell("%storage show browser-flows"),
        nbformat.v4.new_code_cell(CONSTRUCTED_RESULT.format(base=str(base))),
    ]
    nbformat.write(notebook, path)


def _field(page, label: str):
    return page.locator(
        f".widget-inline-hbox:has(> label:text-is('{label}')) input, "
        f".widget-inline-hbox:has(> label:text-is('{label}')) textarea"
    ).first


def _button(page, text: str):
    return page.locator("button.widget-button", has_text=text).first


def _output(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output").first


def _shot(locator, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _wait_for_text(page, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("t => document.body.innerText.includes(t)", arg=text, timeout=timeout)


def test_what_a_person_sees(jupyterlab, lab_page, git_http_server):
    repo = git_http_server.create_repo(
        {f"flows/f{i}.py": f"V = {i}\n" for i in range(8)}, name="browser-flows"
    )
    base = jupyterlab.root / "workspace"  # below the notebook: paths show as the file browser does
    _write_notebook(jupyterlab.root / "looked-at.ipynb", base)
    page = lab_page
    open_notebook(page, jupyterlab, "looked-at.ipynb")
    run_cell(page, 0)
    form = _output(page, 0)
    _button(page, "Add").wait_for(timeout=60_000)
    _shot(form, "01-empty-form")
    expect(_field(page, "Branch")).to_be_hidden()
    expect(_field(page, "Options")).to_be_hidden()

    _field(page, "Source").fill(git_http_server.url_for("browser-flows"))
    for git_field in ("Branch", "Folders", "User", "Token"):
        expect(_field(page, git_field)).to_be_visible()
    expect(_field(page, "Options")).to_be_hidden()
    _shot(form, "02-git-form")

    _field(page, "Source").fill("s3://team-bucket/data")
    expect(_field(page, "Options")).to_be_visible()
    expect(_field(page, "Secrets")).to_be_visible()
    for git_field in ("Branch", "Folders", "User", "Token"):
        expect(_field(page, git_field)).to_be_hidden()
    _shot(form, "03-s3-form")

    _field(page, "Source").fill(git_http_server.url_for("browser-flows"))
    _field(page, "User").fill(git_http_server.username)
    _field(page, "Token").fill(git_http_server.token)
    _field(page, "Interval s").fill("1")
    _button(page, "Add").click()
    _wait_for_text(page, "Added browser-flows")
    expect(_field(page, "Token")).to_have_value("")

    git_http_server.set_delay(0.7)
    _button(page, "Pull").click()
    _wait_for_text(page, "Pulling browser-flows", timeout=10_000)
    expect(_button(page, "Pull")).to_be_disabled()
    expect(_button(page, "Add")).to_be_disabled()
    _shot(form, "04-during-pull")
    expect(form.get_by_text("flows/f7.py")).to_be_visible(timeout=30_000)  # the files, listed
    git_http_server.set_delay(None)
    expect(_button(page, "Pull")).to_be_enabled()
    _shot(form, "05-after-pull")
    assert (base / "browser-flows" / "flows" / "f0.py").read_text() == "V = 0\n"

    _field(page, "Source").fill("github.com/org/repo")
    _button(page, "Add").click()
    _wait_for_text(page, "did you mean https://github.com/org/repo?")
    _shot(form, "06-error")

    _button(page, "Watch").click()
    _button(page, "Stop").wait_for(timeout=20_000)
    repo.commit({"flows/etl.py": "print('etl')\n"}, message="add etl")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-output')].some(e => e.innerText.includes('browser-flows: 1 added'))",
        timeout=30_000,
    )
    _wait_for_text(page, "browser-flows: watching every 1s")
    _shot(form, "07-watching")
    _button(page, "Stop").click()
    _button(page, "Watch").wait_for(timeout=20_000)

    run_cell(page, 1)
    _wait_for_text(page, "destination")
    _shot(_output(page, 1), "08-storage-list")
    run_cell(page, 2)
    show = _output(page, 2)
    show.locator(".ipy-storage-card").wait_for(timeout=20_000)
    show.locator("summary").first.click()
    show.get_by_text("git_clone").wait_for(timeout=10_000)
    expect(show.get_by_text("credentials").first).to_be_visible()
    _shot(show, "09-storage-show")

    run_cell(page, 3)
    result = _output(page, 3)
    result.locator(".ipy-storage-result").wait_for(timeout=20_000)
    result.locator("details").evaluate_all("(all) => all.forEach(d => d.open = true)")
    for text in ("merged", "kept local", "notes.md → notes.local.md"):
        expect(result.get_by_text(text).first).to_be_visible()
    _shot(result, "10-pull-result-light")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=20_000)
    page.wait_for_timeout(500)
    _shot(result, "11-pull-result-dark")
    _shot(form, "12-form-dark")

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    leaked = [secret for secret in git_http_server.secret_forms() if secret in page.content()]
    assert leaked == [], "the token is visible in the page"
    saved = (jupyterlab.root / "looked-at.ipynb").read_text()
    assert not [secret for secret in git_http_server.secret_forms() if secret in saved]
    tracked = subprocess.run(
        ["grep", "-rlF", git_http_server.token, str(base)], capture_output=True, text=True
    )
    assert tracked.stdout == "", f"token written under the workspace: {tracked.stdout}"

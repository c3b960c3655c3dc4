"""The StorageForm in a real JupyterLab, driven by a real Chromium: typed fields, clicks, a
private repository behind Basic auth, and a timer that updates the form from its thread."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.fixtures.browser import open_notebook_and_run_all

pytestmark = pytest.mark.browser


def _write_notebook(path: Path, base: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import ipy_storage\n"
            f"ipy_storage.workspace().set_base_path({str(base)!r})\n"
            "form = ipy_storage.StorageForm()\n"
            "form"
        )
    ]
    nbformat.write(notebook, path)


def _field(page, label: str):
    return page.locator(
        f".widget-text:has(label:text-is('{label}')) input, .widget-password:has(label:text-is('{label}')) input, .widget-inline-hbox:has(label:text-is('{label}')) input"
    ).first


def _button(page, text: str):
    return page.locator("button.widget-button", has_text=text).first


def test_form_adds_pulls_and_watches_a_private_repository(
    jupyterlab, lab_page, git_http_server, tmp_path
):
    repo = git_http_server.create_repo({"flows/hello.py": "print('v1')\n"}, name="browser-flows")
    base = tmp_path / "workspace"
    _write_notebook(jupyterlab.root / "form.ipynb", base)
    page = lab_page

    open_notebook_and_run_all(page, jupyterlab, "form.ipynb")
    _button(page, "Add").wait_for(timeout=60_000)

    _field(page, "Source").fill(git_http_server.url_for("browser-flows"))
    _field(page, "User").fill(git_http_server.username)
    page.locator("input[type=password]").first.fill(git_http_server.token)
    _field(page, "Interval s").fill("1")
    _button(page, "Add").click()
    page.wait_for_function(
        "() => document.body.innerText.includes('Added browser-flows')", timeout=20_000
    )
    assert page.locator("input[type=password]").first.input_value() == ""

    _button(page, "Pull").click()
    page.wait_for_function(
        "() => document.body.innerText.includes('browser-flows: 1 added')", timeout=30_000
    )
    assert (base / "browser-flows" / "flows" / "hello.py").read_text() == "print('v1')\n"

    _button(page, "Watch").click()
    # the status line is the timer's own from its first pull on; the button tells the state
    _button(page, "Stop").wait_for(timeout=20_000)
    page.wait_for_function(
        "() => document.body.innerText.includes('browser-flows: watching every 1s')", timeout=20_000
    )
    repo.commit({"flows/etl.py": "print('etl')\n"}, message="add etl")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.widget-output')].some(e => e.innerText.split('1 added at').length > 2)",
        timeout=30_000,
    )
    assert (base / "browser-flows" / "flows" / "etl.py").exists()
    _button(page, "Stop").click()
    _button(page, "Watch").wait_for(timeout=20_000)

    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    leaked = [form for form in git_http_server.secret_forms() if form in page.content()]
    assert leaked == [], "the token is visible in the page"
    saved = (jupyterlab.root / "form.ipynb").read_text()
    assert not [form for form in git_http_server.secret_forms() if form in saved]
    tracked = subprocess.run(
        ["grep", "-rlF", git_http_server.token, str(base)], capture_output=True, text=True
    )
    assert tracked.stdout == "", f"token written under the workspace: {tracked.stdout}"

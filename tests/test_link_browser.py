"""A teacher's link followed by a student in a real JupyterLab in Chromium (behaviour §6.8): the
progress page while a slowed private server answers, the notebook it lands in, an edit there
kept when the link is opened again, a link for two sources, a refused link, and a link from
another site that asks first. Screenshots go to ``tests/artifacts/screenshots/link-*.png``."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat
import pytest

from tests.fixtures.browser import CHROMIUM, require_chromium, running_jupyterlab

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
TOKEN_ENV = "COURSE_GIT_TOKEN"


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory, _git_http_server_session):
    require_chromium()
    git = _git_http_server_session
    config = {"IPyStorageLinks": {"token_envs": {TOKEN_ENV: [git.base_url + "/"]}}}
    with running_jupyterlab(
        tmp_path_factory.mktemp("links-lab"), config, {TOKEN_ENV: git.token}
    ) as lab:
        yield lab


@pytest.fixture
def student(chromium_browser_for_links, course_lab):
    context = chromium_browser_for_links.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"http://127.0.0.1:{course_lab.port}/api/status?token={course_lab.token}")  # logs in
    yield page
    context.close()


@pytest.fixture(scope="module")
def chromium_browser_for_links(course_lab):
    from playwright.sync_api import sync_playwright

    from tests.fixtures.browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _link(lab, *pairs: tuple[str, str]) -> str:
    return f"http://127.0.0.1:{lab.port}/ipy-storage/pull?{urlencode(pairs, quote_via=quote)}"


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"link-{name}.png"))


def _notebook(title: str) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\nWelcome to the course."),
        nbformat.v4.new_code_cell("import pandas as pd  # week 1"),
    ]
    return nbformat.writes(notebook)


def _wait_for_notebook(page, path: str) -> None:
    page.wait_for_url(f"**/lab/tree/{path}", timeout=60_000)
    page.wait_for_function(
        "() => document.body.innerText.includes('Python 3 (ipykernel) | Idle')", timeout=60_000
    )


def _cell(page, text: str):
    return page.locator(".jp-Notebook .jp-Cell", has_text=text).first


def test_a_student_follows_the_teachers_link_twice_and_keeps_the_edit(
    student, course_lab, git_http_server
):
    files = {"week1/intro.ipynb": _notebook("Week 1"), "week1/data.csv": "x\n1\n"}
    files.update({f"week1/extra/{i}.txt": f"{i}\n" for i in range(30)})
    repo = git_http_server.create_repo(files)
    link = _link(course_lab, ("source", repo.url), ("token_env", TOKEN_ENV), ("name", "course"),
                 ("open", "course/week1/intro.ipynb"))  # fmt: skip
    git_http_server.set_delay(0.4)  # slow enough to see the progress page
    student.goto(link)
    state = student.locator("li.running .state", has_text="Cloning")
    state.wait_for(timeout=30_000)  # the stage is told once: no "cloning · Cloning …"
    assert state.inner_text().startswith("Cloning http")
    assert student.locator("li.running progress").get_attribute("value") is None  # no total yet
    _shot(student, "progress")
    git_http_server.set_delay(None)
    _wait_for_notebook(student, "course/week1/intro.ipynb")
    _cell(student, "Welcome to the course.").wait_for()
    _shot(student, "landed")
    intro = course_lab.root / "course" / "week1" / "intro.ipynb"
    assert (course_lab.root / "course" / "week1" / "data.csv").read_text() == "x\n1\n"

    student.evaluate(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            panel.content.model.sharedModel.insertCell(0, {cell_type: 'markdown', source: 'My own note'});
            await window.jupyterapp.commands.execute('docmanager:save');
        }"""
    )
    assert "My own note" in intro.read_text()  # saved: the edit is on disk
    repo.commit({"week1/data.csv": "x\n1\n2\n", "week1/new.py": "NEW = 1\n"})

    student.goto(link)
    _wait_for_notebook(student, "course/week1/intro.ipynb")
    _cell(student, "My own note").wait_for()
    _shot(student, "again")
    assert "My own note" in intro.read_text()  # the student's edit is kept
    assert (course_lab.root / "course" / "week1" / "new.py").read_text() == "NEW = 1\n"
    assert (course_lab.root / "course" / "week1" / "data.csv").read_text() == "x\n1\n2\n"


def test_a_link_for_two_sources(student, course_lab, git_http_server):
    notes = git_http_server.create_repo({f"notes/{i}.md": f"{i}\n" for i in range(20)}, public=True)
    data = git_http_server.create_repo({f"data/{i}.csv": "a\n" for i in range(20)}, public=True)
    git_http_server.set_delay(0.3)
    student.goto(_link(course_lab, ("source", notes.url), ("name", "notes"), ("source", data.url),
                       ("name", "data"), ("open", "notes")))  # fmt: skip
    student.wait_for_selector("li.done", timeout=60_000)
    _shot(student, "two-sources")
    git_http_server.set_delay(None)
    student.wait_for_url("**/lab/tree/notes", timeout=60_000)
    assert (course_lab.root / "notes" / "notes" / "19.md").exists()
    assert (course_lab.root / "data" / "data" / "19.csv").exists()


@pytest.mark.parametrize(
    "pairs, reason",
    [
        (
            (("source", "https://student:hunter2@git.example.edu/course.git"),),
            "carries a user name or token",
        ),
        ((("source", "https://github.com/org/course"), ("name", "../../etc")), "without '..'"),
    ],
)
def test_refused_links_show_why(student, course_lab, pairs, reason):
    response = student.goto(_link(course_lab, *pairs))
    assert response.status == 400
    assert reason in student.locator("#reason").inner_text()
    assert "hunter2" not in student.content()
    _shot(student, "refused-" + ("userinfo" if "hunter2" in str(pairs) else "path"))


def test_a_link_on_another_site_asks_first(student, course_lab, git_http_server, tmp_path):
    repo = git_http_server.create_repo({"a.txt": "A\n"}, public=True)
    link = _link(course_lab, ("source", repo.url), ("name", "from-elsewhere"))
    (tmp_path / "index.html").write_text(f"<a id='go' href='{link}'>Course material</a>")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    other_site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=other_site.serve_forever, daemon=True).start()
    try:
        student.goto(f"http://localhost:{other_site.server_address[1]}/index.html")
        student.click("#go")
        student.wait_for_selector("#pull")
        _shot(student, "confirm")
        assert not (course_lab.root / "from-elsewhere").exists()  # nothing pulled unasked
        student.click("#pull")
        student.wait_for_url("**/lab/tree/from-elsewhere", timeout=60_000)
        assert (course_lab.root / "from-elsewhere" / "a.txt").read_text() == "A\n"
    finally:
        other_site.shutdown()

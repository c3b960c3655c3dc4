"""Links that pull on open (behaviour §6.8) against a real Jupyter server with the extension as an
install enables it, a real private git server behind Basic auth, and a client that behaves as
the progress page does (cookie login, XSRF token, server-sent events)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipy_storage.links import LinkError, LinkItem, LinkRequest, check_target, parse_query
from tests.fixtures.link_server import start_link_server

TOKEN_ENV = "LINK_GIT_TOKEN"


@pytest.fixture(scope="module")
def server(tmp_path_factory, _git_http_server_session):
    git_http_server = _git_http_server_session
    home = tmp_path_factory.mktemp("links")
    config = {
        "IPyStorageLinks": {
            "token_envs": {
                TOKEN_ENV: [git_http_server.base_url + "/"],
                "OTHER_TOKEN": ["https://x.invalid/"],
            },
            "max_concurrent_pulls": 4,
        }
    }
    running = start_link_server(home, config, env={TOKEN_ENV: git_http_server.token})
    yield running
    running.stop()


def _query(*pairs: tuple[str, str]) -> str:
    return urlencode(pairs, quote_via=quote)


def test_a_link_pulls_a_private_repository_with_a_token_the_server_names(server, git_http_server):
    repo = git_http_server.create_repo({"week1/intro.ipynb": "{}", "week2/b.py": "B = 2\n"})
    query = _query(("source", repo.url), ("token_env", TOKEN_ENV), ("dir", "week1"),
                   ("name", "course"), ("open", "course/week1/intro.ipynb"))  # fmt: skip
    followed = server.follow(query)
    assert followed.status == 200 and followed.done["ok"], followed.events
    assert followed.done["redirect"] == "/lab/tree/course/week1/intro.ipynb"
    assert (server.root / "course" / "week1" / "intro.ipynb").exists()
    assert not (server.root / "course" / "week2").exists()  # only the folder asked for
    kinds = [event["type"] for event in followed.events]
    assert kinds[0] == "start" and "result" in kinds and kinds[-1] == "done"
    assert git_http_server.token not in json.dumps(followed.events) + followed.page

    (server.root / "course" / "week1" / "intro.ipynb").write_text('{"mine": 1}')
    repo.commit({"week1/new.py": "N = 1\n"})
    again = server.follow(query)
    assert again.done["ok"] and (server.root / "course" / "week1" / "new.py").exists()
    assert (server.root / "course" / "week1" / "intro.ipynb").read_text() == '{"mine": 1}'


def test_a_link_for_two_sources_pulls_both(server, git_http_server, make_repo):
    first = git_http_server.create_repo({"a.txt": "A\n"}, public=True)
    second = git_http_server.create_repo({"b.txt": "B\n"}, public=True)
    followed = server.follow(_query(("source", first.url), ("name", "two/first"),
                                    ("source", second.url), ("name", "two/second")))  # fmt: skip
    assert followed.done["ok"] and followed.done["redirect"] == "/lab/tree/two/first"
    assert (server.root / "two/first/a.txt").read_text() == "A\n"
    assert (server.root / "two/second/b.txt").read_text() == "B\n"
    assert [e["index"] for e in followed.events if e["type"] == "result"] == [0, 1]


def test_one_failing_source_is_reported_and_the_other_pulled(server, git_http_server):
    good = git_http_server.create_repo({"g.txt": "G\n"}, public=True)
    followed = server.follow(_query(("source", git_http_server.url_for("missing-repo")), ("name", "gone"),
                                    ("source", good.url), ("name", "good")))  # fmt: skip
    failed = [e for e in followed.events if e["type"] == "failed"]
    assert not followed.done["ok"] and len(failed) == 1 and failed[0]["index"] == 0
    assert "\n" not in failed[0]["message"] and (server.root / "good" / "g.txt").exists()


@pytest.mark.parametrize(
    "pairs, reason",
    [
        (
            (("source", "https://student:hunter2@git.example.edu/c.git"),),
            "carries a user name or token",
        ),
        ((("source", "https://github.com/org/repo"), ("name", "../escape")), "without '..'"),
        ((("source", "https://github.com/org/repo"), ("name", "/etc/cron.d")), "relative path"),
        (
            (("source", "https://github.com/org/repo"), ("name", ".ipython/profile_default")),
            "hidden",
        ),
        ((("source", "https://github.com/org/repo"), ("open", "../../etc/passwd")), "open="),
        ((("source", "https://github.com/org/repo"), ("dir", "../up")), "dir="),
        ((("source", "/home/someone/repo.git"),), "not on the network"),
        ((("source", "file:///etc"),), "not on the network"),
        (
            (("source", "https://github.com/org/repo"), ("token_env", "HOME")),
            "not allowed on this server",
        ),
        (
            (("source", "https://github.com/org/repo"), ("token_env", "OTHER_TOKEN")),
            "may not be sent to",
        ),
        ((("branch", "main"), ("source", "https://github.com/org/repo")), "before any source"),
        ((("name", "x"),), "before any source"),
        ((), "no source"),
    ],
)
def test_refused_links_say_why_and_pull_nothing(server, pairs, reason):
    before = sorted(p.name for p in server.root.iterdir())
    followed = server.follow(_query(*pairs))
    assert followed.status == 400 and reason in followed.text
    assert "hunter2" not in followed.page
    assert sorted(p.name for p in server.root.iterdir()) == before


def test_a_symlink_out_of_the_root_is_refused(server, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (server.root / "escape").symlink_to(outside)
    followed = server.follow(
        _query(("source", "https://github.com/org/repo"), ("name", "escape/repo"))
    )
    assert followed.status == 400 and "outside the server's folder" in followed.text
    assert list(outside.iterdir()) == []


def test_only_a_logged_in_user_can_pull_and_never_without_the_pages_xsrf_token(
    server, git_http_server
):
    repo = git_http_server.create_repo({"x.txt": "X\n"}, public=True)
    link = f"{server.url}ipy-storage/pull?{_query(('source', repo.url), ('name', 'csrf'))}"
    anonymous = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as page:
        anonymous.open(link)
    assert page.value.code == 302 and "/login" in page.value.headers["Location"]
    with pytest.raises(urllib.error.HTTPError) as start:
        anonymous.open(urllib.request.Request(link, data=b"", method="POST"))
    assert start.value.code == 403
    logged_in = server.opener()  # the user's browser: a login cookie, but no page of ours
    with pytest.raises(urllib.error.HTTPError) as forged:
        logged_in.open(urllib.request.Request(link, data=b"", method="POST"))
    assert forged.value.code == 403
    assert not (server.root / "csrf").exists()


def test_a_link_from_another_site_asks_before_pulling(server, git_http_server):
    repo = git_http_server.create_repo({"x.txt": "X\n"}, public=True)
    opener = server.opener()
    link = f"{server.url}ipy-storage/pull?{_query(('source', repo.url))}"
    for site, asks in (
        ("cross-site", True),
        ("same-site", True),
        ("same-origin", False),
        ("none", False),
    ):
        page = (
            opener.open(urllib.request.Request(link, headers={"Sec-Fetch-Site": site}))
            .read()
            .decode()
        )
        assert ('"startAtOnce": false' in page) is asks and ("id='pull'" in page) is asks, site


def test_forty_links_at_once_for_forty_folders(server, git_http_server):
    """Forty students click the teacher's link at the same moment (one server, forty folders)."""
    repo = git_http_server.create_repo({f"lesson/{i}.md": f"{i}\n" for i in range(20)}, public=True)
    git_http_server.clear_requests()
    queries = [_query(("source", repo.url), ("name", f"class/student-{i:02d}")) for i in range(40)]
    with ThreadPoolExecutor(40) as pool:
        followed = list(pool.map(lambda q: server.follow(q, timeout=300), queries))
    assert all(f.status == 200 and f.done["ok"] for f in followed), [
        f.events for f in followed if not f.done["ok"]
    ]
    assert len([n for n in os.listdir(server.root / "class") if not n.startswith(".")]) == 40
    assert all(
        (server.root / "class" / f"student-{i:02d}" / "lesson" / "19.md").exists()
        for i in range(40)
    )
    assert not [line for line in git_http_server.requests() if not line.endswith(" 200")]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# -- the query format, without a server -----------------------------------------------------------
def test_options_belong_to_the_source_before_them():
    request = parse_query(
        "source=https://a.example/x.git&branch=dev&dir=one&dir=two&source=s3://b/p&name=data&open=x/y.ipynb"
    )
    assert request.items == [
        LinkItem("https://a.example/x.git", branch="dev", dirs=["one", "two"]),
        LinkItem("s3://b/p", name="data"),
    ]
    assert request.open == "x/y.ipynb"
    assert parse_query(request.query()) == request


@pytest.mark.parametrize(
    "path", ["a/../b", "/abs", ".hidden", "a/.git/config", "~root", "a\\b", "a\nb", "", ".", "./"]
)
def test_target_paths_stay_inside(path):
    with pytest.raises(LinkError):
        check_target(path, "name")


def test_a_request_round_trips_through_its_query():
    request = LinkRequest(
        [
            LinkItem(
                "https://h.example/c.git",
                branch="w/1",
                commit=None,
                dirs=["a b", "ü"],
                name="x y",
                token_env="T",
            )
        ],
        open="x y/ü.ipynb",
    )
    assert parse_query(request.query()) == request


# -- links made in a notebook ---------------------------------------------------------------------
def test_storage_link_makes_the_link_the_server_follows(
    ip, ws, server, git_http_server, monkeypatch
):
    repo = git_http_server.create_repo({"week1/intro.ipynb": "{}", "week2/x.py": "X\n"})
    ip.run_line_magic(
        "storage", f"add {repo.url} --name made-here --dir week1 --token-env {TOKEN_ENV}"
    )
    link = ip.run_line_magic(
        "storage", f"link made-here --open week1/intro.ipynb --server {server.url}"
    )
    assert link.url.startswith(f"{server.url}ipy-storage/pull?source=")
    assert git_http_server.token not in repr(link) + link._repr_html_()
    query = link.url.split("?", 1)[1]
    assert parse_query(query) == LinkRequest(
        [LinkItem(repo.url, dirs=["week1"], name="made-here", token_env=TOKEN_ENV)],
        open="made-here/week1/intro.ipynb",
    )
    followed = server.follow(query)
    assert followed.done["redirect"] == "/lab/tree/made-here/week1/intro.ipynb"
    assert (server.root / "made-here/week1/intro.ipynb").exists()


def test_hub_and_binder_forms(ip, ws, make_repo, monkeypatch):
    monkeypatch.delenv("JUPYTERHUB_PUBLIC_HUB_URL", raising=False)
    ip.run_line_magic("storage", "add https://github.com/org/course --name course --branch main")
    link = ip.run_line_magic(
        "storage", "link course --hub https://hub.example.edu --binder gh/org/env/main"
    )
    query = "source=https://github.com/org/course&branch=main&name=course"
    assert (
        link.forms["JupyterHub"]
        == f"https://hub.example.edu/hub/user-redirect/ipy-storage/pull?{query}"
    )
    assert link.forms["Binder"] == (
        "https://mybinder.org/v2/gh/org/env/main?urlpath="
        + quote(f"ipy-storage/pull?{query}", safe="")
    )
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_HUB_URL", "https://hub.example.edu/hub/")
    assert ip.run_line_magic("storage", "link course").url.startswith(
        "https://hub.example.edu/hub/user-redirect/ipy-storage/pull?"
    )


@pytest.mark.parametrize(
    "add, message",
    [
        ("{folder} --name here", "nothing a link could pull"),
        ("memory://bucket/x --name mem", "not on the network"),
    ],
)
def test_storages_a_link_cannot_carry_are_one_line(ip, ws, tmp_path, add, message):
    from IPython.core.error import UsageError

    folder = tmp_path / "local-folder"
    folder.mkdir()
    ip.run_line_magic("storage", "add " + add.format(folder=folder))
    name = add.split("--name ")[1]
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic("storage", f"link {name} --server http://127.0.0.1:1/")


def test_a_plain_token_cannot_go_into_a_link(ws):
    ws.add("https://github.com/org/private", name="p", credentials={"access_token": "plain-tok"})
    from ipy_storage.link_urls import make_link

    with pytest.raises(ValueError, match="Secret") as error:
        make_link(ws, ["p"], server="http://127.0.0.1:1/")
    assert "plain-tok" not in str(error.value)


def test_the_form_shows_the_link_of_the_selected_storage(ws):
    from ipy_storage import StorageForm

    ws.add("https://github.com/org/course", name="course")
    form = StorageForm(ws)
    form.storages.value = "course"
    form.link_button.click()
    assert "ipy-storage/pull?source=https://github.com/org/course" in form.status.value


# -- generated: any text a link may carry ---------------------------------------------------------
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=24)
_PATHY = st.lists(
    st.sampled_from(["a", "b c", ".", "..", ".x", "~", "", "ü", "\\", "\n", "/"]), max_size=6
).map("/".join)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.one_of(_TEXT, _PATHY))
def test_an_accepted_target_stays_inside_the_root(path):
    """Oracle: a target is accepted only when, joined to the root, it names a place strictly
    inside it, through no hidden (dot) or home (~) component and with no control character."""
    try:
        accepted = check_target(path, "name")
    except LinkError:
        return
    parts = accepted.split("/")
    assert accepted and all(part and part not in (".", "..") for part in parts)
    assert not any(part.startswith((".", "~")) for part in parts)
    assert not any(ord(ch) < 32 or ord(ch) == 127 or ch == "\\" for ch in accepted)
    root = Path("/srv/root")
    assert root in (root / accepted).parents


_NAMES = st.from_regex(r"[a-z][a-z0-9_ -]{0,10}", fullmatch=True)
_ITEMS = st.builds(
    LinkItem,
    source=st.sampled_from(
        ["https://h.example/c.git", "s3://bucket/p", "git+https://h.example/x", "gs://b/q r"]
    ),
    branch=st.one_of(st.none(), _NAMES),
    commit=st.one_of(st.none(), st.from_regex(r"[0-9a-f]{7,40}", fullmatch=True)),
    dirs=st.lists(_NAMES.map(str.strip).filter(bool), max_size=3),
    name=st.one_of(st.none(), _NAMES.map(str.strip).filter(bool)),
    username=st.one_of(st.none(), _NAMES),
    token_env=st.one_of(st.none(), st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.lists(_ITEMS, min_size=1, max_size=4),
    st.one_of(st.none(), _NAMES.map(str.strip).filter(bool)),
)
def test_any_request_round_trips_through_its_query(items, opened):
    request = LinkRequest(items, opened)
    assert parse_query(request.query()) == request

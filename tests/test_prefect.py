"""Prefect compatibility, proven by Prefect itself (behaviour §2.4, §4, §8).

The first part needs no Prefect: look-alikes of Prefect's blocks (duck typing is the contract).
The second part (marker ``prefect``; deselect with ``-m "not prefect"``) runs Prefect 3.9.1 in
its own venv (``tests/fixtures/prefect_venv.py``): one driver process
(``tests/fixtures/prefect_driver.py``) takes a table of configurations, and for each one Prefect's
own step functions execute our pull step in a fresh folder, Prefect's own storage object gives
its pull step beside ours, and Prefect's real credential blocks, ``flow.from_source`` and Runner
meet our storages.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from ipy_storage import GitRepository, RemoteStorage, Secret, from_pull_step
from ipy_storage.storage.errors import StorageConfigError

GIT_STEP = "prefect.deployments.steps.git_clone"
REMOTE_STEP = "prefect.deployments.steps.pull_from_remote_storage"
TOKEN = "tok-Pr3fect+=!x"


# -- look-alikes of Prefect's objects ---------------------------------------------------------
class LookAlikeBlock:
    """What our code may rely on in a Prefect block: its slug, its saved name, its placeholder."""

    slug = "block"

    def __init__(self, saved_as: str | None = None) -> None:
        self._block_document_name = saved_as

    def get_block_type_slug(self) -> str:
        return self.slug

    def get_block_placeholder(self) -> str:
        if not self._block_document_name:
            raise RuntimeError("Could not generate block placeholder for unsaved block.")
        return f"prefect.blocks.{self.slug}.{self._block_document_name}"


class SecretBlock(LookAlikeBlock):
    """``prefect.blocks.system.Secret``: ``get()`` returns the value."""

    slug = "secret"

    def __init__(self, value: str, saved_as: str | None = None) -> None:
        super().__init__(saved_as)
        self._value = value

    def get(self) -> str:
        return self._value


class SecretStr:
    """pydantic's ``SecretStr``: the field type of Prefect's credential blocks."""

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value


class FormattingBlock(LookAlikeBlock):
    """A credentials block with ``format_git_credentials(url)`` (GitHub/GitLab/BitBucket's)."""

    slug = "gitlab-credentials"

    def __init__(self, userinfo: str, saved_as: str | None = None, encode: bool = False) -> None:
        super().__init__(saved_as)
        self.token = SecretStr(userinfo)
        self.encode = encode

    def format_git_credentials(self, url: str) -> str:
        userinfo = self.token.get_secret_value()
        if self.encode:
            userinfo = ":".join(quote(part, safe="") for part in userinfo.split(":", 1))
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{userinfo}@{rest}"


class TokenBlock(LookAlikeBlock):
    """A credentials block without a formatter: fields only (Prefect's host rules apply)."""

    slug = "custom-credentials"

    def __init__(self, token: str, username: str | None = None, saved_as: str | None = None):
        super().__init__(saved_as)
        self.token, self.username = SecretStr(token), username


def sent_pair(repo: GitRepository) -> str:
    header = repo.auth_environment()["GIT_CONFIG_VALUE_0"]
    return base64.b64decode(header.split()[-1]).decode().removesuffix(":")


@pytest.mark.parametrize(
    ("url", "credentials", "pair"),
    [
        ("https://git.corp.example/o/r.git", FormattingBlock(f"oauth2:{TOKEN}"), f"oauth2:{TOKEN}"),
        ("https://h.example/o/r.git", FormattingBlock(f"u@x:{TOKEN}", encode=True), f"u@x:{TOKEN}"),
        ("http://127.0.0.1:9/r.git", FormattingBlock(TOKEN), TOKEN),
        ("https://gitlab.com/o/r.git", TokenBlock(TOKEN), f"oauth2:{TOKEN}"),
        ("https://bitbucket.org/o/r.git", TokenBlock(TOKEN), f"x-token-auth:{TOKEN}"),
        ("https://bitbucket.org/o/r.git", TokenBlock(TOKEN, username="bob"), f"bob:{TOKEN}"),
        ("https://github.com/o/r.git", TokenBlock(TOKEN), TOKEN),
        ("https://gitlab.com/o/r.git", SecretBlock(TOKEN), f"oauth2:{TOKEN}"),
        ("https://gitlab.com/o/r.git", {"access_token": SecretBlock(TOKEN)}, f"oauth2:{TOKEN}"),
        (
            "https://github.com/o/r.git",
            {"username": "bob", "token": SecretStr(TOKEN)},
            f"bob:{TOKEN}",
        ),
        (
            "https://gitlab.com/o/r.git",
            {"token": TOKEN, "url": "https://gitlab.com"},
            f"oauth2:{TOKEN}",
        ),
    ],
)
def test_prefect_credentials_are_sent_as_prefect_would_put_them_in_the_url(url, credentials, pair):
    repo = GitRepository(url, credentials=credentials)
    assert sent_pair(repo) == pair
    assert TOKEN not in repr(repo) + repo.url
    assert (
        repo.redact(f"failed: {TOKEN} / {quote(TOKEN, safe='')}") == "failed: ******** / ********"
    )


@pytest.mark.parametrize(
    ("credentials", "rendered"),
    [
        (FormattingBlock(TOKEN, saved_as="my-gl"), "{{ prefect.blocks.gitlab-credentials.my-gl }}"),
        (TokenBlock(TOKEN, saved_as="mine"), "{{ prefect.blocks.custom-credentials.mine }}"),
        (SecretBlock(TOKEN, saved_as="tok"), {"access_token": "{{ prefect.blocks.secret.tok }}"}),
        (
            {"username": "bob", "access_token": SecretBlock(TOKEN, saved_as="tok")},
            {"username": "bob", "access_token": "{{ prefect.blocks.secret.tok }}"},
        ),
    ],
)
def test_a_saved_block_renders_as_its_placeholder_and_comes_back(credentials, rendered):
    repo = GitRepository("https://gitlab.com/o/r.git", credentials=credentials)
    step = repo.to_pull_step()
    assert step[GIT_STEP]["credentials"] == rendered and TOKEN not in json.dumps(step)
    again = from_pull_step(step)
    assert again == repo and sent_pair(again) == sent_pair(repo)
    assert again.to_pull_step() == step


@pytest.mark.parametrize(
    "credentials",
    [
        FormattingBlock(TOKEN),
        TokenBlock(TOKEN),
        SecretBlock(TOKEN),
        {"access_token": SecretBlock(TOKEN)},
    ],
)
def test_an_unsaved_block_pulls_but_its_pull_step_says_to_save_it(credentials):
    repo = GitRepository("https://gitlab.com/o/r.git", credentials=credentials)
    assert sent_pair(repo).endswith(TOKEN)
    with pytest.raises(
        ValueError, match=r"is not saved.*save it first with block\.save\("
    ) as error:
        repo.to_pull_step()
    assert TOKEN not in str(error.value)


def test_a_secret_str_token_pulls_but_is_refused_in_a_step():
    repo = GitRepository("https://github.com/o/r.git", credentials={"token": SecretStr(TOKEN)})
    assert sent_pair(repo) == TOKEN
    with pytest.raises(ValueError, match="Please save your access token as a Secret"):
        repo.to_pull_step()


def test_a_block_that_cannot_format_credentials_says_so_without_the_token():
    class Empty(FormattingBlock):
        def format_git_credentials(self, url: str) -> str:
            raise ValueError("Token is required for GitLab authentication")

    class Wrong(FormattingBlock):
        def format_git_credentials(self, url: str) -> str:
            return f"https://{TOKEN}@elsewhere.example/x.git"

    with pytest.raises(StorageConfigError, match="Token is required for GitLab authentication"):
        GitRepository("https://gitlab.com/o/r.git", credentials=Empty("")).auth_environment()
    with pytest.raises(StorageConfigError, match="did not return") as error:
        GitRepository("https://gitlab.com/o/r.git", credentials=Wrong(TOKEN)).auth_environment()
    assert TOKEN not in str(error.value)


def test_a_prefect_secret_block_in_remote_settings(tmp_path):
    block = SecretBlock(TOKEN, saved_as="remote-secret")
    storage = RemoteStorage("s3://bucket/p", key=Secret.from_env("IPY_K"), secret=block)
    step = storage.to_pull_step()
    assert step[REMOTE_STEP]["secret"] == "{{ prefect.blocks.secret.remote-secret }}"
    assert from_pull_step(step) == storage
    assert storage.redact(f"denied for {TOKEN}") == "denied for ********"
    with pytest.raises(ValueError, match="is not saved"):
        RemoteStorage("s3://bucket/p", secret=SecretBlock(TOKEN)).to_pull_step()


# -- Prefect runs it ----------------------------------------------------------------------------
HELLO = (
    "from prefect import flow\n\n\n"
    "@flow\n"
    "def hello(name: str = 'world') -> str:\n"
    "    return f'hello {name}'\n"
)
FILES = {
    "flows/hello.py": HELLO,
    "flows/etl/job.py": "JOB = 1\n",
    "lib/util.py": "UTIL = 1\n",
    "docs/guide.md": "# guide\n",
    "README.md": "top\n",
}
EXECUTED = [
    "git-plain",
    "git-branch",
    "git-name",
    "git-directories",
    "git-commit",
    "git-submodules",
    "git-credentials",
    "remote-memory",
    "remote-s3",
    "local",
]
ALL_CASES = [*EXECUTED, "remote-file"]
PAIR_TOKEN = "ghp_Pr3fect+=!tok"  # no "/": Prefect's own URL for GitHubCredentials breaks on one


def git_cases(server) -> list[dict]:
    plain = server.create_repo(FILES, public=True)
    plain.create_branch("dev", files={"dev.txt": "on dev\n"})
    pinned = server.create_repo(FILES, public=True)
    first = pinned.head()
    pinned.commit({"later.txt": "later\n"}, delete=["lib/util.py"])
    inner = server.create_repo({"inner.txt": "inside\n"}, public=True)
    outer = server.create_repo(FILES, public=True)
    outer.add_submodule("vendor/inner", inner)
    private = server.create_repo(FILES)
    token = {"username": server.username, "env": "IPY_PREFECT_TOKEN", "name": "ipy-prefect-token"}
    return [
        {"id": "git-plain", "kind": "git", "config": {"url": plain.url}},
        {"id": "git-branch", "kind": "git", "config": {"url": plain.url, "branch": "dev"}},
        {"id": "git-name", "kind": "git", "config": {"url": plain.url, "name": "checkout"}},
        {
            "id": "git-directories",
            "kind": "git",
            "config": {"url": plain.url, "directories": ["flows/etl", "docs"]},
        },
        {"id": "git-commit", "kind": "git", "config": {"url": pinned.url, "commit_sha": first}},
        {
            "id": "git-submodules",
            "kind": "git",
            "config": {"url": outer.url, "include_submodules": True},
        },
        {
            "id": "git-credentials",
            "kind": "git",
            "config": {"url": private.url},
            "credentials": token,
        },
    ]


def block_specs(server) -> list[dict]:
    private = server.create_repo(FILES)
    t, user = server.token, server.username
    specs = [
        ("github", "GitHubCredentials", {"token": PAIR_TOKEN}, "https://github.com/o/r.git"),
        ("gitlab", "GitLabCredentials", {"token": PAIR_TOKEN}, "https://gitlab.com/o/r.git"),
        (
            "gitlab-self-hosted",
            "GitLabCredentials",
            {"token": PAIR_TOKEN, "url": "https://git.corp.example"},
            "https://git.corp.example/o/r.git",
        ),
        ("gitlab-deploy-token", "GitLabCredentials", {"token": f"deployer:{PAIR_TOKEN}"}, None),
        ("gitlab-prefixed", "GitLabCredentials", {"token": f"oauth2:{PAIR_TOKEN}"}, None),
        ("bitbucket-cloud", "BitBucketCredentials", {"token": PAIR_TOKEN}, None),
        ("bitbucket-user", "BitBucketCredentials", {"token": PAIR_TOKEN, "username": "bob"}, None),
        (
            "bitbucket-server",
            "BitBucketCredentials",
            {"token": PAIR_TOKEN, "username": "bob"},
            "https://bitbucketserver.corp.example/scm/o/r.git",
        ),
        ("secret-block", "Secret", {"value": PAIR_TOKEN}, "https://gitlab.com/o/r.git"),
    ]
    defaults = {
        "gitlab": "https://gitlab.com/o/r.git",
        "bitbucket": "https://bitbucket.org/o/r.git",
    }
    found = []
    for key, block, fields, url in specs:
        url = url or defaults[key.split("-")[0]]
        found.append({"id": key, "block": block, "fields": fields, "url": url})
        found.append(
            {"id": f"{key}-saved", "block": block, "fields": fields, "url": url, "saved": key}
        )
    pulls = [
        ("github-pull", "GitHubCredentials", {"token": t}),
        ("gitlab-deploy-token-pull", "GitLabCredentials", {"token": f"{user}:{t}"}),
        ("bitbucket-user-pull", "BitBucketCredentials", {"token": t, "username": user}),
        ("secret-block-pull", "Secret", {"value": t}),
    ]
    found += [
        {"id": key, "block": block, "fields": fields, "url": private.url, "pull": True}
        for key, block, fields in pulls
    ]
    return found


@pytest.fixture(scope="module")
def prefect_run(tmp_path_factory, _git_https_server_session, s3_endpoint, s3_client) -> dict:
    """Run the whole table in one Prefect process and return its JSON answer."""
    from tests.fixtures.prefect_venv import (
        ensure_peer_venv,
        prefect_environment,
        run_in_peer_venv,
    )
    from tests.fixtures.s3_server import ACCESS_KEY, SECRET_KEY

    python = ensure_peer_venv()
    server, base = _git_https_server_session, tmp_path_factory.mktemp("prefect")
    folder = base / "folder-source"
    for rel, text in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    bucket = f"prefect-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    for rel, text in FILES.items():
        s3_client.put_object(Bucket=bucket, Key=f"code/{rel}", Body=text.encode())
    s3_secrets = {
        "key": {"env": "IPY_PREFECT_S3_KEY", "name": "s3-key"},
        "secret": {"env": "IPY_PREFECT_S3_SECRET", "name": "s3-secret"},
    }
    cases = git_cases(server) + [
        {
            "id": "remote-memory",
            "kind": "remote",
            "config": {"url": f"memory://prefect-{base.name}/code"},
            "memory_files": FILES,
        },
        {
            "id": "remote-s3",
            "kind": "remote",
            "config": {"url": f"s3://{bucket}/code"},
            "settings": {"endpoint_url": s3_endpoint},
            "secrets": s3_secrets,
        },
        {"id": "remote-file", "kind": "remote", "config": {"url": folder.as_uri()}},
        {"id": "local", "kind": "local", "config": {"path": str(folder)}},
    ]
    plan = {
        "work": str(base / "work"),
        "cases": cases,
        "blocks": block_specs(server),
        "remote_secret_block": {
            "url": f"s3://{bucket}/code",
            "settings": {"endpoint_url": s3_endpoint},
            "secret": {
                "block": "Secret",
                "fields": {"value": server.token},
                "saved": "s3-secret-block",
            },
        },
        "from_source": {
            "case": "git-credentials",
            "entrypoint": "flows/hello.py:hello",
            "args": ["prefect"],
        },
        "runner": {"case": "git-plain"},
    }
    (base / "plan.json").write_text(json.dumps(plan))
    env = prefect_environment(
        base / "prefect-home",
        {
            **server.client_env(),
            "IPY_PREFECT_TOKEN": server.token,
            "IPY_PREFECT_S3_KEY": ACCESS_KEY,
            "IPY_PREFECT_S3_SECRET": SECRET_KEY,
            "GIT_TERMINAL_PROMPT": "0",
        },
    )
    driver = Path(__file__).with_name("fixtures") / "prefect_driver.py"
    plan = str(base / "plan.json")
    answer, process = run_in_peer_venv(python, driver, plan, env=env, cwd=base, timeout=240)
    answer["stderr"] = process.stderr
    return answer


def outcome(prefect_run: dict, group: str, key: str | None = None) -> dict:
    """One entry of the driver's answer; its error (with Prefect's stderr) when it failed."""
    result = prefect_run[group] if key is None else prefect_run[group][key]
    assert "error" not in result, f"{result['error']}\n{prefect_run['stderr'][-3000:]}"
    return result


@pytest.mark.prefect
@pytest.mark.parametrize("case", EXECUTED)
def test_prefect_executes_our_pull_step_into_the_same_files(prefect_run, case):
    """Prefect's own step function, given our to_pull_step() (templating resolved by Prefect),
    in a fresh folder, produces the files our pull() produced (behaviour §8)."""
    result = outcome(prefect_run, "cases", case)
    assert result["our_files"], "our pull produced no files"
    assert result["prefect_files"] == result["our_files"]


@pytest.mark.prefect
@pytest.mark.parametrize("case", ALL_CASES)
def test_prefects_own_storage_gives_our_pull_step_and_back(prefect_run, case):
    """Prefect's GitRepository / RemoteStorage / LocalStorage for the same configuration emit
    our step, and from_pull_step() of Prefect's step is equal to our storage (behaviour §8)."""
    result = outcome(prefect_run, "cases", case)
    assert result["prefect_step"] == result["named_step"]
    assert result["from_prefect_step_is_ours"]


@pytest.mark.prefect
def test_what_prefect_receives_for_each_configuration(prefect_run):
    cases = prefect_run["cases"]
    assert outcome(prefect_run, "cases", "git-credentials")["our_step"][GIT_STEP][
        "credentials"
    ] == {
        "username": "alice",
        "access_token": "{{ $IPY_PREFECT_TOKEN }}",
    }
    assert not cases["git-credentials"]["token_in_our_git_config"]
    directories = cases["git-directories"]["our_files"]
    assert "flows/etl/job.py" in directories and "lib/util.py" not in directories
    assert "later.txt" not in cases["git-commit"]["our_files"]
    assert "lib/util.py" in cases["git-commit"]["our_files"]
    assert "vendor/inner/inner.txt" in cases["git-submodules"]["our_files"]
    assert "dev.txt" in cases["git-branch"]["our_files"]
    assert Path(cases["git-name"]["prefect_folder"]).name == "checkout"
    s3_step = cases["remote-s3"]["our_step"][REMOTE_STEP]
    assert s3_step["key"] == "{{ $IPY_PREFECT_S3_KEY }}" and s3_step["requires"] == "s3fs"


@pytest.mark.prefect
def test_a_file_url_step_is_prefects_documented_exception(prefect_run):
    """Prefect resolves ``file:///abs`` against its working directory (behaviour §8): from a fresh
    folder its step pulls nothing. If Prefect starts copying the folder, this fails and the
    exception can leave the SPEC."""
    result = outcome(prefect_run, "cases", "remote-file")
    assert result["our_files"] == outcome(prefect_run, "cases", "local")["our_files"]
    assert result["prefect_files"] == {}


@pytest.mark.prefect
@pytest.mark.parametrize(
    "key",
    [
        "github",
        "gitlab",
        "gitlab-self-hosted",
        "gitlab-deploy-token",
        "gitlab-prefixed",
        "bitbucket-cloud",
        "bitbucket-user",
        "bitbucket-server",
        "secret-block",
    ],
)
def test_prefects_real_credential_blocks(prefect_run, key):
    """Prefect's own GitHub/GitLab/BitBucket credential blocks and Secret block: we send the pair
    Prefect would put in the URL; saved, the step is Prefect's; unsaved, we say to save it."""
    unsaved, saved = (
        outcome(prefect_run, "blocks", key),
        outcome(prefect_run, "blocks", f"{key}-saved"),
    )
    assert unsaved["pair"] == unsaved["prefect_pair"] == saved["pair"]
    assert "is not saved" in unsaved["step_error"] and "save it first" in unsaved["step_error"]
    assert saved["step"][GIT_STEP]["credentials"] == saved["prefect_step"][GIT_STEP]["credentials"]
    assert PAIR_TOKEN not in json.dumps(saved["step"]) + unsaved["step_error"]


@pytest.mark.prefect
@pytest.mark.parametrize(
    "key", ["github-pull", "gitlab-deploy-token-pull", "bitbucket-user-pull", "secret-block-pull"]
)
def test_our_pulls_authenticate_with_prefects_blocks(prefect_run, key):
    result = outcome(prefect_run, "blocks", key)
    assert "flows/hello.py" in result["files"]
    assert not result["token_in_git_config"]


@pytest.mark.prefect
def test_a_prefect_secret_block_in_remote_settings_renders_as_prefects(prefect_run):
    result = outcome(prefect_run, "remote_secret_block")
    assert result["step"] == result["prefect_step"]
    assert result["step"][REMOTE_STEP]["secret"] == "{{ prefect.blocks.secret.s3-secret-block }}"
    assert result["round_trip"] and result["revealed"] == "********"


@pytest.mark.prefect
def test_flow_from_source_loads_our_git_repository(prefect_run):
    """``flow.from_source(source=<our GitRepository>, entrypoint=...)``: Prefect pulls it (here
    a private repository, token from the environment) and loads the flow; ``flow.fn`` runs it."""
    assert outcome(prefect_run, "from_source") == {"name": "hello", "result": "hello prefect"}


@pytest.mark.prefect
def test_prefects_runner_keeps_one_of_two_equal_storages(prefect_run):
    assert outcome(prefect_run, "runner") == {"storages": 1, "same": True}

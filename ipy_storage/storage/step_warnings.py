"""Warnings about pull steps a Prefect worker cannot reproduce, or that would put a secret into
Prefect's database when deployed from here (behaviour §8). Every rule below was checked against
Prefect 3.9.1: ``tests/test_prefect_warnings.py`` has Prefect's own step functions fail on
these steps the way the messages say, ``tests/test_prefect_e2e.py`` shows on a real server and
worker what ``prefect deploy`` stores.

``warn_about_step(step)`` is called by the ``to_pull_step()`` of git and remote storages; it
decides from the step alone, so a step read back from a prefect.yaml is judged the same way.
Each warning is a ``PullStepWarning`` that says why and what works instead; the step itself is
returned unchanged (a warning never stops a notebook user who only pulls)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .secrets import ENV_PLACEHOLDER


class PullStepWarning(UserWarning):
    """A pull step that a Prefect worker cannot run as it is, or that stores a secret in
    Prefect's database when ``prefect deploy`` runs here."""


@contextmanager
def shown_every_time() -> Iterator[None]:
    """Inside, each ``PullStepWarning`` is shown even when the same line showed it before: a
    warning gone from the second ``%storage step`` would read as fixed. Appended after the
    user's filters, so one that silences these warnings still wins."""
    with warnings.catch_warnings():
        warnings.filterwarnings("always", category=PullStepWarning, append=True)
        yield


def warn_about_step(step: dict[str, Any]) -> dict[str, Any]:
    """Warn about everything in ``step`` that a worker cannot reproduce; return ``step``."""
    for message in step_problems(step):
        warnings.warn(message, PullStepWarning, stacklevel=3)
    return step


def step_problems(step: dict[str, Any]) -> list[str]:
    """One message per problem of one pull step (``{step function: arguments}``)."""
    ((function, arguments),) = step.items()
    problems = [baked_variable(name) for name in sorted(set(_variables_set_here(arguments)))]
    check = _CHECKS.get(function.rsplit(".", 1)[-1])
    return problems + (check(arguments) if check else [])


# -- a {{ $VAR }} that `prefect deploy` would fill in from this environment --------------------
def _variables_set_here(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        match = ENV_PLACEHOLDER.match(value)
        if match and match.group(1) in os.environ:
            yield match.group(1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _variables_set_here(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _variables_set_here(item)


def block_name_for(variable: str) -> str:
    """A Prefect block name for the secret a variable holds (lowercase letters, digits, '-')."""
    return "".join(c if c.isalnum() else "-" for c in variable.lower()).strip("-") or "secret"


def baked_variable(variable: str) -> str:
    name = block_name_for(variable)
    return (
        f"{variable} is set here: `prefect deploy` run where it is set fills in "
        f"'{{{{ ${variable} }}}}' at once and stores the value in clear in Prefect's database "
        "(workers then use that copy; flow.from_source(...).deploy() keeps the placeholder). "
        f"Keep it in a Prefect Secret block instead: save it once with `from prefect.blocks.system "
        f"import Secret; Secret(value=os.environ['{variable}']).save('{name}', overwrite=True)` "
        f"and use Secret(os.environ['{variable}'], name='{name}') here; or run `prefect deploy` "
        f"where {variable} is not set."
    )


# -- git_clone -----------------------------------------------------------------------------------
def git_problems(arguments: dict[str, Any]) -> list[str]:
    url = str(arguments.get("repository", ""))
    if arguments.get("credentials") and urlsplit(url).scheme == "http":
        return [
            "Prefect puts git credentials into https:// URLs only: a worker clones this http:// "
            "repository without them and fails ('could not read Username … terminal prompts "
            "disabled'). Serve the repository over https:// (over http:// the token also crosses "
            "the network in clear)."
        ]
    return []


# -- pull_from_remote_storage --------------------------------------------------------------------
_ELSEWHERE = "put the files in git or an object store (s3://, gs://, az://) instead"


def remote_problems(arguments: dict[str, Any]) -> list[str]:
    url = str(arguments.get("url", ""))
    parts = urlsplit(url)
    check = _REMOTE_CHECKS.get(parts.scheme)
    problem = check(url, arguments) if check else None
    return [problem] if problem else []


def _local_folder(url: str, arguments: dict[str, Any]) -> str:
    path = urlsplit(url).path
    return (
        f"Prefect reads {url} from the flow run's working folder (as '{path.lstrip('/')}'), so a "
        f"worker pulls nothing from it. For a folder the worker sees at this path use "
        f"LocalStorage('{path}') (a set_working_directory step); otherwise {_ELSEWHERE}."
    )


def _memory(url: str, arguments: dict[str, Any]) -> str:
    return (
        "memory:// lives in this Python process only: a worker's process starts with an empty "
        f"one and its step fails (FileNotFoundError); {_ELSEWHERE}."
    )


def _http(url: str, arguments: dict[str, Any]) -> str:
    return (
        "Prefect 3.9.1 drops the scheme of an http(s) URL before it reads it "
        f"('{urlsplit(url).netloc}/…' is no URL), so this step fails on a worker; {_ELSEWHERE}."
    )


def _login_server(url: str, arguments: dict[str, Any]) -> str | None:
    """sftp/ftp: Prefect builds the file system from the settings alone and asks it for
    ``<netloc>/<path>``; it works written as ``sftp:///path`` with ``host=`` among the settings."""
    parts = urlsplit(url)
    if not parts.netloc and arguments.get("host"):
        return None
    return (
        f"Prefect 3.9.1 builds the {parts.scheme} file system from the settings alone (without "
        f"host=… it fails: missing 'host') and asks it for '<host>/<path>', so this step fails "
        f"on a worker. Write the URL without the host and pass it as a setting: "
        f"{parts.scheme}:///{parts.path.lstrip('/')} with host='{parts.hostname or 'your.server'}' "
        "(Prefect then reads the path from the login folder)."
    )


def _webdav(url: str, arguments: dict[str, Any]) -> str | None:
    if "auth" not in arguments:
        return None
    return (
        "Prefect 3.9.1 passes `auth` from the step as a list, which webdav4 (httpx) refuses "
        "('Invalid \"auth\" argument'), so this step fails on a worker. Send the credentials as "
        "a header instead: headers={'Authorization': Secret('Basic <base64 of user:password>', "
        "name='dav-auth')}."
    )


_REMOTE_CHECKS = {
    "file": _local_folder,
    "local": _local_folder,
    "memory": _memory,
    "http": _http,
    "https": _http,
    "sftp": _login_server,
    "ssh": _login_server,
    "ftp": _login_server,
    "webdav": _webdav,
    "dav": _webdav,
}
_CHECKS = {"git_clone": git_problems, "pull_from_remote_storage": remote_problems}

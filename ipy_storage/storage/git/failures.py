"""What a failed git command means for the user: its stderr matched against known patterns,
turned into one line with the error class and a hint (behaviour §2.3). Pure: no git runs here."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import AuthenticationError, NetworkError, SourceNotFoundError, StoragePullError
from ..secrets import redact

URL_HINT = "check the URL and that the repository exists"
# stderr patterns → (error class, hint). First match wins; authentication comes first.
ERROR_RULES = [
    (
        AuthenticationError,
        re.compile(
            r"Authentication failed|could not read (Username|Password)|returned error: 40[13]"
            r"|Permission denied \(publickey|HTTP Basic: Access denied|Invalid username or password",
            re.I,
        ),
        "check the token/credentials and that they can read this repository",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"Remote branch .* not found|couldn't find remote ref|not found in upstream", re.I
        ),
        "check the branch name",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"not our ref|unadvertised object|reference is not a tree|no such commit|bad object"
            r"|did not match any file|unable to read tree",
            re.I,
        ),
        "check the commit SHA (the full 40-character SHA of a pushed commit)",
    ),
    (
        SourceNotFoundError,
        re.compile(
            r"repository .* not found|does not appear to be a git repository|returned error: 404"
            r"|Repository not found|does not exist|No such file or directory",
            re.I,
        ),
        URL_HINT,
    ),
    (
        NetworkError,
        re.compile(
            r"SSL certificate|certificate verify|server certificate|CAfile|gnutls_handshake", re.I
        ),
        "check the server certificate (set GIT_SSL_CAINFO for a private CA)",
    ),
    (
        NetworkError,
        re.compile(
            r"Could not resolve|Failed to connect|Couldn't connect|Connection refused|timed out"
            r"|Network is unreachable|No route to host|Connection reset|Empty reply|returned error: 5\d\d"
            r"|transfer rate|RPC failed|early EOF|unexpected disconnect|remote end hung up",
            re.I,
        ),
        "check the network and that the host is reachable",
    ),
]


def git_failure(
    action: str,
    url: str,
    destination: Path,
    stderr: str,
    hint: str | None = None,
    has_credentials: bool = False,
) -> StoragePullError:
    """One line for a failed git command: what failed, for which URL and destination, why, and
    what to do."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    error_class, rule_hint = StoragePullError, None
    for candidate, pattern, candidate_hint in ERROR_RULES:
        if pattern.search(stderr):
            error_class, rule_hint = candidate, candidate_hint
            break
    if error_class is SourceNotFoundError and hint and rule_hint != URL_HINT:
        rule_hint = hint  # the caller knows whether a branch or a commit was asked for
    important = [line for line in lines if line.lower().startswith(("fatal:", "error:"))]
    reason = re.sub(r"^(fatal|error): ", "", (important or lines or ["no output"])[0], flags=re.I)
    reason = reason.replace("\t", " ")[:300]
    if error_class is AuthenticationError:
        reason = (
            "the server refused the credentials"
            if has_credentials
            else "the server requires credentials and none were given"
        )
    final_hint = rule_hint or "see the reason above; pull(reset=True) starts afresh (with a backup)"
    return error_class(
        redact(f"{action} {url} into {destination} failed: {reason} — {final_hint}.")
    )

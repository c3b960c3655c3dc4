"""What a failed pull tells the user: one line, Prefect's hints, no secret (behaviour §2.3, §3.2).

The rules are one table. A failure matches a row by the service's error code (botocore's
``ClientError``), by an exception class name anywhere in its chain, or by a fragment of its
message: libraries often wrap the telling error in a generic one, and only its text remains
(``Exception("… (AccessDenied) …")``, ``OSError("… 403 Forbidden …")``, a
``ConnectionRefusedError`` mentioned inside a ``ClientError``), so Prefect reads the text as well.
The first row that matches wins, so the specific rows come first.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import AuthenticationError, NetworkError, SourceNotFoundError, StoragePullError
from ..secrets import redact
from .keys import shown


@dataclass(frozen=True)
class Hint:
    """One row: what identifies the failure, which error it becomes, and what to do."""

    error: type[StoragePullError]
    what: str  # "… {where}": what failed
    hint: str  # what to do
    codes: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    texts: tuple[str, ...] = ()  # lower case
    detail: bool = True  # repeat the library's message (a missing path's only names the path)

    def matches(self, codes: set[str], types: set[str], text: str) -> bool:
        return bool(codes & self.codes or types & self.types or any(t in text for t in self.texts))


HINTS = (
    Hint(
        SourceNotFoundError,
        "Bucket not found for {where}",
        "check the bucket name and region",
        codes=frozenset({"NoSuchBucket"}),
        texts=("nosuchbucket", "bucket does not exist"),
    ),
    Hint(
        SourceNotFoundError,
        "Container not found for {where}",
        "check the container name and the storage account",
        codes=frozenset({"ContainerNotFound"}),
        texts=("containernotfound",),
    ),
    Hint(
        AuthenticationError,
        "Access denied to {where}",
        "check permissions and credentials",
        codes=frozenset(
            {
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
                "AuthFailure",
                "AllAccessDisabled",
                "AuthenticationFailed",  # Azure (Azurite says AuthorizationFailure)
                "AuthorizationFailure",
                "AuthorizationPermissionMismatch",
                "InvalidAuthenticationInfo",
                "NoAuthenticationInformation",
                "403",
                "401",
            }
        ),
        types=frozenset(
            {
                "PermissionError",
                "NoCredentialsError",
                "PartialCredentialsError",
                "ClientAuthenticationError",
                "AuthenticationException",  # paramiko: the key or password was refused
                "PasswordRequiredException",
                "BadAuthenticationType",
                "DefaultCredentialsError",  # google-auth
                "RefreshError",
            }
        ),
        texts=(
            "accessdenied",
            "access denied",
            "403 forbidden",
            "401 unauthorized",
            "received 401",  # webdav4
            "received 403",
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "server failed to authenticate",  # Azure
            "invalid credentials",  # GCS
            "does not have storage.",  # GCS: "… does not have storage.objects.list access"
            "530 ",  # FTP: not logged in
            "invalid key",  # paramiko: a key file it cannot decrypt (wrong passphrase)
        ),
    ),
    Hint(
        SourceNotFoundError,
        "Nothing found at {where}",
        "check the path exists",
        codes=frozenset({"NoSuchKey", "BlobNotFound", "ResourceNotFound", "404"}),
        types=frozenset({"FileNotFoundError"}),
        texts=("nosuchkey", "404 not found", "received 404", "550 "),
        detail=False,
    ),
    Hint(
        NetworkError,
        "Could not reach {where}",
        "check network and endpoint",
        types=frozenset(
            {
                "EndpointConnectionError",
                "ConnectTimeoutError",
                "ReadTimeoutError",
                "ConnectionClosedError",
                "ClientConnectorError",
                "ServerDisconnectedError",
                "ConnectionError",
                "TimeoutError",
                "gaierror",
            }
        ),
        texts=(
            "endpointconnectionerror",
            "connectionrefusederror",
            "connectionerror",
            "connection refused",
            "could not connect to the endpoint",
            "name or service not known",
        ),
    ),
)


def describe_failure(exc: BaseException, url: str, key: str | None = None) -> StoragePullError:
    """The one-line pull error for a failure of the source (listing or download)."""
    if isinstance(exc, StoragePullError):
        return exc
    where = redact(url) + (f" (key {shown(key)})" if key else "")
    chain = exception_chain(exc)
    types = {cls.__name__ for error in chain for cls in type(error).__mro__}
    codes = {code for error in chain if (code := error_code(error))}
    detail = redact(squeezed_message(exc))
    text = " ".join(f"{type(error).__name__} {error}" for error in chain).lower()
    for row in HINTS:
        if row.matches(codes, types, text):
            what = row.what.format(where=where) + (f" ({detail})" if row.detail else "")
            return row.error(f"{what}: {row.hint}.")
    return StoragePullError(f"Pull of {where} failed: {type(exc).__name__}: {detail}")


def disk_failure(exc: OSError, rel: str, url: str, doing: str) -> StoragePullError:
    """An ``OSError`` of the destination's file system, named by the key being placed."""
    reason = exc.strerror or squeezed_message(exc)
    return StoragePullError(
        f"Pull of {redact(url)} failed {doing} {shown(rel)}: {reason} — check that the folder "
        "is writable, has free space, and that the name is valid on this file system."
    )


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def error_code(exc: BaseException) -> str | None:
    """The service's error code, if the exception carries one: botocore's ``ClientError``
    (``response``), Azure's ``error_code``, else an HTTP status (Azure's ``status_code``,
    gcsfs's ``code``, aiohttp's ``status``, the ``response`` of an httpx error)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    code = getattr(exc, "error_code", None)
    if isinstance(code, str) and code:
        return code
    for owner, name in ((exc, "status_code"), (exc, "status"), (response, "status_code")):
        status = getattr(owner, name, None)
        if isinstance(status, int) and 400 <= status < 600:
            return str(status)
    status = getattr(exc, "code", None)  # read last: aiohttp deprecates it for ``status``
    return str(status) if isinstance(status, int) and 400 <= status < 600 else None


def squeezed_message(exc: BaseException) -> str:
    """The whole message of ``exc`` on one line (whitespace squeezed), at most 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."

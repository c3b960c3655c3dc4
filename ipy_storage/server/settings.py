"""What a server's administrator decides about links (``c.IPyStorageLinks.…`` in
``jupyter_server_config.py`` or ``--IPyStorageLinks.…``): which sources pull without asking,
which secrets a link may name and where they may be sent, how many pulls run at once."""

from __future__ import annotations

from traitlets import Dict, Int, List, Unicode
from traitlets.config import Configurable


def under(url: str, prefixes: list[str]) -> bool:
    """``url`` is one of ``prefixes`` or below one (at a path boundary: ``…/course`` does not
    cover ``…/course-answers``)."""
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if (
            url == base
            or url.startswith(base + "/")
            or (prefix.endswith("/") and url.startswith(prefix))
        ):
            return True
    return False


class IPyStorageLinks(Configurable):
    """Links that pull on open: ``{base_url}ipy-storage/pull?source=…``."""

    allowed_sources = List(
        Unicode(),
        default_value=[],
        help="URL prefixes (e.g. https://github.com/my-course/) whose links pull at once, even "
        "when the link was followed from another site. Other links opened from another site "
        "show what they would pull and wait for the user's click.",
    ).tag(config=True)
    token_envs = Dict(
        value_trait=List(Unicode()),
        default_value={},
        help="Environment variables a link may name with token_env=VAR, each with the URL "
        "prefixes its token may be sent to, e.g. {'COURSE_TOKEN': ['https://git.example.edu/course/']}.",
    ).tag(config=True)
    token_secrets = Dict(
        value_trait=List(Unicode()),
        default_value={},
        help="Prefect Secret blocks a link may name with token_secret=NAME, each with the URL "
        "prefixes its value may be sent to.",
    ).tag(config=True)
    max_concurrent_pulls = Int(
        4, help="Link pulls running at once on this server; more wait their turn."
    ).tag(config=True)
    open_url = Unicode(
        "lab/tree/{path}",
        help="Where a finished link lands, below the server's base URL ({path}: the file or folder).",
    ).tag(config=True)

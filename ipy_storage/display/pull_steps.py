"""Prefect pull steps as a person reads them (behaviour §4, §6.5): YAML that pastes under ``pull:`` as
it is, or JSON, highlighted in notebooks; and where a storage's credentials come from, in words.

A pull step only ever holds Secret placeholders, so nothing here can show a token."""

from __future__ import annotations

import html
import json
from typing import Any, cast

from ..storage.errors import StorageError, error_line


def _plain(value: Any) -> Any:
    """``value`` as built-in dicts and lists, which YAML's safe dumper accepts."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def step_text(step: dict | list, fmt: str = "yaml") -> str:
    """A pull step (or a list of them) as JSON or as YAML; YAML is always a list, so that it
    pastes under ``pull:`` in a prefect.yaml as it is."""
    if fmt == "json":
        return json.dumps(_plain(step), indent=2)
    import yaml

    steps = _plain(step if isinstance(step, list) else [step])
    return yaml.safe_dump(steps, sort_keys=False, default_flow_style=False).rstrip("\n")


def highlighted(text: str, language: str) -> str:
    """``text`` as highlighted HTML (Pygments when present, else an escaped ``<pre>``)."""
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
    except ImportError:
        return f"<pre style='margin:0'>{html.escape(text)}</pre>"
    formatter = HtmlFormatter(noclasses=True, nobackground=True, cssstyles="margin:0")
    return highlight(text, get_lexer_by_name(language), formatter)


def step_html(step: dict | list, fmt: str = "yaml") -> str:
    return highlighted(step_text(step, fmt), fmt)


class _RendersAsStep:
    """Shows a pull step as highlighted YAML (a ``pull:`` list item) or JSON, not a dict repr."""

    format: str = "yaml"

    def text(self) -> str:
        return step_text(cast("dict | list", self), self.format)

    def _repr_html_(self) -> str:
        return step_html(cast("dict | list", self), self.format)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())


class PullStep(_RendersAsStep, dict):
    """One Prefect pull step: a dict that renders as the YAML list item ``pull:`` takes."""

    def __init__(self, step: dict, format: str = "yaml") -> None:
        super().__init__(step)
        self.format = format


class PullStepList(_RendersAsStep, list):
    """A ``pull:`` list of Prefect steps that renders as YAML (or JSON)."""

    def __init__(self, steps: list, format: str = "yaml") -> None:
        super().__init__(steps)
        self.format = format


def pull_step_or_problem(storage: Any) -> tuple[dict | None, str | None]:
    """The storage's pull step, or the one-line reason it has none."""
    try:
        return storage.to_pull_step(), None
    except StorageError as error:
        return None, error_line(error)


def _placeholders(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [found for item in value.values() for found in _placeholders(item)]
    if isinstance(value, list):
        return [found for item in value for found in _placeholders(item)]
    return [value.strip("{} ")] if isinstance(value, str) and value.startswith("{{") else []


def _where(placeholder: str) -> str:
    """A pull-step placeholder in words: where the secret comes from."""
    if placeholder.startswith("$"):
        return f"environment variable {placeholder}"
    block = placeholder.removeprefix("prefect.blocks.")
    kind, _, name = block.rpartition(".")
    return f"Secret block '{name}'" if kind == "secret" else f"{kind} block '{name}'"


def credentials_text(storage: Any, step: dict | None) -> str | None:
    """Whether the storage is configured with a token or other secret, and where it comes from
    (an environment variable, a Secret block); never the secret itself."""
    sources = sorted(set(_placeholders(step)))
    if sources:
        return "set, from " + ", ".join(_where(text) for text in sources)
    secret_values = getattr(storage, "_secret_values", lambda: ())
    return "set (plain text, so no pull step)" if secret_values() else None

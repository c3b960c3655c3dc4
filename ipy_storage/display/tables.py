"""Two kinds of table: columns under a header (lists of storages, reports of several pulls), as
padded text or HTML; and fields (label: value rows, a card's body) as HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence

from .styles import CELL, MUTED, RULE


def columns_text(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell; the last column is left as it is."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]
        ).rstrip()
        for row in [header, *rows]
    )


def columns_html(
    header: tuple[str, ...],
    rows: Sequence[tuple[str, ...]],
    css_class: str,
    nowrap: tuple[int, ...],
) -> str:
    """``rows`` of HTML cells (already escaped) under an escaped header; the ``nowrap`` columns
    (short words: names, kinds) never break."""
    styles = [f"{CELL};white-space:nowrap" if i in nowrap else CELL for i in range(len(header))]
    head = "".join(
        f"<th style='{style};{RULE}'>{html.escape(c)}</th>"
        for style, c in zip(styles, header, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='{style}'>{cell}</td>" for style, cell in zip(styles, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table class='{css_class}' style='border-collapse:collapse;line-height:1.4'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def fields_html(rows: list[tuple[str, str]]) -> str:
    """``label: value`` rows of plain text (escaped here), labels muted."""
    cells = "".join(
        f"<tr style='background:none'><th style='{CELL};{MUTED};font-weight:normal'>"
        f"{html.escape(label)}</th>"
        f"<td style='{CELL}'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table style='border-collapse:collapse;margin:4px 0'>{cells}</table>"

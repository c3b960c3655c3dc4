"""The look of everything ipy_storage draws: inline styles that follow JupyterLab's theme
variables (with plain fallbacks for classic notebooks and static HTML), colours, and the marks
that plain-text reports put before a path."""

from __future__ import annotations

from ..storage.result import CHANGE_LISTS

CARD_STYLE = (
    "border:1px solid var(--jp-border-color2,#ccc);border-radius:4px;padding:6px 10px;"
    "margin:2px 0;font-size:var(--jp-content-font-size1,13px);max-width:60em;line-height:1.4;"
    "color:var(--jp-content-font-color1,inherit)"
)
MUTED = "color:var(--jp-content-font-color2,#666)"
ERROR = "color:var(--jp-error-color1,#b32424)"
CELL = "text-align:left;padding:2px 12px 2px 0;vertical-align:top;background:none"
RULE = "border-bottom:1px solid var(--jp-border-color2,#ccc)"
# A report shows this many paths of each list, then "… and N more".
LIST_LIMIT = 20

_COLOURS = {"added": "#2a7d2a", "modified": "#b36b00", "deleted": "#c43c3c", "merged": "#8a5cc4"}
_OTHER_COLOUR = "#3b6fc4"
# (mark, label, colour) of every list a pull reports, in the order reports show them.
MARKS = (
    *((mark, label, _COLOURS.get(label, _OTHER_COLOUR)) for label, _field, mark in CHANGE_LISTS),
    (">", "moved aside", _OTHER_COLOUR),
)
# What the lists that are not plain upstream changes mean, in a report's headings …
EXPLAINED = {
    "merged": "merged (your edits and upstream's, both in the file)",
    "kept local": "kept local (your version won over upstream's)",
    "moved aside": "moved aside (your file, renamed for upstream's)",
}
# … and in the legend below a plain-text report.
_SHORT_MEANING = {
    "merged": "merged (yours + upstream's)",
    "kept local": "kept local (yours won)",
    "moved aside": "moved aside (yours, renamed)",
}
LEGEND = "  ".join(f"{mark} {_SHORT_MEANING.get(label, label)}" for mark, label, _ in MARKS)


def muted(text_html: str) -> str:
    """Already-escaped HTML in the theme's secondary colour."""
    return f"<span style='{MUTED}'>{text_html}</span>"

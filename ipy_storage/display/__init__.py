"""Everything ipy_storage draws, in one place (behaviour §6.5): the look (``styles``), the words for a
storage (``words``), tables, pull steps, storage cards, pull reports, the workspace's views and
pull progress.

The layers below never import this package: importing it registers its renderers with the core
(:mod:`ipy_storage.storage.renderers`), which is how a storage's or a pull result's
``_repr_html_`` and a workspace's reprs are drawn here. The magics and the form import what they
show from here directly.
"""

from __future__ import annotations

from ..storage import renderers
from ..storage.base import StorageBase
from ..storage.result import PullResult
from ..workspaces import Workspace
from .cards import StorageCard, card_html, storage_card_html
from .progress import pull_progress
from .pull_steps import PullStep, PullStepList, step_html, step_text
from .reports import PullReport, pull_result_html, result_body_html, result_details_text
from .styles import LEGEND
from .words import relative_destination, status_text
from .workspace import BaseFolder, StorageList, StorageTable, storage_table

__all__ = [
    "LEGEND",
    "BaseFolder",
    "PullReport",
    "PullStep",
    "PullStepList",
    "StorageCard",
    "StorageList",
    "StorageTable",
    "card_html",
    "pull_progress",
    "relative_destination",
    "result_body_html",
    "status_text",
    "step_html",
    "step_text",
    "storage_table",
]

renderers.register(StorageBase, html=storage_card_html)
renderers.register(PullResult, html=pull_result_html, text=result_details_text)
renderers.register(
    Workspace,
    html=lambda ws: storage_table(ws).html(),
    text=lambda ws: storage_table(ws).text(),
)

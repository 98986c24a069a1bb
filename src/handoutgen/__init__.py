"""handoutgen: reviewed medical content into personalized, printable PDF handouts.

Open a workspace (a folder with ``handouts/``) and use it as the commands do::

    import handoutgen

    ws = handoutgen.open_workspace(".")
    pdf = ws.render("fusion-alternatives", patient="Alex Example", visit_date="2026-11-20")
    findings = ws.check(["fusion-alternatives"])
    report = ws.batch("followup-letter", "recipients.csv", "output/mailing")

Every error handoutgen reports is a :class:`HandoutgenError`: a
:class:`ContentError` for the workspace's YAML, templates and styles
(:class:`ValidationFailed` lists every problem at once), a :class:`DataError`
for personal or recipient data, a :class:`RenderError` when rendering fails.
"""

from typing import TYPE_CHECKING, Any

from handoutgen.api import (
    BatchOptions,
    HandoutWorkspace,
    RenderFields,
    open_workspace,
    reset_caches,
)
from handoutgen.core.errors import (
    ContentError,
    DataError,
    HandoutgenError,
    RenderError,
    ValidationFailed,
)
from handoutgen.core.version import __version__

if TYPE_CHECKING:
    from handoutgen.content.models import RenderRequest
    from handoutgen.mailing.batch import BatchReport, BatchSettings, RowProblem, RowResult
    from handoutgen.quality.checks import Finding

__all__ = [
    "BatchOptions",
    "BatchReport",
    "BatchSettings",
    "ContentError",
    "DataError",
    "Finding",
    "HandoutWorkspace",
    "HandoutgenError",
    "RenderError",
    "RenderFields",
    "RenderRequest",
    "RowProblem",
    "RowResult",
    "ValidationFailed",
    "__version__",
    "open_workspace",
    "reset_caches",
]

# The types the API returns and takes, loaded on first use: importing
# handoutgen stays cheap (no pydantic models, no batch machinery).
_LAZY = {
    "BatchReport": "mailing.batch",
    "BatchSettings": "mailing.batch",
    "RowProblem": "mailing.batch",
    "RowResult": "mailing.batch",
    "Finding": "quality.checks",
    "RenderRequest": "content.models",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'handoutgen' has no attribute {name!r}")

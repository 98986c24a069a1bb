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

from .api import HandoutWorkspace, open_workspace, reset_caches
from .errors import ContentError, DataError, HandoutgenError, RenderError, ValidationFailed
from .version import __version__

__all__ = [
    "ContentError",
    "DataError",
    "HandoutWorkspace",
    "HandoutgenError",
    "RenderError",
    "ValidationFailed",
    "__version__",
    "open_workspace",
    "reset_caches",
]

"""The ``handoutgen`` command: parses options and calls the library.

WeasyPrint and the content models are imported inside commands so that
``--help`` answers at once. The group lives in base; each module by job adds
its commands to it when imported, so all of them are imported here.
"""

import os

# Pydantic runs any validation plugin another installed package registers, on
# every value it validates: here, patients' names and recipient rows. The
# command never hands patient data to third-party code, so it loads none
# (which also spares every command a scan of all installed packages' entry
# points, a tenth of a one-off render's start-up). A program using the library
# keeps its own choice.
os.environ["PYDANTIC_DISABLE_PLUGINS"] = "__all__"

from handoutgen.cli import admin, documents, mailing, preflight, server  # noqa: E402, F401  (they register)
from handoutgen.cli.base import _add_verbosity, cli

# Last, once every command exists: -v/-q after a subcommand's name too.
_add_verbosity(cli)

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="handoutgen")

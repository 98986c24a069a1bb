"""The ``handoutgen`` command: parses options and calls the library.

WeasyPrint and the content models are imported inside commands so that
``--help`` answers at once. The group lives in base; each module by job adds
its commands to it when imported, so all of them are imported here.
"""

from handoutgen.cli import admin, documents, mailing, preflight, server  # noqa: F401  (they register)
from handoutgen.cli.base import _add_verbosity, cli

# Last, once every command exists: -v/-q after a subcommand's name too.
_add_verbosity(cli)

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="handoutgen")

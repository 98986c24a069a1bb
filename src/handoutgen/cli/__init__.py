"""The ``handoutgen`` command (being split into modules by job)."""

from handoutgen.cli.mailing import _setup_logging, cli, main

__all__ = ["_setup_logging", "cli", "main"]

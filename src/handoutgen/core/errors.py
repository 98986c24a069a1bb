"""One exception family: every error the library raises is a HandoutgenError.

It is a ``click.ClickException`` so the CLI prints ``Error: ...`` and exits 1
without a traceback, while library users can catch one base class.
"""

from __future__ import annotations

from dataclasses import dataclass

import click


class HandoutgenError(click.ClickException):
    """Base of every error handoutgen reports to a user."""

    exit_code = 1


class ContentError(HandoutgenError):
    """A problem in the YAML content, templates or styles of a workspace."""


class DataError(HandoutgenError):
    """A problem in per-patient or per-recipient input (names, dates, option ids)."""


class RenderError(HandoutgenError):
    """Rendering failed: a template error, a refused file or URL, a WeasyPrint failure."""


class Unavailable(HandoutgenError):
    """An outside service a run depends on (the EHR) is unreachable or refuses
    handoutgen as a whole: a batch stops once instead of failing every row."""


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem: ``path:line:column: message``."""

    path: str
    line: int | None
    column: int | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class ValidationFailed(ContentError):
    """Every problem found in one pass, so a user fixes them all at once."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=_problem_sort_key)
        super().__init__("\n".join(str(p) for p in self.problems))

    def show(self, file=None) -> None:  # noqa: ANN001 - click's signature
        for problem in self.problems:
            click.echo(f"Error: {problem}", err=True, file=file)
        n = len(self.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True, file=file)


def _problem_sort_key(p: Problem) -> tuple:
    return (p.path, p.line or 0, p.column or 0, p.message)

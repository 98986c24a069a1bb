"""A finding of ``handoutgen check``, and the list the rule families add them to."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Literal

from handoutgen.content.library import Library
from handoutgen.content.models import DEFAULT_LANGUAGE
from handoutgen.content.yamlfile import Loc, YamlFile

Severity = Literal["error", "warning"]
EN = DEFAULT_LANGUAGE


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int | None
    column: int | None
    severity: Severity
    rule: str
    message: str
    document: str | None = None
    option: str | None = None

    def sort_key(self) -> tuple:
        """File, then position (a finding about a whole file first), then the rest."""
        return (
            self.path,
            self.line or 0,
            self.column or 0,
            self.severity,
            self.rule,
            self.message,
            self.document or "",
            self.option or "",
        )

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}" if self.line else self.path
        return f"{where}: {self.severity}: [{self.rule}] {self.message}"

    def as_dict(self) -> dict:
        return asdict(self)


class Recorder:
    """Collects findings, each placed at its YAML line and column."""

    def __init__(self, library: Library, today: dt.date):
        self.library = library
        self.today = today
        self.findings: list[Finding] = []

    def add(
        self,
        yf: YamlFile,
        loc: Loc,
        severity: Severity,
        rule: str,
        message: str,
        *,
        document: str | None = None,
        option: str | None = None,
        # typed loosely so rules can pass their **ids through (only ever a bool)
        key: bool | str | None = False,
    ) -> None:
        line, col = yf.where(loc, key=bool(key))
        self.findings.append(
            Finding(yf.display, line, col, severity, rule, message, document, option)
        )

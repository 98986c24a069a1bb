"""Rules about what a reader is told of where the content comes from: sources a
patient can look up, and a producer line that agrees with who paid."""

from __future__ import annotations

import re

from handoutgen.content.models import Document, Option, SignSet
from handoutgen.content.sources import problems
from handoutgen.content.yamlfile import Loc, YamlFile
from handoutgen.quality.finding import Recorder

# A producer line that says no clinic paid (in the languages shipped): false on
# any page printed with a clinic profile whose funding: says the clinic paid.
NO_CLINIC_PAID = re.compile(
    r"\b(?:no|neither|nor)\b[^.]*\bclinics?\b[^.]*\bpa(?:id|ys?)\b"
    r"|\bni ninguna clínica pagó\b|\bninguna clínica\b[^.]*\bpag[óo]\b"
    r"|或诊所为它付费|أو عيادة مقابلها",
    re.I,
)


class SourceRules(Recorder):
    """Every source printed can be looked up; funding and producer agree."""

    def sources(self, yf: YamlFile, opt: Option, **ids: str | None) -> None:
        """An option's evidence sources and its own sources: author or publisher,
        title, year and a link or identifier; never a working name like "seed 003"."""
        places: list[tuple[Loc, str]] = [
            (("evidence", i, "source"), ev.source) for i, ev in enumerate(opt.evidence)
        ]
        places += [(("sources", i), s) for i, s in enumerate(opt.sources)]
        for loc, source in places:
            self._source(yf, loc, source, **ids)

    def sign_sources(self) -> None:
        """The sources of the warning signs (handouts/warning-signs.yaml), printed
        in every document."""
        signs, yf = self.library.signs, self.library.signs_file
        if signs is None or yf is None:
            return
        sets: list[tuple[Loc, SignSet]] = [
            (("regions", region), s) for region, s in signs.regions.items()
        ]
        sets.append((("after",), signs.after))
        for prefix, sign_set in sets:
            for i, entry in enumerate(sign_set.sources):
                if isinstance(entry, str):
                    self._source(yf, (*prefix, "sources", i), entry)
                else:
                    self._source(yf, (*prefix, "sources", i, "source"), entry.source)

    def _source(self, yf: YamlFile, loc: Loc, source: str, **ids: str | None) -> None:
        for problem in problems(source):
            self.add(
                yf,
                loc,
                "error",
                "sources",
                f"a reader cannot look this source up: {problem} ('{source[:50]}...')",
                **ids,
            )

    def funding(self, doc: Document, yf: YamlFile, **ids: str | None) -> None:
        """ "Produced by X. Paid for by Y.": a producer line that says no clinic paid
        contradicts a clinic profile that says it paid (its funding: prints after)."""
        if doc.producer is None:
            return
        brands = [self.library.brands[doc.brand]] if doc.brand in self.library.brands else []
        brands = brands or list(self.library.brands.values())  # --clinic may pick any
        payers = [b for b in brands if b.funding]
        if not payers:
            return
        for lang, text in doc.producer.items():
            if NO_CLINIC_PAID.search(text):
                names = ", ".join(sorted(b.id for b in payers))
                self.add(
                    yf,
                    ("producer",),
                    "error",
                    "funding",
                    f"the producer line ({lang}) says no clinic paid, but it prints with a "
                    f"clinic profile that says it paid (funding: in {names}): say only who "
                    "produced it here; who paid comes from the profile",
                    **ids,
                )
                return

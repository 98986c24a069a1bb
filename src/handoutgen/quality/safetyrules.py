"""Safety rules of an option (content-standards.md, Safety): a procedure's own
warnings and after-care signs, complete medicine warnings, the regulatory
status of unapproved shots, and sources for all of them."""

from __future__ import annotations

import re

from handoutgen.content.models import Option
from handoutgen.content.yamlfile import YamlFile
from handoutgen.quality.finding import EN, Recorder

INVASIVE = ("surgery", "procedure")

# A medicine the option's text names -> what its warnings must say, each as
# (pattern, what to add). From the FDA, CDC and NHS patient advice.
MEDICINES: dict[str, tuple[re.Pattern[str], list[tuple[re.Pattern[str], str]]]] = {
    "opioid": (
        re.compile(r"\bopioids?\b|\bopiates?\b", re.I),
        [
            (re.compile(r"\boverdose|\bbreath", re.I), "the risk of overdose and slowed breathing"),
            (re.compile(r"\balcohol\b", re.I), "never with alcohol"),
            (
                re.compile(r"\bsleep\w*|\bbenzodiazepines?\b|\bsedatives?\b", re.I),
                "never with sleep or anxiety medicines",
            ),
            (re.compile(r"\bnaloxone\b", re.I), "naloxone, which reverses an overdose"),
        ],
    ),
    "NSAID": (
        re.compile(r"\bNSAIDs?\b|\banti-?inflammator\w*|\bibuprofen\b|\bnaproxen\b", re.I),
        [
            (re.compile(r"\bbleed", re.I), "bleeding in the stomach"),
            (re.compile(r"\bkidneys?\b", re.I), "harm to the kidneys"),
            (re.compile(r"\bheart\b", re.I), "heart risks"),
        ],
    ),
}
# Shots the FDA has not approved for back pain: the option must say so.
UNAPPROVED = re.compile(r"\bstem[- ]cells?\b|\bplatelet\w*|\bPRP\b|\bexosomes?\b", re.I)
FDA = re.compile(r"\bFDA\b|\bFood and Drug Administration\b")


def _all_text(option: Option) -> str:
    fields = [option.title, option.summary, option.how_it_works, option.recovery]
    fields += option.benefits + option.risks + option.warnings
    return " ".join(f[EN] for f in fields)


class SafetyRules(Recorder):
    """What an option must say about its own safety."""

    def safety_of(self, yf: YamlFile, opt: Option, **ids: str | None) -> None:
        if opt.category in INVASIVE:
            self._invasive(yf, opt, **ids)
        warnings = " ".join(w[EN] for w in opt.warnings)
        text = _all_text(opt)
        for name, (names, needs) in MEDICINES.items():
            if not names.search(text):
                continue
            missing = [what for pattern, what in needs if not pattern.search(warnings)]
            if missing:
                self.add(
                    yf,
                    ("warnings",),
                    "error",
                    "warnings",
                    f"the text names {name} medicines, but its warnings do not say "
                    f"{', '.join(missing)}: add them under warnings: with their source",
                    key=True,
                    **ids,
                )
        if UNAPPROVED.search(text):
            said = [w[EN] for w in opt.warnings if FDA.search(w[EN])]
            said += [ev.claim[EN] for ev in opt.evidence if FDA.search(ev.claim[EN])]
            cited = [s for s in opt.sources if FDA.search(s) or "fda.gov" in s]
            if not said or not cited:
                self.add(
                    yf,
                    ("warnings",),
                    "error",
                    "regulatory",
                    "stem cell or platelet (PRP) shots are named, but the option does not say, "
                    "with an FDA source, that the FDA has not approved them for back pain: "
                    "add a warning and the FDA page under sources:",
                    key=True,
                    **ids,
                )
        if opt.warnings and not opt.sources:
            self.add(
                yf,
                ("warnings",),
                "error",
                "warnings",
                "these warnings have no source: list the public pages they come from "
                "(FDA, CDC, NHS, AAOS...) under sources:",
                key=True,
                **ids,
            )

    def _invasive(self, yf: YamlFile, opt: Option, **ids: str | None) -> None:
        what = "a surgery" if opt.category == "surgery" else "a procedure"
        if not opt.warnings:
            self.add(
                yf,
                ("category",),
                "error",
                "warnings",
                f"{what} with no warnings: add its own safety warnings under warnings: "
                "(blood thinners before it, medicines, blood sugar...)",
                **ids,
            )
        after = opt.watch_after
        if after is None or not (after.signs or after.emergency or after.soon):
            self.add(
                yf,
                ("category",),
                "error",
                "watch-after",
                f"{what} with no signs to watch for afterwards: list them under "
                "watch_after: signs (ids from after: in handouts/warning-signs.yaml)",
                **ids,
            )
        if not opt.serious_risks:
            self.add(
                yf,
                ("risks",),
                "warning",
                "serious-risks",
                f"{what} with no risk marked serious: list under serious_risks: the risks "
                "(0 is the first) a brochure card must never leave out",
                key=True,
                **ids,
            )

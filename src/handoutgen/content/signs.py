"""Warning signs as data: ``handouts/warning-signs.yaml`` (models.WarningSigns).

A document names its body region; its "When to get help" block prints that
region's signs. An option names the signs to watch for after its procedure
(ids from the file's ``after:`` set) and may add its own. Templates get them
as :class:`SignList` objects: the signs of each route, in the file's order,
each with the id that ``check`` and the page (``data-sign``) use.
"""

from __future__ import annotations

from dataclasses import dataclass

from handoutgen.content.models import Option, Region, WarningSigns

SIGNS_FILE = "warning-signs.yaml"
"""The one warning-signs file, at the top of a workspace's handouts/ folder."""


@dataclass(frozen=True)
class Sign:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class SignList:
    """Signs by route, as a template prints them."""

    emergency: tuple[Sign, ...] = ()
    soon: tuple[Sign, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.emergency or self.soon)


def _signs(texts: dict[str, dict[str, str]]) -> tuple[Sign, ...]:
    return tuple(Sign(k, v) for k, v in texts.items())


def region_signs(signs: WarningSigns | None, region: Region) -> SignList:
    """The "When to get help" signs of ``region`` (empty if the file lacks it;
    loading reports that at the document's region: line)."""
    found = signs.regions.get(region) if signs else None
    if found is None:
        return SignList()
    return SignList(_signs(found.emergency), _signs(found.soon))


def after_signs(signs: WarningSigns | None, option: Option) -> SignList:
    """What to watch for after ``option``'s procedure: the shared signs it names,
    by route, then its own."""
    watch = option.watch_after
    if watch is None:
        return SignList()
    emergency: list[Sign] = []
    soon: list[Sign] = []
    if signs is not None:
        for sign_id in watch.signs:
            if sign_id in signs.after.emergency:
                emergency.append(Sign(sign_id, signs.after.emergency[sign_id]))
            elif sign_id in signs.after.soon:
                soon.append(Sign(sign_id, signs.after.soon[sign_id]))
    return SignList(tuple(emergency) + _signs(watch.emergency), tuple(soon) + _signs(watch.soon))


def sign_sources(signs: WarningSigns | None, region: Region, options: list[Option]) -> list[str]:
    """The sources of the signs a document prints: its region's, then those
    behind the shared after-procedure signs its options name."""
    if signs is None:
        return []
    found = signs.regions.get(region)
    out = found.sources_for(set(found.emergency) | set(found.soon)) if found else []
    shared = {i for o in options if o.watch_after for i in o.watch_after.signs}
    out += signs.after.sources_for(shared)
    return list(dict.fromkeys(out))

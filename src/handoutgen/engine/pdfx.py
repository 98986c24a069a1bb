"""PDF/X-4 for a print shop (``--pdf-variant pdf/x-4``).

WeasyPrint writes the PDF/X-4 metadata and, given a ``device-cmyk`` colour
profile, the ``/GTS_PDFX`` output intent that embeds it. The profile is a CMYK
printer profile from a Debian package (no profile is bundled here). Colours
stay RGB, but made device-independent: the pages' ``/DefaultRGB`` is sRGB, so
the print shop's RIP converts them to the press's CMYK with the output intent.
WeasyPrint dates the file and names it with a random id; both are set here from
the content, so the same content gives the same bytes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from handoutgen.core.errors import RenderError

VARIANT = "pdf/x-4"
# Ghostscript's CMYK printer profile (SWOP-like), in Debian's libgs-common.
CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")
CMYK_PACKAGE = "libgs-common"
PROFILE_ENV = "HANDOUTGEN_CMYK_PROFILE"  # another CMYK printer profile (FOGRA39, GRACoL...)


def cmyk_profile_path() -> Path:
    """The output profile's file, or a RenderError that names the package to install."""
    path = Path(os.environ.get(PROFILE_ENV) or CMYK_PROFILE)
    if not path.is_file():
        raise RenderError(
            f"PDF/X-4 needs a CMYK output profile, and {path} is missing: install the "
            f"Debian package {CMYK_PACKAGE} (apt-get install {CMYK_PACKAGE}; "
            f"scripts/setup.sh does), or set {PROFILE_ENV} to a CMYK printer ICC profile"
        )
    return path


def _profile(path: Path, components: tuple[list[str], ...]) -> Any:
    from weasyprint.css import ColorProfile

    try:
        with path.open("rb") as f:
            return ColorProfile(f, str(path), "relative-colorimetric", components)
    except (OSError, ValueError) as exc:
        raise RenderError(f"the ICC profile {path} cannot be read: {exc}") from None


def prepare(document: Any, date: str) -> None:
    """Before WeasyPrint writes ``document`` as PDF/X-4: the CMYK output profile,
    sRGB for the RGB colours, and the file's dates (``date``: ISO 8601)."""
    from importlib.resources import files

    path = cmyk_profile_path()
    cmyk = _profile(path, (["c"], ["m"], ["y"], ["k"]))
    icc = cmyk._profile.profile  # noqa: SLF001 - the parsed header PIL keeps
    if icc.xcolor_space.strip() != "CMYK" or icc.device_class.strip() != "prtr":
        raise RenderError(
            f"{path} is not a CMYK printer profile (it is {icc.xcolor_space.strip()} "
            f"{icc.device_class.strip()}); PDF/X-4 needs one for its output intent"
        )
    srgb = files("weasyprint.pdf") / "sRGB2014.icc"
    with srgb.open("rb") as f:
        from weasyprint.css import ColorProfile

        rgb = ColorProfile(f, "sRGB2014.icc", "relative-colorimetric", (["r"], ["g"], ["b"]))
    # Keys become the names in the pages' /ColorSpace resources.
    document.color_profiles = {
        **document.color_profiles,
        "device-cmyk": cmyk,
        "DefaultRGB": rgb,
    }
    document.output_intent = "device-cmyk"
    document.metadata.created = document.metadata.created or date
    document.metadata.modified = document.metadata.modified or date


def settle(data: bytes, identifier: str) -> bytes:
    """After writing: the XMP document id WeasyPrint drew at random is made from
    the content, so a render is reproducible."""
    import io

    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
            h = identifier.ljust(32, "0")[:32]
            meta["xmpMM:DocumentID"] = f"uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
    return out.getvalue()

"""``handoutgen doctor``: is this machine set up to render well?"""

from __future__ import annotations

import platform
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def run_checks() -> list[Check]:
    checks = [Check("Python", True, platform.python_version())]
    try:
        import weasyprint
        from weasyprint.text import ffi

        checks.append(Check("WeasyPrint", True, weasyprint.__version__))
        pango = ffi.pango.pango_version()
        checks.append(
            Check("Pango", pango >= 14400, f"{pango // 10000}.{pango // 100 % 100}.{pango % 100}")
        )
        subset = ffi.harfbuzz_subset is not None
        checks.append(
            Check(
                "HarfBuzz subsetting",
                subset,
                "fast font subsetting available"
                if subset
                else "missing: install libharfbuzz-subset0 (fonts are subset slowly with fontTools)",
                required=False,
            )
        )
    except (ImportError, OSError) as exc:
        checks.append(Check("WeasyPrint", False, f"cannot load: {exc}"))
    try:
        from handoutgen.content.fonts import FAMILY, font_files

        missing = [f.name for f in font_files() if not f.is_file()]
        checks.append(
            Check("Font", not missing, FAMILY if not missing else f"missing {', '.join(missing)}")
        )
    except ImportError as exc:
        checks.append(Check("Font", False, f"font package missing: {exc}"))
    try:
        from handoutgen.content.fonts import fallback_fonts_installed

        fallbacks = fallback_fonts_installed()
        checks.append(
            Check(
                "Fallback fonts",
                bool(fallbacks),
                f"{len(fallbacks)} Noto files for names in other scripts"
                if fallbacks
                else "missing: install fonts-noto-core and fonts-noto-cjk",
                required=False,
            )
        )
    except (ImportError, OSError) as exc:
        checks.append(Check("Fallback fonts", False, str(exc), required=False))
    from handoutgen.core.errors import RenderError
    from handoutgen.engine.pdfx import CMYK_PACKAGE
    from handoutgen.engine.pdfx import cmyk_profile_path as profile

    try:
        checks.append(Check("CMYK profile", True, f"{profile()} (for PDF/X-4)", False))
    except RenderError:
        checks.append(
            Check("CMYK profile", False, f"missing: install {CMYK_PACKAGE} (for PDF/X-4)", False)
        )
    for tool in ("pdftoppm", "pdfinfo", "pdffonts", "zbarimg"):
        found = shutil.which(tool)
        checks.append(
            Check(
                tool, bool(found), found or "not found (poppler-utils; used by tests only)", False
            )
        )
    return checks

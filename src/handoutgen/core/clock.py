"""Today's date, in one place.

Content checks measure review dates against it, and the web form and letters
default to it. ``HANDOUTGEN_TODAY=YYYY-MM-DD`` fixes it (the test suite does,
so it gives the same answers on any day; a reproducible build can too).
"""

from __future__ import annotations

import datetime as dt
import os

from handoutgen.core.errors import HandoutgenError


def today() -> dt.date:
    value = os.environ.get("HANDOUTGEN_TODAY")
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HandoutgenError(
            f"HANDOUTGEN_TODAY: not a date: {value[:20]!r}; use YYYY-MM-DD or unset it"
        ) from None


def now() -> float:
    """Seconds since the epoch: what sessions and the sign-in throttle measure
    time with (tests inject their own clock where these take one)."""
    import time

    return time.time()

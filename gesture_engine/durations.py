"""Response deadlines written as ``1d``, ``4h``, ``1h30m``, ``45m``: short, unambiguous, sortable."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

from gesture_engine.timevalues import format_span

_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60))
MAX_DURATION_SECONDS = 3650 * 86400
"""The longest deadline a policy may set or expect: 3650 days (10 years). Bounded so that
``respond_within_seconds`` is far inside int64 and ``respond_by`` stays a representable time (a
complaint's ``received_at`` is at most the year 8999)."""
MAX_DURATION = "3650d"


@lru_cache(maxsize=1024)  # a policy repeats a handful of deadlines across thousands of rules
def parse_duration(text: str) -> int | None:
    """Seconds in ``text``, or None when it is not a positive duration like ``2h`` or ``1h30m`` of at most
    ``MAX_DURATION`` (ASCII digits only, the whole text: ``"1d\\n"`` is not a duration)."""
    match = _DURATION.fullmatch(text)
    if not text or not match:
        return None
    counts = [(group or "0").lstrip("0") for group in match.groups()]
    if any(len(count) > 10 for count in counts):  # past any bound; and int() refuses 4,300 digits
        return None
    seconds = sum(int(count or 0) * size for count, (_, size) in zip(counts, _UNITS, strict=True))
    return seconds if 0 < seconds <= MAX_DURATION_SECONDS else None


def format_duration(seconds: int) -> str:
    """Canonical text for a whole number of minutes: 5400 -> ``1h30m``, 86400 -> ``1d`` (the grammar of
    every duration, :func:`gesture_engine.timevalues.format_span`)."""
    return format_span(timedelta(seconds=seconds))

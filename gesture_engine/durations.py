"""Response deadlines written as ``1d``, ``4h``, ``1h30m``, ``45m``: short, unambiguous, sortable."""

from __future__ import annotations

import re
from functools import lru_cache

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60))


@lru_cache(maxsize=1024)  # a policy repeats a handful of deadlines across thousands of rules
def parse_duration(text: str) -> int | None:
    """Seconds in ``text``, or None when it is not a positive duration like ``2h`` or ``1h30m``."""
    match = _DURATION.match(text)
    if not text or not match:
        return None
    days, hours, minutes = (int(group or 0) for group in match.groups())
    seconds = days * 86400 + hours * 3600 + minutes * 60
    return seconds or None


def format_duration(seconds: int) -> str:
    """Canonical text for a whole number of minutes: 5400 -> ``1h30m``, 86400 -> ``1d``."""
    parts = []
    for suffix, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0m"

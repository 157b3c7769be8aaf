"""Durations, dates and datetimes as complaints and policies write them, read strictly.

A duration is written in the project's own grammar (``2h59m``, ``1d``, ``45m30s``: days, hours,
minutes, seconds, in that order) or in ISO 8601 (``PT2H59M``, ``P1DT2H``, ``P2W``), and is held as a
``timedelta`` of whole seconds. ISO years and months (``P1M``) are refused: they have no fixed length.
A date is ``YYYY-MM-DD``; a datetime is ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with ``Z`` or an offset
(``+01:00``), since a time without a timezone names no moment. Each format is matched by a strict
pattern first; the calendar (month lengths, leap years) is then the standard library's
``fromisoformat``, which never sees a text the pattern did not accept.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

DURATION_LIMIT = timedelta(days=36500)
"""The longest duration a fact may hold: 100 years (longer ones are mistakes, not waits)."""
_LIMIT_SECONDS = 36500 * 86400
_PLAIN = re.compile(r"(?:([0-9]{1,10})d)?(?:([0-9]{1,10})h)?(?:([0-9]{1,10})m)?(?:([0-9]{1,10})s)?")
_ISO = re.compile(r"P(?:([0-9]{1,10})W|(?:([0-9]{1,10})D)?(?:T(?:([0-9]{1,10})H)?(?:([0-9]{1,10})M)?(?:([0-9]{1,10})S)?)?)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})")
_SIZES = (86400, 3600, 60, 1)
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

DURATION_EXAMPLE = "a duration like 2h30m, 45m, 1d or ISO 8601 PT2H30M"
DATE_EXAMPLE = "a date like 2026-11-23"
DATETIME_EXAMPLE = "a date and time with a timezone, like 2026-11-23T09:30:00Z or 2026-11-23T10:30:00+01:00"


def parse_span(text: str) -> timedelta | None:
    """The duration ``text`` writes (zero allowed), or None when it is not one or exceeds DURATION_LIMIT."""
    seconds = span_seconds(text)
    return timedelta(seconds=seconds) if seconds is not None and seconds <= _LIMIT_SECONDS else None


@lru_cache(maxsize=4096)  # complaints repeat a handful of waits and dates: parse each text once
def span_seconds(text: str) -> int | None:
    """Whole seconds in a duration ``text`` whatever its length (at most 10 digits a unit), or None."""
    if not text or len(text) > 64:
        return None
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        counts = plain.groups()
    else:
        iso = _ISO.fullmatch(text)
        if iso is None or text in ("P", "PT") or text.endswith("T"):
            return None
        weeks, days, hours, minutes, seconds = iso.groups()
        counts = (str(int(weeks) * 7) if weeks else days, hours, minutes, seconds)
    if all(count is None for count in counts):
        return None
    return sum(int(count or 0) * size for count, size in zip(counts, _SIZES, strict=True))


def format_span(span: timedelta) -> str:
    """A duration in the project's grammar: 10740 s -> ``2h59m``, 90 s -> ``1m30s``, zero -> ``0m``."""
    seconds = span.days * 86400 + span.seconds
    parts = []
    for suffix, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts) or "0m"


@lru_cache(maxsize=4096)
def parse_date(text: str) -> date | None:
    """The calendar date ``YYYY-MM-DD`` in ``text``, or None."""
    if _DATE.fullmatch(text) is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2026-02-30, month 13, year 0
        return None


@lru_cache(maxsize=4096)
def parse_datetime(text: str) -> datetime | None:
    """The moment ``text`` writes (a timezone is required), or None."""
    if _DATETIME.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None


def format_datetime(moment: datetime) -> str:
    """ISO 8601 as the decision JSON writes it: ``Z`` for UTC, else the offset given."""
    text = moment.isoformat()
    return text[:-6] + "Z" if moment.utcoffset() == timedelta(0) and text.endswith("+00:00") else text


def age(value: date, reference: date) -> timedelta:
    """How long before ``reference`` ``value`` lies (negative when after it). When either is a date,
    whole calendar days: a datetime then counts as its date in its own timezone offset."""
    if isinstance(value, datetime) and isinstance(reference, datetime):
        return reference - value
    return timedelta(days=(_day(reference) - _day(value)).days)


def _day(moment: date) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


__all__ = ["UTC", "age", "format_datetime", "format_span", "parse_date", "parse_datetime", "parse_span", "span_seconds"]

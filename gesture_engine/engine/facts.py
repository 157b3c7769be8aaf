"""What a fact is: its declaration (type, bounds, values) and the limits every complaint value obeys.

Shared by the compiler, the index, lint and the complaint reader; reading values against these
declarations is :mod:`gesture_engine.complaint`'s job.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gesture_engine.money import Currencies

from gesture_engine.timevalues import DATE_EXAMPLE, DATETIME_EXAMPLE, DURATION_EXAMPLE

FactValue = bool | int | float | Decimal | str | timedelta | date | tuple[str, ...]
"""What a fact holds once read: level/enum/string -> str, money and number -> Decimal (exactly as given), duration ->
timedelta (whole seconds), date -> date, datetime -> datetime (with its timezone), list -> tuple of str."""

FACT_TYPES = ("level", "enum", "money", "integer", "number", "boolean", "string", "duration", "date", "datetime", "list")
TIME_TYPES = ("duration", "date", "datetime")
ENVELOPE = ("complaint_id", "customer_id", "received_at", "locale")
"""Complaint fields that are not facts: echoed into the decision (``received_at`` sets ``respond_by``)."""

INTEGER_LIMIT = 10**15
NUMBER_LIMIT = 1e15
STRING_LIMIT = 1000
ID_LIMIT = 200
LIST_LIMIT = 100
"""A list fact holds at most this many items, each a non-empty string of at most ``ITEM_LIMIT`` characters."""
ITEM_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Fact:
    """A declared input (or derived) fact with its type and bounds."""

    name: str
    type: str
    description: str = ""
    required: bool = False
    default: FactValue | None = None
    values: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    max_length: int = STRING_LIMIT
    derived: bool = False
    rank: Mapping[str, int] = field(default_factory=dict)
    currencies: Currencies | None = None
    """A money fact's policy currency and exchange rates: an amount sent in another currency is converted."""

    @property
    def ordered(self) -> bool:
        return self.type == "level"

    @property
    def finite(self) -> bool:
        """Level and enum facts take one of a fixed list of values."""
        return self.type in ("level", "enum")

    @property
    def numeric(self) -> bool:
        return self.type in ("money", "integer", "number")

    @property
    def linear(self) -> bool:
        """Values on a line (numbers, durations, dates, datetimes): cut into points and the intervals between."""
        return self.type in ("money", "integer", "number", "duration", "date", "datetime")

    @property
    def closed(self) -> bool:
        """A list fact whose items come from declared ``values``."""
        return self.type == "list" and bool(self.values)

    def expected(self) -> str:
        """What a valid value looks like, for error messages."""
        if self.finite:
            return "one of " + ", ".join(self.values)
        return {
            "money": "an amount of money ≥ 0 (number or decimal string)",
            "integer": "an integer",
            "number": "a finite number",
            "boolean": "true or false",
            "string": f"a string of at most {self.max_length} characters",
            "duration": DURATION_EXAMPLE,
            "date": DATE_EXAMPLE,
            "datetime": DATETIME_EXAMPLE,
            "list": (f"a list of distinct values from {', '.join(self.values)}" if self.values
                     else f"a list of at most {LIST_LIMIT} distinct non-empty strings"),
        }[self.type]


SUGGEST_LENGTH = 64
"""Words longer than this get no suggestion: no name is that long, and matching costs their length squared."""
SUGGEST_CANDIDATES = 1000
"""Choices tried for one suggestion, at most (those of a length that could match, in order)."""


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'high'?)`` when a close choice exists, else empty. Bounded work whatever comes:
    long words are not matched, and only choices of a length that could be close (difflib's cutoff of
    0.6 needs lengths within a factor of 7/3) are tried, at most ``SUGGEST_CANDIDATES`` of them."""
    if not isinstance(word, str) or not word or len(word) > SUGGEST_LENGTH:
        return ""
    size = len(word)
    candidates = [c for c in choices if isinstance(c, str) and 3 * len(c) >= size and len(c) <= 3 * size][:SUGGEST_CANDIDATES]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""

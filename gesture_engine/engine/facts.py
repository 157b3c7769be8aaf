"""What a fact is: its declaration (type, bounds, values) and the limits every complaint value obeys.

Shared by the compiler, the index, lint and the complaint reader; reading values against these
declarations is :mod:`gesture_engine.complaint`'s job.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FactValue = bool | int | float | Decimal | str
"""What a fact holds once read: level/enum/string -> str, money -> Decimal, number -> float."""

FACT_TYPES = ("level", "enum", "money", "integer", "number", "boolean", "string")
ENVELOPE = ("complaint_id", "customer_id", "received_at")
"""Complaint fields that are not facts: echoed into the decision (``received_at`` sets ``respond_by``)."""

INTEGER_LIMIT = 10**15
NUMBER_LIMIT = 1e15
STRING_LIMIT = 1000
ID_LIMIT = 200


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
        }[self.type]


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'high'?)`` when a close choice exists, else empty."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""

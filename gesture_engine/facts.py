"""Typed facts and the reading of complaints against them.

A complaint is checked field by field and every problem is collected before raising, so a helpdesk
integration learns everything wrong with a payload at once. Coercion is deliberately narrow:
money also accepts a decimal string (``"12.50"``), because money is often sent as text to keep its
precision; nothing else is coerced (``true`` is not an integer, ``"12"`` is not an integer).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .money import MONEY_LIMIT

FactValue = bool | int | float | Decimal | str
"""What a fact holds once read: level/enum/string -> str, money -> Decimal, number -> float."""

FACT_TYPES = ("level", "enum", "money", "integer", "number", "boolean", "string")
ENVELOPE = ("complaint_id", "customer_id", "received_at")
"""Complaint fields that are not facts: echoed into the decision (``received_at`` sets ``respond_by``)."""

INTEGER_LIMIT = 10**15
NUMBER_LIMIT = 1e15
STRING_LIMIT = 1000
ID_LIMIT = 200
_DECIMAL_TEXT = re.compile(r"^-?\d{1,40}(?:\.\d{1,40})?$")
"""Money may come as a plain decimal string; its range and places are then checked like a number's."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: str) -> bool:
    """False for lone surrogates (JSON ``"\\ud800"``): no UTF-8 output could carry them."""
    return value.isascii() or _SURROGATE.search(value) is None


@dataclass(frozen=True)
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

    def read(self, value: object) -> FactValue:
        """Return ``value`` in this fact's type, or raise ValueError saying what was expected."""
        return _READERS[self.type](self, value)


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 1000:
        return f"an integer of {value.bit_length() * 3 // 10}+ digits"  # str() would refuse it
    if isinstance(value, (int, float, Decimal)):
        text = str(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__}"


def did_you_mean(word: str, choices: Any) -> str:
    """`` (did you mean 'high'?)`` when a close choice exists, else empty."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read_choice(fact: Fact, value: object) -> FactValue:
    if isinstance(value, str) and value in fact.rank:
        return value
    hint = did_you_mean(value, fact.values) if isinstance(value, str) else ""
    raise ValueError(f"expected {fact.expected()}; got {_describe(value)}{hint}")


def _bounded(fact: Fact, number: Any, shown: object) -> None:
    if fact.minimum is not None and number < fact.minimum:
        raise ValueError(f"must be ≥ {fact.minimum}; got {_describe(shown)}")
    if fact.maximum is not None and number > fact.maximum:
        raise ValueError(f"must be ≤ {fact.maximum}; got {_describe(shown)}")


def _to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _DECIMAL_TEXT.match(value):
        return Decimal(value)
    return None


def _read_money(fact: Fact, value: object) -> FactValue:
    amount = _to_decimal(value)
    if amount is None:
        raise ValueError(f"expected {fact.expected()}; got {_describe(value)}")
    if amount < 0:
        raise ValueError(f"must be ≥ 0; got {_describe(value)}")
    if amount > MONEY_LIMIT:
        raise ValueError(f"must be ≤ {MONEY_LIMIT:f}; got {_describe(value)}")
    if amount.as_tuple().exponent < -10:  # type: ignore[operator]
        raise ValueError(f"has more than 10 decimal places; got {_describe(value)}")
    _bounded(fact, amount, value)
    return amount


def _read_integer(fact: Fact, value: object) -> FactValue:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected {fact.expected()}; got {_describe(value)}")
    if abs(value) > INTEGER_LIMIT:
        raise ValueError(f"must be between -{INTEGER_LIMIT} and {INTEGER_LIMIT}; got {_describe(value)}")
    _bounded(fact, value, value)
    return value


def _read_number(fact: Fact, value: object) -> FactValue:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"expected {fact.expected()}; got {_describe(value)}")
    try:
        number = float(value)
    except (OverflowError, InvalidOperation):
        number = math.inf
    if not math.isfinite(number) or abs(number) > NUMBER_LIMIT:
        raise ValueError(f"expected a finite number of magnitude ≤ 1e15; got {_describe(value)}")
    _bounded(fact, number, value)
    return number


def _read_boolean(fact: Fact, value: object) -> FactValue:
    if not isinstance(value, bool):
        raise ValueError(f"expected {fact.expected()}; got {_describe(value)}")
    return value


def _read_string(fact: Fact, value: object) -> FactValue:
    if not isinstance(value, str) or len(value) > fact.max_length or not _is_text(value):
        raise ValueError(f"expected {fact.expected()}; got {_describe(value)}")
    return value


_READERS: dict[str, Callable[[Fact, object], FactValue]] = {
    "level": _read_choice,
    "enum": _read_choice,
    "money": _read_money,
    "integer": _read_integer,
    "number": _read_number,
    "boolean": _read_boolean,
    "string": _read_string,
}


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def parse_fact_text(fact: Fact, text: str) -> object:
    """A fact value typed on a command line, converted to what the JSON would have held.

    Only the syntax is converted here (``"120000"`` -> 120000 for an integer fact); the value is
    then checked like any other complaint field, so errors read the same everywhere.
    """
    if fact.type == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if fact.type == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if fact.type == "boolean":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else text
    return text

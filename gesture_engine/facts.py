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
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from .errors import ComplaintError, FieldProblem
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


class Envelope(NamedTuple):
    """The non-fact parts of a complaint, echoed into the decision."""

    complaint_id: str | None = None
    customer_id: str | None = None
    received_at: datetime | None = None


def _read_id(name: str, value: object, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**ID_LIMIT:
        return str(value)
    if not isinstance(value, str) or len(value) > ID_LIMIT or not _is_text(value):
        problems.append(FieldProblem(name, f"expected a string or integer id of at most {ID_LIMIT} characters; got {_describe(value)}", value))
        return None
    return str(value)


def _read_time(value: object, problems: list[FieldProblem]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return moment
    problems.append(
        FieldProblem("received_at", f"expected an ISO 8601 time with a timezone, e.g. 2026-11-23T09:30:00Z; got {_describe(value)}", value)
    )
    return None


class ComplaintReader:
    """Reads complaints for one set of facts; built once per policy because it runs on every decision.

    The happy path checks each declared fact once and returns; any doubt (a bad value, an unknown
    field, an explicit null) falls through to :meth:`diagnose`, which collects every problem.
    """

    def __init__(self, facts: Mapping[str, Fact], derived: Mapping[str, Fact]) -> None:
        self.facts = facts
        self.derived = derived
        self.names = frozenset(facts)
        # (name, the values of a level/enum fact or None, a reader for other types, default)
        self.plan = tuple(
            (name, fact.rank if fact.finite else None, _fast_reader(fact), _REQUIRED if fact.required else fact.default)
            for name, fact in facts.items()
        )

    def __call__(self, complaint: object) -> tuple[dict[str, FactValue], Envelope]:
        if complaint.__class__ is not dict and not isinstance(complaint, Mapping):
            return self.diagnose(complaint)
        values: dict[str, FactValue] = {}
        present = 0
        get = complaint.get
        for name, choices, read, default in self.plan:
            raw = get(name)
            if raw is None:
                if default is _REQUIRED:
                    return self.diagnose(complaint)
                values[name] = default  # type: ignore[assignment]
                continue
            present += 1
            if choices is not None:  # level/enum, checked inline: the most common facts
                if raw.__class__ is str and raw in choices:
                    values[name] = raw
                    continue
                return self.diagnose(complaint)
            value = read(raw)
            if value is _BAD:
                return self.diagnose(complaint)
            values[name] = value
        if len(complaint) == present:
            return values, NO_ENVELOPE
        complaint_id, customer_id, received_at = get("complaint_id"), get("customer_id"), get("received_at")
        sent = (complaint_id is not None) + (customer_id is not None) + (received_at is not None)
        if len(complaint) != present + sent:  # an unknown field, or an explicit null
            return self.diagnose(complaint)
        if received_at is None and _plain_id(complaint_id) and _plain_id(customer_id):
            return values, Envelope(complaint_id, customer_id)
        problems: list[FieldProblem] = []
        envelope = _read_envelope(complaint, problems)
        if problems:
            raise ComplaintError(problems)
        return values, envelope

    def diagnose(self, complaint: object) -> tuple[dict[str, FactValue], Envelope]:
        """The careful path: every problem with the complaint, raised together."""
        if not isinstance(complaint, Mapping):
            raise ComplaintError([FieldProblem("(complaint)", f"expected an object of facts; got {_describe(complaint)}", None)])
        problems: list[FieldProblem] = []
        values: dict[str, FactValue] = {}
        for name, fact in self.facts.items():
            raw = complaint.get(name)
            if raw is None:
                if fact.required:
                    problems.append(FieldProblem(name, f"is required: {fact.expected()}", None))
                else:
                    values[name] = fact.default  # type: ignore[assignment]
                continue
            try:
                values[name] = fact.read(raw)
            except ValueError as exc:
                problems.append(FieldProblem(name, str(exc), raw))
        for name in complaint:
            if name in self.facts or name in ENVELOPE:
                continue
            if not isinstance(name, str) or not _is_text(name):
                problems.append(FieldProblem(repr(name), "field names must be strings of valid Unicode", None))
            elif name in self.derived:
                problems.append(FieldProblem(name, "is derived by the policy from other facts; do not send it", complaint[name]))
            else:
                hint = did_you_mean(name, [*self.facts, *ENVELOPE])
                problems.append(FieldProblem(name, f"is not a fact of this policy{hint}", complaint[name]))
        envelope = _read_envelope(complaint, problems)
        if problems:
            raise ComplaintError(problems)
        return values, envelope


def _read_envelope(complaint: Mapping[str, Any], problems: list[FieldProblem]) -> Envelope:
    return Envelope(
        _read_id("complaint_id", complaint.get("complaint_id"), problems),
        _read_id("customer_id", complaint.get("customer_id"), problems),
        _read_time(complaint.get("received_at"), problems),
    )


NO_ENVELOPE = Envelope()


def _plain_id(value: object) -> bool:
    """An id that needs no checking beyond this: absent, or a short string."""
    return value is None or (value.__class__ is str and len(value) <= ID_LIMIT and value.isprintable())
_REQUIRED: Any = object()
_BAD: Any = object()


def _fast_reader(fact: Fact) -> Callable[[object], Any]:
    """A check for the happy path: the value in the fact's type, or ``_BAD`` to ask :meth:`diagnose`."""
    if fact.finite:
        rank = fact.rank
        return lambda value: value if value.__class__ is str and value in rank else _BAD
    if fact.type == "integer":
        low = -INTEGER_LIMIT if fact.minimum is None else fact.minimum
        high = INTEGER_LIMIT if fact.maximum is None else fact.maximum
        return lambda value: value if value.__class__ is int and low <= value <= high else _BAD
    reader = _READERS[fact.type]
    if fact.type == "money":
        low = fact.minimum if fact.minimum is not None else Decimal(0)
        high = MONEY_LIMIT if fact.maximum is None else min(Decimal(fact.maximum), MONEY_LIMIT)

        def money(value: object) -> Any:
            if value.__class__ is Decimal:  # JSON parsed with parse_float=Decimal: the common case
                ok = value.is_finite() and low <= value <= high and value.as_tuple().exponent >= -10  # type: ignore[operator]
                return value if ok else _BAD
            try:
                return reader(fact, value)
            except ValueError:
                return _BAD

        return money

    def read(value: object) -> Any:
        try:
            return reader(fact, value)
        except ValueError:
            return _BAD

    return read


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

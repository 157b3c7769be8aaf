"""Reading a complaint: every field checked, and every fact looked up in the policy's index as it is read.

Complaints from one integration nearly always carry the same fields, so the reader plans once per
*shape* (the complaint's keys, in order): which facts are present, which take their defaults, which
fields are unknown. A shape's plan then reads a complaint with a few C-level calls: ``itemgetter``
for the values, one dict copy for the defaults, one dict hit for every level and enum value at once
(the combination is checked and looked up the first time it is seen), and one fused check-and-lookup
per numeric fact. Anything unusual (a bad value, an unknown field, an explicit null) goes to
:meth:`ComplaintReader.diagnose`, which collects every problem and raises them together, so a
helpdesk integration learns everything wrong with a payload at once.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ComplaintError, FieldProblem
from .facts import _READERS, ENVELOPE, ID_LIMIT, INTEGER_LIMIT, Fact, FactValue, _describe, _is_text, did_you_mean
from .money import MONEY_LIMIT

if TYPE_CHECKING:
    from .index import PolicyIndex

Values = dict[str, FactValue]


class Envelope(NamedTuple):
    """The non-fact parts of a complaint, echoed into the decision."""

    complaint_id: str | None = None
    customer_id: str | None = None
    received_at: datetime | None = None


NO_ENVELOPE = Envelope()
_BAD: Any = object()
"""What a fast reader returns for a value it will not vouch for; the careful path then says why."""
_PLACE = Decimal("1e-10")
"""The smallest step of money in a complaint (10 decimal places)."""
SHAPES = 256
"""Shapes (key sets) remembered per policy; more are planned again, so memory stays bounded."""
COMBINATIONS = 4096
"""Level/enum value combinations remembered per shape, likewise bounded."""


class _Shape:
    """How to read complaints with one particular sequence of keys."""

    __slots__ = ("base", "combinations", "defaults", "envelope", "finite", "finite_tables", "numeric", "template")

    def __init__(self, reader: ComplaintReader, keys: tuple[Any, ...]) -> None:
        facts, index = reader.facts, reader.index
        sent = [key for key in keys if key in facts]
        # every fact in declared order, absent ones holding their defaults: sent values are copied over it
        self.template: Values = {name: (None if name in keys else fact.default) for name, fact in facts.items()}  # type: ignore[misc]
        self.envelope = tuple(key for key in keys if key in ENVELOPE)
        # when the keys come in declared order, followed by nothing but absent facts: the defaults to add to a copy
        absent = [name for name in facts if name not in keys]
        in_order = not self.envelope and [*keys, *absent] == list(facts)
        self.defaults = {name: facts[name].default for name in absent} if in_order else None
        base = index.everything
        for name, fact in facts.items():
            if name not in keys:
                base &= index.bits_of(name, fact.default)
        self.base = base
        finite = [name for name in sent if facts[name].finite]
        self.finite = tuple_getter(finite)
        self.finite_tables = tuple(index.finite_table(name) for name in finite)
        self.combinations: dict[tuple[Any, ...], int] = {}
        self.numeric = tuple(
            (name, _fused_reader(facts[name], index), _fast_reader(facts[name]), index.bits_reader(name))
            for name in sent if not facts[name].finite
        )

    def finite_bits(self, raws: tuple[Any, ...]) -> int | None:
        """The bits of a first-seen combination of level/enum values, or None if one is not valid."""
        mask = self.base
        for raw, table in zip(raws, self.finite_tables, strict=True):
            bits = table.get(raw) if raw.__class__ is str else None
            if bits is None:
                return None
            mask &= bits
        if len(self.combinations) >= COMBINATIONS:
            self.combinations.clear()
        self.combinations[raws] = mask
        return mask


def tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``itemgetter`` that always returns a tuple, even for one name or none."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda complaint: (complaint[name],)
    return lambda complaint: ()


class ComplaintReader:
    """Reads complaints for one policy's input facts; built once per policy (it runs on every decision)."""

    def __init__(self, facts: Mapping[str, Fact], derived: Mapping[str, Fact], index: PolicyIndex) -> None:
        self.facts = facts
        self.derived = derived
        self.index = index
        self.required = frozenset(name for name, fact in facts.items() if fact.required)
        self.known = frozenset((*facts, *ENVELOPE))
        self.shapes: dict[tuple[Any, ...], _Shape | None] = {}

    def __call__(self, complaint: object) -> tuple[Values, Envelope, int]:
        """The complaint's facts, its envelope, and the index bits its input facts let through."""
        if complaint.__class__ is not dict and not isinstance(complaint, Mapping):
            return self.diagnose(complaint)
        keys = tuple(complaint)
        shape = self.shapes.get(keys, _BAD)
        if shape is _BAD:
            shape = self._plan(keys)
        if shape is None:
            return self.diagnose(complaint)
        try:
            finite = shape.finite(complaint)
            mask = shape.combinations.get(finite)
        except (KeyError, TypeError):  # a mapping whose keys and items disagree, or an unhashable value
            return self.diagnose(complaint)
        if mask is None:
            mask = shape.finite_bits(finite)
            if mask is None:
                return self.diagnose(complaint)
        if shape.defaults is None:  # keys in an order that is not the declared one: copy them over a template
            values = shape.template.copy()
            values.update(complaint)
        else:  # the declared order already (the cheapest dict to make is a copy)
            values = complaint.copy() if complaint.__class__ is dict else dict(complaint)
            if shape.defaults:
                values.update(shape.defaults)
        for name, fused, read, bits_of in shape.numeric:
            raw = values[name]
            bits = fused(raw)
            if bits is None:  # not a value the fused check vouches for as it is: read it, maybe converting it
                value = read(raw)
                if value is _BAD:
                    return self.diagnose(complaint)
                values[name] = value
                bits = bits_of(value)
            mask &= bits
        if not shape.envelope:
            return values, NO_ENVELOPE, mask
        for key in shape.envelope:
            del values[key]
        get = complaint.get
        complaint_id, customer_id, received_at = get("complaint_id"), get("customer_id"), get("received_at")
        if received_at is None and _plain_id(complaint_id) and _plain_id(customer_id):
            return values, Envelope(complaint_id, customer_id), mask
        problems: list[FieldProblem] = []
        envelope = _read_envelope(complaint, problems)
        if problems:
            raise ComplaintError(problems)
        return values, envelope, mask

    def _plan(self, keys: tuple[Any, ...]) -> _Shape | None:
        """The plan for complaints with these keys; None sends them all to :meth:`diagnose`."""
        names = frozenset(keys)
        fine = len(names) == len(keys) and names <= self.known and self.required <= names
        shape = _Shape(self, keys) if fine else None
        if len(self.shapes) >= SHAPES:
            self.shapes.clear()
        self.shapes[keys] = shape
        return shape

    def diagnose(self, complaint: object) -> tuple[Values, Envelope, int]:
        """The careful path: every problem with the complaint, raised together."""
        if not isinstance(complaint, Mapping):
            raise ComplaintError([FieldProblem("(complaint)", f"expected an object of facts; got {_describe(complaint)}", None)])
        problems: list[FieldProblem] = []
        values: Values = {}
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
        return values, envelope, self.index.mask_of(values, self.facts)


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


def _read_envelope(complaint: Mapping[str, Any], problems: list[FieldProblem]) -> Envelope:
    return Envelope(
        _read_id("complaint_id", complaint.get("complaint_id"), problems),
        _read_id("customer_id", complaint.get("customer_id"), problems),
        _read_time(complaint.get("received_at"), problems),
    )


def _plain_id(value: object) -> bool:
    """An id that needs no checking beyond this: absent, or a short string."""
    return value is None or (value.__class__ is str and len(value) <= ID_LIMIT and value.isprintable())


def _integer_bounds(fact: Fact) -> tuple[int, int]:
    """The least and greatest integer an integer fact accepts."""
    low = -INTEGER_LIMIT if fact.minimum is None else math.ceil(fact.minimum)
    high = INTEGER_LIMIT if fact.maximum is None else math.floor(fact.maximum)
    return low, high


def _money_bounds(fact: Fact) -> tuple[Decimal, Decimal]:
    """The least and greatest amount a money fact accepts."""
    low = fact.minimum if fact.minimum is not None else Decimal(0)
    high = MONEY_LIMIT if fact.maximum is None else min(Decimal(fact.maximum), MONEY_LIMIT)
    return low, high


def _fast_reader(fact: Fact) -> Callable[[object], Any]:
    """The value in the fact's type (converted if need be), or ``_BAD`` to ask :meth:`diagnose`."""
    if fact.finite:
        rank = fact.rank
        return lambda value: value if value.__class__ is str and value in rank else _BAD
    if fact.type == "integer":
        low, high = _integer_bounds(fact)
        return lambda value: value if value.__class__ is int and low <= value <= high else _BAD
    reader = _READERS[fact.type]

    def read(value: object) -> Any:
        try:
            return reader(fact, value)
        except ValueError:
            return _BAD

    return read


def _fused_reader(fact: Fact, index: PolicyIndex) -> Callable[[Any], int | None]:
    """Check a value and look it up in one call: its index bits when the value is valid *as sent* (an
    int for an integer fact, a Decimal for money, ...), else None (convert it, or reject it)."""
    if fact.type == "integer":
        low, high = _integer_bounds(fact)
        points, table, direct = index.locator(fact.name, low, high + 1)
        count = len(points)
        if direct:
            return lambda value: table[bisect_right(points, value)] if value.__class__ is int else None

        def integer(value: Any) -> int | None:
            if value.__class__ is int:
                i = bisect_left(points, value)
                return table[2 * i + 1 if i < count and points[i] == value else 2 * i]
            return None

        return integer
    if fact.type == "money":
        least, most = _money_bounds(fact)
        # amounts have at most 10 places, so "<= most" is "< the next amount of 10 places after most"
        points, table, direct = index.locator(fact.name, least, most.quantize(_PLACE, ROUND_FLOOR) + _PLACE)
        count = len(points)

        def money(value: Any) -> int | None:  # JSON parsed with parse_float=Decimal: the common case
            if value.__class__ is Decimal and value.is_finite():
                # at most 10 places: read off the plain text (as_tuple() costs 3x more), else from the exponent
                text = str(value)
                if ("E" not in text and ("." in text[-11:] or "." not in text)) or value.as_tuple().exponent >= -10:  # type: ignore[operator]
                    if direct:
                        return table[bisect_right(points, value)]
                    i = bisect_left(points, value)
                    return table[2 * i + 1 if i < count and points[i] == value else 2 * i]
            return None

        return money
    read, bits_of = _fast_reader(fact), index.bits_reader(fact.name)

    def other(value: Any) -> int | None:
        return bits_of(value) if read(value) is value else None

    return other

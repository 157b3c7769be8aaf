"""Reading a complaint, start to finish: JSON text -> mapping -> checked facts, envelope and index bits.

Everything a complaint goes through before the rules see it lives here, in pipeline order:

1. :func:`parse_complaint_json`: JSON text or bytes to a mapping, with exact decimals. JSON that parsers
   disagree about is refused rather than guessed at: a key given twice in one object (most parsers
   silently keep the last), NaN/Infinity, integers of more than 400 digits, nesting deeper than the
   parser can follow.
2. :func:`read_value`: one value checked against its fact's declaration (:class:`~.facts.Fact`).
   Coercion is deliberately narrow: money also accepts a decimal string (``"12.50"``), because money is
   often sent as text to keep its precision; nothing else is coerced (``true`` is not an integer,
   ``"12"`` is not an integer).
3. :class:`ComplaintReader`: the whole complaint, every fact looked up in the policy's index as it is
   checked, so the rules start from the bits the facts let through. Every problem is collected before
   raising, so a helpdesk integration learns everything wrong with a payload at once.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from itertools import product
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from gesture_engine.decision import FrozenFacts
from gesture_engine.engine.facts import (
    ENVELOPE,
    ID_LIMIT,
    INTEGER_LIMIT,
    ITEM_LIMIT,
    LIST_LIMIT,
    NUMBER_LIMIT,
    TIME_TYPES,
    Fact,
    FactValue,
    did_you_mean,
)
from gesture_engine.errors import MAX_PROBLEMS, ComplaintError, FieldProblem
from gesture_engine.money import MONEY_LIMIT
from gesture_engine.timevalues import DURATION_LIMIT, format_span, parse_date, parse_datetime, span_seconds

if TYPE_CHECKING:
    from gesture_engine.engine.index import PolicyIndex

Values = dict[str, FactValue]

# -- 1. JSON -> mapping ----------------------------------------------------------------------------

MAX_INTEGER_DIGITS = 400
_BOM = "\ufeff".encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is too large")
    return int(text)


class _RepeatedKeys(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__("repeated keys")
        self.keys = keys


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members as a dict, refusing a key given twice (most parsers keep the last silently)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        raise _RepeatedKeys([key for key, _ in pairs if key in seen or seen.add(key)])  # type: ignore[func-returns-value]
    return result


# Built once: ``json.loads`` with options builds a new decoder on every call, which costs more than decoding.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_integer, parse_constant=_refuse_constant, object_pairs_hook=_unique)
_FLAT = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
"""The same without a Python call per integer and per object, for flat complaints (see parse_complaint_json)."""


def parse_complaint_json(data: bytes | str, source: str = "<complaint>") -> Any:
    """Parse one JSON complaint. Floats become ``Decimal`` so money keeps every digit.

    Most complaints are short flat objects: they are parsed first without the careful decoder's Python
    hooks, and that answer is kept only when the hooks could not have changed it. Short: no integer in
    the text can have more than MAX_INTEGER_DIGITS digits (nor nest deeply). No repeated key and no
    nested object: without a backslash every ``"`` in the text opens or closes a string, so the text
    has two for each key, string value and string in a list; exactly as many as the top-level dict's
    keys and strings make means no member was lost to a repeat and no value holds an object's key.
    ``raw_decode`` from the first character, with nothing after the object, skips ``decode``'s two
    whitespace scans; anything else, and anything the quick parse refuses, goes the careful way, which
    says what is wrong.
    """
    if isinstance(data, bytes):
        try:
            data = (data[3:] if data.startswith(_BOM) else data).decode()  # a leading byte-order mark is harmless
        except UnicodeDecodeError as exc:
            raise ComplaintError([FieldProblem(source, f"is not valid UTF-8 (byte {exc.start})", None, "not_utf8")]) from None
    if len(data) <= MAX_INTEGER_DIGITS:
        try:
            flat, end = _FLAT.raw_decode(data)
        except (ValueError, RecursionError):  # JSONDecodeError and a refused NaN included: the careful parse says which
            flat = end = None
        if end == len(data) and flat.__class__ is dict and "\\" not in data and data.count('"') == 2 * (len(flat) + _strings(flat)):
            return flat
    try:
        return _DECODER.decode(data)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise ComplaintError([FieldProblem(where, f"invalid JSON: {exc.msg}", None, "invalid_json")]) from None
    except RecursionError:
        raise ComplaintError([FieldProblem(source, "invalid JSON: nested too deeply", None, "invalid_json")]) from None
    except _RepeatedKeys as exc:
        raise ComplaintError([FieldProblem(describe_key(key), "appears more than once in one JSON object; send it once", None, "repeated_key")
                              for key in exc.keys[:MAX_PROBLEMS]], max(0, len(exc.keys) - MAX_PROBLEMS)) from None
    except ValueError as exc:
        raise ComplaintError([FieldProblem(source, f"invalid JSON: {exc}", None, "invalid_json")]) from None


def _strings(flat: dict[str, Any]) -> int:
    """How many strings a parsed object's values are or hold as list items (a list fact's)."""
    kinds = list(map(type, flat.values()))
    count = kinds.count(str)
    if list in kinds:
        count += sum(list(map(type, value)).count(str) for value in flat.values() if value.__class__ is list)
    return count


# -- 2. one value against its fact ------------------------------------------------------------------

_NUMBER_TEXT = re.compile(r"-?[0-9]{1,40}(?:\.[0-9]{1,40})?")
"""The one grammar of a number written as text (docs/policy-format.md), matched against the whole
text: ASCII digits, an optional leading '-', an optional '.' and fraction. Nothing else: no space or
newline, no '_', '+' or exponent, no other script's digits (Python's ``int``, ``float`` and
``Decimal`` accept all of those). Money strings in a complaint, and integers, numbers and money on a
command line or in CSV, are read by it; a '-' is then refused by the range check wherever negatives
are not allowed (money), with the same message as a negative JSON number."""
_INTEGER_TEXT = re.compile(r"-?[0-9]{1,40}")
"""The same grammar without a fraction: an integer fact's text."""
_SURROGATE = re.compile("[\ud800-\udfff]")


class ValueRefused(ValueError):
    """A value its fact does not accept; ``code`` is the stable code its FieldProblem carries."""

    def __init__(self, message: str, code: str = "wrong_type") -> None:
        super().__init__(message)
        self.code = code


def is_text(value: str) -> bool:
    """False for lone surrogates (JSON ``"\\ud800"``): no UTF-8 output could carry them."""
    return value.isascii() or _SURROGATE.search(value) is None


def describe(value: object) -> str:
    """A value as an error message shows it: short, and never failing."""
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


def _wrong(fact: Fact, value: object) -> ValueRefused:
    return ValueRefused(f"expected {fact.expected()}; got {describe(value)}")


def _read_choice(fact: Fact, value: object) -> FactValue:
    if isinstance(value, str) and value in fact.rank:
        return value
    hint = did_you_mean(value, fact.values) if isinstance(value, str) else ""
    raise ValueRefused(f"expected {fact.expected()}; got {describe(value)}{hint}")


def _bounded(fact: Fact, number: Any, shown: object) -> None:
    if fact.minimum is not None and number < fact.minimum:
        raise ValueRefused(f"must be ≥ {fact.minimum}; got {describe(shown)}", "out_of_range")
    if fact.maximum is not None and number > fact.maximum:
        raise ValueRefused(f"must be ≤ {fact.maximum}; got {describe(shown)}", "out_of_range")


def _to_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        return Decimal(value)
    return None


def _read_money(fact: Fact, value: object) -> FactValue:
    if isinstance(value, Mapping):
        return _read_money_in(fact, value)
    amount = _to_decimal(value)
    if amount is None:
        raise _wrong(fact, value)
    if amount < 0:
        raise ValueRefused(f"must be ≥ 0; got {describe(value)}", "out_of_range")
    if amount > MONEY_LIMIT:
        raise ValueRefused(f"must be ≤ {MONEY_LIMIT:f}; got {describe(value)}", "out_of_range")
    if amount.as_tuple().exponent < -10:  # type: ignore[operator]
        raise ValueRefused(f"has more than 10 decimal places; got {describe(value)}", "too_precise")
    _bounded(fact, amount, value)
    return amount.copy_abs() if amount.is_signed() else amount  # only -0 gets here: it reads (and prints) as 0


def _read_money_in(fact: Fact, value: Mapping[Any, Any]) -> FactValue:
    """Money with its currency, ``{"amount": "3200.50", "currency": "EUR"}``: in the policy's currency as
    it is, in another converted at the policy's rate (remembering what was given), else refused."""
    if set(value) != {"amount", "currency"} or not isinstance(value["currency"], str) or fact.currencies is None:
        raise ValueRefused(f'expected an amount, or {{"amount": ..., "currency": "USD"}}; got {describe(value)}')
    amount = _read_money(fact, value["amount"]) if not isinstance(value["amount"], Mapping) else None
    currencies, currency = fact.currencies, value["currency"]
    if amount is None:
        raise _wrong(fact, value)
    converted = currencies.convert(amount, currency)  # type: ignore[arg-type]  # money: a Decimal
    if converted is None:
        rates = f"rates for {', '.join(currencies.rates)}" if currencies.rates else "no exchange rates"
        raise ValueRefused(f"is in {describe(currency)}; this policy decides in {currencies.currency} and has {rates}", "currency")
    if converted is not amount:
        _bounded(fact, converted, value)
        if converted > MONEY_LIMIT:
            raise ValueRefused(f"must be ≤ {MONEY_LIMIT:f}; got {describe(value)}", "out_of_range")
    return converted


def _read_integer(fact: Fact, value: object) -> FactValue:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(fact, value)
    if abs(value) > INTEGER_LIMIT:
        raise ValueRefused(f"must be between -{INTEGER_LIMIT} and {INTEGER_LIMIT}; got {describe(value)}", "out_of_range")
    _bounded(fact, value, value)
    return value


def _read_number(fact: Fact, value: object) -> FactValue:
    """A number held exactly as given, as a ``Decimal`` (``2.9999999`` stays 2.9999999, never 3): a JSON
    number parsed as Decimal, an int, or a float (by its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise _wrong(fact, value)
    if isinstance(value, float):
        number = Decimal(repr(value)) if math.isfinite(value) else None
    else:
        number = Decimal(value) if isinstance(value, int) else value
    if number is None or not number.is_finite() or abs(number) > NUMBER_LIMIT:
        raise ValueRefused(f"expected a finite number of magnitude ≤ 1e15; got {describe(value)}", "out_of_range")
    _bounded(fact, number, value)
    return number.copy_abs() if number.is_zero() else number  # negative zero reads (and prints) as 0


def _read_boolean(fact: Fact, value: object) -> FactValue:
    if not isinstance(value, bool):
        raise _wrong(fact, value)
    return value


def _read_string(fact: Fact, value: object) -> FactValue:
    if not isinstance(value, str) or len(value) > fact.max_length or not is_text(value):
        raise _wrong(fact, value)
    return value


def _read_duration(fact: Fact, value: object) -> FactValue:
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, str) and (seconds := span_seconds(value)) is not None:
        span = timedelta(seconds=min(seconds, 10**12))
    else:
        raise _wrong(fact, value)
    if span < timedelta(0) or span > DURATION_LIMIT or span.microseconds:
        raise ValueRefused(f"must be whole seconds from 0m to {format_span(DURATION_LIMIT)}; got {describe(value)}", "out_of_range")
    return span


def _read_date(fact: Fact, value: object) -> FactValue:
    if value.__class__ is date:
        return value
    found = parse_date(value) if isinstance(value, str) else None
    if found is None:
        if isinstance(value, datetime) or (isinstance(value, str) and parse_datetime(value) is not None):
            raise ValueRefused(f"expected a date without a time, like 2026-11-23; got {describe(value)}")
        raise _wrong(fact, value)
    return found


def _read_datetime(fact: Fact, value: object) -> FactValue:
    found = value if isinstance(value, datetime) else parse_datetime(value) if isinstance(value, str) else None
    if found is None or found.utcoffset() is None:
        if isinstance(value, datetime) or (isinstance(value, str) and parse_datetime(value + "Z") is not None):
            raise ValueRefused(f"needs a timezone (Z or an offset like +01:00); got {describe(value)}", "no_timezone")
        raise _wrong(fact, value)
    return found


def _read_list(fact: Fact, value: object) -> FactValue:
    if not isinstance(value, (list, tuple)):
        raise _wrong(fact, value)
    if len(value) > LIST_LIMIT:
        raise ValueRefused(f"has {len(value)} items; at most {LIST_LIMIT} are allowed", "out_of_range")
    rank = fact.rank
    for item in value:
        if not isinstance(item, str) or not item or len(item) > ITEM_LIMIT or not is_text(item):
            raise ValueRefused(f"items must be non-empty strings of at most {ITEM_LIMIT} characters; got {describe(item)}")
        if rank and item not in rank:
            raise ValueRefused(f"{describe(item)} is not one of {', '.join(fact.values)}{did_you_mean(item, fact.values)}")
    items = set(value)
    if len(items) != len(value):
        repeated = sorted({item for item in value if value.count(item) > 1})
        raise ValueRefused(f"lists {', '.join(map(describe, repeated))} more than once; send each value once", "repeated_item")
    return tuple(sorted(items, key=rank.__getitem__) if rank else sorted(items))


_READERS: dict[str, Callable[[Fact, object], FactValue]] = {
    "level": _read_choice,
    "enum": _read_choice,
    "money": _read_money,
    "integer": _read_integer,
    "number": _read_number,
    "boolean": _read_boolean,
    "string": _read_string,
    "duration": _read_duration,
    "date": _read_date,
    "datetime": _read_datetime,
    "list": _read_list,
}


def read_value(fact: Fact, value: object) -> FactValue:
    """``value`` in ``fact``'s type, or raise :class:`ValueRefused` (a ValueError) saying what was expected."""
    return _READERS[fact.type](fact, value)


_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0")


def parse_fact_text(fact: Fact, text: str) -> object:
    """A fact value typed on a command line, converted to what the JSON would have held.

    Only the syntax is converted here (``"120000"`` -> 120000 for an integer fact), by the one grammar
    of numbers in text (``_NUMBER_TEXT``); the value is then checked like any other complaint field,
    so errors read the same everywhere, and text outside the grammar is refused as the text it is.
    Money stays text: the complaint reader reads money strings by the same grammar.
    """
    if fact.type == "integer":
        return int(text) if _INTEGER_TEXT.fullmatch(text) else text
    if fact.type == "number":
        return Decimal(text) if _NUMBER_TEXT.fullmatch(text) else text
    if fact.type == "boolean":
        lowered = text.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else text
    if fact.type == "money":
        amount, _, currency = text.partition(" ")
        if len(currency) == 3 and currency.isascii() and currency.isupper():  # "3200.50 EUR"
            return {"amount": amount, "currency": currency}
    if fact.type == "list":  # vip,press; an empty text is the empty list
        return [item.strip() for item in text.split(",")] if text.strip() else []
    return text


# -- 3. the whole complaint, looked up in the index as it is checked ---------------------------------

class Envelope(NamedTuple):
    """The non-fact parts of a complaint, echoed into the decision."""

    complaint_id: str | None = None
    customer_id: str | None = None
    received_at: datetime | None = None
    locale: str | None = None


NO_ENVELOPE = Envelope()
RECEIVED = "received_at"
SHAPE_CACHE_SIZE = 256
"""Plans (one per sequence of complaint keys) kept per policy, least recently used dropped; 0 plans
every complaint afresh but those sending every fact in declared order, whose plan is made at load.
Read when a policy is built."""
_BAD: Any = object()
"""What a fast reader returns for a value it will not vouch for; the careful path then says why."""
_PLACE = Decimal("1e-10")
"""The smallest step of money in a complaint (10 decimal places)."""
_CENT = Decimal("0.01")
"""The exponent of most amounts sent: an amount with it needs no other check of its places."""
_update, _set, _delete = dict.update, dict.__setitem__, dict.__delitem__
"""How the reader fills in the ``FrozenFacts`` it hands to the decision (which refuses them)."""


def tuple_getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``itemgetter`` that always returns a tuple, even for one name or none."""
    if len(names) > 1:
        return itemgetter(*names)
    if names:
        name = names[0]
        return lambda complaint: (complaint[name],)
    return lambda complaint: ()


Lookup = tuple[Callable[[Mapping[str, Any]], Any], Mapping[Any, int]]
"""The values of some level and enum facts of a complaint, and their bits by those values."""


Located = tuple[str, list[Any], Any]
"""An integer or money fact read in line: its name, thresholds and bits per cell (``ComplaintReader.located``)."""
Numeric = tuple[str, Callable[[Any], int | None], Callable[[object], Any], Callable[[Any], int]]
"""Any other fact: its name, fused check-and-lookup, reader and lookup."""
_Shape = tuple[int, tuple[Lookup, ...], tuple[Located, ...], tuple[Located, ...], dict[str, Any] | None, Values,
               tuple[Numeric, ...], tuple[str, ...]]
"""How to read complaints with one particular sequence of keys, made by :func:`_shape`. A plain tuple:
reading a complaint unpacks it in one step (a named tuple, a tuple subclass, unpacks by iterating)."""


def _shape(reader: ComplaintReader, keys: tuple[Any, ...]) -> _Shape:
    """The plan for complaints with ``keys``: ``base``, the bits of every fact not sent (its default's,
    ANDed once); ``finite``, level and enum facts in groups (the group's values by ``itemgetter``, and
    their bits by those values); ``integers`` and ``amounts``, checked and looked up in line by one
    bisect; ``defaults``, when the keys come in declared order followed by nothing but absent facts,
    the defaults to add to a copy of the complaint (else None, and the complaint is copied over
    ``template``); ``numeric``, any other fact; ``envelope``, the envelope fields sent."""
    facts = reader.facts
    sent = {key for key in keys if key in facts}
    # every fact in declared order, absent ones holding their defaults: sent values are copied over it
    template: Values = {name: (None if name in sent else fact.default) for name, fact in facts.items()}  # type: ignore[misc]
    envelope = tuple(key for key in keys if key in ENVELOPE)
    absent = [name for name in facts if name not in sent]
    in_order = not envelope and [*keys, *absent] == list(facts)
    defaults: dict[str, Any] | None = {name: facts[name].default for name in absent} if in_order else None
    if reader.received:  # the policy measures from received_at: a fact-like value, None until the envelope gives it
        template[RECEIVED] = None  # type: ignore[assignment]
        if defaults is not None:
            defaults[RECEIVED] = None
    base = reader.index.everything
    for name in absent:
        base &= reader.default_bits[name]
    finite: list[Lookup] = []
    for names, group in reader.groups:  # a whole group sent: one hit in its joint table; else a hit per fact
        if sent.issuperset(names):
            finite.append(group)
        else:
            finite.extend((itemgetter(name), reader.finite_tables[name]) for name in names if name in sent)
    numeric = [name for name in facts if name in sent and not facts[name].finite]
    located = reader.located
    return (base, tuple(finite),
            tuple(located[name] for name in numeric if name in located and facts[name].type == "integer"),
            tuple(located[name] for name in numeric if name in located and facts[name].type == "money"),
            defaults, template, tuple(reader.readers[name] for name in numeric if name not in located), envelope)


JOINT_CELLS = 1024
"""Level and enum facts are looked up in groups whose combinations of values number at most this: one
dict hit for a group's values, their bits ANDed once, when the policy is loaded."""


def _finite_groups(tables: Mapping[str, Mapping[str, int]]) -> list[tuple[tuple[str, ...], Lookup]]:
    """The level and enum facts (``tables``: each one's bits by value, in declared order) in groups of
    neighbours, each with its ``itemgetter`` and its table: by value for one fact, by tuple of values
    (every combination, the bits ANDed) for several."""
    runs: list[list[str]] = []
    cells = JOINT_CELLS + 1
    for name, table in tables.items():
        if cells * len(table) > JOINT_CELLS:
            runs.append([])
            cells = 1
        runs[-1].append(name)
        cells *= len(table)
    groups: list[tuple[tuple[str, ...], Lookup]] = []
    for run in runs:
        if len(run) == 1:
            groups.append(((run[0],), (itemgetter(run[0]), tables[run[0]])))
            continue
        joint: dict[Any, int] = {}
        for combination in product(*(tables[name].items() for name in run)):
            bits = -1
            for _, more in combination:
                bits &= more
            joint[tuple(value for value, _ in combination)] = bits
        groups.append((tuple(run), (itemgetter(*run), joint)))
    return groups


class _TooManyKeys(Exception):
    """More keys than a valid complaint can have: such key sequences are not planned, nor cached."""


class ComplaintReader:
    """Reads complaints for one policy's input facts; built once per policy (it runs on every decision).

    Complaints from one integration nearly always carry the same fields, so the reader plans once per
    *shape* (the complaint's keys, in order) and keeps the plans in a bounded, thread-safe LRU cache; the
    plan for every fact in declared order is made at load. A plan then reads a complaint with a few
    operations: one ``itemgetter`` and one dict hit per group of level and enum facts (checking and
    looking up their values at once), one bisect per integer and amount valid as sent, one copy of the
    complaint into the decision's ``FrozenFacts`` (with the defaults), and one fused check-and-lookup
    per other fact. Anything unusual (a bad value, an unknown field, an explicit null) goes to
    :meth:`diagnose`, which collects every problem and raises them together.
    """

    def __init__(self, facts: Mapping[str, Fact], derived: Mapping[str, Fact], index: PolicyIndex, *, received: bool = False) -> None:
        self.facts = facts
        self.derived = derived
        self.index = index
        self.received = received
        """True when conditions measure from ``received_at`` (``within: 30d, of: received_at``): its value
        then joins the facts (None when not given), where those conditions and the decision's facts find it."""
        self.required = frozenset(name for name, fact in facts.items() if fact.required)
        self.known = frozenset((*facts, *ENVELOPE))
        self.suggestions = (*facts, *ENVELOPE)
        # each fact's readers and lookups, made once: a plan for a new shape of complaint only picks them
        self.finite_tables = {name: index.finite_table(name) for name, fact in facts.items() if fact.finite}
        self.readers = {name: (name, _fused_reader(fact, index), _fast_reader(fact), index.bits_reader(name))
                        for name, fact in facts.items() if not fact.finite}
        self.located = {name: (name, *found) for name, fact in facts.items() if (found := _direct_locator(fact, index)) is not None}
        """Integer and money facts whose range check and lookup is one ``bisect_right``: thresholds and bits per cell."""
        self.default_bits = {name: index.bits_of(name, fact.default) for name, fact in facts.items() if not fact.required}
        self.groups = _finite_groups(self.finite_tables)
        self.plan = lru_cache(maxsize=SHAPE_CACHE_SIZE)(self._plan)
        """The plan for complaints with these keys (a tuple); None sends them all to :meth:`diagnose`."""
        self.declared = tuple(facts)
        self.canonical = self._plan(self.declared)
        """The plan for complaints sending every fact in declared order, made with the readers: no lookup."""

    def read(self, complaint: object) -> tuple[Values, Envelope, int]:
        """The complaint's facts (a decision's own ``FrozenFacts``), its envelope, and the index bits its
        input facts let through."""
        if complaint.__class__ is not dict:
            if not isinstance(complaint, Mapping):
                return self.diagnose(complaint)
            complaint = plain_dict(complaint)
        try:
            keys = tuple(complaint)
            shape = self.canonical if keys == self.declared else self.plan(keys)
        except _TooManyKeys:  # not kept by the plan cache: a million keys would stay in memory with it
            return self.diagnose(complaint)
        if shape is None:
            return self.diagnose(complaint)
        mask, finite, integers, amounts, defaults, template, numeric, envelope_keys = shape
        try:
            for values_of, table in finite:  # the values of a group of level and enum facts: their bits
                mask &= table[values_of(complaint)]
        except (KeyError, TypeError):  # a value that is not one of the fact's (or not even hashable)
            return self.diagnose(complaint)
        # integers and amounts valid as sent, in line: their cell's bits by one bisect (None: out of range)
        slow: list[str] | None = None  # any other: read below, converted (money as text) or refused
        for name, points, table in integers:
            value = complaint[name]
            if value.__class__ is int:
                bits = table[bisect_right(points, value)]
                if bits is not None:
                    mask &= bits
                    continue
            slow = [name] if slow is None else [*slow, name]
        for name, points, table in amounts:
            value = complaint[name]
            # JSON parsed with parse_float=Decimal: not negative, and to the cent (the usual case) or _plain_amount()
            if value.__class__ is Decimal and not value.is_signed() and (value.same_quantum(_CENT) or _plain_amount(value)):
                bits = table[bisect_right(points, value)]
                if bits is not None:
                    mask &= bits
                    continue
            slow = [name] if slow is None else [*slow, name]
        if defaults is None:  # keys in an order that is not the declared one: copy them over a template
            values = FrozenFacts(template)
            _update(values, complaint)
        else:  # the declared order already (the cheapest dict to make is a copy)
            values = FrozenFacts(complaint)
            if defaults:
                _update(values, defaults)
        if slow is not None:
            for name in slow:
                value = self.readers[name][2](complaint[name])
                if value is _BAD:
                    return self.diagnose(complaint)
                _set(values, name, value)
                mask &= self.readers[name][3](value)
        for name, fused, read, bits_of in numeric:
            raw = values[name]
            bits = fused(raw)
            if bits is None:  # not a value the fused check vouches for as it is: read it, maybe converting it
                value = read(raw)
                if value is _BAD:
                    return self.diagnose(complaint)
                _set(values, name, value)
                bits = bits_of(value)
            mask &= bits
        if not envelope_keys:
            return values, NO_ENVELOPE, mask
        for key in envelope_keys:
            _delete(values, key)
        get = complaint.get
        complaint_id, customer_id, received_at = get("complaint_id"), get("customer_id"), get("received_at")
        if received_at is None and get("locale") is None and _plain_id(complaint_id) and _plain_id(customer_id):
            if self.received:
                _set(values, RECEIVED, None)
            return values, Envelope(complaint_id, customer_id), mask
        problems: list[FieldProblem] = []
        envelope = _read_envelope(complaint, problems)
        if problems:
            raise ComplaintError(problems)
        if self.received:
            _set(values, RECEIVED, envelope.received_at)
        return values, envelope, mask

    __call__ = read

    def _plan(self, keys: tuple[Any, ...]) -> _Shape | None:
        if len(keys) > len(self.known):
            raise _TooManyKeys  # lru_cache keeps no answer for a call that raises
        names = frozenset(keys)
        fine = len(names) == len(keys) and names <= self.known and self.required <= names
        return _shape(self, keys) if fine else None

    def diagnose(self, complaint: object) -> tuple[Values, Envelope, int]:
        """The careful path: every problem with the complaint, raised together."""
        if not isinstance(complaint, Mapping):
            raise ComplaintError([FieldProblem("(complaint)", f"expected an object of facts; got {describe(complaint)}", None, "not_an_object")])
        problems: list[FieldProblem] = []
        values: Values = {}
        for name, fact in self.facts.items():
            raw = complaint.get(name)
            if raw is None:
                if fact.required:
                    problems.append(FieldProblem(name, f"is required: {fact.expected()}", None, "required"))
                else:
                    values[name] = fact.default  # type: ignore[assignment]
                continue
            try:
                values[name] = read_value(fact, raw)
            except ValueRefused as exc:
                problems.append(FieldProblem(name, str(exc), raw, exc.code))
        more = 0  # problems past MAX_PROBLEMS: counted, not built (a million unknown keys cost no million messages)
        for name in complaint:
            if name in self.facts or name in ENVELOPE:
                continue
            if len(problems) >= MAX_PROBLEMS:
                more += 1
            elif not isinstance(name, str) or not is_text(name):
                problems.append(FieldProblem(repr(name)[:80], "field names must be strings of valid Unicode", None, "bad_field_name"))
            elif name in self.derived:
                problems.append(FieldProblem(name, "is derived by the policy from other facts; do not send it", complaint[name], "derived_field"))
            else:
                hint = did_you_mean(name, self.suggestions)
                problems.append(FieldProblem(describe_key(name), f"is not a fact of this policy{hint}", complaint[name], "unknown_field"))
        envelope = _read_envelope(complaint, problems)
        if problems:
            raise ComplaintError(problems, more)
        if self.received:
            values[RECEIVED] = envelope.received_at  # type: ignore[assignment]
        return FrozenFacts(values), envelope, self.index.mask_of(values, self.facts)


def plain_dict(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """A mapping that is not exactly a dict, read one way, once: its ``items()`` into a plain dict.

    Mapping classes may answer differently depending on how they are read: a dict subclass that
    overrides ``__getitem__`` (the pattern of web frameworks' query dicts) gives one value to
    ``complaint[key]`` and another to ``dict(complaint)``. Reading every value once, through the
    mapping's own ``items()`` (which query dicts override to give the value they mean), makes the facts
    decided on the facts shown. A mapping that raises while read, gives a key twice, or whose
    ``items()``, iteration and ``len()`` disagree is a ComplaintError, not a guess.
    """
    try:
        pairs = list(mapping.items())
        plain = dict(pairs)
        keys = list(mapping)
        agree = len(mapping) == len(keys) == len(pairs) and all(key in plain for key in keys)
    except Exception as exc:  # a mapping's methods are the caller's code: whatever they raise, the complaint is unreadable
        raise ComplaintError([FieldProblem("(complaint)", f"could not be read as a mapping ({type(exc).__name__})", None,
                                           "unreadable_mapping")]) from None
    if len(plain) != len(pairs):
        seen: set[Any] = set()
        repeated = list(dict.fromkeys(key for key, _ in pairs if key in seen or seen.add(key)))  # type: ignore[func-returns-value]
        raise ComplaintError([FieldProblem(describe_key(key), "appears more than once in the mapping's items(); send it once", None,
                                           "repeated_key") for key in repeated[:MAX_PROBLEMS]], max(0, len(repeated) - MAX_PROBLEMS))
    if not agree:
        raise ComplaintError([FieldProblem("(complaint)", f"is a {type(mapping).__name__} whose items(), keys and len() disagree", None,
                                           "inconsistent_mapping")])
    return plain


def describe_key(key: object) -> str:
    """A field name as problems show it: printable and short."""
    if not isinstance(key, str):
        return repr(key)[:80]
    text = key if key.isprintable() else ascii(key)[1:-1]
    return text if len(text) <= 80 else text[:77] + "..."


_ID_NUMBER_LIMIT = 10**ID_LIMIT
"""Integer ids are written in fewer than ID_LIMIT digits."""


def _read_id(name: str, value: object, problems: list[FieldProblem]) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) <= ID_LIMIT and value.isascii():  # the common case, checked in full
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _ID_NUMBER_LIMIT:
        return str(value)
    if not isinstance(value, str) or len(value) > ID_LIMIT or not is_text(value):
        problems.append(FieldProblem(name, f"expected a string or integer id of at most {ID_LIMIT} characters; got {describe(value)}", value,
                                     "wrong_type"))
        return None
    return str(value)


TIME_YEAR_LIMIT = 9000
"""``received_at`` must fall before this year, in UTC: ``respond_by`` (received_at + the policy's
deadline) must still be a date Python can hold (years up to 9999), and no real complaint arrives after it."""


def _read_time(value: object, problems: list[FieldProblem]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            if 1 < moment.year < TIME_YEAR_LIMIT - 1:  # a day's offset from UTC cannot move it out of range
                return moment
            try:  # in UTC, as a decision's id reads it: 0001-01-01T00:00:00+14:00 is in the year 0, which Python has not
                in_range = moment.astimezone(UTC).year < TIME_YEAR_LIMIT
            except OverflowError:
                in_range = False
            if in_range:
                return moment
            problems.append(FieldProblem("received_at", f"must be a time from the year 1 to {TIME_YEAR_LIMIT - 1} in UTC; got {describe(value)}",
                                         value, "out_of_range"))
            return None
    problems.append(
        FieldProblem("received_at", f"expected an ISO 8601 time with a timezone, e.g. 2026-11-23T09:30:00Z; got {describe(value)}", value,
                     "wrong_type")
    )
    return None


def _read_envelope(complaint: Mapping[str, Any], problems: list[FieldProblem]) -> Envelope:
    return Envelope(
        _read_id("complaint_id", complaint.get("complaint_id"), problems),
        _read_id("customer_id", complaint.get("customer_id"), problems),
        _read_time(complaint.get("received_at"), problems),
        _read_locale(complaint.get("locale"), problems),
    )


_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*\Z")
"""A BCP 47 language tag as helpdesks send them (``fr``, ``fr-CA``, ``pt_BR``)."""


def _read_locale(value: object, problems: list[FieldProblem]) -> str | None:
    """The language the complaint wants its reasons in, as a lowercase tag with dashes (``pt-br``)."""
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 35 and _LOCALE.match(value):
        return value.replace("_", "-").lower()
    problems.append(FieldProblem("locale", f"expected a language tag such as en, fr or pt-BR; got {describe(value)}", value, "wrong_type"))
    return None


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
    """The value in the fact's type (converted if need be), or ``_BAD`` to ask :meth:`ComplaintReader.diagnose`."""
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
            if value.__class__ is Decimal and _plain_amount(value):
                if direct:
                    return table[bisect_right(points, value)]
                i = bisect_left(points, value)
                return table[2 * i + 1 if i < count and points[i] == value else 2 * i]
            return None

        return money
    if fact.type in TIME_TYPES or fact.type == "list":  # always converted from what JSON carries: read it
        return _never
    read, bits_of = _fast_reader(fact), index.bits_reader(fact.name)

    def other(value: Any) -> int | None:
        return bits_of(value) if read(value) is value else None

    return other


def _plain_amount(value: Decimal) -> bool:
    """A Decimal the careful reader would keep as it is: finite and not negative (-0 goes the careful way,
    which reads it as 0), with at most 10 places. Not below 1e-6, a Decimal is written without an
    exponent (or with a positive one), so at most 11 characters hold at most 10 places; else the exponent
    says (``as_tuple()`` costs three times as much)."""
    return value.is_finite() and not value.is_signed() and (
        (value.adjusted() >= -6 and len(str(value)) <= 11) or value.as_tuple().exponent >= -10)  # type: ignore[operator]


def _never(value: Any) -> None:
    return None


def _direct_locator(fact: Fact, index: PolicyIndex) -> tuple[list[Any], list[int | None] | Any] | None:
    """An integer or money fact's thresholds and bits per cell when ``bisect_right`` finds the cell (see
    ``PolicyIndex.locator``), the cells outside the fact's range holding None; else None."""
    if fact.type == "integer":
        low, high = _integer_bounds(fact)
        points, table, direct = index.locator(fact.name, low, high + 1)
    elif fact.type == "money":
        least, most = _money_bounds(fact)
        points, table, direct = index.locator(fact.name, least, most.quantize(_PLACE, ROUND_FLOOR) + _PLACE)
    else:
        return None
    return (points, table) if direct else None

"""The policy document as written, typed once: pydantic models are the single source of its shape.

``schemas/policy.schema.json`` is generated from these models (``python -m gesture_engine.jsonschemas
schemas/``), and loading validates a document against them. pydantic's structured errors (type, loc,
input, context: never its message text) become our own located problems with stable codes, so
messages and codes do not move when pydantic does. What the shape cannot say (unknown facts, cycles,
budgets) is checked by the compiler on the typed result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, TypeAlias, Union, cast, get_args, get_origin, get_type_hints

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.config import JsonDict
from pydantic_core import ErrorDetails, PydanticCustomError
from typing_extensions import TypedDict

from gesture_engine.engine.facts import FACT_TYPES, did_you_mean
from gesture_engine.errors import PolicyError, Problem
from gesture_engine.load.source import Document, PathKey
from gesture_engine.money import MONEY_LIMIT

NAME_PATTERN = "^[a-z][a-z0-9_]*$"
RULE_ID_PATTERN = "^[a-z0-9][a-z0-9_.-]*$"
DURATION_PATTERN = "^([0-9]+d)?([0-9]+h)?([0-9]+m)?$"
CURRENCY_PATTERN = "^[A-Z]{3}$"
r"""Patterns of names and codes. pydantic matches them with Rust's regex, where ``$`` is the end of the
text ("tiny\n" is not a name); the JSON Schema writes each as :func:`schema_pattern` does."""


def schema_pattern(pattern: str) -> str:
    r"""``pattern`` as the JSON Schema writes it: its final ``$`` followed by ``(?!\n)``.

    In a JSON Schema a pattern is ECMA-262, where ``$`` is the end of the text, as it is for pydantic;
    validators written in Python match it with ``re``, where ``$`` also matches before a final newline,
    so "tiny\n" would pass them. ``(?!\n)`` changes nothing in ECMA-262 and rules that out in Python.
    """
    return pattern + "(?!\\n)"


def _in_schema(pattern: str) -> JsonDict:
    """``json_schema_extra`` for a string field matching ``pattern``: the pattern in its JSON Schema form."""
    return {"pattern": schema_pattern(pattern)}


LOCALE_PATTERN = "^[a-z]{2,3}(-[a-z0-9]{1,8})*$"
"""A language tag in lowercase with dashes: ``en``, ``fr``, ``pt-br``."""
Locale = Annotated[str, Field(pattern=LOCALE_PATTERN, json_schema_extra=_in_schema(LOCALE_PATTERN), max_length=35)]
Rationales = Annotated[
    Mapping[Locale, Annotated[str, Field(min_length=1)]],
    WithJsonSchema({"type": "object", "patternProperties": {schema_pattern(LOCALE_PATTERN): {"type": "string", "minLength": 1}},
                    "propertyNames": {"maxLength": 35}, "additionalProperties": False}),
]
"""A rationale by language: ``{en: ..., fr: ...}``."""

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, json_schema_extra=_in_schema(DURATION_PATTERN), min_length=2)]
"""A deadline or period written like 30m, 2h, 1d or 1h30m."""

# -- values -------------------------------------------------------------------------------------
# YAML gives numbers as int or Decimal (never float or bool). The checks are pydantic's own, in strict
# mode (no coercion: "50" is not a number, "true" is not true); Python runs only to pick a union's
# branch, to check that a list has no repeats, and to make an int amount a Decimal.


def _unique(items: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(set(items)) != len(items):
        raise PydanticCustomError("unique", "items must be unique")
    return items


_AMOUNT_RANGE = Field(ge=0, le=int(MONEY_LIMIT))
_AMOUNT_SCHEMA = WithJsonSchema({
    "type": "number", "minimum": 0, "maximum": int(MONEY_LIMIT),
    "description": "Money or a factor: 0 to 10^12 (larger values are mistakes and would overflow budget arithmetic).",
})

Name = Annotated[str, Field(pattern=NAME_PATTERN, json_schema_extra=_in_schema(NAME_PATTERN), max_length=64)]
Number = Annotated[int | Decimal, WithJsonSchema({"type": "number"})]
"""A number as written: condition operands keep their type (5 is an integer, 5.0 a Decimal)."""
if TYPE_CHECKING:
    Amount: TypeAlias = Decimal
else:
    Amount = Annotated[Annotated[int, _AMOUNT_RANGE, AfterValidator(Decimal)] | Annotated[Decimal, _AMOUNT_RANGE], _AMOUNT_SCHEMA]
"""Money or a factor, written as an int or a Decimal and always read as a Decimal."""
ExchangeRates = Annotated[
    Mapping[Annotated[str, Field(pattern=CURRENCY_PATTERN)], Amount],
    WithJsonSchema({"type": "object", "additionalProperties": False,
                    "patternProperties": {schema_pattern(CURRENCY_PATTERN): {"type": "number", "minimum": 0, "maximum": int(MONEY_LIMIT)}}}),
]
"""Exchange rates by ISO 4217 code: ``{EUR: 1.08}``."""
Scalar = Annotated[str | int | Decimal | bool, WithJsonSchema({"type": ["string", "number", "boolean"]})]
Names = Annotated[tuple[Name, ...], Strict(False), AfterValidator(_unique), Field(json_schema_extra={"uniqueItems": True})]
Values = Annotated[tuple[Name, ...], Strict(False), Field(min_length=1), AfterValidator(_unique), Field(json_schema_extra={"uniqueItems": True})]
"""Lists arrive as lists; ``Strict(False)`` lets a list become a tuple (its items stay strict)."""


class _Model(BaseModel):
    """Strict (no coercion), closed (unknown keys are mistakes) and immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _scalar_or_mapping(value: Any) -> str | None:
    """The branch of a union a value takes, chosen by its type: trying each branch in turn costs more
    than the value's whole check, and a refusal would come from every branch."""
    if isinstance(value, dict):
        return "mapping"
    return "scalar" if value.__class__ in (str, int, Decimal, bool) else None


def _number_or_mapping(value: Any) -> str | None:
    if isinstance(value, dict):
        return "mapping"
    return "number" if value.__class__ is int or value.__class__ is Decimal else None


# -- conditions ---------------------------------------------------------------------------------
# A condition is a mapping (fact -> test, or all/any/not), typed as TypedDicts: it stays the plain
# mapping the condition compiler reads. Validation changes nothing in a condition (numbers keep their
# type), so a valid condition is kept exactly as written, in the order it was written (the order its
# tests are tried and explained) and without a copy.


def _as_written(value: Any, handler: Callable[[Any], Any]) -> Any:
    handler(value)  # raises when the condition is malformed
    return value


TIME_PATTERN = (r"^(?:(?:[0-9]+[dhms])+|P[0-9WDTHMS]+"
                r"|[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2}))?)$")
"""The shape of a duration, date or datetime operand (the compiler reads it exactly, for the fact's type)."""
Bound = Annotated[int | Decimal | Annotated[str, Field(pattern=TIME_PATTERN)],
                  WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": schema_pattern(TIME_PATTERN)}]})]
"""What an order operator compares with: a number, or a duration, date or datetime written as text."""


class FactRef(TypedDict, closed=True):
    """An operand naming another fact: the test compares the two facts' values."""

    fact: Name


FactRef.__pydantic_config__ = ConfigDict(strict=True)  # type: ignore[attr-defined]


def _value_or_fact(value: Any) -> str:
    return "fact" if isinstance(value, dict) else "value"


_ON_FACT = Discriminator(_value_or_fact)
_ON_FACT_TEXT = Field(description="A value, or {fact: name} to compare with another fact's value.")
ScalarOrFact = Annotated[Annotated[Scalar, Tag("value")] | Annotated[FactRef, Tag("fact")], _ON_FACT, _ON_FACT_TEXT]
BoundOrFact = Annotated[Annotated[Bound, Tag("value")] | Annotated[FactRef, Tag("fact")], _ON_FACT, _ON_FACT_TEXT]
LevelOrFact = Annotated[Annotated[str, Tag("value")] | Annotated[FactRef, Tag("fact")], _ON_FACT, _ON_FACT_TEXT]
"""Operands of the operators that may compare with another fact."""
_Operators = TypedDict("Operators", {  # type: ignore[name-match]  # the schema calls it Operators
    "eq": ScalarOrFact, "ne": ScalarOrFact,
    "in": Annotated[list[Scalar], Field(min_length=1)], "not_in": Annotated[list[Scalar], Field(min_length=1)],
    "gt": BoundOrFact, "gte": BoundOrFact, "lt": BoundOrFact, "lte": BoundOrFact,
    "between": Annotated[list[Bound], Field(min_length=2, max_length=2)],
    "at_least": LevelOrFact, "at_most": LevelOrFact,
    "within": Annotated[str, Field(description="A date or datetime at most this long before 'of' (0 ≤ age ≤ duration).")],
    "older_than": Annotated[str, Field(description="A date or datetime more than this long before 'of'.")],
    "of": Annotated[str, Field(description="What within/older_than measure from: received_at, or a date or datetime fact.")],
    "contains": str,
    "contains_any": Annotated[list[str], Field(min_length=1)], "contains_all": Annotated[list[str], Field(min_length=1)],
    "empty": bool,
}, total=False, closed=True)
_Operators.__pydantic_config__ = ConfigDict(strict=True)  # type: ignore[attr-defined]
"""Operators on one fact, all of which must hold."""

Test = Annotated[
    Annotated[Scalar, Tag("scalar")] | Annotated[_Operators, Tag("mapping")],
    Discriminator(_scalar_or_mapping, custom_error_type="scalar_or_mapping", custom_error_message="expected a scalar or a mapping"),
    Field(description="A scalar (equality) or a mapping of operators, all of which must hold."),
]

_Condition = TypedDict("Condition", {  # type: ignore[misc]
    "all": Annotated[list["_Condition"], Field(min_length=1)],
    "any": Annotated[list["_Condition"], Field(min_length=1)],
    "not": "_Condition",
}, total=False, extra_items=Test)
_Condition.__pydantic_config__ = ConfigDict(strict=True)  # type: ignore[attr-defined]
Condition = Annotated[_Condition, WrapValidator(_as_written)]
"""Fact names to tests (all must hold), combined with all/any/not."""

# -- sections -----------------------------------------------------------------------------------


class _FactBase(_Model):
    description: str = ""
    required: bool = False
    default: Scalar | None = None


class ChoiceFact(_FactBase):
    """A level (values lowest first) or enum fact: one of a fixed list of names."""

    type: Literal["level", "enum"]
    values: Values


class History(_Model):
    """Where a goodwill ledger finds a history fact's value: what it recorded for the customer in the last
    ``window``. Deciding without a ledger, the caller supplies the fact like any other."""

    sum: Literal["goodwill"] | None = Field(default=None, description=(
        "goodwill: what the customer holds in the policy's currency (reserved and not yet issued, or issued); for a money fact."))
    count: Literal["gestures", "complaints"] | None = Field(default=None, description=(
        "gestures: gestures given (each listed gesture once per decision that gave it); complaints: complaints decided. "
        "For an integer or number fact."))
    gestures: Values | None = Field(default=None, description="With count: gestures, only these gestures (default: every gesture of the catalog).")
    window: Duration = Field(description="How far back the ledger looks: 90d, 12h, 1d12h.")


class NumericFact(_FactBase):
    """A money, integer or number fact, optionally bounded."""

    type: Literal["money", "integer", "number"]
    min: Number | None = None
    max: Number | None = None
    history: History | None = Field(default=None, description=(
        "A history fact: a goodwill ledger fills it from what it recorded for the customer (a complaint sent through one may not supply it)."))


class BooleanFact(_FactBase):
    type: Literal["boolean"]


class StringFact(_FactBase):
    type: Literal["string"]
    max_length: int = Field(default=1000, ge=1)


class TimeFact(_FactBase):
    """A duration (``2h30m`` or ISO 8601 ``PT2H30M``), a date (``2026-11-23``) or a datetime with a
    timezone (``2026-11-23T09:30:00Z``); a default is written the same way."""

    type: Literal["duration", "date", "datetime"]


class ListFact(_FactBase):
    """Distinct strings, e.g. a ticket's tags: from ``values`` when given, else any non-empty strings."""

    type: Literal["list"]
    values: Values | None = None
    default: Annotated[tuple[str, ...], Strict(False)] | None = None  # type: ignore[assignment]


FactSpec = Annotated[ChoiceFact | NumericFact | BooleanFact | StringFact | TimeFact | ListFact, Field(discriminator="type")]
"""An input fact, its keys depending on its type."""


class DerivedRow(_Model):
    when: Condition
    value: Name


class DerivedFact(_Model):
    """A level or enum fact computed from others: the first row whose condition holds, else the default."""

    type: Literal["level", "enum"]
    description: str = ""
    values: Values
    table: Annotated[tuple[DerivedRow, ...], Strict(False)]
    default: Name


class NumericRow(_Model):
    when: Condition
    value: Number


class NumericDerivedFact(_Model):
    """A money, integer or number fact computed from others (a band's allowed delay): the value of the
    first row whose condition holds, else the default."""

    type: Literal["money", "integer", "number"]
    description: str = ""
    table: Annotated[tuple[NumericRow, ...], Strict(False)]
    default: Number


class DurationRow(_Model):
    when: Condition
    value: str = Field(description="A duration: 2h30m or ISO 8601 PT2H30M.")


class DurationDerivedFact(_Model):
    """A duration computed from others (a band's allowed delay, ``3h``): the value of the first row whose
    condition holds, else the default."""

    type: Literal["duration"]
    description: str = ""
    table: Annotated[tuple[DurationRow, ...], Strict(False)]
    default: str = Field(description="A duration: 2h30m or ISO 8601 PT2H30M.")


ValuedDerivedFact = NumericDerivedFact | DurationDerivedFact
"""Derived facts whose table gives values of their type (numbers, durations) rather than names."""
DerivedSpec = Annotated[DerivedFact | ValuedDerivedFact, Field(discriminator="type")]
"""A derived fact, its keys depending on its type."""
DERIVED_TYPES = ("level", "enum", "money", "integer", "number", "duration")


class GestureSpec(_Model):
    label: str = Field(min_length=1)
    description: str = ""
    monetary: bool = Field(default=False, description="True when the gesture spends budget.")


class ActionSpec(_Model):
    label: str = Field(min_length=1)
    description: str = ""


class LadderRow(_Model):
    up_to: Amount | None = None
    level: Name


class Approval(_Model):
    levels: Values = Field(description="Approvers, lowest first.")
    ladder: Annotated[tuple[LadderRow, ...], Strict(False)] = Field(min_length=1)


class Goodwill(_Model):
    """Rolling-window goodwill limit: a budget never exceeds window_limit minus the goodwill already given."""

    fact: Name
    window_limit: Amount
    window: str = Field(default="", description="Label of the window, for reasons (e.g. '90 days').")
    window_days: int | None = Field(default=None, ge=1, le=3660, description=(
        "Length of the window in days. Deciding through a goodwill ledger fills the goodwill fact with what the ledger "
        "reserved and issued to the customer in that many days (the same as history: {sum: goodwill, window: 90d} on the goodwill fact; "
        "one of the two is required to decide through a ledger)."))
    reservation_ttl: Duration | None = Field(default=None, description=(
        "How long a ledger reservation holds its budget before it expires unless issued (e.g. 7d); the ledger's own default when left out."))


class Band(_Model):
    """One band of a ``ranges`` lookup: values up to ``lte`` (or under ``lt``) not in an earlier band."""

    lt: Number | Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="A number, or a duration (2h, PT2H) or date (2026-11-23) for those facts.")
    lte: Number | Annotated[str, Field(min_length=1, max_length=64)] | None = None
    value: Amount


class Teams(_Model):
    """Team budgets: goodwill a team may give in a calendar month, enforced when deciding through a ledger."""

    monthly_limit: Amount = Field(description="The monthly limit of a team not listed in 'limits'.")
    limits: Mapping[Annotated[str, Field(min_length=1, max_length=100)], Amount] = Field(default_factory=dict, description="Limits by team.")
    on_exceed: Literal["reduce", "escalate"] = Field(
        default="reduce", description="reduce: the budget is cut to what the team has left; escalate: it stands, approved at escalate_to.")
    escalate_to: Name | None = Field(default=None, description="With on_exceed: escalate, the approval level that must approve going over.")


class Lookup(_Model):
    """An amount or factor chosen by a fact's value: ``values`` by the value of a level, enum or boolean
    fact; ``ranges`` by the band a money, integer or number fact falls in."""

    by: Name
    values: Mapping[str, Amount] | None = None
    ranges: Annotated[tuple[Band, ...], Strict(False)] | None = Field(default=None, min_length=1)
    default: Amount | None = None


class PercentOf(_Model):
    fact: Name
    percent: Amount


class BudgetFormula(_Model):
    """base + percent_of, times multipliers, clamped to min/max."""

    base: Annotated[
        Annotated[Amount, Tag("number")] | Annotated[Lookup, Tag("mapping")],
        Discriminator(_number_or_mapping, custom_error_type="number_or_mapping", custom_error_message="expected a number or a mapping"),
    ]
    percent_of: PercentOf | None = None
    multipliers: Annotated[tuple[Lookup, ...], Strict(False)] = ()
    min: Amount | None = None
    max: Amount | None = None


Budget = Annotated[
    Annotated[Amount, Tag("number")] | Annotated[BudgetFormula, Tag("mapping")],
    Discriminator(_number_or_mapping, custom_error_type="number_or_mapping", custom_error_message="expected a number or a mapping"),
]


class OwedAmount(_Model):
    """What a gesture owes: a money fact's value, or a percentage of it."""

    fact: Name
    percent: Amount = Field(default=Decimal(100), description="The percentage of the fact owed (default 100).")


Owed = Annotated[
    Annotated[Amount, Tag("number")] | Annotated[OwedAmount, Tag("mapping")],
    Discriminator(_number_or_mapping, custom_error_type="number_or_mapping", custom_error_message="expected a number or a mapping"),
]


class Then(_Model):
    action: Name | None = None
    gestures: Names = ()
    owed: Mapping[Name, Owed] = Field(
        default_factory=dict,
        description="Amounts owed, by gesture (a refund, a statutory sum): a fixed sum, or a money fact's value or percentage of it. "
                    "Listed in the decision apart from the budget; never capped.")
    budget: Budget | None = Field(default=None, description="A fixed amount, or base + percent_of, times multipliers, clamped to min/max.")
    respond_within: Duration | None = None
    approval: Name | None = None
    rationale: Annotated[str, Field(min_length=1)] | Rationales | None = Field(
        default=None, description="Why, for people: a sentence quoting facts as {name}, or one per language ({en: ..., fr: ...}).")


class Rule(_Model):
    id: str = Field(pattern=RULE_ID_PATTERN, json_schema_extra=_in_schema(RULE_ID_PATTERN), max_length=100)
    description: str = ""
    collect: bool = Field(default=False, description="An add-on: every matching collect rule adds its gestures and reasons.")
    default: bool = Field(default=False, description="The fallback rule, answering when no other first-hit rule matches.")
    when: Condition | None = None
    then: Then


class InvariantSpec(_Model):
    monotone: Literal["budget"] = Field(description="The decision output that must move in one direction.")
    in_: Name = Field(alias="in", description="An input fact of type level, money, integer, number, duration, date or datetime.")
    direction: Literal["increasing", "decreasing"] = Field(
        default="increasing", description="increasing (default): a higher fact never lowers the output.")
    description: str = ""


_NAMED: dict[str, Any] = {"additionalProperties": False}
"""In the JSON Schema, a section's keys must be names (pydantic lists them as patternProperties)."""


class PolicyDocument(_Model):
    """A service-recovery policy: typed facts, derived facts, a gesture and action catalog, ordered rules,
    budget limits and an approval ladder. See docs/policy-format.md."""

    model_config = ConfigDict(title="gesture-engine policy")

    policy: Name = Field(description="Policy name.")
    version: str = Field(min_length=1, description='Version string; quote it in YAML ("1.0").')
    description: str = ""
    currency: str = Field(pattern=CURRENCY_PATTERN, json_schema_extra=_in_schema(CURRENCY_PATTERN),
                          description="ISO 4217 code; amounts round to its minor unit.")
    teams: Teams | None = Field(default=None, description="Team budgets, enforced when deciding through a goodwill ledger.")
    exchange_rates: ExchangeRates = Field(
        default_factory=dict, description="Units of the policy's currency for one unit of another: money sent in that currency is converted.")
    locale: Locale = Field(default="en", description="The language of rationales given as one sentence, and the fallback for others.")
    budget_cap: Amount = Field(description="Policy-wide maximum budget for any one decision.")
    goodwill: Goodwill | None = None
    facts: Mapping[Name, FactSpec] = Field(min_length=1, json_schema_extra=_NAMED)
    derived: Mapping[Name, DerivedSpec] = Field(default_factory=dict, json_schema_extra=_NAMED)
    gestures: Mapping[Name, GestureSpec] = Field(min_length=1, json_schema_extra=_NAMED)
    actions: Mapping[Name, ActionSpec] = Field(min_length=1, json_schema_extra=_NAMED)
    approval: Approval = Field(
        default_factory=lambda: Approval(levels=("agent",), ladder=(LadderRow(level="agent"),)),
        description="Who approves a budget. Left out: one level, agent, approves every budget.")
    respond_within: str = Field(default="1d", pattern=DURATION_PATTERN, json_schema_extra=_in_schema(DURATION_PATTERN), min_length=2,
                                description="The response deadline of a first-hit or default rule that sets none (default 1d).")
    rules: Annotated[tuple[Rule, ...], Strict(False)] = Field(min_length=1)
    invariants: Annotated[tuple[InvariantSpec, ...], Strict(False)] = Field(
        default=(), description="Properties the policy promises, checked by gesture test (gesture_engine.tools.invariants.check_invariants).")


# -- validation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A document validated: the typed policy, or (when it failed) its problems and what is still usable.

    ``policy`` is always the document to run later checks on. After a failure it holds the parts that
    validated (broken sections fall back to neutral values, broken rules and invariants are left
    out: ``rule_positions``/``invariant_positions`` give each kept item's index in the document), or
    is None when a foundation (facts, catalogs, approval, currency) is broken and later checks would
    only repeat the same mistakes.
    """

    policy: PolicyDocument | None
    problems: tuple[Problem, ...] = ()
    broken: tuple[PathKey, ...] = ()
    rule_positions: tuple[int, ...] | None = None
    invariant_positions: tuple[int, ...] | None = None

    def positions(self, section: str, count: int) -> Iterator[int]:
        kept = self.rule_positions if section == "rules" else self.invariant_positions
        return iter(range(count) if kept is None else kept)


def check_document(document: Document) -> Checked:
    """Validate ``document`` against the models; every problem at once, located and coded."""
    try:
        return Checked(PolicyDocument.model_validate(document.data))
    except ValidationError as error:
        errors = error.errors(include_url=False)
    data = document.data
    if not isinstance(data, dict):  # the loader refuses these; kept so the shape is never assumed
        return Checked(None, (document.problem((), "a policy file must be a mapping of sections", "file-shape"),))
    mapped = _mapped(errors)
    shapeless = {path[:2] for path, _, code in mapped if code == "fact-values"}  # a fact without values: that alone
    reported = [(path, message, code) for path, message, code in mapped if path[:2] not in shapeless or code == "fact-values"]
    problems = tuple(document.problem(path, message, "fact" if code == "fact-values" else code) for path, message, code in reported)
    broken = tuple(path for path, _, _ in reported)
    return Checked(_salvage(data, errors), problems, broken, *_kept_positions(data, errors))


FOUNDATIONS = ("facts", "derived", "gestures", "actions", "approval", "currency")
"""Sections the compiler's later checks build on: when one is broken, only its problems are reported."""
_NEUTRAL: dict[str, Any] = {"policy": "", "version": "", "description": "", "budget_cap": Decimal(0), "goodwill": None,
                            "rules": (), "invariants": ()}
"""What a broken or missing section stands in for after a failed validation (the compiler skips broken paths)."""


def _unit(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The part of the document an error spoils: an entry of a section with entries, else the section."""
    return loc[:2] if loc[0] in ("facts", "derived", "gestures", "actions", "rules", "invariants") and len(loc) > 1 else loc[:1]


def _fact_shape(error: ErrorDetails) -> bool:
    """A fact's key its type does not take, or its missing values: the fact is still known to later checks."""
    return error["loc"][0] == "facts" and len(error["loc"]) == 4 and error["type"] in ("extra_forbidden", "missing")


def _salvage(data: dict[str, Any], errors: list[ErrorDetails]) -> PolicyDocument | None:
    spoiled: dict[tuple[int | str, ...], list[ErrorDetails]] = {}
    for error in errors:
        spoiled.setdefault(_unit(error["loc"]), []).append(error)
    if any(unit[0] in FOUNDATIONS and not all(_fact_shape(e) for e in unit_errors) for unit, unit_errors in spoiled.items()):
        return None
    if any(key not in data for key in ("facts", "gestures", "actions", "currency")):
        return None
    fields: dict[str, Any] = {}
    for name, info in PolicyDocument.model_fields.items():
        key = info.alias or name
        if key not in data or (key,) in spoiled:
            if key in _NEUTRAL:
                fields[name] = _NEUTRAL[key]
        elif key in ("rules", "invariants"):
            item = TypeAdapter(Rule if key == "rules" else InvariantSpec)
            fields[name] = tuple(item.validate_python(value) for i, value in enumerate(data[key]) if (key, i) not in spoiled)
        elif key == "facts":
            fields[name] = {fact: _fact_without_shape_errors(spec, spoiled.get((key, fact), []))
                            for fact, spec in data[key].items()
                            if not any(e["type"] == "missing" for e in spoiled.get((key, fact), []))}
        else:
            fields[name] = TypeAdapter(cast(Any, info.annotation)).validate_python(data[key])  # valid: it had no problem
    return PolicyDocument.model_construct(**fields)


def _fact_without_shape_errors(spec: dict[str, Any], errors: list[ErrorDetails]) -> Any:
    unknown = {e["loc"][3] for e in errors}
    return TypeAdapter(FactSpec).validate_python({k: v for k, v in spec.items() if k not in unknown})


def _kept_positions(data: dict[str, Any], errors: list[ErrorDetails]) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    spoiled = {_unit(e["loc"]) for e in errors}
    kept = []
    for section in ("rules", "invariants"):
        items = data.get(section)
        count = len(items) if isinstance(items, list) and (section,) not in spoiled else 0
        kept.append(tuple(i for i in range(count) if (section, i) not in spoiled))
    return kept[0], kept[1]


# -- pydantic errors -> our problems --------------------------------------------------------------


class _Where(NamedTuple):
    """Where a pydantic ``loc`` points in the document, and the types met on the way."""

    path: PathKey
    parent: Any  # the model or TypedDict holding the last key, if any
    node: Any  # the type at the path
    unions: tuple[PathKey, ...]  # the paths at which a union chose a branch, outermost first


def _strip(kind: Any) -> Any:
    """The type inside Annotated and Optional wrappers."""
    while True:
        if get_origin(kind) is Annotated:
            kind = get_args(kind)[0]
        elif _members(kind) and len(_members(kind)) == 1:
            kind = _members(kind)[0]
        else:
            return kind


def _members(kind: Any) -> tuple[Any, ...]:
    """A union's members other than None (empty for anything else)."""
    if get_origin(kind) not in (Union, UnionType):
        return ()
    return tuple(arg for arg in get_args(kind) if arg is not type(None))


def _keys(kind: Any) -> dict[str, Any]:
    """Key -> type of a model or TypedDict, by the key as written."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {info.alias or name: info.annotation for name, info in kind.model_fields.items()}
    return get_type_hints(kind, include_extras=True)


def _branch(members: tuple[Any, ...], tag: int | str) -> Any:
    """The union member pydantic's ``loc`` names by ``tag``: a fact's type, a model's name, or the
    label pydantic gives a member's schema (``str``, ``constrained-int``, ``union[...]``, ...)."""
    text = str(tag)
    for member in members:
        if any(isinstance(m, Tag) and m.tag == text for m in getattr(member, "__metadata__", ())):
            return member
        core = _strip(member)
        if isinstance(core, type) and issubclass(core, BaseModel):
            if text == core.__name__ or tag in get_args(_strip(_keys(core).get("type"))):
                return member
        elif _members(core):
            if text.startswith(("union[", "function-after[")):
                return member
        elif hasattr(core, "__total__"):
            if text.startswith("function-wrap[") or text == core.__name__ or text == "typed-dict":
                return member
        elif text.removeprefix("constrained-") == {str: "str", int: "int", bool: "bool", Decimal: "decimal"}.get(core):
            return member
    return Any


def _walk(loc: tuple[int | str, ...]) -> _Where:
    """Follow pydantic's ``loc`` through the models to the document path it means."""
    node: Any = PolicyDocument
    parent: Any = None
    path: list[int | str] = []
    unions: list[PathKey] = []
    for part in loc:
        kind = _strip(node)
        members = _members(kind)
        if members:  # ``part`` names the branch taken, not a place in the document
            unions.append(tuple(path))
            node = _branch(members, part)
            continue
        if part == "[key]":
            return _Where(tuple(path), parent, Name, tuple(unions))
        path.append(part)
        origin = get_origin(kind)
        if origin in (tuple, list):
            node = get_args(kind)[0]
        elif origin in (dict, Mapping):
            node = get_args(kind)[1]
        elif isinstance(kind, type) and (issubclass(kind, BaseModel) or hasattr(kind, "__total__")):
            parent = kind
            node = _keys(kind).get(str(part), getattr(kind, "__extra_items__", Any))
        else:
            node = Any
    return _Where(tuple(path), parent, node, tuple(unions))


_MISMATCH = {"dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
             "list_type": "a list", "tuple_type": "a list", "string_type": "a string", "int_type": "a number",
             "is_instance_of": "a number", "decimal_type": "a number", "bool_type": "true or false",
             "number_or_mapping": "a number or a mapping", "scalar_or_mapping": "a string or a number or true or false or a mapping"}
"""Error types saying a value has the wrong type, and what the type wanted reads as."""


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


_PATTERN_WORDS = {
    NAME_PATTERN: "is not a valid name (lower case letters, digits and _, starting with a letter)",
    DURATION_PATTERN: "is not a duration like 30m, 2h, 1d or 1h30m",
    RULE_ID_PATTERN: "is not a valid rule id (lower case letters, digits, '.', '_' and '-')",
    CURRENCY_PATTERN: "is not an ISO 4217 currency code like USD",
    TIME_PATTERN: "is not a number, a duration (2h30m, PT2H30M), a date (2026-11-23) or a datetime (2026-11-23T09:30:00Z)",
}

Mapped = tuple[PathKey, str, str]
"""A problem before it is located: path, message, code."""


def _mapped(errors: list[ErrorDetails]) -> list[Mapped]:
    """Our problems for pydantic's errors, one per mistake: a union's branches that refused the value's
    type are folded into one "expected a number or a mapping", or dropped when a branch took the value."""
    return _fold([(error, _walk(error["loc"])) for error in errors if not _echo(error)], 0)


def _echo(error: ErrorDetails) -> bool:
    """A list "too short" only because its items failed: pydantic counts what validated, the author wrote enough."""
    value = error["input"]
    return error["type"] == "too_short" and isinstance(value, list) and len(value) >= error.get("ctx", {}).get("min_length", 0)


def _fold(errors: list[tuple[ErrorDetails, _Where]], level: int) -> list[Mapped]:
    out: list[Mapped] = []
    groups: dict[PathKey, list[tuple[ErrorDetails, _Where]]] = {}
    for error, where in errors:
        if len(where.unions) <= level:
            out.append(_problem(error, where))
        else:
            groups.setdefault(where.unions[level], []).append((error, where))
    for at, members in groups.items():
        refused = [(e, w) for e, w in members if w.path == at and e["type"] in _MISMATCH]
        if len(refused) == len(members):
            words = list(dict.fromkeys(_MISMATCH[e["type"]] for e, _ in refused))
            value = refused[0][0]["input"]
            hint = " (quote it in YAML)" if words == ["a string"] and not isinstance(value, (dict, list)) else ""
            out.append((at, f"expected {' or '.join(words)}, got {_shown(value)}{hint}", "type"))
        else:
            out.extend(_fold([m for m in members if m not in refused], level + 1))
    return out


def _problem(error: ErrorDetails, where: _Where) -> Mapped:
    """Path, message and code of one pydantic error, from its type, location, input and context."""
    kind, value, ctx = error["type"], error["input"], error.get("ctx", {})
    path, parent = where.path, where.parent
    if kind == "extra_forbidden":
        key = str(path[-1])
        if isinstance(parent, type) and issubclass(parent, _FactBase) and key in ("values", "min", "max", "max_length", "history"):
            return path, f"'{key}' does not apply to a {error['loc'][2]} fact", "fact"
        known = list(_keys(parent)) if parent is not None else []
        expected = f"; expected one of {', '.join(known)}" if known else ""
        return path, f"unknown key {key!r}{did_you_mean(key, known)}{expected}", "unknown-key"
    if kind == "missing":
        key = str(path[-1])
        if parent is ChoiceFact and key == "values":
            kind_name = str(error["loc"][2])
            article = "an" if kind_name == "enum" else "a"
            return path[:-1], f"{article} {kind_name} fact needs 'values'" + (" (lowest first)" if kind_name == "level" else ""), "fact-values"
        return path[:-1], f"missing required key {key!r}", "required"
    if kind in ("union_tag_invalid", "union_tag_not_found") and not isinstance(value, dict):
        return path, f"expected a mapping, got {_shown(value)}", "type"
    if kind == "union_tag_not_found":
        return path, "missing required key 'type'", "required"
    if kind == "union_tag_invalid":
        tag = str(value.get("type"))
        types = DERIVED_TYPES if path[:1] == ("derived",) else FACT_TYPES
        hint = next((f" (did you mean {kind!r}?)" for kind in types if tag.startswith(kind)), "") or did_you_mean(tag, types)
        return path + ("type",), f"expected one of {', '.join(types)}; got {_shown(value.get('type'))}{hint}", "one-of"
    if kind in _MISMATCH:
        hint = " (quote it in YAML)" if kind == "string_type" and not isinstance(value, (dict, list)) else ""
        return path, f"expected {_MISMATCH[kind]}, got {_shown(value)}{hint}", "type"
    if kind == "literal_error":
        options = [str(option) for option in get_args(_strip(where.node))]
        return path, f"expected one of {', '.join(options)}; got {_shown(value)}{did_you_mean(str(value), options)}", "one-of"
    if kind == "string_pattern_mismatch":
        return path, f"{_shown(value)} {_PATTERN_WORDS.get(ctx['pattern'], 'does not match ' + ctx['pattern'])}", "pattern"
    if kind == "greater_than_equal":
        return path, f"must be ≥ {ctx['ge']}; got {_shown(value)}", "range"
    if kind == "less_than_equal":
        return path, f"must be ≤ {ctx['le']}; got {_shown(value)}", "range"
    if kind == "string_too_short" or (kind == "too_short" and isinstance(value, dict)):
        return path, "must not be empty", "length"
    if kind == "too_short":
        least = ctx["min_length"]
        return path, f"needs at least {least} item{'s' if least != 1 else ''}", "length"
    if kind == "string_too_long":
        return path, f"is longer than {ctx['max_length']} characters", "length"
    if kind == "too_long":
        return path, f"takes at most {ctx['max_length']} items", "length"
    if kind == "unique":
        return path, "items must be unique", "unique"
    return path, f"{_shown(value)} is not valid here", "invalid"


def validate_document(document: Document) -> PolicyDocument:
    """The typed document, or PolicyError with every problem the models find."""
    checked = check_document(document)
    if checked.problems or checked.policy is None:
        raise PolicyError(list(checked.problems))
    return checked.policy

"""The decision a policy returns: a frozen pydantic model, its budget and approval frozen pydantic dataclasses.

These are the public, serialised contract (``schemas/decision.schema.json`` is generated
from them). They are deliberately apart from the compiled policy structures the evaluator uses.
``model_dump_json()`` is deterministic: field order is fixed and nothing depends on the clock.

Texts that explain a decision (the budget's steps and summary, the approval's reasons, the decision's
reasons) are computed fields: deciding keeps only the numbers and the rules behind them, in a private
record, and the sentences are written when they are read or serialised.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Literal, NoReturn, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    computed_field,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass

from gesture_engine.json_bytes import dumps, iso_utc
from gesture_engine.money import plain

FactJSON = Annotated[Any, WithJsonSchema({"anyOf": [{"type": ["boolean", "integer", "number", "string", "null"]},
                                                   {"type": "array", "items": {"type": "string"}}]})]
"""A fact value: bool, int, float, ``Decimal`` (money, serialised as a string), str, ``timedelta`` (a
duration, as ISO 8601 ``PT2H30M``), ``date``/``datetime`` (ISO 8601), a tuple of str (a list fact, as an
array), or None (``received_at`` not given, when conditions measure from it). Typed ``Any`` for
pydantic, which then serialises by the value's own type: three times faster than trying a union."""
_M = TypeVar("_M", bound=BaseModel)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Gesture(Frozen):
    """One gesture to make, from the policy's catalog."""

    id: str
    label: str
    monetary: bool = Field(description="True when the gesture spends budget.")


class Money(Frozen):
    """An amount in the policy's currency, rounded to its minor unit."""

    amount: Decimal
    currency: str


class BudgetStep(Frozen):
    """One step of the budget arithmetic, with the running amount after it."""

    kind: Literal["base", "percent", "multiply", "min", "max", "cap", "goodwill", "team"]
    text: str
    amount: Decimal


class Working(Protocol):
    """Why a decision is what it is, kept as the numbers and the rules behind it: the texts that explain
    it are written from them when first read (``policy.py`` keeps one such record per decision)."""

    def budget_steps(self) -> tuple[BudgetStep, ...]: ...

    def budget_summary(self) -> str: ...

    def approval_reasons(self) -> tuple[str, ...]: ...

    def reasons(self) -> tuple[str, ...]: ...


class _Given:
    """The texts of one model read back from JSON (``Decision.model_validate_json``), kept as given:
    a budget's ``steps`` and ``summary``, an approval's or a decision's ``reasons``."""

    __slots__ = ("given",)

    def __init__(self, given: Mapping[str, Any]) -> None:
        self.given = given

    def budget_steps(self) -> tuple[BudgetStep, ...]:
        return self.given.get("steps", ())  # type: ignore[no-any-return]

    def budget_summary(self) -> str:
        return self.given.get("summary", "")  # type: ignore[no-any-return]

    def approval_reasons(self) -> tuple[str, ...]:
        return self.given.get("reasons", ())  # type: ignore[no-any-return]

    reasons = approval_reasons


# Computed fields read their record from ``__pydantic_private__`` itself: ``self._why`` goes through
# pydantic's ``__getattr__``, which costs more than writing the text it leads to.


def _equal_as_json(self: Any, other: object) -> bool:
    """Decisions and their parts are equal when their JSON is: the record behind the texts is not part of
    the contract, the texts are."""
    if type(other) is not type(self):
        return NotImplemented  # type: ignore[no-any-return]  # (as __eq__, which mypy knows by name)
    same: bool = self.model_dump_json() == other.model_dump_json()  # type: ignore[attr-defined]
    return same


def _hash_as_json(self: Any) -> int:
    return hash(self.model_dump_json())


class Explained(Frozen):
    """A model some of whose fields are texts written from a private record (``_why``) when read.

    Read back from its own JSON (or dict), a model keeps the texts it is given, so
    ``Decision.model_validate_json(d.model_dump_json()) == d``. Two such models are equal when their
    JSON is: the record behind the texts is not part of the contract, the texts are."""

    _why: Working = PrivateAttr()
    _written: ClassVar[dict[str, Any]] = {}
    """Each computed field's name and the type its given value is validated as."""

    @model_validator(mode="wrap")
    @classmethod
    def _keep_given_texts(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if not isinstance(data, Mapping) or not cls._written:
            return handler(data)
        given = {name: adapter.validate_python(data[name]) for name, adapter in cls._written.items() if name in data}
        instance = handler({key: value for key, value in data.items() if key not in cls._written})
        instance.__pydantic_private__["_why"] = _Given(given)
        return instance

    def model_dump(self, *, mode: Literal["json", "python"] | str = "json", **options: Any) -> dict[str, Any]:
        """The decision as plain data, JSON types by default (``json.dumps(d.model_dump())`` works: money is
        a decimal string, times ISO 8601); ``mode="python"`` keeps ``Decimal`` and ``datetime``."""
        return super().model_dump(mode=mode, **options)

    __eq__ = _equal_as_json
    __hash__ = _hash_as_json

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its JSON, read back (texts as written): equal to the model. (Its record holds
        the compiled policy, which is not pickled.)"""
        return type(self).model_validate_json, (self.model_dump_json(),)


class _Part:
    """What :class:`Budget` and :class:`Approval` share. They are frozen pydantic dataclasses with slots,
    not models: every decision makes one of each, and a slotted object costs half what a model does to
    make (no ``__dict__``, no pydantic bookkeeping). Their texts are written from the decision's record
    when read, or kept as given when read back from JSON: the ``_private`` slot (not a field) holds it as
    ``{"_why": record}``, the very dict that is the decision's ``__pydantic_private__`` (the encoder's
    sign of a decision as ``decide`` made it). Two parts are equal when their JSON is; a part pickles as
    its JSON and copies as itself (it is immutable)."""

    __slots__ = ()
    _private: dict[str, Working]
    _written: ClassVar[dict[str, Any]] = {}
    """Each computed field's name and the type its given value is validated as."""
    _json: ClassVar[TypeAdapter[Any]]

    @model_validator(mode="wrap")
    @classmethod
    def _keep_given_texts(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(data, cls):  # a part made already (by decide, or read back) keeps its record
            return handler(data)
        given: dict[str, Any] = {}
        if isinstance(data, Mapping):
            given = {name: adapter.validate_python(data[name]) for name, adapter in cls._written.items() if name in data}
            data = {key: value for key, value in data.items() if key not in cls._written}
        part = handler(data)
        object.__setattr__(part, "_private", {"_why": _Given(given)})  # a frozen dataclass refuses setattr
        return part

    def model_dump_json(self) -> str:
        """The part as compact JSON, as in its decision's."""
        return self._json.dump_json(self).decode()

    def model_dump(self, *, mode: Literal["json", "python"] = "json") -> dict[str, Any]:
        """The part as plain data, JSON types by default (as ``Decision.model_dump``)."""
        return self._json.dump_python(self, mode=mode)  # type: ignore[no-any-return]

    __eq__ = _equal_as_json
    __hash__ = _hash_as_json

    def __reduce__(self) -> tuple[Any, ...]:
        return self._json.validate_json, (self.model_dump_json(),)

    def __copy__(self) -> _Part:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Part:
        return self


class Owed(Frozen):
    """An amount a gesture owes (a refund, a statutory sum): apart from the budget, and never capped by
    the budget cap or the goodwill window."""

    gesture: str
    amount: Decimal
    currency: str
    text: str = Field(description="How the amount was reached, e.g. '50% of ticket_price 320.00 = 160.00'.")


_PART = ConfigDict(extra="forbid")


@pydantic_dataclass(frozen=True, eq=False, config=_PART)
class Budget(_Part):
    """The budget: an amount in the policy's currency with the arithmetic that produced it."""

    __slots__ = ("__weakref__", "_private", "amount", "currency")
    amount: Decimal
    currency: str

    @computed_field(description="Each step of the arithmetic, rounded half-up to the minor unit, with the running amount.")  # type: ignore[prop-decorator]
    @property
    def steps(self) -> tuple[BudgetStep, ...]:
        return self._private["_why"].budget_steps()

    @computed_field(description="The arithmetic in one line, e.g. 'base 20.00 (severity high) × 1.5 (tier gold) = 30.00'.")  # type: ignore[prop-decorator]
    @property
    def summary(self) -> str:
        return self._private["_why"].budget_summary()


@pydantic_dataclass(frozen=True, eq=False, config=_PART)
class Approval(_Part):
    """Who must approve, and why that level."""

    __slots__ = ("__weakref__", "_private", "level")
    level: str

    @computed_field(description="The ladder row the budget falls in, then any rule that demands a higher level.")  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> tuple[str, ...]:
        return self._private["_why"].approval_reasons()


class RuleTrace(Frozen):
    """One rule the engine evaluated, whether it fired, and which facts its condition reads."""

    # The values read are in the decision's ``facts``: without them each entry is a constant of the
    # policy, built once per outcome instead of once per decision.

    rule: str
    hit: Literal["first", "collect", "default"]
    fired: bool
    reads: tuple[str, ...] = Field(description="Facts the rule's condition reads; their values are in the decision's facts.")


class PolicyRef(Frozen):
    """Which policy decided: its name, version and the sha256 of its canonical content."""

    name: str
    version: str
    fingerprint: str


class FrozenFacts(dict[str, Any]):
    """A decision's facts: a dict (so pydantic writes it as one, in order) that refuses to change, so a
    frozen decision cannot be altered through it. Each decision has its own."""

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a decision's facts cannot be changed")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:  # copied and pickled through its constructor, not item by item
        return FrozenFacts, (dict(self),)


class Decision(Explained):
    """What to do for one complaint, and why.

    In JSON the answer comes first (action, gestures, budget, deadline, approval), then what it rests
    on: the policy, the facts, the rules that fired (``trace``) and, last, their ``reasons``.
    """

    complaint_id: str | None = None
    customer_id: str | None = None
    received_at: datetime | None = Field(default=None, description="When the complaint arrived, when it said.")
    locale: str = Field(default="en", description="The language the reasons are written in: the complaint's (or its language's) when "
                                                  "the rules give rationales in it, else the policy's.")
    action: str = Field(description="Recommended recovery action id.")
    action_label: str
    rule: str = Field(description="The first-hit rule that chose the action.")
    gestures: tuple[Gesture, ...]
    budget: Budget
    owed: tuple[Owed, ...] = Field(default=(), description="Amounts owed by gesture, apart from the budget (never capped).")
    respond_within: str = Field(description="Response deadline as a duration, e.g. '1h' or '1d4h'.")
    respond_within_seconds: int
    respond_by: datetime | None = Field(default=None, description="received_at + respond_within, when received_at was given.")
    approval: Approval
    policy: PolicyRef
    facts: Mapping[str, FactJSON] = Field(description="Every fact the decision used, derived facts included.")
    trace: tuple[RuleTrace, ...]
    _written: ClassVar[dict[str, Any]] = {}

    @computed_field(description="32 hex digits naming this decision: sha256 of the policy fingerprint and the canonical complaint "  # type: ignore[prop-decorator]
                                "(facts and envelope). The same policy and complaint always give the same id.")
    @property
    def decision_id(self) -> str:
        why = self.__pydantic_private__["_why"]  # type: ignore[index]
        if isinstance(why, _Given) and "decision_id" in why.given:  # read back from JSON, where facts are text: keep the id given
            return str(why.given["decision_id"])
        return decision_id_of(self.__dict__)

    def canonical_complaint(self) -> str:
        """What :attr:`decision_id` hashes: the facts (derived ones included) and the envelope as JSON with
        sorted keys and no spaces, money without trailing zeros (``800`` and ``800.00`` are one amount),
        times in UTC."""
        return _canonical_json(self.__dict__).decode()

    @computed_field(description="Why: the rationale of every rule that fired, in order.")  # type: ignore[prop-decorator]
    @property
    def reasons(self) -> tuple[str, ...]:
        why: Working = self.__pydantic_private__["_why"]  # type: ignore[index]
        return why.reasons()


def decision_id_of(fields: Mapping[str, Any]) -> str:
    """:attr:`Decision.decision_id` of a decision's fields (``Decision.__dict__``, or decide's own before it
    makes the models)."""
    return hashlib.sha256(_id_prefix(fields["policy"].fingerprint) + _canonical_json(fields)).hexdigest()[:32]


@lru_cache(maxsize=64)
def _id_prefix(fingerprint: str) -> bytes:
    """What a decision id hashes before the canonical complaint: the policy's fingerprint and a newline."""
    return fingerprint.encode() + b"\n"


def _canonical_json(fields: Mapping[str, Any]) -> bytes:
    """The canonical complaint of a decision's fields, UTF-8 (:meth:`Decision.canonical_complaint`)."""
    given, facts = fields["facts"], {}
    for name in _sorted(given):
        value = given[name]
        kind = value.__class__
        facts[name] = plain(value) if kind is Decimal else value if kind in _AS_IS else _canonical(value)
    received = fields["received_at"]
    body = {"complaint_id": fields["complaint_id"], "customer_id": fields["customer_id"], "facts": facts, "locale": fields["locale"],
            "received_at": None if received is None else iso_utc(received)}
    return dumps(body)  # compact, keys in the order given (sorted), UTF-8


@lru_cache(maxsize=64)
def _sorted_names(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(names))


def _sorted(facts: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of ``facts`` in order: a policy's decisions have one or a few sets of names, sorted once each."""
    return _sorted_names(tuple(facts))




def _seconds(span: timedelta) -> str:
    return f"{span.days * 86400 + span.seconds}s"


_AS_IS = frozenset((str, int, bool, tuple, type(None)))
"""Values JSON writes as they are."""
_CANONICAL: dict[type, Callable[[Any], Any]] = {Decimal: plain, datetime: iso_utc, date: date.isoformat, timedelta: _seconds, float: repr}
"""How :meth:`Decision.canonical_complaint` writes values JSON has no type for (and floats, as Python
writes them), by exact class; subclasses go the long way round."""


def _canonical(value: Any) -> Any:
    """A fact value as the canonical complaint writes it: text, number, bool, null or a list of text."""
    write = _CANONICAL.get(value.__class__)
    if write is not None:
        return write(value)
    if value is None or value.__class__ in _AS_IS:
        return value
    if isinstance(value, bool):  # subclasses (a str Enum) as their plain value
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)  # a str Enum's own __str__ would write S.high
    for kind, written in _CANONICAL.items():
        if isinstance(value, kind):
            return written(value)
    raise TypeError(f"cannot write {type(value).__name__} canonically")


_TEXTS: TypeAdapter[tuple[str, ...]] = TypeAdapter(tuple[str, ...])
Budget._written = {"steps": TypeAdapter(tuple[BudgetStep, ...]), "summary": TypeAdapter(str)}
Approval._written = {"reasons": _TEXTS}
Budget._json, Approval._json = TypeAdapter(Budget), TypeAdapter(Approval)
Decision._written = {"reasons": _TEXTS, "decision_id": TypeAdapter(str)}


# BaseModel's own slot descriptors: setting through them skips the attribute lookup of
# object.__setattr__ (pydantic's __setattr__ refuses frozen models), and costs a third less.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def builder(cls: type[_M]) -> Callable[[dict[str, Any], dict[str, Any] | None], _M]:
    """A fast constructor for ``cls`` from already-valid values and its private attributes.

    ``model_construct`` does the same with per-field default handling and, for a model with private
    attributes, a ``model_post_init`` call: building a decision's three models (decision, budget,
    approval) and setting their private records costs 140,000 instructions that way against 20,000
    here (callgrind, per decision), more than all the rest of deciding.
    The engine builds every decision this way: the values come from a compiled policy and checked
    facts, so validating them again would only cost time. ``fields`` must name every field of ``cls``.
    """
    names = set(cls.model_fields)
    new = cls.__new__

    def build(fields: dict[str, Any], private: dict[str, Any] | None) -> _M:
        instance = new(cls)
        _set_dict(instance, fields)
        _set_fields_set(instance, names)
        _set_extra(instance, None)
        _set_private(instance, private)
        return instance

    return build


_DECISION_FIELDS = set(Decision.model_fields)
_new = object.__new__
# the parts' own slot descriptors: their classes are frozen, and these skip the lookup of object.__setattr__
_set_amount, _set_currency, _set_budget_private = (Budget.__dict__[name].__set__ for name in ("amount", "currency", "_private"))
_set_level, _set_approval_private = (Approval.__dict__[name].__set__ for name in ("level", "_private"))


def new_decision(fields: dict[str, Any], amount: Decimal, currency: str, level: str, private: dict[str, Any]) -> Decision:
    """A decision built as :func:`builder` builds a model, with its budget (``amount``, ``currency``) and
    approval (``level``), the three sharing one private dict (``{"_why": record}``): what deciding makes
    of every complaint, in one call."""
    budget = _new(Budget)
    _set_amount(budget, amount)
    _set_currency(budget, currency)
    _set_budget_private(budget, private)
    approval = _new(Approval)
    _set_level(approval, level)
    _set_approval_private(approval, private)
    fields["budget"], fields["approval"] = budget, approval
    decision = _new(Decision)
    _set_dict(decision, fields)
    _set_fields_set(decision, _DECISION_FIELDS)
    _set_extra(decision, None)
    _set_private(decision, private)
    return decision

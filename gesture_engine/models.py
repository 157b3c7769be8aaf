"""The decision a policy returns, as frozen pydantic models.

These models are the public, serialised contract (``schemas/decision.schema.json`` is generated
from them). They are deliberately apart from the compiled policy structures the evaluator uses.
``model_dump_json()`` is deterministic: field order is fixed and nothing depends on the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

FactJSON = Annotated[Any, WithJsonSchema({"type": ["boolean", "integer", "number", "string"]})]
"""A fact value: bool, int, float, ``Decimal`` (money, serialised as a string) or str. Typed ``Any`` for
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

    kind: Literal["base", "percent", "multiply", "min", "max", "cap", "goodwill"]
    text: str
    amount: Decimal


class Approval(Frozen):
    """Who must approve, and why that level."""

    level: str
    reasons: tuple[str, ...]


class RuleTrace(Frozen):
    """One rule the engine evaluated, whether it fired, and which facts its condition reads."""

    # The values read are in the decision's ``facts``: without them each entry is a constant of the
    # policy, built once at load instead of once per decision.

    rule: str
    hit: Literal["first", "collect", "default"]
    fired: bool
    reads: tuple[str, ...] = Field(description="Facts the rule's condition reads; their values are in the decision's facts.")


class PolicyRef(Frozen):
    """Which policy decided: its name, version and the sha256 of its canonical content."""

    name: str
    version: str
    fingerprint: str


class Decision(Frozen):
    """What to do for one complaint, and why."""

    complaint_id: str | None = None
    customer_id: str | None = None
    action: str = Field(description="Recommended recovery action id.")
    action_label: str
    rule: str = Field(description="The first-hit rule that chose the action.")
    gestures: tuple[Gesture, ...]
    budget: Money
    budget_steps: tuple[BudgetStep, ...]
    budget_summary: str
    respond_within: str = Field(description="Response deadline as a duration, e.g. '1h' or '1d4h'.")
    respond_within_seconds: int
    respond_by: datetime | None = Field(default=None, description="received_at + respond_within, when received_at was given.")
    approval: Approval
    reasons: tuple[str, ...] = Field(description="Why: the rationale of every rule that fired, in order.")
    facts: dict[str, FactJSON] = Field(description="Every fact the decision used, derived facts included.")
    trace: tuple[RuleTrace, ...]
    policy: PolicyRef


# BaseModel's own slot descriptors: setting through them skips the attribute lookup of
# object.__setattr__ (pydantic's __setattr__ refuses frozen models), and costs a third less.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def builder(cls: type[_M]) -> Callable[[dict[str, object]], _M]:
    """A fast constructor for ``cls`` from already-valid values, skipping validation.

    Like ``model_construct`` without its per-field default handling. The engine builds every
    decision this way: the values come from a compiled policy and checked facts, so validating them
    again would only cost time. The dict given must name every field of ``cls``.
    """
    names = set(cls.model_fields)
    new = cls.__new__

    def build(fields: dict[str, object]) -> _M:
        instance = new(cls)
        _set_dict(instance, fields)
        _set_fields_set(instance, names)
        _set_extra(instance, None)
        _set_private(instance, None)
        return instance

    return build

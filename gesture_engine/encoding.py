"""The one encoder of decisions: ``Decision`` -> JSON bytes.

``Policy.decide_json`` (and ``decide_json_bytes``), batches, the ledger and the decision log all
write decisions through :func:`decision_json`, so a decision reads the same byte for byte wherever
it is written: compact, fields in the model's order, money as decimal strings, non-ASCII text as
UTF-8, exactly ``d.model_dump_json().encode()``.

Most of a decision is the same for every complaint that fires the same rules (action, gestures,
deadline, policy, trace). A decision as ``decide`` made it is therefore written from its outcome's
:class:`DecisionTemplate` (those fields made JSON-ready once, by pydantic-core) and its own values
(ids, facts, budget, approval, texts), in one :func:`gesture_engine.json_bytes.dumps`; the budget's
steps go straight from the numbers to JSON, without a model per step. Any other decision (read back
from JSON, copied, built by hand) is written by the model's serializer itself.
``tests/test_decide_json.py`` holds both ways to the same bytes on every policy and complaint it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from gesture_engine.decision import Decision, decision_id_of
from gesture_engine.json_bytes import dumps

_DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)


class Working(Protocol):
    """What the encoder reads of a decision's private record (``policy._Working``)."""

    outcome: Any
    """What the rules that fired decide (``policy._Outcome``): its currency, and its template."""
    amount: Decimal
    level: str

    def template(self) -> DecisionTemplate: ...

    def budget_written(self) -> tuple[tuple[tuple[str, str, Decimal], ...], str]: ...

    def approval_reasons(self) -> tuple[str, ...]: ...

    def reasons(self) -> tuple[str, ...]: ...


def decision_json(decision: Decision) -> bytes:
    """``decision`` as compact JSON, UTF-8."""
    private = decision.__pydantic_private__
    fields = decision.__dict__
    why: Working | None = private.get("_why") if private else None
    # decide gives a decision, its budget and its approval one private dict; a copy (changed or not) has
    # a dict of its own, and a budget or approval put in its place brings theirs
    if (why is None or not hasattr(why, "budget_written") or fields["budget"]._private is not private
            or fields["approval"]._private is not private):
        return _DECISION.dump_json(decision)
    return why.template().encode(fields, why)


class DecisionTemplate:
    """A decision's JSON as far as the rules that fired decide it, made once per outcome from the outcome's
    template of a decision's fields (``policy._Outcome.fields``): every field in the model's order, the
    ones the outcome fixes (action, gestures, deadline, policy, trace) as pydantic-core makes them JSON-ready,
    the others left to each decision. A field a decision has its own value for (gestures with nothing
    to spend, amounts owed, a full trace) is taken from the decision."""

    __slots__ = ("fields", "ready")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.fields = fields
        self.ready = {name: None if value is None else to_jsonable_python(value) for name, value in fields.items()}
        self.ready["decision_id"] = self.ready["reasons"] = None  # the computed fields, last as the model writes them

    def encode(self, fields: Mapping[str, Any], why: Working) -> bytes:
        """A decision of this outcome as JSON, from its fields (``Decision.__dict__``) and ``why``, its record."""
        made = self.fields
        steps, summary = why.budget_written()
        body = self.ready.copy()
        body["complaint_id"], body["customer_id"], body["received_at"] = fields["complaint_id"], fields["customer_id"], fields["received_at"]
        body["locale"], body["respond_by"], body["facts"] = fields["locale"], fields["respond_by"], fields["facts"]
        # amounts as the text they are written as (a Decimal's str), not through orjson's call back for each
        body["budget"] = {"amount": str(why.amount), "currency": why.outcome.currency,
                          "steps": [{"kind": kind, "text": text, "amount": str(amount)} for kind, text, amount in steps], "summary": summary}
        body["approval"] = {"level": why.level, "reasons": why.approval_reasons()}
        body["decision_id"], body["reasons"] = decision_id_of(fields), why.reasons()
        for name in _OWN:
            if fields[name] is not made[name]:
                body[name] = fields[name]
        return dumps(body)


_OWN = ("gestures", "owed", "trace")
"""Fields the outcome fixes that decide may give a decision its own value of."""

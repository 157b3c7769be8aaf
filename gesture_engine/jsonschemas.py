"""JSON Schemas generated from pydantic models so they cannot drift from the code: the policy
document (document.py), complaints (per policy) and decisions. A test fails when the committed
copies are stale.

Regenerate the committed files with ``python -m gesture_engine.jsonschemas schemas/``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from gesture_engine.decision import Decision
from gesture_engine.engine.facts import ID_LIMIT, ITEM_LIMIT, LIST_LIMIT, Fact
from gesture_engine.load.document import PolicyDocument, schema_pattern
from gesture_engine.money import MONEY_LIMIT
from gesture_engine.resources import schema_path

if TYPE_CHECKING:
    from gesture_engine.policy import Policy

SCHEMAS = ("policy", "complaint", "decision")
POLICY_SCHEMA_ID = "https://gesture-engine.dev/schemas/policy.schema.json"


_TIME_SCHEMAS: dict[str, dict[str, Any]] = {
    "duration": {"type": "string", "pattern": r"^(?:(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?"
                                              r"|P(?:[0-9]+W|(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+S)?)?))$",
                 "description": "2h30m (days d, hours h, minutes m, seconds s) or ISO 8601 PT2H30M; at most 36500 days."},
    "date": {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    "datetime": {"type": "string", "format": "date-time",
                 "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})$"},
}
"""Complaint schemas of duration, date and datetime facts: the shapes the reader accepts (it checks the calendar too)."""


def _fact_field(fact: Fact) -> tuple[Any, Any]:
    extra: dict[str, Any] = {"description": fact.description or None}
    kind: Any
    if fact.finite:
        kind = Literal[fact.values]
    elif fact.type == "money":
        kind = Decimal | str | dict[str, Any]
        amount = [
            {"type": "number", "minimum": float(fact.minimum or 0), "maximum": float(fact.maximum or MONEY_LIMIT)},
            {"type": "string", "pattern": schema_pattern(r"^[0-9]{1,13}(?:\.[0-9]{1,10})?$")},  # ASCII digits: docs/policy-format.md
        ]
        currencies = [fact.currencies.currency, *fact.currencies.rates] if fact.currencies is not None else []
        with_currency = {"type": "object", "required": ["amount", "currency"], "additionalProperties": False,
                         "properties": {"amount": {"anyOf": amount}, "currency": {"enum": currencies}}}
        extra["json_schema_extra"] = {"anyOf": [*amount, with_currency] if currencies else amount}
    elif fact.type == "integer":
        kind = int
        extra.update(ge=fact.minimum, le=fact.maximum)
    elif fact.type == "number":
        kind = float
        extra.update(ge=fact.minimum, le=fact.maximum)
    elif fact.type == "boolean":
        kind = bool
    elif fact.type in _TIME_SCHEMAS:
        kind = str
        extra["json_schema_extra"] = _TIME_SCHEMAS[fact.type]
    elif fact.type == "list":
        kind = list[str]
        item: dict[str, Any] = {"enum": list(fact.values)} if fact.values else {"type": "string", "minLength": 1, "maxLength": ITEM_LIMIT}
        extra["json_schema_extra"] = {"type": "array", "items": item, "uniqueItems": True, "maxItems": LIST_LIMIT}
    else:
        kind = str
        extra["max_length"] = fact.max_length
    extra = {k: v for k, v in extra.items() if v is not None}
    if fact.required:
        return kind, Field(..., **extra)
    return kind, Field(default=fact.default, **extra)


def complaint_model(policy: Policy) -> type[BaseModel]:
    """A pydantic model of a complaint for ``policy``: its facts plus the optional envelope."""
    fields: dict[str, Any] = {
        "complaint_id": (str | int | None, Field(default=None, max_length=ID_LIMIT, description="Echoed in the decision.")),
        "customer_id": (str | int | None, Field(default=None, max_length=ID_LIMIT, description="Echoed in the decision.")),
        "received_at": (datetime | None, Field(default=None, description="When the complaint arrived (ISO 8601 with timezone); sets respond_by.")),
    }
    for name, fact in policy.facts.items():
        fields[name] = _fact_field(fact)
    return create_model(
        "Complaint",
        __config__=ConfigDict(extra="forbid", title=f"Complaint for policy {policy.name}"),
        **fields,
    )


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False, default=str) + "\n"


def schema_text(name: str, policy: Policy | None = None) -> str:
    """The named schema as JSON text; ``complaint`` needs the policy it describes."""
    if name == "policy":
        return _dump({"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": POLICY_SCHEMA_ID,
                      **PolicyDocument.model_json_schema()})
    if name == "decision":
        return _dump({"$schema": "https://json-schema.org/draft/2020-12/schema", **Decision.model_json_schema(mode="serialization")})
    if name == "complaint" and policy is not None:
        model = complaint_model(policy)
        return _dump({"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()})
    raise ValueError(f"unknown schema {name!r} (or a complaint schema without a policy)")


def generated_schemas() -> dict[str, str]:
    """File name -> text of every generated schema (complaint schema for the default policy)."""
    from gesture_engine.policy import load_policy

    return {
        "policy.schema.json": schema_text("policy"),
        "complaint.schema.json": schema_text("complaint", load_policy()),
        "decision.schema.json": schema_text("decision"),
    }


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else schema_path("policy").parent
    for name, text in generated_schemas().items():
        (target / name).write_text(text, encoding="utf-8")
        print(f"wrote {target / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

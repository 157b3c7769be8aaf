"""The JSON Schemas in schemas/: valid, current with the code, and describing real documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from gesture_engine import Policy
from gesture_engine.jsonschemas import generated_schemas
from gesture_engine.resources import schema_path

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@pytest.mark.parametrize("name", ["policy.schema.json", "complaint.schema.json", "decision.schema.json"])
def test_generated_schemas_are_current(name: str) -> None:
    expected = generated_schemas()[name]
    actual = (SCHEMAS / name).read_text(encoding="utf-8")
    assert actual == expected, f"schemas/{name} is stale: run `python -m gesture_engine.jsonschemas schemas/`"


@pytest.mark.parametrize("name", ["policy", "complaint", "decision"])
def test_schemas_are_valid_2020_12(name: str) -> None:
    Draft202012Validator.check_schema(json.loads(schema_path(name).read_text(encoding="utf-8")))


def test_decisions_match_the_decision_schema(default_policy: Policy) -> None:
    validator = Draft202012Validator(json.loads(schema_path("decision").read_text(encoding="utf-8")))
    for complaint in (
        {"severity": "low", "channel": "email"},
        {"severity": "critical", "channel": "press", "audience": 10**6, "received_at": "2026-01-01T00:00:00Z", "complaint_id": "x"},
    ):
        validator.validate(json.loads(default_policy.decide(complaint).model_dump_json()))


def test_complaint_schema_accepts_what_decide_accepts_and_rejects_unknown_fields() -> None:
    validator = Draft202012Validator(json.loads(schema_path("complaint").read_text(encoding="utf-8")))
    validator.validate({"severity": "high", "channel": "press", "customer_value": "10.50", "audience": 5})
    assert list(validator.iter_errors({"severity": "high", "channel": "press", "tier": "gold"}))
    assert list(validator.iter_errors({"channel": "press"}))

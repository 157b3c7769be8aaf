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


def test_names_ids_codes_and_durations_end_where_the_text_ends() -> None:
    """Python validators match a JSON Schema pattern with ``re``, where ``$`` also matches before a final
    newline: the shipped schema refuses "tiny\\n" as the models do (issue 14)."""
    validator = Draft202012Validator(json.loads(schema_path("policy").read_text(encoding="utf-8")))
    document = {"policy": "tiny", "version": "1", "currency": "USD", "budget_cap": 1,
                "facts": {"severity": {"type": "level", "values": ["low"], "required": True}},
                "gestures": {"apology": {"label": "Sorry"}}, "actions": {"sorry": {"label": "Sorry"}},
                "approval": {"levels": ["agent"], "ladder": [{"level": "agent"}]},
                "rules": [{"id": "r1", "default": True, "then": {"action": "sorry", "respond_within": "1d"}}]}
    assert validator.is_valid(document)
    for broken in ({**document, "policy": "tiny\n"}, {**document, "currency": "USD\n"},
                   {**document, "gestures": {"apology\n": {"label": "Sorry"}}},
                   {**document, "rules": [{"id": "r1\n", "default": True, "then": {"action": "sorry", "respond_within": "1d"}}]},
                   {**document, "rules": [{"id": "r1", "default": True, "then": {"action": "sorry", "respond_within": "1d\n"}}]}):
        assert not validator.is_valid(broken), broken
    complaints = Draft202012Validator(json.loads(schema_path("complaint").read_text(encoding="utf-8")))
    assert complaints.is_valid({"severity": "high", "channel": "press", "customer_value": "12.50"})
    for money in ("12\n", "١٢", "１２", " 12"):
        assert not complaints.is_valid({"severity": "high", "channel": "press", "customer_value": money}), money

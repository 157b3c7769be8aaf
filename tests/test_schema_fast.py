"""The compiled schema check agrees with jsonschema on every document we can think of, and mutations."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gesture_engine import PolicyError
from gesture_engine.loader import read_policy_source
from gesture_engine.resources import default_policy_path
from gesture_engine.schema import _FastSchema, fast_policy_check, policy_validator

HOSTILE = Path(__file__).parent / "hostile" / "policies"
FIXTURES = Path(__file__).parent / "fixtures"


def documents() -> list[Any]:
    found = [read_policy_source(default_policy_path()).data]
    for path in sorted([*HOSTILE.iterdir(), *FIXTURES.rglob("*.yaml")]):
        try:
            found.append(read_policy_source(path).data)
        except PolicyError:
            continue  # refused before the schema: nothing to compare
    return found


def agree(data: Any) -> None:
    assert fast_policy_check()(data) == policy_validator().is_valid(data), data


def test_known_documents() -> None:
    docs = documents()
    assert len(docs) > 20
    for data in docs:
        agree(data)


REPLACEMENTS: list[Any] = [None, True, 0, -1, Decimal("1.5"), "", "x", "High Severity", [], {}, ["a", "a"], {"x": 1}, 10**13]


def mutate(data: Any, rnd: random.Random) -> Any:
    """Change, delete or add one value somewhere in ``data``."""
    data = copy.deepcopy(data)
    node, parent, key = data, None, None
    for _ in range(rnd.randint(1, 8)):
        if isinstance(node, dict) and node:
            parent, key = node, rnd.choice(sorted(node))
        elif isinstance(node, list) and node:
            parent, key = node, rnd.randrange(len(node))
        else:
            break
        node = parent[key]
    if parent is None:
        return data
    roll = rnd.random()
    if roll < 0.2 and isinstance(parent, dict):
        del parent[key]
    elif roll < 0.3 and isinstance(parent, dict):
        parent[rnd.choice(["extra", "collect", "default", "max", "in", "values"])] = rnd.choice(REPLACEMENTS)
    else:
        parent[key] = rnd.choice(REPLACEMENTS)
    return data


@pytest.mark.parametrize("seed", range(4))
def test_mutations_of_valid_documents(seed: int) -> None:
    rnd = random.Random(seed)
    valid = [d for d in documents() if policy_validator().is_valid(d)]
    assert valid
    for _ in range(400):
        agree(mutate(rnd.choice(valid), rnd))


SMALL_SCHEMAS: list[dict[str, Any]] = [
    {"type": "integer", "minimum": 0},
    {"type": ["number", "boolean"], "minimum": 0, "maximum": 10},
    {"minimum": 0, "maxLength": 1, "minItems": 1, "minProperties": 1},
    {"type": ["string", "object"], "pattern": "^a", "required": ["a"], "additionalProperties": False, "properties": {"a": {}}},
    {"type": "array", "uniqueItems": True, "items": {"enum": ["a", "b", 1, None]}},
    {"enum": ["a", "b"]},
    {"type": "object", "propertyNames": {"maxLength": 1}, "additionalProperties": {"type": "null"}},
]
SMALL_VALUES: list[Any] = [None, True, False, 0, -1, 5, 11, Decimal("5"), Decimal("-1"), "", "a", "ab", "b", [], ["a"], ["a", "a"],
                           [1, True], [None, "b"], {}, {"a": 1}, {"a": None}, {"ab": None}, {"a": 1, "b": 2}, {1: None}]


@pytest.mark.parametrize("schema", SMALL_SCHEMAS)
def test_keywords_combine_per_kind_as_jsonschema_does(schema: dict[str, Any]) -> None:
    """Each keyword applies only to its kind of value; the type (integer, bool) is still checked."""
    check = _FastSchema(schema).compile(schema)
    validator = Draft202012Validator(schema)
    for value in SMALL_VALUES:
        assert check(value) == validator.is_valid(value), (schema, value)


def test_unknown_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="exclusiveMinimum"):
        _FastSchema({}).compile({"type": "number", "exclusiveMinimum": 0})

"""The generated policy JSON Schema and the document models agree: on every document we can think of,
and on random mutations of valid ones, the schema accepts exactly what validation accepts.

Editors check policies with the JSON Schema while loading checks them with the models; this keeps
the two from telling an author different things.
"""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gesture_engine import PolicyError
from gesture_engine.jsonschemas import schema_text
from gesture_engine.load.document import check_document
from gesture_engine.load.source import Document, read_policy_source
from gesture_engine.resources import default_policy_path

HOSTILE = Path(__file__).parent / "hostile" / "policies"
FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = Draft202012Validator(json.loads(schema_text("policy")))


def documents() -> list[Any]:
    found = [read_policy_source(default_policy_path()).data]
    for path in sorted([*HOSTILE.iterdir(), *FIXTURES.rglob("*.yaml")]):
        try:
            found.append(read_policy_source(path).data)
        except PolicyError:
            continue  # refused before validation: nothing to compare
    return found


def valid(data: Any) -> bool:
    """True when the models find no problem (the compiler's later checks are not part of this)."""
    return not check_document(Document(data, {}, "mutated.yaml")).problems


def agree(data: Any) -> None:
    assert valid(data) == SCHEMA.is_valid(data), data


def test_known_documents() -> None:
    docs = documents()
    assert len(docs) > 20
    assert any(not valid(d) for d in docs) and any(valid(d) for d in docs)
    for data in docs:
        agree(data)


REPLACEMENTS: list[Any] = [None, True, 0, -1, Decimal("1.5"), "", "x", "High Severity", [], {}, ["a", "a"], {"x": 1}, 10**13,
                           "money", "level", {"eq": 1}, [{"x": 1}], Decimal("1E+400"), "tiny\n", "1d\n", "USD\n", "\nx"]


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
        parent[rnd.choice(["extra", "collect", "default", "max", "in", "values", "min", "max_length", "not"])] = rnd.choice(REPLACEMENTS)
    else:
        parent[key] = rnd.choice(REPLACEMENTS)
    return data


@pytest.mark.parametrize("seed", range(4))
def test_mutations_of_valid_documents(seed: int) -> None:
    rnd = random.Random(seed)
    good = [d for d in documents() if valid(d)]
    assert good
    outcomes = set()
    for _ in range(400):
        mutated = mutate(rnd.choice(good), rnd)
        agree(mutated)
        outcomes.add(valid(mutated))
    assert outcomes == {True, False}  # the mutations exercise both answers

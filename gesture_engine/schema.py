"""Validation of policy documents against ``schemas/policy.schema.json``, with plain messages.

jsonschema finds every structural mistake in one pass; this module turns its errors into located
``Problem``s whose messages name what was expected (and suggest the nearest known key).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .errors import Problem
from .facts import did_you_mean
from .loader import Document, PathKey
from .resources import schema_path


@lru_cache(maxsize=1)
def policy_validator() -> Draft202012Validator:
    schema = json.loads(schema_path("policy").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


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


_TYPE_WORDS = {"object": "a mapping", "array": "a list", "string": "a string", "number": "a number",
               "integer": "an integer", "boolean": "true or false", "null": "null"}


def _message(error: ValidationError) -> tuple[PathKey, str]:
    """Path and readable message for one jsonschema error."""
    path: PathKey = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        path = path + (error.instance,)  # a bad key: point at the key, not its parent
    kind, value, instance = error.validator, cast(Any, error.validator_value), cast(Any, error.instance)
    subschema = cast(dict[str, Any], error.schema)
    if kind == "required":  # jsonschema reports each missing key as its own error
        missing = error.message.split(" is a required property")[0]
        return path, f"missing required key {missing}"
    if kind == "additionalProperties":
        known = list(subschema.get("properties", {}))
        extras = [key for key in instance if key not in known]
        if not known:
            return path, f"unknown key {extras[0]!r}"
        return path + (extras[0],), f"unknown key {extras[0]!r}{did_you_mean(extras[0], known)}; expected one of {', '.join(known)}"
    if kind == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wanted)
        hint = " (quote it in YAML)" if wanted == ["string"] and not isinstance(instance, (dict, list)) else ""
        return path, f"expected {words}, got {_shown(instance)}{hint}"
    if kind == "enum":
        return path, f"expected one of {', '.join(map(str, value))}; got {_shown(instance)}{did_you_mean(str(instance), map(str, value))}"
    if kind == "pattern":
        if value == "^[a-z][a-z0-9_]*$":
            return path, f"{_shown(instance)} is not a valid name (lower case letters, digits and _, starting with a letter)"
        if value.startswith("^([0-9]+d)"):
            return path, f"{_shown(instance)} is not a duration like 30m, 2h, 1d or 1h30m"
        if value == "^[a-z0-9][a-z0-9_.-]*$":
            return path, f"{_shown(instance)} is not a valid rule id (lower case letters, digits, '.', '_' and '-')"
        if value == "^[A-Z]{3}$":
            return path, f"{_shown(instance)} is not an ISO 4217 currency code like USD"
        return path, f"{_shown(instance)} does not match {value}"
    if kind == "minimum":
        return path, f"must be ≥ {value}; got {_shown(instance)}"
    if kind == "maximum":
        return path, f"must be ≤ {value}; got {_shown(instance)}"
    if kind == "minItems":
        return path, f"needs at least {value} item{'s' if value != 1 else ''}"
    if kind == "maxItems":
        return path, f"takes at most {value} items"
    if kind == "minProperties":
        return path, "must not be empty"
    if kind == "uniqueItems":
        return path, "items must be unique"
    if kind == "minLength":
        return path, "must not be empty"
    if kind == "maxLength":
        return path, f"is longer than {value} characters"
    return path, error.message


def schema_problems(document: Document) -> list[tuple[PathKey, Problem]]:
    """Every schema violation in ``document``: the path it is at, and the located problem."""
    problems = []
    for error in policy_validator().iter_errors(document.data):
        path, message = _message(error)
        problems.append((path, document.problem(path, message, "schema")))
    return problems

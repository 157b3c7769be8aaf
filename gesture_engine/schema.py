"""Validation of policy documents against ``schemas/policy.schema.json``, with plain messages.

jsonschema finds every structural mistake in one pass; this module turns its errors into located
``Problem``s whose messages name what was expected (and suggest the nearest known key).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from decimal import Decimal
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
    if fast_policy_check()(document.data):
        return []
    problems = []
    for error in policy_validator().iter_errors(document.data):
        path, message = _message(error)
        problems.append((path, document.problem(path, message, "schema")))
    return problems


# -- a compiled fast path ---------------------------------------------------------------------------
# jsonschema walks the schema for every value it checks, which costs ~30 µs a value: 6 s for a
# 10,000-rule policy. Policies are valid far more often than not, so validity is first decided by
# the schema compiled once into closures (the keywords policy.schema.json uses; any other keyword
# makes compilation refuse, so the two cannot silently drift); only an invalid document is walked
# by jsonschema, for its messages. tests/test_schema_fast.py checks both agree.

Check = Callable[[Any], bool]
Schema = dict[str, Any] | bool
_IGNORED = {"description", "title", "$schema", "$id", "default", "$defs", "examples"}

# Keywords by the kind of value they constrain: each group is checked by one closure (one call and
# one isinstance per value) instead of a closure per keyword.
_OBJECT_WORDS = {"required", "properties", "additionalProperties", "propertyNames", "minProperties"}
_ARRAY_WORDS = {"items", "minItems", "maxItems", "uniqueItems"}
_STRING_WORDS = {"pattern", "minLength", "maxLength"}
_NUMBER_WORDS = {"minimum", "maximum"}
_KNOWN = {"type", "$ref", "enum"} | _OBJECT_WORDS | _ARRAY_WORDS | _STRING_WORDS | _NUMBER_WORDS

# Python types of each JSON type. bool is an int, but never a JSON number or integer: tests that
# accept int also ask ``type(value) is not bool``.
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "number": (int, float, Decimal),
    "integer": (int,), "boolean": (bool,), "null": (type(None),),
}


def _python_types(kinds: set[str]) -> tuple[type, ...]:
    return tuple({t: None for kind in sorted(kinds) for t in _PYTHON_TYPES[kind]})


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


class _FastSchema:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        """The compiled target of ``pointer``, compiled once; a recursive use calls it through ``refs``."""
        check = self.refs.get(pointer)
        if check is None:
            self.refs[pointer] = lambda value: self.refs[pointer](value)  # replaced below, once compiled
            target: Any = self.root
            for part in pointer.removeprefix("#/").split("/"):
                target = target[part]
            self.refs[pointer] = check = self.compile(target)
        return check

    def compile(self, schema: Schema) -> Check:
        """One predicate for ``schema``: a chain of per-kind checks ending in the type test, and'ed with $ref and enum."""
        if isinstance(schema, bool):
            return _always if schema else _never
        unknown = set(schema) - _IGNORED - _KNOWN
        if unknown:
            raise ValueError(f"the fast validator does not know {sorted(unknown)}")
        spec = schema.get("type")
        allowed = None if spec is None else {spec} if isinstance(spec, str) else set(spec)
        check = _type_check(allowed)
        for kinds, words, build in _FACETS:
            applies = kinds if allowed is None else kinds & allowed
            if applies and not words.isdisjoint(schema):
                check = build(self, schema, applies, check)
        checks = [check]
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "enum" in schema:
            checks.append(_enum_check(schema["enum"]))
        return _all([c for c in checks if c is not _always])


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(one(value) for one in checks)  # only for $ref or enum beside other keywords


def _type_check(allowed: set[str] | None) -> Check:
    if allowed is None:
        return _always
    types = _python_types(allowed)
    if "boolean" in allowed or int not in types:
        return lambda value: isinstance(value, types)
    return lambda value: isinstance(value, types) and type(value) is not bool


def _enum_check(options: list[Any]) -> Check:
    """Equal and of the same type as an option (so 1 is not true and 1 is not 1.0); a set lookup for names."""
    if all(type(option) is str for option in options):
        names = frozenset(options)
        return lambda value: type(value) is str and value in names
    return lambda value: any(value == option and type(value) is type(option) for option in options)


# Each facet builder returns a check for values of its kind (of ``kinds``, those the type allows);
# any other value is passed on to ``other``, in the end to the type test.

def _object_facet(fast: _FastSchema, schema: dict[str, Any], kinds: set[str], other: Check) -> Check:
    """required, minProperties, then each key's name and value in one pass."""
    required = tuple(schema.get("required", ()))
    least = schema.get("minProperties", 0)
    properties = {name: fast.compile(sub) for name, sub in schema.get("properties", {}).items()}
    extra = schema.get("additionalProperties", True)
    additional = None if extra is True else fast.compile(extra)
    names = fast.compile(schema["propertyNames"]) if "propertyNames" in schema else None

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return other(value)
        if len(value) < least:
            return False
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            sub = properties.get(key, additional)
            if sub is not None and not sub(item):
                return False
            if names is not None and not names(key):
                return False
        return True

    return check


def _array_facet(fast: _FastSchema, schema: dict[str, Any], kinds: set[str], other: Check) -> Check:
    least, most = schema.get("minItems", 0), schema.get("maxItems", math.inf)
    item = fast.compile(schema.get("items", True))
    unique = bool(schema.get("uniqueItems", False))

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return other(value)
        if not least <= len(value) <= most:
            return False
        for one in value:
            if not item(one):
                return False
        return not unique or _unique(value)

    return check


def _unique(value: list[Any]) -> bool:
    """No two items alike; names compare directly, anything else by its canonical JSON."""
    for item in value:
        if type(item) is not str:
            return len({json.dumps(v, sort_keys=True, default=str) for v in value}) == len(value)
    return len(set(value)) == len(value)


def _string_facet(fast: _FastSchema, schema: dict[str, Any], kinds: set[str], other: Check) -> Check:
    least, most = schema.get("minLength", 0), schema.get("maxLength", math.inf)
    search = re.compile(schema["pattern"]).search if "pattern" in schema else None

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return other(value)
        return least <= len(value) <= most and (search is None or search(value) is not None)

    return check


def _number_facet(fast: _FastSchema, schema: dict[str, Any], kinds: set[str], other: Check) -> Check:
    types = _python_types(kinds)  # (int,) when the type allows integers but not numbers
    least, most = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)

    def check(value: Any) -> bool:
        if not isinstance(value, types) or type(value) is bool:
            return other(value)
        return bool(least <= value <= most)

    return check


Facet = Callable[[_FastSchema, dict[str, Any], set[str], Check], Check]
_FACETS: list[tuple[set[str], set[str], Facet]] = [  # the last applying one is tried first
    ({"number", "integer"}, _NUMBER_WORDS, _number_facet),
    ({"string"}, _STRING_WORDS, _string_facet),
    ({"array"}, _ARRAY_WORDS, _array_facet),
    ({"object"}, _OBJECT_WORDS, _object_facet),
]


@lru_cache(maxsize=1)
def fast_policy_check() -> Check:
    """The policy schema compiled to one predicate: True exactly when jsonschema finds no error."""
    schema = json.loads(schema_path("policy").read_text(encoding="utf-8"))
    return _FastSchema(schema).compile(schema)

"""Validation of policy documents against ``schemas/policy.schema.json``, with plain messages.

jsonschema finds every structural mistake in one pass; this module turns its errors into located
``Problem``s whose messages name what was expected (and suggest the nearest known key).
"""

from __future__ import annotations

import json
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
_IGNORED = {"description", "title", "$schema", "$id", "default", "$defs", "examples"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class _FastSchema:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        if pointer not in self.refs:
            self.refs[pointer] = lambda value: self.refs[pointer + "#compiled"](value)  # resolved lazily (recursion)
            target: Any = self.root
            for part in pointer.removeprefix("#/").split("/"):
                target = target[part]
            self.refs[pointer + "#compiled"] = self.compile(target)
        return self.refs[pointer]

    def compile(self, schema: dict[str, Any]) -> Check:
        checks: list[Check] = []
        unknown = set(schema) - _IGNORED - set(_KEYWORDS)
        if unknown:
            raise ValueError(f"the fast validator does not know {sorted(unknown)}")
        for keyword in _KEYWORDS:
            if keyword in schema:
                checks.append(_KEYWORDS[keyword](self, schema[keyword], schema))
        checks = [c for c in checks if c is not _ALWAYS]
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)


def _always(value: Any) -> bool:
    return True


_ALWAYS: Check = _always


def _k_type(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    kinds = [_TYPES[spec]] if isinstance(spec, str) else [_TYPES[k] for k in spec]
    return lambda value: any(kind(value) for kind in kinds)


def _k_ref(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    return fast.ref(spec)


def _k_properties(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    compiled = {name: fast.compile(sub) for name, sub in spec.items()}
    extra = schema.get("additionalProperties", True)
    other: Check | None = None if extra is True else (lambda v: False) if extra is False else fast.compile(extra)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            sub = compiled.get(key)
            if sub is not None:
                if not sub(item):
                    return False
            elif other is not None and not other(item):
                return False
        return True

    return check


def _k_additional(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    if "properties" in schema:
        return _ALWAYS  # handled together with properties
    return _k_properties(fast, {}, schema)


def _k_required(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    names = tuple(spec)
    return lambda value: not isinstance(value, dict) or all(name in value for name in names)


def _k_items(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    item = fast.compile(spec)
    return lambda value: not isinstance(value, list) or all(item(v) for v in value)


def _k_enum(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    options = list(spec)
    return lambda value: any(value == option and type(value) is type(option) for option in options)


def _k_pattern(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    search = re.compile(spec).search
    return lambda value: not isinstance(value, str) or search(value) is not None


def _bound(test: Callable[[Any, Any], bool], sized: Callable[[Any], bool], measure: Callable[[Any], Any]) -> Callable[..., Check]:
    def keyword(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
        return lambda value: not sized(value) or test(measure(value), spec)
    return keyword


def _identity(value: Any) -> Any:
    return value


def _k_unique(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    if not spec:
        return _ALWAYS
    return lambda value: not isinstance(value, list) or len({json.dumps(v, sort_keys=True, default=str) for v in value}) == len(value)


def _k_property_names(fast: _FastSchema, spec: Any, schema: dict[str, Any]) -> Check:
    name = fast.compile(spec)
    return lambda value: not isinstance(value, dict) or all(name(key) for key in value)


_is_dict: Check = lambda v: isinstance(v, dict)
_is_list: Check = lambda v: isinstance(v, list)
_is_str: Check = lambda v: isinstance(v, str)

_KEYWORDS: dict[str, Callable[[_FastSchema, Any, dict[str, Any]], Check]] = {
    "type": _k_type,
    "$ref": _k_ref,
    "required": _k_required,
    "properties": _k_properties,
    "additionalProperties": _k_additional,
    "propertyNames": _k_property_names,
    "items": _k_items,
    "enum": _k_enum,
    "pattern": _k_pattern,
    "minimum": _bound(lambda a, b: a >= b, _is_number, _identity),
    "maximum": _bound(lambda a, b: a <= b, _is_number, _identity),
    "minItems": _bound(lambda a, b: a >= b, _is_list, len),
    "maxItems": _bound(lambda a, b: a <= b, _is_list, len),
    "minLength": _bound(lambda a, b: a >= b, _is_str, len),
    "maxLength": _bound(lambda a, b: a <= b, _is_str, len),
    "minProperties": _bound(lambda a, b: a >= b, _is_dict, len),
    "uniqueItems": _k_unique,
}


@lru_cache(maxsize=1)
def fast_policy_check() -> Check:
    """The policy schema compiled to one predicate: True exactly when jsonschema finds no error."""
    schema = json.loads(schema_path("policy").read_text(encoding="utf-8"))
    return _FastSchema(schema).compile(schema)

"""Helpdesk mappings: a declarative YAML file per source turns a ticket payload into a complaint.

Helpdesks (Zendesk, Freshdesk, in-house tools) post tickets, not facts. A mapping says, as data, where
each fact is in the ticket (a JMESPath expression), how the ticket's words become the policy's values
(value maps, tag rules), and how text becomes numbers and money; no code runs from the file::

    from gesture_engine import load_policy
    from gesture_engine.mapping import load_mapping

    complaint = load_mapping("zendesk").apply(payload)   # a shipped name, or a path to a YAML file
    decision = load_policy().decide(complaint)

A mapping file is read by the policy loader's YAML reader (safe, exact decimals, located problems) and
checked by pydantic models; every mistake is a ``MappingError`` listing ``file:line:col`` problems. A
payload that does not fit raises ``PayloadError`` (a ``ComplaintError``), whose problems name the
JMESPath expression that failed and carry a stable code: ``payload_shape``, ``mapping_type``,
``unmapped_value``, ``mapping_money``, ``mapping_missing``. docs/service.md describes the format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import jmespath
import jmespath.exceptions
from jmespath.parser import ParsedResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gesture_engine.batch import decide_stream
from gesture_engine.complaint import describe
from gesture_engine.engine.facts import ENVELOPE
from gesture_engine.errors import ComplaintError, FieldProblem, GestureError, Problem
from gesture_engine.load.source import Document, PathKey, parse_yaml
from gesture_engine.resources import mappings_path

if TYPE_CHECKING:
    from gesture_engine.policy import Policy

MAX_MAPPING_BYTES = 256 * 1024
"""A mapping file larger than this is refused; real ones are a few kilobytes."""

Scalar = str | int | Decimal | bool
Kind = Literal["text", "integer", "money", "number", "boolean"]


class MappingError(GestureError, ValueError):
    """A mapping file could not be loaded; ``problems`` lists every mistake, located (``file:line:col``)."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems = tuple(sorted(problems))
        count = len(self.problems)
        super().__init__("\n".join([f"mapping has {count} problem{'s' if count != 1 else ''}", *(f"  {p}" for p in self.problems)]))


class PayloadError(ComplaintError):
    """A payload the mapping cannot turn into a complaint. Each problem's ``field`` is the JMESPath
    expression that failed (``(payload)`` for the payload as a whole); a ``ComplaintError``, so callers
    that handle bad complaints handle bad payloads too."""


# -- the file's shape ----------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class TagRule(_Model):
    """``{any: [billing, refund], value: billing_error}``: the value when the ticket has any (or all) of the tags."""

    any: list[str] = []
    all: list[str] = []
    value: Scalar


class CustomFields(_Model):
    """Where a ticket's custom fields are: a list of ``{id, value}`` objects (Zendesk), or an object keyed by id or name."""

    path: str
    id: str = "id"
    value: str = "value"


class FactRule(_Model):
    """How one fact is found: tag rules first, then ``path`` or ``custom_field``, then ``default``."""

    path: str | None = None
    custom_field: str | int | None = None
    values: dict[str, Scalar] | None = None
    other: Scalar | None = None
    tags: list[TagRule] = []
    type: Kind | None = None
    default: Scalar | None = None
    required: bool = False


class MappingDocument(_Model):
    """A mapping file: its name, the envelope's paths, where tags and custom fields are, and the facts."""

    mapping: str = Field(pattern="^[a-z][a-z0-9_-]*$", max_length=64)
    description: str = ""
    complaint_id: str | None = None
    customer_id: str | None = None
    received_at: str | None = None
    locale: str | None = None
    tags: str | None = None
    custom_fields: CustomFields | None = None
    facts: dict[str, FactRule] = Field(min_length=1)


_WORDS = {
    "extra_forbidden": ("unknown key {key!r}", "unknown-key"),
    "missing": ("missing required key {key!r}", "required"),
    "literal_error": ("expected one of text, integer, money, number, boolean; got {value}", "one-of"),
    "string_pattern_mismatch": ("{value} is not a valid mapping name (lower case letters, digits, _ and -)", "pattern"),
    "too_short": ("must not be empty", "length"),
    "string_too_long": ("is too long", "length"),
}


def _problems(document: Document, error: ValidationError) -> list[Problem]:
    """Our own located problems for pydantic's errors: path, message and code from the error's type,
    never pydantic's wording."""
    problems: list[Problem] = []
    for detail in error.errors(include_url=False):
        loc = detail["loc"]
        path = tuple(part for part in loc if not (isinstance(part, str) and ("[" in part or part in ("str", "int", "decimal", "bool"))))
        kind = detail["type"]
        value = describe(detail["input"]) if not isinstance(detail["input"], (dict, list)) else "a " + type(detail["input"]).__name__
        if kind in _WORDS:
            message, code = _WORDS[kind]
            key = path[-1] if path else ""
            where = path[:-1] if kind == "missing" else path
            problems.append(document.problem(where, message.format(key=key, value=value), code))
        else:
            problems.append(document.problem(path, f"{value} is not valid here (expected {_expected(kind)})", "type"))
    return list(dict.fromkeys(problems))


def _expected(kind: str) -> str:
    if kind.startswith(("dict", "model")):
        return "a mapping"
    if kind.startswith(("list", "tuple")):
        return "a list"
    if kind.startswith("bool"):
        return "true or false"
    return "a string, number or true/false" if kind.endswith("_type") else "another value"


# -- the compiled mapping ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    name: str
    path: ParsedResult | None
    custom_field: str | None
    values: dict[str, Scalar] | None
    other: Scalar | None
    tags: tuple[TagRule, ...]
    type: Kind | None
    default: Scalar | None
    required: bool


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping: ``apply(payload)`` gives the complaint; ``check(policy)`` its problems against a policy."""

    name: str
    description: str
    file: str
    document: Document
    envelope: tuple[tuple[str, ParsedResult], ...]
    tags: ParsedResult | None
    custom_fields: tuple[ParsedResult, str, str] | None
    rules: tuple[_Rule, ...]
    text: str = field(default="", repr=False, compare=False)
    """The YAML it was loaded from: how it travels to a batch's worker processes (:mod:`gesture_engine.batch`)."""

    def apply(self, payload: Any) -> dict[str, Any]:
        """The complaint for ``payload`` (parsed JSON): envelope fields and facts; PayloadError with every problem."""
        if not isinstance(payload, MappingABC):
            raise PayloadError([FieldProblem("(payload)", f"expected a JSON object; got {describe(payload)}", None, "payload_shape")])
        problems: list[FieldProblem] = []
        complaint: dict[str, Any] = {}
        for name, expression in self.envelope:
            value = _search(expression, payload, problems)
            if value is not None and value != "":
                complaint[name] = value
        tags = self._tags(payload, problems)
        fields = self._custom_fields(payload, problems)
        for rule in self.rules:
            value = _fact(rule, payload, tags, fields, problems)
            if value is not None:
                complaint[rule.name] = value
        if problems:
            raise PayloadError(problems)
        return complaint

    def _tags(self, payload: Any, problems: list[FieldProblem]) -> frozenset[str]:
        """The ticket's tags, lower case: a list of strings, or one text separated by commas (or spaces)."""
        if self.tags is None:
            return frozenset()
        found = _search(self.tags, payload, problems)
        if found is None:
            return frozenset()
        if isinstance(found, str):
            found = [part for part in re.split(r"\s*,\s*" if "," in found else r"\s+", found.strip()) if part]
        if not isinstance(found, list) or not all(isinstance(tag, str) for tag in found):
            problems.append(FieldProblem(self.tags.expression, f"expected a list of tags or a text; got {describe(found)}", found, "mapping_type"))
            return frozenset()
        return frozenset(tag.strip().lower() for tag in found)

    def _custom_fields(self, payload: Any, problems: list[FieldProblem]) -> dict[str, Any]:
        """Custom field id (as text) -> value, from a list of objects or an object keyed by id."""
        if self.custom_fields is None:
            return {}
        expression, key, value = self.custom_fields
        found = _search(expression, payload, problems)
        if found is None:
            return {}
        if isinstance(found, MappingABC):
            return {str(k): v for k, v in found.items()}
        if isinstance(found, list) and all(isinstance(item, MappingABC) and key in item for item in found):
            return {_key_text(item[key]): item.get(value) for item in found}
        problems.append(FieldProblem(expression.expression, f"expected a list of objects with {key!r} and {value!r}, or an object; "
                                     f"got {describe(found)}", None, "mapping_type"))
        return {}

    def check(self, policy: Policy) -> list[Problem]:
        """What in this mapping cannot fit ``policy``: unknown facts and values outside a fact's values, located."""
        problems: list[Problem] = []
        for rule in self.rules:
            fact = policy.facts.get(rule.name)
            if fact is None:
                known = ", ".join(policy.facts)
                problems.append(self.document.problem(("facts", rule.name), f"{rule.name!r} is not a fact of policy {policy.name} ({known})",
                                                      "fact"))
                continue
            if not fact.finite:
                continue
            produced: list[tuple[PathKey, Any]] = [(("facts", rule.name, "values", k), v) for k, v in (rule.values or {}).items()]
            produced += [(("facts", rule.name, "tags", i, "value"), t.value) for i, t in enumerate(rule.tags)]
            produced += [(("facts", rule.name, key), getattr(rule, key)) for key in ("other", "default") if getattr(rule, key) is not None]
            if rule.values is None and rule.path is not None and rule.type is None:
                continue  # the payload's own words: checked when a complaint is decided
            for where, value in produced:
                if value not in fact.values:
                    allowed = ", ".join(fact.values)
                    problems.append(self.document.problem(where, f"{describe(value)} is not a value of {rule.name} ({allowed})", "value"))
        return problems


def _key_text(key: Any) -> str:
    return str(key).lower() if isinstance(key, bool) else str(key)


def _search(expression: ParsedResult, payload: Any, problems: list[FieldProblem]) -> Any:
    try:
        return expression.search(payload)
    except jmespath.exceptions.JMESPathError as error:  # a function given the wrong type of value
        problems.append(FieldProblem(expression.expression, f"cannot be evaluated on this payload ({type(error).__name__})", None, "mapping_type"))
        return None


def _fact(rule: _Rule, payload: Any, tags: frozenset[str], fields: dict[str, Any], problems: list[FieldProblem]) -> Any:
    """One fact's value: the first tag rule that holds, else the payload's value (mapped, typed), else the default."""
    for tag_rule in rule.tags:
        wanted_any = {t.lower() for t in tag_rule.any}
        wanted_all = {t.lower() for t in tag_rule.all}
        if (not wanted_any or tags & wanted_any) and wanted_all <= tags:
            return tag_rule.value
    if rule.path is not None:
        where, raw = rule.path.expression, _search(rule.path, payload, problems)
    elif rule.custom_field is not None:
        where, raw = f"custom_fields[{rule.custom_field}]", fields.get(rule.custom_field)
    else:
        where, raw = "", None
    if raw is None or raw == "":
        if rule.default is None and rule.required:
            problems.append(FieldProblem(where or rule.name, f"is missing; {rule.name} is required", None, "mapping_missing"))
        return rule.default
    if rule.values is not None:
        key = _key_text(raw).strip().lower() if isinstance(raw, (str, int, bool, Decimal)) else None
        if key is not None and key in rule.values:
            raw = rule.values[key]
        elif rule.other is not None:
            return rule.other
        else:
            known = ", ".join(rule.values)
            problems.append(FieldProblem(where, f"{describe(raw)} is not in the value map of {rule.name} ({known})", raw, "unmapped_value"))
            return None
    if rule.type is None:
        return raw
    try:
        return _convert(rule.type, raw)
    except ValueError as error:
        code = "mapping_money" if rule.type == "money" else "mapping_type"
        problems.append(FieldProblem(where, f"{describe(raw)}: {error} for {rule.name}", raw, code))
        return None


_CURRENCY = re.compile(r"^(?:[A-Z]{3}\s*|[$€£¥]\s*)?(.*?)(?:\s*[A-Z]{3}|\s*[$€£¥])?$")
_GROUPED = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_PLAIN = re.compile(r"^\d{1,13}(?:\.\d{1,10})?$")


def parse_money(value: Any) -> Decimal:
    """An amount from a helpdesk field: a number, or text such as ``129.90``, ``$1,299.00`` or ``129.90 EUR``.

    The currency sign or code is dropped (the policy has one currency) and thousands separators go only
    in the ``1,299.00`` form; a decimal comma (``129,90``), a negative amount or anything else is refused,
    never guessed at."""
    if isinstance(value, bool):
        raise ValueError("expected an amount")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or value < 0:
            raise ValueError("expected an amount ≥ 0")
        return value
    if not isinstance(value, str):
        raise ValueError("expected an amount")
    match = _CURRENCY.match(value.strip())
    text = match.group(1) if match else value
    if _GROUPED.match(text):
        text = text.replace(",", "")
    if not _PLAIN.match(text):
        raise ValueError("expected an amount such as 129.90, $1,299.00 or 129.90 EUR")
    return Decimal(text)


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _convert(kind: Kind, value: Any) -> Any:
    """``value`` as the ``type`` a mapping asks for, or ValueError saying what was expected."""
    if kind == "money":
        return parse_money(value)
    if kind == "text":
        if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
            return str(value)
        raise ValueError("expected a text")
    if kind == "boolean":
        text = _key_text(value).strip().lower() if isinstance(value, (str, int, bool)) else ""
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError("expected true or false")
    if isinstance(value, bool):
        raise ValueError(f"expected {'an integer' if kind == 'integer' else 'a number'}")
    if kind == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,16}", value.strip().replace(",", "")):
            return int(value.strip().replace(",", ""))
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return int(value)
        raise ValueError("expected an integer")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError("expected a number") from None
    if not number.is_finite():
        raise ValueError("expected a finite number")
    return number


def decide_payloads(policy: Policy, mapping: Mapping, stream: IO[bytes], sink: IO[bytes], *, workers: int = 1) -> int:
    """Decide every helpdesk payload in a JSON Lines ``stream`` through ``mapping``, writing one line each to
    ``sink`` in order: the decision JSON, or the same error record as a batch's (``{"line", "error", "problems"}``);
    returns how many. Blank lines are skipped. ``workers > 1``: in that many processes, as a batch."""
    return decide_stream(policy, stream, sink, workers=workers, mapping=mapping)


# -- loading -------------------------------------------------------------------------------------

SHIPPED = ("zendesk", "freshdesk")
"""Mappings shipped in ``rules/mappings/``, loadable by name."""


def mapping_source(name_or_path: str | os.PathLike[str]) -> Path:
    """The file a mapping argument names: a shipped mapping's name, else a path."""
    text = os.fspath(name_or_path)
    if re.fullmatch(r"[a-z][a-z0-9_-]*", text) and (mappings_path() / f"{text}.yaml").is_file() and not Path(text).exists():
        return mappings_path() / f"{text}.yaml"
    return Path(text)


def load_mapping(name_or_path: str | os.PathLike[str]) -> Mapping:
    """Load a mapping by shipped name (``zendesk``, ``freshdesk``) or path; MappingError lists every problem."""
    path = mapping_source(name_or_path)
    name = os.fspath(path)
    try:
        if path.stat().st_size > MAX_MAPPING_BYTES:
            raise MappingError([Problem(name, 1, 1, "", f"file is larger than {MAX_MAPPING_BYTES} bytes", "file-size")])
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise MappingError([Problem(name, 1, 1, "", f"cannot read file: {error.strerror or error}", "file-read")]) from None
    except UnicodeDecodeError:
        raise MappingError([Problem(name, 1, 1, "", "file is not valid UTF-8", "file-encoding")]) from None
    return loads_mapping(text, name)


def loads_mapping(text: str, name: str = "<mapping>") -> Mapping:
    """A mapping from YAML text (``name`` says where it came from, for locations)."""
    try:
        document = parse_yaml(text, name).complete()
    except GestureError as error:  # PolicyError from the YAML reader: same located problems
        raise MappingError(list(getattr(error, "problems", ()))) from None
    if not isinstance(document.data, dict):
        raise MappingError([document.problem((), "a mapping file must be a YAML mapping", "file-shape")])
    try:
        spec = MappingDocument.model_validate(document.data)
    except ValidationError as error:
        raise MappingError(_problems(document, error)) from None
    problems: list[Problem] = []

    def compiled(where: PathKey, expression: str | None) -> ParsedResult | None:
        if expression is None:
            return None
        try:
            return jmespath.compile(expression)
        except jmespath.exceptions.JMESPathError:
            problems.append(document.problem(where, f"{expression!r} is not a valid JMESPath expression", "jmespath"))
            return None

    envelope = tuple((key, found) for key in ENVELOPE if (found := compiled((key,), getattr(spec, key))) is not None)
    fields = None
    if spec.custom_fields is not None:
        found = compiled(("custom_fields", "path"), spec.custom_fields.path)
        fields = (found, spec.custom_fields.id, spec.custom_fields.value) if found is not None else None
    rules: list[_Rule] = []
    for fact, rule in spec.facts.items():
        where = ("facts", fact)
        if fact in ENVELOPE:
            problems.append(document.problem(where, f"{fact} is set at the top of the mapping, not as a fact", "fact"))
        if rule.path is not None and rule.custom_field is not None:
            problems.append(document.problem(where, "give path or custom_field, not both", "one-of"))
        if rule.path is None and rule.custom_field is None and not rule.tags and rule.default is None:
            problems.append(document.problem(where, "needs path, custom_field, tags or default", "required"))
        if rule.custom_field is not None and spec.custom_fields is None:
            problems.append(document.problem((*where, "custom_field"), "custom_field needs custom_fields at the top of the mapping", "required"))
        if rule.tags and spec.tags is None:
            problems.append(document.problem((*where, "tags"), "tag rules need tags at the top of the mapping", "required"))
        for index, tag_rule in enumerate(rule.tags):
            if not tag_rule.any and not tag_rule.all:
                problems.append(document.problem((*where, "tags", index), "a tag rule needs any or all", "required"))
        if rule.other is not None and rule.values is None:
            problems.append(document.problem((*where, "other"), "other goes with values", "required"))
        values = None if rule.values is None else {key.lower(): value for key, value in rule.values.items()}
        rules.append(_Rule(fact, compiled((*where, "path"), rule.path), None if rule.custom_field is None else _key_text(rule.custom_field),
                           values, rule.other, tuple(rule.tags), rule.type, rule.default, rule.required))
    tags = compiled(("tags",), spec.tags)
    if problems:
        raise MappingError(problems)
    return Mapping(spec.mapping, spec.description, name, document, envelope, tags, fields, tuple(rules), text)

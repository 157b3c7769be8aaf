"""Read policy YAML into plain data plus a map from each value's path to its file:line:column.

Why not ``yaml.safe_load``: it forgets where values came from, silently keeps the last of two
duplicate keys, expands aliases without limit and turns ``1.10`` into a float. Policies hold money,
so we build the data ourselves from the parser's events: YAML floats become ``Decimal`` from their
exact text, duplicate keys and non-string keys are errors, tags beyond plain YAML are refused, and
nesting depth and alias expansion are bounded. Nothing here executes anything from the file.
Most policy files never reach the events: ``simple_yaml`` reads their simple shapes line by line
to the same data, and steps aside for anything else (see ``parse_yaml``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .errors import PolicyError, Problem
from .simple_yaml import MEANINGFUL_WORDS, read_simple_yaml

PathKey = tuple[str | int, ...]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""A policy file larger than this is refused before parsing (``load_policy(max_file_bytes=...)``)."""
MAX_DEPTH = 64
"""Deeper nesting than this is refused; real policies stay under ten levels."""
MAX_NODES = 2_000_000
"""Values per file after alias expansion. The default policy has about 900; checking costs roughly
60 µs a value, so this bounds loading to a few seconds whatever the file holds."""
MAX_ALIAS_NODES = 10_000
"""Values that aliases may add to a file: sharing a lookup is fine, 'billion laughs' stops at once."""

_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp")}


class Location(NamedTuple):
    """Where a value starts: 1-based line and column in a file (a tuple: one is made per value)."""

    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Document:
    """Parsed policy data with the location of every value in it.

    A document read from a file first knows only where its sections and their entries are (rules,
    facts, ...: enough for a rule's ``file:line``); the first ``locate`` of anything deeper parses
    the text again with every value located. Valid policies, the common case, never pay for that.
    """

    data: Any
    locations: dict[PathKey, Location]
    file: str
    pending: list[Callable[[], Document]] = field(default_factory=list, repr=False, compare=False)
    """Makes the fully located document; emptied once its locations are merged in."""

    def locate(self, path: PathKey) -> Location:
        """Location of ``path``, or of its nearest located ancestor."""
        if path not in self.locations:
            self.complete()
        for cut in range(len(path), -1, -1):
            found = self.locations.get(path[:cut])
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def complete(self) -> Document:
        """Locate every value now (see the class docstring); returns the document itself."""
        while self.pending:
            self.locations.update(self.pending.pop()().locations)
        return self

    def problem(self, path: PathKey, message: str, code: str = "invalid") -> Problem:
        where = self.locate(path)
        return Problem(where.file, where.line, where.column, format_path(path), message, code)


def format_path(path: PathKey) -> str:
    """``("rules", 3, "when", "severity")`` -> ``rules[3].when.severity``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


class Refusal(NamedTuple):
    """Why a scalar cannot be part of a policy."""

    message: str
    code: str


def scalar_value(event: Any) -> Any:
    """The value of a scalar event as plain YAML types it, or a ``Refusal``.

    Floats become ``Decimal`` from their exact text; timestamps stay the text the author wrote.
    """
    tag = event.tag
    if tag is None or tag == "!":
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
    if tag == _TAG + "merge":
        return Refusal("merge keys (<<) are not supported; write the values out", "yaml-merge")
    if tag not in _PLAIN_TAGS:
        return Refusal(f"YAML tag {_short(tag)} is not allowed in a policy", "yaml-tag")
    name = tag[len(_TAG):]
    text = event.value
    node = yaml.ScalarNode(tag, text)
    if name == "int":
        try:
            return _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:  # Python refuses to convert integers of more than 4300 digits
            return Refusal(f"integer of {len(text)} characters is too large", "yaml-number")
    if name == "bool":
        return _CONSTRUCTOR.construct_yaml_bool(node)
    if name == "null":
        return None
    if name == "float":
        try:
            number = Decimal(text.replace("_", ""))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            return Refusal(f"{text!r} is not a finite number", "yaml-number")
        return number
    return text


class _Builder:
    """Turns a stream of YAML events into data, recording locations and refusing unsafe input."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[PathKey, Location] = {}
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.nodes = 0
        self.alias_nodes = 0

    def fail(self, mark: Any, path: PathKey, message: str, code: str) -> None:
        self.problems.append(
            Problem(self.file, mark.line + 1, mark.column + 1, format_path(path), message, code)
        )

    def scalar(self, event: Any, path: PathKey) -> Any:
        value = scalar_value(event)
        if value.__class__ is Refusal:
            self.fail(event.start_mark, path, value.message, value.code)
            return _BAD
        return value

    def build(self, events: Any) -> Any:
        """Build the single document in ``events``; returns None when it had problems.

        This loop runs once per YAML value of every policy loaded, so it is written flat: one frame
        per open mapping or list, ``[container, path, pending key, key mark, anchor, count at start]``.
        """
        root: list[Any] = []
        stack: list[list[Any]] = []
        documents = 0
        locations = self.locations
        file = self.file
        scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
        mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
        ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        plain_text = _plain_text

        resolved_first = _RESOLVED_BY_FIRST_CHARACTER
        for event in events:
            kind = event.__class__
            # Fast path for most of a policy: a plain word (no tag, anchor or type to resolve) inside an
            # open mapping or list. Anything else takes the general path below.
            if kind is scalar_event and stack and event.implicit[0] and event.tag is None and not event.anchor and self.nodes < MAX_NODES:
                text = event.value
                if text and text[0] not in resolved_first:
                    top = stack[-1]
                    parent = top[0]
                    self.nodes += 1
                    if parent.__class__ is list:
                        mark = event.start_mark
                        locations[(*top[1], len(parent))] = Location(file, mark.line + 1, mark.column + 1)
                        parent.append(text)
                        continue
                    key = top[2]
                    if key is _NO_KEY:  # the word is a key
                        if text not in parent:
                            top[2], top[3] = text, event.start_mark
                            continue
                    elif key is not _DUPLICATE:
                        mark = event.start_mark
                        locations[(*top[1], key)] = Location(file, mark.line + 1, mark.column + 1)
                        parent[key] = text
                        top[2] = _NO_KEY
                        continue
                    self.nodes -= 1  # a duplicate key, or the value of one: let the general path report it
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    self.fail(event.start_mark, (), "a policy file holds one YAML document", "yaml-multi")
                    return None
                continue
            if kind in ends:
                frame = stack.pop()
                container, anchor = frame[0], frame[4]
                weight = self.nodes - frame[5] + 1
                if anchor:
                    self.anchors[anchor] = (container, weight)
                value, mark = container, event.start_mark
            elif kind is scalar_event or kind is alias_event or kind is mapping_start or kind is sequence_start:
                self.nodes += 1
                if self.nodes > MAX_NODES:
                    self.fail(event.start_mark, (), f"more than {MAX_NODES} values; split the policy or simplify it", "yaml-size")
                    return None
                # where the new value goes: its path, and whether it is a mapping key
                if stack:
                    top = stack[-1]
                    parent, base = top[0], top[1]
                    if parent.__class__ is list:
                        at_key, path = False, (*base, len(parent))
                    else:
                        key = top[2]
                        at_key = key is _NO_KEY
                        path = (*base, key) if key.__class__ is str else base
                else:
                    at_key, path = False, ()
                mark = event.start_mark
                if kind is scalar_event:
                    text = event.value
                    if event.tag is None and event.implicit[0] and plain_text(text):
                        value = text  # a plain word: no tag to resolve
                    elif event.tag is None and event.implicit[0] and _DECIMAL_DIGITS.match(text):
                        value = int(text)  # what the resolver would say, without asking it
                    else:
                        value = self.scalar(event, path)
                    if not at_key:
                        locations[path] = Location(file, mark.line + 1, mark.column + 1)
                    if event.anchor:
                        self.anchors[event.anchor] = (value, 1)
                elif kind is alias_event:
                    if event.anchor not in self.anchors:
                        self.fail(mark, path, f"unknown alias *{event.anchor}", "yaml-alias")
                        return None
                    value, weight = self.anchors[event.anchor]
                    if at_key and not isinstance(value, str):
                        self.fail(mark, path, "an alias cannot be used as a mapping key", "yaml-key")
                    self.nodes += weight
                    self.alias_nodes += weight
                    if self.alias_nodes > MAX_ALIAS_NODES or self.nodes > MAX_NODES:
                        limit = MAX_ALIAS_NODES if self.alias_nodes > MAX_ALIAS_NODES else MAX_NODES
                        self.fail(mark, path, f"aliases expand to more than {limit} values", "yaml-size")
                        return None
                    if not at_key:
                        locations[path] = Location(file, mark.line + 1, mark.column + 1)
                else:  # a mapping or list opens
                    if at_key:
                        self.fail(mark, path, "mapping keys must be plain strings", "yaml-key")
                        return None
                    if event.tag and event.tag not in (_TAG + "map", _TAG + "seq", "!"):
                        self.fail(mark, path, f"YAML tag {_short(event.tag)} is not allowed in a policy", "yaml-tag")
                    if len(stack) >= MAX_DEPTH:
                        self.fail(mark, path[:8], f"nested deeper than {MAX_DEPTH} levels", "yaml-depth")
                        return None
                    # a nested mapping or list is located at its key, where a reader looks for it
                    where = stack[-1][3] if stack and stack[-1][0].__class__ is dict else mark
                    locations[path] = Location(file, where.line + 1, where.column + 1)
                    stack.append([{} if kind is mapping_start else [], path, _NO_KEY, None, event.anchor, self.nodes])
                    continue
            else:  # stream start/end, document end
                continue
            # attach ``value`` to the open container (or make it the document)
            if not stack:
                root.append(value)
                continue
            frame = stack[-1]
            container = frame[0]
            if container.__class__ is list:
                container.append(None if value is _BAD else value)
                continue
            key = frame[2]
            if key is _NO_KEY:
                if value is _BAD:
                    frame[2] = _DUPLICATE
                    continue
                if not isinstance(value, str):
                    self.fail(mark, frame[1], f"keys must be strings, not {type(value).__name__}", "yaml-key")
                    value = f"<{value!r}>"
                if value in container:
                    self.fail(mark, (*frame[1], value), f"duplicate key {value!r}", "duplicate-key")
                    frame[2] = _DUPLICATE
                else:
                    frame[2] = value
                    frame[3] = mark
                continue
            if key is not _DUPLICATE:
                container[key] = None if value is _BAD else value
            frame[2] = _NO_KEY
        return root[0] if root else None


_DECIMAL_DIGITS = re.compile(r"(?:0|[1-9][0-9]{0,17})\Z")
"""A plain decimal integer (a leading 0 would make it octal in YAML 1.1, so those take the slow path)."""
_RESOLVED_BY_FIRST_CHARACTER = frozenset(_RESOLVER.yaml_implicit_resolvers) | {""}


def _plain_text(text: str) -> bool:
    """True when a plain scalar can only be a string, so the resolver's regular expressions can be skipped."""
    if not text:
        return False
    first = text[0]
    if first not in _RESOLVED_BY_FIRST_CHARACTER:
        return True
    return first.isalpha() and text not in MEANINGFUL_WORDS


class _PlainScalar(NamedTuple):
    """A plain scalar outside any event, for ``scalar_value``."""

    value: str
    tag: None = None
    implicit: tuple[bool, bool] = (True, False)


@lru_cache(maxsize=4096)
def _resolve_plain(text: str) -> Any:
    """A plain scalar typed as YAML does; raises ``LookupError`` for anything a policy refuses.

    Cached: policies repeat their durations and amounts, and asking PyYAML's resolver costs more
    than the rest of a line (every value it returns is immutable)."""
    if _plain_text(text):
        return text
    if _DECIMAL_DIGITS.match(text):
        return int(text)
    value = scalar_value(_PlainScalar(text))
    if value.__class__ is Refusal:
        raise LookupError(value.message)
    return value


class _Sentinel:
    pass


_NO_KEY: Any = _Sentinel()
_BAD: Any = _Sentinel()


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
_DUPLICATE: Any = _Sentinel()


def _build_plain(events: Any, file: str) -> tuple[Any, dict[PathKey, Location]] | None:
    """Build a document of plain YAML quickly, locating only its sections and their entries.

    Returns None at the first thing the careful ``_Builder`` must judge (an anchor, alias, tag,
    duplicate or non-string key, refused scalar, a second document, too deep or too big): that
    builder then reads the text again and reports any problem with its file, line and path.
    The open container's state lives in locals (saved on ``stack`` while a child is open): this
    loop runs for every value of every policy loaded.
    """
    locations: dict[PathKey, Location] = {}
    stack: list[tuple[Any, bool, PathKey | None, Any, Any]] = []
    root: Any = None
    # the open container, whether it is a list, its path when its values are located (sections and
    # their entries only), and for a mapping the key waiting for its value and where that key is
    parent: Any = None
    in_list = False
    base: PathKey | None = None
    key: Any = _NO_KEY
    key_mark: Any = None
    documents = nodes = 0
    scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    resolved_first, plain_text, resolve = _RESOLVED_BY_FIRST_CHARACTER, _plain_text, _resolve_plain
    no_key = _NO_KEY
    for event in events:
        kind = event.__class__
        if kind is scalar_event:
            if event.tag is not None or event.anchor is not None:
                return None
            text = event.value
            if not event.implicit[0] or (text and text[0] not in resolved_first) or plain_text(text):
                value = text
            else:  # numbers, booleans, null, or text that looks like one
                try:
                    value = resolve(text)
                except LookupError:
                    return None
            nodes += 1
            if in_list:
                if base is not None:
                    mark = event.start_mark
                    locations[(*base, len(parent))] = Location(file, mark.line + 1, mark.column + 1)
                parent.append(value)
            elif key is no_key:
                if value.__class__ is not str or parent is None or value in parent:
                    if parent is None:  # a document that is one scalar
                        root = value
                        continue
                    return None
                key, key_mark = value, event.start_mark
            else:
                parent[key] = value
                if base is not None:
                    mark = event.start_mark
                    locations[(*base, key)] = Location(file, mark.line + 1, mark.column + 1)
                key = no_key
            continue
        if kind is mapping_start or kind is sequence_start:
            if event.anchor is not None or event.tag not in (None, "!") or len(stack) >= MAX_DEPTH or nodes > MAX_NODES:
                return None
            nodes += 1
            value = {} if kind is mapping_start else []
            path: PathKey | None
            if parent is None:
                root, path, mark = value, (), event.start_mark
            elif in_list:
                path = None if base is None else (*base, len(parent))
                parent.append(value)
                mark = event.start_mark
            elif key is no_key:
                return None  # a mapping or list as a key
            else:
                parent[key] = value
                path = None if base is None else (*base, key)
                mark = key_mark  # a mapping or list is located at its key
                key = no_key
            if path is not None:
                locations[path] = Location(file, mark.line + 1, mark.column + 1)
            stack.append((parent, in_list, base, key, key_mark))
            parent, in_list, key = value, kind is sequence_start, no_key
            base = path if path is not None and len(path) < 2 else None
            continue
        if kind in ends:
            parent, in_list, base, key, key_mark = stack.pop()
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                return None
        elif kind is yaml.AliasEvent:
            return None
        # else: stream start and end, document end
    if nodes > MAX_NODES:
        return None
    return root, locations


def _parse_located(text: str, file: str) -> Document:
    """Parse with every value located; raise ``PolicyError`` on any syntax or safety problem."""
    builder = _Builder(file)
    parser = _Loader(text)
    try:
        data = builder.build(iter(parser.get_event, None))  # events straight from the C parser
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        raise PolicyError([Problem(file, line, column, "", f"invalid YAML: {message}", "yaml-syntax")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(file, 1, 1, "", f"invalid YAML: {exc}", "yaml-syntax")]) from None
    if builder.problems:
        raise PolicyError(builder.problems)
    return Document(data, builder.locations, file)


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document; raise ``PolicyError`` on any syntax or safety problem.

    Three readers, fastest first, each stepping aside for anything it does not take: the
    line-by-line reader of simple policies (``simple_yaml``), the quick event builder of plain
    YAML, and the careful builder, which reads everything else and reports every error, located.
    The first two locate only sections and their entries; the careful one completes them on demand.
    """
    built = read_simple_yaml(text, lambda line, column: Location(file, line, column), _resolve_plain, MAX_DEPTH, MAX_NODES)
    if built is None:
        try:
            built = _build_plain(iter(_Loader(text).get_event, None), file)
        except yaml.YAMLError:
            built = None  # the careful pass reports it, located
    if built is None:
        return _parse_located(text, file)
    data, sections = built
    return Document(data, sections, file, [lambda: _parse_located(text, file)])


def read_yaml_file(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read and parse one policy file, refusing oversized, undecodable or empty files."""
    name = os.fspath(path)
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            raise PolicyError([Problem(name, 1, 1, "", f"file is {size} bytes; the limit is {max_file_bytes}", "file-size")])
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError([Problem(name, 1, 1, "", f"cannot read file: {exc.strerror or exc}", "file-read")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError([Problem(name, line, 1, "", "file is not valid UTF-8", "file-encoding")]) from None
    document = parse_yaml(text, name)
    if document.data is None:
        raise PolicyError([Problem(name, 1, 1, "", "file is empty", "file-empty")])
    if not isinstance(document.data, dict):
        raise PolicyError([document.problem((), "a policy file must be a mapping of sections", "file-shape")])
    return document


MERGED_MAPPINGS = ("facts", "derived", "gestures", "actions")
"""Sections whose entries may be spread over the files of a policy directory."""
MERGED_LISTS = ("rules",)
"""Sections concatenated across files in file-name order, so rule order stays predictable."""


def policy_files(directory: Path) -> list[Path]:
    """The YAML files that make up a policy directory: ``*.yaml``/``*.yml`` directly inside, by name."""
    return sorted(
        (p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml")),
        key=lambda p: p.name,
    )


def read_policy_source(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read a policy file, or merge a policy directory into one document (see docs/policy-format.md)."""
    if not path.exists():
        raise PolicyError([Problem(os.fspath(path), 1, 1, "", "no such file or directory", "file-read")])
    if not path.is_dir():
        return read_yaml_file(path, max_file_bytes)
    files = policy_files(path)
    if not files:
        raise PolicyError([Problem(os.fspath(path), 1, 1, "", "directory holds no *.yaml policy files", "file-empty")])
    documents: list[Document] = []
    problems: list[Problem] = []
    for file in files:
        try:
            documents.append(read_yaml_file(file, max_file_bytes))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    return merge_documents(documents, os.fspath(path))


def merge_documents(documents: list[Document], name: str) -> Document:
    """Merge documents section by section, rejecting anything defined twice."""
    data: dict[str, Any] = {}
    locations: dict[PathKey, Location] = {(): Location(documents[0].file, 1, 1)}
    owner: dict[PathKey, str] = {}
    problems: list[Problem] = []

    def take(doc: Document, source: PathKey, target: PathKey) -> None:
        for key, where in heads[doc.file].get(source, ()):
            locations[target + key[len(source):]] = where

    heads: dict[str, dict[PathKey, list[tuple[PathKey, Location]]]] = {}
    for doc in documents:
        by_head: dict[PathKey, list[tuple[PathKey, Location]]] = {}
        for key, where in doc.locations.items():
            by_head.setdefault(key[:1], []).append((key, where))
            if len(key) >= 2:
                by_head.setdefault(key[:2], []).append((key, where))
        heads[doc.file] = by_head

    for doc in documents:
        for section, value in doc.data.items():
            if section in MERGED_LISTS and isinstance(value, list) and isinstance(data.get(section, []), list):
                merged = data.setdefault(section, [])
                locations.setdefault((section,), doc.locate((section,)))
                for index, item in enumerate(value):
                    take(doc, (section, index), (section, len(merged)))
                    merged.append(item)
            elif section in MERGED_MAPPINGS and isinstance(value, dict) and isinstance(data.get(section, {}), dict):
                merged_map = data.setdefault(section, {})
                locations.setdefault((section,), doc.locate((section,)))
                for key, item in value.items():
                    if key in merged_map:
                        problems.append(
                            doc.problem((section, key), f"{section}.{key} is already defined in {owner[(section, key)]}", "duplicate-key")
                        )
                        continue
                    owner[(section, key)] = doc.file
                    take(doc, (section, key), (section, key))
                    merged_map[key] = item
            elif section in data:
                problems.append(doc.problem((section,), f"{section} is already set in {owner[(section,)]}", "duplicate-key"))
            else:
                owner[(section,)] = doc.file
                take(doc, (section,), (section,))
                data[section] = value
    if problems:
        raise PolicyError(problems)
    if not any(doc.pending for doc in documents):
        return Document(data, locations, name)
    return Document(data, locations, name, [lambda: merge_documents([doc.complete() for doc in documents], name)])

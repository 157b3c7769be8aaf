"""Read policy YAML into plain data that knows where each of its values came from (file:line:column).

Why not ``yaml.safe_load``: it forgets where values came from, silently keeps the last of two
duplicate keys, expands aliases without limit and turns ``1.10`` into a float. Policies hold money,
so one builder turns the parser's events into data itself: YAML floats become ``Decimal`` from
their exact text, duplicate keys and non-string keys are errors, tags beyond plain YAML are
refused, and nesting depth, alias expansion and the number of values are bounded, each with its
own error code. Nothing here executes anything from the file.

The events come from PyYAML's C parser (libyaml) when it is installed, else from its pure-Python
parser: the same events, so the same data, locations and problems, only slower.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

import yaml

from gesture_engine.errors import PolicyError, Problem

PathKey = tuple[str | int, ...]
_T = TypeVar("_T")

MAX_FILE_BYTES = 8 * 1024 * 1024
"""A policy file larger than this is refused before parsing (``load_policy(max_file_bytes=...)``)."""
MAX_DEPTH = 64
"""Deeper nesting than this is refused; real policies stay under ten levels."""
MAX_NODES = 2_000_000
"""Values per file after alias expansion: a 10,000-rule policy has about 185,000. Reading costs a
few microseconds a value, so this bounds loading to seconds whatever the file holds."""
MAX_ALIAS_NODES = 10_000
"""Values that aliases may add to a file: sharing a lookup is fine, 'billion laughs' stops at once."""

PARSER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The parser policies are read with: libyaml's when PyYAML was built with it, else PyYAML's
pure-Python one (the same events, so the same results, only slower)."""

_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_COLLECTION_TAGS = (_TAG + "map", _TAG + "seq", "!")
_TYPED_FIRST = frozenset(first for first in _RESOLVER.yaml_implicit_resolvers if not first.isalpha())
"""First characters (and ``""``, the empty scalar) of plain scalars that may be numbers, null, ...:
the resolver has patterns for them. Of the plain scalars starting with a letter, only ``_WORDS`` are
not strings."""
_WORDS = frozenset(word for base in ("yes", "no", "true", "false", "on", "off", "null") for word in (base, base.capitalize(), base.upper()))
"""YAML 1.1's booleans and null: ``yes``, ``No``, ``TRUE``, ``off``, ``Null``, ..."""
_DECIMAL = re.compile(r"[1-9][0-9]{0,17}|0")
"""A plain decimal integer that is just that (a leading 0 makes it octal in YAML 1.1)."""


class Location(NamedTuple):
    """Where a value starts: 1-based line and column in a file."""

    file: str
    line: int
    column: int


class Locations(Protocol):
    """Where the values of a document are, by path (a ``dict[PathKey, Location]`` is one)."""

    def get(self, path: PathKey, /) -> Location | None: ...


@dataclass(frozen=True)
class Document:
    """Parsed policy data with the location of every value in it."""

    data: Any
    locations: Locations
    file: str

    def locate(self, path: PathKey) -> Location:
        """Location of ``path``, or of its nearest located ancestor."""
        for cut in range(len(path), -1, -1):
            found = self.locations.get(path[:cut])
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def complete(self) -> Document:
        """Locate every value now (see ``_Positions``), e.g. before many threads ask; returns ``self``."""
        deepen = getattr(self.locations, "deepen", None)
        if deepen is not None:
            deepen()
        return self

    def problem(self, path: PathKey, message: str, code: str = "invalid") -> Problem:
        where = self.locate(path)
        return Problem(where.file, where.line, where.column, format_path(path), message, code)


def format_path(path: PathKey) -> str:
    """``("rules", 3, "when", "severity")`` -> ``rules[3].when.severity``; a key that is not printable
    text is escaped (``facts.channel\\n``), so one problem stays one line."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = part if part.isprintable() else part.encode("unicode_escape").decode("ascii")
            out += f".{part}" if out else part
    return out


class _Positions:
    """The locations of one parsed file, in a tree shaped like the data.

    An entry is a value's position (``line << 32 | column``, both 0-based: an int, which the
    garbage collector never visits, unlike the parser's mark objects), or ``(position,
    children)`` for a mapping or list, whose children are a dict or list of entries. A
    ``Location`` is made only when asked for. Parsing first records only sections and their
    entries (enough for a rule's ``file:line``); the first question about anything deeper parses
    the text again recording everything. Valid policies, the common case, never pay for that.
    """

    __slots__ = ("file", "root", "text")

    def __init__(self, file: str, root: Any, text: str | None) -> None:
        self.file = file
        self.root = root
        self.text = text
        """The parsed text while only sections and entries are recorded; None once all values are."""

    def deepen(self) -> None:
        """Record every value's position, reading the text again if that was not done yet."""
        text = self.text
        if text is not None:
            self.root = _build(text, self.file, PARSER, deep=True)[1]
            self.text = None  # after ``root``: a thread that sees no text sees every position

    def get(self, path: PathKey, /) -> Location | None:
        if len(path) > 2:
            self.deepen()
        entry = self.root
        for part in path:
            if entry.__class__ is not tuple:
                return None
            try:
                entry = entry[1][part]
            except (KeyError, IndexError, TypeError):
                return None
        if entry is None:
            return None
        at = entry[0] if entry.__class__ is tuple else entry
        return Location(self.file, (at >> 32) + 1, (at & 0xFFFFFFFF) + 1)


class _Routes:
    """A merged policy's locations: each section, and each entry of a merged section, is looked up
    in the document it came from (``routes``: merged path -> that document's locations and path)."""

    __slots__ = ("routes",)

    def __init__(self) -> None:
        self.routes: dict[PathKey, tuple[Locations, PathKey]] = {}

    def deepen(self) -> None:
        for source, _ in self.routes.values():
            deepen = getattr(source, "deepen", None)
            if deepen is not None:
                deepen()

    def get(self, path: PathKey, /) -> Location | None:
        for cut in range(min(len(path), 2), -1, -1):
            route = self.routes.get(path[:cut])
            if route is not None:
                source, prefix = route
                return source.get(prefix + path[cut:])
        return None


class Keeper:
    """Copies of the parsed values a compiled policy keeps: one object per distinct value, made now.

    A policy outlives its parse. Had it kept the parser's own objects (a rule's id, a threshold), each
    would hold the block of memory it was made in resident for as long as the policy lives: Python
    returns memory to the system in blocks (arenas of 1 MiB, each holding thousands of the parse's
    dicts), and a block goes back only once every object in it is gone. Kept that way, the ids of
    10,000 rules held 65 MiB. What the compiler makes itself (tuples, paths, its own objects) needs no copy.
    """

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[Any, Any] = {}

    def __call__(self, value: _T) -> _T:
        cls: Any = value.__class__
        if cls is str:
            key: Any = value
        elif cls is int or cls is Decimal or cls is float:
            key = (cls, repr(value) if cls is float else str(value))  # 5, 5.0 and "5" stay apart
        else:  # True, False, None, and the compiler's own values
            return value
        kept = self._kept.get(key)
        if kept is None:
            kept = self._kept[key] = cls(key[1]) if key.__class__ is tuple else value.encode().decode()  # type: ignore[attr-defined]
        return kept  # type: ignore[no-any-return]  # a str, int or Decimal like ``value``


class Refusal(NamedTuple):
    """Why a scalar cannot be part of a policy."""

    message: str
    code: str


def _typed(tag: str, text: str) -> Any:
    """The value of a scalar whose tag is ``tag``, or a ``Refusal``.

    Floats become ``Decimal`` from their exact text; timestamps stay the text the author wrote.
    """
    if tag == _TAG + "str" or tag == _TAG + "timestamp":
        return text
    if tag == _TAG + "int":
        try:
            return _CONSTRUCTOR.construct_yaml_int(yaml.ScalarNode(tag, text))
        except ValueError:  # more than the 4300 digits Python converts, or "!!int" on something else
            if len(text) > 4000:
                return Refusal(f"integer of {len(text)} characters is too large", "yaml-number")
            return Refusal(f"{text!r} is not a valid !!int", "yaml-tag")
    if tag == _TAG + "float":
        try:
            number = Decimal(text.replace("_", ""))
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():
            return Refusal(f"{text!r} is not a finite number", "yaml-number")
        return number
    if tag == _TAG + "bool":
        found = _CONSTRUCTOR.bool_values.get(text.lower())
        return Refusal(f"{text!r} is not a valid !!bool", "yaml-tag") if found is None else found
    if tag == _TAG + "null":
        return None
    if tag == _TAG + "merge":
        return Refusal("merge keys (<<) are not supported; write the values out", "yaml-merge")
    return Refusal(f"YAML tag {_short(tag)} is not allowed in a policy", "yaml-tag")


def _plain(text: str) -> Any:
    """A plain scalar that may be more than a string, typed as YAML 1.1 types it (or a ``Refusal``)."""
    if _DECIMAL.fullmatch(text):
        return int(text)  # what the resolver and constructor say, for the commonest number
    return _typed(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)), text)  # type: ignore[no-untyped-call]


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class _Sentinel:
    pass


_NO_KEY: Any = _Sentinel()
"""In an open mapping: the next value is a key."""
_SKIP: Any = _Sentinel()
"""In an open mapping: the next value belongs to a refused key and is dropped."""


class _Stop(Exception):
    """A problem after which the rest of the file cannot be read sensibly."""


_Frame = tuple[Any, Any, bool, Any, Any, int]
"""An open container's parent, saved while it is read: ``(container, the positions of its values,
is a list, pending key, the child's anchor, values counted when the child opened)``."""


def _container_path(stack: list[_Frame]) -> PathKey:
    """The open container's path, from the keys and indexes on the builder's stack (for problems only)."""
    return tuple(len(frame[0]) - 1 if frame[2] else frame[3] for frame in stack[1:] if frame[2] or frame[3].__class__ is str)


def _value_path(stack: list[_Frame], data: Any, in_list: bool, key: Any) -> PathKey:
    """The path of the value about to be read (the container's own when it has no key for it)."""
    if not stack:
        return ()
    if in_list:
        return (*_container_path(stack), len(data))
    return (*_container_path(stack), key) if key.__class__ is str else _container_path(stack)


_BRACKETS = re.compile(r"[\[\]{}]")


def _past_depth_limit(text: str, start: int, end: int, depth: int) -> int | None:
    """Where a prefix of ``text`` ends that is nested deeper than ``MAX_DEPTH``, counting the
    brackets from ``start`` to ``end`` on top of ``depth`` open levels; None if they never get there."""
    for bracket in _BRACKETS.finditer(text, start, end + 1):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return bracket.end()
    return None


def _build(text: str, file: str, parser_class: type, deep: bool, retry: bool = True) -> tuple[Any, Any]:
    """The one builder: parse ``text`` with ``parser_class`` into data and its positions' root entry.

    ``deep`` records the position of every value, else only of sections and their entries (see
    ``_Positions``). Every problem it can find is reported at once, located; a few (too deep,
    too big, a second document, an unknown alias, a collection as a key) stop the reading. A
    refused value is kept as ``_SKIP`` only until the problems are raised. This loop runs once
    per value of every policy loaded, so the open container's state lives in locals, saved on
    ``stack`` while a child is open (see ``_Frame``); a path is worked out only for a problem.

    libyaml refuses nesting beyond 1000 levels on its own, and on one line it does so while reading
    ahead of the events it hands out, before the builder sees level 65. So when the parser stops
    with an error and the brackets it had read ahead nest deeper than ``MAX_DEPTH``, the text up
    to the first bracket past that depth is read again (``retry``): libyaml hands out all of its
    levels, and the builder reports its own ``yaml-depth`` at the right place. If brackets in
    quoted text or comments misled the count, the parser's error stands.
    """
    problems: list[Problem] = []
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    # the open container (the document's one value goes into a list, like an item), the positions
    # of its values when they are recorded, whether it is a list, and in a mapping the key waiting
    # for its value (or _NO_KEY, or _SKIP) and that key's event
    data: Any = []
    marks: Any = []
    document, top = data, marks
    in_list = True
    key: Any = _NO_KEY
    key_event: Any = None
    nodes = alias_nodes = documents = 0
    max_nodes = MAX_NODES
    shallow = 0 if deep else 2  # containers opened this deep or deeper record no positions
    typed_first, words = _TYPED_FIRST, _WORDS
    # plain scalars by their text, typed: each value made once (a policy repeats its keys, names and amounts,
    # and the resolver tries a pattern per type), for this text only (a cache kept between loads would keep a
    # few of each load's values, scattered over its memory)
    plain: dict[str, Any] = {}
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    no_key, skip, refusal = _NO_KEY, _SKIP, Refusal

    def fail(event: Any, path: PathKey, message: str, code: str) -> None:
        mark = event.start_mark
        problems.append(Problem(file, mark.line + 1, mark.column + 1, format_path(path), message, code))

    parser = parser_class(text)
    event: Any = None
    try:
        for event in iter(parser.get_event, None):
            kind = event.__class__
            if kind is scalar_event:
                nodes += 1
                value = event.value
                if event.tag is None:
                    if event.implicit[0]:  # a plain scalar: text, or a number, boolean or null
                        typed = plain.get(value, no_key)
                        if typed is no_key:
                            typed = plain[value] = _plain(value) if value[:1] in typed_first or value in words else value
                        value = typed
                        if value.__class__ is refusal:
                            fail(event, _value_path(stack, data, in_list, key), value.message, value.code)
                            value = skip
                elif event.tag != "!":  # "!" marks text
                    value = _typed(event.tag, value)
                    if value.__class__ is refusal:
                        fail(event, _value_path(stack, data, in_list, key), value.message, value.code)
                        value = skip
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
                if nodes > max_nodes:
                    fail(event, (), f"more than {max_nodes} values; split the policy or simplify it", "yaml-size")
                    raise _Stop
            elif kind is mapping_end or kind is sequence_end:
                done = data
                data, marks, in_list, key, anchor, start = stack.pop()
                if anchor is not None:
                    anchors[anchor] = (done, nodes - start + 1)
                key = no_key
                continue
            elif kind is mapping_start or kind is sequence_start:
                nodes += 1
                if key is no_key and not in_list:
                    fail(event, _container_path(stack), "mapping keys must be plain strings", "yaml-key")
                    raise _Stop
                if len(stack) >= MAX_DEPTH:
                    fail(event, _value_path(stack, data, in_list, key)[:8], f"nested deeper than {MAX_DEPTH} levels", "yaml-depth")
                    raise _Stop
                if nodes > max_nodes:
                    fail(event, (), f"more than {max_nodes} values; split the policy or simplify it", "yaml-size")
                    raise _Stop
                if event.tag is not None and event.tag not in _COLLECTION_TAGS:
                    fail(event, _value_path(stack, data, in_list, key), f"YAML tag {_short(event.tag)} is not allowed in a policy", "yaml-tag")
                child: Any = {} if kind is mapping_start else []
                child_marks: Any = None
                if marks is not None:
                    mark = event.start_mark if in_list else key_event.start_mark  # a nested mapping or list is located at its key
                    at = mark.line << 32 | mark.column
                    if len(stack) < shallow or deep:
                        child_marks = {} if kind is mapping_start else []
                        entry: Any = (at, child_marks)
                    else:
                        entry = at
                    if in_list:
                        marks.append(entry)
                    else:
                        marks[key] = entry
                if in_list:
                    data.append(child)
                else:
                    data[key] = child
                stack.append((data, marks, in_list, key, event.anchor, nodes))
                data, marks, in_list, key = child, child_marks, kind is sequence_start, no_key
                continue
            elif kind is alias_event:
                found = anchors.get(event.anchor)
                if found is None:
                    fail(event, _value_path(stack, data, in_list, key), f"unknown alias *{event.anchor}", "yaml-alias")
                    raise _Stop
                value, weight = found
                nodes += 1 + weight  # the alias, and the values it stands for
                alias_nodes += weight
                if alias_nodes > MAX_ALIAS_NODES or nodes > max_nodes:
                    limit = MAX_ALIAS_NODES if alias_nodes > MAX_ALIAS_NODES else max_nodes
                    fail(event, _value_path(stack, data, in_list, key), f"aliases expand to more than {limit} values", "yaml-size")
                    raise _Stop
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    fail(event, (), "a policy file holds one YAML document", "yaml-multi")
                    raise _Stop
                continue
            else:  # stream start and end, document end
                continue
            # a scalar or an alias: ``value`` goes into the open container
            if in_list:
                data.append(value)
                if marks is not None:
                    mark = event.start_mark
                    marks.append(mark.line << 32 | mark.column)
            elif key is not no_key:
                data[key] = value
                if marks is not None:
                    mark = event.start_mark
                    marks[key] = mark.line << 32 | mark.column
                key = no_key
            else:
                if value.__class__ is bool and event.value in ("true", "false"):  # a key is text: `true:` is the key "true"
                    value = event.value
                key, key_event = value, event
                if value.__class__ is not str:
                    if value is not skip:
                        fail(event, _container_path(stack), f"keys must be strings, not {type(value).__name__}", "yaml-key")
                    key = skip
                elif value in data:
                    fail(event, (*_container_path(stack), value), f"duplicate key {value!r}", "duplicate-key")
                    key = skip
    except _Stop:
        pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        seen = event.start_mark.index + 1 if event is not None else 0
        cut = _past_depth_limit(text, seen, mark.index, len(stack)) if retry and mark is not None else None
        if cut is not None:
            try:
                _build(text[:cut], file, parser_class, deep, retry=False)
            except PolicyError as prefix:
                if any(problem.code == "yaml-depth" for problem in prefix.problems):
                    raise
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, column, "", f"invalid YAML: {exc.problem or exc.context or 'unreadable'}", "yaml-syntax"))
    except yaml.YAMLError as exc:  # unreadable characters: the reader has no mark to give
        problems.append(Problem(file, 1, 1, "", f"invalid YAML: {exc}", "yaml-syntax"))
    if problems:
        raise PolicyError(problems)
    return (document[0] if document else None), (top[0] if top else None)


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document; raise ``PolicyError`` with every syntax or safety problem, located."""
    _utf8_size(text, file)
    data, positions = _build(text, file, PARSER, deep=False)
    return Document(data, _Positions(file, positions, text), file)


def parse_policy_text(text: str, name: str = "<text>", max_bytes: int = MAX_FILE_BYTES) -> Document:
    """A policy file's text (``name`` says where it came from, for locations) as a checked ``Document``."""
    size = _utf8_size(text, name)
    if size > max_bytes:
        raise PolicyError([Problem(name, 1, 1, "", f"policy text is {size} bytes; the limit is {max_bytes}", "file-size")])
    return _policy_document(parse_yaml(text, name))


def _utf8_size(text: str, file: str) -> int:
    """The size of ``text`` in UTF-8, which libyaml reads; a lone surrogate cannot be written in it."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise PolicyError([Problem(file, text.count("\n", 0, exc.start) + 1, 1, "", "text is not valid Unicode", "file-encoding")]) from None


def _policy_document(document: Document) -> Document:
    """``document``, if it is a policy file's shape: a mapping of sections."""
    if document.data is None:
        raise PolicyError([Problem(document.file, 1, 1, "", "file is empty", "file-empty")])
    if not isinstance(document.data, dict):
        raise PolicyError([document.problem((), "a policy file must be a mapping of sections", "file-shape")])
    return document


def read_yaml_file(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read and parse one policy file, refusing oversized, undecodable or empty files."""
    return _policy_document(parse_yaml(read_policy_text(path, max_file_bytes), os.fspath(path)))


def read_policy_text(path: Path, max_file_bytes: int = MAX_FILE_BYTES) -> str:
    """A policy file's text, read once and never more than ``max_file_bytes`` + 1 bytes, so the limit
    holds for pipes and devices too (``/dev/zero``, ``<(cat policy.yaml)``), whose size nobody knows
    before reading; a regular file too large is refused before reading."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_file_bytes:
                raise PolicyError([Problem(name, 1, 1, "", f"file is {size} bytes; the limit is {max_file_bytes}", "file-size")])
            raw = file.read(max_file_bytes + 1)
    except OSError as exc:
        raise PolicyError([Problem(name, 1, 1, "", f"cannot read file: {exc.strerror or exc}", "file-read")]) from None
    return _decoded(raw, name, max_file_bytes)


def _decoded(raw: bytes, name: str, max_file_bytes: int) -> str:
    """A policy file's bytes as text, refused when over the limit or not UTF-8."""
    if len(raw) > max_file_bytes:
        raise PolicyError([Problem(name, 1, 1, "", f"file is more than {max_file_bytes} bytes, the limit", "file-size")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError([Problem(name, line, 1, "", "file is not valid UTF-8", "file-encoding")]) from None


def parse_policy_files(files: Sequence[tuple[str, bytes]], name: str, *, directory: bool, max_file_bytes: int = MAX_FILE_BYTES) -> Document:
    """A policy from its files' bytes, read as :func:`read_policy_source` reads them from disk: one file,
    or a directory's ``(file name, bytes)`` merged in file-name order. For policies shipped as bytes
    (to Spark executors); ``name`` is the path they came from, so problems are located as on disk."""
    labelled = [(os.path.join(name, file) if directory else name, raw) for file, raw in sorted(files)]
    if not labelled:
        raise PolicyError([Problem(name, 1, 1, "", "directory holds no *.yaml policy files", "file-empty")])
    if not directory and len(labelled) != 1:
        raise ValueError("a policy file is one file")
    documents: list[Document] = []
    problems: list[Problem] = []
    for label, raw in labelled:
        try:
            documents.append(_policy_document(parse_yaml(_decoded(raw, label, max_file_bytes), label)))
        except PolicyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    return merge_documents(documents, name) if directory else documents[0]


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
    locations = _Routes()
    routes = locations.routes
    routes[()] = (documents[0].locations, ())
    owner: dict[PathKey, str] = {}
    problems: list[Problem] = []
    for doc in documents:
        here = doc.locations
        for section, value in doc.data.items():
            if section in MERGED_LISTS and isinstance(value, list) and isinstance(data.get(section, []), list):
                merged = data.setdefault(section, [])
                routes.setdefault((section,), (here, (section,)))
                for index, item in enumerate(value):
                    routes[(section, len(merged))] = (here, (section, index))
                    merged.append(item)
            elif section in MERGED_MAPPINGS and isinstance(value, dict) and isinstance(data.get(section, {}), dict):
                merged_map = data.setdefault(section, {})
                routes.setdefault((section,), (here, (section,)))
                for key, item in value.items():
                    if key in merged_map:
                        problems.append(
                            doc.problem((section, key), f"{section}.{key} is already defined in {owner[(section, key)]}", "duplicate-key")
                        )
                        continue
                    owner[(section, key)] = doc.file
                    routes[(section, key)] = (here, (section, key))
                    merged_map[key] = item
            elif section in data:
                problems.append(doc.problem((section,), f"{section} is already set in {owner[(section,)]}", "duplicate-key"))
            else:
                owner[(section,)] = doc.file
                routes[(section,)] = (here, (section,))
                data[section] = value
    if problems:
        raise PolicyError(problems)
    return Document(data, locations, name)

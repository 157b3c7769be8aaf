"""Read the simple block-style YAML that policies are written in, one line at a time.

PyYAML's C parser hands every value to Python as an event object with two position marks; for a
10,000-rule policy that alone was most of the loading time. Nearly every policy line has one of a
few shapes -- ``key: value``, ``- key: value``, ``- value``, or ``key:`` opening a block -- whose
value is a word, a number, quoted text without escapes, a literal or folded block of text, or a
one-line flow collection such as ``{severity: {at_least: high}, audience: {gte: 1000}}``, which
goes to the C JSON parser once its words are quoted. This reader takes exactly those shapes. At
anything else it returns None, and the event-based builders in ``loader`` read the file instead:
anchors, tags, multi-line plain or quoted values, empty values, odd keys or indentation, escapes,
block text with deeper-indented lines, a whole section written as a flow collection. Tests compare
it with PyYAML on every YAML file in the repository and on generated documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

PathKey = tuple[str | int, ...]

_LINE = re.compile(r"( *)(- +)?(?:([A-Za-z_][A-Za-z0-9_-]*):(?: +|\Z))?(.*)")
"""Indentation, a list item's dash, a mapping key (a plain word), and the rest of the line."""

MEANINGFUL_WORDS = frozenset(
    word for base in ("yes", "no", "true", "false", "on", "off", "null") for word in (base, base.capitalize(), base.upper())
)
"""The YAML 1.1 booleans and null: the only words starting with a letter that are not strings."""
_WORD_CHARACTER = r"""[^\s,\[\]{}:#"\\]"""
_WORD = rf"(?:[A-Za-z_]|[1-9][0-9]*[A-Za-z]){_WORD_CHARACTER}*(?: +{_WORD_CHARACTER}+)*"
"""A plain scalar in a flow collection that YAML reads as a string (or, for the words above, a
boolean or null): it starts with a letter, or with digits and then a letter (``1d``), and holds no
quote, backslash, colon or hash."""
_FLOW_WORDS = re.compile(f"({_WORD})")
"""Splits a flow collection around its words, so that joining the pieces with '"' quotes them."""
_FLOW_STRING_OR_WORD = re.compile(rf'"[^"\\]*"|{_WORD}')
_BARE_COLON = re.compile(":(?! )")
_QUOTED_MEANING = re.compile('"(' + "|".join(sorted(MEANINGFUL_WORDS)) + ')"')
_BLOCK_HEADER = re.compile(r"[|>][-+]?(?: *| +#.*)")
"""A block scalar's header without an indentation indicator."""
_SCALAR = re.compile(
    r"""(?:"([^"\\]*)"|'([^']*)'|((?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|-(?=[0-9]))[^\s:#]*(?: +[^\s:#]+)*)) *(?:(?<= )#.*)?"""
)
"""A double-quoted text without escapes, a single-quoted text without quotes inside, or a plain
scalar without colons or hashes, then an optional comment."""

_Frame = tuple[int, Any, "PathKey | None", bool]
"""An open block: its indentation, the container, its path when its values are located (only
sections and their entries are), and whether it is a list."""


class _Unusual(Exception):
    """Something this reader does not take: the event-based builders must read the text."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _Unusual
    return mapping


_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder(  # type: ignore[attr-defined]
    object_pairs_hook=_no_duplicates, parse_float=Decimal
).scan_once
"""The C scanner itself: ``decode`` would add two regular-expression scans and two Python calls."""


def _decode_flow(text: str) -> Any:
    value, end = _scan_json(text, 0)  # StopIteration or ValueError when it is not JSON
    if end != len(text) and text[end:].strip(" "):
        raise _Unusual
    return value


_JSON_LITERALS = {
    word: "null" if word.lower() == "null" else "true" if word.lower() in ("yes", "true", "on") else "false"
    for word in MEANINGFUL_WORDS
}


def _flow(rest: str) -> Any:
    """A one-line flow collection, read by the C JSON parser once its words are quoted.

    JSON then reads the collection exactly as YAML does, or fails: the words (see ``_WORD``) are
    strings, booleans or null; what is left outside them is brackets, commas, colons, spaces,
    plain decimal numbers (which both read alike, decimals as ``Decimal``) and double-quoted text.
    Anything else -- a single quote, an anchor, ``a:b``, a trailing comma, a word after a number --
    is not JSON, and an escape, the one thing JSON reads differently, is refused here.
    """
    flow = rest.partition(" #")[0] if "#" in rest else rest
    if "\\" in flow or _BARE_COLON.search(flow):
        raise _Unusual
    if '"' in flow:
        return _decode_flow(_FLOW_STRING_OR_WORD.sub(_json_word, flow))
    return _decode_flow(_QUOTED_MEANING.sub(_json_literal, '"'.join(_FLOW_WORDS.split(flow))))


def _json_literal(match: re.Match[str]) -> str:
    return _JSON_LITERALS[match.group(1)]


def _json_word(match: re.Match[str]) -> str:
    """A flow collection's word as JSON: quoted, unless it is YAML's boolean or null."""
    word = match.group()
    if word[0] == '"':
        return word
    return _JSON_LITERALS.get(word) or f'"{word}"'


def read_simple_yaml(
    text: str,
    locate: Callable[[int, int], Any],
    resolve: Callable[[str], Any],
    max_depth: int,
    max_values: int,
) -> tuple[dict[str, Any], dict[PathKey, Any]] | None:
    """The mapping a simple YAML text holds and where its sections and their entries are, or None.

    ``locate(line, column)`` makes a location (both 1-based). ``resolve(text)`` types a plain
    scalar as YAML does, raising ``LookupError`` for anything a policy refuses. The limits are the
    event-based builders': near them, this reader leaves the judging to those builders.
    """
    root: dict[str, Any] = {}
    locations: dict[PathKey, Any] = {}
    stack: list[_Frame] = []
    # the open block: its indentation, container, path when its values are located, and kind
    indent, base, in_list = 0, cast("PathKey | None", ()), False
    container: Any = root
    pending: tuple[str, int, int] | None = None  # a key with nothing after it: (key, line, column)
    values = 0
    lines = text.split("\n")
    if not all(map(str.isprintable, lines)):
        return None  # tabs, carriage returns, control characters, other line breaks, odd spaces
    resume = 0  # the first line not yet read: a block scalar reads ahead
    first_line = 0
    match_line = _LINE.match
    try:
        for index, line in enumerate(lines):
            stripped = line.lstrip(" ")
            if index < resume or not stripped or stripped[0] == "#" or (index == 0 and line == "---"):
                continue
            number = index + 1
            first_line = first_line or number
            spaces, dash, key, rest = match_line(line).groups()  # type: ignore[union-attr]
            at = len(spaces)
            if pending is not None:  # the block this key opens: deeper, or a list at the key's indentation
                key_name, key_line, key_column = pending
                pending = None
                if not (at > indent or (at == indent and dash and not in_list)) or len(stack) + 2 >= max_depth:
                    return None  # an empty value, or deep nesting
                opened: Any = [] if dash else {}
                container[key_name] = opened
                path = None if base is None else (*base, key_name)
                if path is not None:
                    locations[path] = locate(key_line, key_column)
                stack.append((indent, container, base, in_list))
                indent, container, in_list = at, opened, bool(dash)
                base = path if path is not None and len(path) < 2 else None
            else:
                while at < indent:
                    indent, container, base, in_list = stack.pop()
                if at != indent:
                    return None  # deeper than the open block: a continued value, or a mistake
                if in_list and not dash:  # a key after a list written at its key's indentation
                    indent, container, base, in_list = stack.pop()
                    if at != indent or in_list:
                        return None
            column = at
            if dash:
                if not in_list:
                    return None
                column += len(dash)
                path = None if base is None else (*base, len(container))
                if path is not None:
                    locations[path] = locate(number, column + 1)
                if key is None:  # a value as a list item
                    if not rest:
                        return None
                    value, weight, resume = _value(rest, base, resolve, lines, index, indent, max_depth - len(stack))
                    container.append(value)
                    values += weight
                    continue
                # a mapping as a list item: its keys line up with the first one
                item: dict[str, Any] = {}
                container.append(item)
                if len(stack) + 2 >= max_depth:
                    return None
                stack.append((indent, container, base, in_list))
                indent, container, in_list = column, item, False
                base = path if path is not None and len(path) < 2 else None
                values += 1
            elif in_list or key is None:
                return None
            if key in container or key in MEANINGFUL_WORDS:
                return None  # a duplicate key, or one YAML reads as a boolean or null
            if not rest or rest[0] == "#":
                pending = (key, number, column + 1)
                values += 2
                continue
            value, weight, resume = _value(rest, base, resolve, lines, index, indent, max_depth - len(stack))
            container[key] = value
            if base is not None:  # a collection is located at its key, like a block one
                where = column if rest[0] == "{" or rest[0] == "[" else len(line) - len(rest)
                locations[(*base, key)] = locate(number, where + 1)
            values += weight + 1
            if values > max_values:
                return None
    except (_Unusual, LookupError, ValueError, RecursionError, StopIteration):
        return None
    if pending is not None or not root or values > max_values:
        return None  # an empty value at the end, or no mapping at all
    locations[()] = locate(first_line, 1)
    return root, locations


def _value(
    rest: str, base: PathKey | None, resolve: Callable[[str], Any], lines: list[str], index: int, indent: int, room: int
) -> tuple[Any, int, int]:
    """The value the ``rest`` of line ``index`` holds, an upper bound of how many values that is,
    and the first line after it (a block scalar's text is on the lines below, indented deeper
    than ``indent``). ``room`` is how many levels the open blocks leave below the depth limit."""
    first = rest[0]
    if first == "{" or first == "[":
        if base == ():
            raise _Unusual  # a whole section as a flow collection: its entries must be located
        opens = rest.count("{") + rest.count("[")  # at least its nesting depth
        if opens + 2 >= room:
            raise _Unusual  # near the depth limit: the event-based builders judge it
        return _flow(rest), 3 * opens + 2 * rest.count(",") + 1, index + 1
    if first == "|" or first == ">":
        text, after = _block_scalar(rest, lines, index + 1, indent)
        return text, 1, after
    found = _SCALAR.fullmatch(rest)
    if found is None:
        raise _Unusual
    double, single, plain = found.groups()
    if plain is not None:
        return resolve(plain), 1, index + 1
    return (double if double is not None else single), 1, index + 1


def _block_scalar(header: str, lines: list[str], start: int, indent: int) -> tuple[str, int]:
    """The text of a literal (``|``) or folded (``>``) block scalar whose lines all share one
    indentation, and the first line after it. Anything subtler -- an indentation indicator, lines
    indented deeper than the first, lines of spaces only that reach into the text -- is unusual."""
    if _BLOCK_HEADER.fullmatch(header) is None:
        raise _Unusual
    last = len(lines) - 1  # the text after the final line break: empty unless the text lacks one
    if lines[last]:
        raise _Unusual  # without a final line break the text ends differently
    end = start
    margin = 0
    while end < last:
        line = lines[end]
        stripped = line.lstrip(" ")
        spaces = len(line) - len(stripped)
        if stripped:
            if spaces <= indent:
                break
            if not margin:
                margin = spaces
            elif spaces != margin:
                raise _Unusual
        elif (margin and spaces > margin) or (not margin and spaces > indent + 1):
            raise _Unusual  # spaces that may belong to the text
        end += 1
    if not margin:
        raise _Unusual  # no text at all
    body = lines[start:end]
    while body and not body[-1].strip(" "):
        body.pop()
    trailing = end - start - len(body)
    parts = [line[margin:] for line in body]
    text = "\n".join(parts) if header[0] == "|" else _fold(parts)
    chomp = header[1:2]
    if chomp == "-":
        return text, end
    if chomp == "+":
        return text + "\n" * (1 + trailing), end
    return text + "\n", end


def _fold(parts: list[str]) -> str:
    """Join a folded block scalar's lines: a single line break becomes a space, a blank line a break."""
    text = ""
    blanks = 0
    for part in parts:
        if not part:
            blanks += 1
            continue
        if text and not blanks:
            text += " "
        text += "\n" * blanks + part
        blanks = 0
    return text

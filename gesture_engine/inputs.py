"""Reading complaints from JSON text: exact decimals, no NaN/Infinity, located syntax errors.

JSON that parsers disagree about is refused rather than guessed at: a key given twice in one object
(most parsers silently keep the last), integers of more than 400 digits, nesting deeper than the
parser can follow. Strings with lone surrogates (``"\\ud800"``) parse, and are refused field by field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .errors import ComplaintError, FieldProblem

MAX_INTEGER_DIGITS = 400
_BOM = "\ufeff".encode()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is too large")
    return int(text)


class _RepeatedKeys(ValueError):
    def __init__(self, keys: list[str]) -> None:
        super().__init__("repeated keys")
        self.keys = keys


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members as a dict, refusing a key given twice (most parsers keep the last silently)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        raise _RepeatedKeys([key for key, _ in pairs if key in seen or seen.add(key)])  # type: ignore[func-returns-value]
    return result


# Built once: ``json.loads`` with options builds a new decoder on every call, which costs more than decoding.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_integer, parse_constant=_refuse_constant, object_pairs_hook=_unique)
_FLAT = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
"""The same without a Python call per integer and per object, for :func:`_flat` complaints."""


_scan_flat: Callable[[str, int], tuple[Any, int]] = _FLAT.scan_once  # type: ignore[attr-defined]


def _flat(text: str) -> Any:
    """A short flat object, as most complaints are, parsed by the C scanner alone; None when unsure
    (then the careful path decides, and says what is wrong).

    Short: no integer in it can have more than MAX_INTEGER_DIGITS digits. Flat: its one ``{`` comes
    first and there is no ``[``, so nothing nests (leading space or a byte-order mark go the careful
    way). No repeated key: every member has its own ``:``, so as many colons in the text as keys in
    the dict means no member was lost to a repeat (a colon inside a string, as in a timestamp, just
    sends the complaint the careful way). The scanner is called directly: ``decode`` adds two regex
    scans and two Python calls, as much as the parse itself."""
    if len(text) > MAX_INTEGER_DIGITS or "[" in text or text.rfind("{") > 0:
        return None
    try:
        value, end = _scan_flat(text, 0)
    except (StopIteration, ValueError):  # JSONDecodeError and a refused NaN included
        return None
    if end != len(text) and text[end:].strip(" \t\r\n"):  # only JSON's whitespace may follow
        return None
    return value if value.__class__ is dict and text.count(":") == len(value) else None


def parse_flat_line(data: bytes) -> dict[str, Any] | None:
    """A JSON line holding a short flat object, parsed as :func:`parse_complaint_json` would, or None when
    unsure (not UTF-8, or see :func:`_flat`). For batches: no error location is made for good lines."""
    try:
        return _flat(data.decode())  # type: ignore[no-any-return]
    except UnicodeDecodeError:
        return None


def parse_complaint_json(data: bytes | str, source: str = "<complaint>") -> Any:
    """Parse one JSON complaint. Floats become ``Decimal`` so money keeps every digit."""
    if isinstance(data, bytes):
        try:
            data = (data[3:] if data.startswith(_BOM) else data).decode("utf-8")  # a leading byte-order mark is harmless
        except UnicodeDecodeError as exc:
            raise ComplaintError([FieldProblem(source, f"is not valid UTF-8 (byte {exc.start})")]) from None
    flat = _flat(data)
    if flat is not None:
        return flat
    try:
        return _DECODER.decode(data)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise ComplaintError([FieldProblem(where, f"invalid JSON: {exc.msg}")]) from None
    except RecursionError:
        raise ComplaintError([FieldProblem(source, "invalid JSON: nested too deeply")]) from None
    except _RepeatedKeys as exc:
        raise ComplaintError([FieldProblem(ascii(key)[1:-1], "appears more than once in one JSON object; send it once")
                              for key in exc.keys]) from None
    except ValueError as exc:
        raise ComplaintError([FieldProblem(source, f"invalid JSON: {exc}")]) from None

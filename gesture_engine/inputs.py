"""Reading complaints from JSON text: exact decimals, no NaN/Infinity, located syntax errors.

JSON that parsers disagree about is refused rather than guessed at: a key given twice in one object
(most parsers silently keep the last), integers of more than 400 digits, nesting deeper than the
parser can follow. Strings with lone surrogates (``"\\ud800"``) parse, and are refused field by field.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import ComplaintError, FieldProblem

MAX_INTEGER_DIGITS = 400


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _integer(text: str) -> int:
    if len(text) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits is too large")
    return int(text)


def parse_complaint_json(data: bytes | str, source: str = "<complaint>") -> Any:
    """Parse one JSON complaint. Floats become ``Decimal`` so money keeps every digit."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")  # a leading byte-order mark is harmless; drop it
        except UnicodeDecodeError as exc:
            raise ComplaintError([FieldProblem(source, f"is not valid UTF-8 (byte {exc.start})")]) from None
    repeated: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            seen: set[str] = set()
            repeated.extend(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        return result

    try:
        parsed = json.loads(data, parse_float=Decimal, parse_int=_integer, parse_constant=_refuse_constant, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise ComplaintError([FieldProblem(where, f"invalid JSON: {exc.msg}")]) from None
    except RecursionError:
        raise ComplaintError([FieldProblem(source, "invalid JSON: nested too deeply")]) from None
    except ValueError as exc:
        raise ComplaintError([FieldProblem(source, f"invalid JSON: {exc}")]) from None
    if repeated:
        raise ComplaintError([FieldProblem(ascii(key)[1:-1], "appears more than once in one JSON object; send it once") for key in repeated])
    return parsed

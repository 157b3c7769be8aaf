"""Reading complaints from JSON text: exact decimals, no NaN/Infinity, located syntax errors."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import ComplaintError, FieldProblem


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_complaint_json(data: bytes | str, source: str = "<complaint>") -> Any:
    """Parse one JSON complaint. Floats become ``Decimal`` so money keeps every digit."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ComplaintError([FieldProblem(source, f"is not valid UTF-8 (byte {exc.start})")]) from None
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        where = f"{source}:{exc.lineno}:{exc.colno}"
        raise ComplaintError([FieldProblem(where, f"invalid JSON: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:
        raise ComplaintError([FieldProblem(source, f"invalid JSON: {exc}")]) from None

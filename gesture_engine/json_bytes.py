"""JSON bytes of plain values, fast: orjson, with pydantic-core for anything orjson cannot write.

The encoder of decisions (:mod:`gesture_engine.encoding`) and the decision id's canonical complaint
write through :func:`dumps`, and their bytes must be exactly pydantic-core's (``Decision.model_dump_json``):
compact, keys in the order given, non-ASCII text as UTF-8, UTC times ending in ``Z``. orjson writes the
JSON types, times and enums as pydantic-core does; a ``Decimal`` is written as its ``str()``, as
pydantic-core writes it; anything else orjson has no type for (a duration) goes through pydantic-core's
own conversion; an integer beyond 64 bits, which orjson refuses, sends the whole value to pydantic-core.
``tests/test_json_bytes.py`` holds both to the same bytes on every kind of value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from pydantic_core import to_json, to_jsonable_python

_OPTIONS = orjson.OPT_UTC_Z


def _other(value: Any) -> Any:
    """What orjson cannot write, as pydantic-core writes it."""
    return str(value) if isinstance(value, Decimal) else to_jsonable_python(value)


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON, UTF-8, byte for byte what pydantic-core writes for a model's field
    (``to_json(value, inf_nan_mode="null")``: an infinite or NaN float is ``null``, as JSON has no such number)."""
    try:
        return orjson.dumps(value, default=_other, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return to_json(value, inf_nan_mode="null")


def iso_utc(moment: datetime) -> str:
    """``moment.astimezone(UTC).isoformat()``, e.g. ``2026-12-01T09:00:00.250000+00:00``: orjson writes a
    UTC time (without ``OPT_UTC_Z``) exactly as ``isoformat`` does, in a fifth of the time; the decision
    id's canonical complaint writes every time this way."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment.__class__ is not datetime:  # a subclass (pandas' Timestamp): orjson writes exact datetimes only
        return moment.isoformat()
    return orjson.dumps(moment)[1:-1].decode()

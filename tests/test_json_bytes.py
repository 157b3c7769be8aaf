"""``json_bytes.dumps`` writes every value a decision can hold exactly as pydantic-core writes a model's field."""

from __future__ import annotations

import enum
import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic_core import to_json

from gesture_engine.json_bytes import dumps, iso_utc
from gesture_engine.money import Converted


class Level(str, enum.Enum):  # noqa: UP042  (a caller's str enum, as helpdesk code sends levels)
    HIGH = "high"


class Count(enum.IntEnum):
    BIG = 20_000


ZONES = st.sampled_from([None, UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8)),
                         ZoneInfo("Europe/Paris"), ZoneInfo("UTC")])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(), st.decimals(allow_nan=False, allow_infinity=False),
    st.datetimes(timezones=ZONES), st.dates(), st.timedeltas(), st.sampled_from([Level.HIGH, Count.BIG]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
                      | st.tuples(inner, inner), max_leaves=12)


@given(VALUES)
def test_every_value_is_written_as_pydantic_core_writes_it(value: Any) -> None:
    assert dumps(value) == to_json(value, inf_nan_mode="null")


@pytest.mark.parametrize("value", [
    2**64, -(2**63) - 1, 10**30, [1, {"a": 2**80}],  # beyond 64 bits: orjson refuses, pydantic-core writes
    1e16, 5e-324, 1.7976931348623157e308, -0.0, math.nan, math.inf, 0.1 + 0.2,
    Decimal("1E+3"), Decimal("-0.00"), Decimal("12.50"), Converted(Decimal("3456.54"), "3200.50 EUR × 1.08"),
    datetime(2026, 11, 23, 9, 30, 0, 500000, tzinfo=UTC), datetime(2026, 11, 23, 9, 30), date(2026, 2, 28),
    timedelta(hours=2, minutes=30), timedelta(days=-1, seconds=5), "tab\tnew\nline\x01\x7f \u2028 </script> 😀 ü",
])
def test_the_edges(value: Any) -> None:
    assert dumps(value) == to_json(value, inf_nan_mode="null")


class Moment(datetime):
    """A datetime subclass, as some callers' libraries make them."""


@given(st.datetimes(timezones=ZONES.filter(lambda zone: zone is not None)))
def test_iso_utc_writes_a_time_as_isoformat_does_in_utc(moment: datetime) -> None:
    expected = moment.astimezone(UTC).isoformat()
    assert iso_utc(moment) == expected
    assert iso_utc(Moment.fromisoformat(moment.isoformat())) == expected

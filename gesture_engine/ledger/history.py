"""History facts read from the ledger: one indexed query gives every history fact of a policy.

For each source the query adds one column over the customer's events (index ``ix_ledger_events_customer``,
``customer_id = ?``), so a policy with three history facts still costs one round trip:

- ``goodwill``: the sum of ``delta_minor`` in the policy's currency, what the customer's reservations
  hold (reserved and open, or issued);
- ``gestures``: for each counted gesture, +1 for a reservation that gave it, -1 once it is released or
  expired, so what counts is what a reservation still holds, as for goodwill;
- ``complaints``: the distinct complaint ids of ``decided`` events, other than the one being decided.

A policy whose only history fact is the goodwill sum runs the same query as ``history_query``, on the
covering index. Each window counts from when a reservation was made (``reserved_at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, case, cast, distinct, func, select

from gesture_engine.ledger.schema import events
from gesture_engine.load.compiler import HistorySource
from gesture_engine.money import MINOR_UNITS

_WINDOW_MICROS = 1_000_000
"""Microseconds in a second: windows are compiled in seconds, the ledger's times are in µs."""


@lru_cache(maxsize=64)
def history_statement(sources: tuple[HistorySource, ...]) -> Any:
    """One select with a column per source, bound to ``customer_id``, ``complaint_id``, ``currency``, ``since`` (the
    oldest window's start) and ``since_0``, ``since_1``, ... (each source's window start), in µs."""
    columns: list[Any] = []
    goodwill_only = all(source.kind == "goodwill" for source in sources)
    for i, source in enumerate(sources):
        in_window = events.c.reserved_at >= bindparam(f"since_{i}")
        column: Any
        if source.kind == "goodwill":
            held = events.c.delta_minor if goodwill_only else case((events.c.currency == bindparam("currency"), events.c.delta_minor), else_=0)
            column = func.sum(case((in_window, held), else_=0))
        elif source.kind == "gestures":
            given = case((events.c.kind == "reserved", 1), (events.c.kind == "released", -1), (events.c.kind == "expired", -1), else_=0)
            matches = _total([case((events.c.gestures.contains(f'"{gesture}"', autoescape=True), 1), else_=0) for gesture in source.gestures])
            column = func.sum(case((in_window, given * matches), else_=0))
        else:
            this = events.c.complaint_id == bindparam("complaint_id")  # decided again (redecide): not a complaint before itself
            column = func.count(distinct(case((and_(in_window, events.c.kind == "decided", ~this), events.c.complaint_id))))
        columns.append(func.coalesce(column, 0).label(f"h{i}"))
    where = [events.c.customer_id == bindparam("customer_id"), events.c.reserved_at >= bindparam("since")]
    if goodwill_only:  # the covering index's range: customer, currency, reserved_at
        where.insert(1, events.c.currency == bindparam("currency"))
    return select(*columns).where(*where)


def _total(terms: list[Any]) -> Any:
    """``terms`` added as a balanced tree: a catalog of thousands of gestures stays far inside SQLite's
    expression depth (1000) and Python's recursion limit, where a chain of additions would not."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    # a CAST keeps each half whole: SQLAlchemy writes nested additions as one flat chain, which SQLite parses n deep
    return cast(_total(terms[:middle]) + _total(terms[middle:]), Integer)


def read_history(connection: Connection, sources: Mapping[str, HistorySource], customer_id: str, complaint_id: str, currency: str,
                 now: int) -> dict[str, Decimal | int]:
    """Every history fact's value for ``customer_id`` at ``now`` (µs), before ``complaint_id``: goodwill in
    ``currency``, counts as ints."""
    ordered = tuple(sources.values())
    row = connection.execute(history_statement(ordered), {"customer_id": customer_id, "complaint_id": complaint_id, "currency": currency,
                                                          **history_parameters(ordered, now)}).one()
    return history_values(ordered, row, currency)


def history_parameters(ordered: tuple[HistorySource, ...], now: int) -> dict[str, int]:
    """The window starts ``history_statement(ordered)`` is bound to at ``now`` (µs): ``since`` and ``since_0``, ..."""
    starts = {f"since_{i}": now - source.window * _WINDOW_MICROS for i, source in enumerate(ordered)}
    return {"since": min(starts.values()), **starts} if starts else {}


def history_values(ordered: tuple[HistorySource, ...], row: Sequence[Any], currency: str) -> dict[str, Decimal | int]:
    """The facts from ``history_statement(ordered)``'s row: goodwill in ``currency``, counts as ints."""
    values: dict[str, Decimal | int] = {}
    for source, total in zip(ordered, row, strict=True):
        values[source.fact] = Decimal(int(total)).scaleb(-MINOR_UNITS[currency]) if source.kind == "goodwill" else int(total)
    return values

"""The ledger's tables, one schema for SQLite and PostgreSQL, and its versioned migrations.

Money is stored as integer minor units (``37500`` for 375.00 USD) with its currency: exact on both
databases (SQLite has no exact decimal type) and summed exactly by SQL. Times are integer
microseconds since the epoch, UTC: exact, portable and cheap to compare in an index.

Every event carries ``delta_minor``, what it changes in the goodwill its reservation holds (reserved
+R, issued -(R-I), released and expired -R, others 0), and ``reserved_at``, when its reservation was
made: what a customer holds in a window, or a team in a month, is one indexed ``SUM`` of deltas.
tests/test_ledger_properties.py holds those sums to a replay of the events.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import BigInteger, Column, Connection, Index, Integer, MetaData, String, Table, Text, inspect, select

SCHEMA_VERSION = 1
"""The schema this code reads and writes; a database of a newer version is refused, an older one migrated."""

metadata = MetaData()

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite's INTEGER PRIMARY KEY is the rowid

schema_table = Table(
    "ledger_schema", metadata,
    Column("version", Integer, nullable=False),
)

events = Table(
    "ledger_events", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("reservation_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),  # decided, reserved, approved, issued, released, expired
    Column("customer_id", String(200), nullable=False),
    Column("complaint_id", String(200), nullable=False),
    Column("team", String(100), nullable=False, default=""),  # "" when the decision named no team
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),  # decided: the budget; reserved: held; issued: given; released/expired: freed
    Column("delta_minor", BigInteger, nullable=False),  # the change in goodwill held by the reservation
    Column("reserved_at", BigInteger, nullable=False),  # µs: when the reservation was made (the window key)
    Column("at", BigInteger, nullable=False),  # µs: when this event happened
    Column("expires_at", BigInteger),  # µs, on reserved events: when an unissued reservation expires
    Column("decision_id", String(64), nullable=False),
    Column("policy_name", String(100), nullable=False),
    Column("policy_version", String(100), nullable=False),
    Column("policy_fingerprint", String(64), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("gestures", Text, nullable=False),  # JSON list of gesture ids
    Column("actor", String(200)),
    Column("level", String(64)),  # decided/reserved: the approval level needed; approved: the approver's level
    Column("detail", Text),  # JSON: the decision (decided), the approval levels (reserved), a note
)

Index("ix_ledger_events_customer", events.c.customer_id, events.c.currency, events.c.reserved_at, events.c.delta_minor)
Index("ix_ledger_events_team", events.c.team, events.c.reserved_at, events.c.currency, events.c.delta_minor)
Index("ix_ledger_events_reservation", events.c.reservation_id, events.c.id)
Index("ix_ledger_events_complaint", events.c.complaint_id, events.c.kind, events.c.id)
Index("ix_ledger_events_expiry", events.c.expires_at)


def _v1(connection: Connection) -> None:
    """The first schema: the event table and its indexes."""
    metadata.create_all(connection, tables=[events])


MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1}
"""Version -> the step that brings a database of the version before it to that version. A later
version adds a step here (and never edits an earlier one)."""


def current_version(connection: Connection) -> int | None:
    """The schema version of the database, 0 for one without our tables, None when it cannot be told."""
    if not inspect(connection).has_table(schema_table.name):
        return 0
    return connection.execute(select(schema_table.c.version)).scalar()


def migrate(connection: Connection, start: int) -> int:
    """Run every migration after version ``start`` (0: an empty database) in ``connection``'s transaction."""
    if start == 0:
        metadata.create_all(connection, tables=[schema_table])
        connection.execute(schema_table.insert().values(version=0))
    for version in range(start + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](connection)
        connection.execute(schema_table.update().values(version=version))
    return SCHEMA_VERSION

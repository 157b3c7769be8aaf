"""The goodwill ledger: what was decided, reserved, approved, issued, released and expired, per customer.

Entries are append-only events (schema.py); a reservation's state is a fold of its events and a
customer's goodwill in a window is a sum of their deltas. Nothing is updated or deleted.

``Ledger.decide`` reads the customer's goodwill in the policy's window, decides with it as the
policy's goodwill fact, and reserves the budget in one transaction that holds the customer's lock
(PostgreSQL: transaction-scoped advisory locks on the complaint, the customer and the team, taken in
one order; SQLite: ``BEGIN IMMEDIATE``, one writer at a time), so concurrent decisions for one
customer never together exceed the window limit.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, exists, func, or_, select
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from gesture_engine.complaint import tuple_getter
from gesture_engine.decision import Decision
from gesture_engine.encoding import decision_json
from gesture_engine.errors import ComplaintError, FieldProblem, LedgerError
from gesture_engine.ledger import schema
from gesture_engine.ledger.history import history_parameters, history_statement, history_values, read_history
from gesture_engine.ledger.ids import decision_id
from gesture_engine.ledger.schema import events
from gesture_engine.load.compiler import HistorySource
from gesture_engine.money import MINOR_UNITS
from gesture_engine.policy import Policy, TeamBudget

DEFAULT_TTL = timedelta(days=7)
"""How long a reservation holds its budget when neither the policy nor the ledger says."""

KINDS = ("decided", "reserved", "approved", "issued", "released", "expired")
TERMINAL = ("issued", "released", "expired")
OPEN = ("reserved", "approved")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware datetime: how the ledger stores time."""
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def to_minor(amount: Decimal, currency: str) -> int:
    """``amount`` in minor units of ``currency``; LedgerError ``invalid_amount`` when it has more decimals."""
    places = MINOR_UNITS[currency]
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise LedgerError("invalid_amount", f"{amount} has more decimal places than {currency} allows ({places})")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-MINOR_UNITS[currency])


@dataclass(frozen=True)
class Event:
    """One ledger entry, as stored (money in the currency's units, times as datetimes)."""

    id: int
    reservation_id: str
    kind: str
    customer_id: str
    complaint_id: str
    team: str
    currency: str
    amount: Decimal
    delta: Decimal
    reserved_at: datetime
    at: datetime
    expires_at: datetime | None
    decision_id: str
    policy_name: str
    policy_version: str
    policy_fingerprint: str
    rule: str
    gestures: tuple[str, ...]
    actor: str | None
    level: str | None
    detail: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (money as decimal strings, times as ISO 8601), as ``export`` writes it."""
        record: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            elif isinstance(value, tuple):
                value = list(value)
            record[name] = value
        return record


@dataclass(frozen=True)
class Reservation:
    """A reservation's state, derived from its events.

    ``held`` is what it counts against the customer's window and the team's month: the amount
    reserved while open, the amount issued once issued, nothing once released or expired.
    ``existing`` is True when ``decide`` returned a reservation made earlier for the same complaint id.
    """

    reservation_id: str
    decision_id: str
    complaint_id: str
    customer_id: str
    team: str
    currency: str
    state: str  # reserved, approved, issued, released, expired
    reserved: Decimal
    issued: Decimal | None
    held: Decimal
    approval_level: str
    approval_required: bool
    approvals: tuple[tuple[str, str], ...]  # (actor, level) in order
    levels: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    policy_name: str
    policy_version: str
    rule: str
    existing: bool = False
    events: tuple[Event, ...] = field(default=(), repr=False, compare=False)

    @property
    def open(self) -> bool:
        return self.state in OPEN

    def to_dict(self) -> dict[str, Any]:
        return {
            "reservation_id": self.reservation_id, "decision_id": self.decision_id, "complaint_id": self.complaint_id,
            "customer_id": self.customer_id, "team": self.team, "state": self.state, "currency": self.currency,
            "reserved": str(self.reserved), "issued": None if self.issued is None else str(self.issued), "held": str(self.held),
            "approval_level": self.approval_level, "approval_required": self.approval_required,
            "approvals": [{"actor": actor, "level": level} for actor, level in self.approvals],
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"), "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
            "policy": {"name": self.policy_name, "version": self.policy_version}, "rule": self.rule, "existing": self.existing,
        }


def fold(history: Sequence[Event], existing: bool = False) -> Reservation:
    """A reservation's state from its events in order (a decided event first, then reserved, then the rest)."""
    reserved = next(e for e in history if e.kind == "reserved")
    detail = reserved.detail or {}
    state, issued, held = "reserved", None, reserved.amount
    approvals: list[tuple[str, str]] = []
    for entry in history:
        if entry.kind == "approved":
            approvals.append((entry.actor or "", entry.level or ""))
            state = "approved" if state in OPEN else state
        elif entry.kind == "issued":
            state, issued, held = "issued", entry.amount, entry.amount
        elif entry.kind in ("released", "expired"):
            state, held = entry.kind, Decimal(0).scaleb(-MINOR_UNITS[entry.currency])
    return Reservation(
        reservation_id=reserved.reservation_id, decision_id=reserved.decision_id, complaint_id=reserved.complaint_id,
        customer_id=reserved.customer_id, team=reserved.team, currency=reserved.currency, state=state,
        reserved=reserved.amount, issued=issued, held=held, approval_level=reserved.level or "",
        approval_required=bool(detail.get("approval_required")), approvals=tuple(approvals), levels=tuple(detail.get("levels", ())),
        created_at=reserved.at, expires_at=reserved.expires_at or reserved.at, policy_name=reserved.policy_name,
        policy_version=reserved.policy_version, rule=reserved.rule, existing=existing, events=tuple(history),
    )


def _row_event(m: Mapping[Any, Any]) -> Event:
    currency = m["currency"]
    return Event(
        id=m["id"], reservation_id=m["reservation_id"], kind=m["kind"], customer_id=m["customer_id"], complaint_id=m["complaint_id"],
        team=m["team"], currency=currency, amount=from_minor(m["amount_minor"], currency), delta=from_minor(m["delta_minor"], currency),
        reserved_at=from_micros(m["reserved_at"]), at=from_micros(m["at"]),
        expires_at=None if m["expires_at"] is None else from_micros(m["expires_at"]), decision_id=m["decision_id"],
        policy_name=m["policy_name"], policy_version=m["policy_version"], policy_fingerprint=m["policy_fingerprint"], rule=m["rule"],
        gestures=tuple(_loads(m["gestures"])), actor=m["actor"], level=m["level"],
        detail=None if m["detail"] is None else _loads(m["detail"]),
    )


def _engine_for(url: str) -> Engine:
    """An engine for ``sqlite:///path`` or ``postgresql://...`` (psycopg 3); LedgerError ``bad_url`` otherwise."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError("bad_url", f"not a database URL: {url!r}; expected sqlite:///path or postgresql://...") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise LedgerError("bad_url", "a SQLite ledger needs a file: sqlite:///path/goodwill.db")
        synchronous = parsed.query.get("synchronous", "full")
        if synchronous not in ("full", "normal"):
            raise LedgerError("bad_url", f"synchronous={synchronous!r}: expected full (the default) or normal")
        engine = create_engine(parsed.set(drivername="sqlite").difference_update_query(["synchronous"]), connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(connection: Any, record: Any) -> None:
            connection.isolation_level = None  # we say when transactions begin, below
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            # full: a committed transaction survives a power loss; normal (?synchronous=normal): a killed process, not a power loss
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run beside the writers (_Checkpointer), not in their commits
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]  # the write lock before reading history

        return engine
    if backend in ("postgresql", "postgres"):
        commit = parsed.query.get("synchronous_commit", "on")
        if commit not in ("on", "off"):
            raise LedgerError("bad_url", f"synchronous_commit={commit!r}: expected on (the default) or off")
        # off: the server acknowledges a commit before its WAL reaches the disk (a server crash, not a client's, may lose the last ones)
        # no pool_pre_ping (a round trip per transaction): after the server restarts, the first call fails with
        # `unavailable` and the pool reconnects every connection for the next
        return create_engine(parsed.set(drivername="postgresql+psycopg").difference_update_query(["synchronous_commit"]),
                             connect_args={"options": f"-c synchronous_commit={commit}"})
    raise LedgerError("bad_url", f"unsupported ledger database {backend!r}; expected sqlite:///path or postgresql://...")


class _Compiled:
    """A Core statement compiled once for one dialect: its SQL and how to lay out its parameters, so the
    hot path runs it on the DBAPI cursor without SQLAlchemy compiling or wrapping anything per call."""

    __slots__ = ("_pick", "defaults", "names", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        assert "POSTCOMPILE" not in self.sql, "an IN list is expanded per call: write it as equalities joined by OR"
        self.names = compiled.positiontup if dialect.positional else None
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        names = self.names or []
        self._pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = tuple_getter(names)

    def parameters(self, given: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **given} if self.defaults else given
        return merged if self.names is None else self._pick(merged)


def _run(connection: Connection, statement: _Compiled, given: Mapping[str, Any]) -> Any:
    """Run a compiled statement in ``connection``'s transaction; returns the DBAPI cursor."""
    cursor = connection.connection.cursor()
    cursor.execute(statement.sql, statement.parameters(given))
    return cursor


class _Prepared:
    """PostgreSQL: a statement PREPAREd once on each of decide's own connections, then run by ``EXECUTE`` with its
    parameters bound client-side (quoted by psycopg), so that it travels in one simple query with the statements
    around it (``BEGIN`` and the locks before the read, ``COMMIT`` after the insert) yet is planned once."""

    __slots__ = ("_pick", "defaults", "execute", "name", "prepare")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)  # $1, $2, ...: each parameter once, in positiontup's order
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
        names = compiled.positiontup
        sql = str(compiled)
        self.name = name = "gesture_ledger_" + hashlib.sha256(sql.encode()).hexdigest()[:20]  # one name per statement, whoever makes it
        self.prepare = f"PREPARE {name} AS {sql}"
        self.execute = f"EXECUTE {name}({', '.join(['%s'] * len(names))})"
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self._pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = tuple_getter(names)

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        return self._pick({**self.defaults, **given} if self.defaults else given)


class _Statements:
    """decide's statements for one dialect, compiled when the ledger opens."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._postgres = dialect.name == "postgresql"
        if self._postgres:  # decide's own statements: %s for what psycopg binds, $1 for what the server prepares
            from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

            self._format: Dialect = PGDialect_psycopg(paramstyle="format")  # type: ignore[no-untyped-call]
            self._dollar: Dialect = PGDialect_psycopg(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
            self.prepared_insert = _Prepared(_INSERT_PAIR_SHARED, self._dollar)
            assert not self.prepared_insert.defaults
        self._prepared_reads: dict[tuple[HistorySource, ...], _Prepared] = {}
        self._client_locks: dict[int, _Compiled] = {}
        self.insert_pair = _Compiled(_INSERT_PAIR, dialect)
        assert not self.insert_pair.defaults
        binds = self.insert_pair.names or [f"{name}_{row}" for row in (0, 1) for name in _COLUMNS]
        self._pair_slots = tuple((bind, int(bind[-1]), bind[:-2]) for bind in binds)  # name_0: row 0's name
        self._rows_in_order = binds == [f"{name}_{row}" for row in (0, 1) for name in _COLUMNS]  # positional: row 0, then row 1
        self._locks: dict[int, _Compiled] = {}
        self._states: dict[tuple[HistorySource, ...], _Compiled] = {}

    def pair_parameters(self, pair: Sequence[Mapping[str, Any]]) -> Any:
        """``insert_pair``'s parameters from the columns of its two rows."""
        if self.insert_pair.names is None:
            return {bind: pair[row][name] for bind, row, name in self._pair_slots}
        if self._rows_in_order:
            return _ROW(pair[0]) + _ROW(pair[1])
        return tuple(pair[row][name] for _, row, name in self._pair_slots)

    def state(self, sources: tuple[HistorySource, ...]) -> _Compiled:
        """What decide reads, in one round trip: the complaint's latest reservation, whether any of the customer's
        reservations are due to expire, what the team holds this month, then each history fact's total."""
        if sources not in self._states:
            self._states[sources] = _Compiled(self._state_statement(sources), self._dialect)
        return self._states[sources]

    @staticmethod
    def _state_statement(sources: tuple[HistorySource, ...]) -> Any:
        columns: list[Any] = [_LATEST.scalar_subquery(), exists(_DUE_OF_CUSTOMER), _TEAM_HELD.scalar_subquery()]
        if not sources:
            return select(*columns)
        history = history_statement(sources).subquery()  # an aggregate: always one row
        return select(*columns, *history.c).select_from(history)

    def prepared_read(self, sources: tuple[HistorySource, ...]) -> _Prepared:
        """PostgreSQL: :meth:`state`, to PREPARE."""
        if sources not in self._prepared_reads:
            self._prepared_reads[sources] = _Prepared(self._state_statement(sources), self._dollar)
        return self._prepared_reads[sources]

    def client_locks(self, count: int) -> _Compiled:
        """PostgreSQL: :meth:`locks` with ``%s`` parameters, for psycopg to bind client-side."""
        if count not in self._client_locks:
            self._client_locks[count] = _Compiled(_locks_statement(count), self._format)
        return self._client_locks[count]

    def locks(self, count: int) -> _Compiled:
        """PostgreSQL: take ``count`` transaction-scoped advisory locks (keys ``key_0``...) in one round trip, in order."""
        if count not in self._locks:
            self._locks[count] = _Compiled(_locks_statement(count), self._dialect)
        return self._locks[count]


def _locks_statement(count: int) -> Any:
    """PostgreSQL: take ``count`` transaction-scoped advisory locks, keys ``key_0``..., in that order."""
    return select(*(func.pg_advisory_xact_lock(func.hashtextextended(bindparam(f"key_{i}"), 0)) for i in range(count)))


class _Turns:
    """A mutex that threads get in the order they asked for it: the holder hands it straight to the next
    in line (Python's Lock lets a thread that just released it take it back first, starving the others)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the holder before us: the mutex is ours

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False


class _WriterLock:
    """SQLite's writers, across threads and processes, queued in turn on locks the kernel keeps, held
    around each write transaction.

    A writer that finds the database taken waits in the kernel and is woken when the holder releases,
    instead of SQLite's busy handler sleeping and retrying (which gave the service a p99 of 651 ms with two
    writer processes). Threads of a process queue first, in order (:class:`_Turns`); then the process
    takes an exclusive ``flock`` of ``goodwill.db.lock-queue`` while it waits for the one of
    ``goodwill.db.lock``, and lets the first go once it holds the second. So while one process writes, at
    most one other waits for the database lock, and it gets it next: the process that just wrote cannot
    take the database lock back first, it queues behind. The kernel drops the locks of a killed process.
    The files are opened per process (a forked child must not share its parent's locks).
    """

    def __init__(self, path: str) -> None:
        self._paths = (f"{path}-queue", path)
        self._turns = _Turns()
        self._fds = (-1, -1)
        self._pid = 0

    def __enter__(self) -> None:
        self._turns.acquire()
        try:
            if self._pid != os.getpid():
                for fd in self._fds:
                    if fd >= 0:
                        os.close(fd)  # the parent's: closing this copy leaves the parent's locks alone
                self._fds = (-1, -1)
                queue, database = (os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644) for path in self._paths)
                self._fds, self._pid = (queue, database), os.getpid()
            queue, database = self._fds
            fcntl.flock(queue, fcntl.LOCK_EX)
            try:
                fcntl.flock(database, fcntl.LOCK_EX)
            finally:
                fcntl.flock(queue, fcntl.LOCK_UN)
        except BaseException:
            self._turns.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._fds[1], fcntl.LOCK_UN)
        finally:
            self._turns.release()


class _Checkpointer:
    """SQLite: copy the write-ahead log into the database file beside the writers, not in their commits.

    SQLite's automatic checkpoint runs inside the commit that fills the log (every 1,000 pages): that
    commit writes pages all over the file and, unless ``synchronous=off``, waits for the disk, which
    made a p99 of ~8 ms against a p50 of 0.4 ms on a 10,000,000-event ledger, and held the writer lock
    meanwhile. Here a thread of each writing process runs a PASSIVE checkpoint (it never blocks a writer
    or a reader) a second after the first write since the last one, on its own connection with the
    ledger's settings. Each checkpoint ends by flushing the database file to the disk, which delays the
    commits' own flushes of the log meanwhile: one a second instead of one every 50 ms took the durable
    p99 on a 10,000,000-event ledger from ~2.3 ms to ~1.2 ms (the log then holds about a second of writes,
    some tens of MB at full speed). A killed process loses nothing by it: the log is the database until
    it is checkpointed.
    """

    def __init__(self, engine: Engine, delay: float = 1.0) -> None:
        self._engine = engine
        self._delay = delay
        self._pid = 0
        self._written = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def written(self) -> None:
        """A write transaction committed: checkpoint soon (starting the thread in this process first)."""
        if self._pid != os.getpid():
            with self._start:
                if self._pid != os.getpid():  # a forked child does not inherit the parent's thread
                    self._written, self._stopping = threading.Event(), threading.Event()
                    self._thread = threading.Thread(target=self._run, name="gesture-ledger-checkpoint", daemon=True)
                    self._thread.start()
                    self._pid = os.getpid()
        self._written.set()

    def _run(self) -> None:
        connection: Any = None
        while not self._stopping.is_set():
            self._written.wait()
            self._stopping.wait(self._delay)  # let the commits of a second gather
            self._written.clear()
            try:
                connection = connection or self._engine.raw_connection()
                connection.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")
            except (DBAPIError, sqlite3.Error):
                pass  # tried again after the next write; the log keeps everything meanwhile
        if connection is not None:
            connection.close()

    def stop(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            self._stopping.set()
            self._written.set()
            self._thread.join()
            self._thread = None
            self._pid = 0


class _Own:
    """A thread's own DBAPI connection and its cursors (PostgreSQL: ``begin``, a client-side-binding cursor for
    decide's simple queries; SQLite: the one cursor)."""

    __slots__ = ("__weakref__", "begin", "connection", "cursor", "pid", "prepared")

    def __init__(self, connection: Any, postgres: bool) -> None:
        self.pid = os.getpid()
        self.connection = connection
        self.cursor = connection.cursor()
        self.prepared: set[str] = set()  # PostgreSQL: the statements PREPAREd on this connection
        if postgres:
            from psycopg import ClientCursor  # PostgreSQL only: psycopg is not imported for SQLite

            connection.autocommit = True  # decide says when its transaction begins: with its locks (Ledger._begin_and_read)
            self.begin = ClientCursor(connection)
        else:
            self.begin = self.cursor


class _OwnConnections:
    """decide's DBAPI connection, one per thread (and process): taken from the engine once, with the ledger's
    settings (its connect events), then detached from the pool and kept, so a call pays for no pool
    checkout, no SQLAlchemy Connection or transaction and no events. A connection goes with its thread (a
    service's pool threads end when idle), is dropped once it failed (the next call connects afresh, as the
    pool would after a server restart), and all close with the ledger. A forked child connects for itself
    and leaves its parent's connections alone."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._open: weakref.WeakSet[_Own] = weakref.WeakSet()  # of live threads: one goes when its thread's local does
        self._guard = threading.Lock()

    def get(self) -> _Own:
        own: _Own | None = getattr(self._local, "own", None)
        if own is None or own.pid != os.getpid():
            if own is not None:
                _INHERITED.append(own)  # a forked child's copy of its parent's connection: never used, never closed
            proxied = self._engine.raw_connection()
            driver = proxied.driver_connection
            proxied.detach()
            own = _Own(driver, self._engine.dialect.name == "postgresql")
            weakref.finalize(own, _close_in, own.pid, driver)  # when its thread ends
            with self._guard:
                self._open.add(own)
            self._local.own = own
        return own

    def drop(self) -> None:
        """Close this thread's connection (after it failed)."""
        own = getattr(self._local, "own", None)
        self._local.own = None
        if own is not None:
            with self._guard:
                self._open.discard(own)
            _close_quietly(own.connection)

    def close(self) -> None:
        """Close every thread's connection made in this process."""
        with self._guard:
            mine = [own for own in self._open if own.pid == os.getpid()]
            self._open.clear()
        for own in mine:
            _close_quietly(own.connection)


_INHERITED: list[_Own] = []
"""Connections a forked child inherited from its parent's threads, kept so that they are never closed in the child."""


def _close_in(pid: int, connection: Any) -> None:
    """Close ``connection`` if this is the process that opened it (a forked child's close would end its parent's)."""
    if os.getpid() == pid:
        _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    with suppress(Exception):  # a broken connection may fail to close; it is dropped either way
        connection.close()


def _rollback_quietly(connection: Any) -> None:
    """Roll back the transaction of a DBAPI connection after a failure (the failure is what is raised)."""
    with suppress(Exception):  # a broken connection cannot roll back; the database drops its transaction
        connection.rollback()


@dataclass(frozen=True)
class _Call:
    """One decide call's arguments, checked."""

    policy: Policy
    complaint: Mapping[str, Any]
    complaint_id: str
    customer_id: str
    team: str | None
    teams: bool  # the team has a budget to read (a team named and the policy has team limits)
    actor: str | None
    known: Decision | None  # decided before the lock: nothing the ledger holds can change it
    ordered: tuple[HistorySource, ...]  # the policy's history facts, in the order decide's read gives them
    keys: tuple[str, ...]  # PostgreSQL's advisory lock keys: the complaint, the customer, the team


def _loads(text: str) -> Any:
    """JSON the ledger wrote, parsed as ``json.loads`` does (orjson, quicker; json for what it refuses, such as huge ints)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _new_events(pair: Sequence[Mapping[str, Any]], ids: Sequence[int]) -> list[Event]:
    """A new reservation's events from the columns written and the ids given: nothing read back."""
    return [_row_event({**values, "id": id_}) for values, id_ in zip(pair, ids, strict=True)]


class Ledger:
    """A goodwill ledger in a database. Open it with :meth:`open`; safe to share across threads, one per process."""

    def __init__(self, engine: Engine, *, reservation_ttl: timedelta, tz: ZoneInfo, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._sql = _Statements(engine.dialect)
        database = engine.url.database
        sqlite = not self._postgres and bool(database)
        self._writer: AbstractContextManager[object] = _WriterLock(f"{database}.lock") if sqlite else nullcontext()
        self._checkpointer = _Checkpointer(engine) if sqlite else None
        self._own = _OwnConnections(engine)
        self._dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error
        self.reservation_ttl = reservation_ttl
        self.tz = tz
        self._clock = clock

    @classmethod
    def open(cls, url: str, *, migrate: bool = False, reservation_ttl: timedelta = DEFAULT_TTL, tz: str = "UTC",
             clock: Callable[[], datetime] | None = None) -> Ledger:
        """Open the ledger at ``url`` (``sqlite:///path`` is created on first use).

        A database of an older schema is migrated when ``migrate`` is true and refused (``schema_outdated``)
        otherwise; one of a newer schema is refused (``schema_too_new``). ``tz`` is the time zone of the
        calendar months teams' spend is counted in; ``clock`` (tests) tells the time.
        """
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise LedgerError("bad_option", f"unknown time zone {tz!r}") from None
        engine = _engine_for(url)
        try:
            with engine.begin() as connection:
                version = schema.current_version(connection)
                if version is None or version > schema.SCHEMA_VERSION:
                    raise LedgerError("schema_too_new", f"the ledger has schema version {version}; this gesture-engine reads "
                                      f"version {schema.SCHEMA_VERSION}: upgrade gesture-engine")
                if version == 0 or (version < schema.SCHEMA_VERSION and migrate):
                    schema.migrate(connection, version)
                elif version < schema.SCHEMA_VERSION:
                    raise LedgerError("schema_outdated", f"the ledger has schema version {version}, this gesture-engine needs "
                                      f"{schema.SCHEMA_VERSION}: run gesture ledger migrate")
        except LedgerError:
            engine.dispose()
            raise
        except (DBAPIError, SQLAlchemyError) as error:
            engine.dispose()
            raise LedgerError("unreachable", f"cannot open the ledger at {make_url(url).render_as_string(hide_password=True)}: "
                              f"{_first_line(error)}") from None
        return cls(engine, reservation_ttl=reservation_ttl, tz=zone, clock=clock or (lambda: datetime.now(UTC)))

    @staticmethod
    def migrate(url: str) -> int:
        """Bring the ledger at ``url`` to the current schema (creating it if needed); returns the version."""
        Ledger.open(url, migrate=True).close()
        return schema.SCHEMA_VERSION

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._own.close()
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    # -- transactions ----------------------------------------------------------------------------
    @contextmanager
    def _transaction(self, *lock_keys: str) -> Iterator[Connection]:
        """One transaction holding the locks of ``lock_keys`` (PostgreSQL; SQLite's BEGIN IMMEDIATE locks all)."""
        try:
            with self._writer, self._engine.begin() as connection:
                if self._postgres and lock_keys:
                    keys = sorted(set(lock_keys))  # one order: no deadlocks
                    _run(connection, self._sql.locks(len(keys)), {f"key_{i}": key for i, key in enumerate(keys)})
                yield connection
            if self._checkpointer is not None:
                self._checkpointer.written()
        except (DBAPIError, SQLAlchemyError) as error:
            raise LedgerError("unavailable", f"the ledger database failed: {_first_line(error)}") from None
        except OSError as error:  # the SQLite writer lock's file
            raise LedgerError("unavailable", f"the ledger's lock file failed: {error}") from None

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # -- reading ---------------------------------------------------------------------------------
    def _events_of(self, connection: Connection, reservation_id: str) -> list[Event]:
        return [_row_event(row._mapping) for row in connection.execute(_EVENTS_OF, {"reservation_id": reservation_id})]

    def _reservation(self, connection: Connection, reservation_id: str, now: int) -> Reservation:
        history = self._events_of(connection, reservation_id)
        if not any(e.kind == "reserved" for e in history):
            raise LedgerError("unknown_reservation", f"no reservation {reservation_id!r}", reservation_id=reservation_id)
        reservation = fold(history)
        if reservation.open and to_micros(reservation.expires_at) <= now:
            expired = self._append(connection, reservation, "expired", now, amount=reservation.reserved, delta=-reservation.reserved)
            reservation = fold([*history, expired])
        return reservation

    def held(self, customer_id: str, currency: str, days: int) -> Decimal:
        """Goodwill the customer holds (reserved and not yet issued, or issued) in ``currency`` from the last ``days`` days."""
        now = to_micros(self._now())
        with self._transaction(f"customer:{customer_id}") as connection:
            self._expire_customer(connection, customer_id, now)
            return self._held(connection, customer_id, currency, now - days * 86_400_000_000)

    def history_facts(self, policy: Policy, customer_id: str) -> dict[str, Decimal | int]:
        """The policy's history facts for the customer now, as deciding through the ledger fills them."""
        now = to_micros(self._now())
        with self._transaction(f"customer:{customer_id}") as connection:
            self._expire_customer(connection, customer_id, now)
            return read_history(connection, policy.compiled.history, customer_id, "", policy.currency, now)

    def _held(self, connection: Connection, customer_id: str, currency: str, since: int) -> Decimal:
        total = connection.execute(_HELD, {"customer_id": customer_id, "currency": currency, "since": since}).scalar_one()
        return from_minor(int(total), currency)

    def _period(self, now_at: datetime) -> tuple[str, int, int]:
        """The calendar month of ``now_at`` in the ledger's time zone: ``2026-12``, its start and end (µs)."""
        local = now_at.astimezone(self.tz)
        period = f"{local.year:04d}-{local.month:02d}"
        start, end = self.month(period)
        return period, to_micros(start), to_micros(end)

    @staticmethod
    def _team_left(policy: Policy, team: str, period: str, held_minor: int) -> TeamBudget:
        """What ``team`` has left of the policy's monthly limit: the limit minus what its reservations of the
        month hold (read in decide's locked transaction). A reservation past its expiry counts until its
        ``expired`` event is written (on the customer's next decision, or ``expire()``): the team is never
        let over its limit by an expiry not yet seen."""
        limits = policy.compiled.teams
        assert limits is not None
        limit = limits.limit(team)
        return TeamBudget(team=team, limit=limit, left=limit - from_minor(held_minor, policy.currency), period=period)

    def _expire_customer(self, connection: Connection, customer_id: str, now: int) -> None:
        """Write the ``expired`` events of the customer's reservations that are due (expiry is lazy)."""
        for reservation_id in connection.execute(_DUE_OF_CUSTOMER, {"customer_id": customer_id, "now": now}).scalars().all():
            self._reservation(connection, reservation_id, now)

    def expire(self) -> int:
        """Write an ``expired`` event for every open reservation past its expiry; returns how many."""
        now = to_micros(self._now())
        with self._transaction() as connection:
            due = connection.execute(_due(now)).scalars().all()
            for reservation_id in due:
                self._reservation(connection, reservation_id, now)
        return len(due)

    def reservation(self, reservation_id: str) -> Reservation:
        """The reservation's current state (an overdue one is expired first)."""
        now = to_micros(self._now())
        with self._transaction(f"reservation:{reservation_id}") as connection:
            return self._reservation(connection, reservation_id, now)

    def history(self, customer_id: str) -> list[Reservation]:
        """Every reservation of the customer, oldest first (overdue ones expired first)."""
        now = to_micros(self._now())
        with self._transaction(f"customer:{customer_id}") as connection:
            self._expire_customer(connection, customer_id, now)
            rows = connection.execute(select(events).where(events.c.customer_id == customer_id).order_by(events.c.id))
            grouped: dict[str, list[Event]] = {}
            for row in rows:
                entry = _row_event(row._mapping)
                grouped.setdefault(entry.reservation_id, []).append(entry)
        return [fold(history) for history in grouped.values()]

    def events(self, customer_id: str | None = None) -> Iterator[Event]:
        """Every event in the order written (of one customer when given)."""
        query = select(events).order_by(events.c.id)
        if customer_id is not None:
            query = query.where(events.c.customer_id == customer_id)
        with self._engine.connect() as connection:
            for row in connection.execution_options(stream_results=True, yield_per=1000).execute(query):
                yield _row_event(row._mapping)

    def spend(self, team: str | None = None, period: str | None = None) -> list[tuple[str, str, Decimal]]:
        """Goodwill held by each team (or one) for reservations made in a calendar month (``2026-12``, the
        ledger's time zone; default: this month): ``(team, currency, amount)`` rows sorted by team."""
        start, end = self.month(period)
        query = (select(events.c.team, events.c.currency, func.sum(events.c.delta_minor))
                 .where(events.c.reserved_at >= to_micros(start), events.c.reserved_at < to_micros(end))
                 .group_by(events.c.team, events.c.currency).order_by(events.c.team, events.c.currency))
        if team is not None:
            query = query.where(events.c.team == team)
        now = to_micros(self._now())
        with self._transaction() as connection:
            for reservation_id in connection.execute(_due(now)).scalars().all():
                self._reservation(connection, reservation_id, now)
            rows = connection.execute(query).all()
        return [(name, currency, from_minor(int(total), currency)) for name, currency, total in rows]

    def month(self, period: str | None) -> tuple[datetime, datetime]:
        """The start and end of a calendar month ``YYYY-MM`` in the ledger's time zone (default: the current one)."""
        if period is None:
            local = self._now().astimezone(self.tz)
            year, month = local.year, local.month
        else:
            try:
                year_text, month_text = period.split("-")
                year, month = int(year_text), int(month_text)
                datetime(year, month, 1)
            except ValueError:
                raise LedgerError("bad_period", f"expected a month like 2026-12, got {period!r}") from None
        start = datetime(year, month, 1, tzinfo=self.tz)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    # -- writing ---------------------------------------------------------------------------------
    def _append(self, connection: Connection, base: Reservation | Mapping[str, Any], kind: str, at: int, *, amount: Decimal,
                delta: Decimal, actor: str | None = None, level: str | None = None, detail: Any = None) -> Event:
        """Append one event of ``kind`` for a reservation (``base``: it, or the columns of a new one); returns it."""
        if isinstance(base, Reservation):
            first = base.events[0]
            columns: dict[str, Any] = {
                "reservation_id": base.reservation_id, "customer_id": base.customer_id, "complaint_id": base.complaint_id,
                "team": base.team, "currency": base.currency, "reserved_at": to_micros(base.created_at),
                "decision_id": base.decision_id, "policy_name": first.policy_name, "policy_version": first.policy_version,
                "policy_fingerprint": first.policy_fingerprint, "rule": first.rule, "gestures": json.dumps(list(first.gestures)),
            }
        else:
            columns = dict(base)
        currency = columns["currency"]
        values = {"expires_at": None, **columns, "kind": kind, "at": at, "amount_minor": to_minor(amount, currency),
                  "delta_minor": to_minor(delta, currency), "actor": actor, "level": level, "detail": _detail(detail)}
        values["id"] = connection.execute(_INSERT, values).inserted_primary_key[0]  # type: ignore[index]
        return _row_event(values)

    def decide(self, policy: Policy, complaint: Mapping[str, Any], *, team: str | None = None, actor: str | None = None,
               redecide: bool = False) -> tuple[Decision, Reservation]:
        """Decide ``complaint`` with the customer's goodwill from the ledger, and reserve its budget, atomically.

        The complaint needs ``complaint_id`` (the idempotency key) and ``customer_id``, and must not carry
        the policy's history facts (ComplaintError code ``history_fact_supplied``): the ledger fills them with
        what it recorded for the customer in each one's window (read_history). Deciding a complaint id again
        returns its latest reservation (``existing=True``) and the decision it was made with, unless
        ``redecide``: then an open reservation is released and the complaint decided afresh.
        """
        fact = policy.compiled.limits.goodwill_fact
        sources = policy.compiled.history
        complaint_id, customer_id = _ledger_ids(complaint, sources.keys() | ({fact} if fact else set()))
        if fact is not None and fact not in sources:
            raise LedgerError("policy_window_missing", f"policy {policy.name} gives no window for its goodwill fact: the ledger cannot "
                              f"tell which goodwill counts; add window_days: 90 to goodwill, or history: {{sum: goodwill, window: 90d}} to {fact}")
        if team is not None and not (0 < len(team) <= 100):
            raise LedgerError("bad_option", "a team name has 1 to 100 characters")
        teams = team is not None and policy.compiled.teams is not None
        # decided once: before the lock when nothing the ledger holds can change the decision, else once the history is read
        # (a bad complaint is then refused inside the transaction, which writes nothing)
        known = None if sources or teams else policy.decide(complaint)
        keys = (f"complaint:{complaint_id}", f"customer:{customer_id}") + ((f"team:{team}",) if team else ())
        call = _Call(policy, complaint, complaint_id, customer_id, team, teams, actor, known, tuple(sources.values()), keys)
        if not redecide:
            made = self._decide_new(call)
            if made is not None:
                return made
        return self._decide_general(call, redecide)

    def _reads(self, call: _Call, now_at: datetime) -> tuple[str, dict[str, Any]]:
        """The team's calendar month at ``now_at`` (``""`` without team budgets) and the parameters of decide's read."""
        now = to_micros(now_at)
        period, month_start, month_end = self._period(now_at) if call.teams else ("", 0, 0)
        return period, {"complaint_id": call.complaint_id, "customer_id": call.customer_id, "currency": call.policy.currency, "now": now,
                        "team": call.team if call.teams else None, "month_start": month_start, "month_end": month_end,
                        **history_parameters(call.ordered, now)}

    def _decision(self, call: _Call, period: str, team_held: Any, totals: Sequence[Any]) -> Decision:
        """The decision with the history read (the one made before the lock when nothing read can change it)."""
        if call.known is not None:
            return call.known
        budget = self._team_left(call.policy, call.team, period, int(team_held)) if call.teams and call.team is not None else None
        facts = {**call.complaint, **history_values(call.ordered, totals, call.policy.currency)} if call.ordered else call.complaint
        return call.policy.decide(facts, team=budget)

    def _new_pair(self, call: _Call, decision: Decision, now_at: datetime, attempt: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """The columns of a new reservation's two events, ``decided`` and ``reserved``."""
        policy = call.policy
        now = to_micros(now_at)
        currency = decision.budget.currency
        amount = to_minor(decision.budget.amount, currency)
        ttl = policy.compiled.reservation_ttl
        lifetime = timedelta(seconds=ttl) if ttl is not None else self.reservation_ttl
        columns = {
            "reservation_id": _reservation_id(call.complaint_id, attempt), "customer_id": call.customer_id,
            "complaint_id": call.complaint_id, "team": call.team or "", "currency": currency, "reserved_at": now, "at": now,
            "decision_id": decision_id(decision), "policy_name": policy.name, "policy_version": policy.version,
            "policy_fingerprint": policy.fingerprint, "rule": decision.rule, "gestures": _gestures_json(tuple(g.id for g in decision.gestures)),
            "actor": call.actor, "level": decision.approval.level, "amount_minor": amount,
        }
        return (
            {**columns, "kind": "decided", "delta_minor": 0, "expires_at": None,
             "detail": decision_json(decision).decode()},  # as written: it reads back byte for byte
            {**columns, "kind": "reserved", "delta_minor": amount, "expires_at": to_micros(now_at + lifetime),
             "detail": _reserved_detail(policy.compiled.ladder.levels, policy.compiled.ladder.rows, decision.approval.level)},
        )

    def _decide_new(self, call: _Call) -> tuple[Decision, Reservation] | None:
        """decide in the common case, a complaint id not decided before and none of the customer's reservations due
        to expire, on this thread's own DBAPI connection: one read, one insert, one commit. None, with nothing
        written, when the read finds a reservation for the complaint or one due to expire (the general path then
        decides)."""
        try:
            own = self._own.get()
            try:
                with self._writer:
                    try:
                        now_at = self._now()
                        period, reads = self._reads(call, now_at)
                        latest, due, team_held, *totals = self._begin_and_read(own, call, reads)
                        if latest is not None or (due and call.ordered):
                            own.connection.rollback()
                            return None
                        decision = self._decision(call, period, team_held, totals)
                        pair = self._new_pair(call, decision, now_at, 0)
                        ids = self._insert_and_commit(own, pair)
                    except BaseException:
                        _rollback_quietly(own.connection)
                        raise
                if self._checkpointer is not None:
                    self._checkpointer.written()
            except self._dbapi_error as error:
                self._own.drop()
                raise LedgerError("unavailable", f"the ledger database failed: {_first_line(error)}") from None
        except (DBAPIError, SQLAlchemyError) as error:  # connecting
            raise LedgerError("unavailable", f"the ledger database failed: {_first_line(error)}") from None
        except OSError as error:  # the SQLite writer lock's file
            raise LedgerError("unavailable", f"the ledger's lock file failed: {error}") from None
        # built from what was written, after the commit: the lock is not held for it
        return decision, fold(_new_events(pair, ids))

    def _begin_and_read(self, own: _Own, call: _Call, given: Mapping[str, Any]) -> Any:
        """Begin the transaction holding the locks (SQLite: the write lock; PostgreSQL: the advisory locks of the
        call's keys, in one order), then read what decide needs; its row.

        On PostgreSQL ``BEGIN``, the locks and the read travel in one simple query, one round trip: the server
        runs them in order, and the read, a statement of its own, sees everything committed before the locks
        were granted. The read is PREPAREd once per connection."""
        if not self._postgres:
            own.cursor.execute("BEGIN IMMEDIATE")  # the write lock before reading history
            statement = self._sql.state(call.ordered)
            own.cursor.execute(statement.sql, statement.parameters(given))
            return own.cursor.fetchone()
        read = self._sql.prepared_read(call.ordered)
        self._prepare(own, read)
        keys = sorted(set(call.keys))  # one order: no deadlocks
        locks = self._sql.client_locks(len(keys))
        own.begin.execute(f"BEGIN; {locks.sql}; {read.execute}",
                          locks.parameters({f"key_{i}": key for i, key in enumerate(keys)}) + read.parameters(given))
        own.begin.nextset()  # past BEGIN's and the locks' results to the read's
        own.begin.nextset()
        return own.begin.fetchone()

    def _insert_and_commit(self, own: _Own, pair: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert a new reservation's two events and commit (PostgreSQL: the PREPAREd insert and ``COMMIT`` in one
        simple query, one round trip); their ids."""
        if not self._postgres:
            own.cursor.execute(self._sql.insert_pair.sql, self._sql.pair_parameters(pair))
            rows = own.cursor.fetchall()
            own.connection.commit()
        else:
            insert = self._sql.prepared_insert
            self._prepare(own, insert)
            given = {**pair[0], **{f"{name}_{row}": pair[row][name] for row in (0, 1) for name in _PER_ROW}}
            own.begin.execute(f"{insert.execute}; COMMIT", insert.parameters(given))
            rows = own.begin.fetchall()
        return sorted(row[0] for row in rows)

    @staticmethod
    def _prepare(own: _Own, statement: _Prepared) -> None:
        """PREPARE ``statement`` on the connection, once."""
        if statement.name not in own.prepared:
            own.cursor.execute(statement.prepare)
            own.prepared.add(statement.name)

    def _decide_general(self, call: _Call, redecide: bool) -> tuple[Decision, Reservation]:
        """decide on every path: a complaint decided before (returned, or redecided), reservations due to expire."""
        if call.known is None:  # a bad complaint is refused, before any lock, even when its id was decided before
            call.policy.decide({**call.complaint, **dict.fromkeys(call.policy.compiled.history, 0)})
        customer_id, complaint_id = call.customer_id, call.complaint_id
        state = self._sql.state(call.ordered)
        with self._transaction(*call.keys) as connection:
            now_at = self._now()
            now = to_micros(now_at)
            period, reads = self._reads(call, now_at)
            latest, due, team_held, *totals = _run(connection, state, reads).fetchone()
            attempt = 0
            if latest is not None:
                previous = self._reservation(connection, latest, now)
                if previous.customer_id != customer_id:
                    raise LedgerError("complaint_id_reused", f"complaint {complaint_id!r} was decided for another customer",
                                      reservation_id=latest)
                if not redecide:
                    decided = next(e for e in previous.events if e.kind == "decided")
                    return Decision.model_validate_json(json.dumps(decided.detail)), fold(previous.events, existing=True)
                if previous.open:
                    self._append(connection, previous, "released", now, amount=previous.reserved, delta=-previous.reserved,
                                 actor=call.actor, detail={"note": "redecided"})
                attempt = connection.execute(select(func.count()).where(
                    events.c.complaint_id == complaint_id, events.c.kind == "reserved")).scalar_one()
            expiring = bool(due) and bool(call.ordered)
            if expiring:
                self._expire_customer(connection, customer_id, now)
            if latest is not None or expiring:  # what the customer and the team hold changed: read it again
                _, _, team_held, *totals = _run(connection, state, reads).fetchone()
            decision = self._decision(call, period, team_held, totals)
            pair = self._new_pair(call, decision, now_at, attempt)
            cursor = connection.connection.cursor()
            cursor.execute(self._sql.insert_pair.sql, self._sql.pair_parameters(pair))
            ids = sorted(row[0] for row in cursor.fetchall())
        return decision, fold(_new_events(pair, ids))

    def approve(self, reservation_id: str, actor: str, level: str) -> Reservation:
        """Record that ``actor``, approving at ``level``, approved the reservation (refused below its approval level)."""
        if not actor:
            raise LedgerError("actor_required", "an approval names who approved", reservation_id=reservation_id)
        now = to_micros(self._now())
        with self._transaction(f"reservation:{reservation_id}") as connection:
            reservation = self._writable(connection, reservation_id, now)
            levels = reservation.levels
            if level not in levels:
                raise LedgerError("unknown_level", f"{level!r} is not an approval level of policy {reservation.policy_name} "
                                  f"({', '.join(levels)})", reservation_id=reservation_id)
            if levels.index(level) < levels.index(reservation.approval_level):
                raise LedgerError("level_too_low", f"reservation {reservation_id} needs approval by {reservation.approval_level} or above; "
                                  f"{actor} approves at {level}", reservation_id=reservation_id)
            approved = self._append(connection, reservation, "approved", now, amount=Decimal(0), delta=Decimal(0), actor=actor, level=level)
            return fold([*reservation.events, approved])

    def issue(self, reservation_id: str, amount: Decimal | int | str | None = None, *, currency: str | None = None,
              actor: str | None = None) -> Reservation:
        """Record that goodwill was given: ``amount`` (default: all reserved) of the reservation, at most what it holds.

        Refused (LedgerError, nothing written) for an unknown, released or expired reservation, a second
        issue, an amount that is negative, above the reservation or in another currency, and when the
        reservation needs an approval it does not have yet.
        """
        now = to_micros(self._now())
        with self._transaction(f"reservation:{reservation_id}") as connection:
            reservation = self._writable(connection, reservation_id, now)
            given = reservation.reserved if amount is None else _amount(amount, reservation_id)
            if given < 0:
                raise LedgerError("negative_amount", f"cannot issue a negative amount ({given})", reservation_id=reservation_id)
            if currency is not None and currency != reservation.currency:
                raise LedgerError("currency_mismatch", f"reservation {reservation_id} is in {reservation.currency}, not {currency}",
                                  reservation_id=reservation_id)
            if given > reservation.reserved:
                raise LedgerError("exceeds_reservation", f"cannot issue {given} {reservation.currency}: reservation {reservation_id} "
                                  f"holds {reservation.reserved}", reservation_id=reservation_id)
            if reservation.approval_required and not reservation.approvals:
                raise LedgerError("approval_required", f"reservation {reservation_id} needs approval by {reservation.approval_level} "
                                  "before it is issued", reservation_id=reservation_id)
            try:
                to_minor(given, reservation.currency)
            except LedgerError as error:
                raise LedgerError(error.code, error.message, reservation_id=reservation_id) from None
            issued = self._append(connection, reservation, "issued", now, amount=given, delta=given - reservation.reserved, actor=actor)
            return fold([*reservation.events, issued])

    def release(self, reservation_id: str, *, actor: str | None = None) -> Reservation:
        """Give the reservation's budget back (nothing is given): refused once issued, released or expired."""
        now = to_micros(self._now())
        with self._transaction(f"reservation:{reservation_id}") as connection:
            reservation = self._writable(connection, reservation_id, now)
            released = self._append(connection, reservation, "released", now, amount=reservation.reserved, delta=-reservation.reserved,
                                    actor=actor)
            return fold([*reservation.events, released])

    def _writable(self, connection: Connection, reservation_id: str, now: int) -> Reservation:
        """The reservation, if it is still open; LedgerError ``already_issued`` or ``reservation_closed`` otherwise."""
        reservation = self._reservation(connection, reservation_id, now)
        if reservation.state == "issued":
            raise LedgerError("already_issued", f"reservation {reservation_id} was already issued ({reservation.issued} "
                              f"{reservation.currency})", reservation_id=reservation_id)
        if not reservation.open:
            raise LedgerError("reservation_closed", f"reservation {reservation_id} was {reservation.state}", reservation_id=reservation_id)
        return reservation

    def import_rows(self, rows: Sequence[Mapping[str, Any]], *, actor: str = "import") -> int:
        """Record past goodwill (rows as :mod:`gesture_engine.ledger.transfer` reads them) in one transaction."""
        with self._transaction() as connection:
            for row in rows:
                if connection.execute(select(exists().where(events.c.reservation_id == row["reservation_id"]))).scalar():
                    raise LedgerError("already_imported", f"line {row['line']} was imported before", line=row["line"],
                                      reservation_id=row["reservation_id"])
                at = to_micros(row["at"])
                columns = {
                    "reservation_id": row["reservation_id"], "customer_id": row["customer_id"], "complaint_id": row["complaint_id"],
                    "team": row["team"], "currency": row["currency"], "reserved_at": at, "decision_id": "",
                    "policy_name": "", "policy_version": "", "policy_fingerprint": "", "rule": "", "gestures": json.dumps(row["gestures"]),
                }
                note = {"note": row["note"]} if row["note"] else None
                self._append(connection, {**columns, "expires_at": at}, "reserved", at, amount=row["amount"], delta=row["amount"],
                             actor=actor, detail={"approval_required": False, "levels": [], "imported": True})
                self._append(connection, columns, "issued", at, amount=row["amount"], delta=Decimal(0), actor=actor, detail=note)
        return len(rows)


def history_query(customer_id: str, currency: str, since: int) -> Any:
    """What a customer holds in ``currency`` from reservations made at or after ``since`` (µs): one indexed sum."""
    return (select(func.coalesce(func.sum(events.c.delta_minor), 0))
            .where(events.c.customer_id == customer_id, events.c.currency == currency, events.c.reserved_at >= since))


_INSERT = events.insert()
_EVENTS_OF = select(events).where(events.c.reservation_id == bindparam("reservation_id")).order_by(events.c.id)
_LATEST = (select(events.c.reservation_id).where(events.c.complaint_id == bindparam("complaint_id"), events.c.kind == "reserved")
           .order_by(events.c.id.desc()).limit(1))
"""The latest reservation made for a complaint id."""
_HELD = (select(func.coalesce(func.sum(events.c.delta_minor), 0))
         .where(events.c.customer_id == bindparam("customer_id"), events.c.currency == bindparam("currency"),
                events.c.reserved_at >= bindparam("since")))
"""history_query, built once: statements are made once and run with parameters."""


_TEAM_HELD = (select(func.coalesce(func.sum(events.c.delta_minor), 0))
              .where(events.c.team == bindparam("team"), events.c.currency == bindparam("currency"),
                     events.c.reserved_at >= bindparam("month_start"), events.c.reserved_at < bindparam("month_end")))
"""What a team's reservations of a month hold (a team of None holds nothing)."""
_COLUMNS = [column.name for column in events.columns if column.name != "id"]
_ROW = itemgetter(*_COLUMNS)
"""A row's values in column order, from its columns by name."""
_INSERT_PAIR = events.insert().values([{name: bindparam(f"{name}_{row}") for name in _COLUMNS} for row in (0, 1)]).returning(events.c.id)
"""decide's two events (decided, reserved) in one statement, returning their ids."""
_PER_ROW = ("kind", "delta_minor", "expires_at", "detail")
_INSERT_PAIR_SHARED = events.insert().values([{name: bindparam(f"{name}_{row}" if name in _PER_ROW else name) for name in _COLUMNS}
                                              for row in (0, 1)]).returning(events.c.id)
"""_INSERT_PAIR as PostgreSQL prepares it: the columns the two events share (all but ``_PER_ROW``: Ledger._new_pair
makes both from one set) are one parameter each, 24 in all instead of 40."""


def _due(now: Any) -> Any:
    """Ids of open reservations whose expiry is at or before ``now``."""
    closing = events.alias("closing")
    return (select(events.c.reservation_id)
            .where(events.c.kind == "reserved", events.c.expires_at <= now,
                   ~exists().where(closing.c.reservation_id == events.c.reservation_id, or_(*(closing.c.kind == kind for kind in TERMINAL))))
            .order_by(events.c.id))


def _reservation_id(complaint_id: str, attempt: int) -> str:
    """``r`` + 23 hex digits of sha256(complaint id, attempt): the same complaint decided for the n-th time
    has the same id in every ledger, so a replay of the same calls gives the same ids."""
    return "r" + hashlib.sha256(f"{complaint_id}\x00{attempt}".encode()).hexdigest()[:23]


def _ledger_ids(complaint: Mapping[str, Any], history: Collection[str]) -> tuple[str, str]:
    """The complaint id and customer id a ledger needs; ComplaintError naming each problem (and each history fact supplied)."""
    problems: list[FieldProblem] = []
    ids: list[str] = []
    for name in ("complaint_id", "customer_id"):
        value = complaint.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            problems.append(FieldProblem(name, "deciding through a ledger needs this id", value, "required"))
        ids.append(value if isinstance(value, str) else "")
    for fact in sorted(history):
        if fact in complaint:
            problems.append(FieldProblem(fact, "comes from the ledger when deciding through one; leave it out of the complaint",
                                         complaint[fact], "history_fact_supplied"))
    if problems:
        raise ComplaintError(problems)
    return ids[0], ids[1]


def _amount(value: Decimal | int | str, reservation_id: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise LedgerError("invalid_amount", f"expected a decimal amount, got {value!r}", reservation_id=reservation_id)
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        raise LedgerError("invalid_amount", f"expected a decimal amount, got {value!r}", reservation_id=reservation_id) from None
    if not amount.is_finite():
        raise LedgerError("invalid_amount", f"expected a decimal amount, got {value!r}", reservation_id=reservation_id)
    return amount


@lru_cache(maxsize=1024)
def _gestures_json(ids: tuple[str, ...]) -> str:
    """A reservation's gestures as its events store them: a JSON list (a policy gives a few lists, each written once)."""
    return json.dumps(list(ids))


@lru_cache(maxsize=256)
def _reserved_detail(levels: tuple[str, ...], rows: Any, level: str) -> str | None:
    """A ``reserved`` event's detail: whether it needs approval (its level is above the ladder's lowest) and the levels."""
    lowest = min(levels.index(row_level) for _, row_level in rows)
    return _detail({"approval_required": levels.index(level) > lowest, "levels": list(levels)})


def _detail(detail: Any) -> str | None:
    """An event's detail as JSON text: a str is JSON already (a decision, as its encoder wrote it)."""
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(detail, sort_keys=True, separators=(",", ":"))


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__


_DUE_OF_CUSTOMER = _due(bindparam("now")).where(events.c.customer_id == bindparam("customer_id"))


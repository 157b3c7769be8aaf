"""The goodwill ledger: the engine remembers what was given (issue 15).

>>> from gesture_engine import load_policy
>>> from gesture_engine.ledger import Ledger
>>> ledger = Ledger.open("sqlite:///goodwill.db")                     # doctest: +SKIP
>>> decision, reservation = ledger.decide(load_policy(), complaint)   # doctest: +SKIP

Needs the ``ledger`` extra (SQLAlchemy 2, psycopg 3 for PostgreSQL). See docs/ledger.md.
"""

from gesture_engine.errors import LedgerError
from gesture_engine.ledger.ids import canonical_complaint, decision_id
from gesture_engine.ledger.schema import SCHEMA_VERSION
from gesture_engine.ledger.store import Event, Ledger, Reservation

__all__ = ["SCHEMA_VERSION", "Event", "Ledger", "LedgerError", "Reservation", "canonical_complaint", "decision_id"]

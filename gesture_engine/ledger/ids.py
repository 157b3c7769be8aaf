"""Deterministic ids: the same policy and complaint always give the same ``decision_id``.

The id is the decision's own (``Decision.decision_id``): the first 32 hex digits (128 bits) of the
sha256 of the policy fingerprint, a newline, and the canonical JSON of what the decision was made
from (``Decision.canonical_complaint``). A decision made through a ledger has the ledger's history
among its facts, so deciding again after more goodwill was given is another decision.
"""

from __future__ import annotations

from gesture_engine.decision import Decision


def canonical_complaint(decision: Decision) -> str:
    """The canonical JSON of a decision's facts and envelope: what its ``decision_id`` hashes."""
    return decision.canonical_complaint()


def decision_id(decision: Decision) -> str:
    """32 hex digits naming this decision: sha256(policy fingerprint + canonical complaint)."""
    return decision.decision_id

"""Deterministic ids: the same policy and complaint always give the same ``decision_id``.

``decision_id`` is the first 32 hex digits (128 bits) of the sha256 of the policy fingerprint, a
newline, and the canonical JSON of what the decision was made from: its facts (as read, derived
ones included) and envelope (complaint id, customer id, received_at). Canonical JSON sorts keys,
has no spaces and writes money without trailing zeros (``800`` and ``800.00`` are the same
amount), times as UTC ISO 8601. It reads the decision only, so output that was byte-identical
stays byte-identical; a decision made through a ledger has the ledger's history among its facts,
so deciding again after more goodwill was given is another decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from gesture_engine.decision import Decision
from gesture_engine.money import plain


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"cannot write {type(value).__name__} canonically")


def canonical_complaint(decision: Decision) -> str:
    """The canonical JSON of a decision's facts and envelope: what its ``decision_id`` hashes."""
    facts: Mapping[str, Any] = decision.facts
    # a decision keeps respond_by = received_at + respond_within, not received_at itself
    received = None if decision.respond_by is None else decision.respond_by - timedelta(seconds=decision.respond_within_seconds)
    body = {
        "complaint_id": decision.complaint_id,
        "customer_id": decision.customer_id,
        "facts": dict(facts),
        "received_at": received,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_canonical)


def decision_id(decision: Decision) -> str:
    """32 hex digits naming this decision: sha256(policy fingerprint + canonical complaint)."""
    text = decision.policy.fingerprint + "\n" + canonical_complaint(decision)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


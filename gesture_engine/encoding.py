"""The one encoder of decisions: ``Decision`` -> JSON bytes, by pydantic-core's serializer.

``Policy.decide_json``, batches and the decision log all write decisions through :func:`decision_json`,
so a decision reads the same byte for byte wherever it is written: compact, fields in the model's
order, money as decimal strings, non-ASCII text as UTF-8. It is the model's own serializer, so
``decision_json(d) == d.model_dump_json().encode()`` holds by construction.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from gesture_engine.decision import Decision

_DECISION: TypeAdapter[Decision] = TypeAdapter(Decision)


def decision_json(decision: Decision) -> bytes:
    """``decision`` as compact JSON, UTF-8."""
    return _DECISION.dump_json(decision)

"""A decision is freed as soon as its last reference goes: it holds no reference cycle, so a service
deciding thousands of complaints a second never leaves them to the cyclic garbage collector."""

from __future__ import annotations

import gc
import weakref

from gesture_engine import Policy
from gesture_engine.encoding import decision_json


def test_a_decision_and_its_parts_go_with_their_last_reference(default_policy: Policy) -> None:
    complaint = {"severity": "high", "channel": "social_media", "audience": 120000, "customer_value": "812.37"}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        decision = default_policy.decide(complaint)
        assert decision_json(decision) == decision.model_dump_json().encode()  # the encoder still knows it as decide made it
        parts = [weakref.ref(part) for part in (decision, decision.budget, decision.approval)]
        del decision
        assert [part() for part in parts] == [None, None, None]
    finally:
        if was_enabled:
            gc.enable()


def test_a_copy_with_changes_is_written_as_it_is(default_policy: Policy) -> None:
    decision = default_policy.decide({"severity": "low", "channel": "email"})
    changed = decision.model_copy(update={"action_label": "something else"})
    assert b'"action_label":"something else"' in decision_json(changed)
    assert decision_json(changed) == changed.model_dump_json().encode()

"""A level, enum or string sent as a str subclass, e.g. a ``(str, Enum)`` member, is that string: it
decides as its value, and every text quotes its value ("high"), never its ``str()`` ("S.high")
(issue 14)."""

from __future__ import annotations

from enum import Enum

from gesture_engine import Policy, loads_policy
from tests.conftest import MINIMAL


class Severity(str, Enum):  # noqa: UP042  # the (str, Enum) integrations write, whose str() is 'Severity.high'
    high = "high"
    critical = "critical"


class Channel(str, Enum):  # noqa: UP042
    press = "press"


class Shouting(str):
    def __str__(self) -> str:
        return self.upper() + "!"


def test_str_enum_members_decide_and_read_as_their_values(default_policy: Policy) -> None:
    complaint = {"severity": Severity.high, "channel": Channel.press, "audience": 5000, "customer_value": "6000"}
    decision = default_policy.decide(complaint)
    plain = default_policy.decide({**complaint, "severity": "high", "channel": "press"})
    assert decision.model_dump_json() == plain.model_dump_json()  # reasons, budget steps and summary included
    texts = [*decision.reasons, decision.budget.summary, *(step.text for step in decision.budget.steps), *decision.approval.reasons]
    assert any("high-severity" in text for text in texts) and any("on press" in text for text in texts)
    assert not any("Severity." in text or "Channel." in text for text in texts)


def test_explain_quotes_their_values_too(default_policy: Policy) -> None:
    explanation = default_policy.explain({"severity": Severity.critical, "channel": Channel.press})
    text = explanation.model_dump_json()
    assert "critical" in text and "Severity." not in text and "Channel." not in text


def test_any_str_subclass_is_quoted_as_the_string_it_is() -> None:
    text = MINIMAL.replace("  spend: {type: money, default: 0}", "  spend: {type: money, default: 0}\n  note: {type: string, default: ''}")
    policy = loads_policy(text.replace("then: {action: sorry, gestures: [apology], respond_within: 1d}",
                                       "then: {action: sorry, gestures: [apology], respond_within: 1d, rationale: 'Said {note} on {channel}.'}"))
    decision = policy.decide({"severity": Shouting("low"), "channel": Shouting("social"), "note": Shouting("sorry")})
    assert decision.reasons == ("Said sorry on social.",)
    assert decision.facts["severity"] == "low"

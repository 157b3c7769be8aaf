"""Reasons in the customer's language: a rule's rationale per language, chosen by the complaint's ``locale``."""

from __future__ import annotations

from typing import Any

import pytest

from gesture_engine import ComplaintError, Decision, PolicyError
from tests.conftest import make_policy

RULES: list[Any] = [
    {"id": "high", "when": {"severity": "high"}, "then": {"action": "pay", "gestures": ["credit"], "budget": 40, "rationale": {
        "en": "A {severity} complaint: we pay.", "fr": "Une réclamation {severity} : nous payons.", "pt-br": "Uma reclamação {severity}."}}},
    {"id": "fallback", "default": True, "then": {"action": "sorry", "rationale": "We are sorry."}},
]
POLICY = make_policy(rules=RULES)


@pytest.mark.parametrize(("asked", "locale", "reason"), [
    (None, "en", "A high complaint: we pay."),
    ("fr", "fr", "Une réclamation high : nous payons."),
    ("fr-CA", "fr", "Une réclamation high : nous payons."),      # its language, when the region is not given
    ("pt_BR", "pt-br", "Uma reclamação high."),                  # helpdesks' underscores
    ("de", "en", "A high complaint: we pay."),                   # the policy's language, as the fallback
])
def test_the_reasons_follow_the_complaints_language(asked: str | None, locale: str, reason: str) -> None:
    complaint = {"severity": "high"} if asked is None else {"severity": "high", "locale": asked}
    decision = POLICY.decide(complaint)
    assert (decision.locale, decision.reasons) == (locale, (reason,))
    assert Decision.model_validate_json(decision.model_dump_json()) == decision


def test_a_rule_with_one_sentence_answers_in_it_whatever_the_language() -> None:
    decision = POLICY.decide({"severity": "low", "locale": "fr"})
    assert (decision.locale, decision.reasons) == ("en", ("We are sorry.",))


def test_the_policys_own_language_is_required_among_the_rationales() -> None:
    french_only = [{**RULES[0], "then": {**RULES[0]["then"], "rationale": {"fr": "Nous payons."}}}, RULES[1]]
    with pytest.raises(PolicyError) as info:
        make_policy(rules=french_only)
    assert [(p.path, p.code) for p in info.value.problems] == [("rules[0].then.rationale", "locale")]
    assert make_policy(rules=french_only, locale="fr").decide({"severity": "high"}).reasons == ("Nous payons.",)


def test_a_bad_locale_is_a_complaint_error() -> None:
    with pytest.raises(ComplaintError) as info:
        POLICY.decide({"severity": "high", "locale": "français!"})
    assert [(p.field, p.code) for p in info.value.problems] == [("locale", "wrong_type")]

"""One encoder: ``decide_json``, batches (one process or two) and the decision log write a decision
byte for byte as ``decide(...).model_dump_json()`` does, for every kind of value."""

from __future__ import annotations

import copy
import dataclasses
import enum
import io
import json
import pickle
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gesture_engine import Budget, Decision, Policy, load_policy
from gesture_engine.batch import decide_records, decide_stream, read_records
from gesture_engine.decision_log import DecisionLog, read_log
from gesture_engine.encoding import decision_json
from tests.test_index import random_complaint, random_policy

TEXTS = ["", "plain", "ünïcödé ✓", 'quote " and \\ backslash', "tab\tnew\nline\x01\x7f", "emoji 😀", "€ 12,50", "</script>", "a\u2028b"]


def same(policy: Policy, complaint: dict[str, Any]) -> None:
    expected = policy.decide(complaint).model_dump_json()
    assert policy.decide_json(complaint) == expected, complaint
    assert decision_json(policy.decide(complaint)) == expected.encode(), complaint


def cents(rnd: random.Random, below: int) -> str:
    """Money to the cent, as real complaints carry it: almost never the same twice."""
    return f"{rnd.randrange(below)}.{rnd.randrange(100):02d}"


def default_complaint(rnd: random.Random) -> dict[str, Any]:
    complaint: dict[str, Any] = {
        "severity": rnd.choice(["low", "medium", "high", "critical"]),
        "channel": rnd.choice(["email", "phone", "chat", "app_review", "social_media", "press"]),
        "audience": rnd.choice([0, 1, 9_999, 10_000, 10**9]),
        "customer_value": rnd.choice([0, "0.5", "12.345", Decimal("1E+3"), Decimal("2500.00"), 99999.99, 10**12, cents(rnd, 10**6)]),
        "issue_type": rnd.choice(["other", "out_of_stock", "staff_misconduct", "billing_error", "product_defect"]),
        "order_value": rnd.choice([0, "80", "80.00", "1234.5678", cents(rnd, 10**4)]),
        "goodwill_last_90d": rnd.choice([0, 400, "999.99", 5000, cents(rnd, 1200)]),
    }
    if rnd.random() < 0.5:
        complaint["complaint_id"] = rnd.choice(TEXTS[1:])
    if rnd.random() < 0.5:
        complaint["customer_id"] = rnd.choice([7, 10**30, "C-1"])
    if rnd.random() < 0.5:
        complaint["received_at"] = rnd.choice(
            ["2026-11-23T09:30:00Z", "2026-11-23T09:30:00.123456+05:30", "2026-02-28T23:59:59-08:00", "2026-11-23T09:30:00.5+00:00"]
        )
    return complaint


def test_default_policy_with_every_envelope(default_policy: Policy) -> None:
    rnd = random.Random(11)
    for _ in range(800):
        same(default_policy, default_complaint(rnd))


@pytest.mark.parametrize("seed", range(4))
def test_random_policies_with_numbers_strings_and_booleans(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    path = tmp_path / "p.yaml"
    data = random_policy(rnd, rules=20)
    for rule in data["rules"]:
        if rnd.random() < 0.5:
            rule["then"]["rationale"] = '{tag} {ratio} {flag} {spend} {count} {lvl} "100%" \\ ✓'
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_policy(path)
    for _ in range(300):
        complaint = random_complaint(rnd)
        complaint["tag"] = rnd.choice(TEXTS)
        complaint["ratio"] = rnd.choice([0.0, 0.1, 1.5, -2.25, 1e15, 1e-7, 123456.789, 3.0, 1e-5, 0.0001])
        same(policy, complaint)


class Severity(str, enum.Enum):  # noqa: UP042  (str() gives "Severity.HIGH", not the value: the point here)
    HIGH = "high"


class Audience(enum.IntEnum):
    BIG = 20_000


class Amount(Decimal):
    pass


@pytest.mark.parametrize("complaint", [
    {"severity": Severity.HIGH, "channel": "press"},
    {"severity": "high", "channel": "press", "audience": Audience.BIG},
    {"severity": "high", "channel": "press", "customer_value": Amount("12.50"), "order_value": Decimal("80.00")},
    {"severity": "low", "channel": "email"},  # every optional fact missing
    {"severity": "low", "channel": "email", "complaint_id": 'ünï "q" \\ \u2028', "customer_id": 10**30},
])
def test_python_values_are_written_as_pydantic_writes_them(default_policy: Policy, complaint: dict[str, Any]) -> None:
    same(default_policy, complaint)


def test_decide_json_batches_and_the_log_write_the_same_bytes(default_policy: Policy, tmp_path: Path) -> None:
    """A decision's bytes are the same from decide_json, a batch in one process and in two, and the log."""
    rnd = random.Random(3)
    complaints = []
    for i in range(5000):
        complaint = default_complaint(rnd)
        complaint.pop("received_at", None)  # a JSON line carries what json.dumps writes
        complaint = {k: format(v, "f") if isinstance(v, Decimal) else v for k, v in complaint.items()}
        complaint["complaint_id"] = f"{complaint.get('complaint_id', '')}-{i}"
        complaints.append(complaint)
    expected = [default_policy.decide_json(c).encode() for c in complaints]
    text = "".join(json.dumps(c, ensure_ascii=rnd.random() < 0.5) + "\n" for c in complaints).encode()
    for workers in (1, 2):
        sink = io.BytesIO()
        assert decide_stream(default_policy, io.BytesIO(text), sink, workers=workers) == len(complaints)
        assert sink.getvalue().split(b"\n")[:-1] == expected, workers
        lines = list(decide_records(default_policy, read_records(io.BytesIO(text)), workers=workers))
        assert [line.encode() for line in lines] == expected, workers
    path = tmp_path / "log.jsonl"
    with DecisionLog(path) as log:
        for complaint in complaints[:200]:
            log.append(complaint, default_policy.decide(complaint))
    for line, want in zip(path.read_bytes().splitlines(), expected, strict=False):
        assert b',"decision":' + want + b',"policy":' in line
    assert len(list(read_log(path))) == 200


def test_the_decision_json_reads_answer_first_then_what_it_rests_on(default_policy: Policy) -> None:
    complaint = {"severity": "critical", "channel": "press", "audience": 10**6, "goodwill_last_90d": "850", "complaint_id": "c-1"}
    data = json.loads(default_policy.decide_json(complaint))
    assert list(data) == ["complaint_id", "customer_id", "received_at", "locale", "action", "action_label", "rule", "gestures", "budget", "owed",
                          "respond_within", "respond_within_seconds", "respond_by", "approval", "policy", "facts", "trace", "decision_id",
                          "reasons"]
    assert list(data["budget"]) == ["amount", "currency", "steps", "summary"]
    assert list(data["approval"]) == ["level", "reasons"]
    assert data["budget"]["steps"][-1] == {"kind": "goodwill", "amount": "150.00",
                                           "text": "reduced to 150.00 (goodwill limit 1000.00 in the last 90 days, 850 already given)"}
    assert data["budget"]["summary"].endswith("; reduced to 150.00 (goodwill limit 1000.00 in the last 90 days, 850 already given)")
    assert data["approval"] == {"level": "manager", "reasons": ["budget 150.00 USD is within team_lead's limit of 150.00 USD",
                                                                "rule critical-escalation requires at least manager"]}


def test_texts_read_from_python_are_the_ones_written(default_policy: Policy) -> None:
    decision = default_policy.decide({"severity": "high", "channel": "app_review", "customer_value": 3000, "order_value": "80"})
    data = json.loads(decision.model_dump_json())
    assert [step.model_dump(mode="json") for step in decision.budget.steps] == data["budget"]["steps"]
    assert decision.budget.summary == data["budget"]["summary"] and decision.budget.steps is decision.budget.steps  # written once
    assert list(decision.approval.reasons) == data["approval"]["reasons"] and list(decision.reasons) == data["reasons"]
    assert decision == default_policy.decide({"severity": "high", "channel": "app_review", "customer_value": 3000, "order_value": "80"})


def test_a_decision_s_facts_are_its_own_and_cannot_change(default_policy: Policy) -> None:
    complaint = {"severity": "high", "channel": "email", "order_value": "80"}
    first, second = default_policy.decide(complaint), default_policy.decide(complaint)
    assert first.facts == second.facts and first.facts is not second.facts
    for change in (lambda f: f.__setitem__("severity", "low"), lambda f: f.update(severity="low"), lambda f: f.pop("severity"),
                   lambda f: f.clear(), lambda f: f.__delitem__("severity"), lambda f: f.setdefault("x", 1), lambda f: f.popitem()):
        with pytest.raises(TypeError):
            change(first.facts)
    assert first.facts["severity"] == "high" and "80" in first.budget.summary
    assert json.loads(first.model_dump_json())["facts"] == json.loads(second.model_dump_json())["facts"]


def test_the_outcome_cache_is_bounded_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import gesture_engine.policy as policy_module

    cached = load_policy()
    assert cached._outcome.cache_info().maxsize == policy_module.OUTCOME_CACHE_SIZE  # type: ignore[attr-defined]
    monkeypatch.setattr(policy_module, "OUTCOME_CACHE_SIZE", 0)
    uncached = load_policy()
    assert not hasattr(uncached._outcome, "cache_info")
    monkeypatch.setattr(policy_module, "OUTCOME_CACHE_SIZE", 3)
    tiny = load_policy()
    rnd = random.Random(5)
    for _ in range(300):
        complaint = default_complaint(rnd)
        expected = cached.decide_json(complaint)
        assert uncached.decide_json(complaint) == expected == tiny.decide_json(complaint)
        assert uncached.decide(complaint) == cached.decide(complaint)
    info = tiny._outcome.cache_info()  # type: ignore[attr-defined]
    assert info.currsize == 3 and info.misses > 3


def test_every_kind_of_decision_is_written_as_its_model_writes_it() -> None:
    """Owed amounts, a full trace, reasons in another language, a team's budget cut or escalated, no
    money to spend: each a field that a decision has its own value of, encoded with it."""
    from tests.test_locales import POLICY as localized
    from tests.test_owed import owing
    from tests.test_teams import left, with_teams

    owes = owing({"refund": {"fact": "paid", "percent": 50}}, {"voucher": 5})
    cases = [
        (owes, {"severity": "high", "paid": "321.25", "given": 100}, {}),
        (owes, {"severity": "high", "paid": "10", "given": 0}, {"full_trace": True}),
        (owes, {"severity": "low"}, {"full_trace": True}),
        (localized, {"severity": "high", "locale": "fr-CA"}, {}),
        (localized, {"severity": "high", "locale": "de"}, {}),
        (with_teams(), {"severity": "high"}, {"team": left("25.005")}),
        (with_teams(), {"severity": "high"}, {"team": left("-10")}),
        (with_teams(on_exceed="escalate", escalate_to="director"), {"severity": "high"}, {"team": left("5")}),
    ]
    for policy, complaint, options in cases:
        decision = policy.decide(complaint, **options)
        assert decision_json(decision) == decision.model_dump_json().encode(), (complaint, options)


def test_a_decision_copied_with_changes_is_written_with_them(default_policy: Policy) -> None:
    decision = default_policy.decide({"severity": "high", "channel": "press", "order_value": "80.00"})
    for update in ({"action": "call"}, {"gestures": ()}, {"facts": {"severity": "low"}}, {"trace": ()}, {"complaint_id": "c-9"}):
        copied = decision.model_copy(update=update)
        assert decision_json(copied) == copied.model_dump_json().encode() != decision_json(decision), update
    read_back = Decision.model_validate_json(decision_json(decision))
    assert decision_json(read_back) == decision_json(decision)


def test_a_decision_copies_and_pickles(default_policy: Policy) -> None:
    """Copied (shallow or deep) it is the same decision; pickled, it is read back from its JSON, texts and id as written."""
    decision = default_policy.decide({"severity": "high", "channel": "press", "order_value": "80.00", "complaint_id": "c-7"})
    deep = copy.deepcopy({"d": decision})["d"]
    assert copy.copy(decision) == decision == deep and deep is not decision
    changed = decision.model_copy(deep=True, update={"action": "call"})
    assert (changed.action, decision.action) == ("call", "make_it_right")
    back = pickle.loads(pickle.dumps(decision))
    assert back == decision and back.decision_id == decision.decision_id and back.budget.steps == decision.budget.steps
    assert pickle.loads(pickle.dumps(decision.budget)) == decision.budget and copy.deepcopy(decision.approval) == decision.approval
    facts = pickle.loads(pickle.dumps(decision.facts))
    assert facts == decision.facts and type(facts) is type(decision.facts)
    with pytest.raises(TypeError):
        facts["severity"] = "low"


def test_a_budget_and_an_approval_are_light_frozen_parts(default_policy: Policy) -> None:
    """The two parts every decision makes are slotted, frozen value objects: no ``__dict__``, no setting,
    JSON as in their decision's, equal when their JSON is, and a part put in another model keeps its texts."""
    decision = default_policy.decide({"severity": "critical", "channel": "social_media", "audience": 250000, "customer_value": "1200.00"})
    budget, approval = decision.budget, decision.approval
    assert not hasattr(budget, "__dict__") and not hasattr(approval, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        budget.amount = Decimal("1")  # type: ignore[misc]
    whole = json.loads(decision.model_dump_json())
    assert json.loads(budget.model_dump_json()) == whole["budget"] and approval.model_dump() == whole["approval"]
    assert budget.model_dump(mode="python")["amount"] == budget.amount and budget.steps and approval.reasons
    by_hand = Budget(amount=budget.amount, currency=budget.currency)
    assert (by_hand.steps, by_hand.summary) == ((), "") and by_hand != budget  # made by hand, a budget has no arithmetic to show
    assert hash(approval) == hash(copy.copy(approval)) and copy.copy(budget) is budget
    reasons = approval.reasons
    explained = default_policy.explain({"severity": "critical", "channel": "social_media", "audience": 250000, "customer_value": "1200.00"})
    assert explained.approval.reasons == reasons and approval.reasons == reasons  # validated into another model, it keeps its record
    assert decision_json(decision) == decision.model_dump_json().encode()  # and the encoder still knows the decision as decide made it
    read_back = Decision.model_validate_json(decision.model_dump_json())
    assert read_back.budget == budget and read_back.approval == approval and read_back.budget.summary == budget.summary

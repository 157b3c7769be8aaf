"""The shape-planned complaint reader agrees with the careful path (``diagnose``) on every complaint.

``diagnose`` checks field by field with the plain fact readers; the fast path takes shortcuts (a
plan per key sequence, one dict hit per level/enum value, fused check-and-lookup for numbers).
Over random complaints, valid and not, both must accept the same complaints with the same facts in
the same order and the same index bits, and reject the same ones with the same problems.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest

from gesture_engine import ComplaintError, Policy, load_policy
from gesture_engine import complaint as reading
from gesture_engine.load.compiler import compile_policy
from gesture_engine.load.source import Document

POLICY: dict[str, Any] = {
    "policy": "reader", "version": "1", "currency": "EUR", "budget_cap": 100,
    "facts": {
        "lvl": {"type": "level", "values": ["l0", "l1", "l2"], "required": True},
        "kind": {"type": "enum", "values": ["k0", "k1"], "default": "k0"},
        "count": {"type": "integer", "min": 0, "max": 500, "default": 0},
        "spend": {"type": "money", "max": 1000, "default": 0},
        "worth": {"type": "money", "default": Decimal("2.50")},
        "ratio": {"type": "number", "default": Decimal("0.5")},
        "flag": {"type": "boolean", "default": False},
        "tag": {"type": "string", "default": ""},
        "unread": {"type": "integer", "default": 7},
        "gift": {"type": "money", "default": 0},
        "age": {"type": "integer", "default": 0},
    },
    "gestures": {"sorry": {"label": "Sorry"}},
    "actions": {"a": {"label": "A"}, "b": {"label": "B"}, "c": {"label": "C"}},
    "approval": {"levels": ["agent"], "ladder": [{"level": "agent"}]},
    "rules": [
        {"id": "r1", "when": {"count": {"gt": 10}, "spend": {"lte": Decimal("99.99")}}, "then": {"action": "a", "respond_within": "1h"}},
        {"id": "r2", "when": {"any": [{"lvl": "l2"}, {"ratio": {"gte": Decimal("0.25")}}, {"flag": True}]},
         "then": {"action": "b", "respond_within": "1h"}},
        {"id": "r3", "when": {"tag": "vip", "worth": {"between": [1, 100]}}, "then": {"action": "c", "respond_within": "1h"}},
        {"id": "c1", "collect": True, "when": {"count": {"eq": 5}}, "then": {"gestures": ["sorry"]}},
        {"id": "c2", "collect": True, "when": {"gift": {"gte": 10, "lt": 50}, "age": {"gte": 18}}, "then": {"gestures": ["sorry"]}},
        {"id": "d", "default": True, "then": {"action": "a", "respond_within": "1d"}},
    ],
}

GOOD: dict[str, list[Any]] = {
    "lvl": ["l0", "l1", "l2"],
    "kind": ["k0", "k1"],
    "count": [0, 5, 10, 11, 500],
    "spend": [Decimal(0), Decimal("99.99"), Decimal("100.00"), Decimal("1000"), Decimal("0.0000000001"), 12, "12.50", 3.25],
    "worth": [Decimal(1), Decimal("100.0"), Decimal("1E+2"), Decimal("50.5")],
    "ratio": [0.0, 0.25, 0.2499, 3, -1.5, Decimal("0.25")],
    "flag": [True, False],
    "tag": ["vip", "", "other"],
    "unread": [0, -3],
    "gift": [Decimal(0), Decimal("9.99"), Decimal(10), Decimal("49.99"), Decimal(50), Decimal("-0"), Decimal("1E-8"),
             Decimal("123456.1234567891"), Decimal("0.0000012345")],
    "age": [17, 18, 19],
}
BAD: list[Any] = [None, "x", "l9", 1, 1.5, -1, 501, True, [], {}, Decimal("NaN"), Decimal("Infinity"), Decimal("-0.01"),
                  Decimal("1000.01"), Decimal("1.00000000001"), Decimal("1E-11"), Decimal("1.000000000000"), Decimal("0.00000000000"),
                  Decimal("-1E+2"), "1e5", float("nan"), 10**20, "a" * 2000]
ENVELOPE: dict[str, list[Any]] = {"complaint_id": ["C-1", 7, None, "x" * 300], "customer_id": ["U", None],
                                  "received_at": ["2026-11-23T09:30:00Z", "yesterday", None]}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy(compile_policy(Document(POLICY, {}, "reader.yaml")))


def complaints(seed: int, count: int) -> Iterator[dict[str, Any]]:
    """Random complaints: random subsets of facts in random key order, mostly good values, sometimes
    bad ones, unknown fields or envelope fields."""
    rnd = random.Random(seed)
    for _ in range(count):
        names = [name for name in GOOD if rnd.random() < 0.7]
        rnd.shuffle(names)
        complaint = {name: rnd.choice(BAD) if rnd.random() < 0.08 else rnd.choice(GOOD[name]) for name in names}
        if rnd.random() < 0.2:
            field = rnd.choice(list(ENVELOPE))
            complaint[field] = rnd.choice(ENVELOPE[field])
        if rnd.random() < 0.03:
            complaint[rnd.choice(["typo", "lvll", 3])] = 1
        yield complaint


class _Mapping(Mapping[str, Any]):
    """A mapping that is not a dict, as a caller may pass."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _outcome(read: Any, complaint: Any) -> tuple[str, Any]:
    try:
        values, envelope, mask = read(complaint)
    except ComplaintError as error:
        return "error", [(p.field, p.message) for p in error.problems]
    return "ok", (list(values.items()), envelope, mask)


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_agrees_with_the_careful_path(policy: Policy, seed: int) -> None:
    reader = policy._read
    outcomes = {"ok": 0, "error": 0}
    for complaint in complaints(seed, 1500):
        for given in (complaint, _Mapping(complaint)):
            fast = _outcome(reader, given)
            careful = _outcome(reader.diagnose, given)
            assert fast == careful, complaint
        outcomes[fast[0]] += 1
        if fast[0] == "ok":
            values = fast[1][0]
            assert fast[1][2] == policy._index.mask_of(dict(values), policy.facts)
    assert min(outcomes.values()) > 100, outcomes  # both kinds were really tried


def test_complaints_with_every_fact_in_declared_order_agree_too(policy: Policy) -> None:
    """Such complaints take the plan made at load (no cache lookup): the same answers as the careful path."""
    reader = policy._read
    assert reader.canonical == reader.plan(tuple(POLICY["facts"]))
    rnd = random.Random(11)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(1500):
        complaint = {name: rnd.choice(BAD) if rnd.random() < 0.05 else rnd.choice(GOOD[name]) for name in POLICY["facts"]}
        fast = _outcome(reader, complaint)
        assert fast == _outcome(reader.diagnose, complaint), complaint
        outcomes[fast[0]] += 1
    assert min(outcomes.values()) > 100, outcomes


def test_facts_come_in_declared_order_whatever_the_key_order(policy: Policy) -> None:
    complaint = {"tag": "vip", "count": 3, "lvl": "l1"}
    again = dict(reversed(list(complaint.items())))
    assert list(policy.decide(complaint).facts) == list(policy.decide(again).facts) == list(POLICY["facts"])


def test_shape_plans_stay_bounded(policy: Policy) -> None:
    reader = policy._read
    rnd = random.Random(3)
    for _ in range(3000):  # many key orders: more shapes than are kept
        names = list(GOOD)
        rnd.shuffle(names)
        policy.decide({name: GOOD[name][0] for name in names})
    info = reader.plan.cache_info()
    assert info.maxsize == reading.SHAPE_CACHE_SIZE and 0 < info.currsize <= reading.SHAPE_CACHE_SIZE


def test_without_the_shape_cache_every_complaint_is_planned_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reading, "SHAPE_CACHE_SIZE", 0)
    uncached = Policy(compile_policy(Document(POLICY, {}, "reader.yaml")))
    for given in complaints(7, 600):
        fast = _outcome(uncached._read, given)
        assert fast == _outcome(uncached._read.diagnose, given), given
    assert uncached._read.plan.cache_info().currsize == 0


def test_template_patterns_write_values_as_show_does() -> None:
    policy = load_policy()
    from gesture_engine.engine.conditions import show
    rnd = random.Random(5)
    for rule in policy.rules:
        template = rule.rationale
        if template is None or template.pattern is None:
            continue
        for _ in range(50):
            facts: dict[str, Any] = {name: rnd.choice(["high", "email", "gold", "viral"]) for name in policy.all_facts}
            facts.update({"audience": rnd.randint(0, 10**9), "order_value": Decimal(rnd.randint(0, 10**6)).scaleb(-rnd.randint(0, 4))})
            plain = "".join(show(facts[text]) if is_fact else text for is_fact, text in template.parts)
            assert template.render(facts) == plain
    number = compile_policy(Document({**POLICY, "rules": [
        {"id": "d", "default": True, "then": {"action": "a", "respond_within": "1d",
                                                "rationale": "ratio {ratio} at 100% and {flag}, {{literal}}"}}]}, {}, "t.yaml"))
    template = number.rules[0].rationale
    assert template is not None and template.pattern is None  # a boolean is quoted: rendered by show()
    for value in (1e-05, 123456789.0, 0.1, -0.0, 2.5, 1e15):
        assert template.render({"ratio": value, "flag": True}) == f"ratio {show(value)} at 100% and true, {{literal}}"


def test_fused_checks_look_up_exactly_what_the_index_does(policy: Policy) -> None:
    """The fused check-and-lookup must not lean on the careful path: for values valid as sent it
    answers itself, with the index's own bits; for anything else it declines (None)."""
    everything = policy._index.everything
    fused = {name: lambda value, check=check: None if check(value) is None else check(value) & everything
             for name, check, _, _ in policy._read.readers.values()}
    limits = {"count": (0, 500), "unread": (-10**15, 10**15), "age": (-10**15, 10**15)}
    for name, (low, high) in limits.items():
        for value in {low - 1, low, low + 1, 4, 5, 6, 9, 10, 11, 12, 17, 18, 19, high - 1, high, high + 1}:
            expected = policy._index.bits_of(name, value) & everything if low <= value <= high else None
            assert fused[name](value) == expected, (name, value)
        assert fused[name](5.0) is None and fused[name](True) is None
    cents = [Decimal(n).scaleb(-2) for n in range(0, 12000, 7)] + [Decimal("99.99"), Decimal("100"), Decimal("1E+3")]
    for name, high in (("spend", Decimal(1000)), ("worth", Decimal(10) ** 12), ("gift", Decimal(10) ** 12)):
        for value in cents:
            expected = policy._index.bits_of(name, value) & everything if value <= high else None
            assert fused[name](value) == expected, (name, value)
        assert fused[name](Decimal("1.00000000001")) is None and fused[name](Decimal("-1")) is None
        assert fused[name](12) is None  # an int is converted to money on the careful path


def test_integers_and_amounts_valid_as_sent_are_read_in_line(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-line checks of integers and amounts (one bisect each) answer for values valid as sent
    without the fact readers, with the index's own bits; the rest go to the readers."""
    reader = policy._read
    assert set(reader.located) == {"unread", "gift", "age"}  # count, spend and worth are compared with points of their own
    asked: list[Any] = []
    for name, (_, fused, read, bits_of) in list(reader.readers.items()):
        monkeypatch.setitem(reader.readers, name, (name, fused, lambda value, read=read: asked.append(value) or read(value), bits_of))
    cents = [Decimal(n).scaleb(-2) for n in range(0, 12000, 37)]
    valid = {"unread": [-10**15, -3, 0, 10**15], "age": [-1, 17, 18, 19],
             "gift": [*cents, Decimal("9.999"), Decimal("1E+3"), Decimal("1E-7"), Decimal("0.0000000001"), Decimal("123456.1234567891")]}
    for name, values in valid.items():
        for value in values:
            values_read, _, mask = reader.read({"lvl": "l0", name: value})
            assert mask == policy._index.mask_of(dict(values_read), policy.facts) and values_read[name] is value, (name, value)
    assert asked == []
    for name, value in [("unread", 10**15 + 1), ("age", True), ("age", 18.0), ("gift", 12), ("gift", "12.50"), ("gift", Decimal("-0")),
                        ("gift", Decimal("1.000000000000")), ("gift", Decimal("NaN")), ("gift", Decimal("-1"))]:
        with contextlib.suppress(ComplaintError):
            reader.read({"lvl": "l0", name: value})
        assert asked[-1] is value, (name, value)


def test_every_problem_carries_a_stable_code(policy: Policy) -> None:
    bad = {"lvl": "l9", "count": 501, "spend": Decimal("1.00000000001"), "flag": 1, "lvll": 1, 3: 1, "complaint_id": 3.5}
    try:
        policy.decide({"kind": "k0", **{k: v for k, v in bad.items() if k != "lvl"}})
    except ComplaintError as error:
        assert {p.field: p.code for p in error.problems} == {
            "lvl": "required", "count": "out_of_range", "spend": "too_precise", "flag": "wrong_type",
            "lvll": "unknown_field", "3": "bad_field_name", "complaint_id": "wrong_type"}
    else:
        pytest.fail("the complaint was accepted")
    for given in (None, [1]):
        with pytest.raises(ComplaintError) as info:
            policy.decide(given)  # type: ignore[arg-type]
        assert [p.code for p in info.value.problems] == ["not_an_object"]

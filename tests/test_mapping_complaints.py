"""Complaints that are mappings but not dicts are read one way, once (issue 14).

A dict subclass overriding ``__getitem__`` (the pattern of web frameworks' query dicts) used to get a
decision whose rule disagreed with the facts it showed ("serious-failure" with severity low), and a
mapping that raised gave a raw TypeError/KeyError. Now the mapping's ``items()`` are read once into a
plain dict, and anything odd about the mapping is a ComplaintError with its own code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from gesture_engine import ComplaintError, Policy

OK = {"severity": "low", "channel": "email"}


class Sneaky(dict):  # type: ignore[type-arg]
    """Answers ``complaint["severity"]`` with a value its items() do not hold."""

    def __getitem__(self, key: Any) -> Any:
        return "critical" if key == "severity" else super().__getitem__(key)


class QueryDict(dict):  # type: ignore[type-arg]
    """Like web frameworks' multi-value dicts: a list stored per key, the last value meant, items() overridden to say so."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(key)[-1]

    def get(self, key: Any, default: Any = None) -> Any:
        return super().get(key, [default])[-1]

    def items(self) -> Any:
        return [(key, values[-1]) for key, values in super().items()]


class Computed(Mapping[str, Any]):
    """A plain Mapping (items() come from __iter__ and __getitem__)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class Raising(Computed):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("the backing store is gone")


class ItemsRepeat(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        return [*super().items(), ("severity", "high")]


class KeysDisagree(Computed):
    def items(self) -> Any:
        return [("severity", "low"), ("channel", "email")]

    def __iter__(self) -> Iterator[str]:
        return iter(["severity", "audience"])


class Lying(Computed):
    def __len__(self) -> int:
        return 7


class NotPairs(dict):  # type: ignore[type-arg]
    def items(self) -> Any:
        return ["severity"]


def problems(policy: Policy, complaint: Any) -> list[tuple[str, str]]:
    with pytest.raises(ComplaintError) as caught:
        policy.decide(complaint)
    return [(p.field, p.code) for p in caught.value.problems]


def test_a_subclass_overriding_getitem_decides_on_the_facts_it_shows(default_policy: Policy) -> None:
    decision = default_policy.decide(Sneaky(OK))
    assert decision.facts["severity"] == "low"
    assert decision == default_policy.decide(dict(OK))  # the rule too: not "serious-failure" for a low severity


def test_a_query_dict_is_read_through_its_items(default_policy: Policy) -> None:
    complaint = QueryDict(severity=["critical", "low"], channel=["email"], audience=[5, 50000])
    decision = default_policy.decide(complaint)
    assert (decision.facts["severity"], decision.facts["audience"]) == ("low", 50000)
    assert decision == default_policy.decide({"severity": "low", "channel": "email", "audience": 50000})
    explanation = default_policy.explain(complaint)
    assert (explanation.rule, explanation.input_facts["severity"]) == (decision.rule, "low")


@pytest.mark.parametrize("complaint", [Computed(dict(OK)), MappingProxyType(dict(OK))])
def test_other_mappings_decide_like_the_dict_they_hold(default_policy: Policy, complaint: Mapping[str, Any]) -> None:
    assert default_policy.decide(complaint) == default_policy.decide(dict(OK))


def test_bad_values_in_a_subclass_are_reported_as_its_items_hold_them(default_policy: Policy) -> None:
    assert problems(default_policy, Sneaky(severity="bogus", channel="email")) == [("severity", "wrong_type")]


@pytest.mark.parametrize(
    ("complaint", "expected"),
    [
        (Raising(dict(OK)), [("(complaint)", "unreadable_mapping")]),
        (ItemsRepeat(OK), [("severity", "repeated_key")]),
        (KeysDisagree(dict(OK)), [("(complaint)", "inconsistent_mapping")]),
        (Lying(dict(OK)), [("(complaint)", "inconsistent_mapping")]),
        (NotPairs(OK), [("(complaint)", "unreadable_mapping")]),
    ],
)
def test_odd_mappings_are_complaint_errors(default_policy: Policy, complaint: Any, expected: list[tuple[str, str]]) -> None:
    assert problems(default_policy, complaint) == expected
    results = list(default_policy.decide_many([complaint, OK], return_exceptions=True))
    assert isinstance(results[0], ComplaintError) and not isinstance(results[1], ComplaintError)

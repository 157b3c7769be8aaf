"""Team budgets in the core: a budget above what the team has left is cut to it, or escalated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from gesture_engine import Decision, PolicyError, TeamBudget
from tests.conftest import make_policy

LADDER = {"levels": ["agent", "manager", "director"], "ladder": [{"up_to": 50, "level": "agent"}, {"level": "manager"}]}


def with_teams(**teams: Any) -> Any:
    return make_policy(approval=LADDER, teams={"monthly_limit": 500, "limits": {"vip": 2000}, **teams})


def left(amount: str, team: str = "support", limit: str = "500") -> TeamBudget:
    return TeamBudget(team=team, limit=Decimal(limit), left=Decimal(amount), period="2026-12")


def test_a_budget_over_what_the_team_has_left_is_cut_to_it_as_a_step() -> None:
    decision = with_teams().decide({"severity": "high"}, team=left("25.005"))
    assert decision.budget.amount == Decimal("25.00")  # rounded down: never above what is left
    assert decision.budget.steps[-1].kind == "team" and decision.budget.steps[-1].amount == Decimal("25.00")
    assert decision.budget.summary == "base 40.00; reduced to 25.00 (team support has 25.005 left of 500 in 2026-12)"
    assert decision.approval.level == "agent"
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
    spent = with_teams().decide({"severity": "high"}, team=left("-10"))
    assert spent.budget.amount == Decimal("0.00") and [g.id for g in spent.gestures] == ["apology"]


def test_a_budget_within_what_is_left_is_untouched() -> None:
    assert with_teams().decide({"severity": "high"}, team=left("40")).budget.summary == "base 40.00"
    assert with_teams().decide({"severity": "high"}).budget.amount == Decimal("40.00")  # no team: no team limit


def test_escalating_keeps_the_budget_and_raises_the_approval() -> None:
    decision = with_teams(on_exceed="escalate", escalate_to="director").decide({"severity": "high"}, team=left("10"))
    assert (decision.budget.amount, decision.approval.level) == (Decimal("40.00"), "director")
    assert decision.approval.reasons[-1] == "team support has 10 left of 500 in 2026-12: director approves going over"


@pytest.mark.parametrize(("teams", "where", "code"), [
    ({"on_exceed": "escalate"}, "teams.escalate_to", "teams"),
    ({"on_exceed": "escalate", "escalate_to": "boss"}, "teams.escalate_to", "unknown-level"),
])
def test_bad_team_settings_are_located(teams: Any, where: str, code: str) -> None:
    with pytest.raises(PolicyError) as info:
        with_teams(**teams)
    assert [(p.path, p.code) for p in info.value.problems] == [(where, code)]


def test_a_team_with_nothing_left_says_so_where_the_credit_would_be() -> None:
    decision = with_teams().decide({"severity": "high"}, team=left("0"))
    assert decision.reasons[-1] == "reduced to 0.00 (team support has 0 left of 500 in 2026-12): Credit not offered"

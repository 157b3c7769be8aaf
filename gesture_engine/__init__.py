"""gesture-engine: declarative service-recovery policies that say what to do for an unhappy customer.

>>> from gesture_engine import load_policy
>>> policy = load_policy()                      # the embedded default policy
>>> decision = policy.decide({"severity": "high", "channel": "social_media", "audience": 120000})
>>> decision.action
'personal_outreach'

The package exports the core: loading a policy, deciding, the decision's models and the errors.
The authoring tools (explain's report, policy tests and coverage, lint, diff, invariants) are in
:mod:`gesture_engine.tools`.
"""

from gesture_engine.decision import Approval, Budget, BudgetStep, Decision, Gesture, Money, Owed, PolicyRef, RuleTrace
from gesture_engine.errors import ComplaintError, FieldProblem, GestureError, PolicyError, Problem
from gesture_engine.policy import Policy, TeamBudget, load_policy, loads_policy

__version__ = "0.1.0"

__all__ = [
    "Approval",
    "Budget",
    "BudgetStep",
    "ComplaintError",
    "Decision",
    "FieldProblem",
    "Gesture",
    "GestureError",
    "Money",
    "Owed",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "Problem",
    "RuleTrace",
    "TeamBudget",
    "__version__",
    "load_policy",
    "loads_policy",
]

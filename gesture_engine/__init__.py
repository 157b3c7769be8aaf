"""gesture-engine: declarative service-recovery policies that say what to do for an unhappy customer.

>>> from gesture_engine import load_policy
>>> policy = load_policy()                      # the embedded default policy
>>> decision = policy.decide({"severity": "high", "channel": "social_media", "audience": 120000})
>>> decision.action
'personal_outreach'
"""

from .errors import ComplaintError, FieldProblem, GestureError, PolicyError, Problem
from .models import Approval, BudgetStep, Decision, Gesture, Money, PolicyRef, RuleTrace
from .policy import Policy, load_policy

__version__ = "0.1.0"

__all__ = [
    "Approval",
    "BudgetStep",
    "ComplaintError",
    "Decision",
    "FieldProblem",
    "Gesture",
    "GestureError",
    "Money",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "Problem",
    "RuleTrace",
    "__version__",
    "load_policy",
]

"""gesture-engine: declarative service-recovery policies that say what to do for an unhappy customer.

>>> from gesture_engine import load_policy
>>> policy = load_policy()                      # the embedded default policy
>>> decision = policy.decide({"severity": "high", "channel": "social_media", "audience": 120000})
>>> decision.action
'personal_outreach'
"""

from .coverage import CoverageReport, coverage_of
from .diff import StructuralDiff, diff_policies, replay
from .errors import ComplaintError, FieldProblem, GestureError, PolicyError, Problem
from .explain import Explanation
from .lint import Finding, LintReport, lint, lint_path
from .models import Approval, BudgetStep, Decision, Gesture, Money, PolicyRef, RuleTrace
from .policy import Policy, load_policy
from .revisions import RevisionError, load_spec
from .testing import PolicyTestError, SuiteResult, load_suite, run_suite

__version__ = "0.1.0"

__all__ = [
    "Approval",
    "BudgetStep",
    "ComplaintError",
    "CoverageReport",
    "Decision",
    "Explanation",
    "FieldProblem",
    "Finding",
    "Gesture",
    "GestureError",
    "LintReport",
    "Money",
    "Policy",
    "PolicyError",
    "PolicyRef",
    "PolicyTestError",
    "Problem",
    "RevisionError",
    "RuleTrace",
    "StructuralDiff",
    "SuiteResult",
    "__version__",
    "coverage_of",
    "diff_policies",
    "lint",
    "lint_path",
    "load_policy",
    "load_spec",
    "load_suite",
    "replay",
    "run_suite",
]

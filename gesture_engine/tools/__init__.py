"""Tools for policy authors, built on the core: why a complaint got its answer (explain), named test
cases with coverage, lint, structural diff and replay across git revisions, and invariants.

>>> from gesture_engine import load_policy
>>> from gesture_engine.tools import lint
>>> lint(load_policy()).count("error")
0
"""

from gesture_engine.tools.coverage import CoverageReport, coverage_of
from gesture_engine.tools.diff import StructuralDiff, diff_policies, replay
from gesture_engine.tools.explain import Explanation
from gesture_engine.tools.invariants import check_invariants
from gesture_engine.tools.lint import Finding, LintReport, lint, lint_path
from gesture_engine.tools.revisions import RevisionError, load_spec
from gesture_engine.tools.testing import PolicyTestError, SuiteResult, load_suite, run_suite

__all__ = [
    "CoverageReport",
    "Explanation",
    "Finding",
    "LintReport",
    "PolicyTestError",
    "RevisionError",
    "StructuralDiff",
    "SuiteResult",
    "check_invariants",
    "coverage_of",
    "diff_policies",
    "lint",
    "lint_path",
    "load_spec",
    "load_suite",
    "replay",
    "run_suite",
]

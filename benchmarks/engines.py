"""Adapters that turn a ``Table`` into a ready-to-call decider for each engine.

An adapter does its one-off work in ``prepare`` (translate, write files, load, compile) and returns
a ``Prepared``: inputs already in the engine's natural form (converted before timing, as a caller
holding that form would) and ``run``, which decides a chunk of them and returns the actions.
Competitors are imported lazily, so a missing package makes its row "n/a" instead of a crash.
"""

from __future__ import annotations

import importlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import translate
from .table import DEFAULT_POLICY_FACTS, SEVERITIES, Complaint, Table, default_policy_reference

Run = Callable[[list[Any]], list[str]]


@dataclass
class Prepared:
    """A table loaded into one engine: ``run(chunk)`` decides a chunk of ``inputs``."""

    run: Run
    inputs: list[Any]
    setup_seconds: float
    notes: dict[str, Any] = field(default_factory=dict)


class Unavailable(Exception):
    """The engine's package is missing or broken; its row prints "n/a" with this reason."""


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # an ImportError, or a package that breaks while importing
        raise Unavailable(f"cannot import {name}: {exc}") from None


class Engine:
    """One row of the results table."""

    key = ""
    label = ""
    package = ""

    def version(self) -> str:
        """The installed version of the engine's distribution, or "" when it is not installed."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(self.package) if self.package else ""
        except PackageNotFoundError:
            return ""

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        raise NotImplementedError


class PythonIfElif(Engine):
    key = "python"
    label = "Python if/elif (generated, compiled once)"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        start = time.perf_counter()
        decide = translate.python_decider(table)
        decide(complaints[0])
        return Prepared(lambda chunk: [decide(c) for c in chunk], complaints, time.perf_counter() - start)


def _gesture_policy(table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> tuple[Any, float, dict[str, Any]]:
    """Write the policy YAML and load it once per table; decide and decide_many share it."""
    if "gesture" not in cache:
        gesture_engine = _module("gesture_engine")
        path = Path(tempfile.mkdtemp(prefix=f"{table.name}-", dir=workdir)) / "policy"
        size = translate.write_gesture_policy(table, path)
        start = time.perf_counter()
        policy = gesture_engine.load_policy(path)
        loaded = time.perf_counter() - start
        policy.decide(complaints[0])
        notes = {"load_seconds": loaded, "yaml_bytes": size, "files": len(list(path.iterdir()))}
        cache["gesture"] = (policy, time.perf_counter() - start, notes)
    result: tuple[Any, float, dict[str, Any]] = cache["gesture"]
    return result


class GestureDecide(Engine):
    key = "gesture"
    label = "gesture-engine `decide`"
    package = "gesture-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        policy, setup, notes = _gesture_policy(table, complaints, workdir, cache)
        decide = policy.decide
        return Prepared(lambda chunk: [decide(c).action for c in chunk], complaints, setup, notes)


class GestureDecideMany(Engine):
    key = "gesture_many"
    label = "gesture-engine `decide_many`"
    package = "gesture-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        policy, setup, notes = _gesture_policy(table, complaints, workdir, cache)
        many = policy.decide_many
        return Prepared(lambda chunk: [d.action for d in many(chunk)], complaints, setup, notes)


def _zen_engine(table: Table, complaints: list[Complaint], cache: dict[str, Any]) -> tuple[Any, float]:
    """One ZenEngine with a static loader per table, warmed by a first evaluation (it loads lazily)."""
    if "zen" not in cache:
        zen = _module("zen")
        key = f"{table.name}.json"
        content = translate.zen_jdm(table)
        start = time.perf_counter()
        engine = zen.ZenEngine({"loader": {"type": "static", "content": {key: content}}})
        engine.evaluate(key, translate.zen_context(complaints[0]))
        cache["zen"] = (engine, time.perf_counter() - start)
    result: tuple[Any, float] = cache["zen"]
    return result


def _zen_action(response: dict[str, Any]) -> str:
    action = response.get("result", {}).get("action")
    return action if isinstance(action, str) else f"<no action: {json.dumps(response)[:80]}>"


class ZenEvaluate(Engine):
    key = "zen"
    label = "GoRules ZEN `evaluate` (static loader)"
    package = "zen-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        engine, setup = _zen_engine(table, complaints, cache)
        key = f"{table.name}.json"
        evaluate = engine.evaluate
        inputs = [translate.zen_context(c) for c in complaints]
        return Prepared(lambda chunk: [_zen_action(evaluate(key, c)) for c in chunk], inputs, setup)


class ZenEvaluateBatch(Engine):
    key = "zen_batch"
    label = "GoRules ZEN `evaluate_batch` (per item)"
    package = "zen-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        engine, setup = _zen_engine(table, complaints, cache)
        if not hasattr(engine, "evaluate_batch"):
            raise Unavailable("this zen-engine has no evaluate_batch")
        key = f"{table.name}.json"
        inputs = [{"key": key, "context": translate.zen_context(c)} for c in complaints]

        def run(chunk: list[Any]) -> list[str]:
            return [_zen_action(r["data"]) if r.get("success") else f"<error: {r.get('error')}>" for r in engine.evaluate_batch(chunk)]

        return Prepared(run, inputs, setup)


class RuleEngine(Engine):
    key = "rule_engine"
    label = "rule-engine (one `Rule` per row)"
    package = "rule-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        rule_engine = _module("rule_engine")
        start = time.perf_counter()
        context = rule_engine.Context()
        rules = tuple((rule_engine.Rule(translate.rule_engine_text(row), context=context).matches, row.action) for row in table.rows)
        default = table.default_action

        def decide(complaint: Complaint) -> str:
            for matches, action in rules:
                if matches(complaint):
                    return action
            return default

        decide(complaints[0])
        return Prepared(lambda chunk: [decide(c) for c in chunk], complaints, time.perf_counter() - start)


class BusinessRules(Engine):
    key = "business_rules"
    label = "business-rules `run_all` (stop on first)"
    package = "business-rules"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        engine = _module("business_rules")
        variables = _module("business_rules.variables")
        actions = _module("business_rules.actions")
        fields = _module("business_rules.fields")
        start = time.perf_counter()

        def read(name: str, kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
            return lambda self: kind(self.complaint[name])

        # The package's decorators, applied as calls: it is untyped, so the result is simply Any.
        class Complaints(variables.BaseVariables):  # type: ignore[misc, name-defined]
            def __init__(self, complaint: Complaint) -> None:
                self.complaint = complaint

            severity_rank = variables.numeric_rule_variable(read("severity_rank", int))
            channel = variables.string_rule_variable(read("channel", str))
            region = variables.string_rule_variable(read("region", str))
            audience = variables.numeric_rule_variable(read("audience", int))
            customer_value = variables.numeric_rule_variable(read("customer_value", lambda value: value))

        class Choice(actions.BaseActions):  # type: ignore[misc, name-defined]
            def __init__(self) -> None:
                self.action = table.default_action

            def _choose(self, action: str) -> None:
                self.action = action

            choose = actions.rule_action(params={"action": fields.FIELD_TEXT})(_choose)

        rules = translate.business_rules_rules(table)
        run_all = engine.run_all

        def decide(complaint: Complaint) -> str:
            choice = Choice()
            run_all(rules, Complaints(complaint), choice, stop_on_first_trigger=True)
            return str(choice.action)

        inputs = [{**c, "severity_rank": SEVERITIES.index(c["severity"])} for c in complaints]
        decide(inputs[0])
        return Prepared(lambda chunk: [decide(c) for c in chunk], inputs, time.perf_counter() - start)


ENGINES: tuple[Engine, ...] = (
    PythonIfElif(),
    GestureDecide(),
    GestureDecideMany(),
    ZenEvaluate(),
    ZenEvaluateBatch(),
    RuleEngine(),
    BusinessRules(),
)
"""Rows of the results table, in print order; ``python`` is the reference the others must match."""


class GestureDefaultPolicy(Engine):
    """The embedded default policy, derived facts and add-ons included: a realistic small policy."""

    key = "gesture_default"
    label = "gesture-engine `decide`, embedded default policy"
    package = "gesture-engine"

    def prepare(self, table: Table, complaints: list[Complaint], workdir: Path, cache: dict[str, Any]) -> Prepared:
        gesture_engine = _module("gesture_engine")
        start = time.perf_counter()
        policy = gesture_engine.load_policy()
        inputs = [{name: c[name] for name in DEFAULT_POLICY_FACTS} for c in complaints]
        policy.decide(inputs[0])
        decide = policy.decide
        notes = {"reference": [default_policy_reference(c) for c in inputs], "rules": len(policy.rules), "derived": len(policy.derived)}
        return Prepared(lambda chunk: [decide(c).action for c in chunk], inputs, time.perf_counter() - start, notes)

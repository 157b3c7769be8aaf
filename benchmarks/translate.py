"""Translations of one ``Table`` into each engine's own format, written the way its users would.

Each translator only rewrites rows; none of them evaluates anything. Levels have no order outside
gesture-engine, so ``severity at_least high`` becomes a rank comparison in Python and
business-rules and a list of accepted values in ZEN and rule-engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .table import CHANNELS, DEAD_REGION, REGIONS, SEVERITIES, Complaint, Row, Table

# -- hand-written Python ------------------------------------------------------------------------


def python_source(table: Table) -> str:
    """Module source defining ``decide(complaint) -> action`` as a chain of ifs.

    Each row is ``if ...: return action``, which is what an ``if/elif`` chain does for a first-hit
    table; a literal 10,000-deep ``elif`` would overflow CPython's compiler recursion.
    """
    lines = [
        f"_RANK = {dict((name, rank) for rank, name in enumerate(SEVERITIES))!r}",
        "",
        "def decide(complaint):",
        "    severity = _RANK[complaint['severity']]",
        "    channel = complaint['channel']",
        "    audience = complaint['audience']",
        "    customer_value = complaint['customer_value']",
        "    region = complaint['region']",
    ]
    for row in table.rows:
        tests = []
        if row.region is not None:
            tests.append(f"region == {row.region!r}")
        if row.severity_at_least is not None:
            tests.append(f"severity >= {SEVERITIES.index(row.severity_at_least)}")
        if row.channels is not None:
            tests.append(f"channel in {row.channels!r}" if len(row.channels) > 1 else f"channel == {row.channels[0]!r}")
        if row.audience is not None:
            tests.append(f"{row.audience[0]} <= audience < {row.audience[1]}")
        if row.customer_value is not None:
            tests.append(f"{row.customer_value[0]} <= customer_value < {row.customer_value[1]}")
        lines.append(f"    if {' and '.join(tests)}:")
        lines.append(f"        return {row.action!r}")
    lines.append(f"    return {table.default_action!r}")
    return "\n".join(lines) + "\n"


def python_decider(table: Table) -> Callable[[Complaint], str]:
    """Compile ``python_source`` once and return its ``decide``."""
    namespace: dict[str, Any] = {}
    exec(compile(python_source(table), f"<if/elif {table.name}>", "exec"), namespace)  # our own generated code, from our own table
    decide: Callable[[Complaint], str] = namespace["decide"]
    return decide


# -- gesture-engine -----------------------------------------------------------------------------


def _flow(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


RULES_PER_FILE = 1000
"""gesture-engine caps the values in one policy file (``loader.MAX_NODES``), so big tables become a
policy directory whose rules are split over files, joined in file-name order."""


def gesture_policy(table: Table, rules_per_file: int = RULES_PER_FILE) -> dict[str, str]:
    """A complete gesture-engine policy directory: file name -> YAML text.

    ``policy.yaml`` declares facts, catalogs and approval; ``rules-NNNN.yaml`` hold the rows as
    first-hit rules in order, and the last one ends with the default rule.
    """
    regions = (*REGIONS, DEAD_REGION)
    header = [
        f"policy: {table.name}",
        'version: "1.0.0"',
        "currency: USD",
        "budget_cap: 100",
        "facts:",
        f"  severity: {{type: level, values: {_flow(SEVERITIES)}, required: true}}",
        f"  channel: {{type: enum, values: {_flow(CHANNELS)}, required: true}}",
        "  audience: {type: integer, min: 0, default: 0}",
        "  customer_value: {type: money, default: 0}",
        f"  region: {{type: enum, values: {_flow(regions)}, default: {REGIONS[0]}}}",
        "gestures:",
        "  apology: {label: Sincere apology}",
        "actions:",
        *(f"  {action}: {{label: {action}}}" for action in table.actions),
        "approval:",
        "  levels: [agent]",
        "  ladder:",
        "    - {level: agent}",
    ]
    rules = []
    for row in table.rows:
        when = []
        if row.region is not None:
            when.append(f"region: {row.region}")
        if row.severity_at_least is not None:
            when.append(f"severity: {{at_least: {row.severity_at_least}}}")
        if row.channels is not None:
            when.append(f"channel: {{in: {_flow(row.channels)}}}")
        if row.audience is not None:
            when.append(f"audience: {{gte: {row.audience[0]}, lt: {row.audience[1]}}}")
        if row.customer_value is not None:
            when.append(f"customer_value: {{gte: {row.customer_value[0]}, lt: {row.customer_value[1]}}}")
        rules.append(
            f"  - id: {row.id}\n"
            f"    when: {{{', '.join(when)}}}\n"
            f"    then: {{action: {row.action}, gestures: [apology], respond_within: 1d}}\n"
        )
    rules.append(
        "  - id: default\n"
        "    default: true\n"
        f"    then: {{action: {table.default_action}, gestures: [apology], respond_within: 2d}}\n"
    )
    files = {"policy.yaml": "\n".join(header) + "\n"}
    for number, start in enumerate(range(0, len(rules), rules_per_file)):
        files[f"rules-{number:04d}.yaml"] = "rules:\n" + "".join(rules[start: start + rules_per_file])
    return files


def write_gesture_policy(table: Table, directory: Path, rules_per_file: int = RULES_PER_FILE) -> int:
    """Write ``gesture_policy`` into ``directory`` (created, must be new); returns the bytes written."""
    directory.mkdir(parents=True)
    written = 0
    for name, text in gesture_policy(table, rules_per_file).items():
        written += (directory / name).write_bytes(text.encode("utf-8"))
    return written


# -- GoRules ZEN --------------------------------------------------------------------------------

_ZEN_FIELDS = ("region", "severity", "channel", "audience", "customer_value")


def _zen_list(values: tuple[str, ...]) -> str:
    return ", ".join(json.dumps(value) for value in values)


def zen_jdm(table: Table) -> dict[str, Any]:
    """A JDM graph input -> decision table (hitPolicy first) -> output; empty cells match anything."""
    fields = [name for name in _ZEN_FIELDS if name != "region" or table.uses_region]
    inputs = [{"id": f"in_{name}", "name": name, "field": name} for name in fields]
    rules: list[dict[str, str]] = []
    for row in table.rows:
        cells = dict.fromkeys(fields, "")
        if row.region is not None:
            cells["region"] = json.dumps(row.region)
        if row.severity_at_least is not None:
            cells["severity"] = _zen_list(SEVERITIES[SEVERITIES.index(row.severity_at_least):])
        if row.channels is not None:
            cells["channel"] = _zen_list(row.channels)
        if row.audience is not None:
            cells["audience"] = f"[{row.audience[0]}..{row.audience[1]})"
        if row.customer_value is not None:
            cells["customer_value"] = f"[{row.customer_value[0]}..{row.customer_value[1]})"
        rules.append({"_id": row.id, **{f"in_{name}": text for name, text in cells.items()}, "out_action": json.dumps(row.action)})
    rules.append({"_id": "default", **{f"in_{name}": "" for name in fields}, "out_action": json.dumps(table.default_action)})
    at = {"x": 0, "y": 0}
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "request", "position": at},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": table.name,
                "position": at,
                "content": {
                    "hitPolicy": "first",
                    "inputs": inputs,
                    "outputs": [{"id": "out_action", "name": "action", "field": "action"}],
                    "rules": rules,
                },
            },
            {"id": "response", "type": "outputNode", "name": "response", "position": at},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


def zen_context(complaint: Complaint) -> dict[str, Any]:
    """ZEN reads JSON: money goes over as a float (exact enough here: bounds are whole dollars)."""
    return {**complaint, "customer_value": float(complaint["customer_value"])}


# -- rule-engine --------------------------------------------------------------------------------


def rule_engine_text(row: Row) -> str:
    """One row as a rule-engine expression."""
    tests = []
    if row.region is not None:
        tests.append(f"region == {json.dumps(row.region)}")
    if row.severity_at_least is not None:
        tests.append(f"severity in {json.dumps(list(SEVERITIES[SEVERITIES.index(row.severity_at_least):]))}")
    if row.channels is not None:
        tests.append(f"channel in {json.dumps(list(row.channels))}")
    if row.audience is not None:
        tests.append(f"audience >= {row.audience[0]} and audience < {row.audience[1]}")
    if row.customer_value is not None:
        tests.append(f"customer_value >= {row.customer_value[0]} and customer_value < {row.customer_value[1]}")
    return " and ".join(tests)


# -- business-rules -----------------------------------------------------------------------------


def _condition(name: str, operator: str, value: Any) -> dict[str, Any]:
    return {"name": name, "operator": operator, "value": value}


def business_rules_rules(table: Table) -> list[dict[str, Any]]:
    """Rows as business-rules rule dicts; each fires the ``choose`` action with its action name."""
    rules = []
    for row in table.rows:
        conditions: list[dict[str, Any]] = []
        if row.region is not None:
            conditions.append(_condition("region", "equal_to", row.region))
        if row.severity_at_least is not None:
            conditions.append(_condition("severity_rank", "greater_than_or_equal_to", SEVERITIES.index(row.severity_at_least)))
        if row.channels is not None:
            conditions.append({"any": [_condition("channel", "equal_to", channel) for channel in row.channels]})
        if row.audience is not None:
            conditions.append(_condition("audience", "greater_than_or_equal_to", row.audience[0]))
            conditions.append(_condition("audience", "less_than", row.audience[1]))
        if row.customer_value is not None:
            conditions.append(_condition("customer_value", "greater_than_or_equal_to", row.customer_value[0]))
            conditions.append(_condition("customer_value", "less_than", row.customer_value[1]))
        rules.append({"conditions": {"all": conditions}, "actions": [{"name": "choose", "params": {"action": row.action}}]})
    return rules

"""Translations of one ``Table`` into gesture-engine's YAML and GoRules ZEN's JDM graph.

Each translator only rewrites rows; none evaluates anything. Levels have no order in ZEN, so
``severity at_least high`` becomes the list of accepted values there, and a budget becomes ZEN's own
expression for the same arithmetic (``min([max([...]), cap])`` with ``round(x, 2)`` after every step,
lookups as chained ``? :``), computed by ZEN in its decimal numbers.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from .table import CHANNELS, DEAD_REGION, REGIONS, SEVERITIES, Budget, Complaint, Table

# -- gesture-engine -----------------------------------------------------------------------------


def _flow(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


def _mapping(pairs: tuple[tuple[str, Decimal], ...]) -> str:
    return "{" + ", ".join(f"{name}: {value}" for name, value in pairs) + "}"


def gesture_budget(budget: Budget) -> str:
    """``then.budget`` as one line of flow YAML."""
    parts = [
        f"base: {{by: severity, values: {_mapping(budget.base)}}}",
        f"percent_of: {{fact: {budget.percent_of}, percent: {budget.percent}}}",
        "multipliers: [" + ", ".join(f"{{by: {fact}, values: {_mapping(values)}}}" for fact, values in budget.multipliers) + "]",
        f"max: {budget.maximum}",
    ]
    if budget.minimum is not None:
        parts.append(f"min: {budget.minimum}")
    return "{" + ", ".join(parts) + "}"


RULES_PER_FILE = 1000
"""Big tables become a policy directory whose rules are split over files, joined in file-name order."""
BUDGET_CAP = 10000
"""Above every rule's ``max``: the policy cap never binds, so ZEN's expressions need no cap of their own."""


def gesture_policy(table: Table, rules_per_file: int = RULES_PER_FILE) -> dict[str, str]:
    """A complete gesture-engine policy directory: file name -> YAML text.

    ``policy.yaml`` declares facts, catalogs and approval; ``rules-NNNN.yaml`` hold the rows as
    first-hit rules in order, and the last one ends with the default rule.
    """
    header = [
        f"policy: {table.name}",
        'version: "1.0.0"',
        "currency: USD",
        f"budget_cap: {BUDGET_CAP}",
        "facts:",
        f"  severity: {{type: level, values: {_flow(SEVERITIES)}, required: true}}",
        f"  channel: {{type: enum, values: {_flow(CHANNELS)}, required: true}}",
        "  audience: {type: integer, min: 0, default: 0}",
        "  customer_value: {type: money, default: 0}",
        "  order_value: {type: money, default: 0}",
        f"  region: {{type: enum, values: {_flow((*REGIONS, DEAD_REGION))}, default: {REGIONS[0]}}}",
        "gestures:",
        "  apology: {label: Sincere apology}",
        "  account_credit: {label: Account credit, monetary: true}",
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
            f"    then: {{action: {row.action}, gestures: [apology, account_credit], respond_within: 1d, "
            f"budget: {gesture_budget(row.budget)}}}\n"
        )
    rules.append(
        "  - id: default\n"
        "    default: true\n"
        f"    then: {{action: {table.default_action}, gestures: [apology, account_credit], respond_within: 2d, "
        f"budget: {gesture_budget(table.default_budget)}}}\n"
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


def _zen_lookup(fact: str, pairs: tuple[tuple[str, Decimal], ...]) -> str:
    """A lookup by an enum fact as ZEN writes it: ``(fact == "a" ? 1 : fact == "b" ? 2 : 3)``."""
    *tests, (_, last) = pairs
    return "(" + "".join(f"{fact} == {json.dumps(name)} ? {value} : " for name, value in tests) + f"{last})"


def zen_budget(budget: Budget) -> str:
    """The budget as one ZEN expression, rounding to the cent after each step as gesture-engine does."""
    amount = f"{_zen_lookup('severity', budget.base)} + round({budget.percent_of} * {budget.percent} / 100, 2)"
    for fact, values in budget.multipliers:
        amount = f"round(({amount}) * {_zen_lookup(fact, values)}, 2)"
    if budget.minimum is not None:
        amount = f"max([{amount}, {budget.minimum}])"
    return f"min([{amount}, {budget.maximum}])"


def zen_jdm(table: Table) -> dict[str, Any]:
    """A JDM graph input -> decision table (hitPolicy first) -> output; empty cells match anything.

    The table outputs ``action`` and ``budget``; ZEN evaluates the budget expression of the row that hit.
    """
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
        rules.append({"_id": row.id, **{f"in_{name}": text for name, text in cells.items()},
                      "out_action": json.dumps(row.action), "out_budget": zen_budget(row.budget)})
    rules.append({"_id": "default", **{f"in_{name}": "" for name in fields},
                  "out_action": json.dumps(table.default_action), "out_budget": zen_budget(table.default_budget)})
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
                    "outputs": [{"id": "out_action", "name": "action", "field": "action"},
                                {"id": "out_budget", "name": "budget", "field": "budget"}],
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
    """ZEN reads JSON, so money goes over as a float: the cross-check shows whether any cent is lost."""
    return {**complaint, "customer_value": float(complaint["customer_value"]), "order_value": float(complaint["order_value"])}


def zen_answer(result: Any) -> tuple[str, Decimal | None]:
    """ZEN's ``{"action", "budget"}`` as an action and a Decimal (``None`` when ZEN gave no budget)."""
    action = result.get("action") if isinstance(result, dict) else None
    budget = result.get("budget") if isinstance(result, dict) else None
    amount = None if budget is None or isinstance(budget, bool) else Decimal(repr(budget))
    return (action if isinstance(action, str) else f"<no action: {json.dumps(result)[:80]}>"), amount

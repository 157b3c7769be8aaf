"""What a policy change does: the structural diff, and a replay of real complaints under both.

A reviewer needs two answers: what did the author change (rules added, removed, moved, edited;
the catalog, facts and limits), and what will that do to customers and spend. The first compares
compiled structures field by field (so comments and layout never count, like the fingerprint);
the second decides every complaint of a JSONL or CSV file (or of a decision log) under both
policies and tallies the decisions that changed, the action transitions and the budget delta (in
total, by action and by facts such as the customer's tier and the channel), in Decimal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gesture_engine.batch import BadRow, format_of, read_records
from gesture_engine.complaint import parse_complaint_json
from gesture_engine.decision import Decision
from gesture_engine.decision_log import RECORD_KEYS
from gesture_engine.durations import format_duration
from gesture_engine.engine.budget import BudgetSpec, Lookup
from gesture_engine.engine.conditions import Compare, Condition, Group, Relative, Test, describe, show
from gesture_engine.engine.facts import Fact
from gesture_engine.errors import ComplaintError, ComplaintFileError
from gesture_engine.load.compiler import Catalog, Derived, HistorySource, Rule, Template
from gesture_engine.money import plain
from gesture_engine.policy import Policy

if TYPE_CHECKING:
    from gesture_engine.mapping import Mapping as HelpdeskMapping

INVALID = "(invalid)"
"""The pseudo-action of a complaint one policy cannot decide (e.g. a fact became required)."""
BATCH = 5000
"""Complaints decided per batch, so a large replay file is streamed rather than held in memory."""
BREAKDOWN = ("tier", "channel")
"""Facts a replay breaks the budget delta down by, where either policy has them: the customer value tier
(the default policy derives ``tier`` from ``customer_value``) and the channel the complaint came by."""


# -- rendering compiled pieces as text -------------------------------------------------------------

def _canonical(condition: Condition) -> Any:
    """Order-free form of a condition: two conditions that only list parts differently compare equal."""
    if isinstance(condition, Compare):  # not the same as comparing with a constant that reads like the fact's name
        return ("compare", condition.fact, condition.op, condition.other)
    if isinstance(condition, Test):
        operand = condition.operand
        if condition.op in ("in", "not_in", "contains_any", "contains_all"):
            operand = tuple(sorted(map(show, operand)))
        if isinstance(condition, Relative):
            return ("test", condition.fact, condition.op, show(operand), condition.of)
        return ("test", condition.fact, condition.op, show(operand))
    if isinstance(condition, Group):
        parts = [_canonical(p) for p in condition.parts]
        if condition.kind in ("all", "any"):
            parts.sort(key=repr)
        return (condition.kind, tuple(parts))
    return ("always",)


def _lookup(lookup: Lookup) -> str:
    return f"{lookup.fact} {{" + ", ".join(f"{k}: {plain(v)}" for k, v in lookup.values.items()) + "}"


def render_budget(spec: BudgetSpec | None) -> str:
    """A budget as one line: ``base by severity {...} + 10% of order_value × tier {...}, max 500``."""
    if spec is None:
        return "none"
    text = f"base {plain(spec.base)}" if isinstance(spec.base, Decimal) else f"base by {_lookup(spec.base)}"
    if spec.percent_of is not None:
        text += f" + {plain(spec.percent_of[1])}% of {spec.percent_of[0]}"
    for multiplier in spec.multipliers:
        text += f" × {_lookup(multiplier)}"
    if spec.minimum is not None:
        text += f", min {plain(spec.minimum)}"
    if spec.maximum is not None:
        text += f", max {plain(spec.maximum)}"
    return text


def _budget_fields(spec: BudgetSpec | None) -> dict[str, tuple[Any, str]]:
    """A budget split into parts, so a review shows which part changed rather than the whole line."""
    if spec is None:
        return {}
    base = f"{plain(spec.base)}" if isinstance(spec.base, Decimal) else f"by {_lookup(spec.base)}"
    fields: dict[str, tuple[Any, str]] = {"budget.base": (spec.base, base)}
    if spec.percent_of is not None:
        fields["budget.percent_of"] = (spec.percent_of, f"{plain(spec.percent_of[1])}% of {spec.percent_of[0]}")
    for i, multiplier in enumerate(spec.multipliers):
        key = f"budget.multiplier.{multiplier.fact}"
        fields[key if key not in fields else f"{key}.{i + 1}"] = (multiplier, _lookup(multiplier))
    for name, amount in (("min", spec.minimum), ("max", spec.maximum)):
        if amount is not None:
            fields[f"budget.{name}"] = (amount, plain(amount))
    return fields


def _template(template: Template | None) -> str:
    if template is None:
        return ""
    return "".join("{" + text + "}" if is_fact else text for is_fact, text in template.parts)


def _rule_fields(rule: Rule) -> dict[str, tuple[Any, str]]:
    """Each comparable field of a rule: (key to compare, text to show)."""
    gestures = ", ".join(g.id for g in rule.gestures)
    within = format_duration(rule.respond_within) if rule.respond_within is not None else ""
    return {
        "hit": (rule.hit, rule.hit),
        "when": (_canonical(rule.when), describe(rule.when)),
        "action": (rule.action, rule.action or ""),
        "gestures": (gestures, gestures),
        **_budget_fields(rule.budget),
        **{f"owed.{o.gesture}": (o, plain(o.amount) if o.fact is None else f"{plain(o.amount)}% of {o.fact}") for o in rule.owed},
        "respond_within": (rule.respond_within, within),
        "approval": (rule.approval, rule.approval or ""),
        "rationale": (_template(rule.rationale), _template(rule.rationale)),
        "description": (rule.description, rule.description),
    }


def _fact_fields(fact: Fact) -> dict[str, tuple[Any, str]]:
    fields: dict[str, tuple[Any, str]] = {"type": (fact.type, fact.type)}
    if fact.values:
        fields["values"] = (fact.values, ", ".join(fact.values))
    if not fact.derived:
        fields["required"] = (fact.required, show(fact.required))
        fields["default"] = (fact.default, "" if fact.default is None else show(fact.default))
    if fact.numeric:
        fields["min"] = (fact.minimum, "" if fact.minimum is None else show(fact.minimum))
        fields["max"] = (fact.maximum, "" if fact.maximum is None else show(fact.maximum))
    if fact.type == "string":
        fields["max_length"] = (fact.max_length, str(fact.max_length))
    fields["description"] = (fact.description, fact.description)
    return fields


def _derived_fields(derived: Derived) -> dict[str, tuple[Any, str]]:
    fields = dict(_fact_fields(derived.fact))
    rows = [(_canonical(c), value) for c, value in derived.rows]
    shown = "; ".join(f"{describe(c)} -> {show(value)}" for c, value in derived.rows)
    fields["table"] = (rows, shown)
    fields["default"] = (derived.default, show(derived.default))
    return fields


def _catalog_fields(item: Catalog) -> dict[str, tuple[Any, str]]:
    return {"label": (item.label, item.label), "description": (item.description, item.description),
            "monetary": (item.monetary, show(item.monetary))}


def _policy_fields(policy: Policy) -> dict[str, tuple[Any, str]]:
    c = policy.compiled
    limits, ladder = c.limits, c.ladder
    goodwill = "" if limits.goodwill_fact is None else f"{limits.goodwill_fact} ≤ {show(limits.goodwill_limit)} {limits.goodwill_window}".strip()
    rows = ", ".join(f"≤ {plain(up)}: {level}" if up is not None else f"above: {level}" for up, level in ladder.rows)
    return {
        "name": (c.name, c.name),
        "version": (c.version, c.version),
        "currency": (c.currency, c.currency),
        "description": (c.description, c.description),
        "budget_cap": (limits.cap, show(limits.cap)),
        "goodwill": ((limits.goodwill_fact, limits.goodwill_limit, limits.goodwill_window), goodwill),
        "approval_levels": (ladder.levels, ", ".join(ladder.levels)),
        "approval_ladder": (ladder.rows, rows),
        "history": (tuple(c.history.values()), "; ".join(_history_text(source) for source in c.history.values())),
    }


def _history_text(source: HistorySource) -> str:
    """A history fact's source, as a diff shows it: ``credits: gestures account_credit in 90d``."""
    what = f"gestures {', '.join(source.gestures)}" if source.kind == "gestures" else source.kind
    return f"{source.fact}: {what} in {format_duration(source.window)}"


# -- the structural diff ---------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldChange:
    """One field that differs, shown as text."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    """Something added, removed, changed or moved (rules only) in one section of the policy."""

    section: str  # policy, fact, derived, gesture, action, rule
    id: str
    kind: str  # added, removed, changed, moved
    fields: tuple[FieldChange, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "id": self.id, "kind": self.kind}
        if self.fields:
            out["fields"] = [{"field": f.field, "old": f.old, "new": f.new} for f in self.fields]
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class PolicyInfo:
    """Which policy a side of the diff is."""

    spec: str
    name: str
    version: str
    fingerprint: str

    def to_dict(self) -> dict[str, str]:
        return {"spec": self.spec, "name": self.name, "version": self.version, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class StructuralDiff:
    """Every structural difference between two policies, in a stable order."""

    old: PolicyInfo
    new: PolicyInfo
    changes: tuple[Change, ...]

    @property
    def changed(self) -> bool:
        """True when the policy content differs (the fingerprints differ)."""
        return self.old.fingerprint != self.new.fingerprint

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old.to_dict(), "new": self.new.to_dict(), "changed": self.changed,
                "changes": [c.to_dict() for c in self.changes]}


def _compare(section: str, key: str, old: dict[str, tuple[Any, str]], new: dict[str, tuple[Any, str]]) -> Change | None:
    fields = tuple(
        FieldChange(name, old.get(name, (None, ""))[1], new.get(name, (None, ""))[1])
        for name in dict.fromkeys([*old, *new])
        if old.get(name, (None, ""))[0] != new.get(name, (None, ""))[0]
    )
    return Change(section, key, "changed", fields) if fields else None


def _section(section: str, old: Mapping[str, Any], new: Mapping[str, Any], fields: Any) -> list[Change]:
    changes: list[Change] = []
    for key in old:
        if key not in new:
            changes.append(Change(section, key, "removed"))
    for key in new:
        if key not in old:
            changes.append(Change(section, key, "added"))
        else:
            change = _compare(section, key, fields(old[key]), fields(new[key]))
            if change is not None:
                changes.append(change)
    return changes


def _moved(old_ids: list[str], new_ids: list[str]) -> set[str]:
    """Rules outside a longest common subsequence of the two orders: the ones that moved."""
    common_old = [i for i in old_ids if i in set(new_ids)]
    common_new = [i for i in new_ids if i in set(old_ids)]
    n, m = len(common_old), len(common_new)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if common_old[i] == common_new[j] else max(table[i + 1][j], table[i][j + 1])
    kept: set[str] = set()
    i = j = 0
    while i < n and j < m:
        if common_old[i] == common_new[j]:
            kept.add(common_old[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return set(common_old) - kept


def _info(policy: Policy, spec: str) -> PolicyInfo:
    return PolicyInfo(spec, policy.name, policy.version, policy.fingerprint)


def diff_policies(old: Policy, new: Policy, old_spec: str = "old", new_spec: str = "new") -> StructuralDiff:
    """Compare two policies section by section; rules are matched by id."""
    changes: list[Change] = []
    top = _compare("policy", old.name, _policy_fields(old), _policy_fields(new))
    if top is not None:
        changes.append(top)
    changes += _section("fact", old.facts, new.facts, _fact_fields)
    changes += _section("derived", {d.fact.name: d for d in old.derived}, {d.fact.name: d for d in new.derived}, _derived_fields)
    changes += _section("gesture", old.gestures, new.gestures, _catalog_fields)
    changes += _section("action", old.actions, new.actions, _catalog_fields)
    old_rules = {r.id: r for r in old.rules}
    new_rules = {r.id: r for r in new.rules}
    changes += _section("rule", old_rules, new_rules, _rule_fields)
    old_order, new_order = [r.id for r in old.rules], [r.id for r in new.rules]
    moved = _moved(old_order, new_order)
    for rule_id in new_order:
        if rule_id in moved:
            before, after = old_order.index(rule_id) + 1, new_order.index(rule_id) + 1
            changes.append(Change("rule", rule_id, "moved", detail=f"position {before} -> {after}"))
    if not changes and old.fingerprint != new.fingerprint:
        changes.append(Change("policy", new.name, "changed", detail="content differs outside the sections compared here "
                                                                    "(e.g. invariants); the fingerprint changed"))
    return StructuralDiff(_info(old, old_spec), _info(new, new_spec), tuple(changes))


# -- replay ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One complaint read from a replay file, before either policy has typed it."""

    label: str
    data: Any
    text_fields: bool = False  # CSV: values are text, typed by each policy's complaint_from_text
    logged: bool = False  # read from a decision log's record
    refused: ComplaintError | None = None  # a helpdesk payload its mapping could not read: invalid under both

    def complaint_for(self, policy: Policy) -> Any:
        """The complaint as ``policy`` reads it; raises ``ComplaintError`` when there is none."""
        if self.refused is not None:
            raise self.refused
        if not self.text_fields:
            return self.data
        return policy.complaint_from_text({k: v for k, v in self.data.items() if v != ""})


@dataclass(frozen=True)
class BadLine:
    """A line of a replay file that is not a complaint at all (bad JSON, not an object, ragged CSV)."""

    line: int
    message: str


_LOG_KEYS = frozenset(RECORD_KEYS)
_DECISION_KEYS = frozenset(("action", "budget", "respond_within", "policy"))
"""Keys every decision has and no complaint of a sane policy: a file of decisions is not complaints."""


def read_replay(path: str | Path) -> Iterator[Record | BadLine]:
    """Complaints from a ``.jsonl`` (one JSON object a line) or ``.csv`` file (columns are fact names),
    read by the same streaming reader as ``gesture decide --batch``. A JSON line that is a decision
    log's record (``gesture decide --log``) stands for the complaint it logged.

    Raises ``OSError`` when the file cannot be read, and ``ComplaintFileError`` when it is no file of
    complaints at all (a CSV header that cannot be trusted, decisions instead of complaints); bad
    lines are yielded, not raised.
    """
    source = Path(path)
    with source.open("rb") as handle:
        for number, payload in read_records(handle, format_of(source)):
            if isinstance(payload, BadRow):
                yield BadLine(number, payload.message)
            elif isinstance(payload, dict):
                yield Record(record_label(payload, f"row {number}"), payload, text_fields=True)
            else:
                yield json_record(number, payload)


def json_record(number: int, line: bytes | str) -> Record | BadLine:
    """Line ``number`` of JSON Lines as :func:`read_replay` reads it (also on Spark): a complaint, a decision
    log's record standing for the complaint it logged, or a bad line. Raises ``ComplaintFileError`` for a
    decision, which means the whole file is decisions rather than complaints."""
    try:
        data = parse_complaint_json(line, f"line {number}")
    except ComplaintError as error:
        return BadLine(number, "; ".join(p.message for p in error.problems))
    if not isinstance(data, dict):
        return BadLine(number, "expected a JSON object")
    logged = data.keys() == _LOG_KEYS and isinstance(data["complaint"], dict)
    if logged:
        data = data["complaint"]
    elif data.keys() >= _DECISION_KEYS:
        raise ComplaintFileError(number, "is a decision (what gesture decide writes), not a complaint: replay the "
                                         "complaints themselves, or a decision log (gesture decide --log)", "not_complaints")
    return Record(record_label(data, f"line {number}"), data, logged=logged)


def mapped(records: Iterable[Record | BadLine], mapping: HelpdeskMapping) -> Iterator[Record | BadLine]:
    """Each record read as a helpdesk payload: the complaint ``mapping`` makes of it, named by the mapped
    ``complaint_id``; a payload the mapping cannot read stays, refused, so both policies count it invalid."""
    for record in records:
        if isinstance(record, BadLine):
            yield record
            continue
        try:
            complaint = mapping.apply(record.data)
        except ComplaintError as error:  # a PayloadError
            yield Record(record.label, record.data, logged=record.logged, refused=error)
            continue
        yield Record(record_label(complaint, record.label), complaint, logged=record.logged)


def record_label(data: Mapping[str, Any], fallback: str) -> str:
    """How a replay names a complaint: its ``complaint_id``, else ``fallback`` (its line or row)."""
    ident = data.get("complaint_id")
    return str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) and str(ident) else fallback


@dataclass(frozen=True)
class Changed:
    """One complaint whose decision changed."""

    label: str
    old_action: str
    new_action: str
    old_budget: Decimal | None
    new_budget: Decimal | None
    fields: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        """New minus old budget; zero when one policy could not decide."""
        if self.old_budget is None or self.new_budget is None:
            return Decimal(0)
        return self.new_budget - self.old_budget

    def to_dict(self) -> dict[str, Any]:
        return {"complaint": self.label, "old_action": self.old_action, "new_action": self.new_action,
                "old_budget": _money(self.old_budget), "new_budget": _money(self.new_budget),
                "budget_delta": str(self.delta), "changed": list(self.fields)}


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


@dataclass
class Replay:
    """Totals of a replay: how many decisions changed, how, and what it does to spend."""

    old_currency: str
    new_currency: str
    complaints: int = 0
    logged: int = 0
    bad_lines: int = 0
    bad_samples: list[BadLine] = field(default_factory=list)
    decided_both: int = 0
    invalid_old: int = 0
    invalid_new: int = 0
    changed: int = 0
    field_counts: Counter[str] = field(default_factory=Counter)
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    budget_old: Decimal = Decimal(0)
    budget_new: Decimal = Decimal(0)
    by_action_old: dict[str, Decimal] = field(default_factory=dict)
    by_action_new: dict[str, Decimal] = field(default_factory=dict)
    by_fact_old: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    """Fact name -> the fact's value under the old policy -> the old budget; a fact of neither policy is absent."""
    by_fact_new: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    value_order: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each broken-down fact's declared values (a level's in order), so rows read standard, silver, gold."""
    top: list[Changed] = field(default_factory=list)

    @property
    def budget_delta(self) -> Decimal:
        return self.budget_new - self.budget_old

    def action_deltas(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(action, old total, new total, delta) for every action with spend under either policy."""
        actions = sorted(set(self.by_action_old) | set(self.by_action_new))
        rows = []
        for action in actions:
            old, new = self.by_action_old.get(action, Decimal(0)), self.by_action_new.get(action, Decimal(0))
            rows.append((action, old, new, new - old))
        return rows

    def fact_deltas(self, name: str) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(value, old total, new total, delta) for every value of fact ``name`` with spend under either
        policy: old budgets by the old policy's value, new by the new's (a tier's bounds may move)."""
        old_totals, new_totals = self.by_fact_old.get(name, {}), self.by_fact_new.get(name, {})
        declared = self.value_order.get(name, ())
        seen = set(old_totals) | set(new_totals)
        values = [v for v in declared if v in seen] + sorted(seen - set(declared))
        return [(v, old_totals.get(v, Decimal(0)), new_totals.get(v, Decimal(0)), new_totals.get(v, Decimal(0)) - old_totals.get(v, Decimal(0)))
                for v in values]

    def transition_rows(self) -> list[tuple[str, str, int]]:
        return [(a, b, n) for (a, b), n in sorted(self.transitions.items(), key=lambda item: (-item[1], item[0]))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "complaints": self.complaints,
            "from_decision_log": self.logged,
            "bad_lines": self.bad_lines,
            "bad_line_samples": [{"line": b.line, "message": b.message} for b in self.bad_samples],
            "decided_by_both": self.decided_both,
            "invalid_under_old": self.invalid_old,
            "invalid_under_new": self.invalid_new,
            "changed": self.changed,
            "changed_fields": dict(sorted(self.field_counts.items())),
            "transitions": [{"old": a, "new": b, "count": n} for a, b, n in self.transition_rows()],
            "currency": {"old": self.old_currency, "new": self.new_currency},
            "budget": {"old": str(self.budget_old), "new": str(self.budget_new), "delta": str(self.budget_delta)},
            "budget_by_action": [{"action": a, "old": str(o), "new": str(n), "delta": str(d)} for a, o, n, d in self.action_deltas()],
            "budget_by_fact": {name: [{"value": v, "old": str(o), "new": str(n), "delta": str(d)} for v, o, n, d in self.fact_deltas(name)]
                               for name in self.by_fact_old},
            "largest_changes": [c.to_dict() for c in self.top],
        }


_COMPARED = ("action", "rule", "gestures", "budget", "respond_within", "approval")


def _outcome(decision: Decision) -> dict[str, Any]:
    return {
        "action": decision.action,
        "rule": decision.rule,
        "gestures": tuple(g.id for g in decision.gestures),
        "budget": decision.budget.amount,
        "respond_within": decision.respond_within_seconds,
        "approval": decision.approval.level,
    }


def _batches(records: Iterable[Record | BadLine], size: int) -> Iterator[list[Record | BadLine]]:
    batch: list[Record | BadLine] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _decide_each(policy: Policy, records: Sequence[Record]) -> list[Decision | ComplaintError]:
    """Each record's decision under ``policy``, or why it is no valid complaint (in place: the batch goes on)."""
    results: list[Decision | ComplaintError] = []
    for record in records:
        try:
            results.append(policy.decide(record.complaint_for(policy)))
        except ComplaintError as error:
            results.append(error)
    return results


def _fact_names(policy: Policy) -> set[str]:
    return {*policy.facts, *(d.fact.name for d in policy.derived)}


def _values_of(policy: Policy, name: str) -> tuple[str, ...]:
    fact = policy.facts.get(name) or next((d.fact for d in policy.derived if d.fact.name == name), None)
    return tuple(fact.values) if fact is not None and fact.values else ()


def _fact_text(decision: Decision, name: str) -> str:
    value = decision.facts.get(name)
    return "(none)" if value is None else show(value)


def empty_replay(old: Policy, new: Policy, by: Sequence[str] = BREAKDOWN) -> Replay:
    """A replay of nothing yet, set to break the budget down by the facts of ``by`` either policy has."""
    result = Replay(old.currency, new.currency)
    known = _fact_names(old) | _fact_names(new)
    for name in dict.fromkeys(by):
        if name in known:
            result.by_fact_old[name], result.by_fact_new[name] = {}, {}
            result.value_order[name] = tuple(dict.fromkeys([*_values_of(new, name), *_values_of(old, name)]))
    return result


def replay(old: Policy, new: Policy, records: Iterable[Record | BadLine], *, top: int = 10, samples: int = 10,
           by: Sequence[str] = BREAKDOWN) -> Replay:
    """Decide every record under both policies and tally what changed; the budget is also broken down
    by each fact of ``by`` that either policy has (by the old policy's value for old budgets, the new
    one's for new budgets, as by action)."""
    result = empty_replay(old, new, by)
    facts = list(result.by_fact_old)
    candidates: list[tuple[Decimal, int, Changed]] = []
    position = 0
    for batch in _batches(records, BATCH):
        good = [r for r in batch if isinstance(r, Record)]
        for bad in (r for r in batch if isinstance(r, BadLine)):
            result.bad_lines += 1
            if len(result.bad_samples) < samples:
                result.bad_samples.append(bad)
        olds, news = _decide_each(old, good), _decide_each(new, good)
        for record, before, after in zip(good, olds, news, strict=True):
            position += 1
            result.complaints += 1
            result.logged += record.logged
            old_ok, new_ok = isinstance(before, Decision), isinstance(after, Decision)
            result.invalid_old += not old_ok
            result.invalid_new += not new_ok
            if not old_ok and not new_ok:
                continue
            if old_ok and new_ok:
                assert isinstance(before, Decision) and isinstance(after, Decision)
                result.decided_both += 1
                a, b = before.budget.amount, after.budget.amount
                result.budget_old += a
                result.budget_new += b
                result.by_action_old[before.action] = result.by_action_old.get(before.action, Decimal(0)) + a
                result.by_action_new[after.action] = result.by_action_new.get(after.action, Decimal(0)) + b
                for name in facts:
                    was_value, now_value = _fact_text(before, name), _fact_text(after, name)
                    result.by_fact_old[name][was_value] = result.by_fact_old[name].get(was_value, Decimal(0)) + a
                    result.by_fact_new[name][now_value] = result.by_fact_new[name].get(now_value, Decimal(0)) + b
                was, now = _outcome(before), _outcome(after)
                fields = tuple(name for name in _COMPARED if was[name] != now[name])
                if not fields:
                    continue
                change = Changed(record.label, before.action, after.action, a, b, fields)
            else:
                change = Changed(
                    record.label,
                    before.action if isinstance(before, Decision) else INVALID,
                    after.action if isinstance(after, Decision) else INVALID,
                    before.budget.amount if isinstance(before, Decision) else None,
                    after.budget.amount if isinstance(after, Decision) else None,
                    ("validity",),
                )
            result.changed += 1
            result.field_counts.update(change.fields)
            result.transitions[(change.old_action, change.new_action)] += 1
            candidates.append((-abs(change.delta), position, change))
            if len(candidates) > 4 * max(top, 1):
                candidates = sorted(candidates, key=lambda c: (c[0], c[1]))[:top]
    result.top = [c for _, _, c in sorted(candidates, key=lambda c: (c[0], c[1]))[:top]]
    return result

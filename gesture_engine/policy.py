"""The public face of a loaded policy: ``load_policy`` and ``Policy.decide``.

Deciding is pure: it reads the complaint and the compiled policy, does no I/O and touches no
shared mutable state, so one ``Policy`` can serve many threads at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, overload

from .budget import compute_budget, summarize
from .compiler import Catalog, CompiledPolicy, Derived, Rule, compile_policy
from .durations import format_duration
from .errors import ComplaintError
from .facts import Fact, FactValue, parse_fact_text, read_complaint
from .loader import MAX_FILE_BYTES, read_policy_source
from .models import Approval, Decision, Gesture, Money, PolicyRef, RuleTrace
from .resources import default_policy_path


def load_policy(path: str | os.PathLike[str] | None = None, *, max_file_bytes: int = MAX_FILE_BYTES) -> Policy:
    """Load, validate and compile a policy file or directory; ``None`` loads the embedded default.

    Raises ``PolicyError`` listing every problem with its file, line and column.
    """
    source = Path(path) if path is not None else default_policy_path()
    return Policy(compile_policy(read_policy_source(source, max_file_bytes)))


class Policy:
    """A validated, compiled policy. Immutable and safe to share across threads."""

    __slots__ = ("_c", "_collect", "_default", "_derived_facts", "_first", "_reads", "_ref")

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._c = compiled
        self._first = tuple(r for r in compiled.rules if r.hit == "first")
        self._default = next(r for r in compiled.rules if r.hit == "default")
        self._collect = tuple(r for r in compiled.rules if r.hit == "collect")
        self._reads = {r.id: r.when.facts_used() for r in compiled.rules}
        self._derived_facts = {d.fact.name: d.fact for d in compiled.derived}
        self._ref = PolicyRef(name=compiled.name, version=compiled.version, fingerprint=compiled.fingerprint)

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_ref"):
            raise AttributeError("a Policy is immutable")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<Policy {self.name} {self.version} ({len(self.rules)} rules, {self.fingerprint[:12]})>"

    # -- what the policy declares ----------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._c.name

    @property
    def version(self) -> str:
        return self._c.version

    @property
    def description(self) -> str:
        return self._c.description

    @property
    def currency(self) -> str:
        return self._c.currency

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical policy content."""
        return self._c.fingerprint

    @property
    def source(self) -> str:
        return self._c.source

    @property
    def facts(self) -> Mapping[str, Fact]:
        """Input facts a complaint may carry."""
        return self._c.facts

    @property
    def derived(self) -> tuple[Derived, ...]:
        """Derived facts in evaluation order."""
        return self._c.derived

    @property
    def all_facts(self) -> Mapping[str, Fact]:
        """Input and derived facts."""
        return self._c.all_facts

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Rules in written order."""
        return self._c.rules

    @property
    def gestures(self) -> Mapping[str, Catalog]:
        return self._c.gestures

    @property
    def actions(self) -> Mapping[str, Catalog]:
        return self._c.actions

    @property
    def compiled(self) -> CompiledPolicy:
        return self._c

    # -- deciding --------------------------------------------------------------------------------
    def facts_of(self, complaint: object) -> tuple[dict[str, FactValue], dict[str, Any]]:
        """Read and check a complaint, then add derived facts. Raises ``ComplaintError``."""
        values, envelope = read_complaint(complaint, self._c.facts, self._derived_facts)
        for derived in self._c.derived:
            for condition, value in derived.rows:
                if condition.holds(values):
                    values[derived.fact.name] = value
                    break
            else:
                values[derived.fact.name] = derived.default
        return values, envelope.__dict__

    def complaint_from_text(self, pairs: Mapping[str, str]) -> dict[str, object]:
        """Turn ``name=text`` pairs (e.g. from a command line) into complaint fields.

        Names may use dashes for underscores; unknown names pass through so that ``decide``
        reports them with a suggestion.
        """
        complaint: dict[str, object] = {}
        for raw_name, text in pairs.items():
            name = raw_name.replace("-", "_")
            fact = self._c.facts.get(name)
            complaint[name] = parse_fact_text(fact, text) if fact is not None else text
        return complaint

    def decide(self, complaint: Mapping[str, Any]) -> Decision:
        """Decide what to do for one complaint (a mapping such as parsed helpdesk JSON).

        Raises ``ComplaintError`` listing every missing, unknown or ill-typed field.
        """
        values, envelope = self.facts_of(complaint)
        trace: list[tuple[Rule, bool]] = []
        primary = self._default
        for rule in self._first:
            fired = rule.when.holds(values)
            trace.append((rule, fired))
            if fired:
                primary = rule
                break
        else:
            trace.append((primary, True))
        collected = []
        for rule in self._collect:
            fired = rule.when.holds(values)
            trace.append((rule, fired))
            if fired:
                collected.append(rule)
        return self._decision(values, envelope, primary, collected, trace)

    def _decision(self, values: dict[str, FactValue], envelope: dict[str, Any], primary: Rule,
                  collected: list[Rule], trace: list[tuple[Rule, bool]]) -> Decision:
        c = self._c
        fired = [primary, *collected]
        amount, steps = compute_budget(primary.budget, values, c.limits)
        gestures: dict[str, Gesture] = {}
        for rule in fired:
            for gesture in rule.gestures:
                gestures.setdefault(gesture.id, gesture)
        seconds = min(r.respond_within for r in fired if r.respond_within is not None)
        received = envelope["received_at"]
        action = primary.action or ""
        return Decision.model_construct(
            complaint_id=envelope["complaint_id"],
            customer_id=envelope["customer_id"],
            action=action,
            action_label=c.actions[action].label,
            rule=primary.id,
            gestures=tuple(gestures.values()),
            budget=Money.model_construct(amount=amount, currency=c.currency),
            budget_steps=steps,
            budget_summary=summarize(steps),
            respond_within=format_duration(seconds),
            respond_within_seconds=seconds,
            respond_by=None if received is None else received + timedelta(seconds=seconds),
            approval=self._approval(amount, fired),
            reasons=tuple(
                r.rationale.render(values) if r.rationale else r.description or f"rule {r.id} applies" for r in fired
            ),
            facts=values,
            trace=tuple(
                RuleTrace.model_construct(
                    rule=rule.id, hit=rule.hit, fired=ok, facts={name: values[name] for name in self._reads[rule.id]}
                )
                for rule, ok in trace
            ),
            policy=self._ref,
        )

    def _approval(self, amount: Decimal, fired: list[Rule]) -> Approval:
        ladder = self._c.ladder
        currency = self._c.currency
        level, reasons = ladder.rows[-1][1], []
        previous = None
        for up_to, row_level in ladder.rows:
            if up_to is None or amount <= up_to:
                level = row_level
                if up_to is None:
                    reasons.append(f"budget {amount} {currency} is above {previous} {currency}: {level} approves")
                else:
                    reasons.append(f"budget {amount} {currency} is within {level}'s limit of {up_to} {currency}")
                break
            previous = up_to
        for rule in fired:
            if rule.approval is not None and ladder.rank(rule.approval) > ladder.rank(level):
                level = rule.approval
                reasons.append(f"rule {rule.id} requires at least {level}")
        return Approval.model_construct(level=level, reasons=tuple(reasons))

    @overload
    def decide_many(self, complaints: Iterable[Mapping[str, Any]], *, return_exceptions: Literal[False] = ...) -> Iterator[Decision]: ...

    @overload
    def decide_many(self, complaints: Iterable[Mapping[str, Any]], *, return_exceptions: Literal[True]) -> Iterator[Decision | ComplaintError]: ...

    def decide_many(self, complaints: Iterable[Mapping[str, Any]], *, return_exceptions: bool = False) -> Iterator[Any]:
        """Decide a stream of complaints lazily, in order.

        With ``return_exceptions=True`` a bad complaint yields its ``ComplaintError`` in place and
        the batch goes on; otherwise the first bad complaint raises.
        """
        for complaint in complaints:
            if not return_exceptions:
                yield self.decide(complaint)
                continue
            try:
                yield self.decide(complaint)
            except ComplaintError as exc:
                yield exc

"""From a typed policy document to the immutable structures the evaluator runs on.

Loading pays every cost once: validation against the document models (document.py), semantic checks
(unknown facts, gestures and values, type mismatches, derived-fact cycles, budget lookups, the
default rule) and compiling conditions. All problems are collected and reported together.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from gesture_engine.complaint import describe, read_value
from gesture_engine.decision import Gesture
from gesture_engine.durations import MAX_DURATION, parse_duration
from gesture_engine.engine.budget import BudgetSpec, Limits, Lookup, band_labels
from gesture_engine.engine.conditions import ALWAYS, REFERENCE, Condition, ConditionCompiler, Relative, show
from gesture_engine.engine.facts import ENVELOPE, Fact, FactValue, did_you_mean
from gesture_engine.errors import PolicyError, Problem
from gesture_engine.load import document as written
from gesture_engine.load.source import Document, Keeper, PathKey
from gesture_engine.money import MINOR_UNITS, MONEY_LIMIT, Currencies, quantizer, round_money


@dataclass(frozen=True, slots=True)
class Catalog:
    """An action or gesture the policy declares."""

    id: str
    label: str
    description: str = ""
    monetary: bool = False


@dataclass(frozen=True, slots=True)
class Derived:
    """A derived fact: first matching row of its table, else its default. A level or enum fact's values
    are names; a money, integer, number or duration fact's are in its type (Decimal, int, Decimal, timedelta)."""

    fact: Fact
    rows: tuple[tuple[Condition, FactValue], ...]
    default: FactValue

    @property
    def values(self) -> tuple[FactValue, ...]:
        """Every value the fact can take: its declared values, or its table's values and default."""
        if self.fact.finite:
            return self.fact.values
        return tuple(sorted({*(value for _, value in self.rows), self.default}))


@dataclass(frozen=True, slots=True)
class Template:
    """A rationale sentence with ``{fact}`` placeholders, filled in safely (no format mini-language)."""

    parts: tuple[tuple[bool, str], ...]  # (is_fact, text or fact name)
    pattern: str | None = None
    """The same sentence for printf-style ``%`` with the quoted facts' values in order (``%%`` for
    ``%``, ``%s``, or ``%g`` for a number, as ``show`` writes them), filled in by C; None when a quoted
    fact is boolean (``show`` writes true/false)."""

    @property
    def static(self) -> bool:
        """True when no fact is interpolated: the sentence is the same for every complaint."""
        return not any(is_fact for is_fact, _ in self.parts)

    @property
    def quoted(self) -> tuple[str, ...]:
        """The facts the sentence quotes, in order (repeats included)."""
        return tuple(text for is_fact, text in self.parts if is_fact)

    def render(self, facts: Mapping[str, FactValue]) -> str:
        if self.pattern is not None:  # a str subclass (a (str, Enum) member) is quoted as its value, as show() does
            return self.pattern % tuple([str.__str__(v) if isinstance(v, str) else v for v in map(facts.__getitem__, self.quoted)])
        return "".join([show(facts[text]) if is_fact else text for is_fact, text in self.parts])


def printf_pattern(parts: Sequence[tuple[bool, str]], facts: Mapping[str, Fact]) -> str | None:
    """A ``Template.pattern`` for ``parts``."""
    pattern = []
    for is_fact, text in parts:
        if not is_fact:
            pattern.append(text.replace("%", "%%"))
        elif facts[text].type == "boolean" or not (facts[text].numeric or facts[text].type in ("level", "enum", "string")):
            return None  # show() writes it: true/false, 2h30m, 2026-11-23T09:30:00Z, [vip, press]
        else:
            pattern.append("%s")
    return "".join(pattern)


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule. ``hit`` is ``first`` (first-match), ``collect`` (add-on) or ``default``."""

    id: str
    index: int
    hit: str
    description: str
    when: Condition
    action: str | None
    gestures: tuple[Gesture, ...]
    budget: BudgetSpec | None
    respond_within: int | None
    approval: str | None
    rationale: Template | None
    file: str
    line: int
    owed: tuple[OwedSpec, ...] = ()
    rationales: Mapping[str, Template] = field(default_factory=lambda: MappingProxyType({}))
    """The rationale by language (the policy's ``locale`` among them) when given per language."""


@dataclass(frozen=True, slots=True)
class OwedSpec:
    """An amount a gesture owes: ``amount`` itself, or ``amount`` percent of the money fact ``fact``."""

    gesture: str
    amount: Decimal
    fact: str | None = None


@dataclass(frozen=True, slots=True)
class TeamLimits:
    """Team budgets: a monthly limit per team (``default`` for others), and what going over does."""

    default: Decimal
    limits: Mapping[str, Decimal]
    on_exceed: str  # reduce | escalate
    escalate_to: str | None = None

    def limit(self, team: str) -> Decimal:
        return self.limits.get(team, self.default)


@dataclass(frozen=True, slots=True)
class HistorySource:
    """Where a goodwill ledger finds a history fact: in the last ``window`` seconds, the goodwill the
    customer holds (``goodwill``), the gestures given (``gestures``: each of ``gestures`` once per
    decision that gave it), or the complaints decided (``complaints``)."""

    fact: str
    kind: str  # goodwill | gestures | complaints
    window: int
    gestures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ladder:
    """Approval levels (lowest first) and the budget thresholds that require each."""

    levels: tuple[str, ...]
    rows: tuple[tuple[Decimal | None, str], ...]  # (up_to inclusive, level); last has None

    def rank(self, level: str) -> int:
        return self.levels.index(level)


@dataclass(frozen=True, slots=True)
class Invariant:
    """A promise the policy makes about itself, e.g. the budget never falls as severity rises.

    Checked by :func:`gesture_engine.tools.invariants.check_invariants`, not while deciding.
    """

    output: str  # "budget"
    fact: str
    direction: str  # "increasing" or "decreasing"
    description: str
    file: str
    line: int

    def describe(self) -> str:
        return f"{self.output} is monotone {self.direction} in {self.fact}"


ORDERED_TYPES = ("level", "money", "integer", "number", "duration", "date", "datetime")
"""Fact types an invariant can range over: they have an order (levels lowest first)."""


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """Everything the evaluator needs, validated and immutable."""

    name: str
    version: str
    description: str
    currency: str
    fingerprint: str
    source: str
    facts: Mapping[str, Fact]
    derived: tuple[Derived, ...]
    all_facts: Mapping[str, Fact]
    actions: Mapping[str, Catalog]
    gestures: Mapping[str, Catalog]
    rules: tuple[Rule, ...]
    limits: Limits
    ladder: Ladder
    invariants: tuple[Invariant, ...] = ()
    reads_received_at: bool = False
    """True when a condition measures from ``received_at`` (``within: 30d, of: received_at``)."""
    goodwill_window_days: int | None = None
    """``goodwill.window_days``: the window a goodwill ledger sums the customer's goodwill over."""
    reservation_ttl: int | None = None
    """``goodwill.reservation_ttl`` in seconds: how long a ledger reservation holds its budget."""
    locale: str = "en"
    """The policy's language: of one-sentence rationales, and the fallback for rationales by language."""
    teams: TeamLimits | None = None
    """Team budgets, enforced when deciding through a goodwill ledger."""
    history: Mapping[str, HistorySource] = field(default_factory=lambda: MappingProxyType({}))
    """History facts by name: what a goodwill ledger fills them with (``goodwill.window_days`` is one for the goodwill fact)."""


def _window_days(policy: written.PolicyDocument, history: Mapping[str, HistorySource]) -> int | None:
    """The goodwill window in whole days (what ``Ledger.held`` and the service's goodwill view sum over), if it is whole days."""
    source = history.get(policy.goodwill.fact) if policy.goodwill is not None else None
    return source.window // 86400 if source is not None and source.window % 86400 == 0 else None


def fingerprint(data: Any) -> str:
    """sha256 of the canonical JSON of the policy content: comments, key order and layout don't count."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class _Compiler:
    def __init__(self, document: Document) -> None:
        self.doc = document
        self.problems: list[Problem] = []
        self.broken: tuple[PathKey, ...] = ()
        self.shared_gestures: dict[str, Gesture] = {}
        self.keep = Keeper()
        self.lookups: dict[Any, Lookup] = {}  # by how they are written (``_written``)
        self.respond_within: int | None = None  # the policy-wide default deadline, in seconds
        self.locale = "en"  # the policy's language
        self.currencies: Currencies | None = None  # the policy's currency and exchange rates, given to its money facts

    # -- helpers -------------------------------------------------------------------------------
    def fail(self, path: PathKey, message: str, code: str) -> None:
        self.problems.append(self.doc.problem(path, message, code))

    def clean(self, path: PathKey) -> bool:
        """True when validation found nothing wrong at or below ``path``."""
        size = len(path)
        return not any(bad[:size] == path for bad in self.broken)

    def duration(self, text: str, path: PathKey) -> int | None:
        """Seconds in a deadline, bounded (``MAX_DURATION``) so that no respond_by or seconds can overflow."""
        seconds = parse_duration(text)
        if seconds is None:
            self.fail(path, f"{describe(text)} is not a positive duration like 30m, 2h or 1d (at most {MAX_DURATION}, 10 years)", "duration")
        return seconds

    # -- sections ------------------------------------------------------------------------------
    def run(self) -> CompiledPolicy:
        checked = written.check_document(self.doc)
        self.problems.extend(checked.problems)
        self.broken = checked.broken
        policy = checked.policy
        if policy is None:
            raise PolicyError(self.problems)  # later checks build on the broken sections; validation said what is wrong
        currency = policy.currency
        if currency not in MINOR_UNITS:
            self.fail(("currency",), f"unknown ISO 4217 currency {currency!r}{did_you_mean(currency, MINOR_UNITS)}", "currency")
            raise PolicyError(self.problems)
        keep = self.keep
        currency = keep(currency)
        self.currencies = Currencies(currency, quantizer(currency), self.exchange_rates(policy.exchange_rates, currency))
        facts = self.input_facts(policy.facts)
        all_facts = dict(facts)
        derived = self.derived_facts(policy.derived, all_facts)
        gestures = {keep(key): Catalog(keep(key), keep(item.label), keep(item.description), item.monetary) for key, item in policy.gestures.items()}
        actions = {keep(key): Catalog(keep(key), keep(item.label), keep(item.description)) for key, item in policy.actions.items()}
        unit = quantizer(currency)
        ladder = self.ladder(policy.approval, unit)
        self.locale = keep(policy.locale)
        self.respond_within = self.duration(policy.respond_within, ("respond_within",))
        limits = self.limits(policy, all_facts, unit)
        rules = self.rules(policy.rules, checked.positions("rules", len(policy.rules)), all_facts, gestures, actions, ladder)
        self.check_broken_rules(checked, all_facts, gestures, actions, ladder)
        invariants = self.invariants(policy, checked.positions("invariants", len(policy.invariants)), facts)
        teams = self.teams(policy.teams, ladder)
        history = self.history(policy, gestures)
        ttl = policy.goodwill.reservation_ttl if policy.goodwill else None
        reservation_ttl = self.duration(ttl, ("goodwill", "reservation_ttl")) if ttl else None
        if self.problems:
            raise PolicyError(self.problems)
        return CompiledPolicy(
            name=keep(policy.policy),
            version=keep(policy.version),
            description=keep(policy.description),
            currency=currency,
            fingerprint=fingerprint(self.doc.data),
            source=self.doc.file,
            facts=MappingProxyType(facts),
            derived=derived,
            all_facts=MappingProxyType(all_facts),
            actions=MappingProxyType(actions),
            gestures=MappingProxyType(gestures),
            rules=rules,
            limits=limits,
            ladder=ladder,
            invariants=invariants,
            reads_received_at=any(isinstance(test, Relative) and test.of == REFERENCE
                                  for condition in (*(rule.when for rule in rules), *(c for d in derived for c, _ in d.rows))
                                  for test in condition.tests()),
            goodwill_window_days=_window_days(policy, history),
            reservation_ttl=reservation_ttl,
            locale=self.locale,
            teams=teams,
            history=MappingProxyType(history),
        )

    def history(self, policy: written.PolicyDocument, gestures: Mapping[str, Catalog]) -> dict[str, HistorySource]:
        """The history facts: each input fact with a ``history`` source, and the goodwill fact of ``goodwill.window_days``."""
        sources: dict[str, HistorySource] = {}
        keep = self.keep
        for name, spec in policy.facts.items():
            if not isinstance(spec, written.NumericFact) or spec.history is None:
                continue
            path, source = ("facts", name, "history"), spec.history
            kind = source.sum or source.count
            if (source.sum is None) == (source.count is None):
                self.fail(path, "a history fact says what it is with one of sum: goodwill or count: gestures | complaints", "history")
                continue
            wanted = ("money",) if kind == "goodwill" else ("integer", "number")
            if spec.type not in wanted:
                needs = "a money fact" if kind == "goodwill" else "an integer or number fact"
                self.fail(("facts", name, "type"), f"{name} {'sums' if kind == 'goodwill' else 'counts'} {kind}: it needs {needs}, "
                          f"not {spec.type}", "type-mismatch")
            for bound in ("min", "max"):
                if getattr(spec, bound) is not None:
                    self.fail(("facts", name, bound), "the ledger fills a history fact: it takes no bound", "history")
            if source.gestures is not None and kind != "gestures":
                self.fail(path + ("gestures",), "gestures go with count: gestures", "history")
            for i, gesture in enumerate(source.gestures or ()):
                if gesture not in gestures:
                    self.fail(path + ("gestures", i), f"unknown gesture {gesture!r}{did_you_mean(gesture, gestures)}", "unknown-gesture")
            window = self.duration(source.window, path + ("window",))
            if window is None or kind is None:
                continue
            counted = tuple(source.gestures) if source.gestures is not None else tuple(gestures) if kind == "gestures" else ()
            sources[keep(name)] = HistorySource(keep(name), keep(kind), window, tuple(keep(g) for g in counted))
        goodwill = policy.goodwill
        if goodwill is not None and self.clean(("goodwill",)):
            own = sources.get(goodwill.fact)
            if own is not None and own.kind != "goodwill":
                self.fail(("facts", goodwill.fact, "history"), f"{goodwill.fact} is the goodwill fact: its history is sum: goodwill", "history")
            elif own is not None and goodwill.window_days is not None:
                self.fail(("goodwill", "window_days"), f"the history of {goodwill.fact} gives its window already: leave out window_days",
                          "history")
            elif own is None and goodwill.window_days is not None and goodwill.fact in policy.facts:
                sources[keep(goodwill.fact)] = HistorySource(keep(goodwill.fact), "goodwill", goodwill.window_days * 86400)
        return sources

    def teams(self, spec: written.Teams | None, ladder: Ladder) -> TeamLimits | None:
        if spec is None:
            return None
        if spec.on_exceed == "escalate" and spec.escalate_to is None:
            self.fail(("teams", "escalate_to"), "on_exceed: escalate needs the level that approves going over: add escalate_to", "teams")
        if spec.escalate_to is not None and spec.escalate_to not in ladder.levels:
            self.fail(("teams", "escalate_to"), f"unknown approval level {spec.escalate_to!r}{did_you_mean(spec.escalate_to, ladder.levels)}",
                      "unknown-level")
        keep = self.keep
        return TeamLimits(keep(spec.monthly_limit), MappingProxyType({keep(team): keep(limit) for team, limit in spec.limits.items()}),
                          keep(spec.on_exceed), keep(spec.escalate_to))

    def exchange_rates(self, rates: Mapping[str, Decimal], currency: str) -> Mapping[str, Decimal]:
        for code, rate in rates.items():
            path = ("exchange_rates", code)
            if code not in MINOR_UNITS:
                self.fail(path, f"unknown ISO 4217 currency {code!r}{did_you_mean(code, MINOR_UNITS)}", "currency")
            elif code == currency:
                self.fail(path, f"{code} is the policy's own currency: it needs no rate", "currency")
            elif rate <= 0:
                self.fail(path, f"an exchange rate is above 0; got {rate}", "currency")
        keep = self.keep
        return MappingProxyType({keep(code): keep(rate) for code, rate in rates.items()})

    def input_facts(self, specs: Mapping[str, written.FactSpec]) -> dict[str, Fact]:
        return {self.keep(name): self.fact(name, spec, ("facts", name)) for name, spec in specs.items()}

    def fact(self, name: str, spec: written.FactSpec | written.DerivedFact | written.ValuedDerivedFact, path: PathKey) -> Fact:
        """The fact a declaration describes; its own mistakes are reported, and it is still returned so
        that later sections don't report it as an unknown fact (the problems fail the load anyway)."""
        keep = self.keep
        kind, name = keep(spec.type), keep(name)
        if name in ENVELOPE:
            self.fail(path, f"{name!r} is reserved for the complaint envelope; choose another fact name", "reserved")
        values: tuple[str, ...] = ()
        minimum: int | Decimal | None = None
        maximum: int | Decimal | None = None
        if isinstance(spec, written.ChoiceFact | written.DerivedFact):
            values = tuple(keep(value) for value in spec.values)
        elif isinstance(spec, written.ListFact):
            values = tuple(keep(value) for value in spec.values or ())
        elif isinstance(spec, written.NumericFact):
            minimum = keep(spec.min) if spec.min is not None or kind != "money" else Decimal(0)
            maximum = keep(spec.max)
            if kind == "money" and minimum is not None and minimum < 0:
                self.fail(path + ("min",), "money is never negative; min must be ≥ 0", "fact")
            if minimum is not None and maximum is not None and minimum > maximum:
                self.fail(path + ("max",), f"max {maximum} is below min {minimum}", "fact")
            if kind == "integer":
                for key, bound in (("min", spec.min), ("max", spec.max)):
                    if bound is not None and not isinstance(bound, int):
                        self.fail(path + (key,), f"an integer fact needs a whole-number {key}", "fact")
        fact = Fact(
            name=name,
            type=kind,
            description=keep(spec.description),
            required=False if isinstance(spec, written.DerivedFact | written.ValuedDerivedFact) else spec.required,
            values=values,
            minimum=minimum,  # type: ignore[arg-type]  # an integer fact keeps integer bounds
            maximum=maximum,  # type: ignore[arg-type]
            max_length=spec.max_length if isinstance(spec, written.StringFact) else 1000,
            derived=isinstance(spec, written.DerivedFact | written.ValuedDerivedFact),
            rank=MappingProxyType({value: i for i, value in enumerate(values)}),
            currencies=self.currencies if kind == "money" else None,
        )
        if isinstance(spec, written.ValuedDerivedFact):
            return replace(fact, minimum=Decimal(0)) if kind == "money" else fact
        if isinstance(spec, written.DerivedFact):
            return fact
        if spec.required and spec.default is not None:
            self.fail(path, "a fact is either required or has a default, not both", "fact")
        elif not spec.required and spec.default is None:
            self.fail(path, "declare 'required: true' or a 'default'", "fact")
        elif spec.default is not None:
            try:
                fact = replace(fact, default=keep(read_value(fact, spec.default)))
            except ValueError as exc:
                self.fail(path + ("default",), str(exc), "fact")
        return fact

    def derived_facts(self, specs: Mapping[str, written.DerivedFact | written.ValuedDerivedFact],
                      all_facts: dict[str, Fact]) -> tuple[Derived, ...]:
        """Compile derived facts in dependency order, rejecting clashes and cycles."""
        specs = {self.keep(name): spec for name, spec in specs.items()}
        declared: dict[str, Fact] = {}
        for name, spec in specs.items():
            path = ("derived", name)
            if name in all_facts:
                self.fail(path, f"{name!r} is already an input fact", "duplicate-fact")
                continue
            fact = self.fact(name, spec, path)
            if isinstance(spec, written.DerivedFact) and spec.default not in fact.rank:
                self.fail(path + ("default",), f"{spec.default!r} is not one of {', '.join(fact.values)}", "unknown-value")
            declared[name] = fact
        # dependencies: derived facts mentioned in each table
        known = {**all_facts, **declared}
        depends: dict[str, list[str]] = {}
        for name in declared:
            uses: list[str] = []
            for row in specs[name].table:
                uses.extend(_facts_in(row.when))  # facts compared with count: they must be known first
            depends[name] = [use for use in dict.fromkeys(uses) if use in declared]
        order = self._topological(depends)
        if order is None:  # reported once; the facts still count as declared, so what reads them is not "unknown"
            all_facts.update(declared)
            return ()
        compiled: list[Derived] = []
        for name in order:
            spec, fact = specs[name], declared[name]
            compiler = ConditionCompiler(known, self.doc, self.problems, self.keep)
            rows: list[tuple[Condition, FactValue]] = []
            entries: Sequence[written.DerivedRow | written.NumericRow | written.DurationRow] = spec.table
            valued = isinstance(spec, written.ValuedDerivedFact)
            for i, entry in enumerate(entries):
                row_path: PathKey = ("derived", name, "table", i)
                condition = compiler.compile(entry.when, row_path + ("when",))
                if valued:
                    rows.append((condition, self.derived_value(fact, entry.value, row_path + ("value",))))
                    continue
                if entry.value not in fact.rank:
                    hint = did_you_mean(str(entry.value), fact.values)
                    self.fail(row_path + ("value",), f"{entry.value!r} is not one of {', '.join(fact.values)}{hint}", "unknown-value")
                rows.append((condition, self.keep(entry.value)))
            default = self.derived_value(fact, spec.default, ("derived", name, "default")) if valued else spec.default
            compiled.append(Derived(fact, tuple(rows), self.keep(default)))
            all_facts[fact.name] = fact
        return tuple(compiled)

    def derived_value(self, fact: Fact, value: Any, path: PathKey) -> FactValue:
        """A numeric or duration derived fact's value in the fact's type, checked as a complaint's value would be."""
        try:
            return self.keep(read_value(fact, value))
        except ValueError as exc:
            self.fail(path, str(exc), "type-mismatch")
            return value  # type: ignore[no-any-return]  # the problem fails the load

    def _topological(self, depends: dict[str, list[str]]) -> list[str] | None:
        order: list[str] = []
        state: dict[str, int] = {}  # 1 = visiting, 2 = done
        for name in depends:
            if not self._visit(name, [], depends, state, order):
                return None
        return order

    def _visit(self, name: str, chain: list[str], depends: dict[str, list[str]], state: dict[str, int], order: list[str]) -> bool:
        """Depth-first from ``name`` (a method, not a closure calling itself: that would be a reference cycle
        holding the compiler, so the whole parsed document, until the garbage collector ran)."""
        if state.get(name) == 2:
            return True
        if state.get(name) == 1:
            cycle = chain[chain.index(name):] + [name]
            self.fail(("derived", name), "derived facts form a cycle: " + " → ".join(cycle), "cycle")
            return False
        state[name] = 1
        for dep in depends[name]:
            if not self._visit(dep, chain + [name], depends, state, order):
                return False
        state[name] = 2
        order.append(name)
        return True

    def ladder(self, spec: written.Approval, unit: Decimal) -> Ladder:
        levels = tuple(self.keep(level) for level in spec.levels)
        rows: list[tuple[Decimal | None, str]] = []
        previous: Decimal | None = None
        last = len(spec.ladder) - 1
        for i, row in enumerate(spec.ladder):
            path = ("approval", "ladder", i)
            if row.level not in levels:
                self.fail(path + ("level",), f"unknown approval level {row.level!r}{did_you_mean(row.level, levels)}", "unknown-level")
            up_to = row.up_to
            if i == last and up_to is not None:
                self.fail(path, "the last ladder row must have no 'up_to': it covers every larger amount", "ladder")
            if i < last and up_to is None:
                self.fail(path, "only the last ladder row may leave out 'up_to'", "ladder")
            if up_to is not None and previous is not None and up_to <= previous:
                self.fail(path + ("up_to",), f"up_to must increase down the ladder; {up_to} ≤ {previous}", "ladder")
            previous = up_to if up_to is not None else previous
            rows.append((None if up_to is None else round_money(up_to, unit), self.keep(row.level)))
        return Ladder(levels, tuple(rows))

    def limits(self, policy: written.PolicyDocument, facts: Mapping[str, Fact], unit: Decimal) -> Limits:
        if not (self.clean(("goodwill",)) and self.clean(("budget_cap",))):
            return Limits(unit, Decimal(0))  # already reported by validation; loading fails anyway
        goodwill = policy.goodwill
        if goodwill is None:
            return Limits(unit, self.keep(policy.budget_cap))
        name = goodwill.fact
        if name not in facts:
            self.fail(("goodwill", "fact"), f"unknown fact {name!r}{did_you_mean(name, facts)}", "unknown-fact")
        elif facts[name].type != "money":
            self.fail(("goodwill", "fact"), f"{name} is a {facts[name].type} fact; goodwill needs a money fact", "type-mismatch")
        keep = self.keep
        return Limits(unit, keep(policy.budget_cap), keep(name), keep(goodwill.window_limit), keep(goodwill.window))

    def invariants(self, policy: written.PolicyDocument, positions: Iterable[int], facts: Mapping[str, Fact]) -> tuple[Invariant, ...]:
        """``invariants:`` entries, each naming an input fact that has an order."""
        compiled: list[Invariant] = []
        for i, spec in zip(positions, policy.invariants, strict=True):
            path: PathKey = ("invariants", i)
            name = spec.in_
            fact = facts.get(name)
            if fact is None:
                derived = " (a derived fact; name the input facts it comes from)" if name in policy.derived else ""
                self.fail(path + ("in",), f"unknown input fact {name!r}{derived}{did_you_mean(name, facts)}", "unknown-fact")
                continue
            if fact.type not in ORDERED_TYPES:
                self.fail(path + ("in",), f"{name} is {fact.type}, which has no order; invariants need a level, money, integer, number, "
                                          "duration, date or datetime fact", "type-mismatch")
                continue
            where = self.doc.locate(path)
            keep = self.keep
            compiled.append(Invariant(keep(spec.monotone), keep(name), keep(spec.direction), keep(spec.description), where.file, where.line))
        return tuple(compiled)

    # -- rules ---------------------------------------------------------------------------------
    def rules(self, specs: Sequence[written.Rule], positions: Iterable[int], facts: Mapping[str, Fact],
              gestures: Mapping[str, Catalog], actions: Mapping[str, Catalog], ladder: Ladder) -> tuple[Rule, ...]:
        conditions = ConditionCompiler(facts, self.doc, self.problems, self.keep)
        seen: dict[str, int] = {}
        compiled: list[Rule] = []
        defaults: list[int] = []
        for i, spec in zip(positions, specs, strict=True):
            path: PathKey = ("rules", i)
            if spec.id in seen:
                self.fail(path + ("id",), f"duplicate rule id {spec.id!r} (first used by rules[{seen[spec.id]}])", "duplicate-rule")
            seen.setdefault(spec.id, i)
            if spec.default:
                defaults.append(i)
            rule = self.rule(i, spec, path, conditions, facts, gestures, actions, ladder)
            if rule is not None:
                compiled.append(rule)
        if not defaults and self.clean(("rules",)):
            self.fail(("rules",), "no default rule: mark one rule 'default: true' so every complaint gets a decision", "no-default")
        for extra in defaults[1:]:
            self.fail(("rules", extra, "default"), f"only one default rule is allowed (rules[{defaults[0]}] is already default)", "default")
        return tuple(compiled)

    def check_broken_rules(self, checked: written.Checked, facts: Mapping[str, Fact], gestures: Mapping[str, Catalog],
                           actions: Mapping[str, Catalog], ladder: Ladder) -> None:
        """Every problem at once: a rule that failed validation in one part (say its ``when``) still has
        its other parts checked, so a bad condition does not hide an unknown action beside it."""
        raw_rules = self.doc.data.get("rules") if isinstance(self.doc.data, Mapping) else None
        if checked.rule_positions is None or not isinstance(raw_rules, list):
            return
        kept = set(checked.rule_positions)
        conditions = ConditionCompiler(facts, self.doc, self.problems, self.keep)
        for i, raw in enumerate(raw_rules):
            if i in kept or not isinstance(raw, Mapping):
                continue
            path: PathKey = ("rules", i)
            if self.clean(path + ("when",)) and isinstance(raw.get("when"), Mapping):
                conditions.compile(raw["when"], path + ("when",))
            if not all(self.clean(path + (key,)) for key in ("then", "id", "collect", "default")):
                continue
            try:
                spec = written.Rule.model_validate({**raw, "when": None})
            except ValidationError:
                continue
            self.rule(i, spec, path, conditions, facts, gestures, actions, ladder)

    def rule(self, index: int, spec: written.Rule, path: PathKey, conditions: ConditionCompiler,
             facts: Mapping[str, Fact], gestures: Mapping[str, Catalog], actions: Mapping[str, Catalog],
             ladder: Ladder) -> Rule | None:
        before = len(self.problems)
        then = spec.then
        hit = "default" if spec.default else "collect" if spec.collect else "first"
        if spec.default and spec.collect:
            self.fail(path, "a rule cannot be both default and collect", "rule")
        if spec.default and spec.when is not None:
            self.fail(path + ("when",), "the default rule answers when nothing else does; remove its 'when'", "rule")
        if hit == "collect":
            for key, value in (("action", then.action), ("budget", then.budget)):
                if value is not None:
                    self.fail(path + ("then", key), f"a collect rule adds gestures and reasons; it cannot set '{key}'", "rule")
        elif then.action is None:
            self.fail(path + ("then",), f"{'the default' if spec.default else 'a first-hit'} rule must set 'action'", "rule")
        when = conditions.compile(spec.when, path + ("when",)) if spec.when is not None else ALWAYS
        keep = self.keep
        action = keep(then.action)
        if action is not None and action not in actions:
            self.fail(path + ("then", "action"), f"unknown action {action!r}{did_you_mean(action, actions)}", "unknown-action")
        chosen: list[Gesture] = []
        for j, gid in enumerate(then.gestures):
            if gid not in gestures:
                self.fail(path + ("then", "gestures", j), f"unknown gesture {gid!r}{did_you_mean(gid, gestures)}", "unknown-gesture")
                continue
            chosen.append(self.gesture(gestures[gid]))
        approval = keep(then.approval)
        if approval is not None and approval not in ladder.levels:
            self.fail(path + ("then", "approval"), f"unknown approval level {approval!r}{did_you_mean(approval, ladder.levels)}", "unknown-level")
        within = then.respond_within
        seconds = self.duration(within, path + ("then", "respond_within")) if within is not None else None
        if within is None and hit != "collect":
            seconds = self.respond_within  # the policy's default deadline
        budget = self.budget(then.budget, path + ("then", "budget"), facts) if then.budget is not None else None
        owed = [self.owed(gesture, spec, path + ("then", "owed", gesture), facts, then.gestures) for gesture, spec in then.owed.items()]
        rationale, rationales = self.rationale(then.rationale, path + ("then", "rationale"), facts)
        if len(self.problems) > before:
            return None
        where = self.doc.locate(path)
        return Rule(
            id=keep(spec.id), index=index, hit=hit, description=keep(spec.description), when=when,
            action=action, gestures=tuple(chosen), budget=budget, respond_within=seconds, approval=approval,
            rationale=rationale, file=where.file, line=where.line, owed=tuple(o for o in owed if o is not None), rationales=rationales,
        )

    def gesture(self, catalog: Catalog) -> Gesture:
        """The decision's view of a catalog gesture, made once and shared by every rule naming it."""
        made = self.shared_gestures.get(catalog.id)
        if made is None:
            made = self.shared_gestures[catalog.id] = Gesture(id=catalog.id, label=catalog.label, monetary=catalog.monetary)
        return made

    def lookup(self, spec: written.Lookup, path: PathKey, facts: Mapping[str, Fact]) -> Lookup | None:
        """The lookup ``spec`` describes: one object for lookups written alike (by the text of their amounts:
        2 and 2.0 are written apart in the steps), checked once."""
        written_as = _written(spec)
        found = self.lookups.get(written_as)
        if found is None:
            found = self.new_lookup(spec, path, facts)
            if found is not None:
                self.lookups[written_as] = found
        return found

    def new_lookup(self, spec: written.Lookup, path: PathKey, facts: Mapping[str, Fact]) -> Lookup | None:
        name = spec.by
        fact = facts.get(name)
        if fact is None:
            self.fail(path + ("by",), f"unknown fact {name!r}{did_you_mean(name, facts)}", "unknown-fact")
            return None
        if (spec.values is None) == (spec.ranges is None):
            self.fail(path, "a lookup has 'values' (by a level, enum or boolean fact) or 'ranges' (by a number), one of them", "lookup")
            return None
        if spec.ranges is not None:
            return self.bands(spec, spec.ranges, path, fact)
        assert spec.values is not None
        if fact.type == "boolean":
            choices: dict[str, Any] = {"true": True, "false": False}
            known: tuple[Any, ...] = (False, True)
        elif fact.finite:
            choices, known = {value: value for value in fact.values}, fact.values
        else:
            self.fail(path + ("by",), f"'values' lookups need a level, enum or boolean fact; {name} is {fact.type} (use 'ranges')",
                      "type-mismatch")
            return None
        values: dict[Any, Decimal] = {}
        for key, amount in spec.values.items():
            if key not in choices:
                self.fail(path + ("values", key), f"{key!r} is not a value of {name}{did_you_mean(key, [show(v) for v in known])}", "unknown-value")
                continue
            values[choices[key]] = amount
        missing = [v for v in known if v not in values]
        if missing and spec.default is None:
            self.fail(path + ("values",), f"no amount for {name} {', '.join(show(v) for v in missing)}; add them or a 'default'", "lookup")
            return None
        for value in missing:
            values[value] = spec.default  # type: ignore[assignment]  # not None: checked just above
        keep = self.keep
        return Lookup(fact.name, MappingProxyType({value: keep(amount) for value, amount in values.items()}))

    def bands(self, spec: written.Lookup, ranges: Sequence[written.Band], path: PathKey, fact: Fact) -> Lookup | None:
        """A ``ranges`` lookup: bands rising from the lowest value, each up to its bound."""
        if not fact.linear:
            self.fail(path + ("by",), f"'ranges' need a money, integer, number, duration, date or datetime fact; {fact.name} is {fact.type} "
                                      "(use 'values')", "type-mismatch")
            return None
        before = len(self.problems)
        bounds: list[tuple[Any, bool]] = []
        amounts: list[Decimal] = []
        open_ended = False
        for i, band in enumerate(ranges):
            here = path + ("ranges", i)
            if band.lt is not None and band.lte is not None:
                self.fail(here, "a band is bounded by 'lt' or 'lte', not both", "lookup")
                continue
            amounts.append(band.value)
            written_bound = band.lt if band.lt is not None else band.lte
            if written_bound is None:
                if i != len(ranges) - 1:
                    self.fail(here, "only the last band may leave out 'lt'/'lte': it covers every larger value", "lookup")
                open_ended = True
                continue
            included = band.lte is not None
            bound = self.band_bound(fact, written_bound, here + ("lte" if included else "lt",))
            if bound is None:
                continue
            if bounds:
                previous, previous_included = bounds[-1]
                if bound < previous or (bound == previous and (previous_included or not included)):
                    self.fail(here + ("lte" if included else "lt",), f"bands must rise: {show(bound)} does not end above the band before", "lookup")
            bounds.append((bound, included))
        if not open_ended:
            if spec.default is None:
                self.fail(path + ("ranges",), "values above the last band get no amount: end with a band without 'lt'/'lte', or add a 'default'",
                          "lookup")
            else:
                amounts.append(spec.default)
        elif spec.default is not None:
            self.fail(path + ("default",), "the last band has no bound, so 'default' would never be used", "lookup")
        if len(self.problems) > before:
            return None
        keep = self.keep
        labels = band_labels(bounds, open_ended)
        return Lookup(fact.name, MappingProxyType({label: keep(amount) for label, amount in zip(labels, amounts, strict=True)}),
                      tuple((keep(bound), included) for bound, included in bounds))

    def band_bound(self, fact: Fact, written_bound: Any, path: PathKey) -> Any:
        """A band's bound in the fact's own terms: a number, a duration, a date or a datetime."""
        if fact.numeric and not isinstance(written_bound, str):
            return Decimal(written_bound)
        if fact.type in ("duration", "date", "datetime") and isinstance(written_bound, str):
            try:
                return read_value(fact, written_bound)
            except ValueError:
                pass
        self.fail(path, f"{written_bound!r} is not {fact.expected()}, as a bound of {fact.name} must be", "type-mismatch")
        return None

    def budget(self, spec: Decimal | written.BudgetFormula, path: PathKey, facts: Mapping[str, Fact]) -> BudgetSpec | None:
        keep = self.keep
        if isinstance(spec, Decimal):
            return BudgetSpec(keep(spec))
        base = self.lookup(spec.base, path + ("base",), facts) if isinstance(spec.base, written.Lookup) else keep(spec.base)
        percent = None
        if spec.percent_of is not None:
            name = spec.percent_of.fact
            if name not in facts:
                self.fail(path + ("percent_of", "fact"), f"unknown fact {name!r}{did_you_mean(name, facts)}", "unknown-fact")
            elif facts[name].type != "money":
                self.fail(path + ("percent_of", "fact"), f"percent_of needs a money fact; {name} is {facts[name].type}", "type-mismatch")
            else:
                percent = (facts[name].name, keep(spec.percent_of.percent))
        multipliers = [self.lookup(m, path + ("multipliers", i), facts) for i, m in enumerate(spec.multipliers)]
        low, high = keep(spec.min), keep(spec.max)
        if low is not None and high is not None and low > high:
            self.fail(path + ("min",), f"min {low} is above max {high}", "budget")
        if base is None or any(m is None for m in multipliers):
            return None
        compiled = BudgetSpec(base, percent, tuple(m for m in multipliers if m is not None), low, high)
        reach = _reach(compiled, facts)
        if reach > BUDGET_REACH_LIMIT:
            self.fail(path, f"the budget arithmetic can reach {reach:.2E} before any cap (largest base, percentage and "
                            f"factors); keep it within {BUDGET_REACH_LIMIT:.0E}", "budget")
        return compiled

    def owed(self, gesture: str, spec: Decimal | written.OwedAmount, path: PathKey, facts: Mapping[str, Fact],
             offered: Sequence[str]) -> OwedSpec | None:
        """An amount a rule's gesture owes; the gesture must be one the rule offers."""
        if gesture not in offered:
            self.fail(path, f"owed names gesture {gesture!r}, which this rule does not offer; add it to 'gestures'", "owed")
            return None
        if isinstance(spec, Decimal):
            return OwedSpec(self.keep(gesture), self.keep(spec))
        fact = facts.get(spec.fact)
        if fact is None:
            self.fail(path + ("fact",), f"unknown fact {spec.fact!r}{did_you_mean(spec.fact, facts)}", "unknown-fact")
            return None
        if fact.type != "money":
            self.fail(path + ("fact",), f"an owed amount is a money fact's value; {spec.fact} is {fact.type}", "type-mismatch")
            return None
        return OwedSpec(self.keep(gesture), self.keep(spec.percent), fact.name)

    def rationale(self, written_rationale: str | Mapping[str, str] | None, path: PathKey,
                  facts: Mapping[str, Fact]) -> tuple[Template | None, Mapping[str, Template]]:
        """A rule's rationale in the policy's language, and by language when given per language (which
        must include the policy's own, the fallback for every other)."""
        if written_rationale is None:
            return None, _NO_RATIONALES
        if isinstance(written_rationale, str):
            return self.template(written_rationale, path, facts), _NO_RATIONALES
        by_locale = {self.keep(locale): self.template(text, path + (locale,), facts) for locale, text in written_rationale.items()}
        if self.locale not in by_locale:
            self.fail(path, f"give the rationale in the policy's language {self.locale!r} too: it is the fallback for other languages", "locale")
            return None, MappingProxyType({})
        return by_locale[self.locale], MappingProxyType(by_locale)

    def template(self, text: str, path: PathKey, facts: Mapping[str, Fact]) -> Template:
        parts: list[tuple[bool, str]] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append((False, text[position:match.start()]))
            token = match.group(0)
            if token in ("{{", "}}"):
                parts.append((False, token[0]))
            elif match.group(1) is None:
                self.fail(path, f"unmatched {token!r}; write {{{{ and }}}} for literal braces", "template")
            elif match.group(1).strip() not in facts:
                name = match.group(1).strip()
                hint = did_you_mean(name, facts)
                self.fail(path, f"{{{name}}} is not a fact of this policy{hint}; write {{{{ and }}}} for literal braces", "template")
            else:
                parts.append((True, match.group(1).strip()))
            position = match.end()
        parts.append((False, text[position:]))
        kept = tuple((is_fact, self.keep(value)) for is_fact, value in parts if is_fact or value)
        return Template(kept, printf_pattern(kept, facts))


BUDGET_REACH_LIMIT = Decimal(10) ** 24
"""Budgets are computed with 40 significant digits; a rule whose worst case exceeds this is refused."""


_NO_RATIONALES: Mapping[str, Template] = MappingProxyType({})
"""The rationales by language of a rule that has none per language (one object for every such rule)."""


def _written(spec: written.Lookup) -> tuple[Any, ...]:
    """A lookup as written, amounts by their text."""
    values = () if spec.values is None else (*spec.values, *map(str, spec.values.values()))
    bands = () if spec.ranges is None else tuple((str(band.lt), str(band.lte), str(band.value)) for band in spec.ranges)
    return (spec.by, str(spec.default), values, bands)


def _reach(spec: BudgetSpec, facts: Mapping[str, Fact]) -> Decimal:
    """The largest amount a budget's arithmetic can produce, stopping once past the limit."""
    top = max(spec.base.values.values(), default=Decimal(0)) if isinstance(spec.base, Lookup) else spec.base
    if spec.percent_of is not None:
        most = facts[spec.percent_of[0]].maximum
        top += min(MONEY_LIMIT, MONEY_LIMIT if most is None else Decimal(most)) * spec.percent_of[1] / 100
    for lookup in spec.multipliers:
        if top > BUDGET_REACH_LIMIT:
            break
        top *= max(lookup.values.values(), default=Decimal(0))
    return top


def _facts_in(condition: Any) -> list[str]:
    """Names a condition mentions (used to order derived facts before compiling them)."""
    names: list[str] = []
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("all", "any"):
                for item in value:
                    names.extend(_facts_in(item))
            elif key == "not":
                names.extend(_facts_in(value))
            else:
                names.append(key)
                if isinstance(value, dict):  # {op: {fact: other}} compares with another fact
                    names.extend(operand["fact"] for operand in value.values() if isinstance(operand, dict) and isinstance(operand.get("fact"), str))
    return names


def compile_policy(document: Document) -> CompiledPolicy:
    """Validate and compile ``document``; raise ``PolicyError`` listing every problem."""
    return _Compiler(document).run()

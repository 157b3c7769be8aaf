"""The public face of a loaded policy: ``load_policy`` and ``Policy.decide``.

Deciding reads the complaint and the compiled policy and does no I/O. The shared state it writes is
caches whose every operation is atomic and whose contents never change an answer: the outcome cache
here (a ``functools.lru_cache``, thread-safe, bounded by :data:`OUTCOME_CACHE_SIZE`) and the complaint
reader's bounded caches of complaint shapes; so one ``Policy`` can serve many threads at once.
"""

from __future__ import annotations

import gc
import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple, overload

from gesture_engine.complaint import NO_ENVELOPE, ComplaintReader, parse_fact_text, tuple_getter
from gesture_engine.decision import BudgetStep, Decision, Gesture, Owed, PolicyRef, RuleTrace, builder, new_decision
from gesture_engine.durations import format_duration
from gesture_engine.encoding import DecisionTemplate
from gesture_engine.engine.budget import BudgetPlan, BudgetSpec, Limits, StepRecord
from gesture_engine.engine.evaluation import evaluate
from gesture_engine.engine.facts import Fact, FactValue
from gesture_engine.engine.index import PolicyIndex
from gesture_engine.errors import ComplaintError
from gesture_engine.load.compiler import Catalog, CompiledPolicy, Derived, OwedSpec, Rule, TeamLimits, compile_policy
from gesture_engine.load.source import MAX_FILE_BYTES, parse_policy_text, read_policy_source
from gesture_engine.money import CONTEXT, plain, round_money, shown
from gesture_engine.resources import default_policy_path

OUTCOME_CACHE_SIZE = 4096
"""Outcomes (what a combination of fired rules decides, whatever the amounts) kept per policy, least
recently used dropped first; read when a ``Policy`` is built. 0 builds each outcome afresh."""

_new_trace = builder(RuleTrace)
_new_owed = builder(Owed)
_new_step = builder(BudgetStep)
_new_working = object.__new__


def load_policy(path: str | os.PathLike[str] | None = None, *, max_file_bytes: int = MAX_FILE_BYTES) -> Policy:
    """Load, validate and compile a policy file or directory; ``None`` loads the embedded default.

    Raises ``PolicyError`` listing every problem with its file, line and column.
    """
    source = Path(path) if path is not None else default_policy_path()
    with _collector_paused():
        return Policy(compile_policy(read_policy_source(source, max_file_bytes)))


def loads_policy(text: str, *, name: str = "<policy>", max_bytes: int = MAX_FILE_BYTES) -> Policy:
    """Load, validate and compile a policy from YAML text (one file's content), e.g. kept in a database.

    ``name`` stands for the file in locations: ``PolicyError`` problems read ``name:line:col``.
    """
    with _collector_paused():
        return Policy(compile_policy(parse_policy_text(text, name, max_bytes)))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Loading makes hundreds of thousands of objects that all live as long as the policy; letting the
    cyclic garbage collector scan them again and again while they are made doubles the load time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Policy:
    """A validated, compiled policy. Immutable and safe to share across threads."""

    __slots__ = ("_c", "_collect", "_default", "_derive", "_first", "_index", "_outcome", "_parts", "_plans", "_read", "_ref", "_thresholds")

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._c = compiled
        self._first = tuple(r for r in compiled.rules if r.hit == "first")
        self._default = next(r for r in compiled.rules if r.hit == "default")
        self._collect = tuple(r for r in compiled.rules if r.hit == "collect")
        self._ref = PolicyRef(name=compiled.name, version=compiled.version, fingerprint=compiled.fingerprint)
        # one index over every table (derived facts' rows, first-hit rules, add-ons), applied as the complaint is read
        self._index = PolicyIndex(
            [(d.fact.name, [c for c, _ in d.rows], [v for _, v in d.rows], d.default) for d in compiled.derived],
            [r.when for r in self._first], [r.when for r in self._collect], compiled.all_facts,
        )
        self._derive = self._index.derive if compiled.derived else None
        self._read = ComplaintReader(compiled.facts, {d.fact.name: d.fact for d in compiled.derived}, self._index,
                                     received=compiled.reads_received_at)
        self._plans = _BudgetPlans((*self._first, self._default), compiled.limits)
        self._parts = _RuleParts(compiled.rules)
        self._thresholds = tuple(up_to for up_to, _ in compiled.ladder.rows if up_to is not None)  # the ladder, for bisect
        size = OUTCOME_CACHE_SIZE
        self._outcome: Callable[[int], _Outcome] = lru_cache(maxsize=size)(self._new_outcome) if size else self._new_outcome

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_outcome"):
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

    def decide(self, complaint: Mapping[str, Any], *, full_trace: bool = False, team: TeamBudget | None = None) -> Decision:
        """Decide what to do for one complaint (a mapping such as parsed helpdesk JSON).

        The decision's ``trace`` lists the rules that fired and the facts each reads (their values
        are in ``facts``); with ``full_trace=True`` it lists every rule evaluated, fired or not
        (``explain`` says why). ``team``: what the complaint's team has left of its budget this
        period (a goodwill ledger fills it in); with the policy's ``teams`` section, a budget over it
        is cut to it or escalated, as a step of the arithmetic.
        Raises ``ComplaintError`` listing every missing, unknown or ill-typed field.
        """
        facts, envelope, mask = self._read.read(complaint)  # the decision's own FrozenFacts
        if self._derive:
            mask = self._derive(facts, mask)
        outcome = self._outcome(self._index.fired_key(facts, mask))
        amount = outcome.plan.amount_of(facts)
        over = None
        if team is not None and self._c.teams is not None and amount > team.left:
            over = _TeamOver(team, amount, self._c.teams)
            if over.reduces:
                amount = over.amount
        thresholds = self._thresholds
        row = bisect_left(thresholds, amount) if thresholds else 0
        fields = outcome.fields.copy()  # what the fired rules decide whatever the amounts; then what this complaint adds
        fields["facts"] = facts
        locale = None
        if envelope is not NO_ENVELOPE:  # a complaint without ids, time or language leaves those fields as they are
            fields["complaint_id"], fields["customer_id"] = envelope.complaint_id, envelope.customer_id
            received = envelope.received_at
            if received is not None:
                fields["received_at"], fields["respond_by"] = received, received + timedelta(seconds=outcome.seconds)
            wanted = envelope.locale
            if wanted is not None:
                locale = self._language(wanted, outcome)
                if locale is not None:
                    fields["locale"] = locale
        if not amount and outcome.monetary:
            fields["gestures"] = outcome.unpaid
        if outcome.owed:
            fields["owed"] = outcome.owed_for(facts)
        if full_trace:
            fields["trace"] = self._full_trace(facts)
        # the record behind the texts, its fields set in line: a Python __init__ would cost a fifth of the rest
        why = _new_working(_Working)
        why.outcome, why.facts, why.amount, why.row, why.locale, why.over = outcome, facts, amount, row, locale, over
        why.level = level = outcome.levels[row] if over is None else over.level(outcome, row)  # who approves
        why._written = why._steps = why._quoted_facts = None  # the texts, written when first read
        # one record behind the texts of the decision, its budget and its approval, in the one private dict
        # they share: the encoder's sign that they are as decide made them
        return new_decision(fields, amount, outcome.currency, level, {"_why": why})

    def decide_json_bytes(self, complaint: Mapping[str, Any]) -> bytes:
        """``decide(complaint)`` as UTF-8 JSON, byte for byte ``decide(complaint).model_dump_json()``: what
        batches write, through the one encoder (:mod:`gesture_engine.encoding`), which needs no check
        that the decision is as ``decide`` made it."""
        decision = self.decide(complaint)
        why: _Working = decision.__pydantic_private__["_why"]  # type: ignore[index]
        return why.template().encode(decision.__dict__, why)

    @staticmethod
    def _language(wanted: str, outcome: _Outcome) -> str | None:
        """The language to write ``outcome``'s reasons in for a complaint that asks for ``wanted``
        (``fr-ca``): itself, else its language (``fr``), when the fired rules give rationales in it;
        None for the policy's own language."""
        if wanted in outcome.localized:
            return wanted
        language = wanted.partition("-")[0]
        return language if language in outcome.localized else None

    def decide_json(self, complaint: Mapping[str, Any]) -> str:
        """``decide(complaint).model_dump_json()``: the decision through :mod:`gesture_engine.encoding`,
        the one encoder that batches and the decision log use too."""
        return self.decide_json_bytes(complaint).decode()

    def _full_trace(self, facts: Mapping[str, FactValue]) -> tuple[RuleTrace, ...]:
        """Every rule evaluated, read off the evaluator's trace: first-hit rules up to the one that fired
        (all of them and the default when none did), then every add-on. tests/test_evaluation.py holds
        the evaluator and the index (which chose the decision's rule) to the same rules."""
        trace = evaluate(self._c, facts)
        entries = [_trace(entry.rule, entry.check.held) for entry in trace.first]
        if trace.default is not None:
            entries.append(_trace(trace.default, True))
        entries.extend(_trace(entry.rule, entry.check.held) for entry in trace.add_ons)
        return tuple(entries)

    def _new_outcome(self, key: int) -> _Outcome:
        """What the rules that fired (as the index's key of them) decide, whatever the amounts."""
        position, holding = self._index.fired(key)
        primary = self._default if position is None else self._first[position]
        collected = tuple(rule for i, rule in enumerate(self._collect) if holding >> i & 1)
        return _Outcome(self._c, (primary, *collected), self._plans[primary.index], self._parts, self._ref)

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

    # -- explaining (gesture_engine/explain.py) --------------------------------------------------
    def explain(self, complaint: Mapping[str, Any]) -> Explanation:
        """Why ``decide(complaint)`` answers as it does: facts, table rows, every rule, budget, approval.

        Raises ``ComplaintError`` exactly as ``decide`` does.
        """
        return _explain(self, complaint)


from gesture_engine.tools.explain import Explanation  # noqa: E402  (after Policy: explain.py needs Policy only for typing)
from gesture_engine.tools.explain import explain as _explain  # noqa: E402


class _Outcome:
    """What a combination of fired rules decides regardless of the amounts: action, gestures, deadline,
    the trace, the budget plan, and the approval level for each row of the ladder (raised to any level
    a fired rule demands)."""

    __slots__ = ("action", "action_label", "approvals", "currency", "fields", "fired", "gestures", "ladder", "levels", "localized", "monetary",
                 "owed", "plan", "raised", "reasons", "respond_within", "rule", "rule_ids", "seconds", "sentences", "template", "trace", "unpaid")

    def __init__(self, compiled: CompiledPolicy, fired: tuple[Rule, ...], plan: BudgetPlan, parts: _RuleParts, policy: PolicyRef) -> None:
        primary = fired[0]
        made = [parts[rule.index] for rule in fired]
        self.fired = fired
        self.rule = primary.id
        self.rule_ids = tuple(rule.id for rule in fired)
        self.action = primary.action or ""
        self.action_label = compiled.actions[self.action].label
        gestures: dict[str, Gesture] = {}
        for rule in fired:
            for gesture in rule.gestures:
                gestures.setdefault(gesture.id, gesture)
        self.gestures = tuple(gestures.values())
        # with nothing to spend, a decision offers no monetary gesture (its reasons say why)
        self.monetary = tuple(g for g in self.gestures if g.monetary)
        self.unpaid = tuple(g for g in self.gestures if not g.monetary)
        self.seconds, self.respond_within = min(part.deadline for part in made if part.deadline is not None)
        self.trace = tuple(part.trace for part in made)
        self.reasons = tuple(part.reason for part in made)
        locales = {tag for rule in fired for tag in rule.rationales}
        self.localized = {tag: tuple(part.localized.get(tag, part.reason) for part in made) for tag in locales}
        # the reasons that are sentences already, in any language: a decision with a budget gives them as they are
        self.sentences = {reasons for reasons in (self.reasons, *self.localized.values()) if all(r.__class__ is str for r in reasons)}
        self.plan = plan
        self.template: DecisionTemplate | None = None  # its fields as JSON, when a decision of it is first encoded
        self.currency = compiled.currency
        owed: dict[str, OwedSpec] = {}
        for rule in fired:
            for spec in rule.owed:
                owed.setdefault(spec.gesture, spec)
        self.owed = tuple(owed.values())
        self.ladder = ladder = compiled.ladder
        demands = [(ladder.rank(rule.approval), rule.approval, rule.id) for rule in fired if rule.approval is not None]
        levels: list[str] = []
        raised_by_row: list[tuple[tuple[str, str], ...]] = []
        for _, level in ladder.rows:
            rank = ladder.rank(level)
            raised: tuple[tuple[str, str], ...] = ()
            for demanded, demanded_level, rule_id in demands:
                if demanded > rank:
                    rank, level, raised = demanded, demanded_level, (*raised, (rule_id, demanded_level))
            levels.append(level)
            raised_by_row.append(raised)
        self.levels = tuple(levels)
        self.raised = tuple(raised_by_row)
        # each ladder row's approval reasons, but for the budget's amount that starts the first
        currency, rows = compiled.currency, ladder.rows
        self.approvals = tuple(
            (f" {currency}: {level} approves every budget (the ladder has one row)" if len(rows) == 1 else
             f" {currency} is above {rows[row - 1][0]} {currency}: {level} approves" if up_to is None else
             f" {currency} is within {level}'s limit of {up_to} {currency}",
             tuple(f"rule {rule} requires at least {level}" for rule, level in raised))
            for row, ((up_to, level), raised) in enumerate(zip(rows, self.raised, strict=True)))
        # a decision's fields in the model's order, as far as these rules decide them: ``decide`` copies
        # this and fills in the complaint's (ids, facts, budget, approval, and any field that differs)
        self.fields: dict[str, Any] = {
            "complaint_id": None, "customer_id": None, "received_at": None, "locale": compiled.locale, "action": self.action,
            "action_label": self.action_label, "rule": self.rule, "gestures": self.gestures, "budget": None, "owed": (),
            "respond_within": self.respond_within, "respond_within_seconds": self.seconds, "respond_by": None, "approval": None,
            "policy": policy, "facts": None, "trace": self.trace,
        }


    def owed_for(self, facts: Mapping[str, FactValue]) -> tuple[Owed, ...]:
        """What the fired rules' gestures owe for ``facts``: each a fixed sum, or a share of a money fact."""
        unit, currency, owed = self.plan.unit, self.currency, []
        for spec in self.owed:
            if spec.fact is None:
                amount = round_money(spec.amount, unit)
                text = f"fixed {amount}"
            else:
                value = facts[spec.fact]
                amount = round_money(CONTEXT.multiply(value, spec.amount.scaleb(-2)), unit)  # type: ignore[arg-type]  # money: Decimal
                text = f"{spec.fact} {shown(value)}" if spec.amount == 100 else f"{plain(spec.amount)}% of {spec.fact} {shown(value)} = {amount}"  # type: ignore[arg-type]
            owed.append(_new_owed({"gesture": spec.gesture, "amount": amount, "currency": currency, "text": text}, None))
        return tuple(owed)


class _Part(NamedTuple):
    """What one rule adds to every outcome it fires in, made once: its trace entry, its reason (and by
    language), and its deadline as seconds and text."""

    trace: RuleTrace
    reason: str | Callable[[Mapping[str, FactValue]], str]
    localized: Mapping[str, str | Callable[[Mapping[str, FactValue]], str]]
    deadline: tuple[int, str] | None


class _RuleParts(dict[int, _Part]):
    """Each rule's :class:`_Part` by rule index, made the first time the rule fires: outcomes (combinations
    of fired rules) are then put together from parts, cheaply, cache or no cache. Bounded by the rule count."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        super().__init__()
        self._rules = {rule.index: rule for rule in rules}

    def __missing__(self, index: int) -> _Part:
        rule = self._rules[index]
        within = rule.respond_within
        part = _Part(_trace(rule, True), _reason(rule), {tag: _reason(rule, tag) for tag in rule.rationales},
                     None if within is None else (within, format_duration(within)))
        self[index] = part
        return part


def _trace(rule: Rule, fired: bool) -> RuleTrace:
    return _new_trace({"rule": rule.id, "hit": rule.hit, "fired": fired, "reads": rule.when.facts_used()}, None)


class _BudgetPlans(dict[int, BudgetPlan]):
    """Each rule's compiled budget by rule index, compiled the first time the rule decides: a policy of
    10,000 rules would spend half a second at load on plans most complaints never reach. Rules with
    equal budgets share one plan. Bounded by the rule count; two threads may compile one plan at once,
    and both get equal plans."""

    def __init__(self, rules: Iterable[Rule], limits: Limits) -> None:
        super().__init__()
        self._rules = {rule.index: rule for rule in rules}
        self._limits = limits
        self._shared: dict[Any, BudgetPlan] = {}

    def __missing__(self, index: int) -> BudgetPlan:
        spec = self._rules[index].budget
        key = _spec_key(spec)
        plan = self._shared.get(key)
        if plan is None:
            plan = self._shared[key] = BudgetPlan(spec, self._limits)
        self[index] = plan
        return plan


def _spec_key(spec: BudgetSpec | None) -> Any:
    """What makes two budgets the same arithmetic (a ``BudgetSpec`` holds mappings, so it has no hash)."""
    if spec is None:
        return None
    lookups = [(m.fact, tuple(m.values.items()), m.bounds) for m in spec.multipliers]
    base = spec.base if isinstance(spec.base, Decimal) else (spec.base.fact, tuple(spec.base.values.items()), spec.base.bounds)
    # Decimal('5') and Decimal('5.0') are equal but are written differently in the steps: key by text
    return repr((base, spec.percent_of, lookups, spec.minimum, spec.maximum))


_PLAIN_TYPES = frozenset((str, int, float, bool, Decimal))
"""Classes of fact values that need no look: anything else is looked at once, when a text is written."""


class _Working:
    """One decision's record behind its texts (``decision.Working``): the rules that fired (as their
    outcome), the facts, the budget, the ladder row it fell in and who approves. ``Policy.decide`` makes
    one of these per decision and sets its fields itself (no ``__init__``); no text is written until
    one is read, and each is kept once written."""

    __slots__ = ("_quoted_facts", "_steps", "_written", "amount", "facts", "level", "locale", "outcome", "over", "row")
    outcome: _Outcome
    facts: Mapping[str, FactValue]
    amount: Decimal
    row: int
    locale: str | None
    """A language some fired rule's rationale is given in; None: the policy's own."""
    over: _TeamOver | None
    """The team's budget, when the budget went over it."""
    level: str
    _written: tuple[tuple[StepRecord, ...], str] | None
    _steps: tuple[BudgetStep, ...] | None
    _quoted_facts: Mapping[str, FactValue] | None

    def __deepcopy__(self, memo: dict[int, Any]) -> _Working:
        return self  # a deep copy of a decision shares its record, which only ever gains the texts written from it

    def _quoted(self) -> Mapping[str, FactValue]:
        """The facts as texts quote them. A caller may send a level as a str subclass (a ``(str, Enum)``
        member): it is that string, so texts show its value ("high"), not its ``str()`` ("S.high").
        Checked when the first text is written, never while deciding."""
        quoted = self._quoted_facts
        if quoted is None:
            facts = self.facts
            if not _PLAIN_TYPES.issuperset(map(type, facts.values())) and any(
                    issubclass(kind, str) for kind in set(map(type, facts.values())) - _PLAIN_TYPES):
                facts = {name: str.__str__(value) if isinstance(value, str) else value for name, value in facts.items()}
            quoted = self._quoted_facts = facts
        return quoted

    def template(self) -> DecisionTemplate:
        """The outcome's fields as JSON, made the first time one of its decisions is encoded."""
        outcome = self.outcome
        made = outcome.template
        if made is None:  # two threads may both make it: the same bytes
            made = outcome.template = DecisionTemplate(outcome.fields)
        return made

    def budget_written(self) -> tuple[tuple[StepRecord, ...], str]:
        written = self._written
        if written is None:  # two threads may both write it: the same text
            steps, summary = self.outcome.plan.write(self._quoted())
            if self.over is not None and self.over.reduces:
                text = self.over.text()
                steps, summary = (*steps, ("team", text, self.amount)), f"{summary}; {text}"
            written = self._written = steps, summary
        return written

    def budget_steps(self) -> tuple[BudgetStep, ...]:
        steps = self._steps
        if steps is None:
            steps = self._steps = tuple(_new_step({"kind": kind, "text": text, "amount": amount}, None)
                                        for kind, text, amount in self.budget_written()[0])
        return steps

    def budget_summary(self) -> str:
        return self.budget_written()[1]

    def approval_reasons(self) -> tuple[str, ...]:
        after_amount, raised = self.outcome.approvals[self.row]
        reasons = (f"budget {self.amount}{after_amount}", *raised)
        if self.over is not None and not self.over.reduces:
            reasons = (*reasons, self.over.text())
        return reasons

    def reasons(self) -> tuple[str, ...]:
        outcome = self.outcome
        made_in = outcome.reasons if self.locale is None else outcome.localized[self.locale]
        paid = self.amount or not outcome.monetary
        if paid and made_in in outcome.sentences:  # every reason a sentence of its own (they quote no fact)
            return made_in  # type: ignore[return-value]
        facts = self._quoted()
        reasons = [made if made.__class__ is str else made(facts) for made in made_in]  # type: ignore[operator]
        if not paid:
            labels = ", ".join(gesture.label for gesture in outcome.monetary)
            why = self.over.text() if self.over is not None and self.over.reduces else outcome.plan.why_nothing(facts)
            reasons.append(f"{why}: {labels} not offered")
        return tuple(reasons)


@dataclass(frozen=True)
class TeamBudget:
    """What a team may still give in the current period, for :meth:`Policy.decide` (a goodwill ledger
    works it out from what the team holds): ``left`` is the team's limit minus that, and may be ≤ 0."""

    team: str
    limit: Decimal
    left: Decimal
    period: str
    """The period, as the reasons name it (``2026-12``)."""


class _TeamOver:
    """A budget above what its team has left: cut to it (``on_exceed: reduce``) or escalated."""

    __slots__ = ("amount", "asked", "budget", "limits")

    def __init__(self, budget: TeamBudget, asked: Decimal, limits: TeamLimits) -> None:
        self.budget, self.asked, self.limits = budget, asked, limits
        left = budget.left if budget.left > 0 else Decimal(0)
        self.amount = left.quantize(asked, rounding=ROUND_FLOOR)  # to the cent, never above what is left

    @property
    def reduces(self) -> bool:
        return self.limits.on_exceed == "reduce"

    def level(self, outcome: _Outcome, row: int) -> str:
        """The approval level: the ladder's (and the rules'), raised to ``escalate_to`` when escalating."""
        level, to = outcome.levels[row], self.limits.escalate_to
        if self.reduces or to is None or outcome.ladder.rank(to) <= outcome.ladder.rank(level):
            return level
        return to

    def text(self) -> str:
        b = self.budget
        has = f"team {b.team} has {max(b.left, Decimal(0))} left of {b.limit} in {b.period}"
        if self.reduces:
            return f"reduced to {self.amount} ({has})"
        return f"{has}: {self.limits.escalate_to} approves going over"


def _reason(rule: Rule, locale: str | None = None) -> str | Callable[[Mapping[str, FactValue]], str]:
    """Why ``rule`` fired (in ``locale`` when its rationale is given in it): a sentence, or a function of
    the facts when its rationale quotes any."""
    template = rule.rationale if locale is None else rule.rationales.get(locale, rule.rationale)
    if template is None:
        return rule.description or f"rule {rule.id} applies"
    if template.static:
        return template.render({})
    if template.pattern is None:
        return template.render
    pattern, take = template.pattern, tuple_getter(template.quoted)
    return lambda facts: pattern % take(facts)

"""The public face of a loaded policy: ``load_policy`` and ``Policy.decide``.

Deciding is pure: it reads the complaint and the compiled policy, does no I/O and touches no
shared mutable state, so one ``Policy`` can serve many threads at once.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from pydantic import TypeAdapter

from .budget import compute_budget, summarize
from .compiler import Catalog, CompiledPolicy, Derived, Rule, compile_policy
from .durations import format_duration
from .errors import ComplaintError
from .facts import ComplaintReader, Envelope, Fact, FactValue, parse_fact_text
from .index import FirstHitIndex
from .loader import MAX_FILE_BYTES, read_policy_source
from .models import Approval, BudgetStep, Decision, Gesture, Money, PolicyRef, RuleTrace, builder
from .resources import default_policy_path

_V = TypeVar("_V")
_new_decision = builder(Decision)
_new_trace = builder(RuleTrace)
_new_money = builder(Money)
_new_approval = builder(Approval)
_Priced = tuple[Money, tuple[BudgetStep, ...], str, Approval, str, str]
"""Budget, steps, summary and approval, with the JSON of the first three and of the approval."""
_STEPS: TypeAdapter[tuple[BudgetStep, ...]] = TypeAdapter(tuple[BudgetStep, ...])
_GESTURES: TypeAdapter[tuple[Gesture, ...]] = TypeAdapter(tuple[Gesture, ...])
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _money_text(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # as pydantic writes Decimal: a string of its digits
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_encode_text = json.encoder.encode_basestring  # a quoted JSON string, non-ASCII kept as is (as pydantic writes it)
_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # the C encoder behind json.dumps, when compiled in
_encode_tree = None if _make_encoder is None else _make_encoder(None, _money_text, _encode_text, None, ":", ",", False, False, True)


def _dumps(value: object) -> str:
    """JSON as pydantic writes strings, ints, bools, None, Decimal and containers of them; floats are
    checked by the caller. The encoder is built once: ``json.dumps`` builds one per call."""
    if value is None:
        return "null"
    if value.__class__ is str:
        return _encode_text(value)
    if _encode_tree is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_money_text)
    return "".join(_encode_tree(value, 0))


def load_policy(path: str | os.PathLike[str] | None = None, *, max_file_bytes: int = MAX_FILE_BYTES) -> Policy:
    """Load, validate and compile a policy file or directory; ``None`` loads the embedded default.

    Raises ``PolicyError`` listing every problem with its file, line and column.
    """
    source = Path(path) if path is not None else default_policy_path()
    with _collector_paused():
        return Policy(compile_policy(read_policy_source(source, max_file_bytes)))


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

    __slots__ = ("_c", "_collect", "_default", "_derive", "_finite_reads", "_first", "_index", "_memo",
                 "_number_facts", "_quotes", "_read", "_reads", "_ref", "_ref_json")

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._c = compiled
        self._first = tuple(r for r in compiled.rules if r.hit == "first")
        self._default = next(r for r in compiled.rules if r.hit == "default")
        self._collect = tuple(r for r in compiled.rules if r.hit == "collect")
        self._reads = {r.id: r.when.facts_used() for r in compiled.rules}
        # rules whose rationale quotes only level/enum facts (finitely many sentences): the facts it quotes
        self._quotes = {
            r.index: names for r in compiled.rules if r.rationale is not None
            for names in [tuple(text for is_fact, text in r.rationale.parts if is_fact)]
            if all(compiled.all_facts[name].finite for name in names)
        }
        self._number_facts = tuple(name for name, fact in compiled.all_facts.items() if fact.type == "number")
        self._finite_reads = frozenset(
            r.index for r in compiled.rules if all(compiled.all_facts[name].finite for name in self._reads[r.id])
        )
        self._ref = PolicyRef(name=compiled.name, version=compiled.version, fingerprint=compiled.fingerprint)
        self._ref_json = self._ref.model_dump_json()
        self._read = ComplaintReader(compiled.facts, {d.fact.name: d.fact for d in compiled.derived})
        self._derive = tuple(
            (d.fact.name, FirstHitIndex([c for c, _ in d.rows], compiled.all_facts), tuple(v for _, v in d.rows), d.default)
            for d in compiled.derived
        )
        # one index over first-hit rules, then add-ons: both answered by one pass over the facts
        self._index = FirstHitIndex([r.when for r in (*self._first, *self._collect)], compiled.all_facts)
        self._memo = _Memo()

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_memo"):
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
        values, envelope = self._facts(complaint)
        return values, envelope._asdict()

    def _facts(self, complaint: object) -> tuple[dict[str, FactValue], Envelope]:
        values, envelope = self._read(complaint)
        for name, index, results, default in self._derive:
            position = index.first(values)
            values[name] = default if position is None else results[position]
        return values, envelope

    def match(self, facts: Mapping[str, FactValue]) -> tuple[Rule, tuple[Rule, ...]]:
        """The rule that chooses the action (first hit, else the default) and the add-ons that hold."""
        fired = self._outcome(facts).fired
        return fired[0], fired[1:]

    def match_plain(self, facts: Mapping[str, FactValue]) -> tuple[Rule, tuple[Rule, ...]]:
        """:meth:`match` by evaluating every condition in order: the reference the index is tested against."""
        primary = next((rule for rule in self._first if rule.when.holds(facts)), self._default)
        return primary, tuple(rule for rule in self._collect if rule.when.holds(facts))

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

    def decide(self, complaint: Mapping[str, Any], *, full_trace: bool = False) -> Decision:
        """Decide what to do for one complaint (a mapping such as parsed helpdesk JSON).

        The decision's ``trace`` lists the rules that fired with the values they matched; with
        ``full_trace=True`` it lists every rule evaluated, fired or not (``explain`` says why).
        Raises ``ComplaintError`` listing every missing, unknown or ill-typed field.
        """
        values, envelope = self._facts(complaint)
        outcome = self._outcome(values)
        fired = outcome.fired
        money, steps, summary, approval, _, _ = self._priced(outcome, values)
        trace = self._full_trace(values, fired[0]) if full_trace else tuple([self._trace(rule, values, True) for rule in fired])
        reasons = outcome.reasons
        if reasons is None:
            reasons = tuple([self._reason(rule, values) for rule in fired])
        received = envelope.received_at
        return _new_decision({
            "complaint_id": envelope.complaint_id,
            "customer_id": envelope.customer_id,
            "action": outcome.action,
            "action_label": outcome.action_label,
            "rule": fired[0].id,
            "gestures": outcome.gestures,
            "budget": money,
            "budget_steps": steps,
            "budget_summary": summary,
            "respond_within": outcome.respond_within,
            "respond_within_seconds": outcome.seconds,
            "respond_by": None if received is None else received + timedelta(seconds=outcome.seconds),
            "approval": approval,
            "reasons": reasons,
            "facts": values,
            "trace": trace,
            "policy": self._ref,
        })

    def decide_json(self, complaint: Mapping[str, Any]) -> str:
        """``decide(complaint).model_dump_json()``, byte for byte, assembled from JSON pieces cached with
        the parts they render: about twice as fast, which is what batches and replays need."""
        values, envelope = self._facts(complaint)
        outcome = self._outcome(values)
        fired = outcome.fired
        priced = self._priced(outcome, values)
        reasons = outcome.reasons
        if reasons is None:
            reasons = tuple([self._reason(rule, values) for rule in fired])
        if self._number_facts and any(values[name].__class__ is float and "e" in repr(values[name]) for name in self._number_facts):
            return self.decide(complaint).model_dump_json()  # Python and pydantic write 1e-05 differently
        facts = _dumps(values)
        received = envelope.received_at
        respond_by = "null" if received is None else _DATETIME.dump_json(received + timedelta(seconds=outcome.seconds)).decode()
        traces = ",".join([self._trace_json(rule, values) for rule in fired])
        return (
            f'{{"complaint_id":{_dumps(envelope.complaint_id)},"customer_id":{_dumps(envelope.customer_id)},'
            f'{outcome.json_head},{priced[4]},{outcome.json_within},"respond_by":{respond_by},'
            f'{priced[5]},"reasons":{_dumps(reasons)},"facts":{facts},"trace":[{traces}],"policy":{self._ref_json}}}'
        )

    def _trace(self, rule: Rule, values: Mapping[str, FactValue], fired: bool) -> RuleTrace:
        reads = self._reads[rule.id]
        if rule.index not in self._finite_reads:  # numbers rarely repeat: caching would only cost
            return _new_trace({"rule": rule.id, "hit": rule.hit, "fired": fired, "facts": {name: values[name] for name in reads}})
        key = (rule.index, fired, *[values[name] for name in reads])
        found = self._memo.traces.get(key)
        if found is None:
            entry = {"rule": rule.id, "hit": rule.hit, "fired": fired, "facts": {name: values[name] for name in reads}}
            found = self._memo.keep(self._memo.traces, key, _new_trace(entry))
        return found

    def _trace_json(self, rule: Rule, values: Mapping[str, FactValue]) -> str:
        """The JSON of ``_trace(rule, values, True)``."""
        if rule.index in self._finite_reads:  # finitely many traces: keep the JSON of each
            key = (rule.index, *[values[name] for name in self._reads[rule.id]])
            found = self._memo.trace_json.get(key)
            if found is None:
                found = self._memo.keep(self._memo.trace_json, key, self._trace(rule, values, True).model_dump_json())
            return found
        facts = _dumps({name: values[name] for name in self._reads[rule.id]})
        return f'{{"rule":{_dumps(rule.id)},"hit":"{rule.hit}","fired":true,"facts":{facts}}}'

    def _reason(self, rule: Rule, values: Mapping[str, FactValue]) -> str:
        template = rule.rationale
        if template is None:
            return rule.description or f"rule {rule.id} applies"
        names = self._quotes.get(rule.index)
        if names is None:  # it quotes a number: sentences rarely repeat
            return template.render(values)
        key = (rule.index, *[values[name] for name in names])
        found = self._memo.reasons.get(key)
        if found is None:
            found = self._memo.keep(self._memo.reasons, key, template.render(values))
        return found

    def _full_trace(self, values: Mapping[str, FactValue], primary: Rule) -> tuple[RuleTrace, ...]:
        trace = []
        for rule in self._first:
            trace.append(self._trace(rule, values, rule is primary))
            if rule is primary:
                break
        else:
            trace.append(self._trace(primary, values, True))
        trace.extend(self._trace(rule, values, rule.when.holds(values)) for rule in self._collect)
        return tuple(trace)

    # Decision parts that depend on few inputs are built once and reused: they are immutable.
    def _outcome(self, facts: Mapping[str, FactValue]) -> _Outcome:
        """Match through the indexes; the outcome of each combination of fired rules is built once."""
        position, holding = self._index.first_and_holding(facts, len(self._first))
        key = (-1 if position is None else position, holding)
        outcome = self._memo.outcomes.get(key)
        if outcome is None:
            primary = self._default if position is None else self._first[position]
            collected = tuple(rule for i, rule in enumerate(self._collect) if holding >> i & 1)
            outcome = self._memo.keep(self._memo.outcomes, key, _Outcome.of(self._c, key, primary, collected))
        return outcome

    def _priced(self, outcome: _Outcome, values: Mapping[str, FactValue]) -> _Priced:
        """Budget, its steps and summary, and the approval: reused for equal outcome and budget inputs."""
        budget = outcome.fired[0].budget
        key: Any = outcome.key
        if budget is not None:  # nothing to spend means the same parts for everyone with this outcome
            reads = budget.reads if self._c.limits.goodwill_fact is None else (*budget.reads, self._c.limits.goodwill_fact)
            # money is keyed by its text: 80 and 80.00 are equal Decimals but are written differently in the steps
            key = (key, *[str(value) if value.__class__ is Decimal else value for value in [values[name] for name in reads]])
        found = self._memo.priced.get(key)
        if found is None:
            amount, steps = compute_budget(budget, values, self._c.limits)
            money = _new_money({"amount": amount, "currency": self._c.currency})
            summary, approval = summarize(steps), self._approval(amount, outcome)
            budget_json = (f'"budget":{money.model_dump_json()},"budget_steps":{_STEPS.dump_json(steps).decode()},'
                           f'"budget_summary":{_dumps(summary)}')
            approval_json = f'"approval":{approval.model_dump_json()}'
            found = self._memo.keep(self._memo.priced, key, (money, steps, summary, approval, budget_json, approval_json))
        return found

    def _approval(self, amount: Decimal, outcome: _Outcome) -> Approval:
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
        for rule in outcome.fired:
            if rule.approval is not None and ladder.rank(rule.approval) > ladder.rank(level):
                level = rule.approval
                reasons.append(f"rule {rule.id} requires at least {level}")
        return _new_approval({"level": level, "reasons": tuple(reasons)})

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


from .explain import Explanation  # noqa: E402  (after Policy: explain.py needs Policy only for typing)
from .explain import explain as _explain  # noqa: E402


class _Outcome:
    """What a combination of fired rules decides regardless of the amounts: built once per combination."""

    __slots__ = ("action", "action_label", "fired", "gestures", "json_head", "json_within", "key", "reasons", "respond_within",
                 "seconds")

    def __init__(self, key: Any, fired: tuple[Rule, ...], action: str, action_label: str, gestures: tuple[Gesture, ...],
                 seconds: int) -> None:
        self.key = key
        self.fired = fired
        self.action = action
        self.action_label = action_label
        self.gestures = gestures
        self.seconds = seconds
        self.respond_within = format_duration(seconds)
        self.json_head = (f'"action":{_dumps(action)},"action_label":{_dumps(action_label)},"rule":{_dumps(fired[0].id)},'
                          f'"gestures":{_GESTURES.dump_json(gestures).decode()}')
        self.json_within = f'"respond_within":"{self.respond_within}","respond_within_seconds":{seconds}'
        # reasons that interpolate no facts are the same for every decision with this outcome
        static = all(rule.rationale is None or rule.rationale.static for rule in fired)
        self.reasons = tuple(rule.rationale.render({}) if rule.rationale else rule.description or f"rule {rule.id} applies"
                             for rule in fired) if static else None

    @classmethod
    def of(cls, compiled: CompiledPolicy, key: Any, primary: Rule, collected: tuple[Rule, ...]) -> _Outcome:
        fired = (primary, *collected)
        gestures: dict[str, Gesture] = {}
        for rule in fired:
            for gesture in rule.gestures:
                gestures.setdefault(gesture.id, gesture)
        seconds = min(rule.respond_within for rule in fired if rule.respond_within is not None)
        action = primary.action or ""
        return cls(key, fired, action, compiled.actions[action].label, tuple(gestures.values()), seconds)


class _Memo:
    """Bounded caches of immutable decision parts, keyed by the few values each depends on.

    Thread-safe under the GIL (single dict operations); a full cache is emptied rather than grown,
    so memory stays bounded however many decisions are made.
    """

    LIMIT = 4096
    __slots__ = ("outcomes", "priced", "reasons", "trace_json", "traces")

    def __init__(self) -> None:
        self.outcomes: dict[Any, _Outcome] = {}
        self.priced: dict[Any, _Priced] = {}
        self.traces: dict[tuple[Any, ...], RuleTrace] = {}
        self.reasons: dict[tuple[Any, ...], str] = {}
        self.trace_json: dict[tuple[Any, ...], str] = {}

    def keep(self, cache: dict[Any, _V], key: Any, value: _V) -> _V:
        if len(cache) >= self.LIMIT:
            cache.clear()
        cache[key] = value
        return value

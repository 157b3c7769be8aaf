"""The public face of a loaded policy: ``load_policy`` and ``Policy.decide``.

Deciding is pure: it reads the complaint and the compiled policy, does no I/O and touches no
shared mutable state, so one ``Policy`` can serve many threads at once.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from pydantic import TypeAdapter

from .budget import compute_budget, summarize
from .compiler import Catalog, CompiledPolicy, Derived, Rule, compile_policy
from .complaint import NO_ENVELOPE, ComplaintReader, Envelope, parse_fact_text, tuple_getter
from .durations import format_duration
from .errors import ComplaintError
from .facts import Fact, FactValue
from .index import PolicyIndex
from .loader import MAX_FILE_BYTES, read_policy_source
from .models import Approval, BudgetStep, Decision, Gesture, Money, PolicyRef, RuleTrace, builder
from .resources import default_policy_path

_V = TypeVar("_V")
_new_decision = builder(Decision)
_new_trace = builder(RuleTrace)
_new_money = builder(Money)
_new_approval = builder(Approval)
_STEPS: TypeAdapter[tuple[BudgetStep, ...]] = TypeAdapter(tuple[BudgetStep, ...])
_GESTURES: TypeAdapter[tuple[Gesture, ...]] = TypeAdapter(tuple[Gesture, ...])
_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)
_FactsPlan = str | tuple[str, tuple[Callable[[Any], str] | None, ...]]
"""How to write a decision's facts: a printf pattern for them, alone or with a converter per value."""
_NATURAL: dict[str, type] = {"money": Decimal, "integer": int}
"""The class of a money or integer fact's value, read from JSON."""


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

    __slots__ = ("_c", "_collect", "_default", "_derive", "_first", "_index", "_memo", "_number_facts", "_read",
                 "_ref", "_ref_json", "_traces")

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._c = compiled
        self._first = tuple(r for r in compiled.rules if r.hit == "first")
        self._default = next(r for r in compiled.rules if r.hit == "default")
        self._collect = tuple(r for r in compiled.rules if r.hit == "collect")
        self._number_facts = tuple(name for name, fact in compiled.all_facts.items() if fact.type == "number")
        self._traces = _Traces(compiled.rules)
        self._ref = PolicyRef(name=compiled.name, version=compiled.version, fingerprint=compiled.fingerprint)
        self._ref_json = self._ref.model_dump_json()
        # one index over every table (derived facts' rows, first-hit rules, add-ons), applied as the complaint is read
        self._index = PolicyIndex(
            [(d.fact.name, [c for c, _ in d.rows], [v for _, v in d.rows], d.default) for d in compiled.derived],
            [r.when for r in self._first], [r.when for r in self._collect], compiled.all_facts,
        )
        self._derive = self._index.derive if compiled.derived else None
        self._read = ComplaintReader(compiled.facts, {d.fact.name: d.fact for d in compiled.derived}, self._index)
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
        values, envelope, _ = self._facts(complaint)
        return values, envelope._asdict()

    def _facts(self, complaint: object) -> tuple[dict[str, FactValue], Envelope, int]:
        """Facts, derived ones included, the envelope, and the index bits the facts let through."""
        values, envelope, mask = self._read(complaint)
        if self._derive:
            mask = self._derive(values, mask)
        return values, envelope, mask

    def match(self, facts: Mapping[str, FactValue]) -> tuple[Rule, tuple[Rule, ...]]:
        """The rule that chooses the action (first hit, else the default) and the add-ons that hold,
        for facts that include the derived ones."""
        fired = self._outcome(facts, self._index.mask_of(facts, self._c.all_facts)).fired
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

        The decision's ``trace`` lists the rules that fired and the facts each reads (their values
        are in ``facts``); with ``full_trace=True`` it lists every rule evaluated, fired or not
        (``explain`` says why).
        Raises ``ComplaintError`` listing every missing, unknown or ill-typed field.
        """
        values, envelope, mask = self._read(complaint)  # self._facts(), inlined: this is the hot path
        if self._derive:
            mask = self._derive(values, mask)
        outcome = self._outcome(values, mask)
        fields = self._parts(outcome, values).fields.copy()  # every field that depends on the outcome and budget
        fields["facts"] = values
        if outcome.reasons is None:
            fields["reasons"] = outcome.reasons_for(values)
        if envelope is not NO_ENVELOPE:
            received = envelope.received_at
            fields["complaint_id"] = envelope.complaint_id
            fields["customer_id"] = envelope.customer_id
            fields["respond_by"] = None if received is None else received + timedelta(seconds=outcome.seconds)
        if full_trace:
            fields["trace"] = self._full_trace(values, outcome)
        return _new_decision(fields)

    def decide_json(self, complaint: Mapping[str, Any]) -> str:
        """``decide(complaint).model_dump_json()``, byte for byte, assembled from JSON pieces cached with
        the parts they render: about twice as fast, which is what batches and replays need."""
        pieces = self._json_pieces(complaint)
        if pieces is None:
            return self.decide(complaint).model_dump_json()
        ids, parts, respond_by, reasons, values = pieces
        return f'{ids}{parts.json_head}{respond_by}{parts.json_approval}{reasons},"facts":{self._facts_json(values)}{parts.json_tail}'

    def _decide_utf8(self, complaint: Mapping[str, Any], out: list[bytes]) -> None:
        """Append ``decide_json(complaint)`` and a newline to ``out`` as UTF-8 pieces: the batch path. The
        large constant pieces are encoded once per outcome, so only the few varying ones are encoded here
        (encoding a whole decision costs more than deciding the outcome). Raises ``ComplaintError``.

        For complaints parsed from JSON only: their values are of the built-in types themselves (no
        ``str`` or ``int`` subclass), so every fact's value has its type's own class; :meth:`_parsed_facts_json`
        relies on that instead of checking every value's class."""
        pieces = self._json_pieces(complaint)
        if pieces is None:
            out.append(self.decide(complaint).model_dump_json().encode() + b"\n")
            return
        ids, parts, respond_by, reasons, values = pieces
        out += (
            ids.encode(),
            parts.utf8_head,
            f'{respond_by}{parts.json_approval}{reasons},"facts":{self._parsed_facts_json(values)}'.encode(),
            parts.utf8_tail,
        )

    def _json_pieces(self, complaint: Mapping[str, Any]) -> tuple[str, _Parts, str, str, dict[str, FactValue]] | None:
        """What varies in a decision's JSON around its cached parts: the ids, the parts, ``respond_by``,
        the reasons and the facts; None when a number fact needs pydantic to write it."""
        values, envelope, mask = self._read(complaint)  # self._facts(), inlined: this is the hot path
        if self._derive:
            mask = self._derive(values, mask)
        outcome = self._outcome(values, mask)
        parts = self._parts(outcome, values)
        if self._number_facts and any(values[name].__class__ is float and "e" in repr(values[name]) for name in self._number_facts):
            return None  # Python and pydantic write 1e-05 differently
        reasons = outcome.json_reasons
        if reasons is None:
            pattern = outcome.json_pattern
            reasons = _dumps(outcome.reasons_for(values)) if pattern is None else pattern % outcome.json_quoted(values)
        received = envelope.received_at
        respond_by = "null" if received is None else _DATETIME.dump_json(received + timedelta(seconds=outcome.seconds)).decode()
        complaint_id, customer_id = envelope.complaint_id, envelope.customer_id
        ids = (f'{{"complaint_id":{"null" if complaint_id is None else _encode_text(complaint_id)},'
               f'"customer_id":{"null" if customer_id is None else _encode_text(customer_id)},')
        return ids, parts, respond_by, reasons, values

    def _parsed_facts_json(self, values: Mapping[str, FactValue]) -> str:
        """:meth:`_facts_json` for facts read from JSON, by one pattern for them all: the reader writes the
        facts in one order (declared, then derived) and, from JSON, each in its type's own class."""
        natural = self._memo.natural
        if natural is None:
            natural = self._memo.natural = self._natural_plan(values)
        pattern, count = natural
        return pattern % tuple(values.values()) if len(values) == count else self._facts_json(values)

    def _natural_plan(self, values: Mapping[str, FactValue]) -> tuple[str, int]:
        """The pattern of facts like ``values`` when every fact is money, an integer or a level/enum with
        plain values (and so are the defaults), and how many facts it takes; else a count never met."""
        slots: list[str] = []
        for name, value in values.items():
            fact = self._c.all_facts.get(name)
            kind = None if fact is None else _NATURAL.get(fact.type, str if _plain_choices(fact) else None)
            if kind is None or fact is None or value.__class__ is not kind or (fact.default is not None and fact.default.__class__ is not kind):
                return "", -1
            slots.append("%s" if kind is int else '"%s"')
        return _object_pattern(values, slots), len(values)

    def _facts_json(self, values: Mapping[str, FactValue]) -> str:
        """``_dumps(values)`` by one printf pattern per sequence of names and value types (the same for
        nearly every complaint), instead of the generic encoder calling back for every Decimal."""
        shape = (*values, *map(type, values.values()))
        plan = self._memo.facts.get(shape)
        if plan is None:
            plan = self._memo.keep(self._memo.facts, shape, self._facts_plan(values))
        if isinstance(plan, str):
            return plan % tuple(values.values())
        pattern, convert = plan
        return pattern % tuple([value if how is None else how(value) for how, value in zip(convert, values.values(), strict=True)])

    def _facts_plan(self, values: Mapping[str, FactValue]) -> _FactsPlan:
        """The pattern for facts with these names and value types: Decimals, ints and level/enum values
        that need no escaping go in as they are; anything else through ``_dumps``."""
        slots: list[str] = []
        convert: list[Callable[[Any], str] | None] = []
        for name, value in values.items():
            fact = self._c.all_facts.get(name)
            kind = value.__class__
            if kind is Decimal or (kind is str and fact is not None and _plain_choices(fact)):
                slots.append('"%s"')  # str(Decimal) is what _money_text gives
                convert.append(None)
            elif kind is int:
                slots.append("%s")
                convert.append(None)
            else:
                slots.append("%s")
                convert.append(_dumps)
        pattern = _object_pattern(values, slots)
        return pattern if not any(convert) else (pattern, tuple(convert))

    def _full_trace(self, values: Mapping[str, FactValue], outcome: _Outcome) -> tuple[RuleTrace, ...]:
        """Every rule evaluated: first-hit rules up to the one that fired, then every add-on."""
        primary, traces = outcome.fired[0], self._traces
        trace = []
        for rule in self._first:
            trace.append(traces[rule.index, rule is primary])
            if rule is primary:
                break
        else:
            trace.append(traces[primary.index, True])
        trace.extend(traces[rule.index, rule in outcome.fired] for rule in self._collect)
        return tuple(trace)

    # Decision parts that depend on few inputs are built once and reused: they are immutable.
    def _outcome(self, facts: Mapping[str, FactValue], mask: int) -> _Outcome:
        """The rules that fired, from the index bits of ``facts``; each combination's outcome is built once."""
        key = self._index.fired_key(facts, mask)
        outcome = self._memo.outcomes.get(key)
        if outcome is None:
            position, holding = self._index.fired(key)
            primary = self._default if position is None else self._first[position]
            collected = tuple(rule for i, rule in enumerate(self._collect) if holding >> i & 1)
            outcome = self._memo.keep(self._memo.outcomes, key, _Outcome.of(self._c, key, primary, collected, self._traces))
        return outcome

    def _parts(self, outcome: _Outcome, values: Mapping[str, FactValue]) -> _Parts:
        """Budget, steps, summary and approval with the outcome's fields: reused for equal outcome and
        budget inputs (nothing to spend means the same parts for everyone with this outcome)."""
        if outcome.budget_reads is None:
            if outcome.parts is None:
                outcome.parts = self._new_parts(outcome, values)
            return outcome.parts
        take, take_money = outcome.budget_reads
        # money is keyed by its text: 80 and 80.00 are equal Decimals but are written differently in the steps
        key = (outcome.key, take(values), *map(str, take_money(values)))
        found = self._memo.parts.get(key)
        if found is None:
            found = self._memo.keep(self._memo.parts, key, self._new_parts(outcome, values))
        return found

    def _new_parts(self, outcome: _Outcome, values: Mapping[str, FactValue]) -> _Parts:
        amount, steps = compute_budget(outcome.fired[0].budget, values, self._c.limits)
        money = _new_money({"amount": amount, "currency": self._c.currency})
        summary, approval = summarize(steps), self._approval(amount, outcome)
        fields = {
            "complaint_id": None,
            "customer_id": None,
            "action": outcome.action,
            "action_label": outcome.action_label,
            "rule": outcome.fired[0].id,
            "gestures": outcome.gestures,
            "budget": money,
            "budget_steps": steps,
            "budget_summary": summary,
            "respond_within": outcome.respond_within,
            "respond_within_seconds": outcome.seconds,
            "respond_by": None,
            "approval": approval,
            "reasons": outcome.reasons,
            "facts": None,
            "trace": outcome.trace,
            "policy": self._ref,
        }
        budget_json = (f'"budget":{money.model_dump_json()},"budget_steps":{_STEPS.dump_json(steps).decode()},'
                       f'"budget_summary":{_dumps(summary)}')
        head = f'{outcome.json_head},{budget_json},{outcome.json_within},"respond_by":'
        tail = f',"trace":{outcome.json_trace},"policy":{self._ref_json}}}'
        return _Parts(fields, head, f',"approval":{approval.model_dump_json()},"reasons":', tail)

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

    __slots__ = ("action", "action_label", "budget_reads", "fired", "gestures", "json_head", "json_pattern", "json_quoted", "json_reasons",
                 "json_trace", "json_within", "key", "parts", "reason_makers", "reasons", "respond_within", "seconds", "trace")

    def __init__(self, key: Any, fired: tuple[Rule, ...], action: str, action_label: str, gestures: tuple[Gesture, ...],
                 seconds: int, trace: tuple[RuleTrace, ...]) -> None:
        self.key = key
        self.fired = fired
        self.trace = trace
        self.parts: _Parts | None = None  # when the primary rule spends nothing: the same for every decision
        # else: what its budget reads (all but money, then money), which keys the parts
        self.budget_reads: tuple[Callable[[Mapping[str, Any]], tuple[Any, ...]], Callable[[Mapping[str, Any]], tuple[Any, ...]]] | None = None
        self.json_trace = "[" + ",".join(entry.model_dump_json() for entry in trace) + "]"
        self.action = action
        self.action_label = action_label
        self.gestures = gestures
        self.seconds = seconds
        self.respond_within = format_duration(seconds)
        self.json_head = (f'"action":{_dumps(action)},"action_label":{_dumps(action_label)},"rule":{_dumps(fired[0].id)},'
                          f'"gestures":{_GESTURES.dump_json(gestures).decode()}')
        self.json_within = f'"respond_within":"{self.respond_within}","respond_within_seconds":{seconds}'
        # each fired rule's reason as a function of the facts; reasons that quote no fact are the same
        # for every decision with this outcome, so they are made once
        self.reason_makers = tuple(_reason_maker(rule) for rule in fired)
        static = all(isinstance(made, str) for made in self.reason_makers)
        self.reasons = tuple(made for made in self.reason_makers if isinstance(made, str)) if static else None
        # the reasons' JSON when it is constant; else a printf pattern of it and the facts it quotes, if
        # one is exact (see _reasons_json), else neither: _dumps(reasons_for(facts))
        self.json_reasons = None if self.reasons is None else _dumps(self.reasons)
        self.json_pattern: str | None = None
        self.json_quoted: Callable[[Mapping[str, Any]], tuple[Any, ...]] = tuple_getter(())

    def reasons_for(self, values: Mapping[str, FactValue]) -> tuple[str, ...]:
        """The fired rules' reasons, filled in with ``values`` where they quote facts."""
        return tuple([made if isinstance(made, str) else made(values) for made in self.reason_makers])

    @classmethod
    def of(cls, compiled: CompiledPolicy, key: Any, primary: Rule, collected: tuple[Rule, ...],
           traces: Mapping[tuple[int, bool], RuleTrace]) -> _Outcome:
        fired = (primary, *collected)
        gestures: dict[str, Gesture] = {}
        for rule in fired:
            for gesture in rule.gestures:
                gestures.setdefault(gesture.id, gesture)
        seconds = min(rule.respond_within for rule in fired if rule.respond_within is not None)
        action = primary.action or ""
        trace = tuple(traces[rule.index, True] for rule in fired)
        outcome = cls(key, fired, action, compiled.actions[action].label, tuple(gestures.values()), seconds, trace)
        if outcome.json_reasons is None:
            filled = _reasons_json(fired, compiled.all_facts)
            if filled is not None:
                outcome.json_pattern, outcome.json_quoted = filled
        budget = primary.budget
        if budget is not None:
            goodwill = compiled.limits.goodwill_fact
            reads = (*budget.reads, *([] if goodwill is None or goodwill in budget.reads else [goodwill]))
            money = [name for name in reads if compiled.all_facts[name].type == "money"]
            outcome.budget_reads = (tuple_getter([name for name in reads if name not in money]), tuple_getter(money))
        return outcome


def _reason_maker(rule: Rule) -> str | Callable[[Mapping[str, FactValue]], str]:
    """Why ``rule`` fired: a sentence, or a function of the facts when its rationale quotes any."""
    template = rule.rationale
    if template is None:
        return rule.description or f"rule {rule.id} applies"
    if template.static:
        return template.render({})
    if template.pattern is None:
        return template.render
    pattern, quoted = template.pattern, template.quoted
    if len(quoted) == 1:  # itemgetter of one name returns the value itself, not a tuple
        name = quoted[0]
        return lambda facts: pattern % (facts[name],)
    take = itemgetter(*quoted)
    return lambda facts: pattern % take(facts)


def _reasons_json(fired: tuple[Rule, ...], facts: Mapping[str, Fact]) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]]] | None:
    """The JSON array of the fired rules' reasons as one printf pattern, and what takes its values from the
    facts: each sentence is escaped once, here, and the values are filled in by C. Exact only when no
    value can need escaping (money and numbers never do; level/enum values are checked), else None."""
    pieces: list[str] = []
    quoted: list[str] = []
    for rule in fired:
        made = _reason_maker(rule)
        if isinstance(made, str):
            pieces.append(_encode_text(made).replace("%", "%%"))
            continue
        template = rule.rationale
        if template is None or template.pattern is None or not all(_plain_values(facts[name]) for name in template.quoted):
            return None
        pieces.append(_encode_text(template.pattern))  # escaping leaves %s, %g and %% as they are
        quoted.extend(template.quoted)
    return "[" + ",".join(pieces) + "]", tuple_getter(quoted)


def _object_pattern(names: Iterable[str], slots: Iterable[str]) -> str:
    """A JSON object's printf pattern: each name (escaped, its ``%`` doubled) with its value's slot."""
    return "{" + ",".join(f"{_encode_text(name).replace('%', '%%')}:{slot}" for name, slot in zip(names, slots, strict=True)) + "}"


def _plain_values(fact: Fact) -> bool:
    """Whether every value of ``fact`` is written in JSON (and by ``%s``/``%g``) without escaping."""
    return fact.type in ("money", "integer", "number") or _plain_choices(fact)


def _plain_choices(fact: Fact) -> bool:
    """A level/enum fact none of whose values needs escaping in a JSON string."""
    return fact.finite and all(_encode_text(value) == f'"{value}"' for value in fact.values)


class _Traces(dict[tuple[int, bool], RuleTrace]):
    """``(rule index, fired)`` -> its trace entry, which depends on nothing else: each is built once, on
    first use (most rules of a large policy never appear in a trace, so building all at load is waste)."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        super().__init__()
        self.rules = {rule.index: rule for rule in rules}

    def __missing__(self, key: tuple[int, bool]) -> RuleTrace:
        rule = self.rules[key[0]]
        made = self[key] = _new_trace({"rule": rule.id, "hit": rule.hit, "fired": key[1], "reads": rule.when.facts_used()})
        return made


class _Parts:
    """A decision's fields that depend on its outcome and budget only, and the JSON around the fields that
    vary: up to ``respond_by``, from it to ``reasons``, after ``facts`` (also as UTF-8, for batches)."""

    __slots__ = ("fields", "json_approval", "json_head", "json_tail", "utf8_head", "utf8_tail")

    def __init__(self, fields: dict[str, Any], head: str, approval: str, tail: str) -> None:
        self.fields = fields
        self.json_head = head
        self.json_approval = approval
        self.json_tail = tail
        self.utf8_head = head.encode()
        self.utf8_tail = (tail + "\n").encode()


class _Memo:
    """Bounded caches of immutable decision parts, keyed by the few values each depends on.

    Thread-safe under the GIL (single dict operations); a full cache is emptied rather than grown,
    so memory stays bounded however many decisions are made.
    """

    LIMIT = 4096
    __slots__ = ("facts", "natural", "outcomes", "parts")

    def __init__(self) -> None:
        self.outcomes: dict[int, _Outcome] = {}
        self.parts: dict[Any, _Parts] = {}
        self.facts: dict[tuple[Any, ...], _FactsPlan] = {}  # facts JSON patterns by names and value types
        self.natural: tuple[str, int] | None = None  # the one pattern of facts read from JSON, once made

    def keep(self, cache: dict[Any, _V], key: Any, value: _V) -> _V:
        if len(cache) >= self.LIMIT:
            cache.clear()
        cache[key] = value
        return value

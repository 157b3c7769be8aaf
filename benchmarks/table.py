"""The benchmark's inputs, defined once: first-hit tables with budgets, and realistic complaints.

Every engine gets a translation of the same ``Table`` (``translate.py``), so a difference in speed is
a difference in engines. Every row carries a budget the way goodwill policies write them: a base
looked up by severity, plus a percentage of a money fact, times multipliers looked up by enum facts,
clamped by ``min``/``max``. Complaints carry money to the cent that never repeats within a set and
audiences spread over seven decades, as a helpdesk sends them: a figure measured on repeated inputs
would be a cache hit, not a decision.

``Table.decide`` reads a table plainly (slow, obvious, independent of every translation): it is the
oracle both gesture-engine and ZEN are checked against.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_WEIGHTS = (40, 30, 20, 10)
CHANNELS = ("email", "phone", "chat", "app_review", "social_media", "press")
CHANNEL_WEIGHTS = (35, 20, 20, 10, 12, 3)
REGIONS = ("north", "south", "east", "west")
DEAD_REGION = "antarctica"
"""A region value the policy declares but no generated complaint ever has: rows on it never match."""
ISSUE_TYPES = ("service_failure", "product_defect", "delivery_delay", "out_of_stock", "billing_error", "staff_misconduct", "other")
ISSUE_WEIGHTS = (25, 15, 20, 8, 12, 3, 17)
AUDIENCE_DECADES = 7.0
"""audience = floor(10**u) with u uniform in [0, 7): 1 .. 9,999,999, log-uniform like follower counts."""
CUSTOMER_VALUE = (1.0, 4.7)
"""customer_value = 10**u dollars, u uniform in [1, 4.7): $10 .. about $50,000, to the cent."""
ORDER_VALUE = (0.7, 3.7)
"""order_value = 10**u dollars, u uniform in [0.7, 3.7): $5 .. about $5,000, to the cent."""
ACTION_POOL = 50
"""Row i chooses action ``act_{i % 50}``: neighbouring rows always differ, so a wrong hit shows."""
DEFAULT_ACTION = "fallback"
CENT = Decimal("0.01")
MONEY_FACTS = ("customer_value", "order_value")

Complaint = dict[str, Any]
Answer = tuple[str, Decimal]
"""What is cross-checked between engines: the action and the budget amount, to the cent."""


def round_cents(value: Decimal) -> Decimal:
    """Half-up to the cent: gesture-engine's rule for USD (ZEN's ``round`` goes half away from zero,
    the same for the non-negative amounts here)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Budget:
    """One rule's budget: ``base[severity] + percent% of percent_of``, times each multiplier, clamped."""

    base: tuple[tuple[str, Decimal], ...]
    percent_of: str
    percent: Decimal
    multipliers: tuple[tuple[str, tuple[tuple[str, Decimal], ...]], ...]
    maximum: Decimal
    minimum: Decimal | None = None

    def amount(self, complaint: Mapping[str, Any]) -> Decimal:
        """The arithmetic written out, each step rounded to the cent as the policy format says."""
        amount = round_cents(dict(self.base)[complaint["severity"]])
        amount += round_cents(complaint[self.percent_of] * self.percent / 100)
        for fact, values in self.multipliers:
            amount = round_cents(amount * dict(values)[complaint[fact]])
        if self.minimum is not None and amount < self.minimum:
            amount = self.minimum
        return min(amount, self.maximum)


@dataclass(frozen=True)
class Row:
    """One first-hit row; ``None`` means "no condition on this fact"."""

    id: str
    action: str
    budget: Budget
    severity_at_least: str | None = None
    channels: tuple[str, ...] | None = None
    audience: tuple[int, int] | None = None
    customer_value: tuple[int, int] | None = None
    region: str | None = None

    def matches(self, complaint: Mapping[str, Any]) -> bool:
        """The meaning of a row, written plainly. Numeric windows are half-open: ``lo <= value < hi``."""
        if self.region is not None and complaint["region"] != self.region:
            return False
        if self.severity_at_least is not None and SEVERITIES.index(complaint["severity"]) < SEVERITIES.index(self.severity_at_least):
            return False
        if self.channels is not None and complaint["channel"] not in self.channels:
            return False
        if self.audience is not None and not self.audience[0] <= complaint["audience"] < self.audience[1]:
            return False
        return self.customer_value is None or self.customer_value[0] <= complaint["customer_value"] < self.customer_value[1]


@dataclass(frozen=True)
class Table:
    """An ordered first-hit table; ``default_budget`` is spent when no row matches."""

    name: str
    rows: tuple[Row, ...]
    default_budget: Budget
    default_action: str = DEFAULT_ACTION

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action the table can yield, in first-use order (catalogs need them declared)."""
        seen = dict.fromkeys(row.action for row in self.rows)
        seen.setdefault(self.default_action, None)
        return tuple(seen)

    @property
    def uses_region(self) -> bool:
        return any(row.region is not None for row in self.rows)

    def decide(self, complaint: Mapping[str, Any]) -> Answer:
        """Interpret the table directly: the oracle every translation is checked against."""
        for row in self.rows:
            if row.matches(complaint):
                return row.action, row.budget.amount(complaint)
        return self.default_action, self.default_budget.amount(complaint)


def _share(weights: tuple[int, ...], chosen: int | tuple[int, ...]) -> float:
    picked = range(chosen, len(weights)) if isinstance(chosen, int) else chosen
    return sum(weights[i] for i in picked) / sum(weights)


def _lookup(names: tuple[str, ...], rng: random.Random) -> tuple[tuple[str, Decimal], ...]:
    return tuple((name, Decimal(rng.choice(("1", "1.1", "1.25", "1.5", "2")))) for name in names)


def _budget(rng: random.Random) -> Budget:
    """A goodwill budget with every step the format has: lookup base, percent of money, multipliers, clamps."""
    unit = rng.choice((0, 5, 10, 20))
    multipliers = [("channel", _lookup(CHANNELS, rng))]
    if rng.random() < 0.5:
        multipliers.append(("region", _lookup((*REGIONS, DEAD_REGION), rng)))
    return Budget(
        base=tuple(zip(SEVERITIES, (Decimal(unit * k) for k in (1, 2, 3, 5)), strict=True)),
        percent_of=rng.choice(MONEY_FACTS),
        percent=Decimal(rng.choice(("2.5", "5", "7.5", "10", "12.5", "15"))),
        multipliers=tuple(multipliers),
        maximum=Decimal(rng.choice((100, 250, 500, 1000, 2500))),
        minimum=Decimal(rng.choice((5, 10, 25))) if rng.random() < 0.3 else None,
    )


def _row(index: int, rng: random.Random, target: float) -> Row:
    """A row matching about ``target`` of the complaints, with a random mix of conditions."""
    severity: str | None = None
    q = 1.0
    if rng.random() < 0.7:
        level = rng.randrange(1, len(SEVERITIES))
        severity = SEVERITIES[level]
        q *= _share(SEVERITY_WEIGHTS, level)
    channels: tuple[str, ...] | None = None
    if rng.random() < 0.7:
        picked = tuple(sorted(rng.sample(range(len(CHANNELS)), rng.randint(1, 4))))
        channels = tuple(CHANNELS[i] for i in picked)
        q *= _share(CHANNEL_WEIGHTS, picked)
    audience: tuple[int, int] | None = None
    value: tuple[int, int] | None = None
    rest = target / q
    if rest < 1.0 or (severity is None and channels is None):
        rest = min(rest, 0.5)
        split = rng.random()
        width = AUDIENCE_DECADES * rest**split
        start = rng.uniform(0.0, AUDIENCE_DECADES - width)
        lo = round(10**start)
        audience = (lo, max(lo + 1, round(10 ** (start + width))))
        low_decade, high_decade = CUSTOMER_VALUE
        width = (high_decade - low_decade) * rest ** (1.0 - split)
        start = rng.uniform(low_decade, high_decade - width)
        low = math.floor(10**start)
        value = (low, max(low + 1, math.ceil(10 ** (start + width))))
    budget = _budget(rng)
    return Row(f"r{index:05d}", f"act_{index % ACTION_POOL:02d}", budget, severity, channels, audience, value)


def generate_table(size: int, seed: int = 7) -> Table:
    """A ``size``-row first-hit table; the same size and seed always give the same table.

    Rows are selective: each matches about ``3/size`` of the complaints, so table size matters and
    15-30% of complaints fall through to the default rule.
    """
    rng = random.Random(f"table-{size}-{seed}")
    target = min(0.35, 3.0 / size)
    rows = tuple(_row(i, rng, target) for i in range(size))
    return Table(f"bench_{size}", rows, _budget(rng))


def dead_table(dead: int = 1000, live: int = 8, seed: int = 7) -> Table:
    """``dead`` rows that can never match (region antarctica) placed before the ``live``-row table.

    Every complaint passes all the dead rows before the rows that decide it, so the difference with
    the plain ``live``-row table is the cost of skipping ``dead`` rules.
    """
    rng = random.Random(f"dead-{dead}-{seed}")
    rows = [
        Row(f"d{i:05d}", f"act_{i % ACTION_POOL:02d}", _budget(rng), severity_at_least=rng.choice(SEVERITIES[1:]), region=DEAD_REGION)
        for i in range(dead)
    ]
    live_table = generate_table(live, seed)
    return Table(f"bench_dead_{dead}_{live}", (*rows, *live_table.rows), live_table.default_budget)


UNIQUE_WITHIN = 10_000
"""Money never repeats within this many consecutive complaints (one timed pass of the full run)."""


class _Money:
    """Draws money to the cent, log-uniform over ``decades``, never the same amount twice within
    ``UNIQUE_WITHIN`` draws (a repeat is nudged up a cent): each complaint of a pass has its own
    amounts, as real traffic does. (The low end of a range has too few cents to stay unique for ever.)"""

    def __init__(self, decades: tuple[float, float]) -> None:
        self.decades = decades
        self.seen: set[int] = set()

    def draw(self, rng: random.Random) -> Decimal:
        if len(self.seen) >= UNIQUE_WITHIN:
            self.seen.clear()
        cents = round(10 ** rng.uniform(*self.decades) * 100)
        while cents in self.seen:
            cents += 1
        self.seen.add(cents)
        return Decimal(cents).scaleb(-2)


def _audience(rng: random.Random) -> int:
    return math.floor(10 ** rng.uniform(0.0, AUDIENCE_DECADES))


def generate_complaints(count: int, seed: int = 42) -> list[Complaint]:
    """``count`` complaints for the generated tables; money is ``Decimal`` to the cent, never repeated."""
    rng = random.Random(seed)
    customer, order = _Money(CUSTOMER_VALUE), _Money(ORDER_VALUE)
    return [
        {
            "severity": rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            "audience": _audience(rng),
            "customer_value": customer.draw(rng),
            "order_value": order.draw(rng),
            "region": rng.choice(REGIONS),
        }
        for _ in range(count)
    ]


# -- the embedded default policy (rules/default) --------------------------------------------------

SERIOUS = ("high", "critical")
FIXED_MONEY = {"customer_value": Decimal("1200.00"), "order_value": Decimal("80.00"), "goodwill_last_90d": Decimal("0.00")}
"""The "fixed money" variant: every complaint the same amounts, the case a cache keyed by money serves."""


def default_policy_complaints(count: int, seed: int = 42, *, serious_only: bool = False) -> list[Complaint]:
    """Complaints for the embedded default policy, a helpdesk's mix: every declared fact, money to the
    cent that never repeats, goodwill already given to a third of the customers. ``serious_only``
    keeps the high/critical ones of the same stream (those the issue measured)."""
    return list(_default_stream(count, seed, serious_only))


def _default_stream(count: int, seed: int, serious_only: bool) -> Iterator[Complaint]:
    rng = random.Random(seed)
    customer, order, goodwill = _Money(CUSTOMER_VALUE), _Money(ORDER_VALUE), _Money((0.0, 2.8))
    made = 0
    while made < count:
        complaint = {
            "severity": rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
            "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
            "audience": _audience(rng),
            "issue_type": rng.choices(ISSUE_TYPES, ISSUE_WEIGHTS)[0],
            "customer_value": customer.draw(rng),
            "order_value": order.draw(rng),
            "goodwill_last_90d": goodwill.draw(rng) if rng.random() < 1 / 3 else Decimal("0.00"),
        }
        if serious_only and complaint["severity"] not in SERIOUS:
            continue
        made += 1
        yield complaint


def with_fixed_money(complaints: list[Complaint]) -> list[Complaint]:
    """The same complaints with every money fact set to the same amounts (``FIXED_MONEY``)."""
    return [{**c, **FIXED_MONEY} for c in complaints]


def default_policy_action(complaint: Mapping[str, Any]) -> str:
    """The first-hit action of rules/default, written by hand as if/elif: a check that the benchmark
    drives the policy's real rules. If rules/default changes, this mirror must change with it."""
    severity = SEVERITIES.index(complaint["severity"])
    value = complaint["customer_value"]
    tier = 3 if value >= 10000 else 2 if value >= 2500 else 1 if value >= 500 else 0
    public = complaint["channel"] in ("social_media", "press", "app_review")
    visibility = 2 if public and complaint["audience"] >= 10000 else 1 if public else 0
    if complaint["issue_type"] == "staff_misconduct":
        return "executive_apology"
    if visibility == 2 and severity >= 2:
        return "personal_outreach"
    if complaint["issue_type"] == "out_of_stock":
        return "honest_eta"
    if severity >= 2:
        return "make_it_right"
    if severity >= 1 or tier >= 1 or visibility >= 1:
        return "goodwill_credit"
    return "apologise_and_fix"

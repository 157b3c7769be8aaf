"""One first-hit decision table, defined once, plus the random complaints it is tried on.

Every engine in the suite gets a translation of the same ``Table`` (see ``translate.py``), so a
difference in speed is a difference in engines, not in tables. Rows are made selective on purpose:
each row of an ``n``-row table matches about ``3/n`` of the complaints on its own (rows overlap),
so a typical complaint tries 40-65% of the table before its match and 15-30% fall through to the
default: that is what makes table size matter. A row matches when all of its conditions hold; a missing
condition matches anything. Numeric windows are half-open: ``lo <= value < hi``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_WEIGHTS = (40, 30, 20, 10)
CHANNELS = ("email", "phone", "chat", "app_review", "social_media", "press")
CHANNEL_WEIGHTS = (35, 20, 20, 10, 12, 3)
REGIONS = ("north", "south", "east", "west")
DEAD_REGION = "antarctica"
"""A region value the policy declares but no generated complaint ever has: rows on it never match."""
AUDIENCE_DECADES = 6.0
"""audience = floor(10**u) - 1 with u uniform in [0, 6): 0 .. 999,998, log-uniform like follower counts."""
VALUE_DECADES = 4.7
"""customer_value = 10**u dollars (to the cent) with u uniform in [0, 4.7): 1.00 .. about 50,000."""
ACTION_POOL = 50
"""Row i chooses action ``act_{i % 50}``: neighbouring rows always differ, so a wrong hit shows."""
DEFAULT_ACTION = "fallback"

Complaint = dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One first-hit row; ``None`` means "no condition on this fact"."""

    id: str
    action: str
    severity_at_least: str | None = None
    channels: tuple[str, ...] | None = None
    audience: tuple[int, int] | None = None
    customer_value: tuple[int, int] | None = None
    region: str | None = None

    def matches(self, complaint: Mapping[str, Any]) -> bool:
        """The meaning of a row, written plainly; the oracle the translations are tested against."""
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
    """An ordered first-hit table; ``default_action`` answers when no row matches."""

    name: str
    rows: tuple[Row, ...]
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

    def first_hit(self, complaint: Mapping[str, Any]) -> str:
        """Interpret the table directly: slow, obvious, and independent of every translation."""
        for row in self.rows:
            if row.matches(complaint):
                return row.action
        return self.default_action


def _share(weights: tuple[int, ...], chosen: int | tuple[int, ...]) -> float:
    picked = range(chosen, len(weights)) if isinstance(chosen, int) else chosen
    return sum(weights[i] for i in picked) / sum(weights)


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
        lo = round(10**start) - 1
        audience = (lo, max(lo + 1, round(10 ** (start + width)) - 1))
        width = VALUE_DECADES * rest ** (1.0 - split)
        start = rng.uniform(0.0, VALUE_DECADES - width)
        low = math.floor(10**start)
        value = (low, max(low + 1, math.ceil(10 ** (start + width))))
    return Row(f"r{index:05d}", f"act_{index % ACTION_POOL:02d}", severity, channels, audience, value)


def generate_table(size: int, seed: int = 7) -> Table:
    """An ``size``-row first-hit table; the same size and seed always give the same table."""
    rng = random.Random(f"table-{size}-{seed}")
    target = min(0.35, 3.0 / size)
    return Table(f"bench_{size}", tuple(_row(i, rng, target) for i in range(size)))


def dead_table(dead: int = 1000, live: int = 8, seed: int = 7) -> Table:
    """``dead`` rows that can never match (region antarctica) placed before the ``live``-row table.

    Every complaint scans all the dead rows before it reaches the rows that decide it, so the
    difference with the plain ``live``-row column is the cost of skipping ``dead`` rules.
    """
    rng = random.Random(f"dead-{dead}-{seed}")
    rows = [
        Row(f"d{i:05d}", f"act_{i % ACTION_POOL:02d}", severity_at_least=rng.choice(SEVERITIES[1:]), region=DEAD_REGION)
        for i in range(dead)
    ]
    live_rows = generate_table(live, seed).rows
    return Table(f"bench_dead_{dead}_{live}", (*rows, *live_rows))


def generate_complaints(count: int, seed: int = 42) -> list[Complaint]:
    """``count`` random complaints; money is ``Decimal`` to the cent, as a helpdesk would send it."""
    rng = random.Random(seed)
    complaints = []
    for _ in range(count):
        cents = round(10 ** rng.uniform(0.0, VALUE_DECADES) * 100)
        complaints.append(
            {
                "severity": rng.choices(SEVERITIES, SEVERITY_WEIGHTS)[0],
                "channel": rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
                "audience": math.floor(10 ** rng.uniform(0.0, AUDIENCE_DECADES)) - 1,
                "customer_value": Decimal(cents).scaleb(-2),
                "region": rng.choice(REGIONS),
            }
        )
    return complaints


DEFAULT_POLICY_FACTS = ("severity", "channel", "audience", "customer_value")
"""The generated complaint fields that the embedded default policy also declares."""


def default_policy_reference(complaint: Mapping[str, Any]) -> str:
    """The first-hit action of rules/default for these complaints, written by hand as if/elif.

    The complaints carry no ``issue_type`` (so it is ``other``): the staff-misconduct and
    out-of-stock rules never fire. If rules/default changes, this mirror must change with it.
    """
    severity = SEVERITIES.index(complaint["severity"])
    value = complaint["customer_value"]
    tier = 3 if value >= 10000 else 2 if value >= 2500 else 1 if value >= 500 else 0
    public = complaint["channel"] in ("social_media", "press", "app_review")
    visibility = 2 if public and complaint["audience"] >= 10000 else 1 if public else 0
    if visibility == 2 and severity >= 2:
        return "personal_outreach"
    if severity >= 2:
        return "make_it_right"
    if severity >= 1 or tier >= 1 or visibility >= 1:
        return "goodwill_credit"
    return "apologise_and_fix"

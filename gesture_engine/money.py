"""Currencies and rounding. Money is always ``Decimal``; amounts round half-up to the minor unit.

Half-up (not banker's rounding) because budgets are shown to people as arithmetic they can redo
by hand, and 0.005 -> 0.01 is what they expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

_MINOR_UNITS_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_MINOR_UNITS_3 = "BHD IQD JOD KWD LYD OMR TND"
_MINOR_UNITS_4 = "CLF UYW"
_MINOR_UNITS_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL "
    "GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD "
    "LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN "
    "PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL "
    "THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL"
)

MINOR_UNITS: dict[str, int] = {
    code: places
    for places, codes in ((0, _MINOR_UNITS_0), (2, _MINOR_UNITS_2), (3, _MINOR_UNITS_3), (4, _MINOR_UNITS_4))
    for code in codes.split()
}
"""ISO 4217 active currency codes and the number of digits after the decimal point."""

MONEY_LIMIT = Decimal(10) ** 12
"""No money value may exceed this; larger inputs are mistakes, not customers."""

CONTEXT = Context(prec=40, rounding=ROUND_HALF_UP)
"""Money's own context: exact products of amounts and factors, half-up rounding, whatever the caller's context."""


def quantizer(currency: str) -> Decimal:
    """The smallest unit of ``currency`` as a Decimal exponent, e.g. ``Decimal('0.01')`` for USD."""
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def round_money(amount: Decimal | int, unit: Decimal) -> Decimal:
    """Round half-up to ``unit`` (from :func:`quantizer`)."""
    if not isinstance(amount, Decimal):
        amount = Decimal(amount)
    return amount.quantize(unit, context=CONTEXT)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    """Exact product, independent of the caller's decimal context."""
    return CONTEXT.multiply(a, b)


def plain(number: Decimal) -> str:
    """A factor as people write it: ``1.50`` -> ``1.5``, ``2.0`` -> ``2``, never ``2E+1``.

    Decisions write every amount of their facts this way (the decision id hashes them): a number
    written without an exponent in at most 40 digits (every amount) loses its trailing zeros as text,
    which is what normalizing it does, at a third of the cost."""
    text = str(number)
    if "E" in text or len(text) > _PLAIN_DIGITS:  # an exponent, or more digits than CONTEXT keeps: normalize
        return format(number.normalize(CONTEXT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_PLAIN_DIGITS = 40
"""CONTEXT's precision: a text no longer than this has no more digits than normalizing keeps."""


class Converted(Decimal):
    """An amount converted into the policy's currency that remembers what was given, so the arithmetic
    can show it: ``3456.54`` given as ``3200.50 EUR × 1.08``. It is a ``Decimal`` everywhere else."""

    __slots__ = ("given",)
    given: str

    def __new__(cls, value: Decimal, given: str) -> Converted:
        made = super().__new__(cls, value)
        made.given = given
        return made

    def __reduce__(self) -> tuple[Any, ...]:  # pickled to batch workers with what was given
        return (Converted, (Decimal(self), self.given))


def shown(amount: Decimal) -> str:
    """An amount as a step quotes it: ``3456.54 (3200.50 EUR × 1.08)`` when converted, else as given."""
    return f"{amount} ({amount.given})" if isinstance(amount, Converted) else f"{amount}"


@dataclass(frozen=True)
class Currencies:
    """The policy's currency and the rates it converts others at: ``rates[code]`` units of the policy's
    currency for one unit of ``code``."""

    currency: str
    unit: Decimal
    rates: Mapping[str, Decimal]

    def convert(self, amount: Decimal, currency: str) -> Decimal | None:
        """``amount`` of ``currency`` in the policy's currency, rounded half-up to its minor unit; None
        when the policy has no rate for ``currency``."""
        if currency == self.currency:
            return amount
        rate = self.rates.get(currency)
        if rate is None:
            return None
        return Converted(round_money(CONTEXT.multiply(amount, rate), self.unit), f"{amount:f} {currency} × {plain(rate)}")

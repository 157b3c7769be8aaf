"""``plain`` writes numbers as people do (and as the decision id hashes them): the same text as
normalizing the number, whatever its digits, sign or exponent."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from gesture_engine.money import CONTEXT, plain


def normalized(number: Decimal) -> str:
    return format(number.normalize(CONTEXT), "f")


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_plain_is_the_normalized_number(number: Decimal) -> None:
    assert plain(number) == normalized(number)


@given(st.integers(min_value=-(10**45), max_value=10**45), st.integers(min_value=-12, max_value=12))
def test_plain_with_many_digits_and_any_exponent(digits: int, exponent: int) -> None:
    number = Decimal(digits).scaleb(exponent)
    assert plain(number) == normalized(number)


def test_plain_examples() -> None:
    assert [plain(Decimal(text)) for text in ("800.00", "800", "1.50", "2.0", "-0.00", "1E+2", "0E-10", "Infinity")] == \
        ["800", "800", "1.5", "2", "-0", "100", "0", "Infinity"]

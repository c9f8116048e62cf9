"""Amounts as typed: each good one gives the exact Decimal and currency, each bad one the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from flows.errors import Invalid
from flows.i18n import LANGS, t
from flows.money import format_money, format_totals, parse_money

GOOD = [
    ("12万", "120000.00", "CNY"),
    ("1.2w", "12000.00", "CNY"),
    ("1.2W", "12000.00", "CNY"),
    ("¥120,000", "120000.00", "CNY"),
    ("￥120,000.00", "120000.00", "CNY"),
    ("USD 5k", "5000.00", "USD"),
    ("usd5K", "5000.00", "USD"),
    ("$5,000", "5000.00", "USD"),
    ("5k美元", "5000.00", "USD"),
    ("12万元", "120000.00", "CNY"),
    ("¥12万元", "120000.00", "CNY"),
    ("RMB 3.5千", "3500.00", "CNY"),
    ("HK$ 3k", "3000.00", "HKD"),
    ("EUR 1.5m", "1500000.00", "EUR"),
    ("2亿", "200000000.00", "CNY"),
    ("８８００元", "8800.00", "CNY"),  # full-width digits
    ("99.9", "99.90", "CNY"),
]


@pytest.mark.parametrize(("text", "amount", "currency"), GOOD)
def test_amounts_as_typed(text: str, amount: str, currency: str) -> None:
    money = parse_money(text)
    assert (money.amount, money.currency) == (Decimal(amount), currency)


BAD = [
    ("", "money.empty"),
    ("abc", "money.unreadable"),
    ("12万万", "money.unreadable"),
    ("1,20,000", "money.unreadable"),
    ("0", "money.not_positive"),
    ("-5k", "money.not_positive"),
    ("0.001", "money.cents"),
    ("USD 5k元", "money.two_currencies"),
    ("99999亿", "money.too_large"),
]


@pytest.mark.parametrize(("text", "key"), BAD)
def test_bad_amounts_say_why(text: str, key: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_money(text)
    assert caught.value.key == key
    for lang in LANGS:
        assert t(lang, key, **caught.value.params) != key


def test_amounts_are_echoed_in_the_users_language() -> None:
    assert format_money(Decimal("120000"), "CNY", "zh") == "¥120,000.00(12万)"
    assert format_money(Decimal("120000"), "CNY", "en") == "¥120,000.00"
    assert format_money("5000", "USD", "en") == "US$5,000.00"
    totals = {"USD": Decimal("5000"), "CNY": Decimal("1200.5")}
    assert format_totals(totals, "en") == "¥1,200.50 + US$5,000.00"


@given(st.text(max_size=30))
@example("100000000000000000000000000")  # 27 digits: quantize raised InvalidOperation
@example("99999999999999999999999999999万")
def test_any_text_is_an_amount_or_a_reason(text: str) -> None:
    try:
        money = parse_money(text)
    except Invalid as bad:
        assert bad.key.startswith("money.")
    else:
        assert money.amount > 0 and money.amount == money.amount.quantize(Decimal("0.01"))


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999"), places=2))
def test_what_is_shown_reads_back_as_the_same_amount(amount: Decimal) -> None:
    shown = format_money(amount, "CNY", "en")
    assert parse_money(shown).amount == amount

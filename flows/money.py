"""Amounts of money as sales people type them: "12万", "1.2w", "¥120,000", "USD 5k", "3.5千元".

Hand-written rather than a library: price parsers (price-parser, babel's parse_decimal) read
"¥120,000" but none knows 万/w/千 multipliers or 元/美元/港币 as currencies, which is most of
what is typed here. Amounts are Decimals, never floats, so 1.2w is exactly 12000.00.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flows.errors import Invalid

MAX_AMOUNT = Decimal("999999999999.99")  # what Numeric(14, 2) holds
CENT = Decimal("0.01")

# currency words and symbols, longest first so "HK$" wins over "$" and "美元" over "元"
_CURRENCY_WORDS: tuple[tuple[str, str], ...] = (
    ("人民币", "CNY"), ("rmb", "CNY"), ("cny", "CNY"), ("元", "CNY"), ("块钱", "CNY"), ("块", "CNY"),
    ("¥", "CNY"), ("hk$", "HKD"), ("hkd", "HKD"), ("港币", "HKD"), ("港元", "HKD"),
    ("us$", "USD"), ("usd", "USD"), ("美元", "USD"), ("美金", "USD"), ("$", "USD"),
    ("eur", "EUR"), ("€", "EUR"), ("欧元", "EUR"), ("gbp", "GBP"), ("£", "GBP"), ("英镑", "GBP"),
    ("jpy", "JPY"), ("日元", "JPY"), ("円", "JPY"),
)  # fmt: skip
_CURRENCY_ORDER = sorted(_CURRENCY_WORDS, key=lambda w: -len(w[0]))
CURRENCIES = ("CNY", "USD", "EUR", "HKD", "GBP", "JPY")
_SYMBOL = {"CNY": "¥", "USD": "US$", "EUR": "€", "HKD": "HK$", "GBP": "£", "JPY": "JP¥"}

_MULTIPLIER = {
    "亿": Decimal(100_000_000),
    "万": Decimal(10_000),
    "w": Decimal(10_000),
    "千": Decimal(1_000),
    "k": Decimal(1_000),
    "百万": Decimal(1_000_000),
    "m": Decimal(1_000_000),
    "mn": Decimal(1_000_000),
}
_NUMBER = re.compile(r"^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(百万|亿|万|千|mn|w|k|m)?$")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def as_answer(self) -> dict[str, str]:
        """How a flow keeps it (JSON): the amount as a string, so no float ever touches it."""
        return {"amount": str(self.amount), "currency": self.currency}


def parse_money(text: str, default_currency: str = "CNY") -> Money:
    """A positive amount with an optional currency; raises Invalid with the reason otherwise."""
    s = unicodedata.normalize("NFKC", text).strip().casefold()
    s = s.replace(" ", "").replace("\u00a0", "")
    if not s:
        raise Invalid("money.empty")
    currency: str | None = None
    for word, code in _CURRENCY_ORDER:  # a currency before the number, after it, or both ("¥12万元")
        if s.startswith(word):
            currency, s = code, s[len(word) :]
            break
    for word, code in _CURRENCY_ORDER:
        if s.endswith(word):
            if currency is not None and currency != code:
                raise Invalid("money.two_currencies")
            currency, s = code, s[: -len(word)]
            break
    if s.startswith("-"):
        raise Invalid("money.not_positive")
    m = _NUMBER.match(s)
    if m is None:
        raise Invalid("money.unreadable", example="12万, 1.2w, ¥120,000, USD 5k")
    whole, frac, unit = m.group(1).replace(",", ""), m.group(2), m.group(3)
    try:
        amount = Decimal(f"{whole}.{frac}" if frac else whole)
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise Invalid("money.unreadable", example="12万") from None
    if unit:
        amount *= _MULTIPLIER[unit]
    if amount > MAX_AMOUNT:  # before quantize: past 28 digits it raises InvalidOperation instead
        raise Invalid("money.too_large")
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise Invalid("money.cents")
    amount = amount.quantize(CENT)
    if amount <= 0:
        raise Invalid("money.not_positive")
    return Money(amount, currency or default_currency)


def format_money(amount: Decimal | str, currency: str, lang: str = "zh") -> str:
    """¥120,000.00 · US$5,000.00; in Chinese a large CNY amount also reads in 万: ¥120,000.00(12万)."""
    value = Decimal(str(amount)).quantize(CENT)
    text = f"{_SYMBOL.get(currency, currency + ' ')}{value:,.2f}"
    if lang == "zh" and value >= 10_000 and currency == "CNY":
        wan = (value / 10_000).normalize()
        text += f"({wan:f}万)"
    return text


def format_totals(totals: dict[str, Decimal], lang: str = "zh") -> str:
    """One customer's deals added up per currency (never converted: no rate is known)."""
    return " + ".join(
        format_money(v, c, lang) for c, v in sorted(totals.items(), key=lambda x: x[0] != "CNY")
    )

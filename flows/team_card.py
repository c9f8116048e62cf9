"""What the customer card adds for the manager's desk: the deals block and the buttons for deals,
change requests, transfers and merges. Kept apart from flows/team.py so flows/views.py can use it
without importing the flows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flows.dateformat import format_date
from flows.engine import Button
from flows.i18n import t
from flows.money import format_money, format_totals


@dataclass(frozen=True)
class DealLine:
    id: int
    on: dt.date
    product: str
    amount: Decimal
    currency: str
    payment_method: str | None = None


def deal_lines(deals: tuple[DealLine, ...], totals: dict[str, Decimal], count: int, lang: str) -> list[str]:
    """The card's deals block: the customer's total, then the latest deals."""
    if not count:
        return []
    lines = [t(lang, "deal.card_total", count=count, total=format_totals(totals, lang))]
    for d in deals:
        lines.append(
            f"  • {format_date(d.on, lang)} {d.product[:30]}: {format_money(d.amount, d.currency, lang)}"
        )
    return lines


def card_rows(
    customer_id: int, may_edit: bool, may_propose: bool, may_manage: bool, deals: int, lang: str
) -> list[list[Button]]:
    """The card's buttons for deals, change requests, transfers and merges, as the user's rights allow."""
    rows: list[list[Button]] = []
    first: list[Button] = []
    if may_edit:
        first.append(Button(t(lang, "deal.btn.add"), f"g|deal|{customer_id}"))
    if deals:
        first.append(Button(t(lang, "deal.btn.list", count=deals), f"g|deals|{customer_id}"))
    if first:
        rows.append(first)
    if may_propose:
        rows.append([Button(t(lang, "req.btn.propose"), f"g|prop|{customer_id}")])
    if may_manage:
        rows.append(
            [
                Button(t(lang, "team.btn.transfer"), f"g|xfer|{customer_id}"),
                Button(t(lang, "merge.btn.merge"), f"g|mrg|{customer_id}"),
            ]
        )
    return rows

"""Deals (交易记录) under a customer: recorded, listed with the customer's total, edited with history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.team_card import DealLine
from storage import repo
from storage.models import Change, Customer, Deal, User

RECENT = 3


async def editable_customer(session: AsyncSession, user: User, customer_id: int) -> Customer | None:
    """The customer if the user may record or change its deals (the owner, their manager, an admin)."""
    customer = await repo.visible_customer(session, user, customer_id)
    owners = await repo.team_ids(session, user)
    return customer if customer is not None and repo.may_edit(user, owners, customer) else None


async def record(
    session: AsyncSession, user: User, customer_id: int, answers: dict[str, Any], now: dt.datetime
) -> tuple[Deal, bool]:
    """Save a deal; also says whether it is the customer's first (which offers status "deal")."""
    customer = await editable_customer(session, user, customer_id)
    if customer is None:
        raise repo.NotAllowed(f"customer {customer_id}")
    before = await count(session, customer_id)
    money = answers["amount"]
    deal = Deal(
        customer_id=customer_id,
        on=dt.date.fromisoformat(answers["on"]),
        product=answers["product"],
        amount=Decimal(money["amount"]),
        currency=money["currency"],
        payment_method=answers.get("payment_method"),
        created_by=user.id,
        created_at=now,
    )
    session.add(deal)
    customer.updated_at = now
    await session.flush()
    return deal, before == 0


async def count(session: AsyncSession, customer_id: int) -> int:
    query = select(func.count()).select_from(Deal).where(Deal.customer_id == customer_id)
    return int((await session.execute(query)).scalar_one())


def _line(d: Deal) -> DealLine:
    return DealLine(d.id, d.on, d.product, Decimal(str(d.amount)), d.currency, d.payment_method)


async def of_customer(
    session: AsyncSession, customer_id: int, limit: int | None = RECENT
) -> tuple[list[DealLine], dict[str, Decimal], int]:
    """The latest deals, the total per currency and how many there are."""
    query = select(Deal).where(Deal.customer_id == customer_id).order_by(Deal.on.desc(), Deal.id.desc())
    if limit is not None:
        query = query.limit(limit)
    latest = [_line(d) for d in (await session.execute(query)).scalars()]
    sums = await session.execute(
        select(Deal.currency, func.sum(Deal.amount), func.count())
        .where(Deal.customer_id == customer_id)
        .group_by(Deal.currency)
    )
    totals: dict[str, Decimal] = {}
    n = 0
    for currency, total, k in sums.all():
        totals[currency] = Decimal(str(total)).quantize(Decimal("0.01"))
        n += int(k)
    return latest, totals, n


async def editable_deal(session: AsyncSession, user: User, deal_id: int) -> DealLine | None:
    deal = await session.get(Deal, deal_id)
    if deal is None or await editable_customer(session, user, deal.customer_id) is None:
        return None
    return _line(deal)


async def customer_of(session: AsyncSession, deal_id: int) -> int | None:
    deal = await session.get(Deal, deal_id)
    return deal.customer_id if deal is not None else None


async def edit(
    session: AsyncSession, user: User, deal_id: int, field: str, value: Any, reason: str, now: dt.datetime
) -> Change:
    """Change one field of a deal and keep who, when, old, new and why, as every record does."""
    deal = await session.get(Deal, deal_id)
    if deal is None or await editable_customer(session, user, deal.customer_id) is None:
        raise repo.NotAllowed(f"deal {deal_id}")
    if field == "amount":
        old = f"{deal.amount} {deal.currency}"
        deal.amount = Decimal(value["amount"])  # type: ignore[assignment]  # Numeric holds Decimals
        deal.currency = value["currency"]
        new = f"{value['amount']} {value['currency']}"
    elif field == "on":
        old, deal.on, new = deal.on.isoformat(), dt.date.fromisoformat(value), value
    elif field in ("product", "payment_method"):
        old = getattr(deal, field)
        setattr(deal, field, value)
        new = value
    else:
        raise ValueError(f"not a deal field: {field}")
    change = Change(
        entity="deal",
        entity_id=deal.id,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        reason=reason,
        user_id=user.id,
        at=now,
    )
    session.add(change)
    await session.flush()
    return change

"""Quality numbers, the database part: the people a user may see numbers for, and the rows of a period
(flows/stats.py does the counting)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, Customer, FollowUp, User
from storage.repo import team_ids


@dataclass
class PeriodRows:
    people: dict[int, str]
    customers: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    followups: list[dict[str, Any]]
    pending: dict[int, int]
    overdue: dict[int, int]


async def people_of(session: AsyncSession, user: User) -> dict[int, str]:
    """Sales: themselves; a manager: themselves and the people under them; an admin: every active user."""
    owners = await team_ids(session, user)
    query = select(User.id, User.name).where(User.active.is_(True)).order_by(User.id)
    if owners is not None:
        query = query.where(User.id.in_(owners))
    return {uid: name for uid, name in (await session.execute(query)).all()}


async def period_rows(
    session: AsyncSession, people: dict[int, str], start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> PeriodRows:
    ids = list(people)
    live = Customer.merged_into_id.is_(None)
    customers = [
        dict(r._mapping)
        for r in await session.execute(
            select(
                Customer.owner_id.label("who"), Customer.kind, Customer.name, Customer.credit_code,
                Customer.status, Customer.industry, Customer.address, Customer.phone, Customer.email,
                Customer.source, Customer.pending,
            ).where(live, Customer.owner_id.in_(ids), Customer.created_at >= start, Customer.created_at < end)
        )
    ]  # fmt: skip
    contacts = [
        dict(r._mapping)
        for r in await session.execute(
            select(Customer.owner_id.label("who"), Contact.name, Contact.phone, Contact.email, Contact.role,
                   Contact.pending)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(live, Customer.owner_id.in_(ids), Contact.created_at >= start, Contact.created_at < end)
        )
    ]  # fmt: skip
    followups = [
        dict(r._mapping)
        for r in await session.execute(
            select(
                FollowUp.created_by.label("who"), FollowUp.occurred_on, FollowUp.mode, FollowUp.content,
                FollowUp.demand_status, FollowUp.next_at, FollowUp.pending, FollowUp.entry_delay_hours,
            ).where(FollowUp.created_by.in_(ids), FollowUp.created_at >= start, FollowUp.created_at < end)
        )
    ]  # fmt: skip
    pending: dict[int, int] = {}
    for owner_id, fields in await session.execute(
        select(Customer.owner_id, Customer.pending).where(live, Customer.owner_id.in_(ids))
    ):
        pending[owner_id] = pending.get(owner_id, 0) + len(fields or [])
    for owner_id, fields in await session.execute(
        select(Customer.owner_id, Contact.pending)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(live, Customer.owner_id.in_(ids), Contact.active.is_(True))
    ):
        pending[owner_id] = pending.get(owner_id, 0) + len(fields or [])
    overdue = {
        owner_id: int(n)
        for owner_id, n in await session.execute(
            select(Customer.owner_id, func.count(FollowUp.id))
            .join(Customer, Customer.id == FollowUp.customer_id)
            .where(live, Customer.owner_id.in_(ids), FollowUp.next_done.is_(False), FollowUp.next_at < now)
            .group_by(Customer.owner_id)
        )
    }
    return PeriodRows(people, customers, contacts, followups, pending, overdue)


async def managers(session: AsyncSession) -> list[User]:
    """Who receives the monthly report: active managers (and admins, for the whole team)."""
    rows = await session.execute(
        select(User).where(User.active.is_(True), User.role.in_(("manager", "admin"))).order_by(User.id)
    )
    return list(rows.scalars())


async def audit_exists(session: AsyncSession, action: str, detail: str) -> bool:
    from storage.models import Audit

    found = await session.execute(
        select(Audit.id).where(Audit.action == action, Audit.detail == detail).limit(1)
    )
    return found.first() is not None


async def audit_details(session: AsyncSession, action: str, limit: int = 50) -> list[str]:
    """The newest audit details of one action (e.g. the follow-ups offered for redaction)."""
    from storage.models import Audit

    rows = await session.execute(
        select(Audit.detail).where(Audit.action == action).order_by(Audit.id.desc()).limit(limit)
    )
    return [d for d in rows.scalars() if d]

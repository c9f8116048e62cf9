"""A manager's morning: what the digest adds (change requests waiting, the team's overdue follow-ups
per person, yesterday's new customers). Imported by storage/reminders.py's digest, so it imports
nothing that leads back there."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import ChangeRequest, Customer, FollowUp, User


async def waiting_query(session: AsyncSession, user: User) -> Any:
    """(request, customer) rows of pending change requests the user may decide."""
    owners = await repo.team_ids(session, user)
    query = select(ChangeRequest, Customer).join(Customer, Customer.id == ChangeRequest.customer_id)
    query = query.where(ChangeRequest.state == "pending", Customer.merged_into_id.is_(None))
    if owners is not None:
        query = query.where(Customer.owner_id.in_(set(owners)))  # decided by the owners' side, not regions
    if user.role == "sales":
        query = query.where(Customer.owner_id == user.id)
    return query


async def manager_morning(
    session: AsyncSession, user: User, now: dt.datetime, tz: dt.tzinfo
) -> tuple[int, tuple[tuple[str, int], ...], tuple[str, ...]]:
    """(change requests waiting for the user, the team's overdue follow-ups per person, the
    customers the team created yesterday in the user's zone); only the first for sales."""
    waiting = await waiting_query(session, user)
    requests = int((await session.execute(select(func.count()).select_from(waiting.subquery()))).scalar_one())
    if user.role == "sales":
        return requests, (), ()
    owners = await repo.team_ids(session, user)
    people = select(User.id).where(User.id != user.id, User.active.is_(True))
    if owners is not None:
        people = people.where(User.id.in_(set(owners)))
    overdue = await session.execute(
        select(User.name, func.count())
        .select_from(FollowUp)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .join(User, User.id == Customer.owner_id)
        .where(
            Customer.owner_id.in_(people),
            Customer.merged_into_id.is_(None),
            FollowUp.next_done.is_(False),
            FollowUp.next_at < now,
        )
        .group_by(User.name)
        .order_by(func.count().desc(), User.name)
        .limit(8)
    )
    local = now.astimezone(tz).date()
    start = dt.datetime.combine(local - dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(local, dt.time(0), tzinfo=tz)
    new = await session.execute(
        repo._visible(select(Customer.name), owners)
        .where(Customer.created_at >= start, Customer.created_at < end)
        .order_by(Customer.created_at)
    )
    return requests, tuple((n, int(k)) for n, k in overdue.all()), tuple(new.scalars().all())

"""A manager's view of the customers: scopes (mine, my team, one person, everyone), /list filters,
the regions a manager looks after, and the lines lists show.

Visibility is repo.team_ids / repo._visible, extended (not forked) with regions, so /list and
/my can never show what /find and the card would refuse.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, and_, cast, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.team import Filter, Line
from storage import repo
from storage.models import Contact, Customer, FollowUp, User, UserRegion

SILENT_DAYS = 30


# ---------------------------------------------------------------- regions


async def set_regions(session: AsyncSession, telegram_id: int, regions: Sequence[str]) -> User:
    """Replace the regions of a manager (provinces or cities, as customers' addresses name them)."""
    user = await repo.user_by_telegram(session, telegram_id)
    if user is None:
        raise ValueError(f"no user with Telegram id {telegram_id}")
    if regions and user.role != "manager":
        raise ValueError("only a manager can be given regions")
    await session.execute(delete(UserRegion).where(UserRegion.user_id == user.id))
    for region in dict.fromkeys(r.strip() for r in regions if r.strip()):
        session.add(UserRegion(user_id=user.id, region=region[:32]))
    await session.flush()
    await repo.audit(session, None, "user_regions", f"user {user.id}: {len(regions)} regions")
    return user


async def regions_of(session: AsyncSession, user_id: int) -> list[str]:
    rows = await session.execute(select(UserRegion.region).where(UserRegion.user_id == user_id))
    return sorted(rows.scalars())


# ---------------------------------------------------------------- scopes


async def team_members(session: AsyncSession, user: User) -> list[User]:
    """The people whose customers a manager may list one by one (not themselves); everyone for an admin."""
    owners = await repo.team_ids(session, user)
    query = select(User).where(User.id != user.id, User.active.is_(True)).order_by(User.name)
    if owners is not None:
        query = query.where(User.id.in_(owners))
    return list((await session.execute(query)).scalars().all())


def _scope_where(user: User, owners: set[int] | None, scope: str) -> Any | None:
    """The owner condition of a scope; None when the user may not use it."""
    if scope == "mine":
        return Customer.owner_id == user.id
    if scope == "team":
        return True  # everything the user may see: their team's and their regions' customers
    if scope == "all":
        return True if owners is None else None
    if scope.startswith("u") and scope[1:].isdecimal() and len(scope) < 12:
        person = int(scope[1:])
        return Customer.owner_id == person if owners is None or person in owners else None
    return None


async def _lines(session: AsyncSession, customers: Sequence[Customer]) -> list[Line]:
    ids = [c.id for c in customers]
    if not ids:
        return []
    owners = dict(
        (
            await session.execute(
                select(User.id, User.name).where(User.id.in_({c.owner_id for c in customers}))
            )
        ).all()
    )
    mains: dict[int, str] = {}
    rows = await session.execute(
        select(Contact.customer_id, Contact.name)
        .where(Contact.customer_id.in_(ids), Contact.active.is_(True))
        .order_by(Contact.id)
    )
    for cid, name in rows:
        mains.setdefault(cid, name)
    due = dict(
        (
            await session.execute(
                select(FollowUp.customer_id, func.min(FollowUp.next_at))
                .where(FollowUp.customer_id.in_(ids), FollowUp.next_done.is_(False))
                .group_by(FollowUp.customer_id)
            )
        ).all()
    )
    return [
        Line(c.id, c.name, mains.get(c.id), c.intent, c.status, owners.get(c.owner_id, ""), due.get(c.id))
        for c in customers
    ]


async def _page(session: AsyncSession, query: Any, offset: int, limit: int) -> tuple[list[Line], int]:
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (
        await session.execute(query.order_by(Customer.name, Customer.id).offset(offset).limit(limit))
    ).scalars()
    return await _lines(session, list(rows)), int(total)


async def scoped(
    session: AsyncSession, user: User, scope: str, offset: int, limit: int
) -> tuple[list[Line], int] | None:
    """One page of /my in a scope; None when the scope is not the user's to use (a forged button)."""
    owners = await repo.team_ids(session, user)
    where = _scope_where(user, owners, scope)
    if where is None:
        return None
    query = repo._visible(select(Customer), owners)
    if where is not True:
        query = query.where(where)
    return await _page(session, query, offset, limit)


# ---------------------------------------------------------------- /list filters


async def vocabulary(session: AsyncSession, user: User) -> tuple[set[str], set[str], set[str]]:
    """The places, tags and owner names among the customers the user may see: what /list words mean."""
    owners = await repo.team_ids(session, user)
    rows = await session.execute(
        repo._visible(select(Customer.province, Customer.city, Customer.tags, User.name), owners).join(
            User, User.id == Customer.owner_id
        )
    )
    places: set[str] = set()
    tags: set[str] = set()
    names: set[str] = set()
    for province, city, tag_list, owner in rows:
        places |= {p for p in (province, city) if p}
        tags |= set(tag_list or ())
        names.add(owner)
    return places, tags, names


def _tag_match(tag: str) -> Any:
    """A tag among the JSON list, on both backends: the element as JSON text (quotes and all)."""
    needle = json.dumps(tag)  # as SQLAlchemy's JSON type writes it (ASCII, \\u escapes)
    escaped = needle.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return cast(Customer.tags, String).like(f"%{escaped}%", escape="!")


def _place_match(place: str) -> Any:
    variants = {place, place.removesuffix("市"), place.removesuffix("省"), f"{place}市", f"{place}省"}
    return or_(Customer.province.in_(variants), Customer.city.in_(variants))


async def filtered(
    session: AsyncSession, user: User, f: Filter, now: dt.datetime, offset: int, limit: int
) -> tuple[list[Line], int]:
    """One page of the customers the user may see that pass every part of the filter."""
    owners = await repo.team_ids(session, user)
    query = repo._visible(select(Customer), owners)
    for attr in ("status", "intent", "grade", "industry"):
        value = getattr(f, attr)
        if value:
            query = query.where(getattr(Customer, attr) == value)
    if f.place:
        query = query.where(_place_match(f.place))
    if f.tag:
        query = query.where(_tag_match(f.tag))
    if f.owner:
        query = query.where(Customer.owner_id.in_(select(User.id).where(User.name == f.owner)))
    if f.overdue:
        query = query.where(
            exists().where(
                FollowUp.customer_id == Customer.id,
                FollowUp.next_done.is_(False),
                FollowUp.next_at < now,
            )
        )
    if f.pending:
        query = query.where(Customer.pending_since.is_not(None))
    if f.silent:
        before = now - dt.timedelta(days=SILENT_DAYS)
        query = query.where(
            and_(
                func.coalesce(Customer.last_contact_at, Customer.created_at) < before,
                or_(Customer.status.is_(None), Customer.status != "lost"),
            )
        )
    return await _page(session, query, offset, limit)


async def owner_name(session: AsyncSession, user_id: int) -> str | None:
    user = await session.get(User, user_id)
    return user.name if user is not None else None

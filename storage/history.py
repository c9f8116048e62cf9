"""What a customer's History and Changes buttons read: its follow-ups page by page, one in full, and
every change to the customer, its contacts and its follow-ups (who, when, old → new, reason)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.history import ChangeLine, FollowUpDetail, FollowUpItem
from storage import repo
from storage.models import Change, Contact, FollowUp, User


async def count_followups(session: AsyncSession, customer_id: int) -> int:
    query = select(func.count()).select_from(FollowUp).where(FollowUp.customer_id == customer_id)
    return int((await session.execute(query)).scalar_one())


async def followups_page(
    session: AsyncSession, customer_id: int, offset: int, limit: int
) -> tuple[list[FollowUpItem], int]:
    """Newest first (by the day it happened, then by entry), with the total for paging."""
    rows = await session.execute(
        select(FollowUp, Contact.name)
        .outerjoin(Contact, Contact.id == FollowUp.contact_id)
        .where(FollowUp.customer_id == customer_id)
        .order_by(FollowUp.occurred_on.desc(), FollowUp.id.desc())
        .offset(offset)
        .limit(limit)
    )
    items = [
        FollowUpItem(f.id, f.occurred_on, f.mode, f.content, contact, tuple(f.pending or ()))
        for f, contact in rows.all()
    ]
    return items, await count_followups(session, customer_id)


async def followup_detail(
    session: AsyncSession, user: User, followup_id: int, tz: dt.tzinfo
) -> FollowUpDetail | None:
    """One follow-up in full, if the user may see its customer (None: forged or not theirs)."""
    found = await repo.visible_followup(session, user, followup_id)
    if found is None:
        return None
    f, customer = found
    contact = await session.get(Contact, f.contact_id) if f.contact_id else None
    author = await session.get(User, f.created_by)
    owners = await repo.team_ids(session, user)
    return FollowUpDetail(
        id=f.id,
        customer_id=customer.id,
        customer=customer.name,
        occurred_on=f.occurred_on,
        mode=f.mode,
        content=f.content,
        contact=contact.name if contact else None,
        demand_status=f.demand_status,
        next_at=f.next_at.astimezone(tz) if f.next_at else None,
        next_done=f.next_done,
        participants=f.participants,
        location=(f.latitude, f.longitude) if f.latitude is not None and f.longitude is not None else None,
        pending=tuple(f.pending or ()),
        entered_at=f.created_at.astimezone(tz),
        entered_by=author.name if author else "",
        delay_hours=float(f.entry_delay_hours or 0.0),
        may_edit=repo.may_edit(user, owners, customer),
    )


def _about(customer_id: int) -> ColumnElement[bool]:
    """Changes to the customer itself, to any of its contacts, or to any of its follow-ups."""
    contacts = select(Contact.id).where(Contact.customer_id == customer_id)
    followups = select(FollowUp.id).where(FollowUp.customer_id == customer_id)
    return or_(
        and_(Change.entity == "customer", Change.entity_id == customer_id),
        and_(Change.entity == "contact", Change.entity_id.in_(contacts)),
        and_(Change.entity == "followup", Change.entity_id.in_(followups)),
    )


async def count_changes(session: AsyncSession, customer_id: int) -> int:
    query = select(func.count()).select_from(Change).where(_about(customer_id))
    return int((await session.execute(query)).scalar_one())


async def changes_page(
    session: AsyncSession, customer_id: int, offset: int, limit: int, tz: dt.tzinfo
) -> tuple[list[ChangeLine], int]:
    """Newest first; each with who made it and, for a contact or follow-up, which one."""
    rows = await session.execute(
        select(Change, User.name)
        .join(User, User.id == Change.user_id)
        .where(_about(customer_id))
        .order_by(Change.at.desc(), Change.id.desc())
        .offset(offset)
        .limit(limit)
    )
    found = rows.all()
    contact_ids = {c.entity_id for c, _ in found if c.entity == "contact"}
    followup_ids = {c.entity_id for c, _ in found if c.entity == "followup"}
    names: dict[int, str] = {}
    days: dict[int, dt.date] = {}
    if contact_ids:
        query = select(Contact.id, Contact.name).where(Contact.id.in_(contact_ids))
        names = {i: n for i, n in (await session.execute(query)).all()}
    if followup_ids:
        on = select(FollowUp.id, FollowUp.occurred_on).where(FollowUp.id.in_(followup_ids))
        days = {i: d for i, d in (await session.execute(on)).all()}
    lines = [
        ChangeLine(
            at=c.at.astimezone(tz),
            who=who,
            entity=c.entity,
            field=c.field,
            old=c.old_value,
            new=c.new_value,
            reason=c.reason,
            contact=names.get(c.entity_id) if c.entity == "contact" else None,
            day=days.get(c.entity_id) if c.entity == "followup" else None,
        )
        for c, who in found
    ]
    return lines, await count_changes(session, customer_id)

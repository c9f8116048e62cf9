"""Whether a claimed reminder is still true, and what it is about, read just before it is sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows import reminders as rules
from storage.models import Contact, Customer, FollowUp, Reminder, User


@dataclass
class Subject:
    """Who owns what the reminder is about, and its facts (None for a digest: built per recipient)."""

    owner_id: int
    recipient: User | None
    facts: rules.Facts | None


async def subject(s: AsyncSession, row: Reminder, now: dt.datetime | None = None) -> Subject | str:
    """The reminder's subject if it still holds; else why it no longer does (a short code)."""
    now = now or dt.datetime.now(dt.UTC)
    if row.kind == "digest":
        user = await s.get(User, row.user_id)
        if user is None or not user.active:
            return "inactive"
        return Subject(user.id, user, None)
    if row.kind == "due":
        return await _due(s, row)
    if row.kind in ("nocontact", "noupdate"):
        return await _customer(s, row, now)
    if row.kind == "pending":
        return await _pending(s, row)
    if row.kind == "birthday":
        return await _birthday(s, row)
    if row.kind == "notice":  # a message for one person (a transfer, a change request): always true
        facts = rules.Facts("notice", row.id, row.customer_id or 0, "", notice=dict(row.detail or {}))
        return Subject(row.user_id, None, facts)
    return "unknown"


async def _due(s: AsyncSession, row: Reminder) -> Subject | str:
    f = await s.get(FollowUp, row.followup_id) if row.followup_id else None
    if f is None or f.next_done:
        return "done"
    if f.next_at is None or row.ref_at is None or f.next_at != row.ref_at:
        return "moved"
    customer = await s.get(Customer, f.customer_id)
    if customer is None or customer.merged_into_id is not None:
        return "merged"
    contact = await s.get(Contact, f.contact_id) if f.contact_id else None
    facts = rules.Facts(
        "due", row.id, customer.id, customer.name, f.content, f.next_at, contact.name if contact else None
    )
    return Subject(customer.owner_id, None, facts)


async def _customer(s: AsyncSession, row: Reminder, now: dt.datetime) -> Subject | str:
    customer = await s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or customer.merged_into_id is not None or customer.status == "lost":
        return "gone"
    if row.kind == "nocontact":
        anchor = customer.last_contact_at or customer.created_at
        if anchor != row.ref_at:
            return "contacted"
        planned = await s.execute(
            select(
                exists().where(
                    FollowUp.customer_id == customer.id,
                    FollowUp.next_done.is_(False),
                    FollowUp.next_at > now,  # an overdue plan is not contact
                )
            )
        )
        if planned.scalar():
            return "planned"
    else:
        anchor = customer.updated_at
        if anchor != row.ref_at:
            return "updated"
    facts = rules.Facts(
        row.kind,
        row.id,
        customer.id,
        customer.name,
        at=anchor,
        never_contacted=customer.last_contact_at is None,
    )
    return Subject(customer.owner_id, None, facts)


async def _pending(s: AsyncSession, row: Reminder) -> Subject | str:
    record = str((row.detail or {}).get("record", "customer"))
    customer = await s.get(Customer, row.customer_id) if row.customer_id else None
    if customer is None or customer.merged_into_id is not None:
        return "gone"
    holder: Customer | Contact | FollowUp | None = customer
    contact_name = None
    day = None
    if record == "contact":
        holder = await s.get(Contact, row.contact_id) if row.contact_id else None
        if holder is None or not holder.active:
            return "gone"
        contact_name = holder.name
    elif record == "followup":
        holder = await s.get(FollowUp, row.followup_id) if row.followup_id else None
        if holder is None or holder.customer_id != customer.id:
            return "gone"
        day = holder.occurred_on
    assert holder is not None
    if not holder.pending or holder.pending_since != row.ref_at or row.ref_at is None:
        return "filled"
    facts = rules.Facts(
        "pending",
        row.id,
        customer.id,
        customer.name,
        at=row.ref_at,
        contact=contact_name,
        fields=tuple(holder.pending),
        record=record,
        day=day,
    )
    return Subject(customer.owner_id, None, facts)


async def _birthday(s: AsyncSession, row: Reminder) -> Subject | str:
    contact = await s.get(Contact, row.contact_id) if row.contact_id else None
    if contact is None or not contact.active:
        return "gone"
    day = dt.date.fromisoformat(str((row.detail or {}).get("day")))
    if not rules.birthday_on(contact.birthday, day):
        return "changed"
    customer = await s.get(Customer, contact.customer_id)
    if customer is None or customer.merged_into_id is not None:
        return "gone"
    ahead = int((row.detail or {}).get("ahead", 0))
    facts = rules.Facts(
        "birthday", row.id, customer.id, customer.name, contact=contact.name, day=day, ahead=ahead
    )
    return Subject(customer.owner_id, None, facts)

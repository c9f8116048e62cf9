"""What a reminder's buttons act on, and the acts themselves, each kept in the change history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from storage import repo
from storage.models import Change, Contact, Customer, FollowUp, Reminder, User
from storage.reminders import reminder_by_id


@dataclass
class Target:
    """A reminder row with the records it names, after checking the user may see its customer."""

    row: Reminder
    customer: Customer
    followup: FollowUp | None
    contact: Contact | None
    may_edit: bool


async def target(session: AsyncSession, user: User, reminder_id: int) -> Target | None:
    """None when there is no such reminder or its customer is not the user's to see (forged data)."""
    row = await reminder_by_id(session, reminder_id)
    if row is None:
        return None
    followup = await session.get(FollowUp, row.followup_id) if row.followup_id else None
    contact = await session.get(Contact, row.contact_id) if row.contact_id else None
    customer_id = followup.customer_id if followup else contact.customer_id if contact else row.customer_id
    customer = await repo.visible_customer(session, user, customer_id) if customer_id else None
    if customer is None:
        return None
    owners = await repo.team_ids(session, user)
    return Target(row, customer, followup, contact, repo.may_edit(user, owners, customer))


async def followup_contact(session: AsyncSession, target: Target) -> Contact | None:
    """The contact to pre-fill when logging from a reminder: the reminder's, else the follow-up's."""
    contact = target.contact
    if contact is None and target.followup is not None and target.followup.contact_id:
        contact = await session.get(Contact, target.followup.contact_id)
    if contact is not None and contact.active and contact.customer_id == target.customer.id:
        return contact
    return None


def _history(
    session: AsyncSession,
    followup: FollowUp,
    field: str,
    old: str | None,
    new: str | None,
    user_id: int,
    reason: str,
    now: dt.datetime,
) -> None:
    session.add(
        Change(
            entity="followup",
            entity_id=followup.id,
            field=field,
            old_value=old,
            new_value=new,
            reason=reason,
            user_id=user_id,
            at=now,
        )
    )


def mark_done(session: AsyncSession, followup: FollowUp, user_id: int, reason: str, now: dt.datetime) -> None:
    followup.next_done = True
    _history(session, followup, "next_done", "no", "yes", user_id, reason, now)


def move(
    session: AsyncSession, followup: FollowUp, at: dt.datetime, user_id: int, reason: str, now: dt.datetime
) -> None:
    """A new time for the follow-up: a new occurrence, reminded again when it comes."""
    old = followup.next_at
    followup.next_at = at.astimezone(dt.UTC)
    _history(
        session,
        followup,
        "next_at",
        old.isoformat() if old else None,
        followup.next_at.isoformat(),
        user_id,
        reason,
        now,
    )


def verify(customer: Customer, now: dt.datetime) -> None:
    """ "Still correct": the data was checked, so the 90-day verification starts again."""
    customer.updated_at = now

"""Read models for the chat: what a customer card shows, gathered in one place for every feature."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.views import DETAIL_FIELDS, ContactLine, CustomerView, FollowUpLine
from storage import deals, history, repo
from storage.files import attachments_of
from storage.models import Contact, User

RECENT = 3


async def customer_view(
    session: AsyncSession, user: User, customer_id: int, tz: dt.tzinfo
) -> CustomerView | None:
    """The card of a customer the user may see (None: not visible, so a forged id learns nothing)."""
    customer = await repo.visible_customer(session, user, customer_id)
    if customer is None:
        return None
    ref = await repo.customer_ref(session, customer)
    recent = await repo.followups_of(session, customer.id, RECENT)
    files = await attachments_of(session, customer.id)
    due = await repo.next_due(session, customer.id)
    located = next((f for f in recent if f.latitude is not None and f.longitude is not None), None)
    owners = await repo.team_ids(session, user)
    may_edit = repo.may_edit(user, owners, customer)
    latest, totals, deal_count = await deals.of_customer(session, customer.id)
    return CustomerView(
        id=customer.id,
        number=customer.number,
        name=customer.name,
        status=customer.status,
        intent=customer.intent,
        industry=customer.industry,
        phone=customer.phone,
        email=customer.email,
        address=customer.address,
        owner_name=ref.owner_name or "",
        pending=tuple(customer.pending),
        contacts=ref.contacts,
        recent=tuple(FollowUpLine(f.occurred_on, f.mode, f.content) for f in recent),
        next_at=due.next_at.astimezone(tz) if due and due.next_at else None,
        location=(located.latitude, located.longitude)
        if located and located.latitude and located.longitude
        else None,
        may_edit=repo.may_edit(user, owners, customer),
        tags=tuple(customer.tags or ()),
        files=len(files),
        details={k: getattr(customer, k) for k in DETAIL_FIELDS},
        people=tuple(await contact_lines(session, customer.id)),
        followups=await history.count_followups(session, customer.id),
        changes=await history.count_changes(session, customer.id),
        deals=tuple(latest),
        deal_totals=totals,
        deal_count=deal_count,
        may_manage=repo.may_manage(user, owners, customer),
        may_propose=not may_edit,
    )


async def contact_lines(session: AsyncSession, customer_id: int) -> list[ContactLine]:
    """The customer's contacts in full, active ones first."""
    rows = await session.execute(
        select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.active.desc(), Contact.id)
    )
    return [
        ContactLine(c.id, c.name, c.position, c.role, c.phone, c.email, c.active, tuple(c.pending or ()))
        for c in rows.scalars()
    ]


async def customer_of_contact(session: AsyncSession, contact_id: int) -> int | None:
    """The customer a contact belongs to (None: no such contact)."""
    contact = await repo.contact_by_id(session, contact_id)
    return contact.customer_id if contact is not None else None


async def attachment_list(session: AsyncSession, customer_id: int) -> list[dict[str, str | None]]:
    """A customer's stored files, as the front ends send them back (by Telegram file id, else from disk)."""
    return [
        {"path": f.path, "name": f.file_name, "file_id": f.telegram_file_id, "kind": f.kind}
        for f in await attachments_of(session, customer_id)
    ]

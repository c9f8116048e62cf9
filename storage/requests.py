"""Change requests: someone who may see a record but not edit it proposes a change with a reason;
the owner or the owner's manager approves or rejects it in the chat.

A request keeps the value the proposer saw. If the record changed meanwhile the request is stale:
approving it needs the approver to have seen the value it would overwrite (approve "anyway").
An approved request is applied through repo.apply_edit, so the history row is the ordinary one,
naming the approver as who changed it and the proposer in `proposed_by`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.team import notice
from storage import notices, repo
from storage.models import ChangeRequest, Contact, Customer, User
from storage.morning import waiting_query


@dataclass(frozen=True)
class RequestView:
    id: int
    customer_id: int
    customer: str
    entity: str
    field: str
    old: str | None
    new: str | None
    current: str | None
    reason: str
    proposer: str
    state: str

    @property
    def stale(self) -> bool:
        return self.current != self.old


async def _record(session: AsyncSession, entity: str, entity_id: int) -> Customer | Contact | None:
    if entity == "customer":
        return await session.get(Customer, entity_id)
    return await session.get(Contact, entity_id)


def _current(record: Customer | Contact, field: str) -> str | None:
    if isinstance(record, Customer):
        values = repo.current_customer_values(record)
    else:
        values = repo.current_contact_values(record)
    return repo._plain(values.get(field))


async def proposable(
    session: AsyncSession, user: User, entity: str, entity_id: int
) -> tuple[Customer, dict[str, Any]] | None:
    """(customer, current values) of a record the user may see but not edit; else None."""
    record = await _record(session, entity, entity_id)
    if record is None:
        return None
    customer_id = record.id if isinstance(record, Customer) else record.customer_id
    customer = await repo.visible_customer(session, user, customer_id)
    if customer is None or repo.may_edit(user, await repo.team_ids(session, user), customer):
        return None
    if isinstance(record, Customer):
        return customer, repo.current_customer_values(record)
    return customer, repo.current_contact_values(record)


async def deciders(session: AsyncSession, customer: Customer) -> list[User]:
    """The owner and the owner's manager: who receives a request and may decide it."""
    owner = await session.get(User, customer.owner_id)
    people = [owner] if owner is not None and owner.active else []
    if owner is not None and owner.manager_id is not None:
        manager = await session.get(User, owner.manager_id)
        if manager is not None and manager.active:
            people.append(manager)
    return people


async def propose(
    session: AsyncSession,
    user: User,
    entity: str,
    entity_id: int,
    field: str,
    value: Any,
    reason: str,
    now: dt.datetime,
) -> ChangeRequest:
    found = await proposable(session, user, entity, entity_id)
    if found is None:
        raise repo.NotAllowed(f"{entity} {entity_id}")
    customer, current = found
    request = ChangeRequest(
        entity=entity,
        entity_id=entity_id,
        customer_id=customer.id,
        field=field,
        old_value=repo._plain(current.get(field)),
        new_value={"value": value},
        new_text=repo._plain(value),
        reason=reason[:200],
        proposer_id=user.id,
        state="pending",
        created_at=now,
    )
    session.add(request)
    await session.flush()
    for person in await deciders(session, customer):
        detail = notice(
            "req.notice",
            {
                "proposer": user.name,
                "customer": customer.name,
                "field_key": f"f.{entity}.{field}",
                "old": request.old_value or "—",
                "new": request.new_text or "—",
                "reason": request.reason,
            },
            [("req.btn.approve", f"g|crq|a|{request.id}"), ("req.btn.reject", f"g|crq|r|{request.id}")],
        )
        await notices.notify(session, person.id, f"req:{request.id}:{person.id}", detail, now, customer.id)
    return request


async def decidable(session: AsyncSession, user: User, request_id: int) -> RequestView | None:
    """The request if the user may decide it (owner, a manager above the owner, admin); else None."""
    request = await session.get(ChangeRequest, request_id)
    if request is None:
        return None
    customer = await repo.visible_customer(session, user, request.customer_id)
    if customer is None or not repo.may_edit(user, await repo.team_ids(session, user), customer):
        return None
    return await _view(session, request, customer)


async def _view(session: AsyncSession, request: ChangeRequest, customer: Customer) -> RequestView:
    record = await _record(session, request.entity, request.entity_id)
    proposer = await session.get(User, request.proposer_id)
    return RequestView(
        id=request.id,
        customer_id=customer.id,
        customer=customer.name,
        entity=request.entity,
        field=request.field,
        old=request.old_value,
        new=request.new_text,
        current=_current(record, request.field) if record is not None else None,
        reason=request.reason,
        proposer=proposer.name if proposer else "",
        state=request.state,
    )


def seen(value: str | None) -> str:
    """A short fingerprint of the value an approver was shown (fits in a button's data)."""
    return hashlib.sha256((value or "").encode()).hexdigest()[:10]


async def approve(
    session: AsyncSession, user: User, request_id: int, now: dt.datetime, *, seen_current: str | None = None
) -> RequestView:
    """Apply a pending request. A stale one only when `seen_current` is the fingerprint of the value
    stored now, i.e. the approver was shown what the change overwrites."""
    view = await decidable(session, user, request_id)
    request = await session.get(ChangeRequest, request_id)
    if view is None or request is None:
        raise repo.NotAllowed(f"request {request_id}")
    if view.state != "pending":
        raise ValueError("decided")
    if view.stale and seen_current != seen(view.current):
        raise ValueError("stale")
    change = await repo.apply_edit(
        session,
        user,
        request.entity,
        request.entity_id,
        request.field,
        request.new_value.get("value"),
        request.reason,
        now,
    )
    change.proposed_by = request.proposer_id
    request.state, request.decided_by, request.decided_at = "approved", user.id, now
    await _tell_proposer(session, request, view, now)
    return view


async def reject(
    session: AsyncSession, user: User, request_id: int, reason: str, now: dt.datetime
) -> RequestView:
    view = await decidable(session, user, request_id)
    request = await session.get(ChangeRequest, request_id)
    if view is None or request is None:
        raise repo.NotAllowed(f"request {request_id}")
    if view.state != "pending":
        raise ValueError("decided")
    request.state, request.decided_by, request.decided_at = "rejected", user.id, now
    request.decision_reason = reason[:200]
    await _tell_proposer(session, request, view, now)
    return view


async def _tell_proposer(
    session: AsyncSession, request: ChangeRequest, view: RequestView, now: dt.datetime
) -> None:
    decider = await session.get(User, request.decided_by) if request.decided_by else None
    detail = notice(
        f"req.outcome.{request.state}",
        {
            "customer": view.customer,
            "field_key": f"f.{view.entity}.{view.field}",
            "new": view.new or "—",
            "by": decider.name if decider else "",
            "reason": request.decision_reason or "",
        },
        [("xfer.btn.open", f"g|cust|{view.customer_id}")],
    )
    await notices.notify(session, request.proposer_id, f"reqdone:{request.id}", detail, now, view.customer_id)


async def waiting_for(session: AsyncSession, user: User, limit: int = 10) -> tuple[list[RequestView], int]:
    """Pending requests the user may decide (for /requests), oldest first, and how many there are."""
    query = await waiting_query(session, user)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await session.execute(query.order_by(ChangeRequest.id).limit(limit))).all()
    return [await _view(session, r, c) for r, c in rows], int(total)

"""Moving customers to another owner: one from the card, all of a person's from the chat (/handover)
or the command line, or a deactivated person's to a chosen heir. Each move is a change-history row
with the reason, the customer's open reminders follow it, and the new owner is told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flows.team import notice
from storage import notices, repo
from storage.models import Change, Customer, Reminder, User, utcnow
from storage.team import team_members

OPEN_REMINDERS = ("pending", "held")


async def candidates(session: AsyncSession, actor: User, customer: Customer) -> list[User]:
    """Whom the actor may hand the customer to: their team (themselves included), anyone for an admin."""
    owners = await repo.team_ids(session, actor)
    query = select(User).where(User.active.is_(True), User.id != customer.owner_id).order_by(User.name)
    if owners is not None:
        query = query.where(User.id.in_(set(owners)))
    return list((await session.execute(query)).scalars().all())


async def manageable(session: AsyncSession, actor: User, customer_id: int) -> Customer | None:
    """The customer if the actor may transfer or merge it (the owner's manager, or an admin)."""
    customer = await repo.visible_customer(session, actor, customer_id)
    if customer is None:
        return None
    owners = await repo.team_ids(session, actor)
    return customer if repo.may_manage(actor, owners, customer) else None


async def transfer(
    session: AsyncSession, actor: User, customer_id: int, to_user_id: int, reason: str, now: dt.datetime
) -> Customer:
    """One customer, from the chat: every right re-checked here, whatever the buttons said."""
    customer = await manageable(session, actor, customer_id)
    if customer is None:
        raise repo.NotAllowed(f"customer {customer_id}")
    allowed = {u.id for u in await candidates(session, actor, customer)}
    if to_user_id not in allowed:
        raise repo.NotAllowed(f"user {to_user_id}")
    to_user = await session.get(User, to_user_id)
    assert to_user is not None
    await _move(session, [customer], to_user, actor.id, reason, now)
    return customer


async def _move(
    session: AsyncSession,
    customers: Sequence[Customer],
    to_user: User,
    actor_id: int,
    reason: str,
    now: dt.datetime,
) -> int:
    names = dict((await session.execute(select(User.id, User.name))).all())
    moved = [c for c in customers if c.owner_id != to_user.id]
    for c in moved:
        session.add(
            Change(
                entity="customer",
                entity_id=c.id,
                field="owner",
                old_value=names.get(c.owner_id),
                new_value=to_user.name,
                reason=reason[:200],
                user_id=actor_id,
                at=now,
            )
        )
        c.owner_id = to_user.id
        c.updated_at = now
    ids = [c.id for c in moved]
    if ids:
        await session.execute(
            update(Reminder)
            .where(
                Reminder.customer_id.in_(ids), Reminder.state.in_(OPEN_REMINDERS), Reminder.kind != "notice"
            )
            .values(user_id=to_user.id)
        )
        stamp = now.strftime("%Y%m%d%H%M%S")
        if len(moved) == 1:
            c = moved[0]
            detail = notice("xfer.notice_one", {"name": c.name, "number": c.number, "reason": reason[:100]})
            detail["buttons"] = [["xfer.btn.open", f"g|cust|{c.id}"]]
        else:
            detail = notice("xfer.notice_many", {"count": len(moved), "reason": reason[:100]})
        await notices.notify(session, to_user.id, f"xfer:{to_user.id}:{ids[0]}:{stamp}", detail, now, ids[0])
    await session.flush()
    return len(moved)


async def _actor_for_cli(session: AsyncSession, fallback: User) -> int:
    """Whom the history names for a change made at the command line: an active admin, else the heir."""
    admin = (
        await session.execute(
            select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).limit(1)
        )
    ).scalar_one_or_none()
    return admin if admin is not None else fallback.id


async def transfer_all(
    session: AsyncSession, from_telegram: int, to_telegram: int, reason: str, now: dt.datetime | None = None
) -> int:
    """`crm-bot customers transfer --from ID --to ID`: every live customer of one person to another."""
    now = now or utcnow()
    source = await repo.user_by_telegram(session, from_telegram)
    target = await repo.user_by_telegram(session, to_telegram)
    if source is None or target is None:
        raise ValueError(f"no user with Telegram id {from_telegram if source is None else to_telegram}")
    if not target.active:
        raise ValueError(f"user {to_telegram} is deactivated")
    if source.id == target.id:
        raise ValueError("--from and --to are the same person")
    customers = (
        (
            await session.execute(
                select(Customer).where(Customer.owner_id == source.id, Customer.merged_into_id.is_(None))
            )
        )
        .scalars()
        .all()
    )
    moved = await _move(session, customers, target, await _actor_for_cli(session, target), reason, now)
    await repo.audit(session, None, "transfer", f"user {source.id} -> {target.id}: {moved} customers")
    return moved


async def deactivate_to(session: AsyncSession, telegram_id: int, heir_telegram: int) -> tuple[User, int]:
    """`crm-bot users deactivate ID --to ID`: access ends, and the chosen heir inherits the customers."""
    moved = await transfer_all(session, telegram_id, heir_telegram, "deactivated")
    user, rest = await repo.deactivate_user(session, telegram_id)  # anything left goes up the chain
    return user, moved + rest


async def handover_people(session: AsyncSession, actor: User) -> list[tuple[User, int]]:
    """Whose customers the actor may hand over from the chat, with how many live customers each has:
    a manager's people, everyone but themselves for an admin."""
    members = await team_members(session, actor)
    counts = await live_counts(session, [u.id for u in members])
    return [(u, counts.get(u.id, 0)) for u in members]


async def live_counts(session: AsyncSession, owner_ids: Sequence[int]) -> dict[int, int]:
    """How many live (not merged-away) customers each of these people owns; absent: none."""
    rows = await session.execute(
        select(Customer.owner_id, func.count())
        .where(Customer.owner_id.in_(owner_ids), Customer.merged_into_id.is_(None))
        .group_by(Customer.owner_id)
    )
    return {owner: int(n) for owner, n in rows.all()}


async def handover_heirs(session: AsyncSession, actor: User, from_id: int) -> list[User] | None:
    """Who may take over `from_id`'s customers (the actor's people and the actor); None: not allowed."""
    members = await team_members(session, actor)
    if from_id not in {u.id for u in members}:
        return None
    heirs = [u for u in members if u.id != from_id]
    return sorted([actor, *heirs], key=lambda u: u.name) if actor.active else heirs


async def handover(
    session: AsyncSession,
    actor: User,
    from_id: int,
    to_id: int,
    reason: str,
    now: dt.datetime,
    *,
    deactivate: bool = False,
) -> int:
    """From the chat: all of one person's live customers to another, and for an admin, the person's
    access taken away with it. Every right is re-checked here, whatever the buttons said."""
    heirs = await handover_heirs(session, actor, from_id)
    if heirs is None or to_id not in {u.id for u in heirs}:
        raise repo.NotAllowed(f"handover {from_id} -> {to_id}")
    if deactivate and actor.role != "admin":
        raise repo.NotAllowed("only an admin deactivates")
    source = await session.get(User, from_id)
    target = await session.get(User, to_id)
    assert source is not None and target is not None
    customers = (
        (
            await session.execute(
                select(Customer).where(Customer.owner_id == from_id, Customer.merged_into_id.is_(None))
            )
        )
        .scalars()
        .all()
    )
    moved = await _move(session, customers, target, actor.id, reason, now)
    await repo.audit(session, actor, "transfer", f"user {from_id} -> {to_id}: {moved} customers")
    if deactivate:
        await repo.deactivate_user(session, source.telegram_id)  # nothing is left for it to move
    return moved

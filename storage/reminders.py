"""The reminder outbox: finding what is due, creating each occurrence once, claiming under a lease.

Exactly-once bookkeeping lives here. A reminder row is created with INSERT … ON CONFLICT (key) DO
NOTHING, so any number of scans (and processes) create it once. It is claimed with SELECT … FOR
UPDATE SKIP LOCKED and an UPDATE of those rows that re-checks they are still ready: on PostgreSQL two
processes never take the same row, on SQLite the UPDATE runs under the database's single write lock.
Every later transition names the worker that holds the lease (`claimed_by`), so a process that lost
its lease cannot mark or send what another process now owns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flows.reminders import DIGEST_LINES, Digest, DigestLine
from storage.ids import valid_id
from storage.models import Contact, Customer, FollowUp, Reminder, ReminderCursor, User
from storage.upserts import insert_for, upsert

CHUNK = 500
# every column a new row needs, so multi-row INSERTs do not depend on Python-side defaults
_NEW_ROW: dict[str, Any] = {
    "customer_id": None,
    "contact_id": None,
    "followup_id": None,
    "ref_at": None,
    "expires_at": None,
    "state": "pending",
    "claimed_by": None,
    "claimed_until": None,
    "attempts": 0,
    "unconfirmed": False,
    "last_error": None,
    "message_id": None,
    "sent_at": None,
    "detail": {},
}


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class Person:
    """What a scan needs of a user to address a reminder: a plain row, not an ORM object."""

    id: int
    active: bool
    role: str
    manager_id: int | None
    chat_id: int | None
    tz: str | None
    quiet_start: str | None
    quiet_end: str | None


_PEOPLE = select(
    User.id, User.active, User.role, User.manager_id, User.chat_id, User.tz, User.quiet_start, User.quiet_end
)


async def users_by_id(session: AsyncSession) -> dict[int, Person]:
    """Every user (a sales team is small): recipients are resolved in memory for a whole scan.

    Eight columns as plain rows, not User objects: an ORM object with its identity-map entry and
    attribute state costs ~10x the memory and time, and a scan runs every few minutes and at start.
    """
    return {row.id: Person(*row) for row in await session.execute(_PEOPLE)}


def resolve(users: dict[int, Person], owner_id: int | None) -> Person | None:
    """Who acts for a record's owner: the owner if active, else up the manager chain, else an admin."""
    seen: set[int] = set()
    uid = owner_id
    while uid is not None and uid not in seen:
        seen.add(uid)
        user = users.get(uid)
        if user is None:
            break
        if user.active:
            return user
        uid = user.manager_id
    admins = [u for u in users.values() if u.role == "admin" and u.active]
    return min(admins, key=lambda u: u.id) if admins else None


async def recipient(session: AsyncSession, owner_id: int | None) -> User | None:
    """`resolve` for one record at send time: usually one lookup, the owner, who is active."""
    seen: set[int] = set()
    uid = owner_id
    while uid is not None and uid not in seen:
        seen.add(uid)
        user = await session.get(User, uid)
        if user is None:
            break
        if user.active:
            return user
        uid = user.manager_id
    query = select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


# ---------------------------------------------------------------- creating occurrences


async def add(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Create the rows whose key is new; returns how many were created. Safe to repeat and to race.

    Each row gives key, kind, user_id, due_at and created_at, and any other column it needs.
    """
    if not rows:
        return 0
    insert = upsert(session)
    created = 0
    ordered = sorted(rows, key=lambda r: str(r["key"]))  # one lock order for every process
    for chunk in _chunks(ordered):
        keys = [r["key"] for r in chunk]
        have = set((await session.execute(select(Reminder.key).where(Reminder.key.in_(keys)))).scalars())
        fresh = [{**_NEW_ROW, **r} for r in chunk if r["key"] not in have]
        if not fresh:
            continue
        stmt = insert(Reminder).values(fresh).on_conflict_do_nothing(index_elements=["key"])
        created += len((await session.execute(stmt.returning(Reminder.id))).all())
    return created


async def read_cursor(session: AsyncSession, name: str, *, lock: bool = False) -> dt.datetime | None:
    """Where the scan `name` got to. lock=True (PostgreSQL) makes concurrent scans take turns."""
    if lock and _dialect(session) == "postgresql":
        insert = insert_for("postgresql")(ReminderCursor).values(
            name=name, until=dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        )
        await session.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        query = select(ReminderCursor.until).where(ReminderCursor.name == name).with_for_update()
        until = (await session.execute(query)).scalar_one()
        return None if until.year == 1970 else until
    return (
        await session.execute(select(ReminderCursor.until).where(ReminderCursor.name == name))
    ).scalar_one_or_none()


async def write_cursor(session: AsyncSession, name: str, until: dt.datetime) -> None:
    """Move the cursor forward only: a slower process never moves it back.

    Insert-or-ignore, then a conditional UPDATE: two processes writing a new cursor at once both
    succeed (a read-then-insert made the second fail on the primary key).
    """
    insert = upsert(session)
    await session.execute(
        insert(ReminderCursor).values(name=name, until=until).on_conflict_do_nothing(index_elements=["name"])
    )
    placeholder = dt.datetime(1971, 1, 1, tzinfo=dt.UTC)  # read_cursor(lock=True) seeds 1970-01-01
    await session.execute(
        update(ReminderCursor)
        .where(
            ReminderCursor.name == name,
            or_(ReminderCursor.until < until, ReminderCursor.until < placeholder),
        )
        .values(until=until)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class DueFollowUp:
    followup_id: int
    next_at: dt.datetime
    customer_id: int
    contact_id: int | None
    owner_id: int


async def due_followups(
    session: AsyncSession, after: dt.datetime | None, now: dt.datetime
) -> list[DueFollowUp]:
    """Open follow-ups whose time came in (after, now] and that have no reminder for that time yet.

    A range on ix_followups_due (next_done, next_at): cheap however many follow-ups there are.
    """
    f, c = FollowUp, Customer
    has_one = exists().where(
        Reminder.followup_id == f.id, Reminder.kind == "due", Reminder.ref_at == f.next_at
    )
    query = (
        select(f.id, f.next_at, f.customer_id, f.contact_id, c.owner_id)
        .join(c, c.id == f.customer_id)
        .where(f.next_done.is_(False), f.next_at <= now, c.merged_into_id.is_(None), ~has_one)
    )
    if after is not None:
        query = query.where(f.next_at > after)
    rows = (await session.execute(query.order_by(f.id))).all()
    return [DueFollowUp(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[1] is not None]


def _live(query: Any) -> Any:
    """Customers that are neither merged away nor lost: nobody is asked to chase a lost customer."""
    return query.where(
        Customer.merged_into_id.is_(None), or_(Customer.status.is_(None), Customer.status != "lost")
    )


async def silent_customers(
    session: AsyncSession, before: dt.datetime, now: dt.datetime | None = None
) -> list[Customer]:
    """Not contacted since `before` (or created before it and never contacted), with no contact planned
    after `now`: a plan overdue for months is not contact (without `now`, any open plan counts)."""
    anchor = func.coalesce(Customer.last_contact_at, Customer.created_at)
    planned = exists().where(
        FollowUp.customer_id == Customer.id,
        FollowUp.next_done.is_(False),
        FollowUp.next_at.is_not(None),
        *((FollowUp.next_at > now,) if now is not None else ()),
    )
    query = _live(select(Customer)).where(anchor <= before, ~planned).order_by(Customer.id)
    return list((await session.execute(query)).scalars())


async def stale_customers(session: AsyncSession, before: dt.datetime) -> list[Customer]:
    query = _live(select(Customer)).where(Customer.updated_at <= before).order_by(Customer.id)
    return list((await session.execute(query)).scalars())


async def pending_customers(session: AsyncSession, before: dt.datetime) -> list[Customer]:
    query = (
        select(Customer)
        .where(
            Customer.merged_into_id.is_(None),
            Customer.pending_since.is_not(None),
            Customer.pending_since <= before,
        )
        .order_by(Customer.id)
    )
    return [c for c in (await session.execute(query)).scalars() if c.pending]


async def pending_followups(session: AsyncSession, before: dt.datetime) -> list[tuple[FollowUp, Customer]]:
    """Follow-ups with a field left "Later" since `before`, under customers not merged away."""
    query = (
        select(FollowUp, Customer)
        .join(Customer, Customer.id == FollowUp.customer_id)
        .where(
            Customer.merged_into_id.is_(None),
            FollowUp.pending_since.is_not(None),
            FollowUp.pending_since <= before,
        )
        .order_by(FollowUp.id)
    )
    return [(f, c) for f, c in (await session.execute(query)).all() if f.pending]


async def _live_contacts(session: AsyncSession, *where: Any) -> list[tuple[Contact, Customer]]:
    """Active contacts of customers not merged away, with their customer, that also meet `where`."""
    query = (
        select(Contact, Customer)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(Customer.merged_into_id.is_(None), Contact.active.is_(True), *where)
        .order_by(Contact.id)
    )
    return [(k, c) for k, c in (await session.execute(query)).all()]


async def pending_contacts(session: AsyncSession, before: dt.datetime) -> list[tuple[Contact, Customer]]:
    found = await _live_contacts(session, Contact.pending_since.is_not(None), Contact.pending_since <= before)
    return [(k, c) for k, c in found if k.pending]


async def birthday_contacts(session: AsyncSession, suffixes: Sequence[str]) -> list[tuple[Contact, Customer]]:
    """Active contacts whose birthday ends with one of the "MM-DD" given (both stored forms do)."""
    if not suffixes:
        return []
    return await _live_contacts(session, or_(*(Contact.birthday.like(f"%{s}") for s in suffixes)))


async def existing_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(keys)):
        found |= set((await session.execute(select(Reminder.key).where(Reminder.key.in_(chunk)))).scalars())
    return found


# ---------------------------------------------------------------- claiming and marking


async def reminder_by_id(session: AsyncSession, reminder_id: object) -> Reminder | None:
    """A reminder by the id a button carried: None for any id out of range (never OverflowError)."""
    bounded = valid_id(reminder_id)
    return None if bounded is None else await session.get(Reminder, bounded)


async def claim(
    session: AsyncSession, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int
) -> list[Reminder]:
    """Take up to `limit` reminders that are due, or whose holder's lease ran out, for `worker`.

    A row taken back from an expired 'sending' lease may have reached Telegram already: it is
    flagged `unconfirmed` and sent again (at least once rather than at most once).
    """
    ready = or_(
        and_(Reminder.state == "pending", Reminder.due_at <= now),
        and_(Reminder.state.in_(("claimed", "sending")), Reminder.claimed_until <= now),
    )
    # Two statements, not UPDATE … WHERE id IN (SELECT … SKIP LOCKED LIMIT n): PostgreSQL may run
    # such a subquery again for later rows, skip the rows it just updated and so take more than n.
    picked = (
        select(Reminder.id)
        .where(ready)
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: locked by us until commit; SQLite: ignored
    )
    candidates = list((await session.execute(picked)).scalars())
    if not candidates:
        return []
    stmt = (
        update(Reminder)
        .where(Reminder.id.in_(candidates), ready)  # re-checked: on SQLite another process may have won
        .values(
            state="claimed",
            claimed_by=worker,
            claimed_until=now + lease,
            attempts=Reminder.attempts + 1,
            unconfirmed=or_(Reminder.unconfirmed, Reminder.state == "sending"),
        )
        .returning(Reminder.id)
        .execution_options(synchronize_session=False)
    )
    ids = list((await session.execute(stmt)).scalars())
    if not ids:
        return []
    rows = await session.execute(
        select(Reminder).where(Reminder.id.in_(ids)).order_by(Reminder.due_at, Reminder.id)
    )
    return list(rows.scalars())


async def extend(session: AsyncSession, worker: str, until: dt.datetime) -> int:
    """Keep the leases of a live worker from running out while it waits on Telegram."""
    result = await session.execute(
        update(Reminder)
        .where(Reminder.claimed_by == worker, Reminder.state.in_(("claimed", "sending")))
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, worker: str) -> int:
    """Give back claimed rows not yet being sent (a clean stop), so another process need not wait."""
    result = await session.execute(
        update(Reminder)
        .where(Reminder.claimed_by == worker, Reminder.state == "claimed")
        .values(state="pending", claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def move(session: AsyncSession, reminder_id: int, worker: str, expect: str, **values: Any) -> bool:
    """Change a row that `worker` holds in state `expect`; False if it no longer does (lease lost).

    A plain UPDATE with the holder in its WHERE: on SQLite, where FOR UPDATE means nothing, this is
    what keeps a worker that stalled past its lease from overwriting the next holder's claim.
    """
    result = await session.execute(
        update(Reminder)
        .where(Reminder.id == reminder_id, Reminder.claimed_by == worker, Reminder.state == expect)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def finish(session: AsyncSession, reminder_id: int, worker: str, **values: Any) -> bool:
    """Record how a send ended and let go of the row, only if `worker` still holds it."""
    return await move(session, reminder_id, worker, "sending", claimed_by=None, claimed_until=None, **values)


async def unhold(session: AsyncSession) -> int:
    """Reminders held for someone who blocked the bot go out again once they have unblocked it."""
    back = select(User.id).where(User.blocked_at.is_(None))
    result = await session.execute(
        update(Reminder)
        .where(Reminder.state == "held", Reminder.user_id.in_(back))
        .values(state="pending")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def counts(session: AsyncSession) -> dict[str, int]:
    """Rows per state, for tests, the benchmark and a health check."""
    rows = await session.execute(select(Reminder.state, func.count()).group_by(Reminder.state))
    return {state: int(n) for state, n in rows.all()}


# ---------------------------------------------------------------- the digest and /today


async def digest(session: AsyncSession, user: User, now: dt.datetime, tz: dt.tzinfo) -> Digest:
    """Overdue, due later today (in the user's zone) and pending fields on the user's own customers,
    their contacts and their follow-ups."""
    local = now.astimezone(tz)
    day_end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    mine = and_(Customer.owner_id == user.id, Customer.merged_into_id.is_(None))
    open_ = and_(FollowUp.next_done.is_(False), FollowUp.next_at.is_not(None))
    base = select(FollowUp.next_at, Customer.id, Customer.name).join(
        Customer, Customer.id == FollowUp.customer_id
    )

    async def section(*where: Any) -> tuple[list[DigestLine], int]:
        query = base.where(mine, open_, *where)
        rows = await session.execute(query.order_by(FollowUp.next_at, FollowUp.id).limit(DIGEST_LINES))
        lines = [DigestLine(cid, name, at.astimezone(tz) if at else None) for at, cid, name in rows.all()]
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
        return lines, int(total)

    overdue, overdue_count = await section(FollowUp.next_at < now)
    today, today_count = await section(FollowUp.next_at >= now, FollowUp.next_at < day_end)
    pending: list[DigestLine] = []
    customers = await session.execute(
        select(Customer.id, Customer.name, Customer.pending)
        .where(mine, Customer.pending_since.is_not(None))
        .order_by(Customer.pending_since, Customer.id)
    )
    for cid, name, fields in customers.all():
        if fields:
            pending.append(DigestLine(cid, name, fields=tuple(fields)))
    contacts = await session.execute(
        select(Customer.id, Customer.name, Contact.name, Contact.pending)
        .join(Contact, Contact.customer_id == Customer.id)
        .where(mine, Contact.active.is_(True), Contact.pending_since.is_not(None))
        .order_by(Contact.pending_since, Contact.id)
    )
    for cid, name, contact, fields in contacts.all():
        if fields:
            pending.append(DigestLine(cid, name, fields=tuple(fields), record="contact", contact=contact))
    followups = await session.execute(
        select(Customer.id, Customer.name, FollowUp.pending)
        .join(FollowUp, FollowUp.customer_id == Customer.id)
        .where(mine, FollowUp.pending_since.is_not(None))
        .order_by(FollowUp.pending_since, FollowUp.id)
    )
    for cid, name, fields in followups.all():
        if fields:
            pending.append(DigestLine(cid, name, fields=tuple(fields), record="followup"))
    from storage.morning import manager_morning  # the manager's additions (issue 12)

    requests_count, team_overdue, new_yesterday = await manager_morning(session, user, now, tz)
    return Digest(
        day=local.date(),
        overdue=overdue,
        today=today,
        pending=pending[:DIGEST_LINES],
        overdue_count=overdue_count,
        today_count=today_count,
        pending_count=len(pending),
        requests_count=requests_count,
        team_overdue=team_overdue,
        new_yesterday=new_yesterday,
    )


async def mark_blocked(session: AsyncSession, user_id: int, now: dt.datetime) -> None:
    """Telegram refused the chat for good: hold this person's reminders until they write again."""
    user = await session.get(User, user_id)
    if user is not None:
        user.blocked_at = now

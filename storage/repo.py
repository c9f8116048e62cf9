"""Repositories that speak in CRM terms. Every function takes the session of the caller's transaction."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flows.names import best_matches, core_name
from flows.ports import DupMatch, DupProbe
from flows.refs import ContactRef, CustomerRef
from storage import precompiled, search
from storage.ids import valid_id
from storage.models import (
    Audit,
    Change,
    Contact,
    Conversation,
    Customer,
    DaySequence,
    FollowUp,
    SeenUpdate,
    User,
    UserRegion,
)
from storage.upserts import insert_for, upsert

NAME_SIMILARITY = 88.0


class NotAllowed(Exception):
    """The user may not see or change this record."""


class CreditCodeTaken(Exception):
    """Another live customer has this credit code: one company is one customer (`number` is theirs)."""

    def __init__(self, number: str | None) -> None:
        super().__init__(number or "")
        self.number = number


# ---------------------------------------------------------------- users


async def user_by_telegram(session: AsyncSession, telegram_id: int) -> User | None:
    return (await session.execute(select(User).where(User.telegram_id == telegram_id))).scalar_one_or_none()


async def add_user(
    session: AsyncSession, telegram_id: int, name: str, role: str, manager_telegram_id: int | None = None
) -> User:
    if role not in ("sales", "manager", "admin"):
        raise ValueError(f"unknown role {role!r}")
    manager_id = None
    if manager_telegram_id is not None:
        manager = await user_by_telegram(session, manager_telegram_id)
        if manager is None:
            raise ValueError(f"no user with Telegram id {manager_telegram_id}")
        manager_id = manager.id
    existing = await user_by_telegram(session, telegram_id)
    if existing is not None:
        existing.name, existing.role, existing.manager_id, existing.active = name, role, manager_id, True
        return existing
    user = User(telegram_id=telegram_id, name=name, role=role, manager_id=manager_id, active=True)
    session.add(user)
    await session.flush()
    session.add(Audit(user_id=None, action="user_add", detail=f"user {user.id} role {role}"))
    return user


async def list_users(session: AsyncSession) -> Sequence[User]:
    return (await session.execute(select(User).order_by(User.id))).scalars().all()


async def deactivate_user(session: AsyncSession, telegram_id: int) -> tuple[User, int]:
    """Take access away at once and hand the user's customers to their manager (or an admin)."""
    user = await user_by_telegram(session, telegram_id)
    if user is None:
        raise ValueError(f"no user with Telegram id {telegram_id}")
    user.active = False
    heir_id = user.manager_id
    if heir_id is None:
        heir_id = (
            await session.execute(
                select(User.id)
                .where(User.role == "admin", User.active.is_(True), User.id != user.id)
                .limit(1)
            )
        ).scalar_one_or_none()
    moved = 0
    if heir_id is not None:
        result = await session.execute(
            update(Customer).where(Customer.owner_id == user.id).values(owner_id=heir_id)
        )
        moved = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(delete(Conversation).where(Conversation.user_id == user.id))
    session.add(
        Audit(user_id=None, action="user_deactivate", detail=f"user {user.id}, {moved} customers moved")
    )
    return user, moved


class Sight(set[int]):
    """The owner ids a user may see, plus the regions (provinces or cities) a manager looks after:
    customers there are visible too, though not editable (may_edit looks at owners only)."""

    def __init__(self, ids: set[int], regions: tuple[str, ...] = ()) -> None:
        super().__init__(ids)
        self.regions = regions


async def team_ids(session: AsyncSession, user: User) -> set[int] | None:
    """Owner ids whose customers `user` may see; None means everyone (admin)."""
    if user.role == "admin":
        return None
    ids = {user.id}
    if user.role == "manager":
        frontier = {user.id}
        while frontier:  # the people they manage, and the people those manage
            rows = (
                (await session.execute(select(User.id).where(User.manager_id.in_(frontier)))).scalars().all()
            )
            frontier = set(rows) - ids
            ids |= frontier
        regions = (
            await session.execute(select(UserRegion.region).where(UserRegion.user_id == user.id))
        ).scalars()
        return Sight(ids, tuple(sorted(regions)))
    return ids


def _visible(query: Any, owners: set[int] | None) -> Any:
    query = query.where(Customer.merged_into_id.is_(None))
    if owners is None:
        return query
    regions = getattr(owners, "regions", ())
    if regions:
        return query.where(
            or_(Customer.owner_id.in_(owners), Customer.province.in_(regions), Customer.city.in_(regions))
        )
    return query.where(Customer.owner_id.in_(owners))


# ---------------------------------------------------------------- customers


def _dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


async def next_customer_number(session: AsyncSession, day: dt.date) -> str:
    """C + YYYYMMDD + 4-digit counter; the counter row only grows, so numbers are never reused."""
    key = day.strftime("%Y%m%d")
    stmt = (
        upsert(session)(DaySequence)
        .values(day=key, last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": DaySequence.last + 1})
        .returning(DaySequence.last)
    )
    seq = (await session.execute(stmt)).scalar_one()
    return f"C{key}{seq:04d}"


CUSTOMER_FIELDS = (
    "kind", "name", "credit_code", "status", "industry", "industry_other", "grade", "intent", "phone",
    "email", "source", "main_business", "current_problem", "interest", "tags", "remarks",
)  # fmt: skip


async def create_customer(
    session: AsyncSession,
    user: User,
    answers: dict[str, Any],
    pending: list[str],
    now: dt.datetime,
    day: dt.date,
) -> Customer:
    customer = Customer(
        number=await next_customer_number(session, day),
        owner_id=user.id,
        created_by=user.id,
        pending=list(pending),
        pending_since=now if pending else None,
        created_at=now,
        updated_at=now,
        tags=answers.get("tags") or [],
        **{k: answers.get(k) for k in CUSTOMER_FIELDS if k != "tags"},
    )
    customer.name_key = core_name(customer.name)
    if customer.kind == "individual":
        customer.credit_code = None
    _set_address(customer, answers.get("address"))
    await _claim_credit_code(session, customer.credit_code, None)
    try:
        async with session.begin_nested():  # the unique index decides a race between two entries
            session.add(customer)
            await session.flush()
    except IntegrityError:
        holder = await _credit_code_number(session, customer.credit_code)
        if holder is None:  # another constraint (a foreign key, …): not the person's to fix
            raise
        raise CreditCodeTaken(holder) from None
    await search.reindex(session, customer.id)
    return customer


def _set_address(customer: Customer, address: dict[str, Any] | None) -> None:
    address = address or {}
    customer.province = address.get("province")
    customer.city = address.get("city")
    customer.district = address.get("district")
    customer.address = address.get("full")


_LIVE = Customer.merged_into_id.is_(None)  # built once: an expression costs more than SQLite's read


async def find_duplicates(session: AsyncSession, user: User, probe: DupProbe) -> list[DupMatch]:
    """Likely duplicates among ALL customers; what the user may not see is reduced to name and owner."""
    reasons: dict[int, set[str]] = {}
    scores: dict[int, float] = {}

    def hit(cid: int, why: str, score: float = 100.0) -> None:
        if cid != probe.exclude_id:
            reasons.setdefault(cid, set()).add(why)
            scores[cid] = max(scores.get(cid, 0.0), score)

    live = _LIVE
    if probe.credit_code:
        for cid in (
            await session.execute(select(Customer.id).where(live, Customer.credit_code == probe.credit_code))
        ).scalars():
            hit(cid, "credit_code")
    for column, value, why in (
        (Customer.phone, probe.phone, "phone"),
        (Customer.email, probe.email, "email"),
    ):
        if not value:
            continue
        for cid in (await session.execute(select(Customer.id).where(live, column == value))).scalars():
            hit(cid, why)
        contact_col = Contact.phone if why == "phone" else Contact.email
        via_contacts = await session.execute(
            select(Contact.customer_id)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(live, contact_col == value)
        )
        for cid in via_contacts.scalars():
            hit(cid, why)
    if probe.name and core_name(probe.name):
        candidates = await search.name_candidates(session, core_name(probe.name))
        keys: dict[int, str] = {}
        if candidates:  # a new name nobody shares a token with: no second read
            keys_query = select(Customer.id, Customer.name_key).where(live, Customer.id.in_(candidates))
            keys = dict((await session.execute(keys_query.order_by(Customer.id))).all())
        for cid, score in best_matches(probe.name, keys, NAME_SIMILARITY):
            hit(cid, "name", score)
    if not reasons:
        return []
    owners = await team_ids(session, user)
    rows = await session.execute(
        select(Customer.id, Customer.name, Customer.number, Customer.owner_id, User.name)
        .join(User, User.id == Customer.owner_id)
        .where(Customer.id.in_(reasons))
    )
    order = ("credit_code", "phone", "email", "name")
    matches = [
        DupMatch(
            customer_id=cid,
            name=name,
            owner_name=owner_name,
            reasons=tuple(r for r in order if r in reasons[cid]),
            visible=owners is None or owner_id in owners,
            number=number if owners is None or owner_id in owners else None,
            score=scores[cid],
        )
        for cid, name, number, owner_id, owner_name in rows.all()
    ]
    matches.sort(key=lambda m: (-len(m.reasons), -m.score))
    return matches[:5]


async def visible_customer(session: AsyncSession, user: User, customer_id: int) -> Customer | None:
    """The customer if `user` may see it; None also for an id no row can have (never OverflowError)."""
    bounded = valid_id(customer_id)
    if bounded is None:
        return None
    owners = await team_ids(session, user)
    return (
        await session.execute(_visible(select(Customer), owners).where(Customer.id == bounded))
    ).scalar_one_or_none()


async def contact_by_id(session: AsyncSession, contact_id: object) -> Contact | None:
    """A contact by an id from outside (typed, button, old state): None for any id out of range."""
    bounded = valid_id(contact_id)
    return None if bounded is None else await session.get(Contact, bounded)


async def customer_ref(session: AsyncSession, customer: Customer) -> CustomerRef:
    contacts = await contacts_of(session, customer.id)
    owner = await session.get(User, customer.owner_id)
    main = next((c.name for c in contacts if c.active), None)
    return CustomerRef(
        id=customer.id,
        number=customer.number,
        name=customer.name,
        status=customer.status or "",
        intent=customer.intent,
        main_contact=main,
        owner_name=owner.name if owner else None,
        contacts=tuple(contacts),
    )


async def search_customers(session: AsyncSession, user: User, text: str, limit: int = 8) -> list[Customer]:
    """Visible customers by number, name, phone, e-mail or contact name; exact hits first, then fuzzy."""
    owners = await team_ids(session, user)
    # control characters match nothing anyone typed on purpose, and NUL is an error on PostgreSQL
    needle = "".join(ch for ch in text if unicodedata.category(ch) != "Cc").strip()
    if not needle:
        return []
    like = f"%{needle.replace('%', '').replace('_', '')}%"
    digits = "".join(ch for ch in needle if ch.isdigit())
    conditions = [Customer.number == needle.upper(), Customer.name.ilike(like), Customer.email.ilike(like)]
    if len(digits) >= 6:
        conditions.append(Customer.phone.like(f"%{digits[-8:]}%"))
    contact_hit = select(Contact.customer_id).where(Contact.name.ilike(like))
    # the gram index narrows the LIKE conditions to a few ids; None: no selective gram, scan as before
    narrowed = await search.substring_candidates(session, like.strip("%"), digits, needle.upper())
    if narrowed is not None:
        contact_hit = contact_hit.where(Contact.customer_id.in_(narrowed))
    conditions.append(Customer.id.in_(contact_hit))
    query = _visible(select(Customer), owners).where(or_(*conditions))
    if narrowed is not None:  # the number is among the candidates: one id list for the planner
        query = query.where(Customer.id.in_(narrowed))
    query = query.order_by(Customer.updated_at.desc()).limit(limit)
    found = list((await session.execute(query)).scalars().all())
    if len(found) < limit and len(core_name(needle)) >= 2:
        seen = {c.id for c in found}
        candidates = await search.name_candidates(session, core_name(needle))
        keys_query = _visible(select(Customer.id, Customer.name_key), owners).where(
            Customer.id.in_(candidates)
        )
        rows = (await session.execute(keys_query.order_by(Customer.id))).all()
        keys = {cid: key for cid, key in rows if cid not in seen}
        ids = [cid for cid, _ in best_matches(needle, keys, 75, limit - len(found))]
        if ids:
            extra = {
                c.id: c
                for c in (await session.execute(select(Customer).where(Customer.id.in_(ids)))).scalars()
            }
            found += [extra[i] for i in ids if i in extra]
    return found


async def recent_customers(session: AsyncSession, user: User, limit: int = 6) -> list[Customer]:
    """The user's own customers, most recently touched first: the likely next ones to log."""
    query = (
        select(Customer)
        .where(Customer.owner_id == user.id, Customer.merged_into_id.is_(None))
        .order_by(func.coalesce(Customer.last_contact_at, Customer.updated_at).desc())
        .limit(limit)
    )
    return list((await session.execute(query)).scalars().all())


async def my_customers(
    session: AsyncSession, user: User, offset: int, limit: int
) -> tuple[list[Customer], int]:
    base = select(Customer).where(Customer.owner_id == user.id, Customer.merged_into_id.is_(None))
    total = (await session.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    rows = (await session.execute(base.order_by(Customer.name).offset(offset).limit(limit))).scalars().all()
    return list(rows), int(total)


def may_edit(user: User, owner_team: set[int] | None, customer: Customer) -> bool:
    """The owner, a manager above the owner, or an admin."""
    if user.role == "admin":
        return True
    if customer.owner_id == user.id:
        return True
    return user.role == "manager" and owner_team is not None and customer.owner_id in owner_team


def may_manage(user: User, owner_team: set[int] | None, customer: Customer) -> bool:
    """Transfer or merge: a manager above the owner (or the owner, being a manager), or an admin."""
    if user.role == "admin":
        return True
    return user.role == "manager" and owner_team is not None and customer.owner_id in owner_team


# ---------------------------------------------------------------- contacts


async def contacts_of(session: AsyncSession, customer_id: int) -> list[ContactRef]:
    if valid_id(customer_id) is None:
        return []
    rows = await session.execute(
        select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.active.desc(), Contact.id)
    )
    return [ContactRef(c.id, c.name, c.position, c.phone, c.active) for c in rows.scalars()]


CONTACT_FIELDS = (
    "name", "position", "phone", "email", "role", "channel", "channel_time", "birthday", "remarks",
)  # fmt: skip


async def create_contact(
    session: AsyncSession,
    user: User,
    customer_id: int,
    answers: dict[str, Any],
    pending: list[str],
    now: dt.datetime,
) -> Contact:
    contact = Contact(
        customer_id=customer_id,
        created_by=user.id,
        pending=list(pending),
        pending_since=now if pending else None,
        created_at=now,
        updated_at=now,
        **{k: answers.get(k) for k in CONTACT_FIELDS},
    )
    session.add(contact)
    await session.execute(update(Customer).where(Customer.id == customer_id).values(updated_at=now))
    await session.flush()
    await search.reindex(session, customer_id)
    return contact


# ---------------------------------------------------------------- follow-ups


async def create_followup(
    session: AsyncSession,
    user: User,
    customer_id: int,
    answers: dict[str, Any],
    pending: list[str],
    now: dt.datetime,
    tz: dt.tzinfo | None = None,
) -> FollowUp:
    occurred = dt.date.fromisoformat(answers["occurred_on"])
    next_at = answers.get("next_at")
    location = answers.get("location") or {}
    contact = answers.get("contact")
    delay = entry_delay_hours(occurred, now, tz or dt.UTC)
    followup = FollowUp(
        customer_id=customer_id,
        contact_id=int(contact["id"]) if contact else None,
        occurred_on=occurred,
        mode=answers["mode"],
        content=answers["content"],
        demand_status=answers.get("demand_status"),
        next_at=dt.datetime.fromisoformat(next_at["at"]) if next_at else None,
        participants=answers.get("participants"),
        latitude=location.get("lat"),
        longitude=location.get("lon"),
        pending=list(pending),
        created_by=user.id,
        created_at=now,
        entry_delay_hours=delay,
        pending_since=now if pending else None,
    )
    session.add(followup)
    # the customer's earlier open follow-ups are answered by this one
    await session.execute(
        update(FollowUp)
        .where(FollowUp.customer_id == customer_id, FollowUp.next_done.is_(False), FollowUp.next_at <= now)
        .values(next_done=True)
    )
    contact_at = dt.datetime.combine(occurred, dt.time(12), tzinfo=dt.UTC)
    customer = await session.get(Customer, customer_id) if valid_id(customer_id) else None
    if customer is not None:  # contact, not an update of the customer's data (the 90-day check)
        customer.last_contact_at = max(customer.last_contact_at or contact_at, contact_at)
    await session.flush()
    return followup


async def followups_of(session: AsyncSession, customer_id: int, limit: int = 3) -> list[FollowUp]:
    rows = await session.execute(
        select(FollowUp)
        .where(FollowUp.customer_id == customer_id)
        .order_by(FollowUp.occurred_on.desc(), FollowUp.id.desc())
        .limit(limit)
    )
    return list(rows.scalars().all())


async def next_due(session: AsyncSession, customer_id: int) -> FollowUp | None:
    rows = await session.execute(
        select(FollowUp)
        .where(
            FollowUp.customer_id == customer_id, FollowUp.next_done.is_(False), FollowUp.next_at.is_not(None)
        )
        .order_by(FollowUp.next_at)
        .limit(1)
    )
    return rows.scalar_one_or_none()


# ---------------------------------------------------------------- edits with history


SEARCHED_FIELDS = frozenset({"name", "email", "phone"})  # what storage.search indexes (contacts: name)


def _plain(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and "full" in value:
        return str(value["full"])
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


async def apply_edit(
    session: AsyncSession,
    user: User,
    entity: str,
    entity_id: int,
    field: str,
    value: Any,
    reason: str,
    now: dt.datetime,
    *,
    pending: bool = False,
) -> Change:
    """Change one field (or mark it pending) and keep who, when, old, new and why."""
    owners = await team_ids(session, user)
    record: Customer | Contact | FollowUp | None
    if entity == "customer":
        record = await visible_customer(session, user, entity_id)
        customer = record
    elif entity == "followup":
        record = await session.get(FollowUp, entity_id)
        customer = await visible_customer(session, user, record.customer_id) if record else None
    else:
        record = await contact_by_id(session, entity_id)
        customer = await visible_customer(session, user, record.customer_id) if record else None
    if record is None or customer is None or not may_edit(user, owners, customer):
        raise NotAllowed(f"{entity} {entity_id}")
    if isinstance(record, FollowUp):
        return await _edit_followup(session, user, record, field, value, reason, now, pending=pending)
    if field == "credit_code" and isinstance(record, Customer) and value:
        await _claim_credit_code(session, str(value), record.id)
    if field == "address" and isinstance(record, Customer):
        old = record.address
        _set_address(record, value)
        new = _plain(value)
    elif field == "active" and isinstance(record, Contact):
        old = "yes" if record.active else "no"
        record.active = value == "yes"
        new = value
    elif field == "credit_code" and isinstance(record, Customer) and value:
        old, new = record.credit_code, _plain(value)
        try:  # the unique index decides a race with another entry of the same code
            async with session.begin_nested():
                record.credit_code = str(value)
                await session.flush()
        except IntegrityError:
            holder = await _credit_code_number(session, str(value))
            if holder is None:
                raise
            raise CreditCodeTaken(holder) from None
    else:
        old = _plain(getattr(record, field))
        setattr(record, field, value)
        new = _plain(value)
        if field == "name" and isinstance(record, Customer):
            record.name_key = core_name(str(value))
    if pending:
        record.pending = sorted({*record.pending, field})
        record.pending_since = record.pending_since or now
        new = None
    elif field in record.pending:
        record.pending = [p for p in record.pending if p != field]
        if not record.pending:
            record.pending_since = None
    record.updated_at = now
    if isinstance(record, Contact):
        customer.updated_at = now
    change = Change(
        entity=entity,
        entity_id=entity_id,
        field=field,
        old_value=old,
        new_value=new,
        reason=reason,
        user_id=user.id,
        at=now,
    )
    session.add(change)
    await session.flush()
    if field in SEARCHED_FIELDS:
        await search.reindex(session, customer.id)
    return change


async def history(session: AsyncSession, entity: str, entity_id: int) -> list[Change]:
    if valid_id(entity_id) is None:
        return []
    rows = await session.execute(
        select(Change).where(Change.entity == entity, Change.entity_id == entity_id).order_by(Change.id)
    )
    return list(rows.scalars().all())


def current_customer_values(c: Customer) -> dict[str, Any]:
    values = {k: getattr(c, k) for k in CUSTOMER_FIELDS}
    values["address"] = (
        {"province": c.province, "city": c.city, "district": c.district, "full": c.address}
        if c.address
        else None
    )
    return values


def current_contact_values(c: Contact) -> dict[str, Any]:
    values = {k: getattr(c, k) for k in CONTACT_FIELDS}
    values["active"] = "yes" if c.active else "no"
    return values


# ---------------------------------------------------------------- conversations and delivery


SEEN_KEPT = dt.timedelta(days=3)  # Telegram keeps an unconfirmed update for 24 hours at most


_SWEEP_EVERY = 64  # one update in this many also clears its chat's expired ids (housekeeping only)


def _seen_upsert(insert: Any) -> Any:
    """INSERT the update's id; an id seen longer ago than SEEN_KEPT is taken over as new."""
    table = SeenUpdate.__table__  # the table, not the class: an ORM insert with parameters is a
    return (  # bulk insert, whose rowcount does not say whether the row went in
        insert(table)
        .values(chat_id=bindparam("chat_id"), update_id=bindparam("update_id"), at=bindparam("at"))
        .on_conflict_do_update(
            index_elements=[table.c.chat_id, table.c.update_id],
            set_={"at": bindparam("at"), "saved_kind": None, "saved_customer_id": None},
            where=table.c.at < bindparam("cutoff"),
        )
    )


@functools.cache
def _seen_statement(dialect: str) -> Any:
    return _seen_upsert(insert_for(dialect))


async def first_sight(session: AsyncSession, chat_id: int, update_id: int, now: dt.datetime) -> bool:
    """True if this update is new for the chat; False if it was handled already (a redelivery).

    Compared with the ids seen in the last days, not with the highest one: Telegram restarts update
    ids lower (and at random) after a week without updates. One statement: an id seen longer ago than
    that counts as new and takes the row over, so expired rows need no delete before the check and
    are swept now and then, not on every step.
    """
    params = {"chat_id": chat_id, "update_id": update_id, "at": now, "cutoff": now - SEEN_KEPT}
    statement = _seen_statement("postgresql" if _dialect(session) == "postgresql" else "sqlite")
    done = await precompiled.run(session, statement, params)  # a table only Core writes
    if done.rowcount == 0:
        return False
    if update_id % _SWEEP_EVERY == 0:
        await _sweep_seen(session, chat_id, now)
    return True


async def _sweep_seen(session: AsyncSession, chat_id: int, now: dt.datetime) -> None:
    await session.execute(
        delete(SeenUpdate).where(SeenUpdate.chat_id == chat_id, SeenUpdate.at < now - SEEN_KEPT)
    )


async def seen_update(session: AsyncSession, chat_id: int, update_id: int) -> SeenUpdate | None:
    return await session.get(SeenUpdate, (chat_id, update_id))


async def note_outcome(
    session: AsyncSession, chat_id: int, update_id: int, kind: str, customer_id: int | None
) -> None:
    """What an update saved, so its redelivery can show it again."""
    row = await session.get(SeenUpdate, (chat_id, update_id))
    if row is not None:
        row.saved_kind, row.saved_customer_id = kind[:16], customer_id


_CONVERSATIONS = "crm.conversations"  # session.info: the rows this session loaded, so a step reads one once


@dataclass(slots=True)
class OpenEntry:
    """A user's open flow in one chat as stored: its row id, the state (JSON) and when it changed.

    Plain values, not an ORM object: the state is read once per step and written with one UPDATE
    of its own (`save_conversation`), so the commit has nothing of it to flush. An ORM row cost
    ~0.5 ms a step in hydration and unit-of-work bookkeeping, more than SQLite spent on it."""

    id: int
    state: dict[str, Any]
    updated_at: dt.datetime


_ENTRIES = cast(Table, Conversation.__table__)  # Core statements on the table (see OpenEntry)
# built once: constructing a statement costs more than SQLite takes to run it, on every step. Plain
# columns, the user's then the entry's three, run by storage/precompiled.py (the user is attached
# to the session as loaded): the ORM's loading of one row cost more than the read itself
_USER_KEYS = tuple(c.key for c in User.__mapper__.column_attrs)
_USER_AND_CONVERSATION_ROW = (
    select(*(getattr(User, k) for k in _USER_KEYS), _ENTRIES.c.id, _ENTRIES.c.state, _ENTRIES.c.updated_at)
    .outerjoin(_ENTRIES, (_ENTRIES.c.user_id == User.id) & (_ENTRIES.c.chat_id == bindparam("chat_id")))
    .where(User.telegram_id == bindparam("telegram_id"))
)
_CONVERSATION = select(_ENTRIES.c.id, _ENTRIES.c.state, _ENTRIES.c.updated_at).where(
    _ENTRIES.c.chat_id == bindparam("chat_id"), _ENTRIES.c.user_id == bindparam("user_id")
)
_UPDATE_CONVERSATION = (
    update(_ENTRIES)
    .where(_ENTRIES.c.id == bindparam("entry_id"))
    .values(state=bindparam("state"), updated_at=bindparam("at"))
)
_INSERT_CONVERSATION = (
    _ENTRIES.insert()
    .values(
        chat_id=bindparam("chat_id"),
        user_id=bindparam("user_id"),
        state=bindparam("state"),
        updated_at=bindparam("at"),
    )
    .returning(_ENTRIES.c.id)
)
_DELETE_CONVERSATION = _ENTRIES.delete().where(_ENTRIES.c.id == bindparam("entry_id"))


def _entry(row: Any) -> OpenEntry | None:
    """The entry in the last three columns of a row (id, state, updated_at), if there is one."""
    return None if row is None or row[-3] is None else OpenEntry(row[-3], row[-2], row[-1])


@functools.cache
def _user_conversation_and_sight() -> Any:
    """PostgreSQL: `_USER_AND_CONVERSATION_ROW` with `first_sight`'s upsert as a data-modifying CTE, so
    the step's first read is one round trip, not two. The row goes in only for an active user (a
    stranger's update is not stored), and `fresh` says whether it went in (see first_sight)."""
    table = cast(Table, SeenUpdate.__table__)
    active = select(User.id).where(User.telegram_id == bindparam("telegram_id"), User.active.is_(True))
    typed = [bindparam(c.name, type_=c.type) for c in (table.c.chat_id, table.c.update_id, table.c.at)]
    values: Any = select(*typed).where(active.exists())  # typed: a SELECT list's parameters have none
    seen = (
        insert_for("postgresql")(table)
        .from_select([table.c.chat_id, table.c.update_id, table.c.at], values)
        .on_conflict_do_update(
            index_elements=[table.c.chat_id, table.c.update_id],
            set_={"at": bindparam("at"), "saved_kind": None, "saved_customer_id": None},
            where=table.c.at < bindparam("cutoff"),
        )
        .returning(table.c.update_id)
        .cte("seen")
    )
    fresh = select(func.count()).select_from(seen).scalar_subquery().label("fresh")
    return _USER_AND_CONVERSATION_ROW.add_columns(fresh)


async def user_conversation_and_sight(
    session: AsyncSession,
    telegram_id: int,
    chat_id: int,
    update_id: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[User | None, OpenEntry | None, bool]:
    """The user, their open flow in this chat (remembered like `load_conversation`'s), and whether
    update `update_id` is new for it (`first_sight`, checked for an active user only; True without
    an update id): every step starts with all three.

    On PostgreSQL one statement does both; on SQLite, whose statements cost no round trip, the
    upsert follows the read."""
    params: dict[str, Any] = {"chat_id": chat_id, "telegram_id": telegram_id}
    combined = update_id is not None and now is not None and _dialect(session) == "postgresql"
    if combined:
        assert update_id is not None and now is not None
        params |= {"update_id": update_id, "at": now, "cutoff": now - SEEN_KEPT}
    read = _user_conversation_and_sight() if combined else _USER_AND_CONVERSATION_ROW
    ran = await precompiled.run(session, read, params)
    if not ran.rows:
        return None, None, True
    row = ran.rows[0]
    seen_now = bool(row[-1]) if combined else False  # PostgreSQL: the upsert in the read took it
    row = row[:-1] if combined else row
    user = precompiled.attach(session, User, dict(zip(_USER_KEYS, row, strict=False)))
    entry = _entry(row)
    session.info.setdefault(_CONVERSATIONS, {})[(chat_id, user.id)] = entry
    fresh = True
    if update_id is not None and now is not None and user.active:
        if combined:
            fresh = seen_now
            if fresh and update_id % _SWEEP_EVERY == 0:
                await _sweep_seen(session, chat_id, now)
        else:
            fresh = await first_sight(session, chat_id, update_id, now)
    return user, entry, fresh


_ENTRY_BY_TELEGRAM = (
    select(_ENTRIES.c.user_id, _ENTRIES.c.id, _ENTRIES.c.state, _ENTRIES.c.updated_at)
    .join(User, User.id == _ENTRIES.c.user_id)
    .where(User.telegram_id == bindparam("telegram_id"), _ENTRIES.c.chat_id == bindparam("chat_id"))
)


async def entry_of(session: AsyncSession, telegram_id: int, chat_id: int) -> tuple[int, OpenEntry] | None:
    """The user id and open flow of a Telegram user in a chat, without loading the user: what a
    delivery mark needs (it changes the entry only); remembered like `load_conversation`'s."""
    ran = await precompiled.run(session, _ENTRY_BY_TELEGRAM, {"telegram_id": telegram_id, "chat_id": chat_id})
    row = ran.rows[0] if ran.rows else None
    entry = _entry(row)
    if row is None or entry is None:
        return None
    session.info.setdefault(_CONVERSATIONS, {})[(chat_id, row[0])] = entry
    return int(row[0]), entry


async def load_conversation(session: AsyncSession, chat_id: int, user_id: int) -> OpenEntry | None:
    """The open flow (None: none); read from the database once per session, then remembered."""
    known: dict[tuple[int, int], OpenEntry | None] = session.info.setdefault(_CONVERSATIONS, {})
    key = (chat_id, user_id)
    if key not in known:
        ran = await precompiled.run(session, _CONVERSATION, {"chat_id": chat_id, "user_id": user_id})
        known[key] = _entry(ran.rows[0] if ran.rows else None)
    return known[key]


async def save_conversation(
    session: AsyncSession, chat_id: int, user_id: int, state: dict[str, Any] | None, now: dt.datetime
) -> None:
    """Store the open flow (None: close it), at once, with one statement on the session's connection."""
    entry = await load_conversation(session, chat_id, user_id)
    known = session.info[_CONVERSATIONS]
    if state is None:
        if entry is not None:
            await precompiled.run(session, _DELETE_CONVERSATION, {"entry_id": entry.id})
            known[(chat_id, user_id)] = None
        return
    if entry is None:
        params = {"chat_id": chat_id, "user_id": user_id, "state": state, "at": now}
        entry_id = (await precompiled.run(session, _INSERT_CONVERSATION, params)).rows[0][0]
        known[(chat_id, user_id)] = OpenEntry(entry_id, state, now)
        return
    await precompiled.run(session, _UPDATE_CONVERSATION, {"entry_id": entry.id, "state": state, "at": now})
    entry.state, entry.updated_at = state, now


async def audit(session: AsyncSession, user: User | None, action: str, detail: str | None = None) -> None:
    session.add(Audit(user_id=user.id if user else None, action=action, detail=detail))


# ---------------------------------------------------------------- capture context


async def own_customer_refs(session: AsyncSession, user: User) -> list[CustomerRef]:
    """The user's own customers with their contacts, in two queries: what a note is matched against."""
    customers = (
        (
            await session.execute(
                select(Customer).where(Customer.owner_id == user.id, Customer.merged_into_id.is_(None))
            )
        )
        .scalars()
        .all()
    )
    if not customers:
        return []
    by_customer: dict[int, list[ContactRef]] = {}
    rows = await session.execute(
        select(Contact).where(Contact.customer_id.in_([c.id for c in customers])).order_by(Contact.id)
    )
    for c in rows.scalars():
        ref = ContactRef(c.id, c.name, c.position, c.phone, c.active)
        by_customer.setdefault(c.customer_id, []).append(ref)
    return [
        CustomerRef(
            id=c.id,
            number=c.number,
            name=c.name,
            status=c.status or "",
            intent=c.intent,
            main_contact=next((x.name for x in by_customer.get(c.id, []) if x.active), None),
            owner_name=user.name,
            contacts=tuple(by_customer.get(c.id, [])),
        )
        for c in customers
    ]


def set_current_customer(user: User, customer_id: int, now: dt.datetime) -> None:
    """Remember what the user is working on, so /log and /new_contact can start on it."""
    user.current_customer_id = customer_id
    user.current_customer_at = now


async def current_customer(
    session: AsyncSession, user: User, now: dt.datetime, ttl: dt.timedelta
) -> Customer | None:
    if user.current_customer_id is None or user.current_customer_at is None:
        return None
    if now - user.current_customer_at > ttl:
        return None
    return await visible_customer(session, user, user.current_customer_id)


# ---------------------------------------------------------------- records keep their rules


async def _credit_code_number(session: AsyncSession, code: str | None) -> str | None:
    """The number of the live customer holding `code`, if any."""
    if not code:
        return None
    query = select(Customer.number).where(Customer.merged_into_id.is_(None), Customer.credit_code == code)
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def _claim_credit_code(session: AsyncSession, code: str | None, exclude_id: int | None) -> None:
    """Raise CreditCodeTaken when another live customer has `code` (checked before the index is hit,
    so the person reads which customer has it rather than a database error)."""
    if not code:
        return
    query = select(Customer.number).where(Customer.merged_into_id.is_(None), Customer.credit_code == code)
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    number = (await session.execute(query.limit(1))).scalar_one_or_none()
    if number is not None:
        raise CreditCodeTaken(number)


def entry_delay_hours(occurred: dt.date, entered: dt.datetime, tz: dt.tzinfo) -> float:
    """Hours from the interaction to its entry. Only the day is known, so from that day's end in the
    user's zone: a visit in the morning logged the same evening is on time, one logged two days later
    is 24+ hours late. Never negative."""
    end = dt.datetime.combine(occurred + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return max(0.0, round((entered - end).total_seconds() / 3600, 1))


def _norm_name(name: str | None) -> str:
    return "".join((name or "").split()).casefold()


async def find_contact_duplicates(
    session: AsyncSession, user: User, name: str | None, phone: str | None, exclude_id: int | None = None
) -> list[DupMatch]:
    """Existing contacts (of any customer, any owner) with this name and phone. What the user may not
    see is reduced to the customer's name and its owner, as for customers."""
    if not name or not phone:
        return []
    rows = await session.execute(
        select(
            Contact.id,
            Contact.name,
            Customer.id,
            Customer.name,
            Customer.number,
            Customer.owner_id,
            User.name,
        )
        .join(Customer, Customer.id == Contact.customer_id)
        .join(User, User.id == Customer.owner_id)
        .where(Customer.merged_into_id.is_(None), Contact.phone == phone)
        .order_by(Contact.id)
    )
    owners = await team_ids(session, user)
    wanted = _norm_name(name)
    matches: list[DupMatch] = []
    for contact_id, contact_name, cid, cname, number, owner_id, owner_name in rows.all():
        if contact_id == exclude_id or _norm_name(contact_name) != wanted:
            continue
        visible = owners is None or owner_id in owners
        matches.append(
            DupMatch(
                customer_id=cid,
                name=f"{contact_name} · {cname}" if visible else cname,
                owner_name=owner_name,
                reasons=("contact",),
                visible=visible,
                number=number if visible else None,
            )
        )
    return matches[:5]


FOLLOWUP_FIELDS = (
    "occurred_on",
    "mode",
    "contact",
    "content",
    "demand_status",
    "next_at",
    "participants",
    "location",
)


async def visible_followup(
    session: AsyncSession, user: User, followup_id: int
) -> tuple[FollowUp, Customer] | None:
    """A follow-up with its customer, if the user may see the customer."""
    followup = await session.get(FollowUp, followup_id)
    if followup is None:
        return None
    customer = await visible_customer(session, user, followup.customer_id)
    return (followup, customer) if customer is not None else None


async def current_followup_values(session: AsyncSession, f: FollowUp) -> dict[str, Any]:
    """A follow-up's stored values in the shape the follow-up flow answers them."""
    customer = await session.get(Customer, f.customer_id)
    contact = await session.get(Contact, f.contact_id) if f.contact_id else None
    return {
        "customer": {"id": customer.id, "name": customer.name, "number": customer.number}
        if customer
        else None,
        "occurred_on": f.occurred_on.isoformat(),
        "mode": f.mode,
        "contact": {"id": contact.id, "name": contact.name} if contact else None,
        "content": f.content,
        "demand_status": f.demand_status,
        "next_at": {"at": f.next_at.isoformat(), "has_time": True} if f.next_at else None,
        "participants": f.participants,
        "location": {"lat": f.latitude, "lon": f.longitude} if f.latitude is not None else None,
    }


async def _edit_followup(
    session: AsyncSession,
    user: User,
    f: FollowUp,
    field: str,
    value: Any,
    reason: str,
    now: dt.datetime,
    *,
    pending: bool,
) -> Change:
    """One field of a follow-up, in the shape the flow answers it; kept in the change history.

    It does not count as an update of the customer's data (the 90-day check is about the customer)."""
    if field not in FOLLOWUP_FIELDS:
        raise NotAllowed(f"followup field {field}")
    old: str | None
    new: str | None
    if field == "occurred_on":
        old, f.occurred_on = f.occurred_on.isoformat(), dt.date.fromisoformat(str(value))
        new = f.occurred_on.isoformat()
    elif field == "contact":
        contact = await session.get(Contact, int(value["id"])) if value else None
        if value and (contact is None or contact.customer_id != f.customer_id):
            raise NotAllowed("contact of another customer")
        before = await session.get(Contact, f.contact_id) if f.contact_id else None
        old, new = (before.name if before else None), (contact.name if contact else None)
        f.contact_id = contact.id if contact else None
    elif field == "next_at":
        old = f.next_at.isoformat() if f.next_at else None
        f.next_at = dt.datetime.fromisoformat(value["at"]).astimezone(dt.UTC) if value else None
        f.next_done = False  # a new time is a new plan, reminded when it comes
        new = f.next_at.isoformat() if f.next_at else None
    elif field == "location":
        old = f"{f.latitude}, {f.longitude}" if f.latitude is not None else None
        f.latitude, f.longitude = (value["lat"], value["lon"]) if value else (None, None)
        new = f"{f.latitude}, {f.longitude}" if f.latitude is not None else None
    else:
        old = _plain(getattr(f, field))
        setattr(f, field, value)
        new = _plain(value)
    if pending:
        f.pending = sorted({*f.pending, field})
        f.pending_since = f.pending_since or now
        new = None
    elif field in f.pending:
        f.pending = [p for p in f.pending if p != field]
        if not f.pending:
            f.pending_since = None
    change = Change(
        entity="followup",
        entity_id=f.id,
        field=field,
        old_value=old,
        new_value=new,
        reason=reason,
        user_id=user.id,
        at=now,
    )
    session.add(change)
    await session.flush()
    return change

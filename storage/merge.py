"""Merging duplicate customers: every child row moves to the survivor, the other stays readable as
"merged into C… (reason)", and nothing is deleted. Also the likely duplicate pairs for /duplicates.

CHILDREN names every table that points at a customer; tests/test_merge.py counts each of them
before and after, so a table added later without a line here fails that test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flows.names import best_matches
from flows.team import MERGE_FIELDS
from storage import repo, search, transfers
from storage.models import (
    Attachment,
    Change,
    ChangeRequest,
    Contact,
    Customer,
    Deal,
    FollowUp,
    Reminder,
    User,
)

# (name, table, the column that points at the customer, extra condition)
# Tables derived from a customer's own fields, rebuilt for both customers instead of moved.
REBUILT: frozenset[tuple[str, str]] = frozenset({("search_grams", "customer_id")})

CHILDREN: tuple[tuple[str, Any, Any, Any], ...] = (
    ("contacts", Contact, Contact.customer_id, None),
    ("followups", FollowUp, FollowUp.customer_id, None),
    ("deals", Deal, Deal.customer_id, None),
    ("attachments", Attachment, Attachment.customer_id, None),
    ("reminders", Reminder, Reminder.customer_id, None),
    ("requests", ChangeRequest, ChangeRequest.customer_id, None),
    ("history", Change, Change.entity_id, Change.entity == "customer"),
)
NAME_PAIR_LIMIT = 2000  # similar names are compared among at most this many visible customers


@dataclass(frozen=True)
class Preview:
    source_id: int
    target_id: int
    moves: dict[str, int]
    conflicts: dict[str, tuple[str, str]]  # field → (the merged one's value, the survivor's value)
    fills: dict[str, str] = field(default_factory=dict)  # empty on the survivor: taken from the other


async def child_counts(session: AsyncSession, customer_id: int) -> dict[str, int]:
    counts = {}
    for name, table, column, extra in CHILDREN:
        query = select(func.count()).select_from(table).where(column == customer_id)
        if extra is not None:
            query = query.where(extra)
        counts[name] = int((await session.execute(query)).scalar_one())
    return counts


def _values(c: Customer) -> dict[str, str | None]:
    values = repo.current_customer_values(c)
    return {f: repo._plain(values.get(f)) for f in MERGE_FIELDS}


async def preview(session: AsyncSession, user: User, source_id: int, target_id: int) -> Preview | None:
    """What merging `source` into `target` would do; None unless the user may manage both."""
    if source_id == target_id:
        return None
    source = await transfers.manageable(session, user, source_id)
    target = await transfers.manageable(session, user, target_id)
    if source is None or target is None:
        return None
    a, b = _values(source), _values(target)
    conflicts = {f: (a[f] or "", b[f] or "") for f in MERGE_FIELDS if a[f] and b[f] and a[f] != b[f]}
    fills = {f: a[f] or "" for f in MERGE_FIELDS if a[f] and not b[f]}
    return Preview(source.id, target.id, await child_counts(session, source.id), conflicts, fills)


async def merge(
    session: AsyncSession,
    user: User,
    source_id: int,
    target_id: int,
    take_source: set[str],
    reason: str,
    now: dt.datetime,
) -> Customer:
    """Merge `source` into `target`; the fields in `take_source` keep the merged one's value."""
    seen = await preview(session, user, source_id, target_id)
    if seen is None:
        raise repo.NotAllowed(f"merge {source_id} -> {target_id}")
    source = await session.get(Customer, source_id)
    target = await session.get(Customer, target_id)
    assert source is not None and target is not None
    why = f"merge {source.number}: {reason}"[:200]
    values = repo.current_customer_values(source)
    for f in {*seen.fills, *(take_source & set(seen.conflicts))}:
        await repo.apply_edit(session, user, "customer", target.id, f, values.get(f), why, now)
    if source.tags:
        union = list(dict.fromkeys([*(target.tags or []), *source.tags]))
        if union != list(target.tags or []):
            await repo.apply_edit(session, user, "customer", target.id, "tags", union, why, now)
    for _, table, column, extra in CHILDREN:
        stmt = update(table).where(column == source.id)
        if extra is not None:
            stmt = stmt.where(extra)
        await session.execute(stmt.values({column.key: target.id}))
    # customers merged into the merged one earlier now point at the survivor, and so do open cards
    await session.execute(
        update(Customer).where(Customer.merged_into_id == source.id).values(merged_into_id=target.id)
    )
    await session.execute(
        update(User).where(User.current_customer_id == source.id).values(current_customer_id=target.id)
    )
    source.merged_into_id, source.merge_reason, source.updated_at = target.id, reason[:200], now
    target.updated_at = now
    target.last_contact_at = max(
        (x for x in (target.last_contact_at, source.last_contact_at) if x is not None), default=None
    )
    session.add(
        Change(
            entity="customer",
            entity_id=target.id,
            field="merged",
            old_value=source.number,
            new_value=target.number,
            reason=reason[:200],
            user_id=user.id,
            at=now,
        )
    )
    await repo.audit(session, user, "merge", f"customer {source.id} -> {target.id}")
    await session.flush()
    for rebuilt in (source.id, target.id):  # the survivor is found by the contacts it took over
        await search.reindex(session, rebuilt)
    return target


async def merged_by_number(
    session: AsyncSession, user: User, number: str
) -> tuple[Customer, Customer] | None:
    """A merged customer found by its old number, with its survivor, if the user may see the survivor."""
    row = (
        await session.execute(
            select(Customer).where(
                Customer.number == number.strip().upper(), Customer.merged_into_id.is_not(None)
            )
        )
    ).scalar_one_or_none()
    if row is None or row.merged_into_id is None:
        return None
    survivor = await repo.visible_customer(session, user, row.merged_into_id)
    return (row, survivor) if survivor is not None else None


# ---------------------------------------------------------------- likely duplicates


@dataclass(frozen=True)
class Pair:
    a: int
    b: int
    a_name: str
    b_name: str
    reasons: tuple[str, ...]


async def pairs(session: AsyncSession, user: User, limit: int = 10) -> list[Pair]:
    """Likely duplicate pairs among the customers the user may see: same credit code, phone or e-mail,
    or similar names (fuzzy, as on entry). The older customer of a pair is offered as the survivor."""
    owners = await repo.team_ids(session, user)
    rows = (
        await session.execute(
            repo._visible(
                select(
                    Customer.id,
                    Customer.name,
                    Customer.name_key,
                    Customer.credit_code,
                    Customer.phone,
                    Customer.email,
                ),
                owners,
            ).order_by(Customer.id)
        )
    ).all()
    names = {r[0]: r[1] for r in rows}
    found: dict[tuple[int, int], set[str]] = {}
    for index, why in ((3, "credit_code"), (4, "phone"), (5, "email")):
        by_value: dict[str, list[int]] = {}
        for r in rows:
            if r[index]:
                by_value.setdefault(str(r[index]).casefold(), []).append(r[0])
        for ids in by_value.values():
            for i, x in enumerate(ids):
                for y in ids[i + 1 :]:
                    found.setdefault((x, y), set()).add(why)
    keys = {r[0]: r[2] for r in rows[:NAME_PAIR_LIMIT] if r[2]}
    for cid in keys:
        later = {k: v for k, v in keys.items() if k > cid}
        for other, _ in best_matches(names[cid], later, repo.NAME_SIMILARITY, 5):
            found.setdefault((cid, other), set()).add("name")
    order = ("credit_code", "phone", "email", "name")
    ranked = sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [
        Pair(x, y, names[x], names[y], tuple(r for r in order if r in why)) for (x, y), why in ranked[:limit]
    ]


async def targets(session: AsyncSession, user: User, source: Customer, limit: int = 8) -> list[Customer]:
    """Customers to merge `source` into: its likely duplicates first, then others the user manages."""
    likely = [
        p.b if p.a == source.id else p.a for p in await pairs(session, user, 50) if source.id in (p.a, p.b)
    ]
    owners = await repo.team_ids(session, user)
    ids = list(dict.fromkeys(likely))
    query = repo._visible(select(Customer), owners).where(Customer.id != source.id)
    rest = (
        (await session.execute(query.order_by(Customer.updated_at.desc()).limit(limit * 3))).scalars().all()
    )
    by_id = {c.id: c for c in rest}
    if ids:
        more = (await session.execute(select(Customer).where(and_(Customer.id.in_(ids))))).scalars().all()
        by_id.update({c.id: c for c in more})
    ordered = [by_id[i] for i in ids if i in by_id] + [c for c in rest if c.id not in ids]
    out = []
    for c in ordered:
        if await transfers.manageable(session, user, c.id) is not None:
            out.append(c)
        if len(out) >= limit:
            break
    return out

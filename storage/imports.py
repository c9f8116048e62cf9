"""Bulk import, the database part: the book's duplicate keys in a few queries, and the checked rows
inserted in one transaction (all or nothing), with customer numbers reserved in one statement."""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from flows.i18n import t
from flows.imports import BookKeys, Checked, contact_keys, customer_keys, error_sheet
from flows.names import core_name
from storage import search
from storage.models import Audit, Contact, Customer, DaySequence, User
from storage.repo import CONTACT_FIELDS, CUSTOMER_FIELDS, team_ids
from storage.upserts import insert_for

IMPORT_ACTION = "import"
BATCH = 1000  # rows per INSERT statement (and per progress report)
OnBatch = Callable[[int, int], Awaitable[None]]  # (rows written, rows in all), after each batch


class TooMany(Exception):
    """Customer numbers have a 4-digit counter per day: at most 9,999 customers a day; `left` remain."""

    def __init__(self, left: int) -> None:
        super().__init__(f"only {left} customer numbers are left today")
        self.left = left


async def book_keys(session: AsyncSession, user: User, kind: str) -> BookKeys:
    """Customers: every live customer's keys (a duplicate the user may not see is named with its owner,
    not its number, as in entry). Contacts: the customers the user may see, and their contacts' keys."""
    owners = await team_ids(session, user)
    names: dict[int, str] = {i: n for i, n in (await session.execute(select(User.id, User.name))).all()}
    rows = await session.execute(
        select(
            Customer.id, Customer.number, Customer.name, Customer.owner_id, Customer.credit_code,
            Customer.phone, Customer.email,
        ).where(Customer.merged_into_id.is_(None))
    )  # fmt: skip
    customers: dict[str, tuple[int, str]] = {}
    refs: dict[str, tuple[int, str]] = {}
    for cid, number, name, owner_id, credit_code, phone, email in rows.all():
        visible = owners is None or owner_id in owners
        label = f"{name} · {number}" if visible else f"{name} ({names.get(owner_id, '?')})"
        for key in customer_keys({"credit_code": credit_code, "phone": phone, "email": email, "name": name}):
            customers.setdefault(key, (cid, label))
        if visible:
            refs[number] = (cid, name)
            refs.setdefault(name, (cid, name))
            refs.setdefault(core_name(name), (cid, name))
    contacts: dict[str, int] = {}
    if kind == "contacts":
        visible_ids = {cid for cid, _ in refs.values()}
        found = await session.execute(
            select(Contact.id, Contact.customer_id, Contact.name, Contact.phone, Contact.email)
        )
        for kid, cid, name, phone, email in found.all():
            if cid in visible_ids:
                for key in contact_keys(
                    {"customer": {"id": cid}, "name": name, "phone": phone, "email": email}
                ):
                    contacts[key] = kid
    return BookKeys(customers, refs, contacts)


async def reserve_numbers(session: AsyncSession, day: dt.date, count: int) -> list[str]:
    """`count` customer numbers of `day` in one statement (the day's counter only grows)."""
    key = day.strftime("%Y%m%d")
    used = (
        await session.execute(select(DaySequence.last).where(DaySequence.day == key))
    ).scalar_one_or_none()
    if (used or 0) + count > 9999:
        raise TooMany(9999 - (used or 0))
    dialect = session.get_bind().dialect.name
    ins = insert_for(dialect)
    stmt = (
        ins(DaySequence)
        .values(day=key, last=count)
        .on_conflict_do_update(index_elements=["day"], set_={"last": DaySequence.last + count})
        .returning(DaySequence.last)
    )
    last = int((await session.execute(stmt)).scalar_one())
    return [f"C{key}{n:04d}" for n in range(last - count + 1, last + 1)]


async def insert_customers(
    session: AsyncSession,
    owner: User,
    by: User,
    rows: Sequence[dict[str, Any]],
    now: dt.datetime,
    on_batch: OnBatch | None = None,
) -> int:
    """The checked rows ({"values", "pending"}) as customers owned by `owner`, in bulk.

    Each batch is inserted and indexed for search before the next, so `on_batch` counts rows that
    are done (stored and findable), not merely sent."""
    if not rows:
        return 0
    numbers = await reserve_numbers(session, now.date(), len(rows))
    records = []
    for number, row in zip(numbers, rows, strict=True):
        values, pending = row["values"], list(row["pending"])
        address = values.get("address") or {}
        record: dict[str, Any] = {k: values.get(k) for k in CUSTOMER_FIELDS}
        record["tags"] = values.get("tags") or []
        if record.get("kind") == "individual":
            record["credit_code"] = None
        record.update(
            number=number,
            name_key=core_name(str(values["name"])),
            owner_id=owner.id,
            created_by=by.id,
            pending=pending,
            pending_since=now if pending else None,
            created_at=now,
            updated_at=now,
            province=address.get("province"),
            city=address.get("city"),
            district=address.get("district"),
            address=address.get("full"),
        )
        records.append(record)
    for start in range(0, len(records), BATCH):
        await session.execute(insert(Customer), records[start : start + BATCH])
        batch = numbers[start : start + BATCH]
        created = await session.execute(select(Customer.id).where(Customer.number.in_(batch)))
        await search.reindex_many(session, created.scalars())  # /find and the duplicate check see them
        if on_batch is not None:
            await on_batch(start + len(batch), len(records))
    return len(records)


async def insert_contacts(
    session: AsyncSession,
    by: User,
    rows: Sequence[dict[str, Any]],
    now: dt.datetime,
    on_batch: OnBatch | None = None,
) -> int:
    records = []
    for row in rows:
        values, pending = row["values"], list(row["pending"])
        record: dict[str, Any] = {k: values.get(k) for k in CONTACT_FIELDS}
        record.update(
            customer_id=int(values["customer"]["id"]),
            created_by=by.id,
            active=True,
            pending=pending,
            pending_since=now if pending else None,
            created_at=now,
            updated_at=now,
        )
        records.append(record)
    for start in range(0, len(records), BATCH):
        await session.execute(insert(Contact), records[start : start + BATCH])
        if on_batch is not None:
            await on_batch(min(start + BATCH, len(records)), len(records))
    await search.reindex_many(session, {r["customer_id"] for r in records})  # found by contact names
    return len(records)


def still_new(rows: Sequence[dict[str, Any]], keys: BookKeys, kind: str) -> list[dict[str, Any]]:
    """Rows checked a while ago, checked again against the book as it is now (someone else may have
    imported or typed the same customer meanwhile, or this file was confirmed twice)."""
    known = keys.contacts if kind == "contacts" else keys.customers
    return [r for r in rows if not any(k in known for k in r["keys"])]


async def record_import(session: AsyncSession, user: User, kind: str, counts: dict[str, int]) -> None:
    session.add(Audit(user_id=user.id, action=IMPORT_ACTION, detail=json.dumps({"kind": kind, **counts})))
    await session.flush()


# ---------------------------------------------------------------- files (blocking: run in a thread)


def load_table(path: Path) -> list[list[str]]:
    """The file's rows; ValueError with a plain reason when it cannot be read."""
    from storage.sheets import read_table

    try:
        return read_table(path)
    except (OSError, KeyError, zipfile.BadZipFile, csv.Error) as exc:
        raise ValueError(type(exc).__name__) from None


def payload(checked: Checked) -> list[dict[str, Any]]:
    """The rows to create, as JSON-able dicts (kept on disk between the preview and Import)."""
    return [{"values": r.values, "pending": r.pending, "keys": r.keys, "row": r.number} for r in checked.new]


def save_payload(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def load_payload(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return rows


def write_report(path: Path, table: list[list[str]], checked: Checked, lang: str) -> bool:
    """The error report (rows not imported + why); False when every row is fine (no report)."""
    from storage.sheets import write_xlsx

    header, rows = error_sheet(table, checked, lang)
    if not rows:
        return False
    write_xlsx(path, [(t(lang, "data.import.error_col"), header, rows)])
    return True

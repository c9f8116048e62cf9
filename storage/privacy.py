"""Erasure on request (PIPL) and the subject's data for an access request.

An erasure blanks a contact's or an individual customer's personal fields (names, phones, e-mails,
birthday, address, remarks, …), removes an individual customer's attachments and the old and new
values of their change history, and keeps what is business (deals, follow-up counts, dates, modes).
Follow-up texts that name the person are offered for redaction separately. Each erasure is one row
of the erasure log (who, when, which record, why, which fields — never the values) and one line of a
journal kept beside the backups (ids only), so a restore of an older backup can apply it again.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import search
from storage.models import Attachment, Change, Contact, Customer, Deal, Erasure, FollowUp, Reminder, User

ERASED = "〔已删除 erased〕"
REDACTED = "〔内容已按隐私请求删除 removed on request〕"
CONTACT_FIELDS = ("name", "position", "phone", "email", "channel", "channel_time", "birthday", "remarks")
CUSTOMER_FIELDS = (
    "name", "credit_code", "phone", "email", "address", "province", "city", "district", "remarks",
    "main_business", "current_problem", "interest", "tags", "industry_other",
)  # fmt: skip
JOURNAL = "erasures.jsonl"


@dataclass(frozen=True)
class Target:
    entity: str  # contact | customer
    id: int
    label: str


async def targets(session: AsyncSession, text: str, limit: int = 8) -> list[Target]:
    """Individual customers and contacts whose name, number, phone or e-mail matches `text`."""
    text = text.strip()
    if not text:
        return []
    like = f"%{text}%"
    out: list[Target] = []
    customers = await session.execute(
        select(Customer)
        .where(
            Customer.kind == "individual",
            Customer.merged_into_id.is_(None),
            or_(Customer.name.like(like), Customer.number == text, Customer.phone.like(like),
                Customer.email == text.casefold()),
        )
        .limit(limit)
    )  # fmt: skip
    out += [Target("customer", c.id, f"{c.name} · {c.number}") for c in customers.scalars()]
    contacts = await session.execute(
        select(Contact, Customer.name)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(or_(Contact.name.like(like), Contact.phone.like(like), Contact.email == text.casefold()))
        .limit(limit)
    )
    out += [Target("contact", k.id, f"{k.name} ({name})") for k, name in contacts.all()]
    return [t for t in out if ERASED not in t.label][:limit]


def _blank(record: Any, names: tuple[str, ...]) -> list[str]:
    erased = []
    for name in names:
        value = getattr(record, name)
        if value in (None, "", []):
            continue
        erased.append(name)
        setattr(record, name, ERASED if name == "name" else ([] if name == "tags" else None))
    return erased


async def _forget_history(session: AsyncSession, entity: str, entity_id: int, names: tuple[str, ...]) -> None:
    await session.execute(
        update(Change)
        .where(Change.entity == entity, Change.entity_id == entity_id, Change.field.in_(names))
        .values(old_value=None, new_value=None)
    )


async def erase(
    session: AsyncSession, by: User | None, entity: str, entity_id: int, reason: str, now: dt.datetime
) -> tuple[Erasure, list[Path], list[int]] | None:
    """Erase one contact or individual customer. Returns the log row, the attachment files to delete
    once committed, and the follow-ups whose text names the person (to offer for redaction)."""
    names: list[str] = []
    files: list[Path] = []
    customer_id: int | None
    if entity == "contact":
        contact = await session.get(Contact, entity_id)
        if contact is None:
            return None
        words = [w for w in (contact.name, contact.phone) if w and w != ERASED]
        names = _blank(contact, CONTACT_FIELDS)
        contact.active, contact.pending, contact.updated_at = False, [], now
        customer_id = contact.customer_id
        await _forget_history(session, "contact", contact.id, CONTACT_FIELDS)
        await session.execute(delete(Reminder).where(Reminder.contact_id == contact.id))
        mentions = await _mentions(session, customer_id, words, contact_id=contact.id)
    elif entity == "customer":
        customer = await session.get(Customer, entity_id)
        if customer is None or customer.kind != "individual":
            return None
        words = [w for w in (customer.name, customer.phone) if w and w != ERASED]
        names = _blank(customer, CUSTOMER_FIELDS)
        customer.name_key, customer.pending, customer.pending_since, customer.updated_at = "", [], None, now
        customer_id = customer.id
        await _forget_history(session, "customer", customer.id, CUSTOMER_FIELDS)
        for contact in (
            await session.execute(select(Contact).where(Contact.customer_id == customer.id))
        ).scalars():
            _blank(contact, CONTACT_FIELDS)
            contact.active, contact.pending = False, []
            await _forget_history(session, "contact", contact.id, CONTACT_FIELDS)
        attachments = (
            await session.execute(select(Attachment).where(Attachment.customer_id == customer.id))
        ).scalars()
        for a in attachments:
            files.append(Path(a.path))
            await session.delete(a)
        names += ["attachments"] if files else []
        mentions = await _mentions(session, customer_id, words)
    else:
        return None
    row = Erasure(
        user_id=by.id if by else None,
        entity=entity,
        entity_id=entity_id,
        customer_id=customer_id,
        reason=reason[:200],
        fields=names,
        at=now,
    )
    session.add(row)
    await session.flush()
    if customer_id is not None:  # the search tokens held the erased name, phone and e-mail too
        await search.reindex(session, customer_id)
    return row, files, mentions


async def _mentions(
    session: AsyncSession, customer_id: int, words: list[str], contact_id: int | None = None
) -> list[int]:
    conditions = [FollowUp.content.contains(w) for w in words if len(w) >= 2]
    if contact_id is not None:
        conditions.append(FollowUp.contact_id == contact_id)
    if not conditions:
        return []
    rows = await session.execute(
        select(FollowUp.id)
        .where(FollowUp.customer_id == customer_id, FollowUp.content != REDACTED, or_(*conditions))
        .order_by(FollowUp.id)
    )
    return list(rows.scalars())


async def redact(session: AsyncSession, erasure_id: int, followup_ids: list[int]) -> int:
    """Replace the texts (and visit locations) of these follow-ups; the follow-ups themselves stay."""
    erasure = await session.get(Erasure, erasure_id)
    if erasure is None or not followup_ids:
        return 0
    result = await session.execute(
        update(FollowUp)
        .where(FollowUp.id.in_(followup_ids), FollowUp.customer_id == erasure.customer_id)
        .values(content=REDACTED, participants=None, latitude=None, longitude=None)
    )
    erasure.redacted = sorted({*erasure.redacted, *(str(i) for i in followup_ids)})
    return int(getattr(result, "rowcount", 0) or 0)


async def erasure(session: AsyncSession, erasure_id: int) -> Erasure | None:
    return await session.get(Erasure, erasure_id)


# ---------------------------------------------------------------- the journal beside the backups


def journal_entry(row: Erasure, redacted: list[int] | None = None) -> dict[str, Any]:
    return {
        "at": row.at.astimezone(dt.UTC).isoformat(),
        "entity": row.entity,
        "entity_id": row.entity_id,
        "redacted": sorted(redacted or []),
    }


def append_journal(folder: Path, entry: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / JOURNAL).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("entity") in ("contact", "customer"):
            out.append(entry)
    return out


async def reapply(
    session: AsyncSession, entries: list[dict[str, Any]], since: dt.datetime, now: dt.datetime
) -> int:
    """After a restore: the erasures journalled after the backup was taken, done again (attachment
    files are not restored for an erased customer: the caller deletes the returned paths)."""
    done = 0
    for entry in entries:
        try:
            at = dt.datetime.fromisoformat(str(entry["at"]))
        except (KeyError, ValueError):
            continue
        if at <= since:
            continue
        entity, entity_id = str(entry["entity"]), int(entry["entity_id"])
        present = await session.execute(
            select(Erasure).where(Erasure.entity == entity, Erasure.entity_id == entity_id).limit(1)
        )
        row = present.scalar_one_or_none()
        if row is None:
            made = await erase(session, None, entity, entity_id, "re-applied after a restore", now)
            if made is None:
                continue
            row, files, _ = made
            for path in files:
                path.unlink(missing_ok=True)
            done += 1
        if entry.get("redacted"):
            await redact(session, row.id, [int(i) for i in entry["redacted"]])
    return done


# ---------------------------------------------------------------- an access request


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "as_integer_ratio") and not isinstance(value, int | float):
        return str(value)
    return value


def _record(obj: Any) -> dict[str, Any]:
    return {c.key: _plain(getattr(obj, c.key)) for c in obj.__table__.columns}


async def subject_data(session: AsyncSession, entity: str, entity_id: int) -> dict[str, Any] | None:
    """Everything stored about one person: the record, their history, the follow-ups that concern
    them, and (an individual customer) their contacts, deals and attachments' names."""
    if entity == "contact":
        contact = await session.get(Contact, entity_id)
        if contact is None:
            return None
        followups = await session.execute(
            select(FollowUp).where(
                FollowUp.customer_id == contact.customer_id,
                or_(FollowUp.contact_id == contact.id, FollowUp.content.contains(contact.name)),
            )
        )
        return {
            "kind": "contact",
            "contact": _record(contact),
            "followups": [_record(f) for f in followups.scalars()],
            "history": await _history(session, "contact", contact.id),
            "erasures": await _erasures(session, "contact", contact.id),
        }
    customer = await session.get(Customer, entity_id)
    if customer is None or customer.kind != "individual":
        return None
    data: dict[str, Any] = {"kind": "customer", "customer": _record(customer)}
    for key, model in (
        ("contacts", Contact),
        ("followups", FollowUp),
        ("deals", Deal),
        ("attachments", Attachment),
    ):
        rows = await session.execute(select(model).where(model.customer_id == customer.id))
        data[key] = [_record(r) for r in rows.scalars()]
    data["history"] = await _history(session, "customer", customer.id)
    data["erasures"] = await _erasures(session, "customer", customer.id)
    return data


async def _history(session: AsyncSession, entity: str, entity_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Change).where(Change.entity == entity, Change.entity_id == entity_id).order_by(Change.id)
    )
    return [_record(c) for c in rows.scalars()]


async def _erasures(session: AsyncSession, entity: str, entity_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Erasure).where(Erasure.entity == entity, Erasure.entity_id == entity_id)
    )
    return [_record(e) for e in rows.scalars()]

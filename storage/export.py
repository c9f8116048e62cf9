"""What an export reads: the customers a user may see, their contacts and follow-ups, as plain rows
(read inside the transaction, written to a workbook after it), and the audit trail of exports."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Audit, Contact, Customer, FollowUp, User
from storage.repo import team_ids

EXPORT_ACTION = "export"


@dataclass
class ExportRows:
    customers: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)

    def by_sheet(self) -> dict[str, list[dict[str, Any]]]:
        return {"customers": self.customers, "contacts": self.contacts, "followups": self.followups}

    def counts(self) -> dict[str, int]:
        return {
            "customers": len(self.customers),
            "contacts": len(self.contacts),
            "followups": len(self.followups),
        }


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


CUSTOMER_ATTRS = (
    "id", "number", "kind", "name", "credit_code", "status", "industry", "industry_other", "grade", "intent",
    "province", "city", "district", "address", "phone", "email", "source", "main_business", "current_problem",
    "interest", "tags", "remarks", "pending", "created_at", "updated_at", "last_contact_at",
)  # fmt: skip
CONTACT_ATTRS = (
    "name", "position", "phone", "email", "role", "channel", "channel_time", "birthday", "remarks", "active",
    "pending", "created_at",
)  # fmt: skip
FOLLOWUP_ATTRS = (
    "occurred_on", "mode", "content", "demand_status", "next_at", "next_done", "participants", "latitude",
    "longitude", "created_at", "entry_delay_hours",
)  # fmt: skip


async def visible_rows(session: AsyncSession, user: User) -> ExportRows:
    """Everything the user may see (merged customers left out), customers in number order."""
    owners = await team_ids(session, user)
    names: dict[int, str] = {i: n for i, n in (await session.execute(select(User.id, User.name))).all()}
    out = ExportRows()
    by_id: dict[int, dict[str, Any]] = {}
    query = select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.number)
    if owners is not None:
        query = query.where(Customer.owner_id.in_(owners))
    for c in (await session.execute(query)).scalars():
        row = _row(c, *CUSTOMER_ATTRS)
        row["owner"] = names.get(c.owner_id)
        out.customers.append(row)
        by_id[c.id] = row
    if not by_id:
        return out
    ids = list(by_id)
    contact_names: dict[int, str] = {}
    contacts = await session.execute(
        select(Contact).where(Contact.customer_id.in_(ids)).order_by(Contact.customer_id, Contact.id)
    )
    for k in contacts.scalars():
        contact_names[k.id] = k.name
        owner = by_id[k.customer_id]
        out.contacts.append(
            {**_row(k, *CONTACT_ATTRS), "customer_number": owner["number"], "customer_name": owner["name"]}
        )
    followups = await session.execute(
        select(FollowUp)
        .where(FollowUp.customer_id.in_(ids))
        .order_by(FollowUp.customer_id, FollowUp.occurred_on, FollowUp.id)
    )
    for f in followups.scalars():
        owner = by_id[f.customer_id]
        out.followups.append(
            {
                **_row(f, *FOLLOWUP_ATTRS),
                "customer_number": owner["number"],
                "customer_name": owner["name"],
                "contact": contact_names.get(f.contact_id) if f.contact_id else None,
                "created_by": names.get(f.created_by),
            }
        )
    return out


async def record_export(
    session: AsyncSession, user: User, scope: str, what: str, counts: dict[str, int], file_name: str
) -> None:
    """The audit row of one export: who (the row's user), when, which filter, how many rows; no values."""
    detail = {"scope": scope, "filter": what, "file": file_name, **counts}
    session.add(Audit(user_id=user.id, action=EXPORT_ACTION, detail=json.dumps(detail, ensure_ascii=False)))
    await session.flush()


@dataclass(frozen=True)
class ExportEntry:
    at: dt.datetime
    who: str
    detail: dict[str, Any]


async def recent_exports(session: AsyncSession, limit: int = 20) -> list[ExportEntry]:
    rows = await session.execute(
        select(Audit.at, User.name, Audit.detail)
        .outerjoin(User, User.id == Audit.user_id)
        .where(Audit.action == EXPORT_ACTION)
        .order_by(Audit.at.desc(), Audit.id.desc())
        .limit(limit)
    )
    out = []
    for at, who, detail in rows.all():
        try:
            parsed = json.loads(detail or "{}")
        except ValueError:
            parsed = {}
        out.append(ExportEntry(at, who or "?", parsed if isinstance(parsed, dict) else {}))
    return out


KEPT_SECONDS = 24 * 3600  # files made only to be sent (exports, charts, reports, uploads to import)


def sweep(folder: Path, now: float | None = None) -> int:
    """Remove the files in `folder` older than a day: they held personal data only to be sent or read
    once (blocking: run it in a thread)."""
    now = time.time() if now is None else now
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and now - path.stat().st_mtime > KEPT_SECONDS:
                path.unlink()
                removed += 1
    return removed

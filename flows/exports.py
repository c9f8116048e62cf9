"""What an export holds: the sheets, their columns (headers in the reader's language) and how each
stored value is written (codes as labels, phones in national format, times in the reader's zone).

Pure: storage/export.py reads the rows, storage/sheets.py writes the workbook.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows import choices
from flows.i18n import t
from flows.validators import format_phone


@dataclass(frozen=True)
class Column:
    key: str  # the row dict's key
    header: str  # i18n key of its header
    kind: str = "text"  # text | choice:<name> | phone | when | date | list | bool | number


CHOICES: Mapping[str, choices.Choices] = {
    "kind": choices.CUSTOMER_KIND,
    "status": choices.CUSTOMER_STATUS,
    "industry": choices.INDUSTRY,
    "grade": choices.GRADE,
    "intent": choices.INTENT,
    "source": choices.SOURCE,
    "role": choices.CONTACT_ROLE,
    "channel": choices.CHANNEL,
    "mode": choices.FOLLOW_MODE,
    "demand": choices.DEMAND_STATUS,
}

CUSTOMER_COLUMNS = (
    Column("number", "data.col.number"),
    Column("kind", "f.customer.kind", "choice:kind"),
    Column("name", "f.customer.name"),
    Column("credit_code", "f.customer.credit_code"),
    Column("status", "f.customer.status", "choice:status"),
    Column("industry", "f.customer.industry", "choice:industry"),
    Column("industry_other", "f.customer.industry_other"),
    Column("grade", "f.customer.grade", "choice:grade"),
    Column("intent", "f.customer.intent", "choice:intent"),
    Column("province", "data.col.province"),
    Column("city", "data.col.city"),
    Column("district", "data.col.district"),
    Column("address", "f.customer.address"),
    Column("phone", "f.customer.phone", "phone"),
    Column("email", "f.customer.email"),
    Column("source", "f.customer.source", "choice:source"),
    Column("owner", "data.col.owner"),
    Column("main_business", "f.customer.main_business"),
    Column("current_problem", "f.customer.current_problem"),
    Column("interest", "f.customer.interest"),
    Column("tags", "f.customer.tags", "list"),
    Column("remarks", "f.customer.remarks"),
    Column("pending", "data.col.pending", "list"),
    Column("created_at", "data.col.created_at", "when"),
    Column("updated_at", "data.col.updated_at", "when"),
    Column("last_contact_at", "data.col.last_contact_at", "when"),
)
CONTACT_COLUMNS = (
    Column("customer_number", "data.col.customer_number"),
    Column("customer_name", "f.contact.customer"),
    Column("name", "f.contact.name"),
    Column("position", "f.contact.position"),
    Column("phone", "f.contact.phone", "phone"),
    Column("email", "f.contact.email"),
    Column("role", "f.contact.role", "choice:role"),
    Column("channel", "f.contact.channel", "choice:channel"),
    Column("channel_time", "f.contact.channel_time"),
    Column("birthday", "f.contact.birthday"),
    Column("remarks", "f.contact.remarks"),
    Column("active", "f.contact.active", "bool"),
    Column("pending", "data.col.pending", "list"),
    Column("created_at", "data.col.created_at", "when"),
)
FOLLOWUP_COLUMNS = (
    Column("customer_number", "data.col.customer_number"),
    Column("customer_name", "f.followup.customer"),
    Column("occurred_on", "f.followup.occurred_on", "date"),
    Column("mode", "f.followup.mode", "choice:mode"),
    Column("contact", "f.followup.contact"),
    Column("content", "f.followup.content"),
    Column("demand_status", "f.followup.demand_status", "choice:demand"),
    Column("next_at", "f.followup.next_at", "when"),
    Column("next_done", "data.col.next_done", "bool"),
    Column("participants", "f.followup.participants"),
    Column("latitude", "data.col.latitude", "number"),
    Column("longitude", "data.col.longitude", "number"),
    Column("created_by", "data.col.created_by"),
    Column("created_at", "data.col.created_at", "when"),
    Column("entry_delay_hours", "data.col.entry_delay_hours", "number"),
)
SHEETS = (
    ("customers", "data.sheet.customers", CUSTOMER_COLUMNS),
    ("contacts", "data.sheet.contacts", CONTACT_COLUMNS),
    ("followups", "data.sheet.followups", FOLLOWUP_COLUMNS),
)

Cell = str | int | float | None


def cell(column: Column, value: Any, lang: str, tz: dt.tzinfo) -> Cell:
    """One stored value as a person reads it in a spreadsheet."""
    if value is None or value == "" or value == []:
        return None
    kind = column.kind
    if kind.startswith("choice:"):
        return CHOICES[kind.removeprefix("choice:")].label(str(value), lang)
    if kind == "phone":
        return format_phone(str(value))
    if kind == "when" and isinstance(value, dt.datetime):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if kind == "date" and isinstance(value, dt.date):
        return value.isoformat()
    if kind == "list":
        return ", ".join(str(v) for v in value)
    if kind == "bool":
        return t(lang, "data.yes") if value else t(lang, "data.no")
    if kind == "number" and isinstance(value, int | float):
        return value
    return str(value)


def table(
    columns: tuple[Column, ...], rows: list[dict[str, Any]], lang: str, tz: dt.tzinfo
) -> tuple[list[str], list[list[Cell]]]:
    """Headers and cells of one sheet."""
    headers = [t(lang, c.header) for c in columns]
    return headers, [[cell(c, row.get(c.key), lang, tz) for c in columns] for row in rows]


def workbook(
    rows: Mapping[str, list[dict[str, Any]]], lang: str, tz: dt.tzinfo
) -> list[tuple[str, list[str], list[list[Cell]]]]:
    """The three sheets (customers first, one row per customer), titled and headed in `lang`."""
    out = []
    for name, title, columns in SHEETS:
        headers, cells = table(columns, rows.get(name, []), lang, tz)
        out.append((t(lang, title), headers, cells))
    return out
